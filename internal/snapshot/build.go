package snapshot

import (
	"encoding/binary"
	"fmt"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"unsafe"

	"github.com/gatehouse-dev/gatehouse/api/v1alpha1"
)

// Building a snapshot from resolved objects: roles, groups, subjects,
// profiles, attributes.

// build lays out the valid objects for evaluation, and the left-out
// groups (restrictOnly) and field policies (failClosed) that keep narrowing
// access; those are laid out but not served, so Counts leaves them out.
func (c *compiler) build(roleNames, groupNames, restrictOnly []string, fps, failClosed []*v1alpha1.FieldPolicy, chs []*v1alpha1.ApprovalChain) {
	s := c.s
	defer s.release()
	c.internNames(roleNames, append(slices.Clone(groupNames), restrictOnly...), append(slices.Clone(fps), failClosed...), chs)
	if !c.buildRoles(roleNames, groupNames) || !c.buildGroups(groupNames, restrictOnly) {
		return
	}
	profiles, served := c.buildSubjects()
	if !c.chargeProfiles(profiles) {
		return
	}
	// Field policies and chains come before profiles, which precompute
	// field access per policy.
	c.buildPolicies(fps, failClosed)
	c.buildChains(chs)
	s.layOut(profiles)
	// Only what is served counts: left-out groups and the fail-closed
	// policies standing in for left-out FieldPolicies are laid out but are
	// reported as problems, not served.
	s.counts = Counts{Roles: len(s.roles), Groups: len(groupNames), Subjects: served,
		FieldPolicies: len(fps), ApprovalChains: len(s.chains), Profiles: len(s.profiles)}
}

// release drops what the snapshot read from the decoded objects while
// compiling, so that a kept snapshot holds its own tables and not its
// input (the objects, their metadata and everything decoded under them).
func (s *Snapshot) release() {
	for _, r := range s.roles {
		r.spec = nil
	}
	for _, g := range s.groups {
		g.spec = nil
	}
}

// internNames numbers modules and actions in sorted order, so the layout
// is deterministic. Index 0 is the wildcard slot.
func (c *compiler) internNames(roleNames, groupNames []string, fps []*v1alpha1.FieldPolicy, chs []*v1alpha1.ApprovalChain) {
	s := c.s
	resSet, actSet := map[string]bool{}, map[string]bool{}
	addRes := func(r v1alpha1.ModuleName) {
		if r != "*" {
			resSet[string(r)] = true
		}
	}
	for _, n := range roleNames {
		for _, p := range c.roleSpecs[n].Spec.Permissions {
			for _, r := range p.Resources {
				addRes(r)
			}
			for _, a := range p.Actions {
				if a != "*" {
					actSet[string(a)] = true
				}
			}
		}
	}
	for _, n := range groupNames {
		for _, r := range c.groupSpecs[n].Spec.Restrictions {
			for _, m := range r.Resources {
				addRes(m)
			}
		}
	}
	for _, fp := range fps {
		addRes(fp.Spec.Resource)
	}
	for _, ch := range chs {
		addRes(ch.Spec.Resource)
		actSet[chainAction(ch)] = true
	}
	s.resNames = append([]string{""}, sortedKeys(resSet)...)
	s.actNames = append([]string{""}, sortedKeys(actSet)...)
	s.words = (len(s.actNames) + 63) / 64
	s.compact = len(s.actNames) <= 32
	s.resTab, s.actTab = newNameTable(s.resNames), newNameTable(s.actNames)
}

// buildRoles lays out the valid roles and resolves extends for those a
// served group holds; false once the compiled-size budget is spent.
func (c *compiler) buildRoles(roleNames, groupNames []string) bool {
	s := c.s
	for _, n := range roleNames {
		s.roles = append(s.roles, &role{name: n, spec: c.roleSpecs[n]})
	}
	for _, r := range s.roles {
		for _, e := range r.spec.Spec.Extends {
			r.extends = append(r.extends, s.roleAt(string(e)))
		}
		r.own = make([]flatGrant, 0, len(r.spec.Spec.Permissions)+1)
		if r.spec.Spec.FullAccess {
			r.own = append(r.own, flatGrant{defRole: r.name, index: -1, full: true, allRes: true, acts: s.allActs(), mask: maskAll, scope: "fullAccess"})
		}
		for pi := range r.spec.Spec.Permissions {
			r.own = append(r.own, s.flatGrant(r.name, pi, &r.spec.Spec.Permissions[pi], c.roleConds[r.name][pi]))
		}
	}
	return s.resolveRoles(groupNames, c.groupSpecs, c.charge)
}

