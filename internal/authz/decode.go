package authz

import (
	"math"
	"strings"

	"github.com/gatehouse-dev/gatehouse/internal/snapshot"
)

// Presence bits of a tuple's parts: batch items fall back to the top-level
// default for every part they lack (AuthZEN 1.0 "default values").
const (
	hasSubject uint8 = 1 << iota
	hasAction
	hasResource
	hasContext
)

// tuple is one decoded AuthZEN 4-tuple. Its buf* slices keep their storage
// across requests (tuples live in pooled requests), so standard list
// properties decode without allocating once the pool is warm.
type tuple struct {
	sub    snapshot.Subject
	action string
	res    snapshot.Resource
	ctx    map[string]any
	// minRevision is context.minRevision, taken out of the CEL context.
	minRevision string
	has         uint8

	bufGroups, bufCompanies, bufFacilities []string
	bufAssignees, bufContacts              []string
	bufApprovals                           []snapshot.Approval
}

func (t *tuple) reset() {
	t.sub = snapshot.Subject{}
	t.action = ""
	t.res = snapshot.Resource{}
	t.ctx = nil
	t.minRevision = ""
	t.has = 0
}

// request is a decoded body of any endpoint. Requests are pooled.
type request struct {
	ep    endpoint
	top   tuple
	items []tuple // evaluations (len is the number of items)

	semantic string

	pageToken string
	pageLimit int // -1 when absent

	candidates    []snapshot.Resource
	hasCandidates bool

	columns     map[string]string
	placeholder string
	argOffset   int

	s scanner
}

func (r *request) reset(ep endpoint) {
	r.ep = ep
	r.top.reset()
	for i := range r.items {
		r.items[i].reset()
	}
	r.items = r.items[:0]
	r.semantic = ""
	r.pageToken = ""
	r.pageLimit = -1
	clear(r.candidates)
	r.candidates = r.candidates[:0]
	r.hasCandidates = false
	r.columns = nil
	r.placeholder = ""
	r.argOffset = 0
}

// DefaultMaxListItems bounds every JSON array and every object of a
// generic value (custom subject and resource properties, context) and the
// standard string lists (groups, companies, facilities, assigneeIds,
// projectContacts, approvals): CEL's cost tracking is super-linear in list
// size, so one condition over a 100,000-item list costs a quarter of a CPU
// second per evaluation.
const DefaultMaxListItems = 1000

// Limits applied while decoding.
type limits struct {
	maxDepth int
	maxBatch int
	// maxList bounds lists and generic objects (0: DefaultMaxListItems).
	// context.candidates and evaluations have their own limits.
	maxList int
}

// names are the error paths of one place a subject or resource can appear,
// precomputed so that decoding builds no strings.
type resNames struct {
	self, typ, id, props                        string
	ownerID, assignees, unit, facility, company string
	contacts, approvals                         string
}

