package snapshot

import (
	"encoding/binary"
	"fmt"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"unsafe"

	"github.com/gatehouse-dev/gatehouse/api/v1alpha1"
)

// Internal scope bits. ownOrAssigned is own|assigned, so it needs no bit of
// its own: an action bit set under both own and assigned means "either".
const (
	scAll = iota
	scOwn
	scAssigned
	scContact
	scUnit
	scUnitTree
	scFacility
	scCompany
	nScopes
)

const maskAll = uint16(1) << scAll

func scopeMask(s v1alpha1.Scope) uint16 {
	switch s {
	case "", v1alpha1.ScopeAll:
		return 1 << scAll
	case v1alpha1.ScopeOwn:
		return 1 << scOwn
	case v1alpha1.ScopeAssigned:
		return 1 << scAssigned
	case v1alpha1.ScopeOwnOrAssigned:
		return 1<<scOwn | 1<<scAssigned
	case v1alpha1.ScopeContact:
		return 1 << scContact
	case v1alpha1.ScopeUnit:
		return 1 << scUnit
	case v1alpha1.ScopeUnitTree:
		return 1 << scUnitTree
	case v1alpha1.ScopeFacility:
		return 1 << scFacility
	case v1alpha1.ScopeCompany:
		return 1 << scCompany
	}
	return 0
}

// Snapshot is one tenant's compiled permissions. It is immutable after
// Compile and safe for any number of concurrent readers.
type Snapshot struct {
	tenant   string
	revision string
	counts   Counts

	// Interned names. Index 0 of both is the wildcard slot: the row of
	// resources and the bit of actions that no object names, which "*"
	// grants also cover.
	resNames []string
	actNames []string
	resTab   *nameTable // name -> index in resNames
	actTab   *nameTable
	words    int // uint64 words per action bitset
	// compact: at most 32 actions (wildcard slot included), so a block is
	// one 64-byte cache line: 8 scope bitsets of 32 bits in 4 words, 2
	// header words, 2 inline grants of one word each.
	compact bool

	roles   []*role            // sorted by name (roleIndex searches it)
	matches []Match            // every (group, role, grant) explanation
	groups  []*group           // served groups by name, then left-out ones by name (groupIndex)
	nServed int                // served groups: groups[:nServed]
	ext     map[string][]int32 // IdP group -> groups naming it

	subjects   *subjectTable // subject ID -> profile
	profiles   []profile
	profileKey map[string]int32 // group-set key -> profile

	// Hot path arrays: pHot[profile] is the offset of the profile's block
	// in bits (low 32 bits) and flags.
	pHot     []uint64
	bits     []uint64
	grants   []rowGrant
	restrict []uint16

	policies    []*fieldPolicy
	policyByRes map[string]int32
	chains      []*chain
	chainByRes  map[string]int32

	// extCache holds profiles built at request time for group sets that
	// external groups produce and compile did not foresee.
	extMu    sync.Mutex
	extCache map[string]*profile
}

const maxExtCache = 4096

const hotHasRoles = uint64(1) << 63

type flatGrant struct {
	defRole string
	index   int
	full    bool
	allRes  bool
	res     []int32
	acts    []uint64
	mask    uint16
	scope   string
	cond    *condition
	perm    *v1alpha1.Permission // as written, for Diff; nil for fullAccess
}

// names returns the grant's modules and actions as written, sorted and
// without repeats (Diff compares them; computed on demand, as Diff is rare
// and a snapshot is kept for long).
func (f *flatGrant) names() (res, acts []string) {
	if f.perm == nil {
		return nil, nil
	}
	for _, r := range f.perm.Resources {
		res = append(res, string(r))
	}
	for _, a := range f.perm.Actions {
		acts = append(acts, string(a))
	}
	slices.Sort(res)
	slices.Sort(acts)
	return slices.Compact(res), slices.Compact(acts)
}

type role struct {
	name string
	own  []flatGrant // the role's own grants (fullAccess first)
	// flat and holds are resolved only for roles some group holds (see
	// resolveRoles): resolving every role of a long extends chain would
	// copy the chain into each of its links.
	full  bool
	flat  []*flatGrant // own grants, then each extended role's, without repeats
	holds []int32      // this role and every role it extends, transitively, sorted
	spec  *v1alpha1.Role
}

type restriction struct {
	allRes bool
	res    []int32
	mask   uint16
	key    string
}

type group struct {
	name         string
	roles        []int32
	matches      [][]Match // per roles[k], per flat grant of that role (views of Snapshot.matches)
	matchBase    []uint32  // index of matches[k][0] in Snapshot.matches
	attrs        map[string]v1alpha1.AttributeValue
	restrictions []restriction
	ancestors    []int32 // the group and every group including it, sorted
	spec         *v1alpha1.UserGroup
	// restrictOnly marks a left-out group: it keeps restricting its
	// members but grants nothing and is not served.
	restrictOnly bool
}

type roleSrc struct{ role, group, k int32 }

