package snapshot

import (
	"slices"

	"github.com/gatehouse-dev/gatehouse/pkg/planfilter"
)

// profileFor finds the profile of a request's subject: the precomputed one
// of a known member, combined with the groups its IdP groups select. Only a
// group set compile did not foresee allocates (and is cached).
func (s *Snapshot) profileFor(sub *Subject) (*profile, string) {
	if sub.ID == "" {
		return nil, ReasonInvalidRequest
	}
	pi, known := s.lookup(sub.ID)
	var base *profile
	if known {
		base = &s.profiles[pi]
	}
	if len(sub.Groups) == 0 || len(s.ext) == 0 {
		if !known {
			return nil, ReasonUnknownSubject
		}
		return base, ""
	}
	var ebuf [16]int32
	extra := ebuf[:0]
	for _, name := range sub.Groups {
		for _, gi := range s.ext[name] {
			for _, a := range s.groups[gi].ancestors {
				if base == nil || !containsSorted(base.groups, a) {
					extra = append(extra, a)
				}
			}
		}
	}
	// Sorted, not searched linearly: an external group may stand at the
	// start of a long memberGroups chain.
	slices.Sort(extra)
	extra = slices.Compact(extra)
	if len(extra) == 0 {
		if !known {
			return nil, ReasonUnknownSubject
		}
		return base, ""
	}
	var gbuf [32]int32
	all := gbuf[:0]
	if base != nil {
		all = append(all, base.groups...)
	}
	all = append(all, extra...)
	slices.Sort(all)
	var kbuf [128]byte
	key := groupKey(kbuf[:0], all)
	if pi, ok := s.profileKey[string(key)]; ok {
		return &s.profiles[pi], ""
	}
	s.extMu.Lock()
	p, ok := s.extCache[string(key)]
	s.extMu.Unlock()
	if ok {
		return p, ""
	}
	p = &profile{groups: slices.Clone(all)}
	s.fillProfileNoShare(p)
	s.extMu.Lock()
	if s.extCache == nil {
		s.extCache = map[string]*profile{} // most snapshots never need it
	}
	if len(s.extCache) < maxExtCache {
		s.extCache[string(key)] = p
	}
	s.extMu.Unlock()
	return p, ""
}

// fillProfileNoShare builds a request-time profile. extMu serialises it with
// other request-time builds, the only writers of the permission-set cache
// after Compile returned.
func (s *Snapshot) fillProfileNoShare(p *profile) {
	s.extMu.Lock()
	defer s.extMu.Unlock()
	s.fillProfile(p, nil, nil)
}

func containsSorted(xs []int32, x int32) bool {
	_, ok := slices.BinarySearch(xs, x)
	return ok
}

// Check answers whether the subject may perform the action on the record.
// It denies when in doubt: no snapshot, unknown subject, no roles, unknown
// resource or action, no matching scope, false or failing condition, or a
// group restriction.
func (s *Snapshot) Check(req *Request) Decision {
	if s == nil {
		return Decision{Reason: ReasonNoSnapshot}
	}
	if req == nil {
		return Decision{Reason: ReasonInvalidRequest}
	}
	if len(req.Subject.Groups) == 0 && req.Subject.ID != "" {
		// Hot path: a known member without IdP groups. Only the subject
		// map and the profile's block are touched.
		sl := s.subjects.find(req.Subject.ID)
		if sl == nil {
			return Decision{Reason: ReasonUnknownSubject}
		}
		if !sl.roles {
			return Decision{Reason: ReasonNoRoles}
		}
		return s.checkIn(s.bits[sl.off:], s.grants, s.restrict, &s.profiles[sl.pi], req)
	}
	p, why := s.profileFor(&req.Subject)
	if p == nil {
		return Decision{Reason: why}
	}
	return s.check(p, req)
}

func (s *Snapshot) check(p *profile, req *Request) Decision {
	if !p.hasRoles {
		return Decision{Reason: ReasonNoRoles}
	}
	return s.checkIn(p.bits, p.grants, p.restrict, p, req)
}

