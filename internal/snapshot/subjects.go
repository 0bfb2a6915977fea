package snapshot

import "hash/maphash"

// subjectTable maps subject IDs to profiles. It replaces a Go map on the hot
// path: one 32-byte slot holds the hash, the profile, its block offset and
// (for IDs up to 14 bytes) the ID itself, so a lookup usually touches a
// single cache line. Longer IDs are compared against an arena.
type subjectTable struct {
	seed  maphash.Seed
	mask  uint64
	slots []subjectSlot
	arena []byte
	n     int
}

const inlineKey = 14

type subjectSlot struct {
	hash  uint64 // 0 marks an empty slot
	pi    int32
	off   uint32 // profile block offset in Snapshot.bits
	klen  uint8  // 255: the key is in the arena at the offset held in key[0:4], length in key[4:8]
	roles bool
	key   [inlineKey]byte
}

func newSubjectTable(n int) *subjectTable {
	size := 16
	for size < 2*n {
		size *= 2
	}
	t := &subjectTable{seed: maphash.MakeSeed(), mask: uint64(size - 1), slots: make([]subjectSlot, size)}
	adviseHugePages(t.slots)
	return t
}

func (t *subjectTable) hash(id string) uint64 { return maphash.String(t.seed, id) | 1 }

func (t *subjectTable) keyEq(sl *subjectSlot, id string) bool {
	if sl.klen != 255 {
		return int(sl.klen) == len(id) && string(sl.key[:sl.klen]) == id
	}
	off := uint32(sl.key[0]) | uint32(sl.key[1])<<8 | uint32(sl.key[2])<<16 | uint32(sl.key[3])<<24
	n := uint32(sl.key[4]) | uint32(sl.key[5])<<8 | uint32(sl.key[6])<<16 | uint32(sl.key[7])<<24
	return int(n) == len(id) && string(t.arena[off:off+n]) == id
}

// find returns the slot of id, or nil.
func (t *subjectTable) find(id string) *subjectSlot {
	if t == nil {
		return nil
	}
	h := t.hash(id)
	for i := h & t.mask; ; i = (i + 1) & t.mask {
		sl := &t.slots[i]
		if sl.hash == 0 {
			return nil
		}
		if sl.hash == h && t.keyEq(sl, id) {
			return sl
		}
	}
}

// insert adds id (compile time only; ids are unique).
func (t *subjectTable) insert(id string, pi int32) *subjectSlot {
	h := t.hash(id)
	i := h & t.mask
	for t.slots[i].hash != 0 {
		i = (i + 1) & t.mask
	}
	sl := &t.slots[i]
	sl.hash, sl.pi = h, pi
	if len(id) <= inlineKey {
		sl.klen = uint8(len(id))
		copy(sl.key[:], id)
	} else {
		off, n := uint32(len(t.arena)), uint32(len(id))
		t.arena = append(t.arena, id...)
		sl.klen = 255
		sl.key[0], sl.key[1], sl.key[2], sl.key[3] = byte(off), byte(off>>8), byte(off>>16), byte(off>>24)
		sl.key[4], sl.key[5], sl.key[6], sl.key[7] = byte(n), byte(n>>8), byte(n>>16), byte(n>>24)
	}
	t.n++
	return sl
}

// lookup returns the profile index of a known member.
func (s *Snapshot) lookup(id string) (int32, bool) {
	if sl := s.subjects.find(id); sl != nil {
		return sl.pi, true
	}
	return 0, false
}

// nameTable interns the tenant's module or action names: a small
// open-addressing table with a cheap hash of the first and last 8 bytes.
// It is built from admin-written names only and holds at most a few hundred,
// so a weak hash cannot hurt beyond a few extra probes.
type nameTable struct {
	mask uint64
	keys []string
	idx  []int32
}

// newNameTable indexes names by position; the empty name (the wildcard
// slot) is left out.
func newNameTable(names []string) *nameTable {
	// At most half full: a hit takes about 1.5 probes, and a tenant's
	// tables stay small (there may be 10,000 tenants).
	size := 8
	for size < 2*len(names) {
		size *= 2
	}
	t := &nameTable{mask: uint64(size - 1), keys: make([]string, size), idx: make([]int32, size)}
	for i, n := range names {
		if n == "" {
			continue
		}
		h := nameHash(n) & t.mask
		for t.keys[h] != "" {
			h = (h + 1) & t.mask
		}
		t.keys[h], t.idx[h] = n, int32(i)
	}
	return t
}

func nameHash(s string) uint64 {
	n := len(s)
	var a, b uint64
	if n >= 8 {
		a = uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
			uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
		t := s[n-8:]
		b = uint64(t[0]) | uint64(t[1])<<8 | uint64(t[2])<<16 | uint64(t[3])<<24 |
			uint64(t[4])<<32 | uint64(t[5])<<40 | uint64(t[6])<<48 | uint64(t[7])<<56
	} else {
		for i := 0; i < n; i++ {
			a |= uint64(s[i]) << (8 * i)
		}
	}
	h := (a^uint64(n))*0x9e3779b97f4a7c15 ^ b*0xc2b2ae3d27d4eb4f
	return h ^ h>>29
}

// get returns the index of name; empty names are never interned.
func (t *nameTable) get(name string) (int32, bool) {
	if name == "" {
		return 0, false
	}
	for h := nameHash(name) & t.mask; ; h = (h + 1) & t.mask {
		k := t.keys[h]
		if k == "" {
			return 0, false
		}
		if k == name {
			return t.idx[h], true
		}
	}
}