// profile is everything Check needs about the subjects sharing one
// effective group set. Its permission block is laid out for few cache
// misses: per resource, one bitset word group per scope followed by two
// header words (where the resource's grants and restrictions are), so a
// check touches one block and, to explain an allow, one grant run. After
// Compile the blocks, grants and restrictions of all profiles live in three
// shared arrays.
type profile struct {
	// attr comes first: scope checks read it right after the block.
	attr attrs

	hasRoles bool
	full     bool
	bits     []uint64   // [resource]{[scope][word], h0, h1}
	grants   []rowGrant // indexed by header offsets
	restrict []uint16   // restriction masks, indexed by header offsets

	groups  []int32
	srcs    []roleSrc // every (group, assigned role), sorted by role then group
	held    []int32   // roles held, extends included, sorted
	fields  []*fieldResult
	members []string

	groupNames []string
	roleNames  []string
}

// row is a decoded block header.
type row struct {
	gOff   uint32
	gN     uint16
	nCond  uint16
	rOff   uint32
	rN     uint16
	inline uint16
}

func encodeRow(r row) (uint64, uint64) {
	return uint64(r.gOff) | uint64(r.gN)<<32 | uint64(r.nCond)<<48, uint64(r.rOff) | uint64(r.rN)<<32 | uint64(r.inline)<<48
}

func decodeRow(h0, h1 uint64) row {
	return row{gOff: uint32(h0), gN: uint16(h0 >> 32), nCond: uint16(h0 >> 48), rOff: uint32(h1), rN: uint16(h1 >> 32), inline: uint16(h1 >> 48)}
}

// stride is the number of words of one resource's block.
// With one action word a block is 16 words (128 bytes, the pair of cache
// lines Intel CPUs fetch together): 8 scope words, 2 header words and up to
// 3 inline unconditional grants (action word, mask|match index) so that
// explaining an allow does not touch the grant array.
func (s *Snapshot) stride() int {
	switch {
	case s.compact:
		return 8
	case s.words == 1:
		return 16
	}
	return nScopes*s.words + 2
}

// hdrPos is the position of the header words in a block.
func (s *Snapshot) hdrPos() int {
	if s.compact {
		return 4
	}
	return nScopes * s.words
}

// scopeBit tests an action bit of one scope in a block starting at rb.
func (s *Snapshot) scopeBit(bits []uint64, rb, sc, w int, bit uint64) bool {
	if s.compact {
		return (bits[rb+sc>>1]>>(32*(sc&1)))&bit != 0
	}
	return bits[rb+sc*s.words+w]&bit != 0
}

// inlineMatch finds an inline grant explaining an allow of scopes m.
func (s *Snapshot) inlineMatch(bits []uint64, n int, bit uint64, m uint16) *Match {
	if s.compact {
		for i := 0; i < n; i++ {
			x := bits[6+i]
			if uint32(x)&uint32(bit) != 0 && uint16(x>>32)&0xff&m != 0 {
				return &s.matches[x>>40]
			}
		}
		return nil
	}
	for i := 0; i < n; i++ {
		if bits[nScopes+2+2*i]&bit != 0 && uint16(bits[nScopes+3+2*i])&m != 0 {
			return &s.matches[bits[nScopes+3+2*i]>>32]
		}
	}
	return nil
}

const maxInline = 3

// rowOf decodes the header of resource ri in a profile block.
func (s *Snapshot) rowOf(bits []uint64, ri int32) row {
	h := int(ri)*s.stride() + s.hdrPos()
	return decodeRow(bits[h], bits[h+1])
}

// rowGrant is one permission of a profile on one resource.
type rowGrant struct {
	a0    uint64 // first word of the action bitset, inline for speed
	mi    uint32 // index of match in Snapshot.matches
	match *Match
	cond  *condition
	fg    *flatGrant
	mask  uint16
}

// has tests the action bit.
func (g *rowGrant) has(w int, bit uint64) bool {
	if w == 0 {
		return g.a0&bit != 0
	}
	return g.fg.acts[w]&bit != 0
}

func (p *profile) rowGrants(r row) []rowGrant { return p.grants[r.gOff : r.gOff+uint32(r.gN)] }

func (p *profile) rowRestrict(r row) []uint16 { return p.restrict[r.rOff : r.rOff+uint32(r.rN)] }

type attrs struct {
	units, company, companies, facilities            []string
	hasUnit, hasCompany, hasCompanies, hasFacilities bool
	props                                            map[string]any
}

// Tenant is the tenant (namespace) the snapshot was compiled for.
func (s *Snapshot) Tenant() string {
	if s == nil {
		return ""
	}
	return s.tenant
}

// Revision is the content hash of the compiled input: equal inputs, in any
// order and whatever their metadata, give equal revisions.
func (s *Snapshot) Revision() string {
	if s == nil {
		return ""
	}
	return s.revision
}

// Counts says how many objects and subjects the snapshot holds.
func (s *Snapshot) Counts() Counts {
	if s == nil {
		return Counts{}
	}
	return s.counts
}

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

	roleSpecs  map[string]*v1alpha1.Role
	roleConds  map[string]roleConds
	groupSpecs map[string]*v1alpha1.UserGroup
	chainConds map[string][]*condition
}

func (c *compiler) add(ps ...Problem) { c.problems = append(c.problems, ps...) }

