//go:build soak

// Package soak runs Gatehouse as deployed — a local control plane, the CRDs
// and the validating webhook over TLS, two manager replicas (the real
// binary) with leader election — under policy churn, a fixed evaluation
// load and faults, and checks every answer against tenantgen's reference
// evaluator over the exact objects the answer's revision was compiled from.
//
//	make soak SOAK_DURATION=30m
//
// SOAK_DURATION (default 2m), SOAK_RATE (evaluations per second per
// replica, default 40), SOAK_CHANGE_RATE (changes per second, default 3),
// SOAK_REPORT (a file to write the report to). Loopback only; every loop is
// bounded in count and time.
package soak

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	accessv1 "github.com/gatehouse-dev/gatehouse/api/v1alpha1"
	"github.com/gatehouse-dev/gatehouse/internal/snapshot"
	"github.com/gatehouse-dev/gatehouse/internal/tenantgen"
	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

const managerNamespace = "gatehouse-system"

func envDuration(name string, def time.Duration) time.Duration {
	if d, err := time.ParseDuration(os.Getenv(name)); err == nil && d > 0 {
		return d
	}
	return def
}

func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func TestSoak(t *testing.T) {
	duration := envDuration("SOAK_DURATION", 2*time.Minute)
	rate := envInt("SOAK_RATE", 40)
	changeRate := envInt("SOAK_CHANGE_RATE", 3)
	ctx := context.Background()
	h := newHarness(t)
	h.start(ctx)

	tenants := []*tenant{
		newTenant("soak-big", tenantgen.Config{Seed: 1, Users: 2000, Roles: 30, Groups: 200, FieldPolicies: 2}),
		newTenant("soak-a", tenantgen.Config{Seed: 2, Users: 60, Roles: 8, Groups: 8, FieldPolicies: 1}),
		newTenant("soak-b", tenantgen.Config{Seed: 3, Users: 60, Roles: 8, Groups: 8, FieldPolicies: 1}),
		newTenant("soak-c", tenantgen.Config{Seed: 4, Users: 60, Roles: 8, Groups: 8, FieldPolicies: 1}),
	}
	for _, tn := range tenants {
		h.populate(ctx, tn)
	}
	// Both replicas serve every tenant's initial revision.
	for _, tn := range tenants {
		want := tn.current().revision
		for _, r := range h.replicas {
			if !waitFor(2*time.Minute, 100*time.Millisecond, func() bool { rev, _ := r.revision(tn); return rev == want }) {
				rev, err := r.revision(tn)
				t.Fatalf("%s does not serve %s's initial revision %s (serves %q, %v); see %s", r.name, tn.name, want, rev, err, r.logPath)
			}
		}
	}
	t.Logf("setup done; soaking for %s: %d evaluations/s per replica, %d changes/s", duration, rate, changeRate)

	run := &soakRun{h: h, tenants: tenants, start: time.Now(), end: time.Now().Add(duration)}
	var wg sync.WaitGroup
	wg.Go(func() { run.churn(ctx, changeRate) })
	for _, r := range h.replicas {
		wg.Go(func() { run.load(ctx, r, rate) })
	}
	wg.Go(func() { run.monitor() })
	wg.Go(func() { run.faults(ctx, duration) })
	wg.Wait()
	run.propagations.Wait()

	rep := run.report()
	t.Log("\n" + rep)
	if path := os.Getenv("SOAK_REPORT"); path != "" {
		_ = os.WriteFile(path, []byte(rep), 0o644)
	}
	if n := run.wrong.Load(); n > 0 {
		t.Errorf("%d wrong answers (first: %s)", n, run.firstWrong.Load())
	}
	if total := run.checked.Load(); total == 0 || run.unknown.Load()*200 > total {
		t.Errorf("%d answers checked, %d at a revision the churner never applied", total, run.unknown.Load())
	}
	if run.changes.Load() == 0 {
		t.Errorf("no change was applied")
	}
	if n := run.invalidAccepted.Load(); n > 0 {
		t.Errorf("%d invalid changes were admitted while the webhook was up", n)
	}
}

// ---- the control plane and the replicas ----

type harness struct {
	t        *testing.T
	env      *envtest.Environment
	admin    client.Client
	scheme   *runtime.Scheme
	dir      string
	replicas []*replica
	// restartable control plane processes (found by their arguments).
	apiserverArgs, etcdArgs procSpec
}

