package views

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
	syaml "sigs.k8s.io/yaml"

	"github.com/gatehouse-dev/gatehouse/api/v1alpha1"
	"github.com/gatehouse-dev/gatehouse/internal/manifest"
	"github.com/gatehouse-dev/gatehouse/internal/snapshot"
)

// Bounds of a what-if request.
const (
	// MaxEdits is the most edits one what-if applies.
	MaxEdits = 200
	// MaxYAML is the largest edited object, in bytes.
	MaxYAML = 1 << 20
)

// Values of an edit that remove rather than set.
const (
	// ScopeNone removes a role's grant of an action on a module.
	ScopeNone = "none"
	// AccessDefault removes a role's grants of a field (the field's default
	// applies again).
	AccessDefault = "default"
)

// Edit is one what-if change of a tenant's objects, written as
//
//	Role/NAME/MODULE/ACTION/SCOPE          grant ACTION on MODULE with SCOPE (none: remove it)
//	FieldPolicy/NAME/FIELD/ROLE/ACCESS     give ROLE ACCESS to FIELD (default: remove its grants)
type Edit struct {
	Kind string // Role or FieldPolicy
	Name string // the object's name
	// Role edits.
	Module, Action, Scope string
	// FieldPolicy edits.
	Field, Role, Access string
}

// String writes the edit as ParseEdit reads it.
func (e Edit) String() string {
	if e.Kind == v1alpha1.KindRole {
		return strings.Join([]string{e.Kind, e.Name, e.Module, e.Action, e.Scope}, "/")
	}
	return strings.Join([]string{e.Kind, e.Name, e.Field, e.Role, e.Access}, "/")
}

// Words describes the edit for people, e.g. "Role technician: delete
// workorders (scope all)".
func (e Edit) Words() string {
	if e.Kind == v1alpha1.KindRole {
		if e.Scope == ScopeNone {
			return fmt.Sprintf("Role %s: no %s on %s", e.Name, e.Action, e.Module)
		}
		return fmt.Sprintf("Role %s: %s %s (scope %s)", e.Name, e.Action, e.Module, e.Scope)
	}
	if e.Access == AccessDefault {
		return fmt.Sprintf("FieldPolicy %s: field %s for role %s as the default", e.Name, e.Field, e.Role)
	}
	return fmt.Sprintf("FieldPolicy %s: field %s %s for role %s", e.Name, e.Field, e.Access, e.Role)
}

// ParseEdit reads an edit (see Edit). Errors quote at most a short prefix
// of s.
func ParseEdit(s string) (Edit, error) {
	parts := strings.Split(s, "/")
	if len(parts) != 5 || slices.Contains(parts, "") {
		return Edit{}, fmt.Errorf("edit %s: want Role/NAME/MODULE/ACTION/SCOPE or FieldPolicy/NAME/FIELD/ROLE/ACCESS", QuoteInput(s))
	}
	switch parts[0] {
	case v1alpha1.KindRole:
		e := Edit{Kind: parts[0], Name: parts[1], Module: parts[2], Action: parts[3], Scope: parts[4]}
		if e.Scope != ScopeNone && !slices.Contains(v1alpha1.AllScopes, v1alpha1.Scope(e.Scope)) {
			return Edit{}, fmt.Errorf("edit %s: scope %s is not a scope (nor none)", QuoteInput(s), QuoteInput(e.Scope))
		}
		if e.Module == "*" || e.Action == "*" {
			return Edit{}, fmt.Errorf("edit %s: edit wildcards in the role's YAML", QuoteInput(s))
		}
		return e, nil
	case v1alpha1.KindFieldPolicy:
		e := Edit{Kind: parts[0], Name: parts[1], Field: parts[2], Role: parts[3], Access: parts[4]}
		switch v1alpha1.FieldAccess(e.Access) {
		case v1alpha1.FieldWrite, v1alpha1.FieldRead, v1alpha1.FieldHidden, AccessDefault:
		default:
			return Edit{}, fmt.Errorf("edit %s: access %s is not write, read, hidden or default", QuoteInput(s), QuoteInput(e.Access))
		}
		return e, nil
	}
	return Edit{}, fmt.Errorf("edit %s: kind must be Role or FieldPolicy", QuoteInput(s))
}

