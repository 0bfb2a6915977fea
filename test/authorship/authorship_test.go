package authorship_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/gatehouse-dev/gatehouse/api/v1alpha1"
	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/snapshot"
)

const tenant = "acme"

// argoSA is Argo CD's application controller, as Argo CD installs it.
const argoSA = "system:serviceaccount:argocd:argocd-application-controller"

func perm(res, act string, scope v1.Scope) v1.Permission {
	return v1.Permission{Resources: []v1.ModuleName{v1.ModuleName(res)}, Actions: []v1.ActionName{v1.ActionName(act)}, Scope: scope}
}

func role(name string, perms ...v1.Permission) *v1.Role {
	return &v1.Role{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: tenant}, Spec: v1.RoleSpec{Permissions: perms}}
}

func group(name string, members []v1.SubjectID, roles ...v1.ObjectName) *v1.UserGroup {
	return &v1.UserGroup{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: tenant}, Spec: v1.UserGroupSpec{Members: members, Roles: roles}}
}

// allows reports whether the replica's served snapshot grants subject the
// action on resource, in some scope.
func (r *replica) allows(subject, action, resource string) bool {
	e := r.store.Get(tenant)
	if e == nil {
		return false
	}
	return slices.ContainsFunc(e.Snapshot.WhoCan(action, snapshot.Resource{Type: resource}),
		func(g snapshot.Grantee) bool { return g.Subject == subject })
}

