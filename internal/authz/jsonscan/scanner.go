// Package jsonscan is the small JSON scanner of the authorization
// endpoint's decoders, written for the evaluation hot path:
// encoding/json reflects, builds maps for every object and copies every
// string, which costs more than the policy check itself. It reads
// the request body in place and hands out strings that alias the body
// buffer (see view); only strings with escapes or non-ASCII bytes, and
// generic values (properties and context the application adds for CEL),
// are allocated.
//
// Semantics follow RFC 8259 and encoding/json where they meet: invalid
// UTF-8 in strings becomes U+FFFD, lone surrogates in \u escapes become
// U+FFFD, numbers are float64. Unlike encoding/json, object keys are
// case-sensitive and a key repeated in one object is an error: parsers
// that disagree on duplicates let a caller show one value to a gateway and
// another to the PDP. For the same reason a number must fit a float64
// without changing its decimal value (see exactFloat): 5000.0000000000001
// would be 5000 to CEL. Lists and generic objects are bounded (MaxList),
// because CEL's cost grows faster than their length.
package jsonscan

import (
	"strconv"
)

// DefaultMaxList is the default Scanner.MaxList.
const DefaultMaxList = 1000

// DecodeError is a request the decoder rejected. Field names the offending
// JSON path (e.g. subject.id, context.a[2].b) so the caller can fix the
// request. Neither Field nor Msg ever repeats more than a short, escaped
// prefix of a request value (see ShortValue and AppendPathKey).
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

// Scanner walks one JSON document held in b. The first error stops it: every
// method returns false once err is set, so callers can chain calls and check
// once.
//
// The JSON path of an error is built only when the error occurs, from three
// parts: the item prefix (ItemField[Item], e.g. evaluations[3]), the
// constant field the failing call names (e.g. resource.properties), and
// the path stack below it (keys and indexes of the generic value being
// decoded, e.g. .amount or .a[2].b). The stack holds string headers that
// alias the request (no copy) and keeps its storage across requests, so
// the success path builds no strings.
type Scanner struct {
	b        []byte
	i        int
	depth    int
	maxDepth int
	// MaxList bounds the items of a list and the keys of a generic object
	// (see StringList and Value).
	MaxList int
	err     *DecodeError
	// Item is the index of the array element being decoded (-1 when none),
	// prepended to field names in errors as ItemField[Item].
	Item int
	// ItemField is the array name Item indexes ("evaluations" or
	// "context.candidates").
	ItemField string
	// path is the stack of keys and indexes below the field passed to the
	// failing call (see pathElem).
	path []pathElem
}

// pathElem is one step of the path stack: an object key (idx < 0) or an
// Array index.
type pathElem struct {
	key string
	idx int
}

// maxPathElems bounds how many steps of the path stack an error names; a
// deeper path keeps its first and last maxPathElems/2 steps around "…".
const maxPathElems = 8

// Reset starts a document with the nesting bound maxDepth. The list
// bound is DefaultMaxList; a decoder may set MaxList after Reset.
func (s *Scanner) Reset(b []byte, maxDepth int) {
	clear(s.path[:cap(s.path)]) // drop references to the previous body
	*s = Scanner{b: b, maxDepth: maxDepth, MaxList: DefaultMaxList, Item: -1, path: s.path[:0]}
}

// PushKey pushes key k on the path stack that errors name below their
// field: before decoding its value, popped (Pop) once that succeeded.
func (s *Scanner) PushKey(k string) { s.path = append(s.path, pathElem{key: k, idx: -1}) }

// PushIndex pushes array index i on the path stack (see PushKey).
func (s *Scanner) PushIndex(i int) { s.path = append(s.path, pathElem{idx: i}) }

// Pop removes the last key or index of the path stack.
func (s *Scanner) Pop() { s.path = s.path[:len(s.path)-1] }

// Err is the first error, nil while there is none.
func (s *Scanner) Err() *DecodeError { return s.err }

// Fail records the first error. field is a constant path; the item prefix
// and the path stack are added here, on the error path only.
func (s *Scanner) Fail(field, msg string) bool {
	if s.err == nil {
		s.err = &DecodeError{Field: s.render(field), Msg: msg}
	}
	return false
}

// FailKey records an error at key k of the object at field (unknown or
// duplicate keys, a wrong value type).
func (s *Scanner) FailKey(field, k, msg string) bool {
	s.PushKey(k)
	return s.Fail(field, msg)
}

// TooMany reports a list or object at field with more than maxList items.
func (s *Scanner) TooMany(field string) bool {
	return s.Fail(field, "more than "+strconv.Itoa(s.MaxList)+" items")
}

