package authz

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/loadgen"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// processCPU is the CPU time of the whole process (every thread, the
// garbage collector's included).
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// blobCond searches a long string for a needle that almost matches
// everywhere: no steps at all, each evaluation costly, which the condition
// time limit bounds.
const blobCond = `resource.properties.blob.contains(resource.properties.needle)`

// worstRequests are the costliest requests a caller can send within the
// limits, each against the costly tenant with the condition it targets.
func worstRequests() map[string]struct{ cond, path, body string } {
	ev := "/tenants/" + costlyTenant + "/access/v1/evaluations"
	blob := `{"subject":{"type":"user","id":"mallory"},"action":{"name":"view"},"resource":{"type":"workorders","properties":{"blob":"` +
		strings.Repeat("a", 900_000) + `","needle":"` + strings.Repeat("a", 63) + `b"}},"evaluations":[` +
		strings.TrimSuffix(strings.Repeat(`{},`, 1000), ",") + `]}`
	var cands strings.Builder
	cands.WriteString(`{"subject":{"type":"user","id":"mallory"},"action":{"name":"view"},"resource":{"type":"workorders"},"context":{"candidates":[`)
	for i := range 1000 {
		if i > 0 {
			cands.WriteByte(',')
		}
		fmt.Fprintf(&cands, `{"id":"c%d","properties":{"tags":[%s]}}`, i, strings.TrimSuffix(strings.Repeat(`"t1234",`, 100), ","))
	}
	cands.WriteString(`]}}`)
	return map[string]struct{ cond, path, body string }{
		"batch=1000x1000-item-walks": {tagsCond, ev, costlyBatch(1000, 1000)},
		"batch=1000x8-walks":         {heavyCond, ev, costlyBatch(1000, 1000)},
		"batch=1000x1MiB-contains":   {blobCond, ev, blob},
		"search=1000-candidates":     {heavyCond, "/tenants/" + costlyTenant + "/access/v1/search/resource", cands.String()},
	}
}

// BenchmarkWorstCaseRequest reports the CPU the costliest requests cost
// the server within the default limits (cpu-ms/op: the whole process,
// garbage collection included), and what they are answered. Target: at or
// under 50 ms each.
func BenchmarkWorstCaseRequest(b *testing.B) {
	for name, w := range worstRequests() {
		b.Run(name, func(b *testing.B) {
			st := store.New()
			st.Set(costlyTenant, &store.Entry{Snapshot: costlySnapshot(b, w.cond), CompiledAt: time.Now()})
			h, err := New(st, Options{Authenticator: None{}, TenantAuthorizer: None{}})
			if err != nil {
				b.Fatal(err)
			}
			status := 0
			cpu := processCPU()
			for b.Loop() {
				rec := do(h, "POST", w.path, w.body)
				status = rec.Code
			}
			b.ReportMetric(float64((processCPU()-cpu).Microseconds())/1000/float64(b.N), "cpu-ms/op")
			b.ReportMetric(float64(status), "status")
			b.ReportMetric(float64(len(w.body)>>10), "body-KiB")
		})
	}
}

// floodChildKind is the child server of BenchmarkFloodLegitimateP99: the
// samples and the costly tenant, callers known by token.
const floodChildKind = "gatehouse-flood"

func floodChildHandler(t testing.TB) http.Handler {
	st := store.New()
	st.Set(tenant, &store.Entry{Snapshot: sampleSnapshot(t), CompiledAt: time.Now()})
	st.Set(costlyTenant, &store.Entry{Snapshot: costlySnapshot(t, tagsCond), CompiledAt: time.Now()})
	seats, _ := strconv.Atoi(os.Getenv("GATEHOUSE_BENCH_SEATS")) // 0: the default
	h, err := New(st, Options{Authenticator: adversaryTokens, TenantAuthorizer: None{}, MaxInFlight: seats})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// BenchmarkFloodLegitimateP99 measures a legitimate caller's latency at
// 1,000 evaluations/s (paced, from the scheduled start) while a hostile
// caller floods the same server closed-loop over 64 connections, with
// cheap evaluations or with batches that run conditions over 1,000-item
// lists. Target: legitimate p99 at or under 5 ms. The server and the
// flooder run in child processes with the default limits; all three
// processes share the machine's cores.
func BenchmarkFloodLegitimateP99(b *testing.B) {
	floods := map[string]struct{ path, body string }{
		"flood=cheap":  {base + "/access/v1/evaluation", evalAllowBody},
		"flood=costly": {"/tenants/" + costlyTenant + "/access/v1/evaluations", costlyBatch(50, 1000)},
		"flood=none":   {},
	}
	for name, f := range floods {
		b.Run(name, func(b *testing.B) {
			addr := serveLoopback(b, floodChildKind)
			if f.path != "" {
				startFlooder(b, addr, f.path, f.body)
			}
			reqs := make([][]byte, len(evalBodies))
			for i, body := range evalBodies {
				reqs[i] = loadgen.NewRequest("POST", addr, base+"/access/v1/evaluation", []byte(body),
					"Content-Type", "application/json", "Authorization", "Bearer legit-token")
			}
			b.ResetTimer()
			legit, err := loadgen.Run(context.Background(), loadgen.Config{
				Addr: addr, Requests: reqs, Connections: 16, Rate: 1000,
				Warmup: 500 * time.Millisecond, Duration: benchDuration(), ExpectStatus: 200,
			})
			b.StopTimer()
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(legit.P50().Microseconds()), "legit-p50-µs")
			b.ReportMetric(float64(legit.P99().Microseconds()), "legit-p99-µs")
			b.ReportMetric(float64(legit.Errors), "legit-errors")
			b.Logf("legitimate: %v", legit)
		})
	}
}

// startFlooder runs the hostile load generator in a child process (this
// test binary, running TestBenchFlooderChild), so that its goroutines do
// not share a scheduler with the legitimate caller's, as on a real
// network. It floods addr closed-loop over 64 connections until the
// benchmark ends, then prints what it did.
func startFlooder(b *testing.B, addr, path, body string) {
	b.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestBenchFlooderChild$")
	cmd.Env = append(os.Environ(), "GATEHOUSE_FLOOD_ADDR="+addr, "GATEHOUSE_FLOOD_PATH="+path, "GATEHOUSE_FLOOD_BODY="+body)
	cmd.Stdout = os.Stderr
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }() // its exit status does not matter
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
		}
	})
	time.Sleep(time.Second) // the flood is under way
}

// TestBenchFlooderChild is the hostile caller of BenchmarkFloodLegitimateP99;
// it does nothing unless started by startFlooder.
func TestBenchFlooderChild(t *testing.T) {
	addr := os.Getenv("GATEHOUSE_FLOOD_ADDR")
	if addr == "" {
		t.Skip("only runs as the flood benchmark's hostile caller")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	req := loadgen.NewRequest("POST", addr, os.Getenv("GATEHOUSE_FLOOD_PATH"), []byte(os.Getenv("GATEHOUSE_FLOOD_BODY")),
		"Content-Type", "application/json", "Authorization", "Bearer hostile-token")
	res, err := loadgen.Run(ctx, loadgen.Config{Addr: addr, Connections: 64, Duration: loadgen.MaxDuration - time.Minute, Requests: [][]byte{req}})
	if res == nil {
		fmt.Printf("flooder: %v\n", err)
		return
	}
	// Refused requests (429, 422) are answers too: the flood goes on.
	fmt.Printf("flooder: %v\n", res)
}
