package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/authz"
	"github.com/gatehouse-dev/gatehouse/internal/store"
	"github.com/gatehouse-dev/gatehouse/internal/tenantgen"
)

// Server is one system under HTTP load.
type Server struct {
	Name      string
	Base      string // http://127.0.0.1:port
	Check     string // single-check URL
	Batch     string // batch URL ("" when none)
	Startup   time.Duration
	RSS       uint64 // resident memory after load, bytes (external servers)
	Version   string
	stop      func()
	body      func(r tenantgen.Request) []byte
	decision  func(b []byte, r tenantgen.Request) (bool, error)
	batchBody func(rs []tenantgen.Request) []byte
	batchDec  func(b []byte) ([]bool, error)
}

// Stop ends the server.
func (s *Server) Stop() {
	if s.stop != nil {
		s.stop()
	}
}

// Body is the single-check request body of r.
func (s *Server) Body(r tenantgen.Request) []byte { return s.body(r) }

// BatchBody is the batch request body of rs (nil when there is no batch).
func (s *Server) BatchBody(rs []tenantgen.Request) []byte {
	if s.batchBody == nil {
		return nil
	}
	return s.batchBody(rs)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer func() { _ = l.Close() }()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func serveInProcess(name string, h http.Handler) (*Server, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(l) }()
	return &Server{Name: name, Base: "http://" + l.Addr().String(), stop: func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}}, nil
}

// AuthZENEval is a generated request as an AuthZEN evaluation object.
func AuthZENEval(r tenantgen.Request) map[string]any {
	rec := r.Record
	props := map[string]any{"ownerId": rec.OwnerID, "unit": rec.Unit, "facilityId": rec.FacilityID,
		"companyId": rec.CompanyID, "amount": rec.Amount}
	if rec.AssigneeIDs != nil {
		props["assigneeIds"] = rec.AssigneeIDs
	}
	if rec.ProjectContacts != nil {
		props["projectContacts"] = rec.ProjectContacts
	}
	return map[string]any{
		"subject":  map[string]any{"type": "user", "id": r.Subject},
		"action":   map[string]any{"name": r.Action},
		"resource": map[string]any{"type": rec.Module, "id": rec.ID, "properties": props},
	}
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// StartGatehouse serves t's snapshot with internal/authz on a loopback
// listener (no authentication, as for development).
func StartGatehouse(t *Tenant) (*Server, error) {
	st := store.New()
	st.Set(t.Model.Tenant, &store.Entry{Snapshot: t.Snap, CompiledAt: time.Now()})
	h, err := authz.New(st, authz.Options{Authenticator: authz.None{}, TenantAuthorizer: authz.None{}})
	if err != nil {
		return nil, err
	}
	s, err := serveInProcess("gatehouse", h)
	if err != nil {
		return nil, err
	}
	s.Check = s.Base + "/tenants/" + t.Model.Tenant + "/access/v1/evaluation"
	s.Batch = s.Base + "/tenants/" + t.Model.Tenant + "/access/v1/evaluations"
	s.body = func(r tenantgen.Request) []byte { return mustJSON(AuthZENEval(r)) }
	s.decision = func(b []byte, _ tenantgen.Request) (bool, error) {
		var out struct {
			Decision *bool `json:"decision"`
		}
		if err := json.Unmarshal(b, &out); err != nil || out.Decision == nil {
			return false, fmt.Errorf("gatehouse answer %q: %v", truncate(b), err)
		}
		return *out.Decision, nil
	}
	s.batchBody = func(rs []tenantgen.Request) []byte {
		evs := make([]any, len(rs))
		for i, r := range rs {
			evs[i] = AuthZENEval(r)
		}
		return mustJSON(map[string]any{"evaluations": evs})
	}
	s.batchDec = func(b []byte) ([]bool, error) {
		var out struct {
			Evaluations []struct {
				Decision bool `json:"decision"`
			} `json:"evaluations"`
		}
		if err := json.Unmarshal(b, &out); err != nil {
			return nil, fmt.Errorf("gatehouse batch answer %q: %v", truncate(b), err)
		}
		ds := make([]bool, len(out.Evaluations))
		for i, e := range out.Evaluations {
			ds[i] = e.Decision
		}
		return ds, nil
	}
	return s, nil
}

// StartBare serves a bare net/http + encoding/json handler that decodes an
// AuthZEN evaluation and answers {"decision":true} without any policy: the
// ceiling of the HTTP stack on this machine.
func StartBare() (*Server, error) {
	type eval struct {
		Subject struct {
			Type string `json:"type"`
			ID   string `json:"id"`
		} `json:"subject"`
		Action struct {
			Name string `json:"name"`
		} `json:"action"`
		Resource struct {
			Type       string         `json:"type"`
			ID         string         `json:"id"`
			Properties map[string]any `json:"properties"`
		} `json:"resource"`
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var e eval
		if err := json.NewDecoder(r.Body).Decode(&e); err != nil || e.Subject.ID == "" {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"decision": true})
	})
	s, err := serveInProcess("bare net/http", h)
	if err != nil {
		return nil, err
	}
	s.Check = s.Base + "/access/v1/evaluation"
	s.body = func(r tenantgen.Request) []byte { return mustJSON(AuthZENEval(r)) }
	return s, nil
}

