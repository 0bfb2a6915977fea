package snapshot

import (
	"slices"

	"github.com/gatehouse-dev/gatehouse/api/v1alpha1"
)

// The two walks of inheritance, shared by the compiler (over indices, with
// stamps) and by admission (over names, on the tenant as a change would
// leave it): one rule for what a role extends and who a group's members are.

// preorder visits start and what next leads to, depth first, each node once
// (first reports whether a node is new), children in the order next gives
// them. This is the order extends is flattened in: a role's own grants,
// then each extended role's, as written.
func preorder[K any](start K, first func(K) bool, next func(K) []K, visit func(K)) {
	stack := []K{start}
	for len(stack) > 0 {
		k := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if !first(k) {
			continue
		}
		visit(k)
		children := next(k)
		for i := len(children) - 1; i >= 0; i-- {
			stack = append(stack, children[i])
		}
	}
}

// reach returns start and everything next leads to, breadth first, each
// once (first reports whether a node is new). Over memberGroups upwards it
// is a group's ancestors: the groups whose members include its members.
func reach[K any](start []K, first func(K) bool, next func(K) []K) []K {
	var out []K
	for _, k := range start {
		if first(k) {
			out = append(out, k)
		}
	}
	for i := 0; i < len(out); i++ {
		for _, n := range next(out[i]) {
			if first(n) {
				out = append(out, n)
			}
		}
	}
	return out
}

// ExtendsClosure visits the role name and every role it extends,
// transitively, each once, in the order the compiler flattens their grants.
// lookup returns nil for a role to leave out (missing, or not served); what
// it extends is then not reached through it.
func ExtendsClosure(name string, lookup func(string) *v1alpha1.Role, visit func(*v1alpha1.Role)) {
	seen := map[string]bool{}
	preorder(name,
		func(n string) bool {
			if seen[n] || lookup(n) == nil {
				return false
			}
			seen[n] = true
			return true
		},
		func(n string) []string { return namesOf(lookup(n).Spec.Extends) },
		func(n string) { visit(lookup(n)) })
}

// GroupsIncluding returns the groups of start and every group that includes
// one of them through memberGroups, transitively: their members are
// members of all of these (the compiler's ancestors).
func GroupsIncluding(groups map[string]*v1alpha1.UserGroup, start []string) []string {
	parents := map[string][]string{}
	for _, name := range sortedKeys(groups) {
		for _, m := range groups[name].Spec.MemberGroups {
			parents[string(m)] = append(parents[string(m)], name)
		}
	}
	seen := map[string]bool{}
	return reach(start, func(n string) bool {
		if seen[n] {
			return false
		}
		seen[n] = true
		return true
	}, func(n string) []string { return parents[n] })
}

// GroupsIncluded returns name and the groups it lists in memberGroups,
// transitively: the groups whose members are its members. Names missing
// from groups are included but lead nowhere.
func GroupsIncluded(groups map[string]*v1alpha1.UserGroup, name string) []string {
	seen := map[string]bool{}
	return reach([]string{name}, func(n string) bool {
		if seen[n] {
			return false
		}
		seen[n] = true
		return true
	}, func(n string) []string {
		if g, ok := groups[n]; ok {
			return namesOf(g.Spec.MemberGroups)
		}
		return nil
	})
}

func namesOf(ns []v1alpha1.ObjectName) []string {
	out := make([]string, len(ns))
	for i, n := range ns {
		out[i] = string(n)
	}
	return slices.Clip(out)
}
