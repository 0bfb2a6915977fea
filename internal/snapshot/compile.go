package snapshot

import (
	"sort"

	"github.com/gatehouse-dev/gatehouse/api/v1alpha1"
)

// Compile builds the snapshot of one tenant. Objects with problems are left
// out and reported, and so are objects that depend on left-out objects;
// the rest is compiled. Problems are sorted by kind, name and field.
//
// Compile applies DefaultLimits; CompileWith takes the platform operator's.
func Compile(tenant string, objs Objects) (*Snapshot, []Problem) {
	return CompileWith(tenant, objs, Options{Limits: DefaultLimits()})
}

// Options tune a compile.
type Options struct {
	// Limits are the tenant's quotas; objects beyond them are left out. A
	// tenant whose compiled blocks would exceed Limits.CompiledBytes is not
	// compiled at all: CompileWith returns a nil snapshot (which denies
	// everything) and a KindTenant problem, and the caller keeps serving
	// the last good snapshot.
	Limits Limits
}

// CompileWith is Compile with options.
func CompileWith(tenant string, objs Objects, opts Options) (*Snapshot, []Problem) {
	c := &compiler{s: &Snapshot{tenant: tenant}, limits: opts.Limits, sizeLeft: opts.Limits.CompiledBytes}
	c.run(objs)
	if c.tooLarge != "" {
		return nil, sortProblems(append(c.problems, Problem{KindTenant, tenant, "", v1alpha1.ReasonQuotaExceeded, c.tooLarge}))
	}
	return c.s, sortProblems(c.problems)
}

type compiler struct {
	s        *Snapshot
	problems []Problem
	limits   Limits
	// sizeLeft is what remains of Limits.CompiledBytes (unlimited when the
	// limit is 0); tooLarge says why the tenant was not compiled.
	sizeLeft int64
	tooLarge string

	resolution
	roleSpecs  map[string]*v1alpha1.Role
	roleConds  map[string]roleConds
	groupSpecs map[string]*v1alpha1.UserGroup
	chainConds map[string][]*condition
}

func (c *compiler) add(ps ...Problem) { c.problems = append(c.problems, ps...) }

func (c *compiler) run(objs Objects) {
	c.s.revision = revision(c.s.tenant, objs)
	c.checkObjects(objs)
	c.resolveReferences()
	fps, brokenFPs := c.checkFieldPolicies(objs)
	chs := c.checkChains(objs)
	// One policy and one chain per module: the first by name wins.
	fps = firstPerResource(c, KindFieldPolicy, fps, func(x *v1alpha1.FieldPolicy) (string, string) { return x.Name, string(x.Spec.Resource) })
	// Modules covered only by left-out policies get a policy hiding their
	// fields (fail closed); it is laid out but not served, so not counted.
	closed := failClosedPolicies(fps, brokenFPs)
	chs = firstPerResource(c, KindApprovalChain, chs, func(x *v1alpha1.ApprovalChain) (string, string) { return x.Name, string(x.Spec.Resource) })

	// Left-out groups keep restricting their members (fail closed): they
	// are laid out with their memberships and restrictions only.
	var restrictOnly []string
	for _, n := range sortedKeys(c.groupSpecs) {
		if !c.grpValid[n] {
			restrictOnly = append(restrictOnly, n)
		}
	}
	c.build(sortedTrue(c.roleValid), sortedTrue(c.grpValid), restrictOnly, fps, closed, chs)
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func sortedTrue(m map[string]bool) []string {
	var ks []string
	for k, v := range m {
		if v {
			ks = append(ks, k)
		}
	}
	sort.Strings(ks)
	return ks
}
