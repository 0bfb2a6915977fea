package jsonscan

import (
	"strings"
	"testing"
)

func TestShortValue(t *testing.T) {
	for name, c := range map[string]struct{ in, want string }{
		"empty":          {"", `""`},
		"plain":          {"abc", `"abc"`},
		"quotes":         {`a"b\c`, `"a\"b\\c"`},
		"control":        {"a\nb\x00\x7f", `"a\nb\x00\x7f"`},
		"invalid utf8":   {"a\xffb", `"a\xffb"`},
		"unicode":        {"é中", `"é中"`},
		"exactly 32":     {strings.Repeat("a", 32), `"` + strings.Repeat("a", 32) + `"`},
		"33":             {strings.Repeat("a", 33), `"` + strings.Repeat("a", 32) + `"…`},
		"100 KB":         {strings.Repeat("x", 100<<10), `"` + strings.Repeat("x", 32) + `"…`},
		"rune at cut":    {strings.Repeat("a", 31) + "é" + "zz", `"` + strings.Repeat("a", 31) + `"…`},
		"4-byte at cut":  {strings.Repeat("a", 30) + "😀" + "zz", `"` + strings.Repeat("a", 30) + `"…`},
		"invalid at cut": {strings.Repeat("a", 31) + "\xe4\xb8" + "zz", `"` + strings.Repeat("a", 31) + `\xe4"…`},
		"escapes at cut": {strings.Repeat("\x01", 40), `"` + strings.Repeat(`\x01`, 32) + `"…`},
	} {
		t.Run(name, func(t *testing.T) {
			if got := ShortValue(c.in); got != c.want {
				t.Errorf("shortValue: got %s want %s", got, c.want)
			}
		})
	}
}