func TestAuthorshipAcrossReplicas(t *testing.T) {
	c := startCluster(t)
	ctx := context.Background()
	a := c.startReplica(t, replicaOptions{name: "replica-a", webhook: true})
	b := c.startReplica(t, replicaOptions{name: "replica-b"})

	// The tenant as its cluster admin sets it up: alice and bob administer
	// it, tom.tech and mallory are technicians.
	must(t, c.admin.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: tenant}}))
	must(t, c.admin.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "argocd"}}))
	c.bindEditor(t, tenant,
		rbacv1.Subject{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: "alice"},
		rbacv1.Subject{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: "bob"},
		rbacv1.Subject{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: "mallory"},
		rbacv1.Subject{Kind: rbacv1.ServiceAccountKind, Namespace: "argocd", Name: "argocd-application-controller"})
	c.grantEscalate(t, tenant, rbacv1.Subject{Kind: rbacv1.ServiceAccountKind, Namespace: "argocd", Name: "argocd-application-controller"})
	for _, obj := range []client.Object{
		role("technician", perm("workorders", "view", v1.ScopeAll)),
		role("tenant-admin", v1.Permission{Resources: []v1.ModuleName{"workorders", "purchaseorders", "invoices"}, Actions: []v1.ActionName{"*"}}),
		group("admins", []v1.SubjectID{"alice", "bob"}, "tenant-admin"),
		group("techs", []v1.SubjectID{"tom.tech", "mallory"}, "technician"),
	} {
		must(t, c.admin.Create(ctx, obj))
	}
	for _, r := range []*replica{a, b} {
		eventually(t, r.name+" to serve the tenant with alice as an admin", func() bool { return r.allows("alice", "approve", "purchaseorders") })
	}

	alice := c.as(t, "alice", "uid-alice", "acme-admins", "finance")
	bob := c.as(t, "bob", "uid-bob", "acme-admins")
	mallory := c.as(t, "mallory", "uid-mallory", "acme-field")
	argo := c.as(t, argoSA, "uid-argocd", "system:serviceaccounts", "system:serviceaccounts:argocd")

	// alice lets technicians approve purchase orders in their unit tree.
	must(t, update(alice, &v1.Role{}, "technician", func(o client.Object) {
		r := o.(*v1.Role)
		r.Spec.Permissions = append(r.Spec.Permissions, perm("purchaseorders", "approve", v1.ScopeUnitTree))
	}))
	// bob adds tina.tech to the technicians.
	must(t, update(bob, &v1.UserGroup{}, "techs", func(o client.Object) {
		g := o.(*v1.UserGroup)
		g.Spec.Members = append(g.Spec.Members, "tina.tech")
	}))
	// mallory tries to make herself an admin: denied as an escalation.
	err := update(mallory, &v1.UserGroup{}, "admins", func(o client.Object) {
		g := o.(*v1.UserGroup)
		g.Spec.Members = append(g.Spec.Members, "mallory")
	})
	if err == nil || !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "privilege escalation") {
		t.Fatalf("mallory's escalation: want a webhook denial, got %v", err)
	}
	// Argo CD syncs an auditor role and group from Git, while its
	// Application says which commit it is syncing.
	app := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
		"metadata": map[string]any{"name": "acme-policy", "namespace": "argocd"},
		"spec":     map[string]any{"source": map[string]any{"repoURL": "https://git.example.com/acme/policy.git", "path": "tenants/acme"}},
		"status": map[string]any{"operationState": map[string]any{"phase": "Running", "operation": map[string]any{
			"sync": map[string]any{"revision": "4f2c9e1d0b7a"}, "initiatedBy": map[string]any{"automated": true}}}},
	}}
	must(t, c.admin.Create(ctx, app))
	for _, obj := range []client.Object{
		role("auditor", perm("invoices", "view", v1.ScopeAll)),
		group("auditors", []v1.SubjectID{"ian.inspector"}, "auditor"),
	} {
		kind := obj.(v1.AccessObject).AccessKind()
		obj.SetAnnotations(map[string]string{audit.ArgoCDTrackingAnnotation: fmt.Sprintf("acme-policy:%s/%s:%s/%s", v1.GroupVersion.Group, kind, tenant, obj.GetName())})
		must(t, argo.Create(ctx, obj))
	}

	for _, r := range []*replica{a, b} {
		// The last change made (Argo CD's group) is served, so are the
		// earlier ones.
		eventually(t, r.name+" to serve every change", func() bool {
			return r.allows("tina.tech", "view", "workorders") && r.allows("ian.inspector", "view", "invoices")
		})
	}

	trailA, trailB := a.trail.records(t), b.trail.records(t)
	admissions := admittedByKey(trailA)
	if n := countEvent(trailB, audit.EventAdmission); n != 0 {
		t.Fatalf("replica B serves no webhook, yet wrote %d admission records", n)
	}

	// Every replica's compile records join to the admission records of
	// replica A: who changed each object, and what followed.
	want := map[string]struct {
		user, groupIn, change string
		source                *audit.Source
	}{
		"Role/technician": {user: "alice", groupIn: "finance", change: audit.ChangeUpdated},
		"UserGroup/techs": {user: "bob", groupIn: "acme-admins", change: audit.ChangeUpdated},
		"Role/auditor": {user: argoSA, groupIn: "system:serviceaccounts:argocd", change: audit.ChangeCreated,
			source: &audit.Source{Tool: audit.ToolArgoCD, Application: "acme-policy", RepoURL: "https://git.example.com/acme/policy.git",
				Path: "tenants/acme", Revision: "4f2c9e1d0b7a", InitiatedBy: "automated"}},
		"UserGroup/auditors": {user: argoSA, groupIn: "system:serviceaccounts", change: audit.ChangeCreated},
	}
	for _, trail := range []struct {
		replica string
		records []audit.Record
	}{{"replica-a", trailA}, {"replica-b", trailB}} {
		seen := map[string]bool{}
		for _, rec := range trail.records {
			if rec.Event != audit.EventCompiled || rec.Tenant != tenant {
				continue
			}
			if rec.Replica != trail.replica {
				t.Errorf("%s's trail has a record of %q", trail.replica, rec.Replica)
			}
			for _, o := range rec.Objects {
				name := o.Kind + "/" + o.Name
				w, ok := want[name]
				if !ok || o.Change != w.change || seen[name] {
					continue
				}
				seen[name] = true
				adm, joined := admissions[audit.KeyOf(tenant, o)]
				if !joined {
					t.Errorf("%s: the compile of %s (uid %s gen %d hash %s) joins no admission record", trail.replica, name, o.UID, o.Generation, o.SpecHash)
					continue
				}
				u := adm.Admission.User
				if u.Name != w.user || !slices.Contains(u.Groups, w.groupIn) || u.UID == "" {
					t.Errorf("%s: %s was changed by %+v, want %s in group %s", trail.replica, name, u, w.user, w.groupIn)
				}
				if adm.Replica != "replica-a" || adm.Admission.RequestUID == "" || adm.Admission.Verdict != audit.VerdictAdmitted {
					t.Errorf("%s: admission of %s: %+v", trail.replica, name, adm)
				}
				if w.source != nil {
					got := adm.Objects[0].Source
					if got == nil || got.Tool != w.source.Tool || got.Application != w.source.Application || got.RepoURL != w.source.RepoURL ||
						got.Path != w.source.Path || got.Revision != w.source.Revision || got.InitiatedBy != w.source.InitiatedBy || got.TrackingID == "" {
						t.Errorf("%s: provenance of %s: %+v, want %+v", trail.replica, name, got, w.source)
					}
					if o.Source == nil || o.Source.Application != w.source.Application {
						t.Errorf("%s: the compile record of %s does not name the Application: %+v", trail.replica, name, o.Source)
					}
				}
				if name == "Role/technician" && !gained(rec.Diff, "tom.tech", "approve", "purchaseorders", "unitTree") {
					t.Errorf("%s: alice's change to technician: the diff does not show tom.tech gaining approve: %+v", trail.replica, rec.Diff)
				}
				if name == "UserGroup/techs" && !gained(rec.Diff, "tina.tech", "view", "workorders", "all") {
					t.Errorf("%s: bob's change to techs: the diff does not show tina.tech gaining view: %+v", trail.replica, rec.Diff)
				}
			}
		}
		for name := range want {
			if !seen[name] {
				t.Errorf("%s: no compile record lists the change of %s", trail.replica, name)
			}
		}
	}

	// The reader's join over both replicas' trails (what `gatehouse audit
	// who-granted` prints): alice's change gave tom.tech approve, and the
	// two replicas' compile records are one served change.
	grants := audit.NewIndex(append(slices.Clone(trailA), trailB...)).WhoGranted(audit.Filter{Tenant: tenant, Subject: "tom.tech", Action: "approve", Resource: "purchaseorders"})
	if len(grants) != 1 || len(grants[0].Changes) != 1 || grants[0].Changes[0].Author() != "alice" ||
		!slices.Equal(grants[0].Served.Replicas, []string{"replica-a", "replica-b"}) {
		t.Errorf("who granted tom.tech approve on purchaseorders: %s", jsonOf(grants))
	}

	// mallory's attempt is on record, with the reason. Every denial in the
	// trail is hers; there may be more than one: the API server calls the
	// webhook again when it first tried the update on stale cached state
	// (one request, which the reader lists once), and when that retry
	// meets the newer resourceVersion it answers Conflict, so update sends
	// her request again (two requests).
	for _, rec := range trailA {
		if rec.Event == audit.EventAdmission && rec.Admission.Verdict == audit.VerdictDenied {
			if rec.Admission.User.Name != "mallory" || rec.Objects[0].Name != "admins" || !strings.Contains(rec.Admission.Reason, "privilege escalation") {
				t.Errorf("denied admission: %+v %+v", rec.Admission, rec.Objects)
			}
		}
	}
	denied := audit.NewIndex(trailA).Denied(audit.Filter{Tenant: tenant})
	if len(denied) == 0 || len(denied) > retry.DefaultRetry.Steps {
		t.Errorf("denied attempts: %s, want mallory's", jsonOf(denied))
	}
	for _, a := range denied {
		if a.User.Name != "mallory" {
			t.Errorf("denied attempt of %q, want mallory's only", a.User.Name)
		}
	}
}

