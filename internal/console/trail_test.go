package console

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/audit"
)

// The Changes page reads the trail once per state of its files: a view of
// an unchanged trail reuses the index; a record appended, a file added or
// a file gone is seen at the next view.
func TestChangesTrailReadOncePerState(t *testing.T) {
	dir := t.TempDir()
	change := func(min int, user, role string) []audit.Record {
		at := time.Date(2026, 11, 30, 10, min, 0, 0, time.UTC)
		o := audit.Object{Kind: "Role", Name: role, Change: audit.ChangeUpdated, UID: "u-" + role, Generation: 2, SpecHash: "h-" + role, Served: true}
		return []audit.Record{
			{Type: audit.RecordType, Time: at, Tenant: "acme", Event: audit.EventAdmission, Objects: []audit.Object{o},
				Admission: &audit.Admission{RequestUID: "r-" + role, Operation: "UPDATE", User: audit.User{Name: user}, Verdict: audit.VerdictAdmitted}},
			{Type: audit.RecordType, Time: at.Add(time.Second), Tenant: "acme", Event: audit.EventCompiled, ToRevision: "rev-" + role, Objects: []audit.Object{o}},
		}
	}
	appendTo := func(name string, records []audit.Record) {
		src, err := os.ReadFile(writeTrail(t, records...))
		if err != nil {
			t.Fatal(err)
		}
		f, err := os.OpenFile(filepath.Join(dir, name), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		_, werr := f.Write(src)
		if err := errors.Join(werr, f.Close()); err != nil {
			t.Fatal(err)
		}
	}
	appendTo("a.jsonl", change(1, "alice", "technician"))
	s := newTrailServer(t, dir)

	steps := []struct {
		name     string
		do       func()
		code     int
		contains []string
		reread   bool
	}{
		{name: "first view reads the trail", code: 200, contains: []string{"alice"}, reread: true},
		{name: "an unchanged trail is not read again", code: 200, contains: []string{"alice"}},
		{name: "a record appended", do: func() { appendTo("a.jsonl", change(2, "bob", "dispatcher")) }, code: 200, contains: []string{"alice", "bob"}, reread: true},
		{name: "still unchanged", code: 200, contains: []string{"bob"}},
		{name: "a file added to the directory", do: func() { appendTo("b.jsonl", change(3, "carol", "auditor")) }, code: 200, contains: []string{"alice", "bob", "carol"}, reread: true},
		{name: "a file removed", do: func() { must(t, os.Remove(filepath.Join(dir, "b.jsonl"))) }, code: 200, contains: []string{"bob"}, reread: true},
		{name: "the directory gone is an error, not the old timeline", do: func() { must(t, os.RemoveAll(dir)) }, code: 500, contains: []string{"no such file"}},
	}
	var last *audit.Index
	for _, st := range steps {
		if st.do != nil {
			st.do()
		}
		code, body := get(t, s, "/t/acme/changes")
		if code/100 != st.code/100 {
			t.Fatalf("%s: %d, want %d: %.2000s", st.name, code, st.code, body)
		}
		for _, c := range st.contains {
			if !strings.Contains(body, c) {
				t.Errorf("%s: no %q in the page", st.name, c)
			}
		}
		if st.name == "a file removed" && strings.Contains(body, "carol") {
			t.Errorf("%s: carol's change is still shown", st.name)
		}
		if code == 200 {
			if reread := s.trail.ix != last; reread != st.reread {
				t.Errorf("%s: trail read again: %v, want %v", st.name, reread, st.reread)
			}
			last = s.trail.ix
		}
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
