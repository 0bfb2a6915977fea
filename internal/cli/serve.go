package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/gatehouse-dev/gatehouse/internal/authz"
	"github.com/gatehouse-dev/gatehouse/internal/manifest"
	"github.com/gatehouse-dev/gatehouse/internal/snapshot"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// Authentication modes of gatehouse serve.
const (
	AuthnNone  = "none"
	AuthnToken = "token"
)

// noneWarning is printed whenever serve runs without authentication.
const noneWarning = "gatehouse: WARNING: --authn=none: anyone who can reach %s can query every tenant's decisions; use it only on a trusted machine\n"

const serveLong = `Serve runs the authorization endpoint (AuthZEN evaluation, evaluations and
search, the native fields, plan and approval endpoints) over snapshots
compiled from files, with no cluster: the embedded default for development,
tests and small installations.

Tenants are served under /tenants/<tenant>/...; with a single tenant, also at
the root (/access/v1/evaluation). With --watch the manifests are re-read
once a change has held for one --interval (so a half-written file is not
served); a version with unreadable files, or with no Gatehouse object at
all, is not served (the previous one stays), and objects with compile
problems are left out, as on a cluster.

Callers authenticate with a bearer token (--authn=token, the default, with
the token in --token-file) or not at all (--authn=none, printed as a warning;
for a trusted machine only). Plain HTTP: put TLS in front of it.`

func newServeCmd(e *env) *cobra.Command {
	var (
		src       source
		listen    string
		authn     string
		tokenFile string
		watch     bool
		interval  time.Duration
		opts      authz.Options
		srvOpts   authz.ServerOptions
		// tenantLimits are the tenant quotas, as in the operator.
		tenantLimits = snapshot.DefaultLimits()
	)
	cmd := &cobra.Command{
		Use:   "serve -f DIR [--watch] [--listen ADDR] [--authn=token|none]",
		Short: "Serve the authorization endpoint from files, no cluster needed",
		Long:  serveLong,
		Example: `  gatehouse serve -f config/samples --watch --authn=none
  gatehouse serve -f policy/ --listen :8080 --token-file /run/secrets/gatehouse-token`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := tenantLimits.Validate(); err != nil {
				return usageError("%v", err)
			}
			if src.fromCluster && watch {
				return usageError("--watch works on files only; the operator serves from the cluster")
			}
			for _, f := range src.files {
				if f == manifest.Stdin && watch {
					return usageError("--watch cannot watch standard input")
				}
			}
			switch authn {
			case AuthnNone:
				opts.Authenticator, opts.TenantAuthorizer = authz.None{}, authz.None{}
			case AuthnToken:
				if tokenFile == "" {
					return usageError("--authn=token needs --token-file (or pass --authn=none on a trusted machine)")
				}
				data, err := os.ReadFile(tokenFile)
				if err != nil {
					return usageError("%v", err)
				}
				token := strings.TrimSpace(string(data))
				if token == "" {
					return usageError("%s: empty token", tokenFile)
				}
				opts.Authenticator = authz.StaticTokens{token: &authz.Caller{Name: "gatehouse-serve", Key: "gatehouse-serve"}}
				opts.TenantAuthorizer = authz.None{}
			default:
				return usageError("--authn must be token or none, not %q", authn)
			}
			st := store.New()
			set, err := src.readLean(e)
			if err != nil {
				return err
			}
			tenants := serveSet(e, st, set, src.tenant, tenantLimits)
			if len(tenants) == 0 {
				return usageError("no Gatehouse objects found in %s", src.where())
			}
			// What reading and compiling left behind (files, parse
			// trees) goes back to the system: the resident memory from
			// here on is the snapshots'.
			debug.FreeOSMemory()
			if len(tenants) == 1 {
				opts.DefaultTenant = tenants[0]
			}
			h, err := authz.New(st, opts)
			if err != nil {
				return err
			}
			ln, err := net.Listen("tcp", listen)
			if err != nil {
				return usageError("%v", err)
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			if authn == AuthnNone {
				fmt.Fprintf(e.stderr, noneWarning, ln.Addr())
			}
			fmt.Fprintf(e.stderr, "gatehouse: serving %s on http://%s\n", tenantList(tenants), ln.Addr())
			// The manager's server: the same timeouts and connection
			// limits, plain HTTP.
			srvOpts.AllowPlainHTTP = true
			srv, err := authz.NewServer(h, srvOpts)
			if err != nil {
				return err
			}
			if watch {
				go watchFiles(ctx, e, st, &src, interval, tenantLimits)
			}
			errc := make(chan error, 1)
			go func() { errc <- srv.Serve(ln) }()
			select {
			case err := <-errc:
				return err
			case <-ctx.Done():
			}
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			return nil
		},
	}
	src.addFlags(cmd, "tenant of objects without a namespace (default: a kustomization's namespace, else \"default\")")
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:8080", "listen address")
	cmd.Flags().StringVar(&authn, "authn", AuthnToken, "caller authentication: token or none")
	_ = cmd.RegisterFlagCompletionFunc("authn", fixedCompletion(AuthnToken, AuthnNone))
	cmd.Flags().StringVar(&tokenFile, "token-file", "", "file holding the bearer token callers must send (--authn=token)")
	cmd.Flags().BoolVar(&watch, "watch", false, "reload when a manifest file changes")
	cmd.Flags().DurationVar(&interval, "interval", time.Second, "how often --watch looks for changes")
	limits := flag.NewFlagSet("limits", flag.ContinueOnError)
	authz.BindFlags(limits, &opts, &srvOpts)
	tenantLimits.BindFlags(limits)
	cmd.Flags().AddGoFlagSet(limits)
	return cmd
}

