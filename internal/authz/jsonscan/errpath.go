package jsonscan

import (
	"strconv"
	"unicode/utf8"
)

// shortValueMax is how many bytes of a request value an error repeats.
const shortValueMax = 32

// ShortValue renders an untrusted value for an error message: at most
// shortValueMax bytes of s (cut at a rune boundary), quoted and escaped as
// strconv.Quote does (control characters, quotes, backslashes and invalid
// UTF-8 become escapes), followed by "…" when s was cut.
func ShortValue(s string) string {
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
// spaces, quotes, control bytes, or long) are rendered by ShortValue in
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

// AppendPathKey appends key k to path b: .k for a plain key (k alone at
// the start), ["k"] or ["k…"]… otherwise.
func AppendPathKey(b []byte, k string) []byte {
	if plainKey(k) {
		if len(b) > 0 {
			b = append(b, '.')
		}
		return append(b, k...)
	}
	b = append(b, '[')
	b = append(b, ShortValue(k)...)
	return append(b, ']')
}

// JoinField appends a constant name to a constant path (request keys go
// through failKey or AppendPathKey instead).
func JoinField(field, key string) string {
	if field == "" {
		return key
	}
	return field + "." + key
}
