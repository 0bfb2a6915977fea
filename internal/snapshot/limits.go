package snapshot

import (
	"flag"
	"fmt"
	"sort"
	"strings"

	"github.com/gatehouse-dev/gatehouse/api/v1alpha1"
)

// Limits are the per-tenant quotas a platform operator sets (flags of the
// manager and of `gatehouse serve`): a tenant admin writes their own
// policy, and one tenant must never cost the others their service. Zero
// means no limit. The webhook rejects a change that would exceed a limit;
// the compiler leaves out, and reports, every object beyond one, so an
// object is served whole or not at all.
type Limits struct {
	Roles              int
	UserGroups         int
	FieldPolicies      int
	ApprovalChains     int
	MembersPerGroup    int
	PermissionsPerRole int
	FieldsPerPolicy    int
	// InheritanceDepth bounds the longest extends path from a Role and the
	// longest memberGroups path from a UserGroup.
	InheritanceDepth int
	// CompiledBytes bounds the estimated size of the tenant's compiled
	// permission blocks. Only the compiler can tell (it would take a full
	// compile per admission): a tenant over it is not compiled, and the
	// last good snapshot keeps serving.
	CompiledBytes int64
}

// limitSpec describes one limit: its flag, default and what it counts.
type limitSpec struct {
	flag  string
	def   int64
	usage string
	// of is what the limit counts, in messages: "<n> <of>".
	of  string
	get func(*Limits) *int
}

// limitTable is the one description of every limit: flags, defaults and
// messages are derived from it. Defaults fit the largest tenants measured
// (200 roles, 2,000 groups, 100,000 users) with room to spare, and the
// per-object ones equal the CRD's own caps.
var limitTable = []limitSpec{
	{"tenant-max-roles", 2_000, "Roles per tenant", "Roles per tenant", func(l *Limits) *int { return &l.Roles }},
	{"tenant-max-usergroups", 20_000, "UserGroups per tenant", "UserGroups per tenant", func(l *Limits) *int { return &l.UserGroups }},
	{"tenant-max-fieldpolicies", 1_000, "FieldPolicies per tenant", "FieldPolicies per tenant", func(l *Limits) *int { return &l.FieldPolicies }},
	{"tenant-max-approvalchains", 1_000, "ApprovalChains per tenant", "ApprovalChains per tenant", func(l *Limits) *int { return &l.ApprovalChains }},
	{"tenant-max-members-per-group", 10_000, "members (spec.members) of one UserGroup", "members per UserGroup", func(l *Limits) *int { return &l.MembersPerGroup }},
	{"tenant-max-permissions-per-role", 256, "permissions (spec.permissions) of one Role", "permissions per Role", func(l *Limits) *int { return &l.PermissionsPerRole }},
	{"tenant-max-fields-per-policy", 512, "fields (spec.fields) of one FieldPolicy", "fields per FieldPolicy", func(l *Limits) *int { return &l.FieldsPerPolicy }},
	{"tenant-max-inheritance-depth", 32, "levels of Role extends or of UserGroup memberGroups", "levels", func(l *Limits) *int { return &l.InheritanceDepth }},
}

const (
	compiledBytesFlag    = "tenant-max-compiled-bytes"
	defaultCompiledBytes = 512 << 20
)

// DefaultLimits are the limits the flags default to.
func DefaultLimits() Limits {
	var l Limits
	for _, spec := range limitTable {
		*spec.get(&l) = int(spec.def)
	}
	l.CompiledBytes = defaultCompiledBytes
	return l
}

// BindFlags registers a flag for every limit, defaulting to l's values.
func (l *Limits) BindFlags(fs *flag.FlagSet) {
	for _, spec := range limitTable {
		fs.IntVar(spec.get(l), spec.flag, *spec.get(l), "Most "+spec.usage+" (0: no limit).")
	}
	fs.Int64Var(&l.CompiledBytes, compiledBytesFlag, l.CompiledBytes,
		"Most bytes of one tenant's compiled permission blocks (estimated before they are built); a tenant over it keeps its last good snapshot (0: no limit).")
}

// Describe lists the limits, one per line, for documentation and logs.
func (l Limits) Describe() string {
	var b strings.Builder
	for _, spec := range limitTable {
		fmt.Fprintf(&b, "--%s=%d\t%s\n", spec.flag, *spec.get(&l), spec.usage)
	}
	fmt.Fprintf(&b, "--%s=%d\tbytes of compiled permission blocks\n", compiledBytesFlag, l.CompiledBytes)
	return b.String()
}

func (l *Limits) exceeded(v *int, n int) bool { return *v > 0 && n > *v }

// quotaMsg names the limit and its flag: the tenant admin learns what to
// shrink, the platform operator which flag raises it.
func quotaMsg(l *Limits, get func(*Limits) *int, what string) string {
	for _, spec := range limitTable {
		if spec.get(l) == get(l) {
			return fmt.Sprintf("%s; the tenant limit is %d %s (--%s)", what, *get(l), spec.of, spec.flag)
		}
	}
	return what + "; that exceeds a tenant limit"
}

