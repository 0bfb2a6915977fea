package audit_test

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/audit"
)

// FuzzRead: a trail file is input from anywhere (a sink receiver, a copy,
// a hand edit). Reading it never panics; an error never echoes more than a
// short prefix of a line; every record it returns encodes again, and
// reading that encoding gives the same record.
func FuzzRead(f *testing.F) {
	for _, seed := range []string{
		`{"type":"gatehouse.audit","time":"2026-12-01T00:00:00Z","tenant":"acme","event":"compiled","toRevision":"ab"}`,
		`[{"specversion":"1.0","id":"x","source":"/g","type":"dev.gatehouse.audit.admission","time":"2026-12-01T00:00:00Z","datacontenttype":"application/json","data":{"type":"gatehouse.audit","time":"2026-12-01T00:00:00Z","tenant":"a","event":"admission"}}]`,
		"plain log line\n{\"level\":\"info\"}\n",
		`{"type":"gatehouse.audit","event":`,
		"[",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		recs, err := audit.Read(bytes.NewReader(data), "trail")
		if err != nil {
			// 40 bytes of input, quoted and escaped, plus the message.
			if len(err.Error()) > 400 {
				t.Fatalf("error of %d bytes: %.100s…", len(err.Error()), err)
			}
			return
		}
		for i := range recs {
			line, err := audit.Encode(&recs[i])
			if err != nil {
				t.Fatalf("record %d does not encode: %v", i, err)
			}
			again, err := audit.Read(bytes.NewReader(line), "again")
			if err != nil || len(again) != 1 {
				t.Fatalf("record %d does not read back (%v): %s", i, err, line)
			}
			a, _ := json.Marshal(again[0])
			if string(a) != string(line) {
				t.Fatalf("record %d changed on a round trip:\n%s\n%s", i, line, a)
			}
		}
	})
}
