package authz

import (
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gatehouse-dev/gatehouse/api/v1alpha1"
	"github.com/gatehouse-dev/gatehouse/internal/snapshot"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

func TestFieldsEndpoint(t *testing.T) {
	h, _ := newTestHandler(t, Options{})
	w := do(h, "POST", base+"/v1/fields", `{"subject":{"id":"bea.billing"},"resource":{"type":"workorders"}}`)
	var out struct {
		Revision string
		snapshot.FieldAccessResult
	}
	decodeJSON(t, w.Body.Bytes(), &out)
	if w.Code != 200 || !out.Covered || out.Revision == "" {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	found := false
	for _, f := range out.Writable {
		found = found || f == "billingRate"
	}
	if !found {
		t.Errorf("billing clerk cannot write billingRate: %s", w.Body)
	}
	w = do(h, "POST", base+"/v1/fields", `{"subject":{"id":"bea.billing"}}`)
	if w.Code != 400 || !strings.Contains(w.Body.String(), "resource: required") {
		t.Errorf("missing resource: %d %s", w.Code, w.Body)
	}
	w = do(h, "POST", base+"/v1/fields", `{"subject":{"id":"bea.billing"},"action":{"name":"view"},"resource":{"type":"x"}}`)
	if w.Code != 400 || !strings.Contains(w.Body.String(), "action: unknown field") {
		t.Errorf("action on fields: %d %s", w.Code, w.Body)
	}
}

// /v1/fields fails closed like /v1/evaluation: a subject Check denies
// everything reads and writes nothing, with Check's reason; others get
// what their roles and groups give.
func TestFieldsEndpointFailsClosed(t *testing.T) {
	objs := sampleObjects(t)
	meta := func(n string) metav1.ObjectMeta { return metav1.ObjectMeta{Name: n, Namespace: tenant} }
	objs.Groups = append(slices.Clone(objs.Groups),
		v1alpha1.UserGroup{ObjectMeta: meta("no-roles"), Spec: v1alpha1.UserGroupSpec{Members: []v1alpha1.SubjectID{"nora.noroles"}}},
		// Left out: it names a role that does not exist.
		v1alpha1.UserGroup{ObjectMeta: meta("broken"), Spec: v1alpha1.UserGroupSpec{Members: []v1alpha1.SubjectID{"gil.leftout"}, Roles: []v1alpha1.ObjectName{"ghost"}}})
	snap, problems := snapshot.Compile(tenant, objs)
	if len(problems) != 1 {
		t.Fatalf("problems: %v", problems)
	}
	h, st := newTestHandler(t, Options{})
	st.Set(tenant, &store.Entry{Snapshot: snap, CompiledAt: time.Now()})
	all := []string{"billingRate", "custom.warrantyCode", "margin", "status"}
	tests := map[string]struct {
		tenant   string
		subject  string // JSON
		res      string
		code     int
		reason   string
		def      v1alpha1.FieldAccess
		readable []string
		writable []string
	}{
		"normal subject (unchanged)": {subject: `{"id":"bea.billing"}`, def: "write",
			readable: all, writable: []string{"billingRate", "status"}},
		"full access": {subject: `{"id":"dana.director"}`, def: "write", readable: all, writable: all},
		"IdP-group subject: what its groups give": {subject: `{"id":"ivy","properties":{"groups":["acme-staff"]}}`, def: "write",
			readable: []string{"custom.warrantyCode", "status"}, writable: []string{}},
		"unknown subject":                   {subject: `{"id":"nobody.here"}`, reason: snapshot.ReasonUnknownSubject},
		"unknown subject, uncovered module": {subject: `{"id":"nobody.here"}`, res: "assets", reason: snapshot.ReasonUnknownSubject},
		"IdP groups no group selects":       {subject: `{"id":"ivy","properties":{"groups":["acme-nobody"]}}`, reason: snapshot.ReasonUnknownSubject},
		"known subject without roles":       {subject: `{"id":"nora.noroles"}`, reason: snapshot.ReasonNoRoles},
		"only in a left-out group":          {subject: `{"id":"gil.leftout"}`, reason: snapshot.ReasonNoRoles},
		"no snapshot":                       {tenant: "unserved", subject: `{"id":"bea.billing"}`, reason: snapshot.ReasonNoSnapshot},
		"empty subject ID":                  {subject: `{"id":""}`, code: 400},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			path := base
			if tc.tenant != "" {
				path = "/tenants/" + tc.tenant
			}
			res := tc.res
			if res == "" {
				res = "workorders"
			}
			w := do(h, "POST", path+"/v1/fields", `{"subject":`+tc.subject+`,"resource":{"type":"`+res+`"}}`)
			if tc.code != 0 {
				if w.Code != tc.code {
					t.Fatalf("%d %s, want %d", w.Code, w.Body, tc.code)
				}
				return
			}
			var out struct {
				Revision string
				snapshot.FieldAccessResult
			}
			decodeJSON(t, w.Body.Bytes(), &out)
			if w.Code != 200 || out.Reason != tc.reason {
				t.Fatalf("%d %s, want reason %q", w.Code, w.Body, tc.reason)
			}
			if tc.reason != "" {
				if !out.Covered || out.Default != v1alpha1.FieldHidden || out.Readable == nil || len(out.Readable) != 0 || out.Writable == nil || len(out.Writable) != 0 {
					t.Fatalf("%s: want covered, default hidden, nothing readable or writable", w.Body)
				}
				return
			}
			if !out.Covered || out.Default != tc.def || !slices.Equal(out.Readable, tc.readable) || !slices.Equal(out.Writable, tc.writable) {
				t.Fatalf("%s: want default %s, readable %v, writable %v", w.Body, tc.def, tc.readable, tc.writable)
			}
		})
	}
}
