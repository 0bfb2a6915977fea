// Package console serves `gatehouse console`: a read-only web console that
// shows a tenant's access the way its admins think of it (overview, role
// matrix, field access, people, explain and who-can, changes, what-if).
//
// Pages are server-rendered with html/template (every value from policy is
// escaped by it), assets are embedded, and every page is a GET of its own
// URL so that a link can be pasted into a ticket. The what-if page posts
// edits and answers with the effective diff; nothing is ever written to a
// cluster: changes go through Git.
//
// Everything the pages show is computed with the one compiler and
// evaluator (internal/snapshot), through the views of internal/views.
package console

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net"
	"net/http"
	"sort"
	"sync/atomic"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/manifest"
	"github.com/gatehouse-dev/gatehouse/internal/snapshot"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed assets
var assetFS embed.FS

// Loader reads the policy the console shows: the manifests of -f, or the
// objects of the cluster.
type Loader func(ctx context.Context) (*manifest.Set, error)

// Options configure a Server.
type Options struct {
	// Load reads the policy; required.
	Load Loader
	// Fingerprint summarizes the inputs (names, sizes, times of files);
	// Watch reloads when it changes. nil: Watch never reloads.
	Fingerprint func() string
	// Source describes the input in the page header, e.g. "config/samples".
	Source string
	// Trail lists audit trail files or directories for the Changes page.
	Trail []string
	// Roots are the files and directories of -f: the diff page reads
	// only inside them (and Git revisions of them). Empty: no diff page.
	Roots []string
	// Limits are the quotas the compiler applies (zero: the defaults).
	Limits *snapshot.Limits
	// Now is the clock (nil: time.Now).
	Now func() time.Time
}

// Tenant is one tenant as loaded: its objects, where they came from, and
// what they compiled to.
type Tenant struct {
	Name     string
	Objects  snapshot.Objects
	Snapshot *snapshot.Snapshot // nil when the tenant is over its compiled-size quota
	Problems []snapshot.Problem
	// Set holds the objects' files and lines (Set.Find(...).Pos()).
	Set *manifest.Set
}

// State is one load of the policy; it is never modified once built.
type State struct {
	Tenants  []*Tenant // sorted by name
	byName   map[string]*Tenant
	LoadedAt time.Time
	// Err is the last load's error; the previous tenants keep showing.
	Err error
}

// Tenant returns the tenant named name, nil when unknown.
func (s *State) Tenant(name string) *Tenant { return s.byName[name] }

// Server is the console's http.Handler.
type Server struct {
	opts  Options
	limit snapshot.Limits
	state atomic.Pointer[State]
	pages map[string]*template.Template // by page name
	mux   *http.ServeMux
	trail trailCache
}

// New loads the policy once and returns the console. A policy that cannot
// be read is an error; one that reads but has problems is shown with them.
func New(ctx context.Context, opts Options) (*Server, error) {
	if opts.Load == nil {
		return nil, errors.New("console: Options.Load is required")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Server{opts: opts, limit: snapshot.DefaultLimits()}
	if opts.Limits != nil {
		s.limit = *opts.Limits
	}
	if err := s.parseTemplates(); err != nil {
		return nil, err
	}
	s.routes()
	if err := s.Reload(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// Reload reads and compiles the policy again. On error the previous state
// keeps showing, with the error in the header.
func (s *Server) Reload(ctx context.Context) error {
	set, err := s.opts.Load(ctx)
	if err != nil {
		if prev := s.state.Load(); prev != nil {
			next := *prev
			next.Err = err
			s.state.Store(&next)
		}
		return err
	}
	st := &State{byName: map[string]*Tenant{}, LoadedAt: s.opts.Now()}
	for name, objs := range set.ByTenant() {
		snap, problems := snapshot.CompileWith(name, objs, snapshot.Options{Limits: s.limit})
		t := &Tenant{Name: name, Objects: objs, Snapshot: snap, Problems: problems, Set: set}
		st.Tenants = append(st.Tenants, t)
		st.byName[name] = t
	}
	sort.Slice(st.Tenants, func(i, j int) bool { return st.Tenants[i].Name < st.Tenants[j].Name })
	s.state.Store(st)
	return nil
}

// State returns what the console shows now.
func (s *Server) State() *State { return s.state.Load() }

// Watch reloads whenever Options.Fingerprint changes and has held for one
// interval (an editor's half-written file is never read), until ctx ends.
func (s *Server) Watch(ctx context.Context, interval time.Duration) {
	if s.opts.Fingerprint == nil {
		return
	}
	served, pending := s.opts.Fingerprint(), ""
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		cur := s.opts.Fingerprint()
		switch {
		case cur == served:
			pending = ""
		case cur != pending:
			pending = cur
		default:
			served, pending = cur, ""
			_ = s.Reload(ctx) // the error shows in the header
		}
	}
}

// ServeHTTP serves the console to loopback clients only: a request whose
// Host is not a loopback address or localhost is refused (a web page the
// admin visits cannot reach the console by DNS rebinding).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !loopbackHost(r.Host) {
		http.Error(w, "the console answers only on loopback addresses (Host header)", http.StatusMisdirectedRequest)
		return
	}
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	if r.Method == http.MethodPost && !sameOrigin(r) {
		http.Error(w, "cross-origin form posts are refused", http.StatusForbidden)
		return
	}
	s.mux.ServeHTTP(w, r)
}

// loopbackHost reports whether a Host header names this machine.
func loopbackHost(hostport string) bool {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		host = hostport
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// sameOrigin accepts a POST without an Origin header (curl, tests) or with
// the console's own origin.
func sameOrigin(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	return origin == "" || origin == "http://"+r.Host
}

// ListenLoopback listens on addr, which must be a loopback address (the
// console shows every subject of every tenant it reads, with the admin's
// own credentials).
func ListenLoopback(addr string) (net.Listener, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("--listen: %w", err)
	}
	if !loopbackHost(host) {
		return nil, fmt.Errorf("--listen: %.40q is not a loopback address: the console serves this machine only", host)
	}
	return net.Listen("tcp", addr)
}

func (s *Server) parseTemplates() error {
	base, err := template.New("layout").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/partials.html")
	if err != nil {
		return fmt.Errorf("console: layout: %w", err)
	}
	s.pages = map[string]*template.Template{}
	for _, p := range pages {
		if p.template == "" {
			continue
		}
		t, err := template.Must(base.Clone()).ParseFS(templateFS, "templates/"+p.template)
		if err != nil {
			return fmt.Errorf("console: page %s: %w", p.name, err)
		}
		s.pages[p.name] = t
	}
	return nil
}

func (s *Server) routes() {
	s.mux = http.NewServeMux()
	assets, _ := fs.Sub(assetFS, "assets")
	s.mux.Handle("GET /assets/", http.StripPrefix("/assets/", http.FileServerFS(assets)))
	for _, p := range pages {
		s.mux.HandleFunc(p.pattern, func(w http.ResponseWriter, r *http.Request) { s.serve(w, r, p) })
	}
}