func newHarness(t *testing.T) *harness {
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	if err := accessv1.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	dir := os.Getenv("SOAK_DIR") // kept after the run, for its logs
	if dir == "" {
		dir = t.TempDir()
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return &harness{t: t, scheme: s, dir: dir}
}

func (h *harness) start(ctx context.Context) {
	t := h.t
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	env, err := testenv.New()
	if err != nil {
		t.Fatal(err)
	}
	env.WebhookInstallOptions = envtest.WebhookInstallOptions{Paths: []string{filepath.Join(root, "config", "webhook", "manifests.yaml")}}
	cfg, err := env.Start()
	if err != nil {
		t.Fatal(err)
	}
	h.env = env
	t.Cleanup(func() {
		h.killRestarted()
		_ = env.Stop()
	})
	h.admin, err = client.New(cfg, client.Options{Scheme: h.scheme})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.admin.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: managerNamespace}}); err != nil {
		t.Fatal(err)
	}
	// The replicas run as the manager's ServiceAccount with config/rbac.
	saCfg, err := testenv.ManagerCredentials(ctx, env, h.admin, managerNamespace)
	if err != nil {
		t.Fatal(err)
	}
	kubeconfig := filepath.Join(h.dir, "kubeconfig")
	writeKubeconfig(t, saCfg, kubeconfig)
	h.apiserverArgs = findProc(t, "kube-apiserver", env.ControlPlane.APIServer.CertDir)
	h.etcdArgs = findProc(t, "etcd", env.ControlPlane.Etcd.DataDir)

	bin := filepath.Join(h.dir, "manager")
	build := exec.Command("go", "build", "-o", bin, "./cmd/manager")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the manager: %v\n%s", err, out)
	}
	wh := env.WebhookInstallOptions
	// Replica 1 serves the webhook envtest registered (one URL); replica 2
	// writes its audit trail to /dev/full: the audit destination failing,
	// for the whole run (the default serves anyway, and counts the loss).
	h.replicas = []*replica{
		{name: "replica-1", bin: bin, kubeconfig: kubeconfig, dir: h.dir, audit: filepath.Join(h.dir, "audit-1.log"),
			extra: []string{"--webhook-cert-dir=" + wh.LocalServingCertDir, "--webhook-port=" + strconv.Itoa(wh.LocalServingPort)}},
		{name: "replica-2", bin: bin, kubeconfig: kubeconfig, dir: h.dir, audit: "/dev/full"},
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(wh.LocalServingCAData)
	for i, r := range h.replicas {
		r.authz, r.probe, r.metrics = freePort(t), freePort(t), freePort(t)
		r.base, r.client = fmt.Sprintf("http://127.0.0.1:%d", r.authz), httpc
		if i == 0 {
			r.base = fmt.Sprintf("https://127.0.0.1:%d", r.authz)
			r.client = &http.Client{Timeout: time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64,
				TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
		}
		if err := r.start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(r.kill)
	}
	for _, r := range h.replicas {
		if !waitFor(2*time.Minute, 100*time.Millisecond, func() bool { return r.ready() == 200 }) {
			t.Fatalf("%s not ready; see %s", r.name, r.logPath)
		}
	}
}

func writeKubeconfig(t *testing.T, c *rest.Config, path string) {
	t.Helper()
	kc := clientcmdapi.NewConfig()
	kc.Clusters["soak"] = &clientcmdapi.Cluster{Server: c.Host, CertificateAuthorityData: c.CAData}
	kc.AuthInfos["soak"] = &clientcmdapi.AuthInfo{Token: c.BearerToken, ClientCertificateData: c.CertData, ClientKeyData: c.KeyData}
	kc.Contexts["soak"] = &clientcmdapi.Context{Cluster: "soak", AuthInfo: "soak"}
	kc.CurrentContext = "soak"
	if err := clientcmd.WriteToFile(*kc, path); err != nil {
		t.Fatal(err)
	}
}

type replica struct {
	name, bin, kubeconfig, dir, audit string
	extra                             []string
	authz, probe, metrics             int
	logPath                           string
	// base is the authorization endpoint's URL; replica-1 serves it over
	// TLS with the webhook's certificate (the manager does when it has one).
	base   string
	client *http.Client

	mu       sync.Mutex
	cmd      *exec.Cmd
	stopped  atomic.Bool  // no more restarts
	restarts atomic.Int64 // exits the supervisor restarted
}

// start runs the replica; like a kubelet, it runs it again a second after
// it exits (a replica that loses its leader lease exits, as controller-
// runtime managers do), until stop.
func (r *replica) start() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.logPath = filepath.Join(r.dir, r.name+".log")
	logf, err := os.OpenFile(r.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	args := append([]string{
		"--leader-elect", "--leader-election-namespace=" + managerNamespace,
		"--health-probe-bind-address=127.0.0.1:" + strconv.Itoa(r.probe),
		"--metrics-bind-address=127.0.0.1:" + strconv.Itoa(r.metrics),
		"--authz-bind-address=127.0.0.1:" + strconv.Itoa(r.authz),
		"--authz-insecure-plain-http", "--authz-insecure-no-authn",
		"--audit-log=" + r.audit,
	}, r.extra...)
	cmd := exec.Command(r.bin, args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+r.kubeconfig)
	if os.Getenv("SOAK_GCTRACE") != "" {
		cmd.Env = append(cmd.Env, "GODEBUG=gctrace=1")
	}
	if p := os.Getenv("SOAK_PPROF_" + strings.ToUpper(strings.ReplaceAll(r.name, "-", "_"))); p != "" {
		cmd.Args = append(cmd.Args, "--pprof-bind-address=127.0.0.1:"+p)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		_ = logf.Close()
		return err
	}
	r.cmd = cmd
	go func() {
		_ = cmd.Wait()
		_ = logf.Close()
		if r.stopped.Load() {
			return
		}
		r.restarts.Add(1)
		time.Sleep(time.Second)
		if !r.stopped.Load() {
			_ = r.start()
		}
	}()
	return nil
}

func (r *replica) pid() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cmd == nil || r.cmd.Process == nil {
		return 0
	}
	return r.cmd.Process.Pid
}