func (c *compiler) run(objs Objects) {
	s := c.s
	s.revision = revision(s.tenant, objs)

	// 1. Local checks, quotas, and duplicate names.
	overQuota := map[string]bool{} // kind/name
	for _, p := range c.limits.Check(objs) {
		overQuota[p.Kind+"/"+p.Name] = true
		c.add(p)
	}
	roleOK := map[string]bool{}
	c.roleSpecs, c.roleConds = map[string]*v1alpha1.Role{}, map[string]roleConds{}
	dupRoles := dups(len(objs.Roles), func(i int) string { return objs.Roles[i].Name })
	for i := range objs.Roles {
		r := &objs.Roles[i]
		if dupRoles[r.Name] {
			c.add(Problem{KindRole, r.Name, "metadata.name", v1alpha1.ReasonInvalidSpec, "more than one Role has this name"})
			continue
		}
		ps, conds := checkRole(r)
		c.roleSpecs[r.Name], c.roleConds[r.Name] = r, conds
		c.add(ps...)
		roleOK[r.Name] = len(ps) == 0 && !overQuota[KindRole+"/"+r.Name]
	}
	grpOK := map[string]bool{}
	c.groupSpecs = map[string]*v1alpha1.UserGroup{}
	dupGroups := dups(len(objs.Groups), func(i int) string { return objs.Groups[i].Name })
	for i := range objs.Groups {
		g := &objs.Groups[i]
		if dupGroups[g.Name] {
			c.add(Problem{KindUserGroup, g.Name, "metadata.name", v1alpha1.ReasonInvalidSpec, "more than one UserGroup has this name"})
			continue
		}
		ps := CheckUserGroup(g)
		c.groupSpecs[g.Name] = g
		c.add(ps...)
		grpOK[g.Name] = len(ps) == 0 && !overQuota[KindUserGroup+"/"+g.Name]
	}

	// 2. Cycles among otherwise valid objects.
	c.cycles(KindRole, "spec.extends", roleOK, func(n string) []v1alpha1.ObjectName { return c.roleSpecs[n].Spec.Extends })
	c.cycles(KindUserGroup, "spec.memberGroups", grpOK, func(n string) []v1alpha1.ObjectName { return c.groupSpecs[n].Spec.MemberGroups })

	// 3. References, propagated to a fixpoint.
	exists := func(m map[string]bool, n v1alpha1.ObjectName) bool { _, ok := m[string(n)]; return ok }
	refMsg := func(kind string, m map[string]bool, n v1alpha1.ObjectName) string {
		if exists(m, n) {
			return fmt.Sprintf("%s %q was left out of the snapshot", kind, n)
		}
		return fmt.Sprintf("%s %q does not exist", kind, n)
	}
	roleValid := validClosure(roleOK, func(n string) []v1alpha1.ObjectName { return c.roleSpecs[n].Spec.Extends })
	for _, n := range sortedKeys(roleOK) {
		if roleOK[n] && !roleValid[n] {
			for i, e := range c.roleSpecs[n].Spec.Extends {
				if !roleValid[string(e)] {
					c.add(Problem{KindRole, n, fmt.Sprintf("spec.extends[%d]", i), v1alpha1.ReasonInvalidReference, "extends " + refMsg("Role", roleOK, e)})
				}
			}
		}
	}
	grpStart := map[string]bool{}
	for _, n := range sortedKeys(grpOK) {
		ok := grpOK[n]
		if ok {
			for i, r := range c.groupSpecs[n].Spec.Roles {
				if !roleValid[string(r)] {
					ok = false
					c.add(Problem{KindUserGroup, n, fmt.Sprintf("spec.roles[%d]", i), v1alpha1.ReasonInvalidReference, refMsg("Role", roleOK, r)})
				}
			}
		}
		grpStart[n] = ok
	}
	grpValid := validClosure(grpStart, func(n string) []v1alpha1.ObjectName { return c.groupSpecs[n].Spec.MemberGroups })
	for _, n := range sortedKeys(grpStart) {
		if grpStart[n] && !grpValid[n] {
			for i, e := range c.groupSpecs[n].Spec.MemberGroups {
				if !grpValid[string(e)] {
					c.add(Problem{KindUserGroup, n, fmt.Sprintf("spec.memberGroups[%d]", i), v1alpha1.ReasonInvalidReference, "includes " + refMsg("UserGroup", grpOK, e)})
				}
			}
		}
	}

	// Field policies and chains only reference; nothing references them.
	var fps []*v1alpha1.FieldPolicy
	var brokenFPs []*v1alpha1.FieldPolicy
	dupFP := dups(len(objs.FieldPolicies), func(i int) string { return objs.FieldPolicies[i].Name })
	for i := range objs.FieldPolicies {
		fp := &objs.FieldPolicies[i]
		if dupFP[fp.Name] {
			c.add(Problem{KindFieldPolicy, fp.Name, "metadata.name", v1alpha1.ReasonInvalidSpec, "more than one FieldPolicy has this name"})
			continue
		}
		ps := CheckFieldPolicy(fp)
		p := &problems{kind: KindFieldPolicy, name: fp.Name}
		for i, f := range fp.Spec.Fields {
			for j, gr := range f.Grants {
				for k, r := range gr.Roles {
					if !roleValid[string(r)] {
						p.add(fmt.Sprintf("spec.fields[%d].grants[%d].roles[%d]", i, j, k), v1alpha1.ReasonInvalidReference, "%s", refMsg("Role", roleOK, r))
					}
				}
				for k, g := range gr.Groups {
					if !grpValid[string(g)] {
						p.add(fmt.Sprintf("spec.fields[%d].grants[%d].groups[%d]", i, j, k), v1alpha1.ReasonInvalidReference, "%s", refMsg("UserGroup", grpOK, g))
					}
				}
			}
		}
		ps = append(ps, p.list...)
		c.add(ps...)
		if len(ps) == 0 && !overQuota[KindFieldPolicy+"/"+fp.Name] {
			fps = append(fps, fp)
		} else {
			brokenFPs = append(brokenFPs, fp)
		}
	}
	var chs []*v1alpha1.ApprovalChain
	c.chainConds = map[string][]*condition{}
	dupCh := dups(len(objs.ApprovalChains), func(i int) string { return objs.ApprovalChains[i].Name })
	for i := range objs.ApprovalChains {
		ch := &objs.ApprovalChains[i]
		if dupCh[ch.Name] {
			c.add(Problem{KindApprovalChain, ch.Name, "metadata.name", v1alpha1.ReasonInvalidSpec, "more than one ApprovalChain has this name"})
			continue
		}
		ps, conds := checkApprovalChain(ch)
		p := &problems{kind: KindApprovalChain, name: ch.Name}
		for i, st := range ch.Spec.Steps {
			for k, r := range st.Approvers.Roles {
				if !roleValid[string(r)] {
					p.add(fmt.Sprintf("spec.steps[%d].approvers.roles[%d]", i, k), v1alpha1.ReasonInvalidReference, "%s", refMsg("Role", roleOK, r))
				}
			}
			for k, g := range st.Approvers.Groups {
				if !grpValid[string(g)] {
					p.add(fmt.Sprintf("spec.steps[%d].approvers.groups[%d]", i, k), v1alpha1.ReasonInvalidReference, "%s", refMsg("UserGroup", grpOK, g))
				}
			}
		}
		ps = append(ps, p.list...)
		c.add(ps...)
		if len(ps) == 0 && !overQuota[KindApprovalChain+"/"+ch.Name] {
			chs = append(chs, ch)
			c.chainConds[ch.Name] = conds
		}
	}
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
		if !grpValid[n] {
			restrictOnly = append(restrictOnly, n)
		}
	}
	c.build(sortedTrue(roleValid), sortedTrue(grpValid), restrictOnly, fps, closed, chs)
}

