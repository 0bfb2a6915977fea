package authz

import (
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"
)

// This file is a small JSON scanner written for the evaluation hot path:
// encoding/json reflects, builds maps for every object and copies every
// string, which costs more than the policy check itself. The scanner reads
// the request body in place and hands out strings that alias the body
// buffer (see view); only strings with escapes or non-ASCII bytes, and
// generic values (properties and context the application adds for CEL),
// are allocated.
//
// Semantics follow RFC 8259 and encoding/json where they meet: invalid
// UTF-8 in strings becomes U+FFFD, lone surrogates in \u escapes become
// U+FFFD, numbers are float64 and must fit. Unlike encoding/json, object
// keys are case-sensitive and a key repeated in one object is an error:
// parsers that disagree on duplicates let a caller show one value to a
// gateway and another to the PDP.

// DecodeError is a request the decoder rejected. Field names the offending
// JSON path (e.g. subject.id) so the caller can fix the request; it never
// contains request values.
type DecodeError struct {
	// Field is the JSON path of the offending value ("" for the document).
	Field string
	// Msg says what is wrong, e.g. "expected string".
	Msg string
}

// Error implements error.
func (e *DecodeError) Error() string {
	if e.Field == "" {
		return e.Msg
	}
	return e.Field + ": " + e.Msg
}

// scanner walks one JSON document held in b. The first error stops it: every
// method returns false once err is set, so callers can chain calls and check
// once.
type scanner struct {
	b        []byte
	i        int
	depth    int
	maxDepth int
	err      *DecodeError
	// prefix is prepended to field names in errors, e.g. "evaluations[3]".
	// It is a function of item so that no string is built unless an
	// error occurs.
	item int
	// itemField is the array name item indexes ("evaluations" or
	// "context.candidates").
	itemField string
}

func (s *scanner) reset(b []byte, maxDepth int) {
	*s = scanner{b: b, maxDepth: maxDepth, item: -1}
}

// fail records the first error. field is a constant path; the item prefix
// is added here, on the error path only.
func (s *scanner) fail(field, msg string) bool {
	if s.err == nil {
		if s.item >= 0 {
			p := s.itemField + "[" + strconv.Itoa(s.item) + "]"
			if field == "" {
				field = p
			} else {
				field = p + "." + field
			}
		}
		s.err = &DecodeError{Field: field, Msg: msg}
	}
	return false
}

func (s *scanner) syntax(field string) bool {
	if s.i >= len(s.b) {
		return s.fail(field, "unexpected end of JSON input")
	}
	return s.fail(field, "invalid JSON at offset "+strconv.Itoa(s.i))
}

