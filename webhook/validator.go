package webhook

import (
	"context"
	"fmt"
	"net/http"
	"slices"

	admissionv1 "k8s.io/api/admission/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/gatehouse-dev/gatehouse/api/v1alpha1"
	policy "github.com/gatehouse-dev/gatehouse/internal/admission"
	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/metrics"
	"github.com/gatehouse-dev/gatehouse/internal/snapshot"
	"github.com/gatehouse-dev/gatehouse/internal/store"
	"github.com/gatehouse-dev/gatehouse/internal/tenantlist"
)

// Validator is the admission handler for the four access kinds. It fetches
// the tenant's objects and served snapshot, asks the pure policy in
// internal/admission, and answers.
type Validator struct {
	// Reader lists the tenant's current objects (the manager's cache).
	Reader client.Reader
	// Store holds the served snapshots, for escalation checks.
	Store *store.Store
	// Limits are the tenant quotas a change must keep within
	// (NewValidator sets snapshot.DefaultLimits()).
	Limits snapshot.Limits
	// Reviews creates SubjectAccessReviews to learn whether a user holds the
	// Kubernetes RBAC verb escalate on accessroles; nil treats only
	// system:masters as privileged.
	Reviews client.Client
	// Decoder decodes the admitted objects.
	Decoder admission.Decoder
	// Audit receives an admission record of every reviewed change, denied
	// ones included (nil: none). With Audit.Required an admitted change
	// whose record is not delivered is denied.
	Audit *audit.Trail
	// Replica names this process in admission records.
	Replica string
	// Applications reads Argo CD Applications, for the synced revision of
	// a GitOps change (nil: the record names the Application only).
	Applications client.Reader
	// ArgoCDNamespace is where Applications named without a namespace live
	// (empty: DefaultArgoCDNamespace).
	ArgoCDNamespace string
}

// NewValidator returns a Validator decoding with scheme.
func NewValidator(reader client.Reader, reviews client.Client, st *store.Store, scheme *runtime.Scheme) *Validator {
	return &Validator{Reader: reader, Reviews: reviews, Store: st, Decoder: admission.NewDecoder(scheme), Limits: snapshot.DefaultLimits()}
}

var _ admission.Handler = &Validator{}

// Handle admits or rejects one change to an access object, and records
// who asked and the verdict in the audit trail.
func (v *Validator) Handle(ctx context.Context, req admission.Request) admission.Response {
	obj, old, resp := v.review(ctx, req)
	if err := v.recordAdmission(ctx, req, obj, old, resp); err != nil {
		resp = admission.Errored(http.StatusServiceUnavailable, err)
	}
	verdict := audit.VerdictAdmitted
	if !resp.Allowed {
		verdict = audit.VerdictDenied
	}
	kind := req.Kind.Kind
	if _, ok := v1alpha1.LookupAccessKind(kind); !ok {
		kind = "other" // bounded label values whatever the request says
	}
	metrics.Admissions.WithLabelValues(verdict, kind, string(req.Operation)).Inc()
	return resp
}

// review decides on req; obj and old are the decoded object and (for an
// update) its previous version, nil when they could not be decoded.
func (v *Validator) review(ctx context.Context, req admission.Request) (obj, old v1alpha1.AccessObject, resp admission.Response) {
	obj, err := v.decode(req)
	if err != nil {
		return nil, nil, admission.Errored(http.StatusBadRequest, err)
	}
	if req.Operation == admissionv1.Update {
		if old, err = v.decodeRaw(req.Kind.Kind, req.OldObject.Raw); err != nil {
			return obj, nil, admission.Errored(http.StatusBadRequest, err)
		}
	}
	tenant, err := v.tenantObjects(ctx, req.Namespace)
	if err != nil {
		return obj, old, admission.Errored(http.StatusInternalServerError, fmt.Errorf("listing the tenant's access objects: %w", err))
	}
	privileged, err := v.privileged(ctx, req, obj)
	if err != nil {
		return obj, old, admission.Errored(http.StatusInternalServerError, err)
	}
	in := policy.Request{
		Operation:  policy.Operation(req.Operation),
		Namespace:  req.Namespace,
		Object:     obj,
		Tenant:     tenant,
		Snapshot:   v.Store.Snapshot(req.Namespace),
		User:       policy.User{Name: req.UserInfo.Username, Groups: req.UserInfo.Groups},
		Privileged: privileged,
		Limits:     v.Limits,
	}
	if old != nil {
		in.OldObject = old
	}
	out := policy.Review(in)
	if !out.Allowed() {
		return obj, old, admission.Denied(out.Message()).WithWarnings(out.Warnings...)
	}
	return obj, old, admission.Allowed("").WithWarnings(out.Warnings...)
}

func (v *Validator) decode(req admission.Request) (v1alpha1.AccessObject, error) {
	raw := req.Object.Raw
	if req.Operation == admissionv1.Delete {
		raw = req.OldObject.Raw
	}
	return v.decodeRaw(req.Kind.Kind, raw)
}

func (v *Validator) decodeRaw(kind string, raw []byte) (v1alpha1.AccessObject, error) {
	k, ok := v1alpha1.LookupAccessKind(kind)
	if !ok {
		return nil, fmt.Errorf("kind %q is not an access kind", kind)
	}
	obj := k.New()
	if err := v.Decoder.DecodeRaw(runtime.RawExtension{Raw: raw}, obj); err != nil {
		return nil, fmt.Errorf("decoding %s: %w", kind, err)
	}
	return obj, nil
}

// tenantObjects lists the tenant's objects as copies (the reader's
// default), those being deleted included: admission judges a change against
// every object that still exists, though the compile leaves those out.
func (v *Validator) tenantObjects(ctx context.Context, ns string) (snapshot.Objects, error) {
	return tenantlist.List(ctx, v.Reader, ns, nil)
}

// privileged reports whether the user may grant beyond what they hold:
// cluster admins, and users Kubernetes RBAC allows the verb escalate on
// accessroles in the namespace (as RBAC's own escalate verb on roles).
func (v *Validator) privileged(ctx context.Context, req admission.Request, obj any) (bool, error) {
	if slices.Contains(req.UserInfo.Groups, "system:masters") {
		return true, nil
	}
	if v.Reviews == nil {
		return false, nil
	}
	if req.Operation == admissionv1.Delete {
		// The escalation check judges deletions of FieldPolicies (fields
		// opened), UserGroups (restrictions lifted) and Roles (conditions
		// reading the subject); deleting an ApprovalChain only takes access
		// away, so spare the API server a review for it.
		switch obj.(type) {
		case *v1alpha1.UserGroup, *v1alpha1.FieldPolicy, *v1alpha1.Role:
		default:
			return false, nil
		}
	}
	extra := map[string]authorizationv1.ExtraValue{}
	for k, vals := range req.UserInfo.Extra {
		extra[k] = authorizationv1.ExtraValue(vals)
	}
	sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
		User: req.UserInfo.Username, Groups: req.UserInfo.Groups, UID: req.UserInfo.UID, Extra: extra,
		ResourceAttributes: &authorizationv1.ResourceAttributes{
			Namespace: req.Namespace, Verb: "escalate", Group: v1alpha1.GroupVersion.Group, Resource: "accessroles",
		},
	}}
	if err := v.Reviews.Create(ctx, sar); err != nil {
		return false, fmt.Errorf("asking whether %q may escalate: %w", req.UserInfo.Username, err)
	}
	return sar.Status.Allowed, nil
}