func (r *replica) signal(sig syscall.Signal) {
	if pid := r.pid(); pid > 0 {
		_ = syscall.Kill(pid, sig)
	}
}

func (r *replica) kill() {
	r.stopped.Store(true)
	r.signal(syscall.SIGCONT)
	r.signal(syscall.SIGKILL)
}

var httpc = &http.Client{Timeout: time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}

func (r *replica) ready() int {
	resp, err := httpc.Get(fmt.Sprintf("http://127.0.0.1:%d/readyz", r.probe))
	if err != nil {
		return 0
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return resp.StatusCode
}

// metric returns the sum of the samples of a metric family on the
// replica's /metrics (-1 when unreachable).
func (r *replica) metric(name string) float64 {
	resp, err := httpc.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", r.metrics))
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	sum := 0.0
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<22)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name) || (len(line) > len(name) && line[len(name)] != ' ' && line[len(name)] != '{') {
			continue
		}
		f := strings.Fields(line)
		if v, err := strconv.ParseFloat(f[len(f)-1], 64); err == nil {
			sum += v
		}
	}
	return sum
}

func (r *replica) rss() int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", r.pid()))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

type evalAnswer struct {
	Decision bool `json:"decision"`
	Context  struct {
		Revision string `json:"revision"`
		Reason   string `json:"reason"`
	} `json:"context"`
}

// evaluate asks the replica one AuthZEN evaluation.
func (r *replica) evaluate(tn *tenant, q tenantgen.Request) (evalAnswer, error) {
	var a evalAnswer
	props := map[string]any{"amount": q.Record.Amount}
	if q.Record.OwnerID != "" {
		props["ownerId"] = q.Record.OwnerID
	}
	if q.Record.AssigneeIDs != nil {
		props["assigneeIds"] = q.Record.AssigneeIDs
	}
	if q.Record.ProjectContacts != nil {
		props["projectContacts"] = q.Record.ProjectContacts
	}
	for k, v := range map[string]string{"unit": q.Record.Unit, "facilityId": q.Record.FacilityID, "companyId": q.Record.CompanyID} {
		if v != "" {
			props[k] = v
		}
	}
	body, _ := json.Marshal(map[string]any{
		"subject":  map[string]any{"type": "user", "id": q.Subject},
		"action":   map[string]any{"name": q.Action},
		"resource": map[string]any{"type": q.Record.Module, "id": q.Record.ID, "properties": props},
	})
	resp, err := r.client.Post(r.base+"/tenants/"+tn.name+"/access/v1/evaluation", "application/json", bytes.NewReader(body))
	if err != nil {
		return a, err
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != 200 {
		return a, fmt.Errorf("status %d: %.200s", resp.StatusCode, data)
	}
	return a, json.Unmarshal(data, &a)
}

// revision is the revision the replica serves for the tenant.
func (r *replica) revision(tn *tenant) (string, error) {
	a, err := r.evaluate(tn, tn.probe)
	return a.Context.Revision, err
}

// ---- restartable control plane processes ----

type procSpec struct {
	args []string
	env  []string
	pid  int
}

// findProc finds the running process whose command is name and one of whose
// arguments mentions marker.
func findProc(t *testing.T, name, marker string) procSpec {
	t.Helper()
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err != nil {
			continue
		}
		args := strings.Split(strings.TrimRight(string(raw), "\x00"), "\x00")
		if len(args) == 0 || filepath.Base(args[0]) != name || !slices.ContainsFunc(args, func(a string) bool { return strings.Contains(a, marker) }) {
			continue
		}
		envRaw, _ := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
		return procSpec{args: args, env: strings.Split(strings.TrimRight(string(envRaw), "\x00"), "\x00"), pid: pid}
	}
	t.Fatalf("no %s process mentioning %s", name, marker)
	return procSpec{}
}

// restarted are control plane processes the soak started again.
var (
	restartedMu sync.Mutex
	restarted   []*exec.Cmd
)

