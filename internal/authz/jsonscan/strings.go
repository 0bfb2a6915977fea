package jsonscan

import (
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"
)

// view returns b as a string without copying. The string aliases the
// request buffer and is only valid until the buffer returns to its pool,
// i.e. for the duration of one request.
func view(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// str reads a JSON string (the Scanner is at its opening quote). With
// owned=false, a string without escapes or non-ASCII bytes aliases the
// buffer (see view); otherwise it is allocated.
func (s *Scanner) str(field string, owned bool) (string, bool) {
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
			return "", s.Fail(field, "invalid control character in string")
		}
	}
	s.i = len(b)
	return "", s.syntax(field)
}

// slowStr decodes a string with escapes or non-ASCII bytes into a new
// string, with encoding/json's replacement rules.
func (s *Scanner) slowStr(field string, start int) (string, bool) {
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
			return "", s.Fail(field, "invalid control character in string")
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
					return "", s.Fail(field, "invalid \\u escape in string")
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
				return "", s.Fail(field, "invalid escape in string")
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

// StringField reads a string value.
func (s *Scanner) StringField(field string) (string, bool) {
	if s.Peek() != '"' {
		return "", s.Expected(field, "string")
	}
	return s.str(field, false)
}

// StringList reads an array of at most MaxList strings into dst[:0],
// reusing its storage.
func (s *Scanner) StringList(field string, dst []string) ([]string, bool) {
	out := dst[:0]
	for i, more := 0, s.FirstItem(field); more; i, more = i+1, s.NextItem(field) {
		if i >= s.MaxList {
			return out, s.TooMany(field)
		}
		s.PushIndex(i)
		v, ok := s.StringField(field)
		if !ok {
			return out, false
		}
		s.Pop()
		out = append(out, v)
	}
	if s.err != nil {
		return out, false
	}
	if out == nil {
		out = []string{}
	}
	return out, true
}

// CopiedString reads a string value into a string of its own (not
// aliasing the document), for values kept beyond the request.
func (s *Scanner) CopiedString(field string) (string, bool) {
	if s.Peek() != '"' {
		return "", s.Expected(field, "string")
	}
	return s.str(field, true)
}
