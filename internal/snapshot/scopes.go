package snapshot

import "github.com/gatehouse-dev/gatehouse/api/v1alpha1"

// Scopes. Adding one is a row of scopeTable, a bit below (the block layout
// has room for 8 bits and the build fails beyond), and its evaluation in
// matchScopes (check.go) and scopeFilter (plan.go); TestScopeTable checks
// that both handle every row, and the CRD's enum lists it.

// Internal scope bits. ownOrAssigned is own|assigned, so it needs no bit of
// its own: an action bit set under both own and assigned means "either".
const (
	scAll = iota
	scOwn
	scAssigned
	scContact
	scUnit
	scUnitTree
	scFacility
	scCompany
	nScopes
)

// A compact block packs the 8 scope bitsets of 32 actions in 4 words, and
// restriction masks are read as mask&0xff: a ninth scope must change the
// layout first (layout.go). This fails to compile when nScopes > 8.
var _ [8 - nScopes]struct{}

const maskAll = uint16(1) << scAll

// ScopeSpec describes one scope.
type ScopeSpec struct {
	Name v1alpha1.Scope
	// mask is the scope bits it sets.
	mask uint16
	// Property is the record property it reads ("" for all and for the
	// combinations, which read their parts').
	Property string
	// Attributes are the subject attributes the property is compared with
	// (a group's, else the request's); none means the subject's ID.
	Attributes []string
	// Relative scopes select records by their relation to the subject.
	Relative bool
	// Covers lists the other scopes whose records this one always selects
	// too, for any subject and record.
	Covers []v1alpha1.Scope
}

// scopeTable is every scope, in the order they are documented.
var scopeTable = []ScopeSpec{
	{Name: v1alpha1.ScopeAll, mask: 1 << scAll,
		Covers: []v1alpha1.Scope{v1alpha1.ScopeOwn, v1alpha1.ScopeAssigned, v1alpha1.ScopeOwnOrAssigned, v1alpha1.ScopeContact,
			v1alpha1.ScopeUnit, v1alpha1.ScopeUnitTree, v1alpha1.ScopeFacility, v1alpha1.ScopeCompany}},
	{Name: v1alpha1.ScopeOwn, mask: 1 << scOwn, Property: PropOwnerID, Relative: true},
	{Name: v1alpha1.ScopeAssigned, mask: 1 << scAssigned, Property: PropAssigneeIDs, Relative: true},
	{Name: v1alpha1.ScopeOwnOrAssigned, mask: 1<<scOwn | 1<<scAssigned, Relative: true,
		Covers: []v1alpha1.Scope{v1alpha1.ScopeOwn, v1alpha1.ScopeAssigned}},
	{Name: v1alpha1.ScopeContact, mask: 1 << scContact, Property: PropProjectContacts, Relative: true},
	{Name: v1alpha1.ScopeUnit, mask: 1 << scUnit, Property: PropUnit, Attributes: []string{AttrUnit}, Relative: true},
	{Name: v1alpha1.ScopeUnitTree, mask: 1 << scUnitTree, Property: PropUnit, Attributes: []string{AttrUnit}, Relative: true,
		Covers: []v1alpha1.Scope{v1alpha1.ScopeUnit}},
	{Name: v1alpha1.ScopeFacility, mask: 1 << scFacility, Property: PropFacilityID, Attributes: []string{AttrFacilities}, Relative: true},
	{Name: v1alpha1.ScopeCompany, mask: 1 << scCompany, Property: PropCompanyID, Attributes: []string{AttrCompany, AttrCompanies}, Relative: true},
}

// Scopes returns the scope table (a copy).
func Scopes() []ScopeSpec { return append([]ScopeSpec(nil), scopeTable...) }

// scopeSpec finds a scope by name; "" is all.
func scopeSpec(s v1alpha1.Scope) (*ScopeSpec, bool) {
	if s == "" {
		s = v1alpha1.ScopeAll
	}
	for i := range scopeTable {
		if scopeTable[i].Name == s {
			return &scopeTable[i], true
		}
	}
	return nil, false
}

// scopeMask returns the scope bits of s ("" is all); 0 for an unknown scope.
func scopeMask(s v1alpha1.Scope) uint16 {
	if sp, ok := scopeSpec(s); ok {
		return sp.mask
	}
	return 0
}

func validScope(s v1alpha1.Scope) bool { _, ok := scopeSpec(s); return ok && s != "" }

// ScopeWithin reports whether every record scope selects is also selected
// by held, for any subject and record ("" is all). Admission's escalation
// rule asks it.
func ScopeWithin(scope, held v1alpha1.Scope) bool {
	sp, ok1 := scopeSpec(scope)
	hp, ok2 := scopeSpec(held)
	if !ok1 || !ok2 {
		return false
	}
	if sp.Name == hp.Name {
		return true
	}
	for _, c := range hp.Covers {
		if c == sp.Name {
			return true
		}
	}
	return false
}

// ScopesReading returns the scopes whose reach depends on the subject
// attribute attr.
func ScopesReading(attr string) []v1alpha1.Scope {
	var out []v1alpha1.Scope
	for _, sp := range scopeTable {
		for _, a := range sp.Attributes {
			if a == attr {
				out = append(out, sp.Name)
			}
		}
	}
	return out
}