// update changes the tenant's object name as cl, retrying on conflicts
// (the status writer updates objects too).
func update(cl client.Client, obj client.Object, name string, mutate func(client.Object)) error {
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if err := cl.Get(context.Background(), client.ObjectKey{Namespace: tenant, Name: name}, obj); err != nil {
			return err
		}
		mutate(obj)
		return cl.Update(context.Background(), obj)
	})
}

// admittedByKey indexes the admitted changes of a trail by object change.
func admittedByKey(records []audit.Record) map[audit.Key]audit.Record {
	out := map[audit.Key]audit.Record{}
	for _, r := range records {
		if r.Event == audit.EventAdmission && r.Admission.Verdict == audit.VerdictAdmitted && len(r.Objects) == 1 {
			out[audit.KeyOf(r.Tenant, r.Objects[0])] = r
		}
	}
	return out
}

func countEvent(records []audit.Record, event string) int {
	n := 0
	for _, r := range records {
		if r.Event == event {
			n++
		}
	}
	return n
}

// gained reports whether the diff shows subject gaining action on resource
// with scope.
func gained(d *snapshot.Changes, subject, action, resource, scope string) bool {
	if d == nil {
		return false
	}
	for _, p := range d.Permissions {
		if p.Change == snapshot.Gained && p.Action == action && p.Resource == resource && p.Scope == scope && slices.Contains(p.Subjects, subject) {
			return true
		}
	}
	return false
}

func jsonOf(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
