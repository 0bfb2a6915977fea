package snapshot

import (
	"slices"
)

// The permission block layout: a profile's grants per resource as scope
// bitsets, a header, and inline grants, read back by the hot path.

// row is a decoded block header.
type row struct {
	gOff   uint32
	gN     uint16
	nCond  uint16
	rOff   uint32
	rN     uint16
	inline uint16
}

func encodeRow(r row) (uint64, uint64) {
	return uint64(r.gOff) | uint64(r.gN)<<32 | uint64(r.nCond)<<48, uint64(r.rOff) | uint64(r.rN)<<32 | uint64(r.inline)<<48
}

func decodeRow(h0, h1 uint64) row {
	return row{gOff: uint32(h0), gN: uint16(h0 >> 32), nCond: uint16(h0 >> 48), rOff: uint32(h1), rN: uint16(h1 >> 32), inline: uint16(h1 >> 48)}
}

// stride is the number of words of one resource's block.
// With one action word a block is 16 words (128 bytes, the pair of cache
// lines Intel CPUs fetch together): 8 scope words, 2 header words and up to
// 3 inline unconditional grants (action word, mask|match index) so that
// explaining an allow does not touch the grant array.
func (s *Snapshot) stride() int {
	switch {
	case s.compact:
		return 8
	case s.words == 1:
		return 16
	}
	return nScopes*s.words + 2
}

// hdrPos is the position of the header words in a block.
func (s *Snapshot) hdrPos() int {
	if s.compact {
		return 4
	}
	return nScopes * s.words
}

// scopeBit tests an action bit of one scope in a block starting at rb.
func (s *Snapshot) scopeBit(bits []uint64, rb, sc, w int, bit uint64) bool {
	if s.compact {
		return (bits[rb+sc>>1]>>(32*(sc&1)))&bit != 0
	}
	return bits[rb+sc*s.words+w]&bit != 0
}

// inlineMatch finds an inline grant explaining an allow of scopes m.
func (s *Snapshot) inlineMatch(bits []uint64, n int, bit uint64, m uint16) *Match {
	if s.compact {
		for i := 0; i < n; i++ {
			x := bits[6+i]
			if uint32(x)&uint32(bit) != 0 && uint16(x>>32)&0xff&m != 0 {
				return &s.matches[x>>40]
			}
		}
		return nil
	}
	for i := 0; i < n; i++ {
		if bits[nScopes+2+2*i]&bit != 0 && uint16(bits[nScopes+3+2*i])&m != 0 {
			return &s.matches[bits[nScopes+3+2*i]>>32]
		}
	}
	return nil
}

const maxInline = 3

// rowOf decodes the header of resource ri in a profile block.
func (s *Snapshot) rowOf(bits []uint64, ri int32) row {
	h := int(ri)*s.stride() + s.hdrPos()
	return decodeRow(bits[h], bits[h+1])
}

// rowGrant is one permission of a profile on one resource.
type rowGrant struct {
	a0    uint64 // first word of the action bitset, inline for speed
	mi    uint32 // index of match in Snapshot.matches
	match *Match
	cond  *condition
	fg    *flatGrant
	mask  uint16
}

// has tests the action bit.
func (g *rowGrant) has(w int, bit uint64) bool {
	if w == 0 {
		return g.a0&bit != 0
	}
	return g.fg.acts[w]&bit != 0
}

func (p *profile) rowGrants(r row) []rowGrant { return p.grants[r.gOff : r.gOff+uint32(r.gN)] }

func (p *profile) rowRestrict(r row) []uint16 { return p.restrict[r.rOff : r.rOff+uint32(r.rN)] }

// buildRows lays out a profile's grants. A role given by several groups is
// attributed to the first group by name.
// scratch holds buffers buildRows reuses from one profile to the next.
type scratch struct {
	perRow    [][]rowGrant
	scopeBits []uint64
	rows      []row
}

