package audit_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/snapshot"
)

func record(tenant string, i int) audit.Record {
	return audit.Record{
		Time:         time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		Tenant:       tenant,
		Event:        audit.EventCompiled,
		FromRevision: rev(i),
		ToRevision:   rev(i + 1),
		Objects:      []audit.Object{{Kind: "Role", Name: "technician", Change: audit.ChangeUpdated, Generation: int64(i + 1), Served: true}},
		Diff: &snapshot.Changes{FromRevision: rev(i), ToRevision: rev(i + 1),
			Permissions: []snapshot.PermissionChange{{Change: snapshot.Gained, Kind: "permission",
				Resource: "workorders", Action: "delete", Scope: "unitTree",
				Subjects: []string{"tina.tech", "tom.tech"}, Groups: []string{"calgary-crew"}}},
			Fields: []snapshot.FieldChange{}, Approvals: []snapshot.ApprovalChange{}},
	}
}

func rev(i int) string { return strings.Repeat(string(rune('a'+i%26)), 16) }

func decodeLines(t *testing.T, data []byte) []audit.Record {
	t.Helper()
	var out []audit.Record
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		var r audit.Record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("line %d is not a JSON record: %v: %s", len(out)+1, err, sc.Text())
		}
		out = append(out, r)
	}
	return out
}

func TestWriteIsOneJSONLinePerRecord(t *testing.T) {
	var buf bytes.Buffer
	s := audit.NewLines(&buf)
	for i := range 3 {
		if err := s.Write(context.Background(), ptr(record("acme", i)), false); err != nil {
			t.Fatal(err)
		}
	}
	if n := strings.Count(buf.String(), "\n"); n != 3 {
		t.Fatalf("want 3 lines, got %d:\n%s", n, buf.String())
	}
	recs := decodeLines(t, buf.Bytes())
	for i, r := range recs {
		if r.Type != audit.RecordType {
			t.Errorf("record %d: type %q, want %q", i, r.Type, audit.RecordType)
		}
		if r.FromRevision != rev(i) || r.ToRevision != rev(i+1) {
			t.Errorf("record %d: revisions %s→%s", i, r.FromRevision, r.ToRevision)
		}
		if r.Diff == nil || len(r.Diff.Permissions) != 1 || r.Diff.Permissions[0].Action != "delete" {
			t.Errorf("record %d: diff did not round-trip: %+v", i, r.Diff)
		}
		if len(r.Objects) != 1 || r.Objects[0].Name != "technician" || !r.Objects[0].Served {
			t.Errorf("record %d: objects did not round-trip: %+v", i, r.Objects)
		}
	}
}

func TestFieldNames(t *testing.T) {
	var buf bytes.Buffer
	if err := audit.NewLines(&buf).Write(context.Background(), ptr(record("acme", 0)), false); err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"type", "time", "tenant", "event", "fromRevision", "toRevision", "objects", "diff"} {
		if _, ok := m[k]; !ok {
			t.Errorf("missing field %q in %s", k, buf.String())
		}
	}
	diff := m["diff"].(map[string]any)
	if _, ok := diff["permissions"]; !ok {
		t.Errorf("diff has no permissions: %v", diff)
	}
}

// A burst of concurrent writers yields every record, each on its own line.
func TestConcurrentWritesLoseNothing(t *testing.T) {
	var buf bytes.Buffer
	s := audit.NewLines(&buf)
	const writers, each = 8, 200
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				if err := s.Write(context.Background(), ptr(record(string(rune('a'+w)), i)), false); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	recs := decodeLines(t, buf.Bytes())
	if len(recs) != writers*each {
		t.Fatalf("want %d records, got %d", writers*each, len(recs))
	}
	// Per tenant the records are in order: revisions chain without gaps.
	last := map[string]string{}
	for _, r := range recs {
		if prev, ok := last[r.Tenant]; ok && prev != r.FromRevision {
			t.Fatalf("tenant %s: record from %s does not follow %s", r.Tenant, r.FromRevision, prev)
		}
		last[r.Tenant] = r.ToRevision
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestWriteErrorsAreReturned(t *testing.T) {
	err := audit.NewLines(failingWriter{}).Write(context.Background(), ptr(record("acme", 0)), false)
	if err == nil || !strings.Contains(err.Error(), "disk full") || !strings.Contains(err.Error(), "acme") {
		t.Fatalf("want an error naming the tenant and the cause, got %v", err)
	}
}

func TestOpenFileAppendsAndCloses(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	for round := range 2 {
		s, err := audit.OpenFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Write(context.Background(), ptr(record("acme", round)), false); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		if err := s.Write(context.Background(), ptr(record("acme", 9)), false); err == nil {
			t.Fatal("write after Close succeeded")
		}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if recs := decodeLines(t, data); len(recs) != 2 || recs[1].FromRevision != rev(1) {
		t.Fatalf("want 2 appended records, got %+v", recs)
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := info.Mode().Perm(); perm != 0o600 {
		t.Errorf("audit file mode %o, want 600", perm)
	}
}

func TestOpenFileDashIsStdout(t *testing.T) {
	for _, p := range []string{"", "-"} {
		s, err := audit.OpenFile(p)
		if err != nil || s == nil {
			t.Fatalf("OpenFile(%q): %v", p, err)
		}
	}
	if _, err := audit.OpenFile(filepath.Join(t.TempDir(), "missing", "dir", "audit.log")); err == nil {
		t.Fatal("OpenFile in a missing directory succeeded")
	}
}

func TestDiscard(t *testing.T) {
	if err := audit.Discard().Write(context.Background(), ptr(record("acme", 0)), false); err != nil {
		t.Fatal(err)
	}
}

func ptr(r audit.Record) *audit.Record { return &r }