// buildGroups lays out the served groups, then the left-out ones that only
// restrict, with the explanation of every grant each gives; false once the
// compiled-size budget is spent.
func (c *compiler) buildGroups(groupNames, restrictOnly []string) bool {
	s := c.s
	s.nServed = len(groupNames)
	laidOut := make(map[string]bool, len(groupNames)+len(restrictOnly))
	for _, n := range append(slices.Clone(groupNames), restrictOnly...) {
		laidOut[n] = true
	}
	specs := make([]*v1alpha1.UserGroup, 0, len(groupNames)+len(restrictOnly))
	for _, n := range groupNames {
		specs = append(specs, c.groupSpecs[n])
	}
	for _, n := range restrictOnly {
		// No roles and no attributes (they would grant or widen); only the
		// member groups that are laid out.
		g := c.groupSpecs[n].DeepCopy()
		g.Spec.Roles, g.Spec.Attributes = nil, nil
		g.Spec.MemberGroups = slices.DeleteFunc(g.Spec.MemberGroups, func(m v1alpha1.ObjectName) bool {
			return !laidOut[string(m)]
		})
		specs = append(specs, g)
	}
	s.ext = map[string][]int32{}
	nMatches := 0
	for _, n := range groupNames {
		seen := map[string]bool{}
		for _, r := range c.groupSpecs[n].Spec.Roles {
			if !seen[string(r)] {
				seen[string(r)] = true
				nMatches += len(s.roles[s.roleAt(string(r))].flat)
			}
		}
	}
	if !c.charge(int64(nMatches) * int64(unsafe.Sizeof(Match{}))) {
		return false
	}
	// Sized once: Decisions point into it, so it must never move.
	s.matches = make([]Match, 0, nMatches)
	for i, spec := range specs {
		n := spec.Name
		g := &group{name: n, attrs: spec.Spec.Attributes, written: spec.Spec.Restrictions, spec: spec, restrictOnly: i >= len(groupNames)}
		for _, r := range spec.Spec.Roles {
			ri := s.roleAt(string(r))
			if !slices.Contains(g.roles, ri) {
				g.roles = append(g.roles, ri)
			}
		}
		for _, ri := range g.roles {
			r := s.roles[ri]
			base := len(s.matches)
			for _, f := range r.flat {
				m := Match{Role: r.name, Group: n, Permission: f.index, FullAccess: f.full}
				if f.defRole != r.name {
					m.From = f.defRole
				}
				if !f.full {
					m.Scope = f.scope
				}
				if f.cond != nil {
					m.When = f.cond.src
				}
				s.matches = append(s.matches, m)
			}
			g.matches = append(g.matches, s.matches[base:len(s.matches):len(s.matches)])
			g.matchBase = append(g.matchBase, uint32(base))
		}
		for _, r := range spec.Spec.Restrictions {
			rs := restriction{mask: scopeMask(r.Scope)}
			var names []string
			for _, m := range r.Resources {
				if m == "*" {
					rs.allRes = true
				} else {
					rs.res = append(rs.res, s.resAt(string(m)))
				}
				names = append(names, string(m))
			}
			sort.Strings(names)
			rs.key = fmt.Sprintf("%d:%s", rs.mask, strings.Join(names, ","))
			g.restrictions = append(g.restrictions, rs)
		}
		for _, e := range spec.Spec.ExternalGroups {
			if !slices.Contains(s.ext[e], int32(i)) {
				s.ext[e] = append(s.ext[e], int32(i))
			}
		}
		s.groups = append(s.groups, g)
	}
	return s.resolveAncestors(c.charge)
}

