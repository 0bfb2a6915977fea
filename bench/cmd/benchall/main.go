// Command benchall runs Gatehouse and its peers (OPA, Casbin, Cerbos) on
// the same generated tenant and request mix in one run, verifies every
// peer's answers against Gatehouse's Check before timing it, prints a
// summary table and writes docs/benchmarks-peers.md.
//
//	go run ./cmd/benchall            # from bench/: full run (≤ 10 min once peers are built)
//	BENCH_QUICK=1 go run ./cmd/benchall   # CI smoke (≤ 2 min), never fails on a timing
//
// Flags: -out (markdown path, "" for none), -peers (directory of the opa
// and cerbos binaries built by hack/bench/build-peers.sh).
package main

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/bench"
)

type cfg struct {
	quick                       bool
	users, nreq, listSubjects   int
	scale                       []int
	warmup, duration, benchtime time.Duration
	peers, out, work            string
	rounds                      int
	gogc                        string // GOGC of every system in the run
}

type inproc struct {
	name           string
	nsOp, allocsOp float64
	bytesOp        int64
	note           string
}

// pacedRate is the request rate of the paced HTTP run: the issue's
// throughput target, at which its p99 ≤ 2 ms target is read.
const pacedRate = 30_000

type loadRow struct {
	name, kind string
	res        bench.LoadResult
	note       string
}

type memRow struct {
	name    string
	load    time.Duration
	mem     uint64
	memKind string
	note    string
}

type scaleRow struct {
	users          int
	gen, compile   time.Duration
	compileCPU     time.Duration
	heap           uint64
	scopeNs, mixNs float64
	scopeAllocs    float64
}

type report struct {
	cfg
	started            time.Time
	elapsed            time.Duration
	machine, goVersion string
	versions           map[string]string
	tenant             string
	verified           []string
	skipped            []string
	inproc             []inproc
	list               []inproc
	listNote           string
	mem                []memRow
	scale              []scaleRow
	http               []loadRow
	paced              []loadRow
	batch              []loadRow
	failures           []string
	loadStart, loadEnd string
}

func main() {
	out := flag.String("out", "", "markdown report path (default ../docs/benchmarks-peers.md from bench/, none in quick mode)")
	peers := flag.String("peers", "", "directory of the opa and cerbos binaries (default ../bin/peers)")
	flag.Parse()
	testing.Init()
	root := repoRoot()
	c := cfg{quick: os.Getenv("BENCH_QUICK") != "", peers: *peers, out: *out}
	if c.peers == "" {
		c.peers = filepath.Join(root, "bin", "peers")
	}
	if c.quick {
		c.users, c.nreq, c.listSubjects = 10_000, 400, 50
		c.scale = []int{1_000, 10_000}
		c.warmup, c.duration, c.benchtime = 300*time.Millisecond, 1500*time.Millisecond, 200*time.Millisecond
		c.rounds = 1
	} else {
		c.users, c.nreq, c.listSubjects = 100_000, 2_000, 200
		c.scale = []int{1_000, 10_000, 100_000, 1_000_000}
		c.warmup, c.duration, c.benchtime = 2*time.Second, 8*time.Second, time.Second
		c.rounds = 3
		if c.out == "" {
			c.out = filepath.Join(root, "docs", "benchmarks-peers.md")
		}
	}
	if v := os.Getenv("BENCH_OUT"); v != "" {
		c.out = v
	}
	if err := flag.Set("test.benchtime", c.benchtime.String()); err != nil {
		fail(err)
	}
	// Every system runs with the GC setting the Gatehouse manager ships
	// (config/manager): this process (Gatehouse, the bare handler, OPA and
	// Casbin in-process) and, through the inherited environment, the OPA
	// and Cerbos servers. BENCH_GOGC overrides it.
	gogc := os.Getenv("BENCH_GOGC")
	if gogc == "" {
		gogc = "400"
	}
	if pct, err := strconv.Atoi(gogc); err == nil {
		debug.SetGCPercent(pct)
	}
	if err := os.Setenv("GOGC", gogc); err != nil {
		fail(err)
	}
	c.gogc = gogc
	rounds = c.rounds
	dir, err := os.MkdirTemp("", "gatehouse-bench-")
	if err != nil {
		fail(err)
	}
	defer func() { _ = os.RemoveAll(dir) }()
	c.work = dir

	r := &report{cfg: c, started: time.Now().UTC(), versions: map[string]string{}}
	r.machine = machine()
	r.loadStart = loadavg()
	r.goVersion = runtime.Version()
	r.versions = moduleVersions()
	// The whole run is bounded: every step below has its own bound too.
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	if err := r.run(ctx); err != nil {
		r.failures = append(r.failures, err.Error())
	}
	r.elapsed = time.Since(r.started)
	r.loadEnd = loadavg()
	r.printSummary()
	if c.out != "" {
		if err := os.WriteFile(c.out, []byte(r.markdown()), 0o644); err != nil {
			fail(err)
		}
		fmt.Println("wrote", c.out)
	}
	if len(r.failures) > 0 {
		// A mismatch or a peer that cannot answer is a benchmark bug, in
		// quick mode too; timings never fail the run.
		os.Exit(1)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "benchall:", err)
	os.Exit(1)
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "[%s] "+format+"\n", append([]any{time.Now().UTC().Format("15:04:05")}, args...)...)
}

