package authz

import (
	"math"
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
// U+FFFD, numbers are float64. Unlike encoding/json, object keys are
// case-sensitive and a key repeated in one object is an error: parsers
// that disagree on duplicates let a caller show one value to a gateway and
// another to the PDP. For the same reason a number must fit a float64
// without changing its decimal value (see exactFloat): 5000.0000000000001
// would be 5000 to CEL. Lists and generic objects are bounded (maxList),
// because CEL's cost grows faster than their length.

// DecodeError is a request the decoder rejected. Field names the offending
// JSON path (e.g. subject.id, context.a[2].b) so the caller can fix the
// request. Neither Field nor Msg ever repeats more than a short, escaped
// prefix of a request value (see shortValue and appendPathKey).
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
//
// The JSON path of an error is built only when the error occurs, from three
// parts: the item prefix (itemField[item], e.g. evaluations[3]), the
// constant field the failing call names (e.g. resource.properties), and
// the path stack below it (keys and indexes of the generic value being
// decoded, e.g. .amount or .a[2].b). The stack holds string headers that
// alias the request (no copy) and keeps its storage across requests, so
// the success path builds no strings.
type scanner struct {
	b        []byte
	i        int
	depth    int
	maxDepth int
	// maxList bounds the items of a list and the keys of a generic object
	// (see stringList and value).
	maxList int
	err     *DecodeError
	// item is the index of the array element being decoded (-1 when none),
	// prepended to field names in errors as itemField[item].
	item int
	// itemField is the array name item indexes ("evaluations" or
	// "context.candidates").
	itemField string
	// path is the stack of keys and indexes below the field passed to the
	// failing call (see pathElem).
	path []pathElem
}

// pathElem is one step of the path stack: an object key (idx < 0) or an
// array index.
type pathElem struct {
	key string
	idx int
}

// maxPathElems bounds how many steps of the path stack an error names; a
// deeper path keeps its first and last maxPathElems/2 steps around "…".
const maxPathElems = 8

// reset starts a document. The list bound is DefaultMaxListItems; the
// AuthZEN decoder sets its own after reset.
func (s *scanner) reset(b []byte, maxDepth int) {
	clear(s.path[:cap(s.path)]) // drop references to the previous body
	*s = scanner{b: b, maxDepth: maxDepth, maxList: DefaultMaxListItems, item: -1, path: s.path[:0]}
}

func (s *scanner) pushKey(k string) { s.path = append(s.path, pathElem{key: k, idx: -1}) }
func (s *scanner) pushIndex(i int)  { s.path = append(s.path, pathElem{idx: i}) }
func (s *scanner) pop()             { s.path = s.path[:len(s.path)-1] }

// fail records the first error. field is a constant path; the item prefix
// and the path stack are added here, on the error path only.
func (s *scanner) fail(field, msg string) bool {
	if s.err == nil {
		s.err = &DecodeError{Field: s.render(field), Msg: msg}
	}
	return false
}

// failKey records an error at key k of the object at field (unknown or
// duplicate keys, a wrong value type).
func (s *scanner) failKey(field, k, msg string) bool {
	s.pushKey(k)
	return s.fail(field, msg)
}

// tooMany reports a list or object at field with more than maxList items.
func (s *scanner) tooMany(field string) bool {
	return s.fail(field, "more than "+itoa(s.maxList)+" items")
}

// render builds the JSON path of an error: item prefix, field, path stack.
func (s *scanner) render(field string) string {
	var b []byte
	if s.item >= 0 {
		b = append(b, s.itemField...)
		b = append(b, '[')
		b = strconv.AppendInt(b, int64(s.item), 10)
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
			b = appendPathKey(b, p[i].key)
		}
	}
	return string(b)
}

// shortValueMax is how many bytes of a request value an error repeats.
const shortValueMax = 32

// shortValue renders an untrusted value for an error message: at most
// shortValueMax bytes of s (cut at a rune boundary), quoted and escaped as
// strconv.Quote does (control characters, quotes, backslashes and invalid
// UTF-8 become escapes), followed by "…" when s was cut.
func shortValue(s string) string {
	if len(s) <= shortValueMax {
		return strconv.Quote(s)
	}
	return strconv.Quote(s[:cutPoint(s, shortValueMax)]) + "…"
}