// QuoteInput quotes at most 40 bytes of a value from a request.
func QuoteInput(s string) string {
	if len(s) > 40 {
		return fmt.Sprintf("%q…", s[:40])
	}
	return fmt.Sprintf("%q", s)
}

// CopyObjects deep-copies objs, so that edits leave the loaded objects alone.
func CopyObjects(objs snapshot.Objects) snapshot.Objects {
	var out snapshot.Objects
	for i := range objs.Roles {
		out.Roles = append(out.Roles, *objs.Roles[i].DeepCopy())
	}
	for i := range objs.Groups {
		out.Groups = append(out.Groups, *objs.Groups[i].DeepCopy())
	}
	for i := range objs.FieldPolicies {
		out.FieldPolicies = append(out.FieldPolicies, *objs.FieldPolicies[i].DeepCopy())
	}
	for i := range objs.ApprovalChains {
		out.ApprovalChains = append(out.ApprovalChains, *objs.ApprovalChains[i].DeepCopy())
	}
	return out
}

// ApplyEdits applies edits, in order, to a copy of objs.
func ApplyEdits(objs snapshot.Objects, edits []Edit) (snapshot.Objects, error) {
	if len(edits) > MaxEdits {
		return objs, fmt.Errorf("%d edits: at most %d", len(edits), MaxEdits)
	}
	out := CopyObjects(objs)
	for _, e := range edits {
		var err error
		switch e.Kind {
		case v1alpha1.KindRole:
			err = wiApplyRole(&out, e)
		case v1alpha1.KindFieldPolicy:
			err = wiApplyField(&out, e)
		default:
			err = fmt.Errorf("edit %s: kind must be Role or FieldPolicy", QuoteInput(e.String()))
		}
		if err != nil {
			return objs, err
		}
	}
	return out, nil
}

func wiApplyRole(objs *snapshot.Objects, e Edit) error {
	i := slices.IndexFunc(objs.Roles, func(r v1alpha1.Role) bool { return r.Name == e.Name })
	if i < 0 {
		return fmt.Errorf("edit %s: no Role %s", QuoteInput(e.String()), QuoteInput(e.Name))
	}
	r := &objs.Roles[i]
	if e.Scope != ScopeNone {
		for _, p := range r.Spec.Permissions {
			if p.When == "" && wiScope(p.Scope) == e.Scope && slices.Contains(p.Resources, v1alpha1.ModuleName(e.Module)) && slices.Contains(p.Actions, v1alpha1.ActionName(e.Action)) {
				return nil // granted so already
			}
		}
	}
	var kept []v1alpha1.Permission
	for _, p := range r.Spec.Permissions {
		holds := slices.Contains(p.Resources, v1alpha1.ModuleName(e.Module)) && slices.Contains(p.Actions, v1alpha1.ActionName(e.Action))
		if !holds || (e.Scope != ScopeNone && p.When != "") {
			kept = append(kept, p)
			continue
		}
		// Split the permission around (module, action).
		if others := wiWithout(p.Actions, v1alpha1.ActionName(e.Action)); len(others) > 0 {
			q := *p.DeepCopy()
			q.Resources, q.Actions = []v1alpha1.ModuleName{v1alpha1.ModuleName(e.Module)}, others
			kept = append(kept, q)
		}
		if others := wiWithout(p.Resources, v1alpha1.ModuleName(e.Module)); len(others) > 0 {
			q := *p.DeepCopy()
			q.Resources = others
			kept = append(kept, q)
		}
	}
	if e.Scope != ScopeNone {
		p := v1alpha1.Permission{Resources: []v1alpha1.ModuleName{v1alpha1.ModuleName(e.Module)}, Actions: []v1alpha1.ActionName{v1alpha1.ActionName(e.Action)}}
		if e.Scope != string(v1alpha1.ScopeAll) {
			p.Scope = v1alpha1.Scope(e.Scope)
		}
		kept = append(kept, p)
	}
	r.Spec.Permissions = kept
	return nil
}