// checkIn decides on a profile block. p is only dereferenced when a scope
// needs the subject's attributes or a condition runs.
func (s *Snapshot) checkIn(block []uint64, grants []rowGrant, restrict []uint16, p *profile, req *Request) Decision {
	ri, resKnown := s.resTab.get(req.Resource.Type)
	ai, actKnown := s.actTab.get(req.Action)
	W := s.words
	w := int(ai >> 6)
	bit := uint64(1) << (ai & 63)
	st := s.stride()
	rb := int(ri) * st
	bits := block[rb : rb+st]
	var scopes uint16
	var r row
	if s.compact {
		for i := 0; i < nScopes/2; i++ {
			x := bits[i]
			if x&bit != 0 {
				scopes |= 1 << (2 * i)
			}
			if (x>>32)&bit != 0 {
				scopes |= 1 << (2*i + 1)
			}
		}
		r = decodeRow(bits[4], bits[5])
	} else {
		for sc := 0; sc < nScopes; sc++ {
			if bits[sc*W+w]&bit != 0 {
				scopes |= 1 << sc
			}
		}
		r = decodeRow(bits[nScopes*W], bits[nScopes*W+1])
	}
	rs := restrict[r.rOff : r.rOff+uint32(r.rN)]
	if scopes != 0 {
		if m := s.matchScopes(scopes, p, &req.Subject, &req.Resource); m != 0 {
			if r.rN > 0 && !s.restrictionsHold(p, rs, req) {
				return Decision{Reason: ReasonRestricted}
			}
			if r.inline > 0 {
				if mt := s.inlineMatch(bits, int(r.inline), bit, m); mt != nil {
					return Decision{Allowed: true, Reason: ReasonAllowed, Matched: mt}
				}
			}
			return Decision{Allowed: true, Reason: ReasonAllowed, Matched: findMatch(grants[r.gOff:r.gOff+uint32(r.gN)], w, bit, m)}
		}
	}
	hadCond := false
	if r.nCond > 0 {
		var d Decision
		var done bool
		d, hadCond, done = s.checkConds(grants[r.gOff:r.gOff+uint32(r.gN)], w, bit, p, rs, r.rN > 0, req)
		if done {
			return d
		}
	}
	switch {
	case scopes != 0:
		return Decision{Reason: ReasonScopeNotMatched}
	case hadCond:
		return Decision{Reason: ReasonConditionFalse}
	case !resKnown:
		return Decision{Reason: ReasonUnknownResource}
	case !actKnown:
		return Decision{Reason: ReasonUnknownAction}
	}
	return Decision{Reason: ReasonNotPermitted}
}

// checkConds evaluates the conditional grants of a row; done says d is the
// decision. One pooled activation serves every condition of the request.
func (s *Snapshot) checkConds(gs []rowGrant, w int, bit uint64, p *profile, rs []uint16, restricted bool, req *Request) (d Decision, hadCond, done bool) {
	var act *activation
	for i := range gs {
		g := &gs[i]
		if g.cond == nil || !g.has(w, bit) {
			continue
		}
		hadCond = true
		if s.matchScopes(g.mask, p, &req.Subject, &req.Resource) == 0 {
			continue
		}
		if restricted && !s.restrictionsHold(p, rs, req) {
			d, done = Decision{Reason: ReasonRestricted}, true
			break
		}
		if act == nil {
			act = newActivation(p, &req.Subject, req.Action, &req.Resource, req.Context)
		}
		if g.cond.eval(act, req.Budget) {
			d, done = Decision{Allowed: true, Reason: ReasonAllowed, Matched: g.match}, true
			break
		}
		if req.Budget.Err() != nil {
			// Undecided, not denied: the caller discards the answer.
			d, done = Decision{Reason: ReasonBudgetExceeded}, true
			break
		}
	}
	if act != nil {
		act.release()
	}
	return d, hadCond, done
}

// findMatch returns the first unconditional grant that explains an allow.
func findMatch(gs []rowGrant, w int, bit uint64, matched uint16) *Match {
	for i := range gs {
		g := &gs[i]
		if g.cond == nil && g.mask&matched != 0 && g.has(w, bit) {
			return g.match
		}
	}
	return nil
}

func (s *Snapshot) restrictionsHold(p *profile, rs []uint16, req *Request) bool {
	for _, m := range rs {
		if s.matchScopes(m, p, &req.Subject, &req.Resource) == 0 {
			return false
		}
	}
	return true
}

