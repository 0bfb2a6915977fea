package audit_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/audit"
)

var readT0 = time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)

func readRecord(i int) audit.Record {
	return audit.Record{Type: audit.RecordType, Time: readT0.Add(time.Duration(i) * time.Second), Replica: "replica-a", Tenant: "acme",
		Event: audit.EventCompiled, ToRevision: readRev(i), Objects: []audit.Object{{Kind: "Role", Name: "r", Change: audit.ChangeUpdated, Generation: int64(i + 1)}}}
}

func recordLine(r audit.Record) string {
	b, _ := json.Marshal(r)
	return string(b)
}

func eventOf(r audit.Record) map[string]any {
	return map[string]any{"specversion": "1.0", "id": r.ID(), "source": "gatehouse/" + r.Replica, "type": audit.RecordType, "data": r}
}

func eventLine(r audit.Record) string {
	b, _ := json.Marshal(eventOf(r))
	return string(b)
}

func TestRead(t *testing.T) {
	batch, _ := json.Marshal([]any{eventOf(readRecord(1)), eventOf(readRecord(2))})
	pretty, _ := json.MarshalIndent([]any{eventOf(readRecord(1)), eventOf(readRecord(2)), map[string]any{"specversion": "1.0", "id": "o", "type": "other"}}, "", "  ")
	cases := map[string]struct {
		input                  string
		records, skipped, dups int
		err                    string // prefix of the error
	}{
		"record lines":                           {input: recordLine(readRecord(1)) + "\n" + recordLine(readRecord(2)) + "\n", records: 2},
		"no final newline, blank lines and CRLF": {input: "\r\n" + recordLine(readRecord(1)) + "\r\n\n" + recordLine(readRecord(2)), records: 2},
		"CloudEvents lines":                      {input: eventLine(readRecord(1)) + "\n" + eventLine(readRecord(2)) + "\n", records: 2},
		"batch on one line among other lines":    {input: recordLine(readRecord(3)) + "\n" + string(batch) + "\n", records: 3},
		"indented batch as the whole input":      {input: "\n  " + string(pretty) + "\n", records: 2, skipped: 1},
		"other logs are skipped and counted": {
			input:   `{"level":"info","msg":"x"}` + "\nplain text\n[INFO] bracketed text\n" + `{"specversion":"1.0","id":"1","type":"dev.other","data":{"type":"gatehouse.audit"}}` + "\n{broken but not ours\n" + recordLine(readRecord(1)) + "\n",
			records: 1, skipped: 5,
		},
		"a CloudEvent delivered twice, and its record as a line": {
			input:   eventLine(readRecord(1)) + "\n" + eventLine(readRecord(1)) + "\n" + recordLine(readRecord(1)) + "\n",
			records: 1, dups: 2,
		},
		"truncated audit line": {
			input: recordLine(readRecord(1)) + "\n" + recordLine(readRecord(2))[:60] + "\n",
			err:   `audit: t.jsonl:2: malformed audit record (invalid JSON at byte 60): "{\"type\":\"gatehouse.audit\",\"time\":\"2026-1"…`,
		},
		"wrong type of a field": {
			input: `{"type":"gatehouse.audit","time":"2026-11-30T10:00:00Z","event":"compiled","objects":"oops"}`,
			err:   `audit: t.jsonl:1: malformed audit record (field "objects" is not a []audit.Object):`,
		},
		"raw control characters are escaped": {
			input: `{"type":"gatehouse.audit","time":"` + strings.Repeat("\x1b[2J", 50) + `","event":"compiled"}`,
			err:   `audit: t.jsonl:1: malformed audit record (invalid JSON at byte 35): "{\"type\":\"gatehouse.audit\",\"time\":\"\x1b[2J\x1b["…`,
		},
		"bad time value is not echoed in the reason": {
			input: `{"type":"gatehouse.audit","time":"` + strings.Repeat("<b>later</b>", 50) + `","event":"compiled"}`,
			err:   `audit: t.jsonl:1: malformed audit record (invalid field value): "{\"type\":\"gatehouse.audit\",\"time\":\"<b>lat"…`,
		},
		"no event":                 {input: `{"type":"gatehouse.audit","time":"2026-11-30T10:00:00Z"}`, err: "audit: t.jsonl:1: malformed audit record (no event)"},
		"CloudEvent without data":  {input: `{"specversion":"1.0","id":"1","type":"gatehouse.audit"}`, err: "audit: t.jsonl:1: malformed audit record (a CloudEvent without data)"},
		"malformed batch of ours":  {input: `[{"specversion":"1.0","type":"gatehouse.audit",` + "\n", err: "audit: t.jsonl:1: malformed audit record (invalid JSON at byte"},
		"line over the size bound": {input: recordLine(readRecord(1)) + "\n" + strings.Repeat("x", audit.MaxLineSize+1), err: "audit: t.jsonl:2: line longer than 16 MiB"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			rd := audit.NewReader()
			err := rd.ReadTrail(strings.NewReader(tc.input), "t.jsonl")
			if tc.err != "" {
				want := strings.ReplaceAll(tc.err, "\x1b", `\x1b`)
				if err == nil || !strings.HasPrefix(err.Error(), want) {
					t.Fatalf("error %v, want one starting with %s", err, want)
				}
				if len(err.Error()) > 200 || strings.ContainsRune(err.Error(), 0x1b) {
					t.Errorf("error echoes too much: %q", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			st := rd.Stats()
			if st.Records != tc.records || st.Skipped != tc.skipped || st.Duplicates != tc.dups {
				t.Errorf("stats %+v, want %d records, %d skipped, %d duplicates", st, tc.records, tc.skipped, tc.dups)
			}
			for _, r := range rd.Records() {
				if r.Type != audit.RecordType || r.Tenant != "acme" {
					t.Errorf("record %+v", r)
				}
			}
		})
	}
}

func TestReadPaths(t *testing.T) {
	dir := t.TempDir()
	write := func(name, data string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("b.jsonl", recordLine(readRecord(2))+"\n")
	write("a.jsonl", recordLine(readRecord(1))+"\n")
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o700); err != nil {
		t.Fatal(err)
	}
	records, st, err := audit.ReadPaths([]string{dir, "-", filepath.Join(dir, "a.jsonl")}, strings.NewReader(eventLine(readRecord(3))))
	if err != nil {
		t.Fatal(err)
	}
	var revs []string
	for _, r := range records {
		revs = append(revs, r.ToRevision)
	}
	if strings.Join(revs, ",") != strings.Join([]string{readRev(1), readRev(2), readRev(3)}, ",") || st.Duplicates != 1 {
		t.Errorf("read %v, %+v", revs, st)
	}
	if _, _, err := audit.ReadPaths([]string{filepath.Join(dir, "none")}, nil); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("error %v", err)
	}
	recs, err := audit.Read(strings.NewReader(recordLine(readRecord(1))), "x")
	if err != nil || len(recs) != 1 {
		t.Errorf("Read: %v, %v", recs, err)
	}
}

func readRev(i int) string { return strings.Repeat(string(rune('a'+i%26)), 16) }
