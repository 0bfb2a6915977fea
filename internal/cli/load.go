package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/spf13/cobra"

	"github.com/gatehouse-dev/gatehouse/internal/manifest"
	"github.com/gatehouse-dev/gatehouse/internal/snapshot"
)

// source is the -f and --tenant flags of a command.
type source struct {
	files       []string
	tenant      string
	fromCluster bool
	cluster     clusterFlags
}

func (s *source) addFlags(cmd *cobra.Command, tenantHelp string) {
	cmd.Flags().StringArrayVarP(&s.files, "filename", "f", nil, "manifest file or directory, or - for stdin (repeatable)")
	cmd.Flags().StringVar(&s.tenant, "tenant", "", tenantHelp)
	cmd.Flags().BoolVar(&s.fromCluster, "from-cluster", false, "read the objects from the cluster (namespace --tenant, else every namespace) instead of -f")
	s.cluster.addFlags(cmd)
}

// where names the input in messages.
func (s *source) where() string {
	if s.fromCluster {
		if s.tenant != "" {
			return "the cluster (namespace " + s.tenant + ")"
		}
		return "the cluster"
	}
	return strings.Join(s.files, ", ")
}

// tenantBuild is one tenant compiled from files.
type tenantBuild struct {
	tenant   string
	snap     *snapshot.Snapshot
	problems []snapshot.Problem
	objs     snapshot.Objects
}

// read reads the manifests of the -f flags.
func (s *source) read(e *env) (*manifest.Set, error) {
	if s.fromCluster {
		if len(s.files) > 0 {
			return nil, usageError("pass either -f or --from-cluster, not both")
		}
		return readCluster(e.ctx, s.cluster, s.tenant)
	}
	if len(s.files) == 0 {
		return nil, usageError("no manifests: pass -f DIR|FILE|- (or --from-cluster)")
	}
	set, err := readManifests(e, s.files, s.tenant)
	if err != nil {
		return nil, err
	}
	return set, nil
}

// readLean is read without the files' YAML trees (manifest.Options.Lean):
// find where problems are written with a problemFinder.
func (s *source) readLean(e *env) (*manifest.Set, error) {
	if s.fromCluster {
		return s.read(e)
	}
	if len(s.files) == 0 {
		return nil, usageError("no manifests: pass -f DIR|FILE|- (or --from-cluster)")
	}
	return readManifestsWith(e, s.files, manifest.Options{Tenant: s.tenant, Lean: true})
}

// readManifests reads paths; unreadable input is a usage error (exit 2).
func readManifests(e *env, paths []string, tenant string) (*manifest.Set, error) {
	return readManifestsWith(e, paths, manifest.Options{Tenant: tenant})
}

func readManifestsWith(e *env, paths []string, opts manifest.Options) (*manifest.Set, error) {
	opts.Stdin = e.stdin
	set, err := manifest.Read(paths, opts)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			return nil, &exitError{code: ExitUsage, err: fmt.Errorf("%s: %v", pe.Path, pe.Err)}
		}
		return nil, &exitError{code: ExitUsage, err: err}
	}
	return set, nil
}

// compileAll compiles the tenants of a set on every processor; builds are
// in the order of tenants.
func compileAll(set *manifest.Set, tenants []string, limits snapshot.Limits) []*tenantBuild {
	byTenant := set.ByTenant()
	builds := make([]*tenantBuild, len(tenants))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(tenants)) {
		wg.Go(func() {
			for i := int(next.Add(1)) - 1; i < len(tenants); i = int(next.Add(1)) - 1 {
				t := tenants[i]
				snap, problems := snapshot.CompileWith(t, byTenant[t], snapshot.Options{Limits: limits})
				builds[i] = &tenantBuild{tenant: t, snap: snap, problems: problems, objs: byTenant[t]}
			}
		})
	}
	wg.Wait()
	return builds
}

// compileTenant compiles one tenant of a set.
func compileTenant(set *manifest.Set, tenant string) *tenantBuild {
	objs := set.SnapshotObjects(tenant)
	snap, problems := snapshot.Compile(tenant, objs)
	return &tenantBuild{tenant: tenant, snap: snap, problems: problems, objs: objs}
}

// one reads the manifests and compiles the selected tenant: --tenant, or the
// only tenant there is. Compile problems are reported on stderr as warnings
// (the objects with problems are left out, as on a cluster).
func (s *source) one(e *env) (*tenantBuild, error) {
	set, err := s.read(e)
	if err != nil {
		return nil, err
	}
	tenants := set.Tenants()
	tenant := s.tenant
	if tenant == "" {
		switch len(tenants) {
		case 0:
			return nil, usageError("no Gatehouse objects found in %s", s.where())
		case 1:
			tenant = tenants[0]
		default:
			return nil, usageError("the manifests hold several tenants (%s): pass --tenant", strings.Join(tenants, ", "))
		}
	} else if !contains(tenants, tenant) {
		return nil, usageError("tenant %q has no objects in %s (tenants: %s)", tenant, s.where(), strings.Join(tenants, ", "))
	}
	b := compileTenant(set, tenant)
	if n := len(b.problems); n > 0 {
		fmt.Fprintf(e.stderr, "gatehouse: warning: tenant %s has %d problem(s); objects with problems are left out (see gatehouse compile)\n", tenant, n)

	}
	return b, nil
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if x == y {
			return true
		}
	}
	return false
}