func repoRoot() string {
	d, _ := os.Getwd()
	for x := d; x != "/"; x = filepath.Dir(x) {
		if b, err := os.ReadFile(filepath.Join(x, "go.mod")); err == nil && strings.Contains(string(b), "module github.com/gatehouse-dev/gatehouse\n") {
			return x
		}
	}
	return filepath.Dir(d)
}

// loadavg is the 1-minute load average: other work on the machine shows
// up here and in the noise of the figures.
func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	return strings.Fields(string(b))[0]
}

func machine() string {
	model := "?"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "model name") {
				model = strings.TrimSpace(strings.SplitN(l, ":", 2)[1])
				break
			}
		}
	}
	nproc := runtime.NumCPU()
	if out, err := exec.Command("nproc").Output(); err == nil {
		_, _ = fmt.Sscan(string(out), &nproc)
	}
	mem := ""
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb uint64
		_, _ = fmt.Sscanf(strings.SplitN(string(b), "\n", 2)[0], "MemTotal: %d kB", &kb)
		mem = fmt.Sprintf(", %.0f GiB RAM", float64(kb)/(1<<20))
	}
	return fmt.Sprintf("%d cores (nproc), %s%s, %s/%s", nproc, model, mem, runtime.GOOS, runtime.GOARCH)
}

func moduleVersions() map[string]string {
	v := map[string]string{}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			switch d.Path {
			case "github.com/open-policy-agent/opa":
				v["opa"] = d.Version
			case "github.com/casbin/casbin/v2":
				v["casbin"] = d.Version
			}
		}
	}
	return v
}

var rounds = 1

// bench1 runs f rounds times and keeps the median run (by ns/op).
func bench1(name string, f func(b *testing.B), note string) inproc {
	var runs []testing.BenchmarkResult
	for range rounds {
		runs = append(runs, testing.Benchmark(f))
	}
	slices.SortFunc(runs, func(a, b testing.BenchmarkResult) int { return cmp.Compare(a.NsPerOp(), b.NsPerOp()) })
	res := runs[len(runs)/2]
	row := inproc{name: name, note: note}
	if res.N > 0 {
		row.nsOp = float64(res.T.Nanoseconds()) / float64(res.N)
		row.allocsOp = float64(res.MemAllocs) / float64(res.N)
		row.bytesOp = int64(res.MemBytes) / int64(res.N)
	}
	logf("%-34s %12.0f ns/op %8.0f allocs/op (N=%d)", name, row.nsOp, row.allocsOp, res.N)
	return row
}