func wiWithout[T comparable](xs []T, x T) []T {
	var out []T
	for _, y := range xs {
		if y != x {
			out = append(out, y)
		}
	}
	return out
}

func wiApplyField(objs *snapshot.Objects, e Edit) error {
	i := slices.IndexFunc(objs.FieldPolicies, func(f v1alpha1.FieldPolicy) bool { return f.Name == e.Name })
	if i < 0 {
		return fmt.Errorf("edit %s: no FieldPolicy %s", QuoteInput(e.String()), QuoteInput(e.Name))
	}
	fp := &objs.FieldPolicies[i]
	j := slices.IndexFunc(fp.Spec.Fields, func(f v1alpha1.FieldRule) bool { return string(f.Name) == e.Field })
	if j < 0 {
		if e.Access == AccessDefault {
			return nil
		}
		fp.Spec.Fields = append(fp.Spec.Fields, v1alpha1.FieldRule{Name: v1alpha1.FieldName(e.Field)})
		j = len(fp.Spec.Fields) - 1
	}
	rule := &fp.Spec.Fields[j]
	var kept []v1alpha1.FieldGrant
	for _, g := range rule.Grants {
		g.Roles = wiWithout(g.Roles, v1alpha1.ObjectName(e.Role))
		if len(g.Roles) > 0 || len(g.Groups) > 0 {
			kept = append(kept, g)
		}
	}
	if e.Access != AccessDefault {
		kept = append(kept, v1alpha1.FieldGrant{Roles: []v1alpha1.ObjectName{v1alpha1.ObjectName(e.Role)}, Access: v1alpha1.FieldAccess(e.Access)})
	}
	rule.Grants = kept
	return nil
}

// ObjectRef names one object of a tenant.
type ObjectRef struct{ Kind, Name string }

// String is Kind/Name.
func (r ObjectRef) String() string { return r.Kind + "/" + r.Name }

// ParseObjectRef reads Kind/Name.
func ParseObjectRef(s string) (ObjectRef, error) {
	kind, name, ok := strings.Cut(s, "/")
	if !ok || name == "" || strings.Contains(name, "/") {
		return ObjectRef{}, fmt.Errorf("object %s: want Kind/Name", QuoteInput(s))
	}
	if _, known := v1alpha1.LookupAccessKind(kind); !known {
		return ObjectRef{}, fmt.Errorf("object %s: kind must be Role, UserGroup, FieldPolicy or ApprovalChain", QuoteInput(s))
	}
	return ObjectRef{Kind: kind, Name: name}, nil
}

// ObjectRefs lists the tenant's objects, by kind then name.
func ObjectRefs(objs snapshot.Objects) []ObjectRef {
	var out []ObjectRef
	wiEach(objs, func(o v1alpha1.AccessObject) { out = append(out, ObjectRef{o.AccessKind(), o.GetName()}) })
	sort.Slice(out, func(i, j int) bool {
		if out[i].Kind != out[j].Kind {
			return out[i].Kind > out[j].Kind // Role, UserGroup, FieldPolicy, ApprovalChain-ish: roles first
		}
		return out[i].Name < out[j].Name
	})
	return out
}

func wiEach(objs snapshot.Objects, f func(v1alpha1.AccessObject)) {
	for i := range objs.Roles {
		f(&objs.Roles[i])
	}
	for i := range objs.Groups {
		f(&objs.Groups[i])
	}
	for i := range objs.FieldPolicies {
		f(&objs.FieldPolicies[i])
	}
	for i := range objs.ApprovalChains {
		f(&objs.ApprovalChains[i])
	}
}

