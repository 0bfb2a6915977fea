package authz

import (
	"fmt"
	"net/http"
	"strings"
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

// DefaultSARGroup is the default SAROptions.Group: the API group whose
// resources the SubjectAccessReview webhook reads as Gatehouse modules. It
// is not the group of Gatehouse's own objects (access.gatehouse.dev), so
// that no tenant policy ever decides who may change policy.
const DefaultSARGroup = "modules.gatehouse.dev"

// SARGroupNone as SAROptions.Group maps no API group as a whole: only the
// resources listed in SAROptions.Map are answered.
const SARGroupNone = "-"

// SAROptions say which Kubernetes requests the SubjectAccessReview webhook
// answers from a tenant's policy. Everything else gets "no opinion"
// (allowed=false, denied=false, with a reason), so that the API server's
// other authorizers (RBAC) decide: Gatehouse never allows a Kubernetes
// request it was not configured for. The zero value maps the resources of
// DefaultSARGroup, without subresources, to the modules of the same name.
type SAROptions struct {
	// Group is the API group whose resources are modules: a request for
	// resource R (no subresource) of Group in namespace NS is the
	// question "may the user do VerbAction(verb) on module R in tenant
	// NS". Empty means DefaultSARGroup; SARGroupNone maps no group. It
	// must be a DNS subdomain with a dot, and neither Gatehouse's own
	// group (access.gatehouse.dev) nor a Kubernetes group (k8s.io,
	// *.k8s.io, kubernetes.io, *.kubernetes.io): built-in resources are
	// only answered when Map names them one by one.
	Group string
	// Map maps further resources to modules explicitly, keyed
	// "group/resource" or "group/resource/subresource" (the core group is
	// empty: "/configmaps", "/pods/log"); the value is the module name.
	// An entry wins over Group, which is how a subresource is answered
	// ("modules.gatehouse.dev/workorders/status": "workorders").
	// access.gatehouse.dev cannot be mapped.
	Map map[string]string
	// Verbs maps Kubernetes verbs to Gatehouse actions explicitly,
	// overriding VerbAction ("deletecollection": "delete"). The verbs
	// impersonate, escalate, bind and use grant privileges in Kubernetes
	// itself and are answered only when listed here; other verbs without
	// an entry go through VerbAction.
	Verbs map[string]string

	// resources is Map parsed by validate.
	resources map[sarResource]string
}

// ParseSARPairs parses "key=value,key=value" (a command-line flag's
// SAROptions.Map or Verbs) into a map. Spaces around items are ignored; an
// item without "=", with an empty side, or a key given twice is an error.
// The entries themselves are checked by New.
func ParseSARPairs(s string) (map[string]string, error) {
	m := map[string]string{}
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		k, v, ok := strings.Cut(item, "=")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if !ok || k == "" || v == "" {
			return nil, fmt.Errorf("authz: %q: want key=value", item)
		}
		if _, dup := m[k]; dup {
			return nil, fmt.Errorf("authz: %q given twice", k)
		}
		m[k] = v
	}
	return m, nil
}

// sarResource is a Map key, parsed.
type sarResource struct{ group, resource, subresource string }

// dangerousVerbs grant privileges in Kubernetes rather than act on a
// resource (impersonate: act as another user; escalate, bind: grant RBAC
// beyond one's own; use: PodSecurityPolicies and SecurityContextConstraints).
// They are never passed to a policy unless SAROptions.Verbs maps them.
var dangerousVerbs = map[string]bool{"impersonate": true, "escalate": true, "bind": true, "use": true}

// gatehouseGroup is the API group of Gatehouse's own objects.
const gatehouseGroup = "access.gatehouse.dev"

// validate defaults Group, checks Group, Map and Verbs, and parses Map.
func (o *SAROptions) validate() error {
	if o.Group == "" {
		o.Group = DefaultSARGroup
	}
	if o.Group != SARGroupNone {
		if err := checkModuleGroup(o.Group); err != nil {
			return err
		}
	}
	o.resources = make(map[sarResource]string, len(o.Map))
	for k, module := range o.Map {
		parts := strings.Split(k, "/")
		if len(parts) != 2 && len(parts) != 3 {
			return fmt.Errorf("authz: SAR map key %q: want group/resource or group/resource/subresource", k)
		}
		key := sarResource{group: parts[0], resource: parts[1]}
		if len(parts) == 3 {
			key.subresource = parts[2]
		}
		if key.group != "" && !validGroup(key.group) {
			return fmt.Errorf("authz: SAR map key %q: invalid API group", k)
		}
		if key.group == gatehouseGroup {
			return fmt.Errorf("authz: SAR map key %q: %s is Gatehouse's own API group; tenant policy must not decide who changes policy", k, gatehouseGroup)
		}
		if !validKubeName(key.resource) || (len(parts) == 3 && !validKubeName(key.subresource)) {
			return fmt.Errorf("authz: SAR map key %q: resource and subresource must be lowercase names", k)
		}
		if !validModule(module) {
			return fmt.Errorf("authz: SAR map %q: %q is not a module name", k, module)
		}
		o.resources[key] = module
	}
	for verb, action := range o.Verbs {
		if !validKubeName(verb) {
			return fmt.Errorf("authz: SAR verb %q: verbs must be lowercase names", verb)
		}
		if !validModule(action) {
			return fmt.Errorf("authz: SAR verb %q: %q is not an action name", verb, action)
		}
	}
	return nil
}