func (r *report) run(ctx context.Context) error {
	c := r.cfg
	logf("tenant: %d users, %d requests", c.users, c.nreq)
	t, err := bench.NewTenant(c.users, c.nreq)
	if err != nil {
		return err
	}
	allowed := 0
	for _, w := range t.Want {
		if w {
			allowed++
		}
	}
	r.tenant = fmt.Sprintf("%d roles, %d groups, %s users, %d field policies; %d requests (%d allowed, %d denied by Gatehouse; tenantgen seed 1, requests seed 7)",
		len(t.Model.Roles), len(t.Model.Groups), comma(int64(c.users)), len(t.Model.FieldPolicies), len(t.Reqs), allowed, len(t.Reqs)-allowed)
	r.mem = append(r.mem, memRow{name: "Gatehouse snapshot.Compile", load: t.CompileTime, mem: t.CompileHeap, memKind: "heap",
		note: fmt.Sprintf("%s CPU time", dur(t.CompileCPU))})

	// Naive reference agrees with Gatehouse (tenantgen's oracle).
	for i, q := range t.Reqs {
		if q.Allowed != t.Want[i] {
			return fmt.Errorf("tenantgen's reference evaluator disagrees with Gatehouse on request %d", i)
		}
	}

	// OPA in-process.
	logf("opa: load and prepare")
	before := bench.HeapAlloc()
	st := time.Now()
	o, err := bench.NewOPA(ctx, t)
	if err != nil {
		return err
	}
	r.mem = append(r.mem, memRow{name: "OPA in-process (data + prepare)", load: time.Since(st), mem: bench.HeapAlloc() - before, memKind: "heap"})
	logf("opa: verify %d requests (single and batch rule)", len(t.Reqs))
	if err := bench.VerifyOPA(ctx, o, t); err != nil {
		return err
	}
	r.verified = append(r.verified, fmt.Sprintf("OPA in-process: %d/%d single + %d in batches of 100", len(t.Reqs), len(t.Reqs), len(t.Reqs)))

	// Casbin.
	logf("casbin: load")
	before = bench.HeapAlloc()
	st = time.Now()
	cb, err := bench.NewCasbin(t)
	if err != nil {
		return err
	}
	r.mem = append(r.mem, memRow{name: "Casbin enforcer (policies + role links)", load: time.Since(st), mem: bench.HeapAlloc() - before, memKind: "heap",
		note: fmt.Sprintf("%s p rows, %s g rows", comma(int64(cb.Policies)), comma(int64(cb.Links)))})
	logf("casbin: verify %d requests", len(t.Reqs))
	if err := bench.VerifyCasbin(cb, t); err != nil {
		return err
	}
	r.verified = append(r.verified, fmt.Sprintf("Casbin: %d/%d", len(t.Reqs), len(t.Reqs)))

	// 1. In-process single check.
	scope := t.ScopeChecks()
	r.inproc = append(r.inproc,
		bench1("Gatehouse Check, scope path", bench.BenchGatehouseScope(t, scope), fmt.Sprintf("%d of the %d requests need no CEL condition", len(scope), len(t.Reqs))),
		bench1("Gatehouse Check, whole mix", bench.BenchGatehouseCheck(t), "includes CEL amount conditions"),
		bench1("naive walk (tenantgen.Allowed)", bench.BenchNaive(t), "reference evaluator, maps and slices"),
		bench1("OPA prepared eval", bench.BenchOPA(o, t), "rego.PreparedEvalQuery, input as map"),
		bench1("OPA prepared eval, pre-parsed input", bench.BenchOPAParsed(o, t), "input converted to ast.Value beforehand (OPA's best case)"),
		bench1("Casbin Enforce", bench.BenchCasbin(cb, t), "RBAC with conditions, matcher functions"),
	)

	// 5. List filtering.
	subs := bench.ListSubjects(t, c.listSubjects)
	agree, never, always, cond, err := bench.ListAgreement(ctx, o, t, subs)
	if err != nil {
		return err
	}
	r.listNote = fmt.Sprintf("%d subjects of the mix, view workorders: Plan said never %d, always %d, conditional %d; OPA's residual agrees on nothing/everything for %d of %d",
		len(subs), never, always, cond, agree, len(subs))
	if agree != len(subs) {
		r.failures = append(r.failures, "list filtering: "+r.listNote)
	}
	r.list = append(r.list,
		bench1("Gatehouse Plan", bench.BenchPlan(t, subs), "filter AST (SQL rendering not included)"),
		bench1("OPA partial eval (rego.Partial)", bench.BenchPartial(o, subs), "prepared partial query, residual queries"),
	)
	// o and cb are not used below, so the GC can reclaim them during the HTTP runs.

	// 2/3. HTTP.
	if err := r.runHTTP(ctx, t); err != nil {
		return err
	}

	// 6. Scaling (the tenant of the run is reused).
	for _, n := range c.scale {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		tt := t
		if n != c.users {
			logf("scaling: %d users", n)
			tt, err = bench.NewTenant(n, 2_000)
			if err != nil {
				return err
			}
		}
		sc := tt.ScopeChecks()
		s := bench1(fmt.Sprintf("Check scope path, %d users", n), bench.BenchGatehouseScope(tt, sc), "")
		m := bench1(fmt.Sprintf("Check whole mix, %d users", n), bench.BenchGatehouseCheck(tt), "")
		r.scale = append(r.scale, scaleRow{users: n, gen: tt.GenTime, compile: tt.CompileTime, compileCPU: tt.CompileCPU, heap: tt.CompileHeap,
			scopeNs: s.nsOp, scopeAllocs: s.allocsOp, mixNs: m.nsOp})
		if n != c.users {
			tt = nil
			runtime.GC()
		}
	}
	return nil
}

