package snapshot

// Standard record properties: the ones Gatehouse reads itself (scopes,
// approvals) are decoded into Resource's fields, not Properties. Adding one
// is a constant, a Resource field, a row of standardProperties, and a case
// in the hand-written switches that read them per request (propertyValue,
// resourceProps, the CEL activation, the endpoint's decoder and the CLI's
// props); TestStandardProperties checks those cover every row.

// Standard resource property names (as sent in resource.properties).
const (
	PropOwnerID         = "ownerId"
	PropAssigneeIDs     = "assigneeIds"
	PropUnit            = "unit"
	PropFacilityID      = "facilityId"
	PropCompanyID       = "companyId"
	PropProjectContacts = "projectContacts"
	PropApprovals       = "approvals"
)

// PropertyKind is the JSON shape of a standard property.
type PropertyKind int

// Property kinds.
const (
	PropString       PropertyKind = iota // a string
	PropStringList                       // a list of strings
	PropApprovalList                     // a list of {step, by}
)

// StandardProperty describes one standard record property.
type StandardProperty struct {
	Name string
	Kind PropertyKind
	// Unit values must be canonical unit paths (ValidUnit).
	Unit bool
	// set stores strings into the Resource field (a string property takes
	// the first); tests use it to check every reader.
	set func(r *Resource, v []string)
}

var standardProperties = []StandardProperty{
	{Name: PropOwnerID, Kind: PropString, set: func(r *Resource, v []string) { r.OwnerID = v[0] }},
	{Name: PropAssigneeIDs, Kind: PropStringList, set: func(r *Resource, v []string) { r.AssigneeIDs = v }},
	{Name: PropUnit, Kind: PropString, Unit: true, set: func(r *Resource, v []string) { r.Unit = v[0] }},
	{Name: PropFacilityID, Kind: PropString, set: func(r *Resource, v []string) { r.FacilityID = v[0] }},
	{Name: PropCompanyID, Kind: PropString, set: func(r *Resource, v []string) { r.CompanyID = v[0] }},
	{Name: PropProjectContacts, Kind: PropStringList, set: func(r *Resource, v []string) { r.ProjectContacts = v }},
	{Name: PropApprovals, Kind: PropApprovalList, set: func(r *Resource, v []string) {
		for _, by := range v {
			r.Approvals = append(r.Approvals, Approval{Step: "s", By: by})
		}
	}},
}

// StandardProperties returns the standard property table (a copy).
func StandardProperties() []StandardProperty {
	return append([]StandardProperty(nil), standardProperties...)
}

// SetForTest stores v in the Resource field of the property p, for tests
// of the readers outside this package.
func (p StandardProperty) SetForTest(r *Resource, v ...string) { p.set(r, v) }
