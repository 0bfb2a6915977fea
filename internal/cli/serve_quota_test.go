package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestServeQuota: gatehouse serve applies the tenant quotas of its flags as
// the operator does: a change that makes the tenant too large to compile
// keeps the last good snapshot serving.
func TestServeQuota(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "policy.yaml")
	write := func(extraGroups int) {
		t.Helper()
		var b strings.Builder
		b.WriteString(strings.Replace(roleYAML, "%s", "view", 1))
		for i := range extraGroups {
			fmt.Fprintf(&b, "---\napiVersion: access.gatehouse.dev/v1alpha1\nkind: UserGroup\nmetadata: {name: g%02d}\nspec: {members: [u%02d], roles: [viewer]}\n", i, i)
		}
		if err := os.WriteFile(file, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(0)
	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr syncBuffer
	done := make(chan int)
	go func() {
		done <- RunContext(ctx, []string{"serve", "-f", dir, "--tenant", "shop", "--listen", "127.0.0.1:0", "--authn=none",
			"--watch", "--interval", "20ms", "--tenant-max-compiled-bytes=2000"}, nil, &stdout, &stderr)
	}()
	addr := regexp.MustCompile(`serving shop on (http://\S+)`)
	waitFor(t, "the server to listen", func() bool { return addr.MatchString(stderr.String()) })
	url := addr.FindStringSubmatch(stderr.String())[1]
	if _, out := evaluate(t, url, "", "view"); out["decision"] != true {
		t.Fatalf("view within the limits: %v", out)
	}

	write(20) // twenty more profiles: over 2,000 compiled bytes
	waitFor(t, "the refused reload", func() bool {
		return strings.Contains(stderr.String(), "not compiled (still serving revision")
	})
	if !strings.Contains(stderr.String(), "--tenant-max-compiled-bytes") {
		t.Errorf("the refusal does not name the limit: %s", stderr.String())
	}
	if _, out := evaluate(t, url, "", "view"); out["decision"] != true {
		t.Fatalf("the last good snapshot stopped serving: %v", out)
	}

	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("serve did not stop")
	}
}

// TestCompileReportsQuota: other commands apply the default quotas;
// an object beyond one is reported like any other problem.
func TestCompileReportsQuota(t *testing.T) {
	dir := t.TempDir()
	var b strings.Builder
	for i := range 34 {
		ext := ""
		if i > 0 {
			ext = fmt.Sprintf("\n  extends: [r%02d]", i-1)
		}
		fmt.Fprintf(&b, "---\napiVersion: access.gatehouse.dev/v1alpha1\nkind: Role\nmetadata: {name: r%02d}\nspec:%s\n  permissions:\n  - {resources: [a], actions: [view]}\n", i, ext)
	}
	if err := os.WriteFile(filepath.Join(dir, "p.yaml"), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr syncBuffer
	code := RunContext(context.Background(), []string{"compile", "-f", dir, "--tenant", "t"}, nil, &stdout, &stderr)
	out := stdout.String() + stderr.String()
	if code == 0 || !strings.Contains(out, "QuotaExceeded") || !strings.Contains(out, "r33") {
		t.Fatalf("exit %d, want the 33-deep role reported over quota:\n%s", code, out)
	}
}
