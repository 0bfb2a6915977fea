package authz

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

type fixtureFile struct {
	Description string `json:"description"`
	Cases       []struct {
		Name            string            `json:"name"`
		Method          string            `json:"method"`
		Path            string            `json:"path"`
		Headers         map[string]string `json:"headers"`
		Request         json.RawMessage   `json:"request"`
		Status          int               `json:"status"`
		ResponseHeaders map[string]string `json:"responseHeaders"`
		Response        json.RawMessage   `json:"response"`
	} `json:"cases"`
}

// TestAuthZENFixtures replays the request/response pairs of
// testdata/authzen, written from the AuthZEN 1.0 text, against the sample
// tenant (paths are relative to /tenants/acme-field-services). "$REVISION"
// in an expected response stands for the snapshot's revision.
func TestAuthZENFixtures(t *testing.T) {
	h, _ := newTestHandler(t, Options{})
	rev := sampleSnapshot(t).Revision()
	files, err := filepath.Glob("testdata/authzen/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	for _, file := range files {
		raw, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		var ff fixtureFile
		if err := json.Unmarshal(raw, &ff); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		for _, c := range ff.Cases {
			t.Run(filepath.Base(file)+"/"+c.Name, func(t *testing.T) {
				var hdr []string
				for k, v := range c.Headers {
					hdr = append(hdr, k, v)
				}
				body := string(c.Request)
				w := do(h, c.Method, base+c.Path, body, hdr...)
				if w.Code != c.Status {
					t.Fatalf("status %d, want %d: %s", w.Code, c.Status, w.Body)
				}
				for k, v := range c.ResponseHeaders {
					if got := w.Header().Get(k); got != v {
						t.Errorf("header %s = %q, want %q", k, got, v)
					}
				}
				if got := w.Header().Get("Content-Type"); got != "application/json" {
					t.Errorf("Content-Type %q", got)
				}
				var got, want any
				if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
					t.Fatalf("response is not JSON: %v: %s", err, w.Body)
				}
				exp := strings.ReplaceAll(string(c.Response), "$REVISION", rev)
				if err := json.Unmarshal([]byte(exp), &want); err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("response\n got %s\nwant %s", w.Body, exp)
				}
			})
		}
	}
}
