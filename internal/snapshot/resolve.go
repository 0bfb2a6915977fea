package snapshot

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/gatehouse-dev/gatehouse/api/v1alpha1"
)

// Resolution: which objects are valid on their own, which references hold,
// and which policies and chains apply. Objects with problems are left out,
// with what depends on them.

// resolution is what the compiler learns about the objects before it
// builds anything; Compile's steps fill it in order.
type resolution struct {
	overQuota           map[string]bool // kind/name of objects beyond a limit
	roleOK, grpOK       map[string]bool // valid on their own (and not on a cycle)
	grpStart            map[string]bool // grpOK and every role they name valid
	roleValid, grpValid map[string]bool // valid with everything they reference
}

// refMsg says why a referenced object is missing: never there, or left out.
func (c *compiler) refMsg(kind string, m map[string]bool, n v1alpha1.ObjectName) string {
	if _, exists := m[string(n)]; exists {
		return fmt.Sprintf("%s %q was left out of the snapshot", kind, n)
	}
	return fmt.Sprintf("%s %q does not exist", kind, n)
}

// checkObjects runs the local checks and quotas, and finds duplicate names.
func (c *compiler) checkObjects(objs Objects) {
	c.overQuota = map[string]bool{} // kind/name
	for _, p := range c.limits.Check(objs) {
		c.overQuota[p.Kind+"/"+p.Name] = true
		c.add(p)
	}
	c.roleOK = map[string]bool{}
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
		c.roleOK[r.Name] = len(ps) == 0 && !c.overQuota[KindRole+"/"+r.Name]
	}
	c.grpOK = map[string]bool{}
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
		c.grpOK[g.Name] = len(ps) == 0 && !c.overQuota[KindUserGroup+"/"+g.Name]
	}
}

// resolveReferences removes objects on cycles, then those whose references
// are missing or left out, until nothing changes.
func (c *compiler) resolveReferences() {
	// Cycles among otherwise valid objects first.
	c.cycles(KindRole, "spec.extends", c.roleOK, func(n string) []v1alpha1.ObjectName { return c.roleSpecs[n].Spec.Extends })
	c.cycles(KindUserGroup, "spec.memberGroups", c.grpOK, func(n string) []v1alpha1.ObjectName { return c.groupSpecs[n].Spec.MemberGroups })

	// References, propagated to a fixpoint.
	c.roleValid = validClosure(c.roleOK, func(n string) []v1alpha1.ObjectName { return c.roleSpecs[n].Spec.Extends })
	for _, n := range sortedKeys(c.roleOK) {
		if c.roleOK[n] && !c.roleValid[n] {
			for i, e := range c.roleSpecs[n].Spec.Extends {
				if !c.roleValid[string(e)] {
					c.add(Problem{KindRole, n, fmt.Sprintf("spec.extends[%d]", i), v1alpha1.ReasonInvalidReference, "extends " + c.refMsg("Role", c.roleOK, e)})
				}
			}
		}
	}
	c.grpStart = map[string]bool{}
	for _, n := range sortedKeys(c.grpOK) {
		ok := c.grpOK[n]
		if ok {
			for i, r := range c.groupSpecs[n].Spec.Roles {
				if !c.roleValid[string(r)] {
					ok = false
					c.add(Problem{KindUserGroup, n, fmt.Sprintf("spec.roles[%d]", i), v1alpha1.ReasonInvalidReference, c.refMsg("Role", c.roleOK, r)})
				}
			}
		}
		c.grpStart[n] = ok
	}
	c.grpValid = validClosure(c.grpStart, func(n string) []v1alpha1.ObjectName { return c.groupSpecs[n].Spec.MemberGroups })
	for _, n := range sortedKeys(c.grpStart) {
		if c.grpStart[n] && !c.grpValid[n] {
			for i, e := range c.groupSpecs[n].Spec.MemberGroups {
				if !c.grpValid[string(e)] {
					c.add(Problem{KindUserGroup, n, fmt.Sprintf("spec.memberGroups[%d]", i), v1alpha1.ReasonInvalidReference, "includes " + c.refMsg("UserGroup", c.grpOK, e)})
				}
			}
		}
	}
}

// checkFieldPolicies returns the valid policies and the left-out ones
// (which fail closed). Policies and chains only reference: nothing
// references them.
func (c *compiler) checkFieldPolicies(objs Objects) (fps, brokenFPs []*v1alpha1.FieldPolicy) {
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
					if !c.roleValid[string(r)] {
						p.add(fmt.Sprintf("spec.fields[%d].grants[%d].roles[%d]", i, j, k), v1alpha1.ReasonInvalidReference, "%s", c.refMsg("Role", c.roleOK, r))
					}
				}
				for k, g := range gr.Groups {
					if !c.grpValid[string(g)] {
						p.add(fmt.Sprintf("spec.fields[%d].grants[%d].groups[%d]", i, j, k), v1alpha1.ReasonInvalidReference, "%s", c.refMsg("UserGroup", c.grpOK, g))
					}
				}
			}
		}
		ps = append(ps, p.list...)
		c.add(ps...)
		if len(ps) == 0 && !c.overQuota[KindFieldPolicy+"/"+fp.Name] {
			fps = append(fps, fp)
		} else {
			brokenFPs = append(brokenFPs, fp)
		}
	}
	return fps, brokenFPs
}

// checkChains returns the valid approval chains.
func (c *compiler) checkChains(objs Objects) []*v1alpha1.ApprovalChain {
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
				if !c.roleValid[string(r)] {
					p.add(fmt.Sprintf("spec.steps[%d].approvers.roles[%d]", i, k), v1alpha1.ReasonInvalidReference, "%s", c.refMsg("Role", c.roleOK, r))
				}
			}
			for k, g := range st.Approvers.Groups {
				if !c.grpValid[string(g)] {
					p.add(fmt.Sprintf("spec.steps[%d].approvers.groups[%d]", i, k), v1alpha1.ReasonInvalidReference, "%s", c.refMsg("UserGroup", c.grpOK, g))
				}
			}
		}
		ps = append(ps, p.list...)
		c.add(ps...)
		if len(ps) == 0 && !c.overQuota[KindApprovalChain+"/"+ch.Name] {
			chs = append(chs, ch)
			c.chainConds[ch.Name] = conds
		}
	}
	return chs
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

// validClosure returns the names that are valid in start and whose every
// dependency is valid too, transitively. Invalidity spreads backwards
// along the dependency edges, each edge once.
func validClosure(start map[string]bool, deps func(string) []v1alpha1.ObjectName) map[string]bool {
	valid := make(map[string]bool, len(start))
	for n, ok := range start {
		if ok {
			valid[n] = true
		}
	}
	dependents := map[string][]string{}
	var queue []string
	for n := range valid {
		for _, d := range deps(n) {
			if !valid[string(d)] {
				queue = append(queue, n)
				break
			}
			dependents[string(d)] = append(dependents[string(d)], n)
		}
	}
	for len(queue) > 0 {
		n := queue[len(queue)-1]
		queue = queue[:len(queue)-1]
		if !valid[n] {
			continue
		}
		delete(valid, n)
		for _, m := range dependents[n] {
			if valid[m] {
				queue = append(queue, m)
			}
		}
	}
	return valid
}
