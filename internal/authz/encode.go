package authz

import (
	"strconv"
	"unicode/utf8"

	"github.com/gatehouse-dev/gatehouse/internal/snapshot"
)

// The evaluation responses are appended into a pooled []byte by hand:
// their shape is fixed and small, and encoding/json would reflect over a
// response struct and allocate on every call. Other endpoints (search,
// plan, approvals) are not hot and use encoding/json.

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string. Escaping matches encoding/json
// without HTML escaping: quotes, backslashes and control characters are
// escaped, invalid UTF-8 becomes \ufffd, and U+2028/U+2029 are escaped so
// that the output is also valid JavaScript.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

func appendStrings(b []byte, xs []string) []byte {
	b = append(b, '[')
	for i, x := range xs {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, x)
	}
	return append(b, ']')
}

// decisionOut is what an evaluation answer carries besides the decision.
type decisionOut struct {
	d        snapshot.Decision
	revision string                     // "" to leave it out (batch items)
	fields   snapshot.FieldAccessResult // shown when Covered
	explain  bool
}

// appendDecision appends one AuthZEN evaluation response object:
// {"decision":b,"context":{"reason":...,"revision":...,"fields":{...}}}.
func appendDecision(b []byte, o *decisionOut) []byte {
	if o.d.Allowed {
		b = append(b, `{"decision":true,"context":{"reason":`...)
	} else {
		b = append(b, `{"decision":false,"context":{"reason":`...)
	}
	b = appendString(b, o.d.Reason)
	if o.revision != "" {
		b = append(b, `,"revision":`...)
		b = appendString(b, o.revision)
	}
	if o.fields.Covered {
		b = append(b, `,"fields":{"readable":`...)
		b = appendStrings(b, o.fields.Readable)
		b = append(b, `,"writable":`...)
		b = appendStrings(b, o.fields.Writable)
		b = append(b, '}')
	}
	if o.explain {
		b = appendExplain(b, &o.d)
	}
	return append(b, '}', '}')
}

// appendExplain appends ,"explain":{...}: the grant that allowed the
// request, or why nothing matched.
func appendExplain(b []byte, d *snapshot.Decision) []byte {
	b = append(b, `,"explain":{`...)
	if m := d.Matched; d.Allowed && m != nil {
		b = append(b, `"role":`...)
		b = appendString(b, m.Role)
		b = append(b, `,"group":`...)
		b = appendString(b, m.Group)
		if m.From != "" {
			b = append(b, `,"from":`...)
			b = appendString(b, m.From)
		}
		b = append(b, `,"permission":`...)
		b = strconv.AppendInt(b, int64(m.Permission), 10)
		if m.FullAccess {
			b = append(b, `,"fullAccess":true`...)
		}
		if m.Scope != "" {
			b = append(b, `,"scope":`...)
			b = appendString(b, m.Scope)
		}
		if m.When != "" {
			b = append(b, `,"when":`...)
			b = appendString(b, m.When)
		}
		b = append(b, ',')
	}
	b = append(b, `"message":`...)
	b = appendString(b, reasonMessage(d.Reason))
	return append(b, '}')
}

// reasonMessage explains a decision reason to a person reading ?explain
// output. The texts describe the rule, never request data.
func reasonMessage(reason string) string {
	switch reason {
	case snapshot.ReasonAllowed:
		return "a grant of a role the subject holds matched the request"
	case snapshot.ReasonNoSnapshot:
		return "the tenant has no permission snapshot: everything is denied"
	case snapshot.ReasonInvalidRequest:
		return "the request lacks a subject id, action or resource type"
	case snapshot.ReasonUnknownSubject:
		return "the subject is not a member of any UserGroup and none of its identity-provider groups selects one"
	case snapshot.ReasonNoRoles:
		return "the subject's groups grant no roles"
	case snapshot.ReasonUnknownResource:
		return "no Role of the tenant names this resource type"
	case snapshot.ReasonUnknownAction:
		return "no Role of the tenant names this action"
	case snapshot.ReasonNotPermitted:
		return "no role the subject holds grants this action on this resource type"
	case snapshot.ReasonScopeNotMatched:
		return "a grant exists but its scope (own, assigned, unit, facility, company...) does not cover this record"
	case snapshot.ReasonConditionFalse:
		return "a grant exists but its CEL condition (when) is false for this request"
	case snapshot.ReasonRestricted:
		return "a restriction of one of the subject's groups excludes this record"
	}
	return "denied"
}

// appendError appends the body of an error response.
func appendError(b []byte, msg string) []byte {
	b = append(b, `{"error":`...)
	b = appendString(b, msg)
	return append(b, '}')
}