// render builds the JSON path of an error: item prefix, field, path stack.
func (s *Scanner) render(field string) string {
	var b []byte
	if s.Item >= 0 {
		b = append(b, s.ItemField...)
		b = append(b, '[')
		b = strconv.AppendInt(b, int64(s.Item), 10)
		b = append(b, ']')
	}
	if field != "" {
		if len(b) > 0 && field[0] != '[' {
			b = append(b, '.')
		}
		b = append(b, field...)
	}
	p := s.path
	for i := 0; i < len(p); i++ {
		if len(p) > maxPathElems && i == maxPathElems/2 {
			b = append(b, "…"...)
			i = len(p) - maxPathElems/2
		}
		if p[i].idx >= 0 {
			b = append(b, '[')
			b = strconv.AppendInt(b, int64(p[i].idx), 10)
			b = append(b, ']')
		} else {
			b = AppendPathKey(b, p[i].key)
		}
	}
	return string(b)
}

func (s *Scanner) syntax(field string) bool {
	if s.i >= len(s.b) {
		return s.Fail(field, "unexpected end of JSON input")
	}
	return s.Fail(field, "invalid JSON at offset "+strconv.Itoa(s.i))
}

func (s *Scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// Peek returns the next non-space byte without consuming it (0 at the end).
func (s *Scanner) Peek() byte {
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

// Expected fails at field with "expected what, got <the next value's
// type>", or as a syntax error when no value starts there.
func (s *Scanner) Expected(field, what string) bool {
	c := s.Peek()
	if kindName(c) == "invalid JSON" {
		return s.syntax(field)
	}
	return s.Fail(field, "expected "+what+", got "+kindName(c))
}

// enter consumes '{' or '[' and counts depth.
func (s *Scanner) enter(field string, open byte) bool {
	if s.Peek() != open {
		if open == '{' {
			return s.Expected(field, "object")
		}
		return s.Expected(field, "array")
	}
	s.depth++
	if s.depth > s.maxDepth {
		return s.Fail(field, "nesting deeper than "+strconv.Itoa(s.maxDepth))
	}
	s.i++
	return true
}

// next advances inside an object or array opened with enter: it consumes
// a separating ',' or the closing byte. It returns more=false at the end of
// the container. first must be true before the first element.
func (s *Scanner) next(field string, close byte, first *bool) (more bool, ok bool) {
	c := s.Peek()
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
	if s.Peek() == close {
		return false, s.syntax(field) // trailing comma
	}
	return true, true
}

// FirstKey and NextKey are the one loop of every object decoder:
//
//	for k, more := s.FirstKey(field); more; k, more = s.NextKey(field) {
//		// decode the value of k
//	}
//	return s.Err() == nil
//
// FirstKey enters the object at field and reads its first key, NextKey the
// next one (after the previous value was consumed); the Scanner is then at
// the key's value. more is false at the end of the object or on an error
// (Err tells which). A plain loop, not a callback: no indirect call per
// member on the hot path.
func (s *Scanner) FirstKey(field string) (k string, more bool) {
	if !s.enter(field, '{') {
		return "", false
	}
	return s.member(field, true)
}

// FirstKeyOrNull is FirstKey for an object that may be null (absent):
// a null is consumed and more is false.
func (s *Scanner) FirstKeyOrNull(field string) (k string, more bool) {
	if s.Peek() == 'n' {
		s.Literal(field, "null")
		return "", false
	}
	return s.FirstKey(field)
}

// NextKey reads the key of the next member of the object FirstKey
// entered.
func (s *Scanner) NextKey(field string) (k string, more bool) {
	return s.member(field, false)
}

// member is next followed by key, in one call: it runs for every key of
// every request.
func (s *Scanner) member(field string, first bool) (string, bool) {
	c := s.Peek()
	if c == '}' {
		s.i++
		s.depth--
		return "", false
	}
	if !first {
		if c != ',' {
			return "", s.syntax(field)
		}
		s.i++
		if s.Peek() == '}' {
			return "", s.syntax(field) // trailing comma
		}
	}
	return s.key(field)
}

// FirstItem and NextItem walk an array as FirstKey and NextKey walk an
// object: more says the Scanner is at an item.
//
//	for i, more := 0, s.FirstItem(field); more; i, more = i+1, s.NextItem(field) {
//		// decode item i
//	}
//	return s.Err() == nil
func (s *Scanner) FirstItem(field string) (more bool) {
	if !s.enter(field, '[') {
		return false
	}
	first := true
	more, _ = s.next(field, ']', &first)
	return more
}

// NextItem moves to the next item of the array FirstItem entered.
func (s *Scanner) NextItem(field string) (more bool) {
	first := false
	more, _ = s.next(field, ']', &first)
	return more
}

// key reads an object key and the ':' after it.
func (s *Scanner) key(field string) (string, bool) {
	if s.Peek() != '"' {
		return "", s.syntax(field)
	}
	k, ok := s.str(field, false)
	if !ok {
		return "", false
	}
	if s.Peek() != ':' {
		return "", s.syntax(field)
	}
	s.i++
	return k, true
}

// End checks that nothing but whitespace follows the document.
func (s *Scanner) End() bool {
	if s.err != nil {
		return false
	}
	s.ws()
	if s.i != len(s.b) {
		return s.Fail("", "invalid JSON: data after the top-level value at offset "+strconv.Itoa(s.i))
	}
	return true
}
