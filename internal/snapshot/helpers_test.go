package snapshot_test

import (
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gatehouse-dev/gatehouse/api/v1alpha1"
	"github.com/gatehouse-dev/gatehouse/internal/snapshot"
)

// Small builders keep table tests readable.

func split(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

func modules(s string) []v1alpha1.ModuleName {
	var out []v1alpha1.ModuleName
	for _, x := range split(s) {
		out = append(out, v1alpha1.ModuleName(x))
	}
	return out
}

func actions(s string) []v1alpha1.ActionName {
	var out []v1alpha1.ActionName
	for _, x := range split(s) {
		out = append(out, v1alpha1.ActionName(x))
	}
	return out
}

func objNames(s string) []v1alpha1.ObjectName {
	var out []v1alpha1.ObjectName
	for _, x := range split(s) {
		out = append(out, v1alpha1.ObjectName(x))
	}
	return out
}

func subjectIDs(s string) []v1alpha1.SubjectID {
	var out []v1alpha1.SubjectID
	for _, x := range split(s) {
		out = append(out, v1alpha1.SubjectID(x))
	}
	return out
}

// perm builds a permission: resources and actions comma-separated.
func perm(res, acts string, scope v1alpha1.Scope) v1alpha1.Permission {
	return v1alpha1.Permission{Resources: modules(res), Actions: actions(acts), Scope: scope}
}

func permWhen(res, acts string, scope v1alpha1.Scope, when string) v1alpha1.Permission {
	p := perm(res, acts, scope)
	p.When = v1alpha1.CELExpression(when)
	return p
}

func role(name string, perms ...v1alpha1.Permission) v1alpha1.Role {
	return v1alpha1.Role{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "t"}, Spec: v1alpha1.RoleSpec{Permissions: perms}}
}

func extends(r v1alpha1.Role, names string) v1alpha1.Role {
	r.Spec.Extends = objNames(names)
	return r
}

func fullAccess(name string) v1alpha1.Role {
	r := role(name)
	r.Spec.FullAccess = true
	return r
}

// group builds a group with comma-separated roles and members.
func group(name, roles, members string) v1alpha1.UserGroup {
	return v1alpha1.UserGroup{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "t"},
		Spec: v1alpha1.UserGroupSpec{Roles: objNames(roles), Members: subjectIDs(members)}}
}

func withAttrs(g v1alpha1.UserGroup, kv ...string) v1alpha1.UserGroup {
	if g.Spec.Attributes == nil {
		g.Spec.Attributes = map[string]v1alpha1.AttributeValue{}
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if strings.HasPrefix(kv[i+1], "[") {
			g.Spec.Attributes[kv[i]] = v1alpha1.ListAttribute(split(strings.Trim(kv[i+1], "[]"))...)
		} else {
			g.Spec.Attributes[kv[i]] = v1alpha1.StringAttribute(kv[i+1])
		}
	}
	return g
}

func withRestriction(g v1alpha1.UserGroup, res string, scope v1alpha1.Scope) v1alpha1.UserGroup {
	g.Spec.Restrictions = append(g.Spec.Restrictions, v1alpha1.Restriction{Resources: modules(res), Scope: scope})
	return g
}

func withMemberGroups(g v1alpha1.UserGroup, names string) v1alpha1.UserGroup {
	g.Spec.MemberGroups = objNames(names)
	return g
}

func withExternal(g v1alpha1.UserGroup, names string) v1alpha1.UserGroup {
	g.Spec.ExternalGroups = split(names)
	return g
}

func mustCompile(t testing.TB, objs snapshot.Objects) *snapshot.Snapshot {
	t.Helper()
	s, probs := snapshot.Compile("t", objs)
	if len(probs) > 0 {
		t.Fatalf("unexpected problems: %v", probs)
	}
	return s
}

func req(subject, action, resType string, res snapshot.Resource) *snapshot.Request {
	res.Type = resType
	return &snapshot.Request{Subject: snapshot.Subject{ID: subject}, Action: action, Resource: res}
}