// restartProc kills p, waits down, and runs it again with the same
// arguments; it returns the new spec.
func restartProc(p procSpec, down time.Duration) (procSpec, error) {
	_ = syscall.Kill(p.pid, syscall.SIGKILL)
	for i := 0; i < 100 && syscall.Kill(p.pid, 0) == nil; i++ {
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(down)
	cmd := exec.Command(p.args[0], p.args[1:]...)
	cmd.Env = p.env
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if err := cmd.Start(); err != nil {
		return p, err
	}
	go func() { _ = cmd.Wait() }()
	restartedMu.Lock()
	restarted = append(restarted, cmd)
	restartedMu.Unlock()
	return procSpec{args: p.args, env: p.env, pid: cmd.Process.Pid}, nil
}

func (h *harness) killRestarted() {
	restartedMu.Lock()
	defer restartedMu.Unlock()
	for _, c := range restarted {
		_ = c.Process.Kill()
	}
}

// ---- tenants: the reference model and what was applied ----

// state is one applied state of a tenant: the model (the reference
// evaluator's input) and the revision its objects compile to.
type state struct {
	seq      int
	model    *tenantgen.Model
	extra    []accessv1.Role // admitted invalid roles (left out; no effect on answers)
	revision string
	acked    time.Time
}

type tenant struct {
	name string
	mu   sync.Mutex
	cur  *state
	// byRevision holds every state ever applied (or attempted: a failed
	// apply may have been persisted).
	byRevision map[string]*state
	reqs       []tenantgen.Request
	probe      tenantgen.Request
	nextSeq    int
	// recent are the last states applied, newest last: a compile may mix
	// their Roles and UserGroups (see mixed).
	recent []*state
	mixes  map[string]*state // revisions of such mixes already found
}

func newTenant(name string, cfg tenantgen.Config) *tenant {
	cfg.Tenant = name
	m := tenantgen.Generate(cfg)
	tn := &tenant{name: name, byRevision: map[string]*state{}, reqs: m.Requests(2000, cfg.Seed)}
	tn.probe = tn.reqs[0]
	tn.record(m, nil, time.Now())
	return tn
}

func objectsOf(m *tenantgen.Model, extra []accessv1.Role) snapshot.Objects {
	o := snapshot.Objects(m.Objects())
	o.Roles = append(o.Roles, extra...)
	return o
}

func (tn *tenant) record(m *tenantgen.Model, extra []accessv1.Role, acked time.Time) *state {
	tn.mu.Lock()
	defer tn.mu.Unlock()
	rev := snapshot.RevisionOf(tn.name, objectsOf(m, extra))
	if st, ok := tn.byRevision[rev]; ok {
		// The same content again (a change undone): it is now the latest.
		tn.nextSeq++
		st.seq, st.acked = tn.nextSeq, acked
		tn.cur = st
		return st
	}
	tn.nextSeq++
	st := &state{seq: tn.nextSeq, model: m, extra: extra, revision: rev, acked: acked}
	tn.byRevision[rev] = st
	tn.cur = st
	tn.recent = append(tn.recent, st)
	if len(tn.recent) > 12 {
		tn.recent = tn.recent[1:]
	}
	return st
}

// mixed finds a state that combines the Roles of one recent state with the
// UserGroups of another: the informers of different kinds deliver events
// independently, so a compile can see a Role change before an earlier
// UserGroup change, or after a later one. Such a revision was compiled
// from real object versions, just not from one applied state; answers at
// it are checked against exactly that combination.
func (tn *tenant) mixed(rev string) *state {
	tn.mu.Lock()
	defer tn.mu.Unlock()
	if st, ok := tn.mixes[rev]; ok {
		return st
	}
	for _, ri := range tn.recent {
		for _, gi := range tn.recent {
			if ri == gi {
				continue
			}
			m := gi.model.Clone()
			m.Roles = ri.model.Clone().Roles
			m.Reindex()
			if snapshot.RevisionOf(tn.name, objectsOf(m, ri.extra)) == rev {
				st := &state{seq: max(ri.seq, gi.seq), model: m, extra: ri.extra, revision: rev}
				if tn.mixes == nil {
					tn.mixes = map[string]*state{}
				}
				tn.mixes[rev] = st
				return st
			}
		}
	}
	return nil
}

func (tn *tenant) current() *state {
	tn.mu.Lock()
	defer tn.mu.Unlock()
	return tn.cur
}

func (tn *tenant) at(rev string) *state {
	tn.mu.Lock()
	defer tn.mu.Unlock()
	return tn.byRevision[rev]
}

// typed sets the object's TypeMeta (server-side apply needs it).
func (h *harness) typed(obj client.Object) client.Object {
	gvk, err := apiutil.GVKForObject(obj, h.scheme)
	if err == nil {
		obj.GetObjectKind().SetGroupVersionKind(gvk)
	}
	obj.SetResourceVersion("")
	obj.SetManagedFields(nil)
	return obj
}

func (h *harness) apply(ctx context.Context, obj client.Object) error {
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return h.admin.Patch(cctx, h.typed(obj), client.Apply, client.FieldOwner("soak"), client.ForceOwnership)
}

func (h *harness) populate(ctx context.Context, tn *tenant) {
	if err := h.admin.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: tn.name}}); err != nil {
		h.t.Fatal(err)
	}
	o := tn.current().model.Objects()
	var objs []client.Object
	for i := range o.Roles {
		objs = append(objs, &o.Roles[i])
	}
	for i := range o.Groups {
		objs = append(objs, &o.Groups[i])
	}
	for i := range o.FieldPolicies {
		objs = append(objs, &o.FieldPolicies[i])
	}
	for i := range o.ApprovalChains {
		objs = append(objs, &o.ApprovalChains[i])
	}
	work := make(chan client.Object)
	var wg sync.WaitGroup
	var failed atomic.Value
	for range 16 {
		wg.Go(func() {
			for obj := range work {
				if err := h.apply(ctx, obj); err != nil {
					failed.Store(fmt.Sprintf("%s: %v", obj.GetName(), err))
				}
			}
		})
	}
	for _, obj := range objs {
		work <- obj
	}
	close(work)
	wg.Wait()
	if f := failed.Load(); f != nil {
		h.t.Fatalf("populating %s: %s", tn.name, f)
	}
}

// ---- the run ----

type soakRun struct {
	h          *harness
	tenants    []*tenant
	start, end time.Time

	checked, wrong, unknown  atomic.Int64
	mixed                    atomic.Int64 // answers at a mix of two applied states' kinds
	firstWrong, firstUnknown atomic.Value
	changes, changeErrors    atomic.Int64
	invalidRejected          atomic.Int64
	invalidAccepted          atomic.Int64

	mu        sync.Mutex
	errors    map[string]int    // by cause
	answers   map[string][2]int // replica/second -> ok, failed
	propag    map[string][]propSample
	samples   []sample
	faultLogs []faultLog

	propagations sync.WaitGroup
}