func newResNames(base string) *resNames {
	j := func(s string) string { return joinField(base, s) }
	p := joinField(base, "properties")
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

// decode parses body for endpoint ep into r. A nil error means every field
// had the right type and no unknown field was present; whether required
// parts are present is checked by the handlers (checkTuple).
func (r *request) decode(body []byte, ep endpoint, lim limits) *DecodeError {
	r.reset(ep)
	s := &r.s
	s.reset(body, lim.maxDepth)
	if lim.maxList > 0 {
		s.maxList = lim.maxList
	}
	if s.peek() == 0 {
		s.fail("", "empty request body")
		return s.err
	}
	if !s.enter("", '{') {
		return s.err
	}
	var seen uint32
	first := true
	for {
		more, ok := s.next("", '}', &first)
		if !ok {
			return s.err
		}
		if !more {
			break
		}
		k, ok := s.key("")
		if !ok {
			return s.err
		}
		bit, allowed := topField(ep, k)
		if !allowed {
			s.failKey("", k, "unknown field")
			return s.err
		}
		if seen&bit != 0 {
			s.failKey("", k, "duplicate key")
			return s.err
		}
		seen |= bit
		if !r.topValue(k, lim) {
			return s.err
		}
	}
	if !s.end() {
		return s.err
	}
	return nil
}

func (r *request) topValue(k string, lim limits) bool {
	s := &r.s
	switch k {
	case "subject", "action", "resource", "context":
		return s.part(&r.top, k, endpoints[r.ep].candidates, r)
	case "evaluations":
		return r.evaluations(lim)
	case "options":
		return r.options()
	case "page":
		return r.page()
	case "columns":
		return r.columnsValue()
	case "placeholder":
		v, ok := s.stringField("placeholder")
		r.placeholder = v
		return ok
	case "argOffset":
		n, ok := s.nonNegInt("argOffset")
		r.argOffset = n
		return ok
	}
	return s.fail(k, "unknown field")
}

// part decodes one of the four tuple parts named k into t. A null part is
// treated as absent.
func (s *scanner) part(t *tuple, k string, candidates bool, r *request) bool {
	if s.peek() == 'n' {
		return s.literal(k, "null")
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
	return s.fail(k, "unknown field")
}

func (s *scanner) subject(t *tuple) bool {
	if !s.enter("subject", '{') {
		return false
	}
	var seen uint8
	first := true
	for {
		more, ok := s.next("subject", '}', &first)
		if !ok {
			return false
		}
		if !more {
			return true
		}
		k, ok := s.key("subject")
		if !ok {
			return false
		}
		var bit uint8
		switch k {
		case "type":
			bit = 1
			t.sub.Type, ok = s.stringField("subject.type")
		case "id":
			bit = 2
			t.sub.ID, ok = s.stringField("subject.id")
		case "properties":
			bit = 4
			ok = s.subjectProps(t)
		default:
			return s.failKey("subject", k, "unknown field")
		}
		if seen&bit != 0 {
			return s.failKey("subject", k, "duplicate key")
		}
		seen |= bit
		if !ok {
			return false
		}
	}
}

func (s *scanner) subjectProps(t *tuple) bool {
	const f = "subject.properties"
	if s.peek() == 'n' {
		return s.literal(f, "null")
	}
	if !s.enter(f, '{') {
		return false
	}
	var seen uint8
	first := true
	for {
		more, ok := s.next(f, '}', &first)
		if !ok {
			return false
		}
		if !more {
			return true
		}
		k, ok := s.key(f)
		if !ok {
			return false
		}
		var bit uint8
		null := s.peek() == 'n'
		switch k {
		case snapshot.AttrGroups:
			bit = 1
			if null {
				ok = s.literal("subject.properties.groups", "null")
			} else {
				t.bufGroups, ok = s.stringList("subject.properties.groups", t.bufGroups)
				t.sub.Groups = t.bufGroups
			}
		case snapshot.AttrUnit:
			bit = 2
			if null {
				ok = s.literal("subject.properties.unit", "null")
			} else {
				t.sub.Unit, ok = s.stringField("subject.properties.unit")
				ok = ok && s.unit("subject.properties.unit", t.sub.Unit)
			}
		case snapshot.AttrCompany:
			bit = 4
			if null {
				ok = s.literal("subject.properties.company", "null")
			} else {
				t.sub.Company, ok = s.stringField("subject.properties.company")
			}
		case snapshot.AttrCompanies:
			bit = 8
			if null {
				ok = s.literal("subject.properties.companies", "null")
			} else {
				t.bufCompanies, ok = s.stringList("subject.properties.companies", t.bufCompanies)
				t.sub.Companies = t.bufCompanies
			}
		case snapshot.AttrFacilities:
			bit = 16
			if null {
				ok = s.literal("subject.properties.facilities", "null")
			} else {
				t.bufFacilities, ok = s.stringList("subject.properties.facilities", t.bufFacilities)
				t.sub.Facilities = t.bufFacilities
			}
		default:
			if _, dup := t.sub.Properties[k]; dup {
				return s.failKey(f, k, "duplicate key")
			}
			if len(t.sub.Properties) >= s.maxList {
				return s.tooMany(f)
			}
			var v any
			s.pushKey(k)
			if v, ok = s.value(f); !ok {
				return false
			}
			s.pop()
			if t.sub.Properties == nil {
				t.sub.Properties = map[string]any{}
			}
			t.sub.Properties[cloneKey(k)] = v
		}
		if bit != 0 {
			if seen&bit != 0 {
				return s.failKey(f, k, "duplicate key")
			}
			seen |= bit
		}
		if !ok {
			return false
		}
	}
}

func (s *scanner) action(t *tuple) bool {
	if !s.enter("action", '{') {
		return false
	}
	var seen uint8
	first := true
	for {
		more, ok := s.next("action", '}', &first)
		if !ok {
			return false
		}
		if !more {
			return true
		}
		k, ok := s.key("action")
		if !ok {
			return false
		}
		var bit uint8
		switch k {
		case "name":
			bit = 1
			t.action, ok = s.stringField("action.name")
		case "properties":
			// Action properties are accepted per the spec but Gatehouse
			// policies cannot refer to them (CEL sees action.name only).
			bit = 2
			if s.peek() == 'n' {
				ok = s.literal("action.properties", "null")
			} else if s.peek() != '{' {
				ok = s.expected("action.properties", "object")
			} else {
				ok = s.skip("action.properties")
			}
		default:
			return s.failKey("action", k, "unknown field")
		}
		if seen&bit != 0 {
			return s.failKey("action", k, "duplicate key")
		}
		seen |= bit
		if !ok {
			return false
		}
	}
}

// resource decodes a resource object into res. t, when not nil, lends its
// list buffers (the hot path); candidates pass nil and allocate.
func (s *scanner) resource(res *snapshot.Resource, n *resNames, t *tuple) bool {
	if !s.enter(n.self, '{') {
		return false
	}
	var seen uint8
	first := true
	for {
		more, ok := s.next(n.self, '}', &first)
		if !ok {
			return false
		}
		if !more {
			return true
		}
		k, ok := s.key(n.self)
		if !ok {
			return false
		}
		var bit uint8
		switch k {
		case "type":
			bit = 1
			res.Type, ok = s.stringField(n.typ)
		case "id":
			bit = 2
			res.ID, ok = s.stringField(n.id)
		case "properties":
			bit = 4
			ok = s.resourceProps(res, n, t)
		default:
			return s.failKey(n.self, k, "unknown field")
		}
		if seen&bit != 0 {
			return s.failKey(n.self, k, "duplicate key")
		}
		seen |= bit
		if !ok {
			return false
		}
	}
}

func (s *scanner) resourceProps(res *snapshot.Resource, n *resNames, t *tuple) bool {
	f := n.props
	if s.peek() == 'n' {
		return s.literal(f, "null")
	}
	if !s.enter(f, '{') {
		return false
	}
	var seen uint8
	first := true
	for {
		more, ok := s.next(f, '}', &first)
		if !ok {
			return false
		}
		if !more {
			return true
		}
		k, ok := s.key(f)
		if !ok {
			return false
		}
		var bit uint8
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
			if s.peek() == 'n' {
				ok = s.literal(n.approvals, "null")
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
			if _, dup := res.Properties[k]; dup {
				return s.failKey(f, k, "duplicate key")
			}
			if len(res.Properties) >= s.maxList {
				return s.tooMany(f)
			}
			var v any
			s.pushKey(k)
			if v, ok = s.value(f); !ok {
				return false
			}
			s.pop()
			if res.Properties == nil {
				res.Properties = map[string]any{}
			}
			res.Properties[cloneKey(k)] = v
		}
		if bit != 0 {
			if seen&bit != 0 {
				return s.failKey(f, k, "duplicate key")
			}
			seen |= bit
		}
		if !ok {
			return false
		}
	}
}

// nullableString decodes a string property that may be null (a null
// leaves dst unset).
func (s *scanner) nullableString(field string, dst *string) bool {
	if s.peek() == 'n' {
		return s.literal(field, "null")
	}
	v, ok := s.stringField(field)
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
		return s.fail(field, err.Error())
	}
	return true
}

// nullableStrings decodes a string-list property that may be null into dst,
// reusing *buf when buf is not nil (the hot path lends its buffers).
func (s *scanner) nullableStrings(field string, dst *[]string, buf *[]string) bool {
	if s.peek() == 'n' {
		return s.literal(field, "null")
	}
	var reuse []string
	if buf != nil {
		reuse = *buf
	}
	list, ok := s.stringList(field, reuse)
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
	if !s.enter(f, '[') {
		return dst, false
	}
	out := dst[:0]
	first := true
	for {
		more, ok := s.next(f, ']', &first)
		if !ok {
			return out, false
		}
		if !more {
			if out == nil {
				out = []snapshot.Approval{}
			}
			return out, true
		}
		if len(out) >= s.maxList {
			return out, s.tooMany(f)
		}
		s.pushIndex(len(out))
		if !s.enter(f, '{') {
			return out, false
		}
		var a snapshot.Approval
		var seen uint8
		ifirst := true
		for {
			more, ok := s.next(f, '}', &ifirst)
			if !ok {
				return out, false
			}
			if !more {
				break
			}
			k, ok := s.key(f)
			if !ok {
				return out, false
			}
			s.pushKey(k)
			var bit uint8
			switch k {
			case "step":
				bit = 1
				a.Step, ok = s.stringField(f)
			case "by":
				bit = 2
				a.By, ok = s.stringField(f)
			default:
				return out, s.fail(f, "unknown field")
			}
			if seen&bit != 0 {
				return out, s.fail(f, "duplicate key")
			}
			seen |= bit
			if !ok {
				return out, false
			}
			s.pop()
		}
		s.pop()
		out = append(out, a)
	}
}

// context decodes the context object. minRevision is Gatehouse's own key
// and is not passed to CEL; candidates (resource search only) are records
// to filter. Everything else is a generic value.
func (s *scanner) context(t *tuple, candidates bool, r *request) bool {
	const f = "context"
	if !s.enter(f, '{') {
		return false
	}
	var seenRev, seenCand bool
	first := true
	for {
		more, ok := s.next(f, '}', &first)
		if !ok {
			return false
		}
		if !more {
			return true
		}
		k, ok := s.key(f)
		if !ok {
			return false
		}
		switch {
		case k == "minRevision":
			if seenRev {
				return s.fail("context.minRevision", "duplicate key")
			}
			seenRev = true
			t.minRevision, ok = s.stringField("context.minRevision")
		case k == "candidates" && candidates && r != nil:
			if seenCand {
				return s.fail("context.candidates", "duplicate key")
			}
			seenCand = true
			ok = r.candidateList()
		default:
			if _, dup := t.ctx[k]; dup {
				return s.failKey(f, k, "duplicate key")
			}
			if len(t.ctx) >= s.maxList {
				return s.tooMany(f)
			}
			var v any
			s.pushKey(k)
			if v, ok = s.value(f); !ok {
				return false
			}
			s.pop()
			if t.ctx == nil {
				t.ctx = map[string]any{}
			}
			t.ctx[cloneKey(k)] = v
		}
		if !ok {
			return false
		}
	}
}

func (r *request) candidateList() bool {
	s := &r.s
	const f = "context.candidates"
	if !s.enter(f, '[') {
		return false
	}
	r.hasCandidates = true
	first := true
	s.itemField = f
	for i := 0; ; i++ {
		more, ok := s.next(f, ']', &first)
		if !ok {
			return false
		}
		if !more {
			return true
		}
		s.item = i // errors inside the item are at context.candidates[i]
		r.candidates = append(r.candidates, snapshot.Resource{})
		if !s.resource(&r.candidates[len(r.candidates)-1], candidateNames, nil) {
			return false
		}
		s.item = -1
	}
}

func (r *request) evaluations(lim limits) bool {
	s := &r.s
	const f = "evaluations"
	if !s.enter(f, '[') {
		return false
	}
	first := true
	s.itemField = f
	for i := 0; ; i++ {
		more, ok := s.next(f, ']', &first)
		if !ok {
			return false
		}
		if !more {
			return true
		}
		if i >= lim.maxBatch {
			return s.fail(f, "more than "+itoa(lim.maxBatch)+" evaluations")
		}
		s.item = i // errors inside the item are at evaluations[i]
		if len(r.items) < cap(r.items) {
			r.items = r.items[:len(r.items)+1]
		} else {
			r.items = append(r.items, tuple{})
		}
		t := &r.items[len(r.items)-1]
		t.reset()
		if !s.enter("", '{') {
			return false
		}
		var seen uint8
		ifirst := true
		for {
			more, ok := s.next("", '}', &ifirst)
			if !ok {
				return false
			}
			if !more {
				break
			}
			k, ok := s.key("")
			if !ok {
				return false
			}
			var bit uint8
			switch k {
			case "subject":
				bit = hasSubject
			case "action":
				bit = hasAction
			case "resource":
				bit = hasResource
			case "context":
				bit = hasContext
			default:
				return s.failKey("", k, "unknown field")
			}
			if seen&bit != 0 {
				return s.failKey("", k, "duplicate key")
			}
			seen |= bit
			if !s.part(t, k, false, nil) {
				return false
			}
		}
		s.item = -1
	}
}

func (r *request) options() bool {
	s := &r.s
	const f = "options"
	if s.peek() == 'n' {
		return s.literal(f, "null")
	}
	if !s.enter(f, '{') {
		return false
	}
	first := true
	seen := false
	for {
		more, ok := s.next(f, '}', &first)
		if !ok {
			return false
		}
		if !more {
			return true
		}
		k, ok := s.key(f)
		if !ok {
			return false
		}
		if k == "evaluations_semantic" {
			if seen {
				return s.fail("options.evaluations_semantic", "duplicate key")
			}
			seen = true
			v, ok := s.stringField("options.evaluations_semantic")
			if !ok {
				return false
			}
			switch v {
			case semExecuteAll, semDenyOnFirstDeny, semPermitOnFirstPermit:
				r.semantic = v
			default:
				return s.fail("options.evaluations_semantic", "must be one of execute_all, deny_on_first_deny, permit_on_first_permit")
			}
			continue
		}
		// Other options are implementation-specific; unknown ones are
		// ignored, as the spec's general-purpose options object intends.
		if !s.skip(f) {
			return false
		}
	}
}

// Evaluations semantics (AuthZEN 1.0, options.evaluations_semantic).
const (
	semExecuteAll          = "execute_all"
	semDenyOnFirstDeny     = "deny_on_first_deny"
	semPermitOnFirstPermit = "permit_on_first_permit"
)

func (r *request) page() bool {
	s := &r.s
	const f = "page"
	if s.peek() == 'n' {
		return s.literal(f, "null")
	}
	if !s.enter(f, '{') {
		return false
	}
	var seen uint8
	first := true
	for {
		more, ok := s.next(f, '}', &first)
		if !ok {
			return false
		}
		if !more {
			return true
		}
		k, ok := s.key(f)
		if !ok {
			return false
		}
		var bit uint8
		switch k {
		case "token", "next_token":
			// next_token is what the draft-04 examples send back.
			bit = 1
			r.pageToken, ok = s.stringField("page.token")
		case "limit":
			bit = 2
			r.pageLimit, ok = s.nonNegInt("page.limit")
		case "properties":
			bit = 4
			if s.peek() != '{' {
				ok = s.expected("page.properties", "object")
			} else {
				ok = s.skip("page.properties")
			}
		default:
			return s.failKey(f, k, "unknown field")
		}
		if seen&bit != 0 {
			return s.failKey(f, k, "duplicate key")
		}
		seen |= bit
		if !ok {
			return false
		}
	}
}

func (r *request) columnsValue() bool {
	s := &r.s
	const f = "columns"
	if !s.enter(f, '{') {
		return false
	}
	r.columns = map[string]string{}
	first := true
	for {
		more, ok := s.next(f, '}', &first)
		if !ok {
			return false
		}
		if !more {
			return true
		}
		k, ok := s.key(f)
		if !ok {
			return false
		}
		if _, dup := r.columns[k]; dup {
			return s.failKey(f, k, "duplicate key")
		}
		s.pushKey(k)
		if s.peek() != '"' {
			return s.expected(f, "string")
		}
		v, ok := s.str(f, true)
		if !ok {
			return false
		}
		s.pop()
		r.columns[cloneKey(k)] = v
	}
}

// nonNegInt reads a non-negative integral number that fits an int32.
func (s *scanner) nonNegInt(field string) (int, bool) {
	if c := s.peek(); c != '-' && (c < '0' || c > '9') {
		return 0, s.expected(field, "number")
	}
	f, ok := s.float(field)
	if !ok {
		return 0, false
	}
	if f < 0 || f != math.Trunc(f) || f > math.MaxInt32 {
		return 0, s.fail(field, "expected a non-negative integer")
	}
	return int(f), true
}

// cloneKey copies a key that may alias the request buffer, so that maps
// handed to CEL or kept in responses own their keys.
func cloneKey(k string) string { return strings.Clone(k) }

func itoa(n int) string {
	var b [20]byte
	i := len(b)
	if n == 0 {
		return "0"
	}
	neg := n < 0
	if neg {
		n = -n
	}
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	if neg {
		i--
		b[i] = '-'
	}
	return string(b[i:])
}
