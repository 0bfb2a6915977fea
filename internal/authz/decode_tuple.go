package authz

import (
	"github.com/gatehouse-dev/gatehouse/internal/authz/jsonscan"
	"github.com/gatehouse-dev/gatehouse/internal/snapshot"
)

// This file decodes the AuthZEN tuple parts (subject, action, resource,
// context) and the candidates of a resource search.

// resNames are the error paths of one place a resource can appear,
// precomputed so that decoding builds no strings.
type resNames struct {
	self, typ, id, props                        string
	ownerID, assignees, unit, facility, company string
	contacts, approvals                         string
}

func newResNames(base string) *resNames {
	j := func(s string) string { return jsonscan.JoinField(base, s) }
	p := jsonscan.JoinField(base, "properties")
	return &resNames{
		self: base, typ: j("type"), id: j("id"), props: p,
		ownerID: p + "." + snapshot.PropOwnerID, assignees: p + "." + snapshot.PropAssigneeIDs,
		unit: p + "." + snapshot.PropUnit, facility: p + "." + snapshot.PropFacilityID,
		company: p + "." + snapshot.PropCompanyID, contacts: p + "." + snapshot.PropProjectContacts,
		approvals: p + "." + snapshot.PropApprovals,
	}
}

var (
	resourceNames  = newResNames("resource")
	candidateNames = newResNames("")
)

// firstKey marks bit in seen, failing on a key already seen in the object
// at field.
func (s *scanner) firstKey(seen *uint8, bit uint8, field, k string) bool {
	if *seen&bit != 0 {
		return s.FailKey(field, k, "duplicate key")
	}
	*seen |= bit
	return true
}

// genericMember decodes the value of key k of the object at field into
// *m (custom properties, context: values CEL sees), which it makes on
// first use.
func (s *scanner) genericMember(field, k string, m *map[string]any) bool {
	if _, dup := (*m)[k]; dup {
		return s.FailKey(field, k, "duplicate key")
	}
	if len(*m) >= s.MaxList {
		return s.TooMany(field)
	}
	s.PushKey(k)
	v, ok := s.Value(field)
	if !ok {
		return false
	}
	s.Pop()
	if *m == nil {
		*m = map[string]any{}
	}
	(*m)[cloneKey(k)] = v
	return true
}

// part decodes one of the four tuple parts named k into t. A null part is
// treated as absent.
func (s *scanner) part(t *tuple, k string, candidates bool, r *request) bool {
	if s.Peek() == 'n' {
		return s.Literal(k, "null")
	}
	switch k {
	case "subject":
		t.has |= hasSubject
		return s.subject(t)
	case "action":
		t.has |= hasAction
		return s.action(t)
	case "resource":
		t.has |= hasResource
		return s.resource(&t.res, resourceNames, t)
	case "context":
		t.has |= hasContext
		return s.context(t, candidates, r)
	}
	return s.Fail(k, "unknown field")
}

func (s *scanner) subject(t *tuple) bool {
	const f = "subject"
	var seen uint8
	for k, more := s.FirstKey(f); more; k, more = s.NextKey(f) {
		var bit uint8
		var ok bool
		switch k {
		case "type":
			bit = 1
			t.sub.Type, ok = s.StringField("subject.type")
		case "id":
			bit = 2
			t.sub.ID, ok = s.StringField("subject.id")
		case "properties":
			bit = 4
			ok = s.subjectProps(t)
		default:
			return s.FailKey(f, k, "unknown field")
		}
		if !s.firstKey(&seen, bit, f, k) || !ok {
			return false
		}
	}
	return s.Err() == nil
}

func (s *scanner) subjectProps(t *tuple) bool {
	const f = "subject.properties"
	var seen uint8
	for k, more := s.FirstKeyOrNull(f); more; k, more = s.NextKey(f) {
		var bit uint8
		var ok bool
		switch k {
		case snapshot.AttrGroups:
			bit = 1
			ok = s.nullableStrings("subject.properties.groups", &t.sub.Groups, &t.bufGroups)
		case snapshot.AttrUnit:
			bit = 2
			ok = s.nullableString("subject.properties.unit", &t.sub.Unit) && s.unit("subject.properties.unit", t.sub.Unit)
		case snapshot.AttrCompany:
			bit = 4
			ok = s.nullableString("subject.properties.company", &t.sub.Company)
		case snapshot.AttrCompanies:
			bit = 8
			ok = s.nullableStrings("subject.properties.companies", &t.sub.Companies, &t.bufCompanies)
		case snapshot.AttrFacilities:
			bit = 16
			ok = s.nullableStrings("subject.properties.facilities", &t.sub.Facilities, &t.bufFacilities)
		default:
			if !s.genericMember(f, k, &t.sub.Properties) {
				return false
			}
			continue
		}
		if !s.firstKey(&seen, bit, f, k) || !ok {
			return false
		}
	}
	return s.Err() == nil
}