type propSample struct {
	acked time.Time
	d     time.Duration
	big   bool // the large tenant (the others are small)
}

type sample struct {
	at         time.Duration
	rss        [2]int64
	goroutines [2]float64
	ready      [2]int
}

type faultLog struct {
	name     string
	from, to time.Time
	note     string
}

func (run *soakRun) countError(cause string) {
	run.mu.Lock()
	defer run.mu.Unlock()
	if run.errors == nil {
		run.errors = map[string]int{}
	}
	run.errors[cause]++
}

func (run *soakRun) bucket(r *replica, ok bool) {
	key := fmt.Sprintf("%s/%d", r.name, int(time.Since(run.start).Seconds()))
	run.mu.Lock()
	defer run.mu.Unlock()
	if run.answers == nil {
		run.answers = map[string][2]int{}
	}
	c := run.answers[key]
	if ok {
		c[0]++
	} else {
		c[1]++
	}
	run.answers[key] = c
}

// load sends evaluations at a fixed rate to one replica and checks each.
func (run *soakRun) load(ctx context.Context, r *replica, rate int) {
	tick := time.NewTicker(time.Second / time.Duration(rate))
	defer tick.Stop()
	rnd := rand.New(rand.NewPCG(uint64(r.authz), 7))
	var inflight sync.WaitGroup
	sem := make(chan struct{}, 16)
	for now := range tick.C {
		if now.After(run.end) {
			break
		}
		tn := run.tenants[rnd.IntN(len(run.tenants))]
		q := tn.reqs[rnd.IntN(len(tn.reqs))]
		select {
		case sem <- struct{}{}:
		default:
			run.countError(r.name + ": client saturated (requests still waiting)")
			continue
		}
		inflight.Go(func() {
			defer func() { <-sem }()
			a, err := r.evaluate(tn, q)
			if err != nil {
				run.bucket(r, false)
				run.countError(r.name + ": " + errorCause(err))
				return
			}
			run.bucket(r, true)
			if a.Context.Revision == "" {
				// Not served (a replica that just started): it must fail
				// closed.
				if a.Decision {
					if run.wrong.Add(1) == 1 {
						run.firstWrong.Store(fmt.Sprintf("%s %s: allowed without a snapshot (%s)", r.name, tn.name, a.Context.Reason))
					}
				}
				run.countError(r.name + ": tenant not served yet (denied, " + a.Context.Reason + ")")
				return
			}
			st := tn.at(a.Context.Revision)
			if st == nil {
				if st = tn.mixed(a.Context.Revision); st != nil {
					run.mixed.Add(1)
				}
			}
			if st == nil {
				if run.unknown.Add(1) == 1 {
					run.firstUnknown.Store(run.explainUnknown(ctx, tn, r, a.Context.Revision))
				}
				run.countError(r.name + ": answer at an unknown revision")
				return
			}
			run.checked.Add(1)
			want := st.model.Allowed(q.Subject, q.Action, q.Record)
			if a.Decision != want {
				if run.wrong.Add(1) == 1 {
					run.firstWrong.Store(fmt.Sprintf("%s %s: %s %s %s at %s: got %v (%s), reference %v",
						r.name, tn.name, q.Subject, q.Action, q.Record.Module, a.Context.Revision, a.Decision, a.Context.Reason, want))
				}
			}
		})
	}
	inflight.Wait()
}

func errorCause(err error) string {
	s := err.Error()
	switch {
	case strings.Contains(s, "connection refused"):
		return "connection refused"
	case strings.Contains(s, "Timeout") || strings.Contains(s, "deadline"):
		return "timeout"
	case strings.HasPrefix(s, "status "):
		return s[:min(len(s), 10)]
	}
	return s[:min(len(s), 60)]
}

// explainUnknown says how an unknown revision relates to what the API
// server holds now: a harness mistake shows as a difference between the
// listed objects and the model.
func (run *soakRun) explainUnknown(ctx context.Context, tn *tenant, r *replica, rev string) string {
	var roles accessv1.RoleList
	var groups accessv1.UserGroupList
	var fps accessv1.FieldPolicyList
	var chains accessv1.ApprovalChainList
	for _, l := range []client.ObjectList{&roles, &groups, &fps, &chains} {
		if err := run.h.admin.List(ctx, l, client.InNamespace(tn.name)); err != nil {
			return fmt.Sprintf("%s %s at %s (listing: %v)", r.name, tn.name, rev, err)
		}
	}
	listed := snapshot.Objects{Roles: roles.Items, Groups: groups.Items, FieldPolicies: fps.Items, ApprovalChains: chains.Items}
	cur := tn.current()
	model := objectsOf(cur.model, cur.extra)
	var diff []string
	names := func(o snapshot.Objects) map[string]string {
		out := map[string]string{}
		for _, x := range o.Roles {
			b, _ := json.Marshal(x.Spec)
			out["Role/"+x.Name] = string(b)
		}
		for _, x := range o.Groups {
			b, _ := json.Marshal(x.Spec)
			out["UserGroup/"+x.Name] = string(b)
		}
		return out
	}
	lm, mm := names(listed), names(model)
	for k, v := range lm {
		if mm[k] != v {
			diff = append(diff, k)
		}
	}
	for k := range mm {
		if _, ok := lm[k]; !ok {
			diff = append(diff, k+" (missing)")
		}
	}
	sort.Strings(diff)
	return fmt.Sprintf("%s %s at %s; the API now holds revision %s, the churner's current is %s; objects differing from the model: %d %.300v",
		r.name, tn.name, rev, snapshot.RevisionOf(tn.name, listed), cur.revision, len(diff), diff)
}