// buildSubjects gives every member the profile of its effective group set,
// and returns the profiles and how many subjects a served group holds.
func (c *compiler) buildSubjects() ([]*profile, int) {
	s := c.s
	direct := map[string][]int32{}
	for gi, g := range s.groups {
		for _, m := range g.spec.Spec.Members {
			direct[string(m)] = append(direct[string(m)], int32(gi))
		}
	}
	s.subjects = newSubjectTable(len(direct))
	s.profileKey = map[string]int32{}
	var profiles []*profile
	ids := sortedKeys(direct)
	served := 0 // subjects in a served group (the rest are only restricted)
	var buf []int32
	var kb []byte
	for _, id := range ids {
		buf = buf[:0]
		for _, d := range direct[id] {
			buf = append(buf, s.groups[d].ancestors...)
		}
		slices.Sort(buf)
		buf = slices.Compact(buf)
		kb = groupKey(kb[:0], buf)
		pi, ok := s.profileKey[string(kb)]
		if !ok {
			pi = int32(len(profiles))
			profiles = append(profiles, &profile{groups: slices.Clone(buf)})
			s.profileKey[string(kb)] = pi
		}
		profiles[pi].members = append(profiles[pi].members, id)
		s.subjects.insert(id, pi)
		if slices.ContainsFunc(buf, func(gi int32) bool { return !s.groups[gi].restrictOnly }) {
			served++
		}
	}
	// Holders of a single IdP group are common; give them a profile now.
	for _, e := range sortedKeys(s.ext) {
		buf = buf[:0]
		for _, gi := range s.ext[e] {
			buf = append(buf, s.groups[gi].ancestors...)
		}
		slices.Sort(buf)
		buf = slices.Compact(buf)
		kb = groupKey(kb[:0], buf)
		if _, ok := s.profileKey[string(kb)]; !ok {
			s.profileKey[string(kb)] = int32(len(profiles))
			profiles = append(profiles, &profile{groups: slices.Clone(buf)})
		}
	}
	return profiles, served
}

// layOut fills the profiles and moves their blocks into the snapshot's
// shared arrays.
func (s *Snapshot) layOut(profiles []*profile) {
	// Profiles are independent of each other: fill them on every core.
	// Each worker has its own field-result cache (results are equal
	// whichever worker computes them).
	// Every profile's block has the same size: allocate all blocks at once
	// and let each profile write its own range (no copy afterwards).
	blk := len(s.resNames) * s.stride()
	s.bits = make([]uint64, len(profiles)*blk)
	adviseHugePages(s.bits)
	for i, p := range profiles {
		p.bits = s.bits[i*blk : (i+1)*blk : (i+1)*blk]
	}
	workers := min(runtime.GOMAXPROCS(0), 1+len(profiles)/512)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cache := map[string]*fieldResult{}
			var scr scratch
			for i := w; i < len(profiles); i += workers {
				s.fillProfile(profiles[i], cache, &scr)
			}
		}()
	}
	wg.Wait()
	s.profiles = make([]profile, len(profiles))
	adviseHugePages(s.profiles)
	var nGrants, nRestrict int
	for _, p := range profiles {
		nGrants, nRestrict = nGrants+len(p.grants), nRestrict+len(p.restrict)
	}
	// Move every profile's block into shared arrays, rebasing header
	// offsets, so the hot path needs only the profile's block offset.
	s.grants = make([]rowGrant, 0, nGrants)
	s.restrict = make([]uint16, 0, nRestrict)
	s.pHot = make([]uint64, len(profiles))
	st, hdr := s.stride(), s.hdrPos()
	for i, p := range profiles {
		off := i * blk
		gBase, rBase := uint32(len(s.grants)), uint32(len(s.restrict))
		for ri := 0; ri < len(s.resNames); ri++ {
			h := ri*st + hdr
			r := decodeRow(p.bits[h], p.bits[h+1])
			r.gOff += gBase
			r.rOff += rBase
			p.bits[h], p.bits[h+1] = encodeRow(r)
		}
		s.grants = append(s.grants, p.grants...)
		s.restrict = append(s.restrict, p.restrict...)
		p.grants, p.restrict = s.grants, s.restrict
		s.pHot[i] = uint64(off)
		if p.hasRoles {
			s.pHot[i] |= hotHasRoles
		}
		s.profiles[i] = *p
	}
	for i := range s.profiles {
		s.profiles[i].grants, s.profiles[i].restrict = s.grants, s.restrict
	}
	for i := range s.subjects.slots {
		if sl := &s.subjects.slots[i]; sl.hash != 0 {
			sl.off, sl.roles = uint32(s.pHot[sl.pi]), s.pHot[sl.pi]&hotHasRoles != 0
		}
	}
}

