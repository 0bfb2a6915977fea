package cli

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestConsoleUsage(t *testing.T) {
	tests := map[string]struct {
		args []string
		want string
	}{
		"no input":                    {args: []string{"console"}, want: "no manifests"},
		"stdin":                       {args: []string{"console", "-f", "-"}, want: "-f -"},
		"an address off this machine": {args: []string{"console", "-f", samples, "--listen", "0.0.0.0:0"}, want: "is not a loopback address"},
		"every interface":             {args: []string{"console", "-f", samples, "--listen", ":0"}, want: "is not a loopback address"},
		"a bad interval":              {args: []string{"console", "-f", samples, "--interval", "0s"}, want: "must be positive"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, stderr, code := run(t, "", tc.args...)
			if code != 2 || !strings.Contains(stderr, tc.want) {
				t.Errorf("exit %d, stderr %q; want 2 and %q", code, stderr, tc.want)
			}
		})
	}
}

// The console serves the files on loopback and re-reads them when they
// change; a broken version keeps the last good one on show.
func TestConsoleServesAndReloads(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "policy.yaml")
	write := func(s string) {
		if err := os.WriteFile(file, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(strings.Replace(roleYAML, "%s", "view", 1))
	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr syncBuffer
	done := make(chan int)
	go func() {
		done <- RunContext(ctx, []string{"console", "-f", dir, "--tenant", "shop", "--listen", "127.0.0.1:0", "--interval", "20ms"}, nil, &stdout, &stderr)
	}()
	addr := regexp.MustCompile(`on (http://\S+)/ `)
	waitFor(t, "the console to listen", func() bool { return addr.MatchString(stderr.String()) })
	url := addr.FindStringSubmatch(stderr.String())[1]
	page := func(path string) (int, string) {
		resp, err := http.Get(url + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	if code, body := page("/t/shop/matrix"); code != 200 || !strings.Contains(body, "viewer") {
		t.Fatalf("matrix: %d %.500s", code, body)
	}
	write(strings.Replace(roleYAML, "%s", "view, edit", 1))
	waitFor(t, "the reload", func() bool {
		_, body := page("/t/shop/matrix.csv")
		return strings.Contains(body, "workorders,edit,full")
	})
	write("kind: [\n")
	waitFor(t, "the failed reload to show", func() bool {
		_, body := page("/t/shop/")
		return strings.Contains(body, "The last reload failed")
	})
	if _, body := page("/t/shop/matrix.csv"); !strings.Contains(body, "workorders,edit,full") {
		t.Errorf("after a failed reload the last good version is gone: %s", body)
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("exit %d: %s", code, stderr.String())
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the console did not stop")
	}
}