// dups returns the names that occur more than once.
func dups(n int, name func(int) string) map[string]bool {
	seen := map[string]int{}
	for i := 0; i < n; i++ {
		seen[name(i)]++
	}
	out := map[string]bool{}
	for k, v := range seen {
		if v > 1 {
			out[k] = true
		}
	}
	return out
}

func firstPerResource[T any](c *compiler, kind string, xs []T, key func(T) (string, string)) []T {
	slices.SortFunc(xs, func(a, b T) int { na, _ := key(a); nb, _ := key(b); return strings.Compare(na, nb) })
	owner := map[string]string{}
	var out []T
	for _, x := range xs {
		n, r := key(x)
		if o, taken := owner[r]; taken {
			c.add(Problem{kind, n, "spec.resource", v1alpha1.ReasonInvalidSpec, fmt.Sprintf("%s %q already covers resource %q", kind, o, r)})
			continue
		}
		owner[r] = n
		out = append(out, x)
	}
	return out
}

// failClosedPolicies returns, for every module whose only FieldPolicies
// were left out, a policy hiding all its fields. Leaving the module
// uncovered would make every field writable: a broken policy must narrow,
// never open (the policy's own name is kept, for explanations).
func failClosedPolicies(served, broken []*v1alpha1.FieldPolicy) []*v1alpha1.FieldPolicy {
	covered := map[v1alpha1.ModuleName]bool{}
	for _, fp := range served {
		covered[fp.Spec.Resource] = true
	}
	var out []*v1alpha1.FieldPolicy
	for _, fp := range broken {
		if covered[fp.Spec.Resource] || fp.Spec.Resource == "" {
			continue
		}
		covered[fp.Spec.Resource] = true
		out = append(out, &v1alpha1.FieldPolicy{ObjectMeta: fp.ObjectMeta, Spec: v1alpha1.FieldPolicySpec{Resource: fp.Spec.Resource, Default: v1alpha1.FieldHidden}})
	}
	return out
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

// cycles marks every object on a cycle (Tarjan's strongly connected
// components over valid objects) with a Cycle problem and removes it.
func (c *compiler) cycles(kind, field string, ok map[string]bool, edges func(string) []v1alpha1.ObjectName) {
	names := sortedTrue(ok)
	index, low := map[string]int{}, map[string]int{}
	onStack := map[string]bool{}
	var stack []string
	var sccs [][]string
	next := 0
	var strong func(v string)
	strong = func(v string) {
		index[v], low[v] = next, next
		next++
		stack = append(stack, v)
		onStack[v] = true
		for _, w := range edges(v) {
			ws := string(w)
			if !ok[ws] {
				continue
			}
			if _, seen := index[ws]; !seen {
				strong(ws)
				low[v] = min(low[v], low[ws])
			} else if onStack[ws] {
				low[v] = min(low[v], index[ws])
			}
		}
		if low[v] == index[v] {
			var scc []string
			for {
				w := stack[len(stack)-1]
				stack = stack[:len(stack)-1]
				onStack[w] = false
				scc = append(scc, w)
				if w == v {
					break
				}
			}
			sccs = append(sccs, scc)
		}
	}
	for _, n := range names {
		if _, seen := index[n]; !seen {
			strong(n)
		}
	}
	for _, scc := range sccs {
		if len(scc) < 2 {
			continue
		}
		in := map[string]bool{}
		for _, n := range scc {
			in[n] = true
		}
		sort.Strings(scc)
		for _, n := range scc {
			for i, e := range edges(n) {
				if in[string(e)] {
					c.add(Problem{kind, n, fmt.Sprintf("%s[%d]", field, i), v1alpha1.ReasonCycle,
						fmt.Sprintf("%q is on a cycle: %s", e, strings.Join(scc, ", "))})
					break
				}
			}
			ok[n] = false
		}
	}
}

// build lays out the valid objects for evaluation, and the left-out
// groups (restrictOnly) and field policies (failClosed) that keep narrowing
// access; those are laid out but not served, so Counts leaves them out.
func (c *compiler) build(roleNames, groupNames, restrictOnly []string, fps, failClosed []*v1alpha1.FieldPolicy, chs []*v1alpha1.ApprovalChain) {
	s := c.s
	// Intern resources and actions in sorted order, so layout is deterministic.
	resSet, actSet := map[string]bool{}, map[string]bool{}
	addRes := func(r v1alpha1.ModuleName) {
		if r != "*" {
			resSet[string(r)] = true
		}
	}
	for _, n := range roleNames {
		for _, p := range c.roleSpecs[n].Spec.Permissions {
			for _, r := range p.Resources {
				addRes(r)
			}
			for _, a := range p.Actions {
				if a != "*" {
					actSet[string(a)] = true
				}
			}
		}
	}
	for _, n := range append(slices.Clone(groupNames), restrictOnly...) {
		for _, r := range c.groupSpecs[n].Spec.Restrictions {
			for _, m := range r.Resources {
				addRes(m)
			}
		}
	}
	for _, fp := range append(slices.Clone(fps), failClosed...) {
		addRes(fp.Spec.Resource)
	}
	for _, ch := range chs {
		addRes(ch.Spec.Resource)
		actSet[chainAction(ch)] = true
	}
	s.resNames = append([]string{""}, sortedKeys(resSet)...)
	s.actNames = append([]string{""}, sortedKeys(actSet)...)
	s.words = (len(s.actNames) + 63) / 64
	s.compact = len(s.actNames) <= 32
	s.resTab, s.actTab = newNameTable(s.resNames), newNameTable(s.actNames)

	// Roles: flatten extends (own permissions first, then each extended
	// role's, without repeats).
	for _, n := range roleNames {
		s.roles = append(s.roles, &role{name: n, spec: c.roleSpecs[n]})
	}
	for _, r := range s.roles {
		r.own = make([]flatGrant, 0, len(r.spec.Spec.Permissions)+1)
		if r.spec.Spec.FullAccess {
			r.own = append(r.own, flatGrant{defRole: r.name, index: -1, full: true, allRes: true, acts: s.allActs(), mask: maskAll, scope: "fullAccess"})
		}
		for pi := range r.spec.Spec.Permissions {
			r.own = append(r.own, s.flatGrant(r.name, pi, &r.spec.Spec.Permissions[pi], c.roleConds[r.name][pi]))
		}
	}
	if !s.resolveRoles(groupNames, c.groupSpecs, c.charge) {
		return
	}

	// Groups: the served ones, then the left-out ones that only restrict.
	s.nServed = len(groupNames)
	laidOut := make(map[string]bool, len(groupNames)+len(restrictOnly))
	for _, n := range append(slices.Clone(groupNames), restrictOnly...) {
		laidOut[n] = true
	}
	specs := make([]*v1alpha1.UserGroup, 0, len(groupNames)+len(restrictOnly))
	for _, n := range groupNames {
		specs = append(specs, c.groupSpecs[n])
	}
	for _, n := range restrictOnly {
		// No roles and no attributes (they would grant or widen); only the
		// member groups that are laid out.
		g := c.groupSpecs[n].DeepCopy()
		g.Spec.Roles, g.Spec.Attributes = nil, nil
		g.Spec.MemberGroups = slices.DeleteFunc(g.Spec.MemberGroups, func(m v1alpha1.ObjectName) bool {
			return !laidOut[string(m)]
		})
		specs = append(specs, g)
	}
	s.ext = map[string][]int32{}
	nMatches := 0
	for _, n := range groupNames {
		seen := map[string]bool{}
		for _, r := range c.groupSpecs[n].Spec.Roles {
			if !seen[string(r)] {
				seen[string(r)] = true
				nMatches += len(s.roles[s.roleAt(string(r))].flat)
			}
		}
	}
	if !c.charge(int64(nMatches) * int64(unsafe.Sizeof(Match{}))) {
		return
	}
	// Sized once: Decisions point into it, so it must never move.
	s.matches = make([]Match, 0, nMatches)
	for i, spec := range specs {
		n := spec.Name
		g := &group{name: n, attrs: spec.Spec.Attributes, spec: spec, restrictOnly: i >= len(groupNames)}
		for _, r := range spec.Spec.Roles {
			ri := s.roleAt(string(r))
			if !slices.Contains(g.roles, ri) {
				g.roles = append(g.roles, ri)
			}
		}
		for _, ri := range g.roles {
			r := s.roles[ri]
			base := len(s.matches)
			for _, f := range r.flat {
				m := Match{Role: r.name, Group: n, Permission: f.index, FullAccess: f.full}
				if f.defRole != r.name {
					m.From = f.defRole
				}
				if !f.full {
					m.Scope = f.scope
				}
				if f.cond != nil {
					m.When = f.cond.src
				}
				s.matches = append(s.matches, m)
			}
			g.matches = append(g.matches, s.matches[base:len(s.matches):len(s.matches)])
			g.matchBase = append(g.matchBase, uint32(base))
		}
		for _, r := range spec.Spec.Restrictions {
			rs := restriction{mask: scopeMask(r.Scope)}
			var names []string
			for _, m := range r.Resources {
				if m == "*" {
					rs.allRes = true
				} else {
					rs.res = append(rs.res, s.resAt(string(m)))
				}
				names = append(names, string(m))
			}
			sort.Strings(names)
			rs.key = fmt.Sprintf("%d:%s", rs.mask, strings.Join(names, ","))
			g.restrictions = append(g.restrictions, rs)
		}
		for _, e := range spec.Spec.ExternalGroups {
			if !slices.Contains(s.ext[e], int32(i)) {
				s.ext[e] = append(s.ext[e], int32(i))
			}
		}
		s.groups = append(s.groups, g)
	}
	if !s.resolveAncestors(c.charge) {
		return
	}

	// Subjects and profiles.
	direct := map[string][]int32{}
	for gi, g := range s.groups {
		for _, m := range g.spec.Spec.Members {
			direct[string(m)] = append(direct[string(m)], int32(gi))
		}
	}
	s.subjects = newSubjectTable(len(direct))
	s.profileKey = map[string]int32{}
	var profiles []*profile
	ids := sortedKeys(direct)
	served := 0 // subjects in a served group (the rest are only restricted)
	var buf []int32
	var kb []byte
	for _, id := range ids {
		buf = buf[:0]
		for _, d := range direct[id] {
			buf = append(buf, s.groups[d].ancestors...)
		}
		slices.Sort(buf)
		buf = slices.Compact(buf)
		kb = groupKey(kb[:0], buf)
		pi, ok := s.profileKey[string(kb)]
		if !ok {
			pi = int32(len(profiles))
			profiles = append(profiles, &profile{groups: slices.Clone(buf)})
			s.profileKey[string(kb)] = pi
		}
		profiles[pi].members = append(profiles[pi].members, id)
		s.subjects.insert(id, pi)
		if slices.ContainsFunc(buf, func(gi int32) bool { return !s.groups[gi].restrictOnly }) {
			served++
		}
	}
	// Holders of a single IdP group are common; give them a profile now.
	for _, e := range sortedKeys(s.ext) {
		buf = buf[:0]
		for _, gi := range s.ext[e] {
			buf = append(buf, s.groups[gi].ancestors...)
		}
		slices.Sort(buf)
		buf = slices.Compact(buf)
		kb = groupKey(kb[:0], buf)
		if _, ok := s.profileKey[string(kb)]; !ok {
			s.profileKey[string(kb)] = int32(len(profiles))
			profiles = append(profiles, &profile{groups: slices.Clone(buf)})
		}
	}

	if !c.chargeProfiles(profiles) {
		return
	}

	// Field policies and chains come before profiles, which precompute
	// field access per policy.
	c.buildPolicies(fps, failClosed)
	c.buildChains(chs)

	// Profiles are independent of each other: fill them on every core.
	// Each worker has its own field-result cache (results are equal
	// whichever worker computes them).
	// Every profile's block has the same size: allocate all blocks at once
	// and let each profile write its own range (no copy afterwards).
	blk := len(s.resNames) * s.stride()
	s.bits = make([]uint64, len(profiles)*blk)
	adviseHugePages(s.bits)
	for i, p := range profiles {
		p.bits = s.bits[i*blk : (i+1)*blk : (i+1)*blk]
	}
	workers := min(runtime.GOMAXPROCS(0), 1+len(profiles)/512)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cache := map[string]*fieldResult{}
			var scr scratch
			for i := w; i < len(profiles); i += workers {
				s.fillProfile(profiles[i], cache, &scr)
			}
		}()
	}
	wg.Wait()
	s.profiles = make([]profile, len(profiles))
	adviseHugePages(s.profiles)
	var nGrants, nRestrict int
	for _, p := range profiles {
		nGrants, nRestrict = nGrants+len(p.grants), nRestrict+len(p.restrict)
	}
	// Move every profile's block into shared arrays, rebasing header
	// offsets, so the hot path needs only the profile's block offset.
	s.grants = make([]rowGrant, 0, nGrants)
	s.restrict = make([]uint16, 0, nRestrict)
	s.pHot = make([]uint64, len(profiles))
	st, hdr := s.stride(), s.hdrPos()
	for i, p := range profiles {
		off := i * blk
		gBase, rBase := uint32(len(s.grants)), uint32(len(s.restrict))
		for ri := 0; ri < len(s.resNames); ri++ {
			h := ri*st + hdr
			r := decodeRow(p.bits[h], p.bits[h+1])
			r.gOff += gBase
			r.rOff += rBase
			p.bits[h], p.bits[h+1] = encodeRow(r)
		}
		s.grants = append(s.grants, p.grants...)
		s.restrict = append(s.restrict, p.restrict...)
		p.grants, p.restrict = s.grants, s.restrict
		s.pHot[i] = uint64(off)
		if p.hasRoles {
			s.pHot[i] |= hotHasRoles
		}
		s.profiles[i] = *p
	}
	for i := range s.profiles {
		s.profiles[i].grants, s.profiles[i].restrict = s.grants, s.restrict
	}
	for i := range s.subjects.slots {
		if sl := &s.subjects.slots[i]; sl.hash != 0 {
			sl.off, sl.roles = uint32(s.pHot[sl.pi]), s.pHot[sl.pi]&hotHasRoles != 0
		}
	}

	// Only what is served counts: left-out groups and the fail-closed
	// policies standing in for left-out FieldPolicies are laid out but are
	// reported as problems, not served.
	s.counts = Counts{Roles: len(s.roles), Groups: len(groupNames), Subjects: served,
		FieldPolicies: len(fps), ApprovalChains: len(s.chains), Profiles: len(s.profiles)}
}