// churn applies one random change at a time at a steady rate; now and then
// an invalid one, which the webhook must reject.
func (run *soakRun) churn(ctx context.Context, rate int) {
	rnd := rand.New(rand.NewPCG(99, 1))
	tick := time.NewTicker(time.Second / time.Duration(rate))
	defer tick.Stop()
	n := 0
	for now := range tick.C {
		if now.After(run.end) {
			return
		}
		n++
		tn := run.tenants[0]
		if rnd.IntN(2) == 0 {
			tn = run.tenants[1+rnd.IntN(len(run.tenants)-1)]
		}
		if n%10 == 0 {
			run.invalid(ctx, tn, n)
			continue
		}
		cur := tn.current()
		next := cur.model.Clone()
		obj := mutate(next, rnd)
		next.Reindex()
		// Retry until acknowledged (the API server or the webhook may be
		// down): a failed apply may still have been persisted, so the
		// state is recorded as possible first.
		tn.recordPossible(next, cur.extra)
		deadline := time.Now().Add(90 * time.Second)
		for {
			err := run.h.apply(ctx, obj)
			if err == nil {
				st := tn.record(next, cur.extra, time.Now())
				run.changes.Add(1)
				run.propagate(tn, st)
				break
			}
			run.changeErrors.Add(1)
			run.countError("churner: " + errorCause(err))
			if time.Now().After(deadline) || time.Now().After(run.end.Add(60*time.Second)) {
				return
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
}

// recordPossible registers a state a failed apply may have persisted.
func (tn *tenant) recordPossible(m *tenantgen.Model, extra []accessv1.Role) {
	tn.mu.Lock()
	defer tn.mu.Unlock()
	rev := snapshot.RevisionOf(tn.name, objectsOf(m, extra))
	if _, ok := tn.byRevision[rev]; !ok {
		tn.nextSeq++
		tn.byRevision[rev] = &state{seq: tn.nextSeq, model: m, extra: extra, revision: rev}
	}
}

// invalid applies a Role whose condition does not compile. The webhook
// must reject it; if it is admitted (only possible while the webhook is
// down, which failurePolicy Fail forbids), the compiler leaves it out and
// answers must not change.
func (run *soakRun) invalid(ctx context.Context, tn *tenant, n int) {
	cur := tn.current()
	bad := accessv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: tn.name, Name: fmt.Sprintf("broken-%d", n)},
		Spec: accessv1.RoleSpec{Permissions: []accessv1.Permission{{Resources: []accessv1.ModuleName{"workorders"},
			Actions: []accessv1.ActionName{"view"}, When: "resource.properties.amount <"}}}}
	extra := append(slices.Clone(cur.extra), bad)
	tn.recordPossible(cur.model, extra)
	err := run.h.apply(ctx, bad.DeepCopy())
	switch {
	case err == nil:
		run.invalidAccepted.Add(1)
		tn.record(cur.model, extra, time.Now())
	case strings.Contains(err.Error(), "denied the request"):
		run.invalidRejected.Add(1)
	default:
		run.countError("churner (invalid change): " + errorCause(err))
	}
}

// mutate changes one object of the model and returns it as applied.
func mutate(m *tenantgen.Model, rnd *rand.Rand) client.Object {
	o := func(kind string, name string) client.Object {
		objs := m.Objects()
		switch kind {
		case "role":
			for i := range objs.Roles {
				if objs.Roles[i].Name == name {
					return &objs.Roles[i]
				}
			}
		case "group":
			for i := range objs.Groups {
				if objs.Groups[i].Name == name {
					return &objs.Groups[i]
				}
			}
		}
		panic("no " + kind + " " + name)
	}
	for {
		switch rnd.IntN(5) {
		case 0: // a role gains or loses an action
			r := &m.Roles[rnd.IntN(len(m.Roles))]
			if len(r.Perms) == 0 {
				continue
			}
			p := &r.Perms[rnd.IntN(len(r.Perms))]
			a := tenantgen.Actions[rnd.IntN(len(tenantgen.Actions))]
			if i := slices.Index(p.Actions, a); i >= 0 && len(p.Actions) > 1 {
				p.Actions = slices.Delete(p.Actions, i, i+1)
			} else if i < 0 {
				p.Actions = append(p.Actions, a)
			}
			return o("role", r.Name)
		case 1: // a permission changes scope
			r := &m.Roles[rnd.IntN(len(m.Roles))]
			if len(r.Perms) == 0 {
				continue
			}
			scopes := []string{tenantgen.All, tenantgen.Own, tenantgen.Assigned, tenantgen.OwnOrAssigned, tenantgen.Contact,
				tenantgen.Unit, tenantgen.UnitTree, tenantgen.Facility, tenantgen.Company}
			r.Perms[rnd.IntN(len(r.Perms))].Scope = scopes[rnd.IntN(len(scopes))]
			return o("role", r.Name)
		case 2: // a user joins a group
			g := &m.Groups[rnd.IntN(len(m.Groups))]
			u := &m.Users[rnd.IntN(len(m.Users))]
			if slices.Contains(g.Members, u.ID) {
				continue
			}
			g.Members = append(g.Members, u.ID)
			u.Groups = append(u.Groups, g.Name)
			return o("group", g.Name)
		case 3: // a user leaves a group
			g := &m.Groups[rnd.IntN(len(m.Groups))]
			if len(g.Members) < 2 {
				continue
			}
			id := g.Members[rnd.IntN(len(g.Members))]
			g.Members = slices.DeleteFunc(g.Members, func(x string) bool { return x == id })
			for i := range m.Users {
				if m.Users[i].ID == id {
					m.Users[i].Groups = slices.DeleteFunc(m.Users[i].Groups, func(x string) bool { return x == g.Name })
				}
			}
			return o("group", g.Name)
		case 4: // a group gains or loses a role
			g := &m.Groups[rnd.IntN(len(m.Groups))]
			r := m.Roles[rnd.IntN(len(m.Roles))].Name
			if i := slices.Index(g.Roles, r); i >= 0 {
				g.Roles = slices.Delete(g.Roles, i, i+1)
			} else {
				g.Roles = append(g.Roles, r)
			}
			return o("group", g.Name)
		}
	}
}

// propagate measures, on each replica, from the acknowledgement of st
// until the replica first answers at st's revision or a later one.
func (run *soakRun) propagate(tn *tenant, st *state) {
	for _, r := range run.h.replicas {
		run.propagations.Go(func() {
			deadline := st.acked.Add(60 * time.Second)
			for time.Now().Before(deadline) {
				rev, err := r.revision(tn)
				if err == nil {
					if got := tn.at(rev); got != nil && got.seq >= st.seq {
						run.mu.Lock()
						if run.propag == nil {
							run.propag = map[string][]propSample{}
						}
						run.propag[r.name] = append(run.propag[r.name], propSample{st.acked, time.Since(st.acked), tn == run.tenants[0]})
						run.mu.Unlock()
						return
					}
				}
				time.Sleep(20 * time.Millisecond)
			}
			run.countError(r.name + ": a change not served within 60 s")
		})
	}
}

// monitor samples memory, goroutines and readiness every 2 s.
func (run *soakRun) monitor() {
	for time.Now().Before(run.end) {
		var s sample
		s.at = time.Since(run.start)
		for i, r := range run.h.replicas {
			s.rss[i], s.goroutines[i], s.ready[i] = r.rss(), r.metric("go_goroutines"), r.ready()
		}
		run.mu.Lock()
		run.samples = append(run.samples, s)
		run.mu.Unlock()
		time.Sleep(2 * time.Second)
	}
}

// faults runs each fault once per cycle of the run.
func (run *soakRun) faults(ctx context.Context, d time.Duration) {
	type fault struct {
		name string
		do   func() string
	}
	h := run.h
	leader := func() *replica {
		for _, r := range h.replicas {
			if r.metric("leader_election_master_status") > 0 {
				return r
			}
		}
		return h.replicas[0]
	}
	faults := []fault{
		{"kill -9 of replica-2 (restarted by the supervisor after 1 s)", func() string {
			r := h.replicas[1]
			start := time.Now()
			r.signal(syscall.SIGKILL)
			time.Sleep(500 * time.Millisecond)
			ok := waitFor(90*time.Second, 100*time.Millisecond, func() bool { return r.ready() == 200 })
			return fmt.Sprintf("ready again after %s: %v", time.Since(start).Round(100*time.Millisecond), ok)
		}},
		{"the leader paused (SIGSTOP) for 20 s, past its 15 s lease", func() string {
			r := leader()
			r.signal(syscall.SIGSTOP)
			time.Sleep(20 * time.Second)
			other := h.replicas[0]
			if other == r {
				other = h.replicas[1]
			}
			took := other.metric("leader_election_master_status") > 0
			before := r.restarts.Load()
			r.signal(syscall.SIGCONT)
			// Having lost its lease, the paused replica exits on resume and
			// its supervisor restarts it.
			ok := waitFor(90*time.Second, 100*time.Millisecond, func() bool { return r.restarts.Load() > before && r.ready() == 200 })
			return fmt.Sprintf("paused %s; %s took the lease: %v; %s restarted and ready again: %v", r.name, other.name, took, r.name, ok)
		}},
		{"kube-apiserver killed, down 5 s, restarted", func() string {
			p, err := restartProc(h.apiserverArgs, 5*time.Second)
			h.apiserverArgs = p
			ok := waitFor(60*time.Second, 200*time.Millisecond, func() bool {
				return h.admin.List(ctx, &corev1.NamespaceList{}) == nil
			})
			return fmt.Sprintf("restart error %v; API server answering again: %v", err, ok)
		}},
		{"etcd killed, down 5 s, restarted", func() string {
			p, err := restartProc(h.etcdArgs, 5*time.Second)
			h.etcdArgs = p
			ok := waitFor(60*time.Second, 200*time.Millisecond, func() bool {
				return h.admin.List(ctx, &corev1.NamespaceList{}) == nil
			})
			return fmt.Sprintf("restart error %v; API server answering again: %v", err, ok)
		}},
	}
	// One fault every `gap`, cycling; the first after 15 s of quiet.
	gap := max(15*time.Second, d/time.Duration(2*len(faults)+1))
	next := run.start.Add(15 * time.Second)
	for i := 0; ; i++ {
		f := faults[i%len(faults)]
		time.Sleep(time.Until(next))
		if time.Now().Add(30 * time.Second).After(run.end) {
			return // not enough time left to see it recover
		}
		from := time.Now()
		note := f.do()
		run.mu.Lock()
		run.faultLogs = append(run.faultLogs, faultLog{name: f.name, from: from, to: time.Now(), note: note})
		run.mu.Unlock()
		next = time.Now().Add(gap)
	}
}

// ---- the report ----

func pct(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[min(len(s)-1, int(p*float64(len(s))))]
}

func (run *soakRun) report() string {
	run.mu.Lock()
	defer run.mu.Unlock()
	var b strings.Builder
	fmt.Fprintf(&b, "soak: %s, %d tenants, 2 replicas\n", run.end.Sub(run.start).Round(time.Second), len(run.tenants))
	fmt.Fprintf(&b, "answers checked: %d; wrong: %d; at an unknown revision: %d; at a revision mixing the Roles of one applied state with the UserGroups of another (checked against that mix): %d\n",
		run.checked.Load(), run.wrong.Load(), run.unknown.Load(), run.mixed.Load())
	if u := run.firstUnknown.Load(); u != nil {
		fmt.Fprintf(&b, "first unknown revision: %s\n", u)
	}
	fmt.Fprintf(&b, "changes applied: %d (apply errors, retried: %d); invalid changes rejected by the webhook: %d, admitted: %d\n",
		run.changes.Load(), run.changeErrors.Load(), run.invalidRejected.Load(), run.invalidAccepted.Load())
	inFault := func(at time.Time) bool {
		for _, f := range run.faultLogs {
			if !at.Before(f.from.Add(-time.Second)) && at.Before(f.to.Add(10*time.Second)) {
				return true
			}
		}
		return false
	}
	for _, r := range run.h.replicas {
		var all, quiet, quietSmall []time.Duration
		for _, p := range run.propag[r.name] {
			all = append(all, p.d)
			if !inFault(p.acked) {
				quiet = append(quiet, p.d)
				if !p.big {
					quietSmall = append(quietSmall, p.d)
				}
			}
		}
		for _, set := range []struct {
			name string
			ds   []time.Duration
		}{{"outside faults", quiet}, {"outside faults, small tenants", quietSmall}, {"all", all}} {
			fmt.Fprintf(&b, "propagation to %s, %s (acknowledged -> first answer at that revision): n=%d p50=%s p99=%s max=%s\n",
				r.name, set.name, len(set.ds), pct(set.ds, .5).Round(time.Millisecond), pct(set.ds, .99).Round(time.Millisecond), pct(set.ds, 1).Round(time.Millisecond))
		}
	}
	causes := make([]string, 0, len(run.errors))
	for c := range run.errors {
		causes = append(causes, c)
	}
	sort.Strings(causes)
	b.WriteString("errors by cause:\n")
	for _, c := range causes {
		fmt.Fprintf(&b, "  %6d  %s\n", run.errors[c], c)
	}
	b.WriteString("faults (window = the fault and 10 s after):\n")
	for _, f := range run.faultLogs {
		to := f.to.Add(10 * time.Second)
		fmt.Fprintf(&b, "  at %s: %s (%s): %s\n", f.from.Sub(run.start).Round(time.Second), f.name, f.to.Sub(f.from).Round(time.Second), f.note)
		for _, r := range run.h.replicas {
			down := 0
			for s := int(f.from.Sub(run.start).Seconds()); s <= int(to.Sub(run.start).Seconds()); s++ {
				c := run.answers[fmt.Sprintf("%s/%d", r.name, s)]
				if c[0] == 0 && c[1] > 0 {
					down++
				}
			}
			var ready []string
			for _, s := range run.samples {
				at := run.start.Add(s.at)
				if at.After(f.from) && at.Before(to) {
					ready = append(ready, strconv.Itoa(s.ready[slices.Index(run.h.replicas, r)]))
				}
			}
			fmt.Fprintf(&b, "    %s: %d s without an answer; /readyz: %s\n", r.name, down, strings.Join(ready, " "))
		}
	}
	for _, r := range run.h.replicas {
		fmt.Fprintf(&b, "%s exited and was restarted %d times\n", r.name, r.restarts.Load())
	}
	b.WriteString("memory and goroutines (RSS MB / goroutines, every ~20 s):\n")
	for i, s := range run.samples {
		if i%10 != 0 && i != len(run.samples)-1 {
			continue
		}
		fmt.Fprintf(&b, "  %6s  replica-1 %4d MB %5.0f   replica-2 %4d MB %5.0f\n", s.at.Round(time.Second),
			s.rss[0]>>20, s.goroutines[0], s.rss[1]>>20, s.goroutines[1])
	}
	return b.String()
}

func waitFor(timeout, every time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(every)
	}
	return true
}