func (r *report) runHTTP(ctx context.Context, t *bench.Tenant) error {
	c := r.cfg
	var servers []*bench.Server
	gh, err := bench.StartGatehouse(t)
	if err != nil {
		return err
	}
	servers = append(servers, gh)
	bare, err := bench.StartBare()
	if err != nil {
		return err
	}
	servers = append(servers, bare)
	defer func() {
		for _, s := range servers {
			s.Stop()
		}
	}()
	if bin := filepath.Join(c.peers, "opa"); exists(bin) {
		logf("opa server: start")
		s, err := bench.StartOPA(bin, t, filepath.Join(c.work, "opa"))
		if err != nil {
			return err
		}
		r.versions["opa server"] = binVersion(bin, "github.com/open-policy-agent/opa")
		servers = append(servers, s)
	} else {
		r.skipped = append(r.skipped, "OPA server: "+bin+" not built (run hack/bench/build-peers.sh)")
	}
	if bin := filepath.Join(c.peers, "cerbos"); exists(bin) {
		logf("cerbos server: start")
		s, err := bench.StartCerbos(bin, t, filepath.Join(c.work, "cerbos"))
		if err != nil {
			return err
		}
		r.versions["cerbos server"] = binVersion(bin, "github.com/cerbos/cerbos")
		servers = append(servers, s)
	} else {
		r.skipped = append(r.skipped, "Cerbos server: "+bin+" not built (run hack/bench/build-peers.sh)")
	}
	for _, s := range servers {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		logf("%s: verify over HTTP", s.Name)
		bodies, err := bench.Verify(ctx, s, t)
		if err != nil {
			return err
		}
		if s.Name != "bare net/http" {
			what := fmt.Sprintf("%s over HTTP: %d/%d single", s.Name, len(t.Reqs), len(t.Reqs))
			if s.Batch != "" {
				what += fmt.Sprintf(" + %d in batches of 100", len(t.Reqs))
			}
			r.verified = append(r.verified, what)
		}
		logf("%s: load %d conns, %v warm-up + %v", s.Name, 64, c.warmup, c.duration)
		res, err := bench.Load(ctx, bench.LoadConfig{URL: s.Check, Bodies: bodies, Conns: 64, Warmup: c.warmup, Duration: c.duration})
		if err != nil {
			return err
		}
		logf("%s: %.0f req/s p50 %v p99 %v errors %d", s.Name, res.RPS, res.P50, res.P99, res.Errors)
		if res.Errors > 0 {
			r.failures = append(r.failures, fmt.Sprintf("%s: %d errors under load (first: %s)", s.Name, res.Errors, res.FirstError))
		}
		note := ""
		if s.Name == "bare net/http" {
			note = "no policy: decode + encode only"
		}
		r.http = append(r.http, loadRow{name: s.Name, kind: "single", res: res, note: note})
		if res.RPS >= pacedRate {
			// Latency at the throughput target rather than at
			// saturation, where p99 mostly measures the shared cores'
			// scheduler. Only servers that sustain the rate are paced.
			logf("%s: paced at %d/s, 64 conns", s.Name, pacedRate)
			res, err := bench.Load(ctx, bench.LoadConfig{URL: s.Check, Bodies: bodies, Conns: 64, Warmup: c.warmup, Duration: c.duration, Rate: pacedRate})
			if err != nil {
				return err
			}
			logf("%s paced: %.0f req/s p50 %v p99 %v errors %d", s.Name, res.RPS, res.P50, res.P99, res.Errors)
			if res.Errors > 0 {
				r.failures = append(r.failures, fmt.Sprintf("%s paced: %d errors under load (first: %s)", s.Name, res.Errors, res.FirstError))
			}
			r.paced = append(r.paced, loadRow{name: s.Name, kind: "paced", res: res, note: note})
		}
		if s.Batch != "" {
			var bb [][]byte
			for off := 0; off+100 <= len(t.Reqs); off += 100 {
				bb = append(bb, s.BatchBody(t.Reqs[off:off+100]))
			}
			logf("%s: batch load", s.Name)
			res, err := bench.Load(ctx, bench.LoadConfig{URL: s.Batch, Bodies: bb, Conns: 64, Warmup: c.warmup, Duration: c.duration, ChecksPerRequest: 100})
			if err != nil {
				return err
			}
			logf("%s batch: %.0f batches/s p50 %v p99 %v errors %d", s.Name, res.RPS, res.P50, res.P99, res.Errors)
			if res.Errors > 0 {
				r.failures = append(r.failures, fmt.Sprintf("%s batch: %d errors under load (first: %s)", s.Name, res.Errors, res.FirstError))
			}
			r.batch = append(r.batch, loadRow{name: s.Name, kind: "batch", res: res})
		}
		if s.RSS > 0 {
			s.Stop()
			r.mem = append(r.mem, memRow{name: s.Name + " (process)", load: s.Startup, mem: s.RSS, memKind: "RSS", note: "startup until healthy; RSS after load"})
		}
	}
	return nil
}

// binVersion is the module version a Go binary was built from, with the
// Go version that built it (go version -m).
func binVersion(bin, module string) string {
	out, err := exec.Command("go", "version", "-m", bin).Output()
	if err != nil {
		return "?"
	}
	goVer, modVer := "", "?"
	for i, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if i == 0 && len(f) >= 2 {
			goVer = f[len(f)-1]
		}
		if len(f) >= 3 && (f[0] == "mod" || f[0] == "dep") && f[1] == module {
			modVer = f[2]
		}
	}
	return modVer + " built with " + goVer
}

func exists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}