func chainAction(ch *v1alpha1.ApprovalChain) string {
	if ch.Spec.Action == "" {
		return "approve"
	}
	return string(ch.Spec.Action)
}

// allActs is a bitset with every action, including the wildcard bit for
// actions no object names.
func (s *Snapshot) allActs() []uint64 {
	w := make([]uint64, s.words)
	for i := range w {
		w[i] = ^uint64(0)
	}
	return w
}

func (s *Snapshot) flatGrant(roleName string, idx int, p *v1alpha1.Permission, cond *condition) flatGrant {
	f := flatGrant{defRole: roleName, index: idx, mask: scopeMask(p.Scope), cond: cond, scope: string(p.Scope), perm: p}
	if f.scope == "" {
		f.scope = string(v1alpha1.ScopeAll)
	}
	for _, r := range p.Resources {
		if r == "*" {
			f.allRes = true
		} else if !slices.Contains(f.res, s.resAt(string(r))) {
			f.res = append(f.res, s.resAt(string(r)))
		}
	}
	f.acts = make([]uint64, s.words)
	for _, a := range p.Actions {
		if a == "*" {
			copy(f.acts, s.allActs())
		} else {
			ai := s.actAt(string(a))
			f.acts[ai>>6] |= 1 << (ai & 63)
		}
	}
	return f
}

