package cli

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// writeTenants writes n copies of config/samples, one directory per tenant
// (tenant-00000, ...) with a kustomization naming its namespace, as tenant
// admins keep them.
func writeTenants(b *testing.B, dir string, n int) {
	var all strings.Builder
	for _, f := range []string{"roles.yaml", "usergroups.yaml", "fieldpolicies.yaml", "approvalchains.yaml"} {
		data, err := os.ReadFile(filepath.Join("../../config/samples", f))
		if err != nil {
			b.Fatal(err)
		}
		all.WriteString("---\n")
		all.Write(data)
	}
	objs := []byte(all.String())
	for i := range n {
		d := filepath.Join(dir, fmt.Sprintf("tenant-%05d", i))
		if err := os.Mkdir(d, 0o755); err != nil {
			b.Fatal(err)
		}
		kust := fmt.Sprintf("namespace: tenant-%05d\nresources: [access.yaml]\n", i)
		if err := os.WriteFile(filepath.Join(d, "kustomization.yaml"), []byte(kust), 0o644); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, "access.yaml"), objs, 0o644); err != nil {
			b.Fatal(err)
		}
	}
}

// gatehouseBinary is $GATEHOUSE_BIN (to measure another build), else
// cmd/gatehouse built into dir.
func gatehouseBinary(b *testing.B, dir string) string {
	if bin := os.Getenv("GATEHOUSE_BIN"); bin != "" {
		return bin
	}
	bin := filepath.Join(dir, "gatehouse")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/gatehouse")
	cmd.Dir = "../.."
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// procStatus reads a "VmRSS:   1234 kB" line of /proc/<pid>/status, in bytes.
func procStatus(pid int, key string) float64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(l, key+":"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			return kb * 1024
		}
	}
	return 0
}

var servingOn = regexp.MustCompile(`serving .* on (http://\S+)`)

// serveOnce starts the real binary on tenant dir, waits until the last
// tenant answers, and returns the time that took and the process's RSS
// and peak RSS then.
func serveOnce(b *testing.B, bin, dir string, n int) (ready time.Duration, rss, hwm float64) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "serve", "-f", dir, "--authn=none", "--listen", "127.0.0.1:0")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	}()
	addr := make(chan string, 1)
	go func() {
		r := bufio.NewReader(stderr)
		for {
			line, err := r.ReadString('\n')
			if m := servingOn.FindStringSubmatch(line); m != nil {
				addr <- m[1]
			}
			if err != nil {
				close(addr)
				_, _ = io.Copy(io.Discard, r)
				return
			}
		}
	}()
	base, ok := <-addr
	if !ok {
		b.Fatal("gatehouse serve exited before serving")
	}
	url := fmt.Sprintf("%s/.well-known/authzen-configuration/tenants/tenant-%05d", base, n-1)
	for {
		if ctx.Err() != nil {
			b.Fatalf("not ready: %v", ctx.Err())
		}
		resp, err := http.Get(url)
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	ready = time.Since(start)
	pid := cmd.Process.Pid
	return ready, procStatus(pid, "VmRSS"), procStatus(pid, "VmHWM")
}

// BenchmarkServeTenants starts `gatehouse serve` on 1,000 and 10,000
// copies of config/samples and reports the time until it answers for the
// last tenant, and its resident memory then (rss) and at its peak (hwm),
// in total and per tenant. Loopback only.
func BenchmarkServeTenants(b *testing.B) {
	bin := gatehouseBinary(b, b.TempDir())
	for _, n := range []int{1_000, 10_000} {
		b.Run(fmt.Sprintf("tenants=%dk", n/1000), func(b *testing.B) {
			dir := b.TempDir()
			writeTenants(b, dir, n)
			var ready time.Duration
			var rss, hwm float64
			for b.Loop() {
				ready, rss, hwm = serveOnce(b, bin, dir, n)
			}
			b.ReportMetric(ready.Seconds(), "ready-s")
			b.ReportMetric(rss/(1<<20), "rss-MB")
			b.ReportMetric(hwm/(1<<20), "hwm-MB")
			b.ReportMetric(rss/float64(n), "rss-B/tenant")
		})
	}
}