// wiFind returns the object ref names in objs, nil when there is none.
func wiFind(objs snapshot.Objects, ref ObjectRef) v1alpha1.AccessObject {
	var found v1alpha1.AccessObject
	wiEach(objs, func(o v1alpha1.AccessObject) {
		if found == nil && o.AccessKind() == ref.Kind && o.GetName() == ref.Name {
			found = o
		}
	})
	return found
}

// ObjectYAML renders one object as YAML for editing or download: status
// and server-set metadata left out. ok is false when there is no such
// object.
func ObjectYAML(objs snapshot.Objects, ref ObjectRef) (out []byte, ok bool) {
	o := wiFind(objs, ref)
	if o == nil {
		return nil, false
	}
	data, err := json.Marshal(o)
	if err != nil {
		return nil, false
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, false
	}
	delete(m, "status")
	m["apiVersion"], m["kind"] = v1alpha1.GroupVersion.String(), ref.Kind
	if meta, ok := m["metadata"].(map[string]any); ok {
		for _, k := range []string{"creationTimestamp", "managedFields", "resourceVersion", "uid", "generation"} {
			delete(meta, k)
		}
	}
	y, err := syaml.Marshal(m)
	if err != nil {
		return nil, false
	}
	return y, true
}

// ReplaceObject replaces the object ref of a copy of objs by the one
// data holds: one YAML document of the same kind, name and namespace
// (namespace may be left out). Errors name the offending field and quote
// at most a short prefix of the input.
func ReplaceObject(objs snapshot.Objects, tenant string, ref ObjectRef, data []byte) (snapshot.Objects, error) {
	if len(data) > MaxYAML {
		return objs, fmt.Errorf("yaml: %d bytes, at most %d", len(data), MaxYAML)
	}
	old := wiFind(objs, ref)
	if old == nil {
		return objs, fmt.Errorf("object: no %s in tenant %s", QuoteInput(ref.String()), QuoteInput(tenant))
	}
	docs, err := manifest.ParseDocuments("yaml", data)
	if err != nil {
		return objs, fmt.Errorf("yaml: %s", wiCut(err.Error()))
	}
	if len(docs) != 1 || docs[0].Node == nil || docs[0].Node.Kind != yaml.MappingNode {
		return objs, errors.New("yaml: want exactly one object")
	}
	var head struct {
		APIVersion string `yaml:"apiVersion"`
		Kind       string `yaml:"kind"`
		Metadata   struct {
			Name      string `yaml:"name"`
			Namespace string `yaml:"namespace"`
		} `yaml:"metadata"`
	}
	if err := docs[0].Node.Decode(&head); err != nil {
		return objs, fmt.Errorf("yaml: %s", wiCut(err.Error()))
	}
	switch {
	case head.APIVersion != v1alpha1.GroupVersion.String():
		return objs, fmt.Errorf("yaml: apiVersion is %s, want %s", QuoteInput(head.APIVersion), v1alpha1.GroupVersion)
	case head.Kind != ref.Kind:
		return objs, fmt.Errorf("yaml: kind is %s, want %s", QuoteInput(head.Kind), ref.Kind)
	case head.Metadata.Name != ref.Name:
		return objs, fmt.Errorf("yaml: metadata.name is %s, want %s", QuoteInput(head.Metadata.Name), QuoteInput(ref.Name))
	case head.Metadata.Namespace != "" && head.Metadata.Namespace != tenant && head.Metadata.Namespace != old.GetNamespace():
		return objs, fmt.Errorf("yaml: metadata.namespace is %s, want %s", QuoteInput(head.Metadata.Namespace), QuoteInput(tenant))
	}
	k, _ := v1alpha1.LookupAccessKind(ref.Kind)
	obj := k.New()
	if err := docs[0].Decode(obj); err != nil {
		return objs, fmt.Errorf("yaml: %s", wiCut(err.Error()))
	}
	obj.SetNamespace(old.GetNamespace())
	out := CopyObjects(objs)
	switch x := obj.(type) {
	case *v1alpha1.Role:
		out.Roles[slices.IndexFunc(out.Roles, func(r v1alpha1.Role) bool { return r.Name == ref.Name })] = *x
	case *v1alpha1.UserGroup:
		out.Groups[slices.IndexFunc(out.Groups, func(r v1alpha1.UserGroup) bool { return r.Name == ref.Name })] = *x
	case *v1alpha1.FieldPolicy:
		out.FieldPolicies[slices.IndexFunc(out.FieldPolicies, func(r v1alpha1.FieldPolicy) bool { return r.Name == ref.Name })] = *x
	case *v1alpha1.ApprovalChain:
		out.ApprovalChains[slices.IndexFunc(out.ApprovalChains, func(r v1alpha1.ApprovalChain) bool { return r.Name == ref.Name })] = *x
	}
	return out, nil
}