func groupKey(dst []byte, gs []int32) []byte {
	for _, g := range gs {
		dst = binary.LittleEndian.AppendUint32(dst, uint32(g))
	}
	return dst
}

// fillProfile derives everything a profile needs from its group set.
func (s *Snapshot) fillProfile(p *profile, fieldCache map[string]*fieldResult, scr *scratch) {
	for _, gi := range p.groups {
		g := s.groups[gi]
		if g.restrictOnly {
			continue // restrictions only (buildRows reads them from p.groups)
		}
		p.groupNames = append(p.groupNames, g.name)
		for k, ri := range g.roles {
			p.srcs = append(p.srcs, roleSrc{role: ri, group: gi, k: int32(k)})
			p.held = append(p.held, s.roles[ri].holds...)
		}
	}
	slices.SortFunc(p.srcs, func(a, b roleSrc) int {
		if a.role != b.role {
			return int(a.role - b.role)
		}
		return int(a.group - b.group)
	})
	slices.Sort(p.held)
	p.held = slices.Compact(p.held)
	for _, ri := range p.held {
		p.roleNames = append(p.roleNames, s.roles[ri].name)
	}

	var rs []restriction
	var rkeys []string
	for _, gi := range p.groups {
		for _, r := range s.groups[gi].restrictions {
			if !slices.Contains(rkeys, r.key) {
				rkeys = append(rkeys, r.key)
				rs = append(rs, r)
			}
		}
	}
	if scr == nil {
		scr = &scratch{}
	}
	s.buildRows(p, rs, scr)
	p.attr = *s.buildAttrs(p.groups)
	p.fields = s.buildFields(p, fieldCache)
}