func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// peek returns the next non-space byte without consuming it (0 at the end).
func (s *scanner) peek() byte {
	s.ws()
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

// kindName names the JSON type starting with c, for "expected X, got Y"
// messages.
func kindName(c byte) string {
	switch c {
	case '{':
		return "object"
	case '[':
		return "array"
	case '"':
		return "string"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		return "number"
	}
	return "invalid JSON"
}

func (s *scanner) expected(field, what string) bool {
	c := s.peek()
	if kindName(c) == "invalid JSON" {
		return s.syntax(field)
	}
	return s.fail(field, "expected "+what+", got "+kindName(c))
}

// enter consumes '{' or '[' and counts depth.
func (s *scanner) enter(field string, open byte) bool {
	if s.peek() != open {
		if open == '{' {
			return s.expected(field, "object")
		}
		return s.expected(field, "array")
	}
	s.depth++
	if s.depth > s.maxDepth {
		return s.fail(field, "nesting deeper than "+strconv.Itoa(s.maxDepth))
	}
	s.i++
	return true
}

// next advances inside an object or array opened with enter: it consumes
// a separating ',' or the closing byte. It returns more=false at the end of
// the container. first must be true before the first element.
func (s *scanner) next(field string, close byte, first *bool) (more bool, ok bool) {
	c := s.peek()
	if c == close {
		s.i++
		s.depth--
		return false, true
	}
	if *first {
		*first = false
		return true, true
	}
	if c != ',' {
		return false, s.syntax(field)
	}
	s.i++
	if s.peek() == close {
		return false, s.syntax(field) // trailing comma
	}
	return true, true
}

// key reads an object key and the ':' after it.
func (s *scanner) key(field string) (string, bool) {
	if s.peek() != '"' {
		return "", s.syntax(field)
	}
	k, ok := s.str(field, false)
	if !ok {
		return "", false
	}
	if s.peek() != ':' {
		return "", s.syntax(field)
	}
	s.i++
	return k, true
}

// end checks that nothing but whitespace follows the document.
func (s *scanner) end() bool {
	if s.err != nil {
		return false
	}
	s.ws()
	if s.i != len(s.b) {
		return s.fail("", "invalid JSON: data after the top-level value at offset "+strconv.Itoa(s.i))
	}
	return true
}

// view returns b as a string without copying. The string aliases the
// request buffer and is only valid until the buffer returns to its pool,
// i.e. for the duration of one request.
func view(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// str reads a JSON string (the scanner is at its opening quote). With
// owned=false, a string without escapes or non-ASCII bytes aliases the
// buffer (see view); otherwise it is allocated.
func (s *scanner) str(field string, owned bool) (string, bool) {
	s.i++ // opening quote
	start := s.i
	b := s.b
	for i := start; i < len(b); i++ {
		c := b[i]
		switch {
		case c == '"':
			s.i = i + 1
			if owned {
				return string(b[start:i]), true
			}
			return view(b[start:i]), true
		case c == '\\' || c >= utf8.RuneSelf:
			return s.slowStr(field, start)
		case c < 0x20:
			s.i = i
			return "", s.fail(field, "invalid control character in string")
		}
	}
	s.i = len(b)
	return "", s.syntax(field)
}

// slowStr decodes a string with escapes or non-ASCII bytes into a new
// string, with encoding/json's replacement rules.
func (s *scanner) slowStr(field string, start int) (string, bool) {
	b := s.b
	out := make([]byte, 0, 32)
	i := start
	for i < len(b) {
		c := b[i]
		switch {
		case c == '"':
			s.i = i + 1
			return string(out), true
		case c < 0x20:
			s.i = i
			return "", s.fail(field, "invalid control character in string")
		case c == '\\':
			if i+1 >= len(b) {
				s.i = len(b)
				return "", s.syntax(field)
			}
			e := b[i+1]
			switch e {
			case '"', '\\', '/':
				out = append(out, e)
				i += 2
			case 'b':
				out = append(out, '\b')
				i += 2
			case 'f':
				out = append(out, '\f')
				i += 2
			case 'n':
				out = append(out, '\n')
				i += 2
			case 'r':
				out = append(out, '\r')
				i += 2
			case 't':
				out = append(out, '\t')
				i += 2
			case 'u':
				r, ok := hex4(b, i+2)
				if !ok {
					s.i = i
					return "", s.fail(field, "invalid \\u escape in string")
				}
				i += 6
				if utf16.IsSurrogate(r) {
					r2, ok2 := rune(-1), false
					if i+1 < len(b) && b[i] == '\\' && b[i+1] == 'u' {
						r2, ok2 = hex4(b, i+2)
					}
					if ok2 {
						if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
							i += 6
							out = utf8.AppendRune(out, dec)
							break
						}
					}
					r = utf8.RuneError
				}
				out = utf8.AppendRune(out, r)
			default:
				s.i = i
				return "", s.fail(field, "invalid escape in string")
			}
		case c < utf8.RuneSelf:
			out = append(out, c)
			i++
		default:
			r, size := utf8.DecodeRune(b[i:])
			if r == utf8.RuneError && size == 1 {
				out = utf8.AppendRune(out, utf8.RuneError)
			} else {
				out = append(out, b[i:i+size]...)
			}
			i += size
		}
	}
	s.i = len(b)
	return "", s.syntax(field)
}

func hex4(b []byte, i int) (rune, bool) {
	if i+4 > len(b) {
		return 0, false
	}
	var r rune
	for _, c := range b[i : i+4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r*16 + rune(c)
	}
	return r, true
}

// number scans a JSON number and returns its text.
func (s *scanner) number(field string) ([]byte, bool) {
	b := s.b
	start := s.i
	i := start
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && '1' <= b[i] && b[i] <= '9':
		for i < len(b) && '0' <= b[i] && b[i] <= '9' {
			i++
		}
	default:
		s.i = i
		return nil, s.syntax(field)
	}
	if i < len(b) && b[i] == '.' {
		i++
		if i >= len(b) || b[i] < '0' || b[i] > '9' {
			s.i = i
			return nil, s.syntax(field)
		}
		for i < len(b) && '0' <= b[i] && b[i] <= '9' {
			i++
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || b[i] < '0' || b[i] > '9' {
			s.i = i
			return nil, s.syntax(field)
		}
		for i < len(b) && '0' <= b[i] && b[i] <= '9' {
			i++
		}
	}
	s.i = i
	return b[start:i], true
}

// float reads a number as float64, as encoding/json does for interface
// values; a number out of float64's range is an error.
func (s *scanner) float(field string) (float64, bool) {
	txt, ok := s.number(field)
	if !ok {
		return 0, false
	}
	f, err := strconv.ParseFloat(view(txt), 64)
	if err != nil {
		return 0, s.fail(field, "number "+string(txt)+" out of range")
	}
	return f, true
}

// literal consumes true, false or null.
func (s *scanner) literal(field string, lit string) bool {
	if len(s.b)-s.i < len(lit) || string(s.b[s.i:s.i+len(lit)]) != lit {
		return s.syntax(field)
	}
	s.i += len(lit)
	return true
}

// value decodes any JSON value into the types encoding/json uses for
// interface{} (map[string]any, []any, string, float64, bool, nil). Strings
// are copied: generic values end up in CEL activations and response maps
// whose lifetime the handler does not control.
func (s *scanner) value(field string) (any, bool) {
	switch c := s.peek(); c {
	case '{':
		if !s.enter(field, '{') {
			return nil, false
		}
		m := map[string]any{}
		first := true
		for {
			more, ok := s.next(field, '}', &first)
			if !ok {
				return nil, false
			}
			if !more {
				return m, true
			}
			k, ok := s.key(field)
			if !ok {
				return nil, false
			}
			if _, dup := m[k]; dup {
				return nil, s.fail(joinField(field, k), "duplicate key")
			}
			v, ok := s.value(field)
			if !ok {
				return nil, false
			}
			m[strings.Clone(k)] = v
		}
	case '[':
		if !s.enter(field, '[') {
			return nil, false
		}
		a := []any{}
		first := true
		for {
			more, ok := s.next(field, ']', &first)
			if !ok {
				return nil, false
			}
			if !more {
				return a, true
			}
			v, ok := s.value(field)
			if !ok {
				return nil, false
			}
			a = append(a, v)
		}
	case '"':
		return s.str(field, true)
	case 't':
		return true, s.literal(field, "true")
	case 'f':
		return false, s.literal(field, "false")
	case 'n':
		return nil, s.literal(field, "null")
	default:
		if c == '-' || ('0' <= c && c <= '9') {
			return s.float(field)
		}
		return nil, s.syntax(field)
	}
}

// skip validates and discards one value without allocating.
func (s *scanner) skip(field string) bool {
	switch c := s.peek(); c {
	case '{', '[':
		close := byte('}')
		if c == '[' {
			close = ']'
		}
		if !s.enter(field, c) {
			return false
		}
		first := true
		for {
			more, ok := s.next(field, close, &first)
			if !ok {
				return false
			}
			if !more {
				return true
			}
			if c == '{' {
				if _, ok := s.key(field); !ok {
					return false
				}
			}
			if !s.skip(field) {
				return false
			}
		}
	case '"':
		_, ok := s.str(field, false)
		return ok
	case 't':
		return s.literal(field, "true")
	case 'f':
		return s.literal(field, "false")
	case 'n':
		return s.literal(field, "null")
	default:
		if c == '-' || ('0' <= c && c <= '9') {
			_, ok := s.number(field)
			return ok
		}
		return s.syntax(field)
	}
}

// joinField appends a key to a path; only called on error paths.
func joinField(field, key string) string {
	if field == "" {
		return key
	}
	return field + "." + key
}

// stringField reads a string value.
func (s *scanner) stringField(field string) (string, bool) {
	if s.peek() != '"' {
		return "", s.expected(field, "string")
	}
	return s.str(field, false)
}

// stringList reads an array of strings into dst[:0], reusing its storage.
func (s *scanner) stringList(field string, dst []string) ([]string, bool) {
	if !s.enter(field, '[') {
		return dst, false
	}
	out := dst[:0]
	first := true
	for {
		more, ok := s.next(field, ']', &first)
		if !ok {
			return out, false
		}
		if !more {
			if out == nil {
				out = []string{}
			}
			return out, true
		}
		if s.peek() != '"' {
			return out, s.expected(field+"[]", "string")
		}
		v, ok := s.str(field, false)
		if !ok {
			return out, false
		}
		out = append(out, v)
	}
}