func chainAction(ch *v1alpha1.ApprovalChain) string { return string(ch.Spec.EffectiveAction()) }

// allActs is a bitset with every action, including the wildcard bit for
// actions no object names.
func (s *Snapshot) allActs() []uint64 {
	w := make([]uint64, s.words)
	for i := range w {
		w[i] = ^uint64(0)
	}
	return w
}

func (s *Snapshot) flatGrant(roleName string, idx int, p *v1alpha1.Permission, cond *condition) flatGrant {
	f := flatGrant{defRole: roleName, index: idx, mask: scopeMask(p.Scope), cond: cond, scope: string(p.Scope), perm: p}
	if f.scope == "" {
		f.scope = string(v1alpha1.ScopeAll)
	}
	for _, r := range p.Resources {
		if r == "*" {
			f.allRes = true
		} else if !slices.Contains(f.res, s.resAt(string(r))) {
			f.res = append(f.res, s.resAt(string(r)))
		}
	}
	f.acts = make([]uint64, s.words)
	for _, a := range p.Actions {
		if a == "*" {
			copy(f.acts, s.allActs())
		} else {
			ai := s.actAt(string(a))
			f.acts[ai>>6] |= 1 << (ai & 63)
		}
	}
	return f
}

func groupKey(dst []byte, gs []int32) []byte {
	for _, g := range gs {
		dst = binary.LittleEndian.AppendUint32(dst, uint32(g))
	}
	return dst
}

// fillProfile derives everything a profile needs from its group set.
func (s *Snapshot) fillProfile(p *profile, fieldCache map[string]*fieldResult, scr *scratch) {
	for _, gi := range p.groups {
		g := s.groups[gi]
		if g.restrictOnly {
			continue // restrictions only (buildRows reads them from p.groups)
		}
		p.groupNames = append(p.groupNames, g.name)
		for k, ri := range g.roles {
			p.srcs = append(p.srcs, roleSrc{role: ri, group: gi, k: int32(k)})
			p.held = append(p.held, s.roles[ri].holds...)
		}
	}
	slices.SortFunc(p.srcs, func(a, b roleSrc) int {
		if a.role != b.role {
			return int(a.role - b.role)
		}
		return int(a.group - b.group)
	})
	slices.Sort(p.held)
	p.held = slices.Compact(p.held)
	for _, ri := range p.held {
		p.roleNames = append(p.roleNames, s.roles[ri].name)
	}

	var rs []restriction
	var rkeys []string
	for _, gi := range p.groups {
		for _, r := range s.groups[gi].restrictions {
			if !slices.Contains(rkeys, r.key) {
				rkeys = append(rkeys, r.key)
				rs = append(rs, r)
			}
		}
	}
	if scr == nil {
		scr = &scratch{}
	}
	s.buildRows(p, rs, scr)
	p.attr = *s.buildAttrs(p.groups)
	p.fields = s.buildFields(p, fieldCache)
}

// noProps is the attributes of a profile whose groups set none, shared by
// all of them: conditions only read it.
var noProps = map[string]any{}

// buildAttrs merges the attributes of a group set: every attribute becomes
// the set union of the groups' values.
func (s *Snapshot) buildAttrs(groups []int32) *attrs {
	vals := map[string][]string{}
	list := map[string]bool{}
	for _, gi := range groups {
		for k, v := range s.groups[gi].attrs {
			vals[k] = append(vals[k], v.Values...)
			list[k] = list[k] || v.List
		}
	}
	a := &attrs{props: noProps}
	if len(vals) > 0 {
		a.props = make(map[string]any, len(vals))
	}
	for k, v := range vals {
		sort.Strings(v)
		v = slices.Compact(v)
		if k == AttrUnit {
			for i := range v {
				v[i] = normUnit(v[i])
			}
			sort.Strings(v)
			v = slices.Compact(v)
		}
		vals[k] = v
		if len(v) == 1 && !list[k] {
			a.props[k] = v[0]
		} else {
			a.props[k] = v
		}
	}
	a.units, a.hasUnit = vals[AttrUnit]
	a.company, a.hasCompany = vals[AttrCompany]
	a.companies, a.hasCompanies = vals[AttrCompanies]
	a.facilities, a.hasFacilities = vals[AttrFacilities]
	return a
}
