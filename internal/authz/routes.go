package authz

import (
	"net/http"
	"strings"
)

// endpoint identifies a route: an index into endpoints.
type endpoint uint8

const (
	epEvaluation endpoint = iota
	epEvaluations
	epSearchSubject
	epSearchAction
	epSearchResource
	epFields
	epPlan
	epApprovalPlan
	epApprovalCheck
	epDiscovery
	epSAR
	epOpenAPI
	epUnknown // no route matched (404); only for metrics
)

// bodyField is a top-level key of a request body; an endpoint accepts the
// keys of its spec's fields, and the bits detect duplicates.
type bodyField uint32

const (
	fieldSubject bodyField = 1 << iota
	fieldAction
	fieldResource
	fieldContext
	fieldEvaluations
	fieldOptions
	fieldPage
	fieldColumns
	fieldPlaceholder
	fieldArgOffset

	fieldsTuple = fieldSubject | fieldAction | fieldResource | fieldContext
)

// endpointSpec is all the handler knows about an endpoint besides its code:
// routing, method, accepted body keys, required parts, metric name and
// discovery parameter. Adding an endpoint is a constant above, an entry
// here, its file (serve) and its operations in openapi.yaml.
type endpointSpec struct {
	// path is below the tenant's base path (or the root for the default
	// tenant); rootPath is a path outside the tenants (the SAR webhook, the
	// OpenAPI document).
	path, rootPath string
	// get: GET or HEAD without a body; otherwise POST with a JSON body.
	get bool
	// metric is the name Observer.ObserveRequest receives.
	metric string
	// discovery is the endpoint's parameter in the PDP metadata ("": not
	// listed).
	discovery string
	// fields are the top-level body keys accepted.
	fields bodyField
	// needs are the tuple parts (hasSubject...) a request must carry; the
	// AuthZEN evaluations check theirs themselves (checkTuple).
	needs uint8
	// candidates: context.candidates is the list of records to filter.
	candidates bool
	// serve answers a decoded body; discovery, SAR and the OpenAPI
	// document are served before a body is read (see Handler.serve).
	serve func(h *Handler, w http.ResponseWriter, r *http.Request, st *state, tenant string, caller *Caller)
}

var endpoints = [...]endpointSpec{
	epEvaluation: {path: "access/v1/evaluation", metric: "evaluation", discovery: "access_evaluation_endpoint",
		fields: fieldsTuple, serve: (*Handler).serveEvaluation},
	epEvaluations: {path: "access/v1/evaluations", metric: "evaluations", discovery: "access_evaluations_endpoint",
		fields: fieldsTuple | fieldEvaluations | fieldOptions, serve: (*Handler).serveEvaluations},
	epSearchSubject: {path: "access/v1/search/subject", metric: "search_subject", discovery: "search_subject_endpoint",
		fields: fieldsTuple | fieldPage, needs: hasAction | hasResource, serve: (*Handler).serveSearchSubject},
	epSearchAction: {path: "access/v1/search/action", metric: "search_action", discovery: "search_action_endpoint",
		fields: fieldSubject | fieldResource | fieldContext | fieldPage, needs: hasSubject | hasResource, serve: (*Handler).serveSearchAction},
	epSearchResource: {path: "access/v1/search/resource", metric: "search_resource", discovery: "search_resource_endpoint",
		fields: fieldsTuple | fieldPage, needs: hasSubject | hasAction | hasResource, candidates: true, serve: (*Handler).serveSearchResource},
	epFields: {path: "v1/fields", metric: "fields", discovery: "gatehouse_fields_endpoint",
		fields: fieldSubject | fieldResource | fieldContext, needs: hasSubject | hasResource, serve: (*Handler).serveFields},
	epPlan: {path: "v1/plan", metric: "plan", discovery: "gatehouse_plan_endpoint",
		fields: fieldsTuple | fieldColumns | fieldPlaceholder | fieldArgOffset, needs: hasSubject | hasAction | hasResource, serve: (*Handler).servePlan},
	epApprovalPlan: {path: "v1/approvals/plan", metric: "approvals_plan", discovery: "gatehouse_approvals_plan_endpoint",
		fields: fieldResource | fieldContext, needs: hasResource, serve: (*Handler).serveApprovalPlan},
	epApprovalCheck: {path: "v1/approvals/check", metric: "approvals_check", discovery: "gatehouse_approvals_check_endpoint",
		fields: fieldSubject | fieldResource | fieldContext, needs: hasSubject | hasResource, serve: (*Handler).serveApprovalCheck},
	epDiscovery: {path: wellKnownAuthZEN, get: true, metric: "discovery"},
	epSAR:       {rootPath: subjectAccessReviewPath, metric: "subjectaccessreview"},
	epOpenAPI:   {rootPath: openAPIPath, get: true, metric: "openapi"},
	epUnknown:   {metric: "unknown"},
}