// buildRows lays out a profile's grants. A role given by several groups is
// attributed to the first group by name.
// scratch holds buffers buildRows reuses from one profile to the next.
type scratch struct {
	perRow    [][]rowGrant
	scopeBits []uint64
	rows      []row
}

func (s *Snapshot) buildRows(p *profile, rs []restriction, scr *scratch) {
	nRes, W, st := len(s.resNames), s.words, s.stride()
	if p.bits == nil { // request-time profiles own their block
		p.bits = make([]uint64, nRes*st)
	}
	if len(scr.perRow) != nRes {
		scr.perRow = make([][]rowGrant, nRes)
		scr.scopeBits = make([]uint64, nRes*nScopes*W)
		scr.rows = make([]row, nRes)
	}
	perRow, scopeBits, rows := scr.perRow, scr.scopeBits, scr.rows
	for i := range perRow {
		perRow[i] = perRow[i][:0]
	}
	clear(scopeBits)
	clear(rows)
	add := func(ri int, g rowGrant) {
		perRow[ri] = append(perRow[ri], g)
		if g.cond != nil {
			return
		}
		for sc := 0; sc < nScopes; sc++ {
			if g.mask&(1<<sc) != 0 {
				b := scopeBits[(ri*nScopes+sc)*W:]
				for w := 0; w < W; w++ {
					b[w] |= g.fg.acts[w]
				}
			}
		}
	}
	for i, src := range p.srcs {
		if i > 0 && p.srcs[i-1].role == src.role {
			continue
		}
		r := s.roles[src.role]
		p.hasRoles = true
		p.full = p.full || r.full
		grp := s.groups[src.group]
		ms, mbase := grp.matches[src.k], grp.matchBase[src.k]
		for fi, f := range r.flat {
			g := rowGrant{a0: f.acts[0], mi: mbase + uint32(fi), match: &ms[fi], cond: f.cond, fg: f, mask: f.mask}
			if f.allRes {
				for ri := range nRes {
					add(ri, g)
				}
			} else {
				for _, ri := range f.res {
					add(int(ri), g)
				}
			}
		}
	}
	n := 0
	for _, g := range perRow {
		n += len(g)
	}
	p.grants = make([]rowGrant, 0, n)
	for ri, gs := range perRow {
		r := &rows[ri]
		r.gOff, r.gN = uint32(len(p.grants)), uint16(len(gs))
		for _, g := range gs {
			if g.cond != nil {
				r.nCond++
			}
		}
		p.grants = append(p.grants, gs...)
	}
	// Restrictions: per row, the distinct masks that must all hold.
	restrict := make([][]uint16, nRes)
	for _, r := range rs {
		if r.mask == maskAll {
			continue // "all" restricts nothing
		}
		if r.allRes {
			for ri := range restrict {
				restrict[ri] = append(restrict[ri], r.mask)
			}
		} else {
			for _, ri := range r.res {
				restrict[ri] = append(restrict[ri], r.mask)
			}
		}
	}
	for ri, ms := range restrict {
		if len(ms) == 0 {
			continue
		}
		slices.Sort(ms)
		ms = slices.Compact(ms)
		rows[ri].rOff, rows[ri].rN = uint32(len(p.restrict)), uint16(len(ms))
		p.restrict = append(p.restrict, ms...)
	}
	for ri := 0; ri < nRes; ri++ {
		for sc := 0; sc < nScopes; sc++ {
			for w := 0; w < W; w++ {
				v := scopeBits[(ri*nScopes+sc)*W+w]
				if s.compact {
					p.bits[ri*st+sc>>1] |= (v & 0xffffffff) << (32 * (sc & 1))
				} else {
					p.bits[ri*st+sc*W+w] = v
				}
			}
		}
	}
	for ri, r := range rows {
		h := ri*st + s.hdrPos()
		p.bits[h], p.bits[h+1] = encodeRow(r)
		if s.compact {
			n := 0
			for _, g := range perRow[ri] {
				if g.cond == nil && n < 2 && g.mi < 1<<24 {
					p.bits[h+2+n] = g.a0&0xffffffff | uint64(g.mask&0xff)<<32 | uint64(g.mi)<<40
					n++
				}
			}
			p.bits[h+1] |= uint64(n) << 48
		} else if W == 1 {
			n := 0
			for _, g := range perRow[ri] {
				if g.cond == nil && n < maxInline {
					p.bits[h+2+2*n], p.bits[h+3+2*n] = g.a0, uint64(g.mask)|uint64(g.mi)<<32
					n++
				}
			}
			p.bits[h+1] |= uint64(n) << 48
		}
	}
}

