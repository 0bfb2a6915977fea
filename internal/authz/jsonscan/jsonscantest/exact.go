// Package jsonscantest holds what tests of the JSON scanner and of its
// users share: the reference for which numbers a float64 holds exactly.
package jsonscantest

import (
	"math/big"
	"strconv"
	"strings"
	"testing"
)

// RefExact is the reference of the scanner's exact-number check, with
// math/big: a JSON number is accepted when float64 parsing keeps it in range
// and the shortest formatting of the float has exactly the rational value
// of the text.
func RefExact(t testing.TB, txt string) bool {
	t.Helper()
	f, err := strconv.ParseFloat(txt, 64)
	if err != nil {
		return false
	}
	mant, exp, _ := strings.Cut(strings.ToLower(txt), "e")
	if len(strings.TrimLeft(exp, "+-0")) > 6 && len(mant) < 100000 {
		// |exponent| ≥ 10^6 with a short mantissa (big.Rat would build
		// 10^exponent): the float is ±Inf (rejected above) or 0, exact
		// only when the text is 0 too.
		if f != 0 {
			t.Fatalf("%s parses to %v", txt, f)
		}
		return !strings.ContainsAny(mant, "123456789")
	}
	in, ok := new(big.Rat).SetString(txt)
	if !ok {
		t.Fatalf("big.Rat rejects %q", txt)
	}
	out, _ := new(big.Rat).SetString(strconv.FormatFloat(f, 'g', -1, 64))
	return in.Cmp(out) == 0
}