// checkModuleGroup refuses groups whose resources must not be read as
// modules.
func checkModuleGroup(g string) error {
	switch {
	case !validGroup(g) || !strings.Contains(g, "."):
		return fmt.Errorf("authz: SAR group %q: want a DNS subdomain with a dot", g)
	case g == gatehouseGroup:
		return fmt.Errorf("authz: SAR group %q is Gatehouse's own API group; tenant policy must not decide who changes policy", g)
	case g == "k8s.io" || strings.HasSuffix(g, ".k8s.io") || g == "kubernetes.io" || strings.HasSuffix(g, ".kubernetes.io"):
		return fmt.Errorf("authz: SAR group %q is a Kubernetes API group; map its resources one by one in SAROptions.Map", g)
	}
	return nil
}

// validGroup accepts DNS subdomains (lowercase RFC 1123 labels joined by
// dots, at most 253 bytes).
func validGroup(g string) bool {
	if len(g) == 0 || len(g) > 253 {
		return false
	}
	for _, l := range strings.Split(g, ".") {
		if !validTenant(l) {
			return false
		}
	}
	return true
}

// validKubeName accepts the lowercase names Kubernetes uses for resources,
// subresources and verbs.
func validKubeName(s string) bool {
	if len(s) == 0 || len(s) > 63 {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-', c == '.':
		default:
			return false
		}
	}
	return true
}

// validModule accepts module and action names as the Gatehouse CRDs do
// (without the "*" they allow in roles).
func validModule(s string) bool {
	if len(s) == 0 || len(s) > 63 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
		case i > 0 && ('0' <= c && c <= '9' || c == '_' || c == '.' || c == '-' || c == ':'):
		default:
			return false
		}
	}
	return true
}

// The reasons of "no opinion" answers Gatehouse gives before consulting a
// policy. They are constants: a reason is logged by the API server and
// never repeats a request value.
const (
	reasonNonResource   = "gatehouse: non-resource requests are not managed"
	reasonClusterScoped = "gatehouse: cluster-scoped requests are not managed"
	reasonNotTenant     = "gatehouse: the namespace is not a tenant name"
	reasonWildcard      = "gatehouse: wildcards in verb, API group, resource, subresource or name are not managed"
	reasonIncomplete    = "gatehouse: requests without a verb or resource are not managed"
	reasonGroup         = "gatehouse: this API group is not managed"
	reasonSubresource   = "gatehouse: this subresource is not managed"
	reasonNotModule     = "gatehouse: the resource is not a module name"
	reasonDangerousVerb = "gatehouse: impersonate, escalate, bind and use are only managed when mapped explicitly"
	reasonNotAction     = "gatehouse: the verb is not an action name"
	reasonNoUser        = "gatehouse: requests without a user are not managed"
)

