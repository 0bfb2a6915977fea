package snapshot

import (
	"errors"
	"strconv"
	"unicode/utf8"
)

// MaxUnitLen bounds a unit path, in bytes.
const MaxUnitLen = 1024

// Why a unit path is not canonical. The errors are fixed values, so
// ValidUnit never allocates, not even to reject.
var (
	errUnitEmpty    = errors.New("not a canonical unit path (empty)")
	errUnitRelative = errors.New(`not a canonical unit path (does not start with "/")`)
	errUnitTooLong  = errors.New("not a canonical unit path (longer than " + strconv.Itoa(MaxUnitLen) + " bytes)")
	errUnitControl  = errors.New("not a canonical unit path (a NUL or control character)")
	errUnitUTF8     = errors.New("not a canonical unit path (not valid UTF-8)")
	errUnitEmptySeg = errors.New(`not a canonical unit path (an empty segment, "//")`)
	errUnitTrailing = errors.New(`not a canonical unit path (a trailing "/")`)
	errUnitDot      = errors.New(`not a canonical unit path (a "." segment)`)
	errUnitDotDot   = errors.New(`not a canonical unit path (a ".." segment)`)
)

// ValidUnit says why u is not a canonical unit path, or returns nil. A
// canonical unit is "/" (the root, above every unit) or "/" followed by
// non-empty segments separated by single "/": no trailing "/", no "." or
// ".." segment, no NUL or other control character (below 0x20, or 0x7f),
// valid UTF-8, at most MaxUnitLen bytes.
//
// Units are compared as written (unitTree is a prefix match on a segment
// boundary), so only canonical units may reach a comparison: one path, one
// spelling. It is the one rule for units in policy (the compiler and the
// admission webhook, through CheckUserGroup) and in requests (the decoder).
// It does not allocate.
func ValidUnit(u string) error {
	switch {
	case u == "":
		return errUnitEmpty
	case len(u) > MaxUnitLen:
		return errUnitTooLong
	case u[0] != '/':
		return errUnitRelative
	case u == "/":
		return nil
	}
	ascii := true
	for i := 0; i < len(u); i++ {
		c := u[i]
		if c < 0x20 || c == 0x7f {
			return errUnitControl
		}
		if c >= utf8.RuneSelf {
			ascii = false
		}
	}
	if !ascii && !utf8.ValidString(u) {
		return errUnitUTF8
	}
	start := 1 // of the current segment
	for i := 1; i <= len(u); i++ {
		if i < len(u) && u[i] != '/' {
			continue
		}
		switch seg := u[start:i]; {
		case seg == "" && i == len(u):
			return errUnitTrailing
		case seg == "":
			return errUnitEmptySeg
		case seg == ".":
			return errUnitDot
		case seg == "..":
			return errUnitDotDot
		}
		start = i + 1
	}
	return nil
}
