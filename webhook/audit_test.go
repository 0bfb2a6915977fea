package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/gatehouse-dev/gatehouse/api/v1alpha1"
	"github.com/gatehouse-dev/gatehouse/internal/audit"
)

// downSink never delivers.
type downSink struct{}

func (downSink) Write(context.Context, *audit.Record, bool) error { return errors.New("receiver down") }
func (downSink) Close(context.Context) error                      { return nil }

func TestRecordAdmission(t *testing.T) {
	role := func(gen int64, perms ...v1alpha1.Permission) *v1alpha1.Role {
		return &v1alpha1.Role{ObjectMeta: metav1.ObjectMeta{Name: "technician", Namespace: "acme", UID: "u-1", Generation: gen,
			Labels: map[string]string{"app.kubernetes.io/instance": "acme-policy"}}, Spec: v1alpha1.RoleSpec{Permissions: perms}}
	}
	view := v1alpha1.Permission{Resources: []v1alpha1.ModuleName{"workorders"}, Actions: []v1alpha1.ActionName{"view"}}
	edit := v1alpha1.Permission{Resources: []v1alpha1.ModuleName{"workorders"}, Actions: []v1alpha1.ActionName{"edit"}}
	tests := map[string]struct {
		op          admissionv1.Operation
		user        string
		obj, old    *v1alpha1.Role
		resp        admission.Response
		dryRun      bool
		required    bool
		down        bool
		wantRecord  bool
		wantErr     bool
		wantVerdict string
		wantChange  string
		wantSource  *audit.Source
	}{
		"admitted update": {op: admissionv1.Update, user: "alice", obj: role(2, view, edit), old: role(1, view), resp: admission.Allowed(""),
			wantRecord: true, wantVerdict: audit.VerdictAdmitted, wantChange: audit.ChangeUpdated},
		"metadata-only update": {op: admissionv1.Update, user: "alice", obj: role(1, view), old: role(1, view), resp: admission.Allowed(""),
			wantRecord: true, wantVerdict: audit.VerdictAdmitted, wantChange: audit.ChangeUnchanged},
		"denied escalation": {op: admissionv1.Update, user: "mallory", obj: role(2, view, edit), old: role(1, view), resp: admission.Denied("privilege escalation"),
			wantRecord: true, wantVerdict: audit.VerdictDenied, wantChange: audit.ChangeUpdated},
		"dry run: no record": {op: admissionv1.Create, user: "alice", obj: role(1, view), resp: admission.Allowed(""), dryRun: true},
		"Argo CD's ServiceAccount: its instance label names the Application": {op: admissionv1.Create,
			user: "system:serviceaccount:argocd:argocd-application-controller", obj: role(1, view), resp: admission.Allowed(""),
			wantRecord: true, wantVerdict: audit.VerdictAdmitted, wantChange: audit.ChangeCreated,
			wantSource: &audit.Source{Tool: audit.ToolArgoCD, Application: "acme-policy"}},
		"required, undelivered: the admitted change is refused": {op: admissionv1.Create, user: "alice", obj: role(1, view), resp: admission.Allowed(""),
			required: true, down: true, wantErr: true},
		"required, undelivered denial: the denial stands, no error": {op: admissionv1.Create, user: "mallory", obj: role(1, view), resp: admission.Denied("no"),
			required: true, down: true},
		"not required, undelivered: admitted all the same": {op: admissionv1.Create, user: "alice", obj: role(1, view), resp: admission.Allowed(""),
			down: true, wantRecord: true, wantVerdict: audit.VerdictAdmitted, wantChange: audit.ChangeCreated},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var lines bytes.Buffer
			sinks := []audit.Sink{audit.NewLines(&lines)}
			if tc.down {
				sinks = append(sinks, downSink{})
			}
			v := &Validator{Audit: audit.NewTrail(audit.Options{Required: tc.required, DeliveryTimeout: 50 * time.Millisecond}, sinks...), Replica: "r-a"}
			req := admission.Request{AdmissionRequest: admissionv1.AdmissionRequest{UID: types.UID("req-1"), Operation: tc.op, Namespace: "acme",
				Name: "technician", Kind: metav1.GroupVersionKind{Kind: v1alpha1.KindRole},
				UserInfo: authenticationv1.UserInfo{Username: tc.user, UID: "uid-" + tc.user, Groups: []string{"acme-admins"}}, DryRun: ptr.To(tc.dryRun)}}
			var old v1alpha1.AccessObject
			if tc.old != nil {
				old = tc.old
			}
			err := v.recordAdmission(context.Background(), req, tc.obj, old, tc.resp)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			if tc.wantErr {
				// The file got the admission and then its correction.
				var recs []audit.Record
				for _, line := range bytes.Split(bytes.TrimSpace(lines.Bytes()), []byte("\n")) {
					var r audit.Record
					if err := json.Unmarshal(line, &r); err != nil {
						t.Fatal(err)
					}
					recs = append(recs, r)
				}
				if len(recs) != 2 || recs[0].Admission.Verdict != audit.VerdictAdmitted || recs[1].Admission.Verdict != audit.VerdictDenied ||
					recs[1].Admission.RequestUID != recs[0].Admission.RequestUID || !strings.Contains(recs[1].Admission.Reason, "--audit-required") {
					t.Errorf("the refused change's records: %s", lines.String())
				}
				return
			}
			if tc.dryRun && lines.Len() != 0 {
				t.Fatalf("a dry run was recorded: %s", lines.String())
			}
			if !tc.wantRecord {
				return
			}
			var rec audit.Record
			if err := json.Unmarshal(lines.Bytes(), &rec); err != nil {
				t.Fatalf("record %q: %v", lines.String(), err)
			}
			a := rec.Admission
			if rec.Event != audit.EventAdmission || rec.Tenant != "acme" || rec.Replica != "r-a" || a == nil || a.RequestUID != "req-1" ||
				a.User.Name != tc.user || a.User.UID != "uid-"+tc.user || a.Verdict != tc.wantVerdict || a.Operation != string(tc.op) {
				t.Fatalf("record %s", lines.String())
			}
			if tc.wantVerdict == audit.VerdictDenied && a.Reason == "" {
				t.Errorf("denial without a reason: %s", lines.String())
			}
			o := rec.Objects[0]
			if o.Change != tc.wantChange || o.UID != "u-1" || o.Generation != tc.obj.Generation || o.SpecHash != audit.SpecHash(tc.obj) {
				t.Errorf("object %+v", o)
			}
			if (o.Source == nil) != (tc.wantSource == nil) || (o.Source != nil && *o.Source != *tc.wantSource) {
				t.Errorf("source %+v, want %+v", o.Source, tc.wantSource)
			}
		})
	}
}

func TestServiceAccount(t *testing.T) {
	tests := map[string]struct{ user, want string }{
		"a ServiceAccount":  {"system:serviceaccount:argocd:argocd-application-controller", "argocd/argocd-application-controller"},
		"a person":          {"alice", ""},
		"a malformed name":  {"system:serviceaccount:nocolon", ""},
		"a look-alike user": {"serviceaccount:argocd:x", ""},
	}
	for name, tc := range tests {
		if got := serviceAccount(tc.user); got != tc.want {
			t.Errorf("%s: serviceAccount(%q) = %q, want %q", name, tc.user, got, tc.want)
		}
	}
}
