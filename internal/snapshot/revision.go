package snapshot

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"slices"
	"sort"

	"github.com/gatehouse-dev/gatehouse/api/v1alpha1"
)

// canonObject is the part of an object the revision covers: kind, name and
// the normalised spec. Metadata (resourceVersion, uid, managedFields,
// labels) and status are left out: they do not change permissions.
type canonObject struct {
	Kind string `json:"k"`
	Name string `json:"n"`
	Spec any    `json:"s"`
}

// sortedNames canonicalizes a set: sorted, without repeats, and empty as
// nil (the API server defaults some to [] where a file leaves them out).
func sortedNames[T ~string](xs []T) []T {
	if len(xs) == 0 {
		return nil
	}
	out := slices.Clone(xs)
	slices.Sort(out)
	return slices.Compact(out)
}

// revision hashes a canonical encoding of the input. Lists the API marks as
// sets are sorted and defaults are filled in, so that equivalent inputs in
// any order hash alike.
func revision(tenant string, objs Objects) string {
	return RevisionOfParts(tenant, RevisionParts(objs))
}

// RevisionParts returns the canonical encoding of each object of objs, sorted:
// what a revision hashes. RevisionOfParts(tenant, RevisionParts(objs)) is
// RevisionOf(tenant, objs); a caller that keeps the parts of several object
// sets can hash combinations of them without encoding objects again.
func RevisionParts(objs Objects) [][]byte {
	var all []canonObject
	for i := range objs.Roles {
		sp := *objs.Roles[i].Spec.DeepCopy()
		sp.Extends = sortedNames(sp.Extends)
		for j := range sp.Permissions {
			p := &sp.Permissions[j]
			p.Resources, p.Actions = sortedNames(p.Resources), sortedNames(p.Actions)
			if p.Scope == "" {
				p.Scope = v1alpha1.ScopeAll
			}
		}
		all = append(all, canonObject{KindRole, objs.Roles[i].Name, sp})
	}
	for i := range objs.Groups {
		sp := *objs.Groups[i].Spec.DeepCopy()
		sp.Members, sp.MemberGroups = sortedNames(sp.Members), sortedNames(sp.MemberGroups)
		sp.ExternalGroups, sp.Roles = sortedNames(sp.ExternalGroups), sortedNames(sp.Roles)
		for j := range sp.Restrictions {
			sp.Restrictions[j].Resources = sortedNames(sp.Restrictions[j].Resources)
		}
		all = append(all, canonObject{KindUserGroup, objs.Groups[i].Name, sp})
	}
	for i := range objs.FieldPolicies {
		sp := *objs.FieldPolicies[i].Spec.DeepCopy()
		if sp.Default == "" {
			sp.Default = v1alpha1.FieldWrite
		}
		sort.SliceStable(sp.Fields, func(a, b int) bool { return sp.Fields[a].Name < sp.Fields[b].Name })
		for j := range sp.Fields {
			for k := range sp.Fields[j].Grants {
				g := &sp.Fields[j].Grants[k]
				g.Roles, g.Groups = sortedNames(g.Roles), sortedNames(g.Groups)
			}
		}
		all = append(all, canonObject{KindFieldPolicy, objs.FieldPolicies[i].Name, sp})
	}
	for i := range objs.ApprovalChains {
		sp := *objs.ApprovalChains[i].Spec.DeepCopy()
		sp.Action = sp.EffectiveAction()
		for j := range sp.Steps {
			a := &sp.Steps[j].Approvers
			a.Roles, a.Groups, a.Users = sortedNames(a.Roles), sortedNames(a.Groups), sortedNames(a.Users)
		}
		all = append(all, canonObject{KindApprovalChain, objs.ApprovalChains[i].Name, sp})
	}
	// Encode each object on its own and sort the encodings: this orders
	// objects (even same-named duplicates) independently of input order.
	enc := make([][]byte, len(all))
	for i, o := range all {
		b, err := json.Marshal(o)
		if err != nil {
			b = []byte(err.Error())
		}
		enc[i] = b
	}
	slices.SortFunc(enc, func(a, b []byte) int { return slices.Compare(a, b) })
	return enc
}

// RevisionOfParts hashes sorted parts (see RevisionParts) into tenant's
// revision.
func RevisionOfParts(tenant string, parts [][]byte) string {
	h := sha256.New()
	t, _ := json.Marshal(tenant)
	h.Write(t)
	for _, b := range parts {
		h.Write([]byte{'\n'})
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// RevisionOf is the revision Compile gives objs in tenant: a content hash,
// so a client that knows what it applied can tell which answers reflect it.
func RevisionOf(tenant string, objs Objects) string { return revision(tenant, objs) }