// Check returns a QuotaExceeded problem for every object beyond a limit:
// the objects of a kind beyond its count (the last by name: which ones is
// deterministic), objects too large on their own, and objects deeper than
// the inheritance limit. Cycles are not its concern: a path is followed
// only through objects not yet on it.
func (l Limits) Check(objs Objects) []Problem {
	var out []Problem
	count := func(kind string, names []string, get func(*Limits) *int) {
		if !l.exceeded(get(&l), len(names)) {
			return
		}
		sort.Strings(names)
		for i, n := range names[*get(&l):] {
			out = append(out, Problem{kind, n, "metadata.name", v1alpha1.ReasonQuotaExceeded,
				quotaMsg(&l, get, fmt.Sprintf("the tenant would hold %d of this kind, and this one is number %d by name", len(names), *get(&l)+i+1))})
		}
	}
	names := func(n int, name func(int) string) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = name(i)
		}
		return out
	}
	count(KindRole, names(len(objs.Roles), func(i int) string { return objs.Roles[i].Name }), func(l *Limits) *int { return &l.Roles })
	count(KindUserGroup, names(len(objs.Groups), func(i int) string { return objs.Groups[i].Name }), func(l *Limits) *int { return &l.UserGroups })
	count(KindFieldPolicy, names(len(objs.FieldPolicies), func(i int) string { return objs.FieldPolicies[i].Name }), func(l *Limits) *int { return &l.FieldPolicies })
	count(KindApprovalChain, names(len(objs.ApprovalChains), func(i int) string { return objs.ApprovalChains[i].Name }), func(l *Limits) *int { return &l.ApprovalChains })

	for i := range objs.Roles {
		r := &objs.Roles[i]
		if n := len(r.Spec.Permissions); l.exceeded(&l.PermissionsPerRole, n) {
			out = append(out, Problem{KindRole, r.Name, "spec.permissions", v1alpha1.ReasonQuotaExceeded,
				quotaMsg(&l, func(l *Limits) *int { return &l.PermissionsPerRole }, fmt.Sprintf("the Role has %d permissions", n))})
		}
	}
	for i := range objs.Groups {
		g := &objs.Groups[i]
		if n := len(g.Spec.Members); l.exceeded(&l.MembersPerGroup, n) {
			out = append(out, Problem{KindUserGroup, g.Name, "spec.members", v1alpha1.ReasonQuotaExceeded,
				quotaMsg(&l, func(l *Limits) *int { return &l.MembersPerGroup }, fmt.Sprintf("the UserGroup has %d members", n))})
		}
	}
	for i := range objs.FieldPolicies {
		fp := &objs.FieldPolicies[i]
		if n := len(fp.Spec.Fields); l.exceeded(&l.FieldsPerPolicy, n) {
			out = append(out, Problem{KindFieldPolicy, fp.Name, "spec.fields", v1alpha1.ReasonQuotaExceeded,
				quotaMsg(&l, func(l *Limits) *int { return &l.FieldsPerPolicy }, fmt.Sprintf("the FieldPolicy has %d fields", n))})
		}
	}
	if l.InheritanceDepth > 0 {
		depth := func(kind, field string, edges map[string][]v1alpha1.ObjectName) {
			d := inheritanceDepths(edges)
			for _, n := range sortedKeys(d) {
				if l.exceeded(&l.InheritanceDepth, d[n]) {
					out = append(out, Problem{kind, n, field, v1alpha1.ReasonQuotaExceeded,
						quotaMsg(&l, func(l *Limits) *int { return &l.InheritanceDepth }, fmt.Sprintf("%s is %d levels deep", field, d[n]))})
				}
			}
		}
		roleEdges := make(map[string][]v1alpha1.ObjectName, len(objs.Roles))
		for i := range objs.Roles {
			roleEdges[objs.Roles[i].Name] = objs.Roles[i].Spec.Extends
		}
		depth(KindRole, "spec.extends", roleEdges)
		groupEdges := make(map[string][]v1alpha1.ObjectName, len(objs.Groups))
		for i := range objs.Groups {
			groupEdges[objs.Groups[i].Name] = objs.Groups[i].Spec.MemberGroups
		}
		depth(KindUserGroup, "spec.memberGroups", groupEdges)
	}
	return out
}

// inheritanceDepths returns, per name, the number of edges of the longest
// path from it through existing names. An edge that closes a cycle is not
// followed (cycles are reported as such elsewhere). One iterative
// depth-first walk: every name and edge is visited once.
func inheritanceDepths(edges map[string][]v1alpha1.ObjectName) map[string]int {
	const (
		unseen = iota
		open
		closed
	)
	state := make(map[string]int, len(edges))
	depth := make(map[string]int, len(edges))
	type frame struct {
		name string
		next int
	}
	var stack []frame
	for _, root := range sortedKeys(edges) {
		if state[root] != unseen {
			continue
		}
		state[root] = open
		stack = append(stack[:0], frame{name: root})
		for len(stack) > 0 {
			f := &stack[len(stack)-1]
			es := edges[f.name]
			if f.next < len(es) {
				e := string(es[f.next])
				f.next++
				if _, exists := edges[e]; !exists {
					continue
				}
				switch state[e] {
				case unseen:
					state[e] = open
					stack = append(stack, frame{name: e})
				case closed:
					depth[f.name] = max(depth[f.name], depth[e]+1)
				}
				continue
			}
			state[f.name] = closed
			done := f.name
			stack = stack[:len(stack)-1]
			if len(stack) > 0 {
				p := stack[len(stack)-1].name
				depth[p] = max(depth[p], depth[done]+1)
			}
		}
	}
	return depth
}

// Validate rejects a negative limit, naming its flag (0 is no limit).
func (l Limits) Validate() error {
	for _, spec := range limitTable {
		if *spec.get(&l) < 0 {
			return fmt.Errorf("--%s: a limit must be 0 (none) or more, not %d", spec.flag, *spec.get(&l))
		}
	}
	if l.CompiledBytes < 0 {
		return fmt.Errorf("--%s: a limit must be 0 (none) or more, not %d", compiledBytesFlag, l.CompiledBytes)
	}
	return nil
}