// topField says whether endpoint ep accepts top-level key k; the bit
// detects duplicates.
func topField(ep endpoint, k string) (uint32, bool) {
	var bit bodyField
	switch k {
	case "subject":
		bit = fieldSubject
	case "action":
		bit = fieldAction
	case "resource":
		bit = fieldResource
	case "context":
		bit = fieldContext
	case "evaluations":
		bit = fieldEvaluations
	case "options":
		bit = fieldOptions
	case "page":
		bit = fieldPage
	case "columns":
		bit = fieldColumns
	case "placeholder":
		bit = fieldPlaceholder
	case "argOffset":
		bit = fieldArgOffset
	default:
		return 0, false
	}
	return uint32(bit), endpoints[ep].fields&bit != 0
}

// route is the result of matching a path.
type route struct {
	tenant string
	ep     endpoint
}

// match maps a path to a tenant and endpoint.
func (h *Handler) match(path string) (route, bool) {
	for ep := range endpoints {
		if p := endpoints[ep].rootPath; p != "" && p == path {
			return route{ep: endpoint(ep)}, true
		}
	}
	var tenant, rest string
	switch {
	case strings.HasPrefix(path, tenantsPrefix):
		p := path[len(tenantsPrefix):]
		i := strings.IndexByte(p, '/')
		if i <= 0 {
			return route{}, false
		}
		tenant, rest = p[:i], p[i+1:]
	case strings.HasPrefix(path, "/"+wellKnownAuthZEN+tenantsPrefix):
		// RFC 8615 form: the well-known segment goes between host and
		// the PDP identifier's path (https://host/tenants/ns).
		tenant = path[len("/"+wellKnownAuthZEN+tenantsPrefix):]
		if strings.IndexByte(tenant, '/') >= 0 {
			return route{}, false
		}
		rest = wellKnownAuthZEN
	default:
		if h.opts.DefaultTenant == "" {
			return route{}, false
		}
		tenant, rest = h.opts.DefaultTenant, path[1:]
	}
	if !validTenant(tenant) {
		return route{}, false
	}
	for ep := range endpoints {
		if p := endpoints[ep].path; p != "" && p == rest {
			return route{tenant: tenant, ep: endpoint(ep)}, true
		}
	}
	return route{}, false
}

// validTenant accepts Kubernetes namespace names (RFC 1123 labels).
func validTenant(s string) bool {
	if len(s) == 0 || len(s) > 63 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9':
		case c == '-' && i > 0 && i < len(s)-1:
		default:
			return false
		}
	}
	return true
}

// missingPart names the first part of parts the tuple lacks ("" when it
// has them all).
func missingPart(t *tuple, parts uint8) string {
	switch {
	case parts&hasSubject != 0 && t.has&hasSubject == 0:
		return "subject: required"
	case parts&hasSubject != 0 && t.sub.ID == "":
		return "subject.id: required"
	case parts&hasAction != 0 && t.has&hasAction == 0:
		return "action: required"
	case parts&hasAction != 0 && t.action == "":
		return "action.name: required"
	case parts&hasResource != 0 && t.has&hasResource == 0:
		return "resource: required"
	case parts&hasResource != 0 && t.res.Type == "":
		return "resource.type: required"
	}
	return ""
}
