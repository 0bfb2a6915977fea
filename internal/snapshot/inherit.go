package snapshot

import (
	"fmt"
	"slices"
	"strings"
	"unsafe"

	"github.com/gatehouse-dev/gatehouse/api/v1alpha1"
)

// Inheritance (Role extends, UserGroup memberGroups) is resolved in time
// and memory proportional to what is served: each closure is one walk with
// a visited stamp, computed only for the objects whose closure is used, so
// a long chain costs its length, not its length squared.

// visited marks nodes of one walk; starting a new walk is O(1).
type visited struct {
	stamp []uint32
	gen   uint32
}

func (v *visited) reset(n int) {
	if len(v.stamp) < n {
		v.stamp = make([]uint32, n)
	}
	v.gen++
}

// visit marks i and reports whether it was unmarked.
func (v *visited) visit(i int32) bool {
	if v.stamp[i] == v.gen {
		return false
	}
	v.stamp[i] = v.gen
	return true
}

// resolveRoles fills flat, full and holds of every role a served group
// holds. flat is the depth-first order of the extends graph: a role's own
// grants, then each extended role's in the order written, each role once;
// of several fullAccess grants only the first is kept.
//
// charge is told the bytes each closure takes; resolveRoles stops and
// returns false once it refuses.
func (s *Snapshot) resolveRoles(groupNames []string, specs map[string]*v1alpha1.UserGroup, charge func(int64) bool) bool {
	var seen visited
	for _, gn := range groupNames {
		for _, rn := range specs[gn].Spec.Roles {
			r := s.roles[s.roleAt(string(rn))]
			if r.holds != nil {
				continue
			}
			seen.reset(len(s.roles))
			preorder(s.roleAt(string(rn)), seen.visit,
				func(i int32) []int32 { return s.roles[i].extends },
				func(i int32) {
					x := s.roles[i]
					r.holds = append(r.holds, i)
					for k := range x.own {
						g := &x.own[k]
						if g.full {
							if r.full {
								continue
							}
							r.full = true
						}
						r.flat = append(r.flat, g)
					}
				})
			slices.Sort(r.holds)
			if !charge(int64(len(r.flat))*8 + int64(len(r.holds))*4) {
				return false
			}
		}
	}
	return true
}

// resolveAncestors fills the ancestors of every group whose members or
// external groups make it the start of a profile: the group and every group
// including it (Y in X.memberGroups means members of Y are members of X).
// It returns false once charge refuses the bytes of a closure.
func (s *Snapshot) resolveAncestors(charge func(int64) bool) bool {
	parents := make([][]int32, len(s.groups))
	for xi, g := range s.groups {
		for _, y := range g.spec.Spec.MemberGroups {
			yi := s.groupAt(string(y))
			parents[yi] = append(parents[yi], int32(xi))
		}
	}
	var seen visited
	for i, g := range s.groups {
		if len(g.spec.Spec.Members) == 0 && len(g.spec.Spec.ExternalGroups) == 0 {
			continue
		}
		seen.reset(len(s.groups))
		queue := reach([]int32{int32(i)}, seen.visit, func(x int32) []int32 { return parents[x] })
		if !charge(int64(len(queue)) * 4) {
			return false
		}
		g.ancestors = queue
		slices.Sort(g.ancestors)
	}
	return true
}

// charge takes n bytes from the tenant's compiled-size budget and reports
// whether any is left; once none is, the tenant is not compiled.
func (c *compiler) charge(n int64) bool {
	if c.limits.CompiledBytes <= 0 {
		return true
	}
	c.sizeLeft -= n
	if c.sizeLeft >= 0 {
		return true
	}
	if c.tooLarge == "" {
		c.tooLarge = fmt.Sprintf("its compiled permission blocks would exceed the tenant limit of %d bytes (--%s); the last good snapshot keeps serving",
			c.limits.CompiledBytes, compiledBytesFlag)
	}
	return false
}

// chargeProfiles charges, before they are built, the blocks of the
// profiles: one block per profile, its group list, and a grant entry per
// row each held role's grants cover.
func (c *compiler) chargeProfiles(profiles []*profile) bool {
	s := c.s
	block := int64(len(s.resNames)*s.stride()) * 8
	rows := make([]int64, len(s.roles)) // grant entries per role
	for i, r := range s.roles {
		for _, f := range r.flat {
			if f.allRes {
				rows[i] += int64(len(s.resNames))
			} else {
				rows[i] += int64(len(f.res))
			}
		}
	}
	var seen visited
	for _, p := range profiles {
		n := block + int64(len(p.groups))*4
		seen.reset(len(s.roles))
		for _, gi := range p.groups {
			for _, ri := range s.groups[gi].roles {
				if seen.visit(ri) {
					n += rows[ri] * int64(unsafe.Sizeof(rowGrant{}))
				}
			}
		}
		if !c.charge(n) {
			return false
		}
	}
	return true
}

// roleIndex finds a served role by name (roles are sorted by name).
func (s *Snapshot) roleIndex(name string) (int32, bool) {
	i, ok := slices.BinarySearchFunc(s.roles, name, func(r *role, n string) int { return strings.Compare(r.name, n) })
	return int32(i), ok
}

// roleAt is roleIndex for a name known to be served.
func (s *Snapshot) roleAt(name string) int32 { i, _ := s.roleIndex(name); return i }

// groupIndex finds a laid-out group by name: the served ones, then the
// left-out ones, each sorted by name.
func (s *Snapshot) groupIndex(name string) (int32, bool) {
	cmp := func(g *group, n string) int { return strings.Compare(g.name, n) }
	if i, ok := slices.BinarySearchFunc(s.groups[:s.nServed], name, cmp); ok {
		return int32(i), true
	}
	i, ok := slices.BinarySearchFunc(s.groups[s.nServed:], name, cmp)
	return int32(s.nServed + i), ok
}

// groupAt is groupIndex for a name known to be laid out.
func (s *Snapshot) groupAt(name string) int32 { i, _ := s.groupIndex(name); return i }

// resAt is the row of a module; 0, the wildcard row, for a module no
// object names.
func (s *Snapshot) resAt(name string) int32 { i, _ := s.resTab.get(name); return i }

// actAt is the bit of an action; 0, the wildcard bit, for one no object names.
func (s *Snapshot) actAt(name string) int32 { i, _ := s.actTab.get(name); return i }
