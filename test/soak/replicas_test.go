//go:build soak

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
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
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
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	accessv1 "github.com/gatehouse-dev/gatehouse/api/v1alpha1"
	"github.com/gatehouse-dev/gatehouse/internal/tenantgen"
	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

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
	// auditRx receives replica 1's audit trail over HTTP.
	auditRx *auditReceiver
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
	if h.auditRx, err = newAuditReceiver(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.auditRx.srv.Close)
	// Replica 1 serves the webhook envtest registered (one URL); replica 2
	// writes its audit trail to /dev/full: the audit destination failing,
	// for the whole run (the default serves anyway, and counts the loss).
	h.replicas = []*replica{
		{name: "replica-1", bin: bin, kubeconfig: kubeconfig, dir: h.dir, audit: filepath.Join(h.dir, "audit-1.log"),
			// Its authorization endpoint serves TLS with the webhook's
			// certificate, named explicitly: --authz-insecure-plain-http
			// (every replica's) means plain HTTP when no certificate is.
			extra: []string{"--webhook-cert-dir=" + wh.LocalServingCertDir, "--webhook-port=" + strconv.Itoa(wh.LocalServingPort),
				"--authz-cert-file=" + filepath.Join(wh.LocalServingCertDir, "tls.crt"), "--authz-key-file=" + filepath.Join(wh.LocalServingCertDir, "tls.key"),
				"--audit-http-url=" + h.auditRx.srv.URL, "--audit-http-spool-dir=" + spoolDir(h.dir, "replica-1")},
			spool: spoolDir(h.dir, "replica-1")},
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
	spool                             string // its audit spool directory, if any
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
