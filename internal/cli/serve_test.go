package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a Buffer safe for the serve goroutines and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// waitFor polls cond for up to 5 seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

const roleYAML = `apiVersion: access.gatehouse.dev/v1alpha1
kind: Role
metadata: {name: viewer}
spec:
  permissions:
  - {resources: [workorders], actions: [%s]}
---
apiVersion: access.gatehouse.dev/v1alpha1
kind: UserGroup
metadata: {name: staff}
spec: {members: [alice], roles: [viewer]}
`

func evaluate(t *testing.T, url, token, action string) (int, map[string]any) {
	t.Helper()
	body := `{"subject":{"type":"user","id":"alice"},"action":{"name":"` + action + `"},"resource":{"type":"workorders","id":"1"}}`
	req, _ := http.NewRequest(http.MethodPost, url+"/access/v1/evaluation", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

func TestServeWatch(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "policy.yaml")
	if err := os.WriteFile(file, []byte(strings.Replace(roleYAML, "%s", "view", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr syncBuffer
	done := make(chan int)
	go func() {
		done <- RunContext(ctx, []string{"serve", "-f", dir, "--tenant", "shop", "--listen", "127.0.0.1:0", "--authn=none", "--watch", "--interval", "20ms"}, nil, &stdout, &stderr)
	}()
	addr := regexp.MustCompile(`serving shop on (http://\S+)`)
	waitFor(t, "the server to listen", func() bool { return addr.MatchString(stderr.String()) })
	if !strings.Contains(stderr.String(), "WARNING: --authn=none") {
		t.Errorf("no warning for --authn=none: %s", stderr.String())
	}
	url := addr.FindStringSubmatch(stderr.String())[1]

	if code, out := evaluate(t, url, "", "view"); code != 200 || out["decision"] != true {
		t.Fatalf("view: %d %v", code, out)
	}
	if _, out := evaluate(t, url, "", "edit"); out["decision"] != false {
		t.Fatalf("edit before reload: %v", out)
	}
	// Grant edit; the watcher reloads.
	if err := os.WriteFile(file, []byte(strings.Replace(roleYAML, "%s", "view, edit", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the reload", func() bool {
		_, out := evaluate(t, url, "", "edit")
		return out["decision"] == true
	})
	// A broken file keeps the previous version served.
	if err := os.WriteFile(file, []byte("kind: [\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the failed reload", func() bool { return strings.Contains(stderr.String(), "reload failed") })
	if _, out := evaluate(t, url, "", "edit"); out["decision"] != true {
		t.Errorf("edit after a failed reload: %v", out)
	}
	// So does a version with no objects at all (a file caught truncated).
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the skipped reload", func() bool { return strings.Contains(stderr.String(), "reload skipped: no Gatehouse objects") })
	if _, out := evaluate(t, url, "", "edit"); out["decision"] != true {
		t.Errorf("edit after an empty version: %v", out)
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("exit %d: %s", code, stderr.String())
		}
	case <-time.After(5 * time.Second):
		t.Fatal("serve did not stop")
	}
}

func TestServeToken(t *testing.T) {
	_, stderr, code := run(t, "", "serve", "-f", samples)
	if code != 2 || !strings.Contains(stderr, "--authn=token needs --token-file") {
		t.Errorf("no token: exit %d %s", code, stderr)
	}
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, errb syncBuffer
	done := make(chan int)
	go func() {
		done <- RunContext(ctx, []string{"serve", "-f", samples, "--listen", "127.0.0.1:0", "--token-file", tokenFile}, nil, &stdout, &errb)
	}()
	addr := regexp.MustCompile(`serving acme-field-services on (http://\S+)`)
	waitFor(t, "the server to listen", func() bool { return addr.MatchString(errb.String()) })
	url := addr.FindStringSubmatch(errb.String())[1]
	if code, _ := evaluate(t, url, "", "view"); code != http.StatusUnauthorized {
		t.Errorf("no token: status %d", code)
	}
	if code, _ := evaluate(t, url, "wrong", "view"); code != http.StatusUnauthorized {
		t.Errorf("wrong token: status %d", code)
	}
	if code, out := evaluate(t, url, "s3cret", "view"); code != 200 || out["decision"] != false {
		t.Errorf("alice is unknown in the samples: %d %v", code, out)
	}
	if strings.Contains(errb.String(), "WARNING") {
		t.Errorf("warning with authentication: %s", errb.String())
	}
	cancel()
	<-done
}

func TestFileWatchObserve(t *testing.T) {
	tests := map[string]struct {
		polls []string
		reads []bool
	}{
		"unchanged files are never read": {
			polls: []string{"v1", "v1", "v1"},
			reads: []bool{false, false, false},
		},
		"a change is read once it holds for a poll": {
			polls: []string{"v2", "v2", "v2"},
			reads: []bool{false, true, false},
		},
		"a half-written file that is finished by the next poll is skipped": {
			polls: []string{"empty", "v2", "v2"},
			reads: []bool{false, false, true},
		},
		"a change that is reverted before it settles is never read": {
			polls: []string{"v2", "v1", "v1"},
			reads: []bool{false, false, false},
		},
		"a file that keeps changing is read when it stops": {
			polls: []string{"a", "b", "c", "c"},
			reads: []bool{false, false, false, true},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			w := fileWatch{served: "v1"}
			for i, fp := range tc.polls {
				if got := w.observe(fp); got != tc.reads[i] {
					t.Errorf("poll %d (%s): read %v, want %v", i, fp, got, tc.reads[i])
				}
			}
		})
	}
}
