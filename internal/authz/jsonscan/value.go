package jsonscan

import "strings"

// Literal consumes true, false or null.
func (s *Scanner) Literal(field string, lit string) bool {
	if len(s.b)-s.i < len(lit) || string(s.b[s.i:s.i+len(lit)]) != lit {
		return s.syntax(field)
	}
	s.i += len(lit)
	return true
}

// Value decodes any JSON value into the types encoding/json uses for
// interface{} (map[string]any, []any, string, float64, bool, nil). Strings
// are copied: generic values end up in CEL activations and response maps
// whose lifetime the handler does not control. field is the path of the
// Value; the keys and indexes below it go on the path stack. An array or
// Object may hold at most maxList items.
func (s *Scanner) Value(field string) (any, bool) {
	switch c := s.Peek(); c {
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
			if len(m) >= s.MaxList {
				return nil, s.TooMany(field)
			}
			k, ok := s.key(field)
			if !ok {
				return nil, false
			}
			if _, dup := m[k]; dup {
				return nil, s.FailKey(field, k, "duplicate key")
			}
			s.PushKey(k)
			v, ok := s.Value(field)
			if !ok {
				return nil, false
			}
			s.Pop()
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
			if len(a) >= s.MaxList {
				return nil, s.TooMany(field)
			}
			s.PushIndex(len(a))
			v, ok := s.Value(field)
			if !ok {
				return nil, false
			}
			s.Pop()
			a = append(a, v)
		}
	case '"':
		return s.str(field, true)
	case 't':
		return true, s.Literal(field, "true")
	case 'f':
		return false, s.Literal(field, "false")
	case 'n':
		return nil, s.Literal(field, "null")
	default:
		if c == '-' || ('0' <= c && c <= '9') {
			return s.float(field)
		}
		return nil, s.syntax(field)
	}
}

// Skip validates and discards one value without allocating.
func (s *Scanner) Skip(field string) bool {
	switch c := s.Peek(); c {
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
			if !s.Skip(field) {
				return false
			}
		}
	case '"':
		_, ok := s.str(field, false)
		return ok
	case 't':
		return s.Literal(field, "true")
	case 'f':
		return s.Literal(field, "false")
	case 'n':
		return s.Literal(field, "null")
	default:
		if c == '-' || ('0' <= c && c <= '9') {
			_, ok := s.number(field)
			return ok
		}
		return s.syntax(field)
	}
}