// wiCut bounds a message that may quote input.
func wiCut(s string) string {
	if len(s) > 200 {
		return s[:200] + "…"
	}
	return s
}

// ChangedObjects lists the objects whose spec differs between before and after.
func ChangedObjects(before, after snapshot.Objects) []ObjectRef {
	var out []ObjectRef
	for _, ref := range ObjectRefs(after) {
		a, b := wiFind(after, ref), wiFind(before, ref)
		if b == nil || !reflect.DeepEqual(wiSpec(a), wiSpec(b)) {
			out = append(out, ref)
		}
	}
	return out
}

func wiSpec(o v1alpha1.AccessObject) any {
	switch x := o.(type) {
	case *v1alpha1.Role:
		return x.Spec
	case *v1alpha1.UserGroup:
		return x.Spec
	case *v1alpha1.FieldPolicy:
		return x.Spec
	case *v1alpha1.ApprovalChain:
		return x.Spec
	}
	return nil
}

// WhatIf is the effect of edits on a tenant.
type WhatIf struct {
	// Changes are who gains or loses what, against the loaded snapshot.
	Changes snapshot.Changes
	// Problems are the compile problems the edits bring (objects with
	// problems would be left out: shown, never served).
	Problems []snapshot.Problem
	// Refused: the edited tenant is over its compiled-size quota.
	Refused bool
	// Changed are the edited objects.
	Changed []ObjectRef
}

// Evaluate compiles the edited objects with limits and diffs them against
// the loaded snapshot (before, compiled from objects with problems).
func Evaluate(tenant string, before *snapshot.Snapshot, beforeProblems []snapshot.Problem, objects, edited snapshot.Objects, limits snapshot.Limits) WhatIf {
	snap, problems := snapshot.CompileWith(tenant, edited, snapshot.Options{Limits: limits})
	w := WhatIf{Refused: snap == nil, Changed: ChangedObjects(objects, edited)}
	known := map[string]bool{}
	for _, p := range beforeProblems {
		known[p.String()] = true
	}
	for _, p := range problems {
		if !known[p.String()] {
			w.Problems = append(w.Problems, p)
		}
	}
	if snap != nil {
		w.Changes = snapshot.Diff(before, snap)
	}
	return w
}

// ToggleCell is what a role grants directly on one module and action.
type ToggleCell struct {
	Module, Action string
	// Scope is the scope granted without a condition ("" when none).
	Scope string
	// Conditional: a grant with a condition exists.
	Conditional bool
	// Inherited is the scope a role it extends grants ("" when none).
	Inherited string
	// Toggle is the edit that flips the cell: remove the grant, or grant
	// it with the scope the role uses for the module elsewhere (else all).
	Toggle Edit
}

// ToggleRow is one role's row group (one row per module).
type ToggleRow struct {
	Role       string
	FullAccess bool
	Modules    []ToggleModule
}