func (s *scanner) action(t *tuple) bool {
	const f = "action"
	var seen uint8
	for k, more := s.FirstKey(f); more; k, more = s.NextKey(f) {
		var bit uint8
		var ok bool
		switch k {
		case "name":
			bit = 1
			t.action, ok = s.StringField("action.name")
		case "properties":
			// Action properties are accepted per the spec but Gatehouse
			// policies cannot refer to them (CEL sees action.name only).
			bit = 2
			if s.Peek() == 'n' {
				ok = s.Literal("action.properties", "null")
			} else if s.Peek() != '{' {
				ok = s.Expected("action.properties", "object")
			} else {
				ok = s.Skip("action.properties")
			}
		default:
			return s.FailKey(f, k, "unknown field")
		}
		if !s.firstKey(&seen, bit, f, k) || !ok {
			return false
		}
	}
	return s.Err() == nil
}

// resource decodes a resource object into res. t, when not nil, lends its
// list buffers (the hot path); candidates pass nil and allocate.
func (s *scanner) resource(res *snapshot.Resource, n *resNames, t *tuple) bool {
	var seen uint8
	for k, more := s.FirstKey(n.self); more; k, more = s.NextKey(n.self) {
		var bit uint8
		var ok bool
		switch k {
		case "type":
			bit = 1
			res.Type, ok = s.StringField(n.typ)
		case "id":
			bit = 2
			res.ID, ok = s.StringField(n.id)
		case "properties":
			bit = 4
			ok = s.resourceProps(res, n, t)
		default:
			return s.FailKey(n.self, k, "unknown field")
		}
		if !s.firstKey(&seen, bit, n.self, k) || !ok {
			return false
		}
	}
	return s.Err() == nil
}

func (s *scanner) resourceProps(res *snapshot.Resource, n *resNames, t *tuple) bool {
	f := n.props
	var seen uint8
	for k, more := s.FirstKeyOrNull(f); more; k, more = s.NextKey(f) {
		var bit uint8
		var ok bool
		switch k {
		case snapshot.PropOwnerID:
			bit = 1
			ok = s.nullableString(n.ownerID, &res.OwnerID)
		case snapshot.PropAssigneeIDs:
			bit = 2
			ok = s.nullableStrings(n.assignees, &res.AssigneeIDs, t.assigneeBuf())
		case snapshot.PropUnit:
			bit = 4
			ok = s.nullableString(n.unit, &res.Unit) && s.unit(n.unit, res.Unit)
		case snapshot.PropFacilityID:
			bit = 8
			ok = s.nullableString(n.facility, &res.FacilityID)
		case snapshot.PropCompanyID:
			bit = 16
			ok = s.nullableString(n.company, &res.CompanyID)
		case snapshot.PropProjectContacts:
			bit = 32
			ok = s.nullableStrings(n.contacts, &res.ProjectContacts, t.contactBuf())
		case snapshot.PropApprovals:
			bit = 64
			if s.Peek() == 'n' {
				ok = s.Literal(n.approvals, "null")
			} else {
				var buf []snapshot.Approval
				if t != nil {
					buf = t.bufApprovals
				}
				buf, ok = s.approvals(n, buf)
				if t != nil {
					t.bufApprovals = buf
				}
				res.Approvals = buf
			}
		default:
			if !s.genericMember(f, k, &res.Properties) {
				return false
			}
			continue
		}
		if !s.firstKey(&seen, bit, f, k) || !ok {
			return false
		}
	}
	return s.Err() == nil
}

// nullableString decodes a string property that may be null (a null
// leaves dst unset).
func (s *scanner) nullableString(field string, dst *string) bool {
	if s.Peek() == 'n' {
		return s.Literal(field, "null")
	}
	v, ok := s.StringField(field)
	*dst = v
	return ok
}