func (s *Snapshot) buildRows(p *profile, rs []restriction, scr *scratch) {
	nRes, W, st := len(s.resNames), s.words, s.stride()
	if p.bits == nil { // request-time profiles own their block
		p.bits = make([]uint64, nRes*st)
	}
	if len(scr.perRow) != nRes {
		scr.perRow = make([][]rowGrant, nRes)
		scr.scopeBits = make([]uint64, nRes*nScopes*W)
		scr.rows = make([]row, nRes)
	}
	perRow, scopeBits, rows := scr.perRow, scr.scopeBits, scr.rows
	for i := range perRow {
		perRow[i] = perRow[i][:0]
	}
	clear(scopeBits)
	clear(rows)
	add := func(ri int, g rowGrant) {
		perRow[ri] = append(perRow[ri], g)
		if g.cond != nil {
			return
		}
		for sc := 0; sc < nScopes; sc++ {
			if g.mask&(1<<sc) != 0 {
				b := scopeBits[(ri*nScopes+sc)*W:]
				for w := 0; w < W; w++ {
					b[w] |= g.fg.acts[w]
				}
			}
		}
	}
	for i, src := range p.srcs {
		if i > 0 && p.srcs[i-1].role == src.role {
			continue
		}
		r := s.roles[src.role]
		p.hasRoles = true
		p.full = p.full || r.full
		grp := s.groups[src.group]
		ms, mbase := grp.matches[src.k], grp.matchBase[src.k]
		for fi, f := range r.flat {
			g := rowGrant{a0: f.acts[0], mi: mbase + uint32(fi), match: &ms[fi], cond: f.cond, fg: f, mask: f.mask}
			if f.allRes {
				for ri := range nRes {
					add(ri, g)
				}
			} else {
				for _, ri := range f.res {
					add(int(ri), g)
				}
			}
		}
	}
	n := 0
	for _, g := range perRow {
		n += len(g)
	}
	p.grants = make([]rowGrant, 0, n)
	for ri, gs := range perRow {
		r := &rows[ri]
		r.gOff, r.gN = uint32(len(p.grants)), uint16(len(gs))
		for _, g := range gs {
			if g.cond != nil {
				r.nCond++
			}
		}
		p.grants = append(p.grants, gs...)
	}
	// Restrictions: per row, the distinct masks that must all hold.
	restrict := make([][]uint16, nRes)
	for _, r := range rs {
		if r.mask == maskAll {
			continue // "all" restricts nothing
		}
		if r.allRes {
			for ri := range restrict {
				restrict[ri] = append(restrict[ri], r.mask)
			}
		} else {
			for _, ri := range r.res {
				restrict[ri] = append(restrict[ri], r.mask)
			}
		}
	}
	for ri, ms := range restrict {
		if len(ms) == 0 {
			continue
		}
		slices.Sort(ms)
		ms = slices.Compact(ms)
		rows[ri].rOff, rows[ri].rN = uint32(len(p.restrict)), uint16(len(ms))
		p.restrict = append(p.restrict, ms...)
	}
	for ri := 0; ri < nRes; ri++ {
		for sc := 0; sc < nScopes; sc++ {
			for w := 0; w < W; w++ {
				v := scopeBits[(ri*nScopes+sc)*W+w]
				if s.compact {
					p.bits[ri*st+sc>>1] |= (v & 0xffffffff) << (32 * (sc & 1))
				} else {
					p.bits[ri*st+sc*W+w] = v
				}
			}
		}
	}
	for ri, r := range rows {
		h := ri*st + s.hdrPos()
		p.bits[h], p.bits[h+1] = encodeRow(r)
		if s.compact {
			n := 0
			for _, g := range perRow[ri] {
				if g.cond == nil && n < 2 && g.mi < 1<<24 {
					p.bits[h+2+n] = g.a0&0xffffffff | uint64(g.mask&0xff)<<32 | uint64(g.mi)<<40
					n++
				}
			}
			p.bits[h+1] |= uint64(n) << 48
		} else if W == 1 {
			n := 0
			for _, g := range perRow[ri] {
				if g.cond == nil && n < maxInline {
					p.bits[h+2+2*n], p.bits[h+3+2*n] = g.a0, uint64(g.mask)|uint64(g.mi)<<32
					n++
				}
			}
			p.bits[h+1] |= uint64(n) << 48
		}
	}
}