// ToggleModule is a role's cells for one module.
type ToggleModule struct {
	Module string
	Cells  []ToggleCell
}

// ToggleMatrix is the role matrix as what-if toggles.
type ToggleMatrix struct {
	Modules []string
	Actions []string
	Rows    []ToggleRow
}

// StandardActions are the actions the what-if matrix always offers (the
// documented ones); actions the roles name besides follow them.
var StandardActions = []string{"view", "create", "edit", "delete", "archive", "approve", "assign", "share", "export"}

// RoleToggles lays out, for every role, what it grants on every module and
// action named anywhere in the tenant's roles.
func RoleToggles(objs snapshot.Objects) ToggleMatrix {
	byName := map[string]*v1alpha1.Role{}
	for i := range objs.Roles {
		byName[objs.Roles[i].Name] = &objs.Roles[i]
	}
	// The same modules and actions as the role matrix (Columns), with the
	// standard actions first so that every role can be given them.
	modules, actions := Columns(objs)
	var m ToggleMatrix
	m.Modules, m.Actions = modules, slices.Clone(StandardActions)
	for _, mod := range modules {
		for _, a := range actions[mod] {
			if !slices.Contains(m.Actions, a) {
				m.Actions = append(m.Actions, a)
			}
		}
	}
	names := wiKeys(byName)
	for _, name := range names {
		r := byName[name]
		row := ToggleRow{Role: name, FullAccess: r.Spec.FullAccess}
		for _, mod := range m.Modules {
			mm := ToggleModule{Module: mod}
			usual := ""
			for _, p := range r.Spec.Permissions {
				if p.When == "" && slices.Contains(p.Resources, v1alpha1.ModuleName(mod)) {
					usual = wiScope(p.Scope)
				}
			}
			if usual == "" {
				usual = string(v1alpha1.ScopeAll)
			}
			for _, act := range m.Actions {
				c := ToggleCell{Module: mod, Action: act}
				for _, p := range r.Spec.Permissions {
					if wiGrants(p, mod, act) {
						if p.When != "" {
							c.Conditional = true
						} else {
							c.Scope = wiScope(p.Scope)
						}
					}
				}
				c.Inherited = wiInherited(byName, r, mod, act)
				c.Toggle = Edit{Kind: v1alpha1.KindRole, Name: name, Module: mod, Action: act, Scope: ScopeNone}
				if c.Scope == "" && !c.Conditional {
					c.Toggle.Scope = usual
				}
				mm.Cells = append(mm.Cells, c)
			}
			row.Modules = append(row.Modules, mm)
		}
		m.Rows = append(m.Rows, row)
	}
	return m
}

func wiGrants(p v1alpha1.Permission, mod, act string) bool {
	return (slices.Contains(p.Resources, v1alpha1.ModuleName(mod)) || slices.Contains(p.Resources, "*")) &&
		(slices.Contains(p.Actions, v1alpha1.ActionName(act)) || slices.Contains(p.Actions, "*"))
}

func wiScope(s v1alpha1.Scope) string {
	if s == "" {
		return string(v1alpha1.ScopeAll)
	}
	return string(s)
}

func wiInherited(byName map[string]*v1alpha1.Role, r *v1alpha1.Role, mod, act string) string {
	scope := ""
	lookup := func(n string) *v1alpha1.Role { return byName[n] }
	snapshot.ExtendsClosure(r.Name, lookup, func(base *v1alpha1.Role) {
		if scope != "" || base.Name == r.Name {
			return
		}
		for _, p := range base.Spec.Permissions {
			if p.When == "" && wiGrants(p, mod, act) {
				scope = wiScope(p.Scope)
				return
			}
		}
	})
	return scope
}

func wiKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// FieldToggleRow is one field of a field policy with each role's explicit
// access as what-if toggles.
type FieldToggleRow struct {
	Policy, Resource, Field string
	Default                 string
	Cells                   []FieldToggleCell
}