type procServer struct {
	cmd  *exec.Cmd
	done chan struct{}
	log  *os.File
}

func startProc(bin string, args []string, logPath string) (*procServer, error) {
	lf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = lf, lf
	if err := cmd.Start(); err != nil {
		_ = lf.Close()
		return nil, err
	}
	p := &procServer{cmd: cmd, done: make(chan struct{}), log: lf}
	go func() { _ = cmd.Wait(); close(p.done) }()
	return p, nil
}

func (p *procServer) stop() {
	_ = p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
	_ = p.log.Close()
}

// waitReady polls a health URL until it answers 200, the process dies, or
// the timeout passes.
func waitReady(p *procServer, u string, timeout time.Duration) error {
	c := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		select {
		case <-p.done:
			return errors.New("server exited during startup (see its log)")
		default:
		}
		if resp, err := c.Get(u); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("%s not ready after %v", u, timeout)
}

// RSSOf is a process's resident set size in bytes (VmRSS).
func RSSOf(pid int) uint64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			f := strings.Fields(line)
			if len(f) >= 2 {
				kb, _ := strconv.ParseUint(f[1], 10, 64)
				return kb << 10
			}
		}
	}
	return 0
}

func cmdVersion(bin string, args ...string) string {
	out, err := exec.Command(bin, args...).CombinedOutput()
	if err != nil {
		return "?"
	}
	for _, line := range strings.Split(string(out), "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(strings.ToLower(line), "version") || strings.Contains(line, "Cerbos") || strings.Contains(line, "Version:") {
			return line
		}
	}
	return strings.TrimSpace(strings.SplitN(string(out), "\n", 2)[0])
}

// StartOPA runs `opa run --server` on t's policy and data, loopback only.
func StartOPA(bin string, t *Tenant, dir string) (*Server, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "gatehouse.rego"), []byte(RegoPolicy), 0o644); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "data.json"), mustJSON(OPAData(t)), 0o644); err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	start := time.Now()
	p, err := startProc(bin, []string{"run", "--server", "--addr", addr, "--log-level", "error", "--disable-telemetry",
		filepath.Join(dir, "gatehouse.rego"), filepath.Join(dir, "data.json")}, filepath.Join(dir, "opa.log"))
	if err != nil {
		return nil, err
	}
	base := "http://" + addr
	if err := waitReady(p, base+"/health", 60*time.Second); err != nil {
		p.stop()
		return nil, fmt.Errorf("opa: %w", err)
	}
	s := &Server{Name: "opa server", Base: base, Check: base + "/v1/data/gatehouse/allow", Batch: base + "/v1/data/gatehouse/decisions",
		Startup: time.Since(start), stop: p.stop, Version: cmdVersion(bin, "version")}
	s.RSS = RSSOf(p.cmd.Process.Pid)
	s.stop = func() { s.RSS = max(s.RSS, RSSOf(p.cmd.Process.Pid)); p.stop() }
	s.body = func(r tenantgen.Request) []byte { return mustJSON(map[string]any{"input": OPAInput(r)}) }
	s.decision = func(b []byte, _ tenantgen.Request) (bool, error) {
		var out struct {
			Result *bool `json:"result"`
		}
		if err := json.Unmarshal(b, &out); err != nil || out.Result == nil {
			return false, fmt.Errorf("opa answer %q: %v", truncate(b), err)
		}
		return *out.Result, nil
	}
	s.batchBody = func(rs []tenantgen.Request) []byte {
		evs := make([]any, len(rs))
		for i, r := range rs {
			evs[i] = OPAInput(r)
		}
		return mustJSON(map[string]any{"input": map[string]any{"evaluations": evs}})
	}
	s.batchDec = func(b []byte) ([]bool, error) {
		var out struct {
			Result []bool `json:"result"`
		}
		if err := json.Unmarshal(b, &out); err != nil {
			return nil, fmt.Errorf("opa batch answer %q: %v", truncate(b), err)
		}
		return out.Result, nil
	}
	return s, nil
}