// target maps resource attributes to a module and action. A non-empty
// reason means no opinion.
func (o *SAROptions) target(ra *authorizationv1.ResourceAttributes) (module, action, reason string) {
	switch {
	case ra.Namespace == "":
		return "", "", reasonClusterScoped
	case !validTenant(ra.Namespace):
		return "", "", reasonNotTenant
	case strings.IndexByte(ra.Verb, '*') >= 0 || strings.IndexByte(ra.Group, '*') >= 0 ||
		strings.IndexByte(ra.Resource, '*') >= 0 || strings.IndexByte(ra.Subresource, '*') >= 0 ||
		strings.IndexByte(ra.Name, '*') >= 0:
		return "", "", reasonWildcard
	case ra.Verb == "" || ra.Resource == "":
		return "", "", reasonIncomplete
	}
	module, mapped := o.resources[sarResource{ra.Group, ra.Resource, ra.Subresource}]
	if !mapped {
		switch {
		case o.Group == SARGroupNone || ra.Group != o.Group:
			return "", "", reasonGroup
		case ra.Subresource != "":
			return "", "", reasonSubresource
		}
		module = ra.Resource
	}
	if !validModule(module) {
		return "", "", reasonNotModule
	}
	action, mapped = o.Verbs[ra.Verb]
	if !mapped {
		if dangerousVerbs[ra.Verb] {
			return "", "", reasonDangerousVerb
		}
		action = VerbAction(ra.Verb)
	}
	if !validModule(action) {
		return "", "", reasonNotAction
	}
	return module, action, ""
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

const (
	sarAPIVersion = "authorization.k8s.io/v1"
	sarKind       = "SubjectAccessReview"
)

// serveSAR answers a Kubernetes authorization webhook call: the body is an
// authorization.k8s.io/v1 SubjectAccessReview (decoded strictly, see
// decodeSAR), the tenant its resourceAttributes.namespace, the module and
// action as SAROptions map them (see target), the subject its user and
// groups (groups are the subject's IdP groups, matched against UserGroups'
// externalGroups), the record its name. spec.uid and spec.extra are
// validated and not used: extra is set by authenticators and by anyone
// allowed to impersonate userextras, and a subject's attributes (unit,
// company, facilities) come from the tenant's UserGroups only.
//
// Requests the options do not map are answered "no opinion" before the
// tenant is looked at. For the others, the caller (normally the API
// server) must be allowed to query the tenant like any other caller.
func (h *Handler) serveSAR(w *statusWriter, r *http.Request, caller *Caller) {
	if ct := r.Header["Content-Type"]; len(ct) > 0 && !isJSON(ct[0]) {
		h.fail(w, http.StatusUnsupportedMediaType, "Content-Type must be application/json")
		return
	}
	st := h.pool.Get().(*state)
	defer h.put(st)
	// The tenant is in the body: the flow is the caller's alone.
	if !h.takeBody(w, r, st, caller) || !h.takeSeat(w, r, st, caller, "") {
		return
	}
	body := st.body
	var sar authorizationv1.SubjectAccessReview
	present, derr := decodeSAR(body, h.opts.MaxDepth, &sar)
	if derr != nil {
		h.fail(w, http.StatusBadRequest, "invalid SubjectAccessReview: "+derr.Error())
		return
	}
	if msg := checkSAR(present, &sar); msg != "" {
		h.fail(w, http.StatusBadRequest, "invalid SubjectAccessReview: "+msg)
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
		answer(nil, authorizationv1.SubjectAccessReviewStatus{Reason: reasonNonResource})
		return
	}
	module, action, reason := h.opts.SAR.target(ra)
	if reason == "" && sar.Spec.User == "" {
		reason = reasonNoUser
	}
	if reason != "" {
		answer(nil, authorizationv1.SubjectAccessReviewStatus{Reason: reason})
		return
	}
	if !h.tenantAllowed(w, r, caller, ra.Namespace, sourceOf(r.RemoteAddr)) {
		return
	}
	snap := h.store.Snapshot(ra.Namespace)
	q := snapshot.Request{
		Subject:  snapshot.Subject{ID: sar.Spec.User, Groups: sar.Spec.Groups},
		Action:   action,
		Resource: snapshot.Resource{Type: module, ID: ra.Name},
	}
	d := snap.Check(&q)
	s := authorizationv1.SubjectAccessReviewStatus{Allowed: d.Allowed, Reason: "gatehouse: " + d.Reason}
	if !d.Allowed && !noOpinion(d.Reason) {
		s.Denied = true
	}
	answer(snap, s)
	h.log.decision(r, epSAR, ra.Namespace, caller, &q, &d, revisionOf(snap), time.Now())
}

// checkSAR checks what decodeSAR leaves to the handler: the type, a spec,
// and exactly one kind of attributes (as the API server's own validation
// requires). It returns "" or a message naming the field.
func checkSAR(present uint32, sar *authorizationv1.SubjectAccessReview) string {
	switch {
	case present&1 == 0:
		return "apiVersion: required"
	case sar.APIVersion != sarAPIVersion:
		return "apiVersion: must be " + sarAPIVersion
	case present&2 == 0:
		return "kind: required"
	case sar.Kind != sarKind:
		return "kind: must be " + sarKind
	case present&8 == 0:
		return "spec: required"
	case sar.Spec.ResourceAttributes != nil && sar.Spec.NonResourceAttributes != nil:
		return "spec: resourceAttributes and nonResourceAttributes are mutually exclusive"
	case sar.Spec.ResourceAttributes == nil && sar.Spec.NonResourceAttributes == nil:
		return "spec: one of resourceAttributes and nonResourceAttributes is required"
	}
	return ""
}
