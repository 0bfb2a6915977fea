package authz

import (
	"encoding/json"
	"testing"
)

// FuzzAppendString checks the encoder against encoding/json: the output is
// valid JSON that decodes to what encoding/json's output decodes to.
func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "a", "\"\\/", "\x00\x1f\u2028\u2029", "\xff\xfe", "é中😀", "<>&"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := appendString(nil, s)
		var got, want string
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatalf("invalid JSON %q for %q", out, s)
		}
		ref, _ := json.Marshal(s)
		if err := json.Unmarshal(ref, &want); err != nil {
			t.Fatalf("%q: %v", s, err)
		}
		if got != want {
			t.Fatalf("%q: got %q want %q", s, got, want)
		}
	})
}