// serveSet compiles every tenant of set into the store, stops serving
// tenants that are gone, and returns the tenants served. Tenants compile
// concurrently; what is printed comes in tenant order. defTenant is the
// --tenant flag (for finding where a problem is written).
func serveSet(e *env, st *store.Store, set *manifest.Set, defTenant string, limits snapshot.Limits) []string {
	tenants := set.Tenants()
	keep := make(map[string]bool, len(tenants))
	for _, t := range tenants {
		keep[t] = true
	}
	for _, t := range st.Tenants() {
		if !keep[t] {
			st.Delete(t)
			fmt.Fprintf(e.stderr, "gatehouse: tenant %s: no objects left, no longer served\n", t)
		}
	}
	builds := compileAll(set, tenants, limits)
	pf := &problemFinder{e: e, set: set, defTenant: defTenant}
	for i, t := range tenants {
		b := builds[i]
		builds[i] = nil
		if b.snap == nil {
			// Over its compiled-size quota: the last good snapshot (if
			// any) keeps serving, as in the operator.
			still := "nothing served"
			if old := st.Get(t); old != nil {
				still = "still serving revision " + old.Snapshot.Revision()
			}
			for _, p := range b.problems {
				fmt.Fprintf(e.stderr, "gatehouse: tenant %s: not compiled (%s): %s\n", t, still, p)
			}
			continue
		}
		old := st.Set(t, &store.Entry{Snapshot: b.snap, CompiledAt: time.Now(), Problems: b.problems})
		if old == nil || old.Snapshot.Revision() != b.snap.Revision() {
			fmt.Fprintf(e.stderr, "gatehouse: tenant %s: serving revision %s (%d problems)\n", t, b.snap.Revision(), len(b.problems))
		}
		if len(b.problems) == 0 {
			continue
		}
		find := pf.finder(t)
		for _, p := range b.problems {
			pos := ""
			if o := find(p.Kind, p.Name); o != nil {
				pos = o.FieldPos(p.Field) + ": "
			}
			fmt.Fprintf(e.stderr, "gatehouse: tenant %s: left out: %s%s\n", t, pos, p)
		}
	}
	return tenants
}

