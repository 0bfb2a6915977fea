package authz

import (
	"strings"

	"github.com/gatehouse-dev/gatehouse/internal/authz/jsonscan"
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
const DefaultMaxListItems = jsonscan.DefaultMaxList

// DecodeError is a request the decoder rejected: Field names the JSON path
// of the offending value, Msg what is wrong.
type DecodeError = jsonscan.DecodeError

// scanner is the JSON scanner with the AuthZEN and SubjectAccessReview
// decoders as methods.
type scanner struct{ jsonscan.Scanner }

// Limits applied while decoding.
type limits struct {
	maxDepth int
	maxBatch int
	// maxList bounds lists and generic objects (0: DefaultMaxListItems).
	// context.candidates and evaluations have their own limits.
	maxList int
}

// decode parses body for endpoint ep into r. A nil error means every field
// had the right type and no unknown field was present; whether required
// parts are present is checked by the handlers (checkTuple).
func (r *request) decode(body []byte, ep endpoint, lim limits) *DecodeError {
	r.reset(ep)
	s := &r.s
	s.Reset(body, lim.maxDepth)
	if lim.maxList > 0 {
		s.MaxList = lim.maxList
	}
	if s.Peek() == 0 {
		s.Fail("", "empty request body")
		return s.Err()
	}
	var seen uint32
	for k, more := s.FirstKey(""); more; k, more = s.NextKey("") {
		bit, allowed := topField(ep, k)
		if !allowed {
			s.FailKey("", k, "unknown field")
			return s.Err()
		}
		if seen&bit != 0 {
			s.FailKey("", k, "duplicate key")
			return s.Err()
		}
		seen |= bit
		if !r.topValue(k, lim) {
			return s.Err()
		}
	}
	if !s.End() {
		return s.Err()
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
		v, ok := s.StringField("placeholder")
		r.placeholder = v
		return ok
	case "argOffset":
		n, ok := s.NonNegInt("argOffset")
		r.argOffset = n
		return ok
	}
	return s.Fail(k, "unknown field")
}

func (r *request) evaluations(lim limits) bool {
	s := &r.s
	const f = "evaluations"
	s.ItemField = f
	for i, more := 0, s.FirstItem(f); more; i, more = i+1, s.NextItem(f) {
		if i >= lim.maxBatch {
			return s.Fail(f, "more than "+itoa(lim.maxBatch)+" evaluations")
		}
		s.Item = i // errors inside the item are at evaluations[i]
		if len(r.items) < cap(r.items) {
			r.items = r.items[:len(r.items)+1]
		} else {
			r.items = append(r.items, tuple{})
		}
		t := &r.items[len(r.items)-1]
		t.reset()
		var seen uint8
		for k, more := s.FirstKey(""); more; k, more = s.NextKey("") {
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
				return s.FailKey("", k, "unknown field")
			}
			if !s.firstKey(&seen, bit, "", k) || !s.part(t, k, false, nil) {
				return false
			}
		}
		if s.Err() != nil {
			return false
		}
		s.Item = -1
	}
	return s.Err() == nil
}

func (r *request) options() bool {
	s := &r.s
	const f = "options"
	seen := false
	for k, more := s.FirstKeyOrNull(f); more; k, more = s.NextKey(f) {
		if k != "evaluations_semantic" {
			// Other options are implementation-specific; unknown ones are
			// ignored, as the spec's general-purpose options object
			// intends.
			if !s.Skip(f) {
				return false
			}
			continue
		}
		if seen {
			return s.Fail("options.evaluations_semantic", "duplicate key")
		}
		seen = true
		v, ok := s.StringField("options.evaluations_semantic")
		if !ok {
			return false
		}
		switch v {
		case semExecuteAll, semDenyOnFirstDeny, semPermitOnFirstPermit:
			r.semantic = v
		default:
			return s.Fail("options.evaluations_semantic", "must be one of execute_all, deny_on_first_deny, permit_on_first_permit")
		}
	}
	return s.Err() == nil
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
	var seen uint8
	for k, more := s.FirstKeyOrNull(f); more; k, more = s.NextKey(f) {
		var bit uint8
		var ok bool
		switch k {
		case "token", "next_token":
			// next_token is what the draft-04 examples send back.
			bit = 1
			r.pageToken, ok = s.StringField("page.token")
		case "limit":
			bit = 2
			r.pageLimit, ok = s.NonNegInt("page.limit")
		case "properties":
			bit = 4
			if s.Peek() != '{' {
				ok = s.Expected("page.properties", "object")
			} else {
				ok = s.Skip("page.properties")
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

func (r *request) columnsValue() bool {
	s := &r.s
	const f = "columns"
	if s.Peek() == '{' {
		r.columns = map[string]string{}
	}
	for k, more := s.FirstKey(f); more; k, more = s.NextKey(f) {
		if _, dup := r.columns[k]; dup {
			return s.FailKey(f, k, "duplicate key")
		}
		s.PushKey(k)
		v, ok := s.CopiedString(f)
		if !ok {
			return false
		}
		s.Pop()
		r.columns[cloneKey(k)] = v
	}
	return s.Err() == nil
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