// cutPoint returns n, or less so as not to split a valid UTF-8 sequence
// that straddles byte n (len(s) > n).
func cutPoint(s string, n int) int {
	if utf8.RuneStart(s[n]) {
		return n
	}
	for i := n - 1; i >= 0 && i > n-utf8.UTFMax; i-- {
		if utf8.RuneStart(s[i]) {
			if r, size := utf8.DecodeRuneInString(s[i:]); (r != utf8.RuneError || size > 1) && i+size > n {
				return i
			}
			break
		}
	}
	return n
}

// plainKey says whether a key may appear bare in a path: 1 to
// shortValueMax letters, digits, '_' or '-'. Other keys (with dots,
// spaces, quotes, control bytes, or long) are rendered by shortValue in
// brackets, so that a path stays unambiguous and short.
func plainKey(k string) bool {
	if k == "" || len(k) > shortValueMax {
		return false
	}
	for i := 0; i < len(k); i++ {
		switch c := k[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}

// appendPathKey appends key k to path b: .k for a plain key (k alone at
// the start), ["k"] or ["k…"]… otherwise.
func appendPathKey(b []byte, k string) []byte {
	if plainKey(k) {
		if len(b) > 0 {
			b = append(b, '.')
		}
		return append(b, k...)
	}
	b = append(b, '[')
	b = append(b, shortValue(k)...)
	return append(b, ']')
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

// object walks the object at field: member is called with each key, the
// scanner at its value, and must consume the value. It is the one loop of
// every object decoder; member does not escape, so a closure costs no
// allocation.
func (s *scanner) object(field string, member func(k string) bool) bool {
	if !s.enter(field, '{') {
		return false
	}
	first := true
	for {
		more, ok := s.next(field, '}', &first)
		if !ok {
			return false
		}
		if !more {
			return true
		}
		k, ok := s.key(field)
		if !ok || !member(k) {
			return false
		}
	}
}

// array walks the array at field: item is called with each index, the
// scanner at the item, and must consume it.
func (s *scanner) array(field string, item func(i int) bool) bool {
	if !s.enter(field, '[') {
		return false
	}
	first := true
	for i := 0; ; i++ {
		more, ok := s.next(field, ']', &first)
		if !ok {
			return false
		}
		if !more {
			return true
		}
		if !item(i) {
			return false
		}
	}
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
// values. A number out of float64's range is an error, and so is one whose
// decimal value the float64 does not keep (see exactFloat): CEL would
// compare 5000.0000000000001 equal to 5000.
func (s *scanner) float(field string) (float64, bool) {
	txt, ok := s.number(field)
	if !ok {
		return 0, false
	}
	f, err := strconv.ParseFloat(view(txt), 64)
	if err != nil {
		return 0, s.fail(field, "number "+shortNumber(txt)+" out of range")
	}
	if !exactFloat(txt, f) {
		return 0, s.fail(field, "number has more precision than a 64-bit float can hold; send it as a string")
	}
	return f, true
}

// shortNumber renders a JSON number for an error message: its first
// shortValueMax bytes, with "…" when cut (number text needs no escaping).
func shortNumber(txt []byte) string {
	if len(txt) <= shortValueMax {
		return string(txt)
	}
	return string(txt[:shortValueMax]) + "…"
}

// exactFloat reports whether f, parsed from the JSON number txt, stands for
// the same decimal value as txt: the shortest decimal that round-trips to f
// (strconv's 'g', -1 formatting) has the value of txt. 0.1 or 1e23 are
// exact in this sense; 5000.0000000000001 (which is 5000), 2^53+1 and
// 1e-400 (which underflows to 0) are not. Zero (and -0) is exact.
func exactFloat(txt []byte, f float64) bool {
	// A decimal of at most 15 significant digits (DBL_DIG) survives the
	// round trip through a normal float64, so the shortest formatting is
	// that decimal; subnormals have fewer digits of precision. The first
	// test counts all mantissa digits, which is cheaper than finding the
	// significant ones and settles the numbers requests carry.
	normal := math.Abs(f) >= 0x1p-1022
	if normal {
		digits := 0
		for _, c := range txt {
			if c == 'e' || c == 'E' {
				break
			}
			if c != '.' && c != '-' {
				digits++
			}
		}
		if digits <= 15 {
			return true
		}
	}
	d := parseDecimal(txt)
	if d.zero() {
		return true
	}
	if f == 0 {
		return false // underflow
	}
	if d.sig <= 15 && normal {
		return true
	}
	var buf [32]byte
	return d.equal(parseDecimal(strconv.AppendFloat(buf[:0], f, 'g', -1, 64)))
}

// decimal is the value of a JSON number as sign × 0.D × 10^exp, where D
// are the significant digits: mant[first:last+1] without its '.', if any.
type decimal struct {
	mant        []byte // the number without sign and exponent
	first, last int    // indexes in mant of the first and last nonzero digit; first < 0 for zero
	sig         int    // number of significant digits
	exp         int64
	neg         bool
}

func (d *decimal) zero() bool { return d.first < 0 }

// parseDecimal reads syntactically valid JSON number text (which also
// covers strconv's 'g' output, e.g. 1e+21). Exponents saturate at ±1e15:
// a body cannot hold enough digits to bring such a number back into
// float64 range, so it is never compared.
func parseDecimal(txt []byte) decimal {
	d := decimal{first: -1}
	i := 0
	if i < len(txt) && txt[i] == '-' {
		d.neg = true
		i++
	}
	j := i
	for j < len(txt) && txt[j] != 'e' && txt[j] != 'E' {
		j++
	}
	d.mant = txt[i:j]
	var e int64
	if j < len(txt) {
		k := j + 1
		eneg := false
		if k < len(txt) && (txt[k] == '+' || txt[k] == '-') {
			eneg = txt[k] == '-'
			k++
		}
		for ; k < len(txt); k++ {
			if e < 1e15 {
				e = e*10 + int64(txt[k]-'0')
			}
		}
		if eneg {
			e = -e
		}
	}
	point := len(d.mant) // digits before the point
	for k, c := range d.mant {
		switch {
		case c == '.':
			point = k
		case c != '0':
			if d.first < 0 {
				d.first = k
			}
			d.last = k
		}
	}
	if d.first < 0 {
		return d
	}
	d.sig = d.last - d.first + 1
	if d.first < point && point < d.last {
		d.sig-- // the point is not a digit
	}
	if d.first < point {
		d.exp = int64(point-d.first) + e // D.DD: digits before the point
	} else {
		d.exp = -int64(d.first-point-1) + e // 0.00D: zeros after the point
	}
	return d
}

// equal compares the values of two nonzero decimals.
func (d *decimal) equal(o decimal) bool {
	if o.zero() || d.neg != o.neg || d.exp != o.exp || d.sig != o.sig {
		return false
	}
	i, j := d.first, o.first
	for n := 0; n < d.sig; n++ {
		if d.mant[i] == '.' {
			i++
		}
		if o.mant[j] == '.' {
			j++
		}
		if d.mant[i] != o.mant[j] {
			return false
		}
		i++
		j++
	}
	return true
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
// whose lifetime the handler does not control. field is the path of the
// value; the keys and indexes below it go on the path stack. An array or
// object may hold at most maxList items.
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
			if len(m) >= s.maxList {
				return nil, s.tooMany(field)
			}
			k, ok := s.key(field)
			if !ok {
				return nil, false
			}
			if _, dup := m[k]; dup {
				return nil, s.failKey(field, k, "duplicate key")
			}
			s.pushKey(k)
			v, ok := s.value(field)
			if !ok {
				return nil, false
			}
			s.pop()
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
			if len(a) >= s.maxList {
				return nil, s.tooMany(field)
			}
			s.pushIndex(len(a))
			v, ok := s.value(field)
			if !ok {
				return nil, false
			}
			s.pop()
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

// joinField appends a constant name to a constant path (request keys go
// through failKey or appendPathKey instead).
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

// stringList reads an array of at most maxList strings into dst[:0],
// reusing its storage.
func (s *scanner) stringList(field string, dst []string) ([]string, bool) {
	out := dst[:0]
	ok := s.array(field, func(i int) bool {
		if i >= s.maxList {
			return s.tooMany(field)
		}
		s.pushIndex(i)
		v, ok := s.stringField(field)
		if !ok {
			return false
		}
		s.pop()
		out = append(out, v)
		return true
	})
	if ok && out == nil {
		out = []string{}
	}
	return out, ok
}
