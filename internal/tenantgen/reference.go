package tenantgen

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
)

// The reference evaluator and the generated requests it answers: a naive
// walk over the model, independent of the compiler.

// Record is a record of a module as the generated requests carry it.
type Record struct {
	Module          string   `json:"module"`
	ID              string   `json:"id"`
	OwnerID         string   `json:"ownerId,omitempty"`
	AssigneeIDs     []string `json:"assigneeIds,omitempty"`
	ProjectContacts []string `json:"projectContacts,omitempty"`
	Unit            string   `json:"unit,omitempty"`
	FacilityID      string   `json:"facilityId,omitempty"`
	CompanyID       string   `json:"companyId,omitempty"`
	// Amount is resource.properties.amount (a JSON number).
	Amount float64 `json:"amount"`
}

// Request is one generated authorization request with the reference answer.
type Request struct {
	Subject string `json:"subject"`
	Action  string `json:"action"`
	Record  Record `json:"record"`
	// Relation is how the subject relates to the record: owner, assignee
	// or stranger.
	Relation string `json:"relation"`
	// Allowed is the naive reference evaluator's answer.
	Allowed bool `json:"allowed"`
}

// Allowed is the naive reference evaluator: it walks the subject's groups,
// their roles (and extended roles) and permissions, applying scopes, the
// amount condition and group restrictions.
func (m *Model) Allowed(subject, action string, rec Record) bool {
	return m.allowed(m.userGroups[subject], subject, action, rec)
}

// AllowedExternal is Allowed for a subject known only by one IdP group that
// the group named g maps.
func (m *Model) AllowedExternal(g, subject, action string, rec Record) bool {
	return m.allowed(m.userGroups["\x00ext:"+g], subject, action, rec)
}

func (m *Model) allowed(groups []string, subject, action string, rec Record) bool {
	if len(groups) == 0 {
		return false
	}
	var units, companies, facs []string
	var roles []string
	var restr []Restriction
	for _, gn := range groups {
		g := m.groupByName[gn]
		units = append(units, g.Unit)
		companies = append(companies, g.Company)
		facs = append(facs, g.Facilities...)
		roles = append(roles, g.Roles...)
		restr = append(restr, g.Restrictions...)
	}
	scopeOK := func(scope string) bool {
		switch scope {
		case All:
			return true
		case Own:
			return rec.OwnerID != "" && rec.OwnerID == subject
		case Assigned:
			return slices.Contains(rec.AssigneeIDs, subject)
		case OwnOrAssigned:
			return (rec.OwnerID != "" && rec.OwnerID == subject) || slices.Contains(rec.AssigneeIDs, subject)
		case Contact:
			return slices.Contains(rec.ProjectContacts, subject)
		case Unit:
			return rec.Unit != "" && slices.Contains(units, rec.Unit)
		case UnitTree:
			for _, u := range units {
				if rec.Unit == u || strings.HasPrefix(rec.Unit, u+"/") {
					return true
				}
			}
			return false
		case Facility:
			return rec.FacilityID != "" && slices.Contains(facs, rec.FacilityID)
		case Company:
			return rec.CompanyID != "" && slices.Contains(companies, rec.CompanyID)
		}
		return false
	}
	for _, rs := range restr {
		if slices.Contains(rs.Modules, rec.Module) && !scopeOK(rs.Scope) {
			// A restriction only matters if something would allow; with
			// nothing allowed the answer is deny either way.
			return false
		}
	}
	var visit func(name string, seen map[string]bool) bool
	visit = func(name string, seen map[string]bool) bool {
		if seen[name] {
			return false
		}
		seen[name] = true
		ro := m.roleByName[name]
		if ro == nil {
			return false
		}
		if ro.FullAccess {
			return true
		}
		for _, p := range ro.Perms {
			if !slices.Contains(p.Modules, rec.Module) || !slices.Contains(p.Actions, action) {
				continue
			}
			if p.MaxAmount > 0 && !(rec.Amount < float64(p.MaxAmount)) {
				continue
			}
			if scopeOK(p.Scope) {
				return true
			}
		}
		for _, e := range ro.Extends {
			if visit(e, seen) {
				return true
			}
		}
		return false
	}
	for _, ro := range roles {
		if visit(ro, map[string]bool{}) {
			return true
		}
	}
	return false
}

// Requests generates n requests from seed: about 80% allowed and 20% denied
// (by the reference evaluator), spread over owners, assignees and
// strangers of the records.
func (m *Model) Requests(n int, seed uint64) []Request {
	r := rand.New(rand.NewPCG(seed, 0x51ed270b27a1f8e3))
	wantAllow := n * 8 / 10
	out := make([]Request, 0, n)
	allowed, denied := 0, 0
	for tries := 0; len(out) < n && tries < n*200; tries++ {
		u := m.Users[r.IntN(len(m.Users))]
		other := m.Users[r.IntN(len(m.Users))].ID
		groups := m.userGroups[u.ID]
		g := m.groupByName[groups[r.IntN(len(groups))]]
		module, action := Modules[r.IntN(len(Modules))], Actions[r.IntN(len(Actions))]
		// Mostly ask about something a role of the user mentions.
		if len(g.Roles) > 0 && r.IntN(100) < 85 {
			ro := m.roleByName[g.Roles[r.IntN(len(g.Roles))]]
			if len(ro.Perms) > 0 {
				p := ro.Perms[r.IntN(len(ro.Perms))]
				module, action = p.Modules[r.IntN(len(p.Modules))], p.Actions[r.IntN(len(p.Actions))]
			}
		}
		rec := Record{Module: module, ID: fmt.Sprintf("%s-%d", module, r.IntN(1_000_000)),
			OwnerID: other, Unit: g.Unit, CompanyID: g.Company, FacilityID: g.Facilities[0],
			Amount: float64(r.IntN(12000))}
		if r.IntN(4) == 0 {
			rec.Unit = m.Units[r.IntN(len(m.Units))]
		}
		if r.IntN(5) == 0 {
			rec.CompanyID = "acme"
		}
		req := Request{Subject: u.ID, Action: action}
		switch r.IntN(3) {
		case 0:
			req.Relation = "owner"
			rec.OwnerID = u.ID
		case 1:
			req.Relation = "assignee"
			rec.AssigneeIDs = []string{other, u.ID}
		default:
			req.Relation = "stranger"
			rec.AssigneeIDs = []string{other}
		}
		if r.IntN(10) == 0 {
			rec.ProjectContacts = []string{u.ID}
		}
		req.Record = rec
		req.Allowed = m.Allowed(u.ID, action, rec)
		switch {
		case req.Allowed && allowed < wantAllow:
			allowed++
		case !req.Allowed && denied < n-wantAllow:
			denied++
		default:
			continue
		}
		out = append(out, req)
	}
	return out
}