// noProps is the attributes of a profile whose groups set none, shared by
// all of them: conditions only read it.
var noProps = map[string]any{}

// buildAttrs merges the attributes of a group set: every attribute becomes
// the set union of the groups' values.
func (s *Snapshot) buildAttrs(groups []int32) *attrs {
	vals := map[string][]string{}
	list := map[string]bool{}
	for _, gi := range groups {
		for k, v := range s.groups[gi].attrs {
			vals[k] = append(vals[k], v.Values...)
			list[k] = list[k] || v.List
		}
	}
	a := &attrs{props: noProps}
	if len(vals) > 0 {
		a.props = make(map[string]any, len(vals))
	}
	for k, v := range vals {
		sort.Strings(v)
		v = slices.Compact(v)
		if k == AttrUnit {
			for i := range v {
				v[i] = normUnit(v[i])
			}
			sort.Strings(v)
			v = slices.Compact(v)
		}
		vals[k] = v
		if len(v) == 1 && !list[k] {
			a.props[k] = v[0]
		} else {
			a.props[k] = v
		}
	}
	a.units, a.hasUnit = vals[AttrUnit]
	a.company, a.hasCompany = vals[AttrCompany]
	a.companies, a.hasCompanies = vals[AttrCompanies]
	a.facilities, a.hasFacilities = vals[AttrFacilities]
	return a
}