// unit rejects a unit path that is not canonical (snapshot.ValidUnit):
// units are compared as written, so /ca/ab/calgary/../../on must not count
// as below /ca/ab/calgary. "" is no unit, as null is. It does not allocate
// unless it fails.
func (s *scanner) unit(field, u string) bool {
	if u == "" {
		return true
	}
	if err := snapshot.ValidUnit(u); err != nil {
		return s.Fail(field, err.Error())
	}
	return true
}

// nullableStrings decodes a string-list property that may be null into dst,
// reusing *buf when buf is not nil (the hot path lends its buffers).
func (s *scanner) nullableStrings(field string, dst *[]string, buf *[]string) bool {
	if s.Peek() == 'n' {
		return s.Literal(field, "null")
	}
	var reuse []string
	if buf != nil {
		reuse = *buf
	}
	list, ok := s.StringList(field, reuse)
	if buf != nil {
		*buf = list
	}
	*dst = list
	return ok
}

// assigneeBuf and contactBuf lend the tuple's list buffers; a nil tuple
// (candidates) lends none.
func (t *tuple) assigneeBuf() *[]string {
	if t == nil {
		return nil
	}
	return &t.bufAssignees
}

func (t *tuple) contactBuf() *[]string {
	if t == nil {
		return nil
	}
	return &t.bufContacts
}

func (s *scanner) approvals(n *resNames, dst []snapshot.Approval) ([]snapshot.Approval, bool) {
	f := n.approvals
	out := dst[:0]
	for i, more := 0, s.FirstItem(f); more; i, more = i+1, s.NextItem(f) {
		if i >= s.MaxList {
			return out, s.TooMany(f)
		}
		s.PushIndex(i)
		var a snapshot.Approval
		var seen uint8
		for k, more := s.FirstKey(f); more; k, more = s.NextKey(f) {
			// The key goes on the path stack first: errors below name
			// approvals[i].k.
			s.PushKey(k)
			var bit uint8
			var ok bool
			switch k {
			case "step":
				bit = 1
				a.Step, ok = s.StringField(f)
			case "by":
				bit = 2
				a.By, ok = s.StringField(f)
			default:
				return out, s.Fail(f, "unknown field")
			}
			if seen&bit != 0 {
				return out, s.Fail(f, "duplicate key")
			}
			seen |= bit
			if !ok {
				return out, false
			}
			s.Pop()
		}
		if s.Err() != nil {
			return out, false
		}
		s.Pop()
		out = append(out, a)
	}
	if s.Err() != nil {
		return out, false
	}
	if out == nil {
		out = []snapshot.Approval{}
	}
	return out, true
}

// context decodes the context object. minRevision is Gatehouse's own key
// and is not passed to CEL; candidates (resource search only) are records
// to filter. Everything else is a generic value.
func (s *scanner) context(t *tuple, candidates bool, r *request) bool {
	const f = "context"
	var seenRev, seenCand bool
	for k, more := s.FirstKey(f); more; k, more = s.NextKey(f) {
		var ok bool
		switch {
		case k == "minRevision":
			if seenRev {
				return s.Fail("context.minRevision", "duplicate key")
			}
			seenRev = true
			t.minRevision, ok = s.StringField("context.minRevision")
		case k == "candidates" && candidates && r != nil:
			if seenCand {
				return s.Fail("context.candidates", "duplicate key")
			}
			seenCand = true
			ok = r.candidateList()
		default:
			ok = s.genericMember(f, k, &t.ctx)
		}
		if !ok {
			return false
		}
	}
	return s.Err() == nil
}

func (r *request) candidateList() bool {
	s := &r.s
	const f = "context.candidates"
	if s.Peek() == '[' {
		r.hasCandidates = true
	}
	s.ItemField = f
	for i, more := 0, s.FirstItem(f); more; i, more = i+1, s.NextItem(f) {
		s.Item = i // errors inside the item are at context.candidates[i]
		r.candidates = append(r.candidates, snapshot.Resource{})
		if !s.resource(&r.candidates[len(r.candidates)-1], candidateNames, nil) {
			return false
		}
		s.Item = -1
	}
	return s.Err() == nil
}