// matchScopes returns a scope of mask the record satisfies for the subject
// (the first, in the order cheapest first), or 0. Empty values never match:
// a record without an owner is nobody's. The subject's attributes are read
// only for the scopes that need them, as they are a cache miss away.
func (s *Snapshot) matchScopes(mask uint16, p *profile, sub *Subject, res *Resource) uint16 {
	if mask&maskAll != 0 {
		return maskAll
	}
	id := sub.ID
	for sc := scOwn; sc < nScopes; sc++ {
		if mask&(1<<sc) == 0 {
			continue
		}
		ok := false
		switch sc {
		case scOwn:
			ok = res.OwnerID != "" && res.OwnerID == id
		case scAssigned:
			ok = id != "" && slices.Contains(res.AssigneeIDs, id)
		case scContact:
			ok = id != "" && slices.Contains(res.ProjectContacts, id)
		case scUnit, scUnitTree:
			ru := res.Unit
			if ru == "" {
				break
			}
			tree := sc == scUnitTree
			if a := &p.attr; a.hasUnit {
				for _, u := range a.units {
					if planfilter.UnitCovers(u, ru, tree) {
						ok = true
						break
					}
				}
			} else if sub.Unit != "" {
				ok = planfilter.UnitCovers(normUnit(sub.Unit), ru, tree)
			}
		case scFacility:
			if res.FacilityID == "" {
				break
			}
			if a := &p.attr; a.hasFacilities {
				ok = slices.Contains(a.facilities, res.FacilityID)
			} else {
				ok = slices.Contains(sub.Facilities, res.FacilityID)
			}
		case scCompany:
			c := res.CompanyID
			if c == "" {
				break
			}
			a := &p.attr
			if a.hasCompany {
				ok = slices.Contains(a.company, c)
			} else {
				ok = sub.Company == c
			}
			if !ok {
				if a.hasCompanies {
					ok = slices.Contains(a.companies, c)
				} else {
					ok = slices.Contains(sub.Companies, c)
				}
			}
		}
		if ok {
			return 1 << sc
		}
	}
	return 0
}

// UnitCovers reports whether a subject in unit subjectUnit reaches a record
// in recordUnit: the same unit, or, with tree (scope unitTree), a unit below
// it on a path-segment boundary. It is the rule Check applies, defined once
// in planfilter (the Go client's filters use it too).
func UnitCovers(subjectUnit, recordUnit string, tree bool) bool {
	return planfilter.UnitCovers(subjectUnit, recordUnit, tree)
}

// subjectMap is the CEL subject as a map, for partial evaluation (Plan) and
// for the operations of the activation's view that walk it.
func subjectMap(p *profile, sub *Subject) map[string]any {
	return map[string]any{"id": sub.ID, "type": sub.Type, "groups": p.groupNames, "roles": p.roleNames,
		"properties": subjectProps(p, sub)}
}

// subjectProps is subject.properties: the profile's attributes, shared when
// the request has nothing to merge (CEL only reads).
func subjectProps(p *profile, sub *Subject) map[string]any {
	if len(sub.Properties) == 0 && sub.Unit == "" && sub.Company == "" && sub.Companies == nil && sub.Facilities == nil && sub.Groups == nil {
		return p.attr.props
	}
	return mergedProps(p, sub)
}

// mergedProps is the subject's properties: request properties, overridden
// by the snapshot's attributes.
func mergedProps(p *profile, sub *Subject) map[string]any {
	props := make(map[string]any, len(sub.Properties)+len(p.attr.props)+5)
	for k, v := range sub.Properties {
		props[k] = v
	}
	if sub.Unit != "" {
		props[AttrUnit] = sub.Unit
	}
	if sub.Company != "" {
		props[AttrCompany] = sub.Company
	}
	if sub.Companies != nil {
		props[AttrCompanies] = sub.Companies
	}
	if sub.Facilities != nil {
		props[AttrFacilities] = sub.Facilities
	}
	if sub.Groups != nil {
		props[AttrGroups] = sub.Groups
	}
	for k, v := range p.attr.props {
		props[k] = v
	}
	return props
}

// resourceMap is the CEL view of a record as a map.
func resourceMap(res *Resource) map[string]any {
	return map[string]any{"type": res.Type, "id": res.ID, "properties": resourceProps(res)}
}

// resourceProps is resource.properties: standard properties are folded back
// into properties under their documented names.
func resourceProps(res *Resource) map[string]any {
	props := make(map[string]any, len(res.Properties)+7)
	for k, v := range res.Properties {
		props[k] = v
	}
	if res.OwnerID != "" {
		props[PropOwnerID] = res.OwnerID
	}
	if res.AssigneeIDs != nil {
		props[PropAssigneeIDs] = res.AssigneeIDs
	}
	if res.Unit != "" {
		props[PropUnit] = res.Unit
	}
	if res.FacilityID != "" {
		props[PropFacilityID] = res.FacilityID
	}
	if res.CompanyID != "" {
		props[PropCompanyID] = res.CompanyID
	}
	if res.ProjectContacts != nil {
		props[PropProjectContacts] = res.ProjectContacts
	}
	if res.Approvals != nil {
		props[PropApprovals] = approvalList(res.Approvals)
	}
	return props
}

// approvalList is resource.properties.approvals as CEL sees it.
func approvalList(as []Approval) []any {
	list := make([]any, len(as))
	for i, a := range as {
		list[i] = map[string]any{"step": a.Step, "by": a.By}
	}
	return list
}