// StartCerbos runs `cerbos server` on t's policies, loopback only.
func StartCerbos(bin string, t *Tenant, dir string) (*Server, error) {
	hp, err := freePort()
	if err != nil {
		return nil, err
	}
	gp, err := freePort()
	if err != nil {
		return nil, err
	}
	conf, err := WriteCerbos(t, dir, hp, gp)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	p, err := startProc(bin, []string{"server", "--config=" + conf, "--log-level=error"}, filepath.Join(dir, "cerbos.log"))
	if err != nil {
		return nil, err
	}
	base := fmt.Sprintf("http://127.0.0.1:%d", hp)
	if err := waitReady(p, base+"/_cerbos/health", 120*time.Second); err != nil {
		p.stop()
		return nil, fmt.Errorf("cerbos: %w", err)
	}
	s := &Server{Name: "cerbos server", Base: base, Check: base + "/api/check/resources", Startup: time.Since(start),
		Version: cmdVersion(bin, "--version")}
	s.RSS = RSSOf(p.cmd.Process.Pid)
	s.stop = func() { s.RSS = max(s.RSS, RSSOf(p.cmd.Process.Pid)); p.stop() }
	var once sync.Once
	var principals map[string]*CerbosPrincipal
	s.body = func(r tenantgen.Request) []byte {
		once.Do(func() { principals = CerbosPrincipals(t) })
		return CerbosBody(principals[r.Subject], r)
	}
	s.decision = func(b []byte, r tenantgen.Request) (bool, error) { return CerbosDecision(b, r.Action) }
	return s, nil
}

// Verify sends every request of t to s (and, when s has one, every
// request again in batches of 100) and compares the answers with
// Gatehouse's Check. Bodies are built once and returned for the load.
func Verify(ctx context.Context, s *Server, t *Tenant) (bodies [][]byte, err error) {
	bodies = make([][]byte, len(t.Reqs))
	for i, r := range t.Reqs {
		bodies[i] = s.Body(r)
	}
	if s.decision == nil {
		return bodies, nil
	}
	c := NewClient(8)
	defer c.CloseIdleConnections()
	bad := make([]string, 0)
	var mu sync.Mutex
	var firstErr error
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < len(t.Reqs); i += 8 {
				if ctx.Err() != nil {
					return
				}
				b, err := Post(c, s.Check, bodies[i])
				var got bool
				if err == nil {
					got, err = s.decision(b, t.Reqs[i])
				}
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = err
				}
				if err == nil && got != t.Want[i] {
					r := t.Reqs[i]
					bad = append(bad, fmt.Sprintf("#%d %s %s %s (%s): %v, gatehouse %v", i, r.Subject, r.Action, r.Record.Module, r.Relation, got, t.Want[i]))
				}
				mu.Unlock()
				if err != nil {
					return
				}
			}
		}(w)
	}
	wg.Wait()
	if firstErr != nil {
		return nil, fmt.Errorf("%s: %w", s.Name, firstErr)
	}
	if s.batchBody != nil {
		for off := 0; off < len(t.Reqs); off += 100 {
			rs := t.Reqs[off:min(off+100, len(t.Reqs))]
			b, err := Post(c, s.Batch, s.batchBody(rs))
			if err != nil {
				return nil, fmt.Errorf("%s batch: %w", s.Name, err)
			}
			ds, err := s.batchDec(b)
			if err != nil {
				return nil, err
			}
			if len(ds) != len(rs) {
				return nil, fmt.Errorf("%s batch at %d: %d answers for %d requests", s.Name, off, len(ds), len(rs))
			}
			for j, d := range ds {
				if d != t.Want[off+j] {
					bad = append(bad, fmt.Sprintf("batch #%d: %v, gatehouse %v", off+j, d, t.Want[off+j]))
				}
			}
		}
	}
	return bodies, mismatches(s.Name, bad, len(t.Reqs))
}