// problemFinder finds the objects of tenants with problems. A lean set
// knows only objects' lines, so a tenant's files are read again in full
// for the fields' lines (standard input cannot be: its objects keep their
// own line). Its index is built on first use, in one pass.
type problemFinder struct {
	e         *env
	set       *manifest.Set
	defTenant string
	objs      map[string][]*manifest.Object // by tenant
}

// finder returns where the tenant's objects are written.
func (pf *problemFinder) finder(tenant string) func(kind, name string) *manifest.Object {
	if pf.objs == nil {
		pf.objs = map[string][]*manifest.Object{}
		for _, o := range pf.set.Objects {
			pf.objs[o.Tenant] = append(pf.objs[o.Tenant], o)
		}
	}
	objs := pf.objs[tenant]
	var files []string
	seen := map[string]bool{}
	for _, o := range objs {
		if o.Doc.File != manifest.Stdin && o.Doc.Node == nil && !seen[o.Doc.File] {
			seen[o.Doc.File] = true
			files = append(files, o.Doc.File)
		}
	}
	var full *manifest.Set
	if len(files) > 0 {
		full, _ = readManifests(pf.e, files, pf.defTenant)
	}
	return func(kind, name string) *manifest.Object {
		if full != nil {
			if o := full.Find(tenant, kind, name); o != nil {
				return o
			}
		}
		for _, o := range objs {
			if o.Kind == kind && o.Name == name {
				return o
			}
		}
		return nil
	}
}

// tenantList names the tenants served, or counts them when there are many.
func tenantList(tenants []string) string {
	if len(tenants) <= 5 {
		return strings.Join(tenants, ", ")
	}
	return fmt.Sprintf("%d tenants (%s ... %s)", len(tenants), tenants[0], tenants[len(tenants)-1])
}

// watchFiles re-reads the manifests whenever a file's size or modification
// time changes (polling: it works the same on every OS and file system).
func watchFiles(ctx context.Context, e *env, st *store.Store, src *source, interval time.Duration, limits snapshot.Limits) {
	w := fileWatch{served: fingerprint(src.files)}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if !w.observe(fingerprint(src.files)) {
			continue
		}
		set, err := src.readLean(e)
		if err != nil {
			fmt.Fprintf(e.stderr, "gatehouse: reload failed, still serving the previous version: %v\n", err)
			continue
		}
		if len(set.Tenants()) == 0 && st.Len() > 0 {
			// Files with no Gatehouse object at all are an editor's or a
			// checkout's passing moment (a truncated file caught before
			// its write) far more often than a decision to deny every
			// caller of every tenant: keep serving, and say so.
			fmt.Fprintf(e.stderr, "gatehouse: reload skipped: no Gatehouse objects in %s; still serving the previous version\n", src.where())
			continue
		}
		serveSet(e, st, set, src.tenant, limits)
	}
}

// fileWatch decides when changed files are worth reading. A change is read
// only once it has held for a whole poll interval: editors and os.WriteFile
// truncate before they write, and reading that half-written moment would
// serve an empty tenant (or none) until the next poll.
type fileWatch struct {
	served  string // fingerprint of the version last read
	pending string // fingerprint seen on the previous poll, not yet read
}

// observe records the fingerprint of one poll and reports whether the files
// should be read now.
func (w *fileWatch) observe(current string) bool {
	if current == w.served {
		w.pending = ""
		return false
	}
	if current != w.pending {
		w.pending = current
		return false
	}
	w.served, w.pending = current, ""
	return true
}

// fingerprint summarizes the names, sizes and modification times of the
// files below paths.
func fingerprint(paths []string) string {
	var parts []string
	for _, p := range paths {
		_ = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				parts = append(parts, path+":error")
				return nil
			}
			if d.IsDir() {
				return nil
			}
			if info, err := d.Info(); err == nil {
				parts = append(parts, fmt.Sprintf("%s:%d:%d", path, info.Size(), info.ModTime().UnixNano()))
			}
			return nil
		})
	}
	sort.Strings(parts)
	return strings.Join(parts, "\n")
}
