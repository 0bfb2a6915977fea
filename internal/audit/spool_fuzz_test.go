package audit

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// FuzzSpoolOpen: a spool directory may hold anything after a crash, a full
// disk or a hand edit. Opening it never panics; an error stays short; the
// records it replays are CloudEvents in journal order, and a record
// appended after them replays after them on the next open.
func FuzzSpoolOpen(f *testing.F) {
	ev := `{"specversion":"1.0","id":"a1","source":"/g","type":"dev.gatehouse.audit.compiled","data":{"tenant":"acme"}}`
	for _, seed := range []struct{ segment, settled string }{
		{ev + "\n" + ev + "\n", ""},
		{ev + "\n" + ev + "\n", "1 1\n"},
		{ev + "\n" + `{"specversion":"1.0","id":"to`, "0 0\n"},
		{"\n\n" + ev + "\n", "1 9\n"},
		{"not json\n", ""},
		{ev + "\n", "x y"},
		{"", "18446744073709551615 -1\n"},
		{ev + "\n", "18446744073709551615 0\n"},
		{ev + "\n", "4611686018427387904 3\n"},
	} {
		f.Add([]byte(seed.segment), []byte(seed.settled))
	}
	f.Fuzz(func(t *testing.T, segment, settled []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, segmentName(1)), segment, 0o600); err != nil {
			t.Fatal(err)
		}
		if len(settled) > 0 {
			if err := os.WriteFile(filepath.Join(dir, spoolSettledFile), settled, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		sp, replay, err := openSpool(dir)
		if err != nil {
			if len(err.Error()) > 400 {
				t.Fatalf("error of %d bytes: %.100s…", len(err.Error()), err)
			}
			return
		}
		var last spoolPos
		for i, r := range replay {
			if !json.Valid(r.event) || r.id == "" {
				t.Fatalf("replayed record %d is not a CloudEvent with an id: %q", i, r.event)
			}
			if i > 0 && !last.before(r.pos) {
				t.Fatalf("replayed record %d at %v, not after %v", i, r.pos, last)
			}
			last = r.pos
		}
		pos, err := sp.append([]byte(`{"specversion":"1.0","id":"appended","data":{}}`))
		if err != nil {
			t.Fatal(err)
		}
		if len(replay) > 0 && !last.before(pos) {
			t.Fatalf("appended at %v, not after the replayed %v", pos, last)
		}
		if err := sp.close(); err != nil {
			t.Fatal(err)
		}
		sp2, replay2, err := openSpool(dir)
		if err != nil {
			t.Fatalf("reopening after an append: %v", err)
		}
		defer func() { _ = sp2.close() }()
		if len(replay2) != len(replay)+1 || replay2[len(replay2)-1].id != "appended" {
			t.Fatalf("reopened: %d records, want the %d replayed and the appended one", len(replay2), len(replay))
		}
	})
}
