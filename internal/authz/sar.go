package authz

import (
	"encoding/json"
	"net/http"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"

	"github.com/gatehouse-dev/gatehouse/internal/snapshot"
)

// VerbAction maps a Kubernetes verb to a Gatehouse action: reads are view,
// writes are edit, and every other verb (create, delete, approve, ...) is
// an action of the same name.
func VerbAction(verb string) string {
	switch verb {
	case "get", "list", "watch":
		return "view"
	case "update", "patch":
		return "edit"
	}
	return verb
}

// noOpinion are the deny reasons for which Gatehouse does not manage the
// question at all (no policy for the tenant, a user or module it does not
// know): the webhook then answers allowed=false without denied, so that
// the API server's other authorizers (RBAC) still decide. Every other deny
// is a decision of the tenant's policy and is reported as denied.
func noOpinion(reason string) bool {
	switch reason {
	case snapshot.ReasonNoSnapshot, snapshot.ReasonInvalidRequest, snapshot.ReasonUnknownSubject,
		snapshot.ReasonUnknownResource, snapshot.ReasonUnknownAction:
		return true
	}
	return false
}

// serveSAR answers a Kubernetes authorization webhook call: the body is an
// authorization.k8s.io/v1 SubjectAccessReview, the tenant its
// resourceAttributes.namespace, the module its resource, the action its
// verb (VerbAction), the subject its user and groups, the record its name.
// The caller (normally the API server) must be allowed to query that
// tenant like any other caller.
func (h *Handler) serveSAR(w http.ResponseWriter, r *http.Request, caller *Caller) {
	if ct := r.Header["Content-Type"]; len(ct) > 0 && !isJSON(ct[0]) {
		h.fail(w, http.StatusUnsupportedMediaType, "Content-Type must be application/json")
		return
	}
	st := h.pool.Get().(*state)
	defer h.put(st)
	body, status, msg := h.readBody(r, st.body)
	st.body = body
	if status != 0 {
		h.fail(w, status, msg)
		return
	}
	var sar authorizationv1.SubjectAccessReview
	if err := json.Unmarshal(body, &sar); err != nil {
		h.fail(w, http.StatusBadRequest, "invalid SubjectAccessReview: "+jsonErr(err))
		return
	}
	if sar.APIVersion != "authorization.k8s.io/v1" || sar.Kind != "SubjectAccessReview" {
		h.fail(w, http.StatusBadRequest, "apiVersion/kind: expected authorization.k8s.io/v1 SubjectAccessReview")
		return
	}
	answer := func(snap *snapshot.Snapshot, s authorizationv1.SubjectAccessReviewStatus) {
		h.writeJSON(w, snap, authorizationv1.SubjectAccessReview{
			TypeMeta: sar.TypeMeta,
			Status:   s,
		})
	}
	ra := sar.Spec.ResourceAttributes
	if ra == nil {
		answer(nil, authorizationv1.SubjectAccessReviewStatus{Reason: "gatehouse: non-resource requests are not managed"})
		return
	}
	if ra.Namespace == "" || !validTenant(ra.Namespace) {
		answer(nil, authorizationv1.SubjectAccessReviewStatus{Reason: "gatehouse: cluster-scoped requests are not managed"})
		return
	}
	if status, msg := h.authorizeTenant(r.Context(), caller, ra.Namespace); status != 0 {
		if status == http.StatusServiceUnavailable {
			w.Header()["Retry-After"] = hdrRetry
		}
		h.fail(w, status, msg)
		return
	}
	snap := h.store.Snapshot(ra.Namespace)
	q := snapshot.Request{
		Subject:  snapshot.Subject{ID: sar.Spec.User, Groups: sar.Spec.Groups},
		Action:   VerbAction(ra.Verb),
		Resource: snapshot.Resource{Type: ra.Resource, ID: ra.Name},
	}
	d := snap.Check(&q)
	s := authorizationv1.SubjectAccessReviewStatus{Allowed: d.Allowed, Reason: "gatehouse: " + d.Reason}
	if !d.Allowed && !noOpinion(d.Reason) {
		s.Denied = true
	}
	answer(snap, s)
	h.log.decision(r, ra.Namespace, caller, &q, &d, revisionOf(snap), time.Now())
}

// jsonErr shortens encoding/json errors to the field and problem.
func jsonErr(err error) string {
	if te, ok := err.(*json.UnmarshalTypeError); ok {
		return te.Field + ": expected " + te.Type.String()
	}
	return "malformed JSON"
}
