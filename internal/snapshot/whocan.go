package snapshot

import "sort"

// Grantee is a known subject allowed an action, with the grant that allows it.
type Grantee struct {
	// Subject is the subject ID.
	Subject string `json:"subject"`
	// Via is the grant that allows it (shared: do not modify).
	Via *Match `json:"via"`
}

// genericID matches no owner, assignee or contact, so a check with it shows
// what a profile's members get without subject-specific scopes.
const genericID = "\x00gatehouse-generic-subject"

// WhoCan lists the known members (subjects listed in groups) who may perform
// action on the record, sorted by subject, each with the grant that allows
// it. Only snapshot attributes are used: request-time properties and IdP
// groups are unknown here.
func (s *Snapshot) WhoCan(action string, res Resource) []Grantee {
	return s.Within(nil).WhoCan(action, res)
}

// WhoCan is Snapshot.WhoCan charged to the budget; it stops early (an
// incomplete list) once the budget is spent or its context ends.
func (q Bounded) WhoCan(action string, res Resource) []Grantee {
	s, b := q.s, q.b
	if s == nil {
		return nil
	}
	out := []Grantee{}
	candidates := map[string]bool{}
	if res.OwnerID != "" {
		candidates[res.OwnerID] = true
	}
	for _, id := range res.AssigneeIDs {
		candidates[id] = true
	}
	for _, id := range res.ProjectContacts {
		candidates[id] = true
	}
	ri := s.resAt(res.Type)
	ai := s.actAt(action)
	w, bit := int(ai>>6), uint64(1)<<(ai&63)
	req := &Request{Action: action, Resource: res, Budget: b}
	for pi := range s.profiles {
		if !b.ok() {
			break
		}
		p := &s.profiles[pi]
		if len(p.members) == 0 || !p.hasRoles {
			continue
		}
		// Without conditions a decision is monotone in own/assigned/contact,
		// which only candidates can satisfy: every other member decides
		// like the generic subject. Conditions may read subject.id, so then
		// every member is checked.
		perMember := false
		gs := p.rowGrants(s.rowOf(p.bits, ri))
		for i := range gs {
			if g := &gs[i]; g.cond != nil && g.has(w, bit) {
				perMember = true
				break
			}
		}
		var generic Decision
		if !perMember {
			req.Subject = Subject{ID: genericID}
			generic = s.check(p, req)
		}
		for n, id := range p.members {
			if n&1023 == 1023 {
				b.Pause()
				if !b.ok() {
					break
				}
			}
			d := generic
			if perMember || candidates[id] {
				req.Subject = Subject{ID: id}
				d = s.check(p, req)
			}
			if d.Allowed {
				out = append(out, Grantee{Subject: id, Via: d.Matched})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Subject < out[j].Subject })
	return out
}

// Actions lists every action of the tenant (every action some object names)
// the subject may perform on the record, sorted.
func (s *Snapshot) Actions(sub Subject, res Resource) []string {
	return s.Within(nil).Actions(sub, res)
}

// Actions is Snapshot.Actions charged to the budget.
func (q Bounded) Actions(sub Subject, res Resource) []string {
	s := q.s
	out := []string{}
	if s == nil {
		return out
	}
	p, _ := s.profileFor(&sub)
	if p == nil {
		return out
	}
	req := &Request{Subject: sub, Resource: res, Budget: q.b}
	for _, a := range s.actNames[1:] {
		req.Action = a
		if s.check(p, req).Allowed {
			out = append(out, a)
		}
	}
	return out
}
