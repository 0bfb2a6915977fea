package webhook

import (
	"context"
	"errors"
	"strings"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/gatehouse-dev/gatehouse/api/v1alpha1"
	"github.com/gatehouse-dev/gatehouse/internal/audit"
)

// auditWait bounds how long an admitted change waits for its record to be
// delivered with --audit-required: well inside the webhook's 5 s timeout.
const auditWait = 2 * time.Second

// applicationLookup bounds the read of an Argo CD Application.
const applicationLookup = time.Second

// DefaultArgoCDNamespace is Argo CD's own namespace, where an Application
// named without a namespace lives.
const DefaultArgoCDNamespace = "argocd"

// argoCDWriters are the ServiceAccounts Argo CD applies manifests with.
var argoCDWriters = []string{"argocd-application-controller"}

var applicationGVK = schema.GroupVersionKind{Group: "argoproj.io", Version: "v1alpha1", Kind: "Application"}

// errAuditUndelivered denies an admitted change whose admission record was
// not delivered while the trail is required: a change nobody can attribute
// is not made.
var errAuditUndelivered = errors.New("the audit trail is unavailable and this cluster requires every access change to be recorded (--audit-required); try again later")

// recordAdmission writes the admission record of req with its verdict. It
// returns an error only when the change was admitted, the trail is
// required and the record was not delivered: the change must then be
// denied.
func (v *Validator) recordAdmission(ctx context.Context, req admission.Request, obj, old v1alpha1.AccessObject, resp admission.Response) error {
	if v.Audit == nil || (req.DryRun != nil && *req.DryRun) {
		// Dry runs are never stored, and the webhook declares
		// sideEffects NoneOnDryRun: no record.
		return nil
	}
	rec := audit.Record{
		Time: time.Now().UTC(), Replica: v.Replica, Tenant: req.Namespace, Event: audit.EventAdmission,
		Admission: &audit.Admission{
			RequestUID: string(req.UID), Operation: string(req.Operation),
			User: audit.User{Name: req.UserInfo.Username, UID: req.UserInfo.UID, Groups: req.UserInfo.Groups,
				ServiceAccount: serviceAccount(req.UserInfo.Username)},
			Verdict: audit.VerdictAdmitted, Warnings: resp.Warnings,
		},
	}
	if !resp.Allowed {
		rec.Admission.Verdict = audit.VerdictDenied
		if resp.Result != nil {
			rec.Admission.Reason = resp.Result.Message
		}
	}
	if obj != nil {
		rec.Objects = []audit.Object{v.admittedObject(ctx, req, obj, old)}
	} else {
		// Not decodable: the request names the object.
		rec.Objects = []audit.Object{{Kind: req.Kind.Kind, Name: req.Name}}
	}
	if !resp.Allowed {
		// A denial changes nothing: its record never holds up the answer.
		_ = v.Audit.Note(ctx, rec)
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, auditWait)
	defer cancel()
	if err := v.Audit.Record(ctx, rec); err != nil {
		log.FromContext(ctx).Error(err, "admission record not delivered", "tenant", req.Namespace, "kind", req.Kind.Kind, "name", req.Name)
		if v.Audit.Required() {
			// The sinks that did take the "admitted" record (the file)
			// get its correction: the change was refused after all.
			rec.Admission.Verdict, rec.Admission.Reason = audit.VerdictDenied, errAuditUndelivered.Error()
			_ = v.Audit.Note(context.WithoutCancel(ctx), rec)
			return errAuditUndelivered
		}
	}
	return nil
}

// admittedObject describes the object as the change would store it: for a
// create or update the new generation and spec hash (the API server has
// set both before validating admission), for a deletion the object's UID.
func (v *Validator) admittedObject(ctx context.Context, req admission.Request, obj, old v1alpha1.AccessObject) audit.Object {
	o := audit.Object{Kind: obj.AccessKind(), Name: obj.GetName(), UID: string(obj.GetUID()), Generation: obj.GetGeneration()}
	switch req.Operation {
	case admissionv1.Create:
		o.Change = audit.ChangeCreated
	case admissionv1.Delete:
		o.Change = audit.ChangeDeleted
	default:
		o.Change = audit.ChangeUpdated
	}
	if o.Change != audit.ChangeDeleted {
		o.SpecHash = audit.SpecHash(obj)
		if old != nil && audit.SpecHash(old) == o.SpecHash {
			o.Change = audit.ChangeUnchanged
		}
	}
	o.Source = audit.SourceOfWriter(obj.GetLabels(), obj.GetAnnotations(), isArgoCDWriter(req.UserInfo.Username))
	if ns, name, ok := o.Source.ApplicationKey(v.argoCDNamespace()); ok && v.Applications != nil {
		app := &unstructured.Unstructured{}
		app.SetGroupVersionKind(applicationGVK)
		lctx, cancel := context.WithTimeout(ctx, applicationLookup)
		defer cancel()
		if err := v.Applications.Get(lctx, client.ObjectKey{Namespace: ns, Name: name}, app); err != nil {
			// Argo CD not installed, or the Application gone: the trail
			// still names the Application and its tracking id.
			log.FromContext(ctx).V(1).Info("no Argo CD Application to read the synced revision from", "application", ns+"/"+name, "error", err.Error())
		} else {
			o.Source.FillFromApplication(app.Object)
		}
	}
	return o
}

func (v *Validator) argoCDNamespace() string {
	if v.ArgoCDNamespace != "" {
		return v.ArgoCDNamespace
	}
	return DefaultArgoCDNamespace
}

// serviceAccount returns "namespace/name" of a ServiceAccount user name,
// "" for other users.
func serviceAccount(user string) string {
	rest, ok := strings.CutPrefix(user, "system:serviceaccount:")
	if !ok {
		return ""
	}
	ns, name, ok := strings.Cut(rest, ":")
	if !ok {
		return ""
	}
	return ns + "/" + name
}

// isArgoCDWriter reports whether user is one of Argo CD's ServiceAccounts.
func isArgoCDWriter(user string) bool {
	sa := serviceAccount(user)
	_, name, _ := strings.Cut(sa, "/")
	for _, w := range argoCDWriters {
		if name == w {
			return true
		}
	}
	return false
}