// FieldToggleCell is a role's explicit access to a field ("" for the default)
// and the edit that moves it to the next level (default → hidden → read →
// write → default).
type FieldToggleCell struct {
	Role   string
	Access string
	Toggle Edit
}

// FieldToggles lays out the fields of every field policy against the roles
// the tenant has.
func FieldToggles(objs snapshot.Objects) (roles []string, rows []FieldToggleRow) {
	for _, r := range objs.Roles {
		roles = append(roles, r.Name)
	}
	sort.Strings(roles)
	next := map[string]string{"": "hidden", "hidden": "read", "read": "write", "write": AccessDefault}
	for _, fp := range objs.FieldPolicies {
		for _, f := range fp.Spec.Fields {
			row := FieldToggleRow{Policy: fp.Name, Resource: string(fp.Spec.Resource), Field: string(f.Name), Default: string(f.Default)}
			if row.Default == "" {
				row.Default = string(fp.Spec.Default)
			}
			for _, role := range roles {
				c := FieldToggleCell{Role: role}
				for _, g := range f.Grants {
					if slices.Contains(g.Roles, v1alpha1.ObjectName(role)) {
						c.Access = string(g.Access)
					}
				}
				c.Toggle = Edit{Kind: v1alpha1.KindFieldPolicy, Name: fp.Name, Field: string(f.Name), Role: role, Access: next[c.Access]}
				row.Cells = append(row.Cells, c)
			}
			rows = append(rows, row)
		}
	}
	sort.SliceStable(rows, func(i, j int) bool { return rows[i].Policy < rows[j].Policy })
	return roles, rows
}

// Patch is a unified-diff-style patch of the YAML of the changed objects,
// from before to after (one hunk per object, three lines of context).
func Patch(before, after snapshot.Objects, changed []ObjectRef) string {
	var b strings.Builder
	for _, ref := range changed {
		oldY, _ := ObjectYAML(before, ref)
		newY, _ := ObjectYAML(after, ref)
		name := ref.Kind + "/" + ref.Name + ".yaml"
		b.WriteString(UnifiedDiff("a/"+name, "b/"+name, string(oldY), string(newY)))
	}
	return b.String()
}

// UnifiedDiff writes one hunk replacing what differs between old and new
// (their common first and last lines trimmed, three kept as context).
func UnifiedDiff(oldName, newName, old, new string) string {
	if old == new {
		return ""
	}
	a, b := wiLines(old), wiLines(new)
	pre := 0
	for pre < len(a) && pre < len(b) && a[pre] == b[pre] {
		pre++
	}
	suf := 0
	for suf < len(a)-pre && suf < len(b)-pre && a[len(a)-1-suf] == b[len(b)-1-suf] {
		suf++
	}
	const ctx = 3
	start := max(pre-ctx, 0)
	endA, endB := min(len(a)-suf+ctx, len(a)), min(len(b)-suf+ctx, len(b))
	var s strings.Builder
	if len(a) == 0 {
		oldName = "/dev/null"
	}
	fmt.Fprintf(&s, "--- %s\n+++ %s\n", oldName, newName)
	fmt.Fprintf(&s, "@@ -%s +%s @@\n", wiHunk(start, endA-start), wiHunk(start, endB-start))
	for _, l := range a[start:pre] {
		s.WriteString(" " + l + "\n")
	}
	for _, l := range a[pre : len(a)-suf] {
		s.WriteString("-" + l + "\n")
	}
	for _, l := range b[pre : len(b)-suf] {
		s.WriteString("+" + l + "\n")
	}
	for _, l := range a[len(a)-suf : endA] {
		s.WriteString(" " + l + "\n")
	}
	return s.String()
}

func wiHunk(start, n int) string {
	if n == 0 {
		return fmt.Sprintf("%d,0", start)
	}
	return fmt.Sprintf("%d,%d", start+1, n)
}

func wiLines(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(strings.TrimSuffix(s, "\n"), "\n")
}
