package authz

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
)

// discovery is the AuthZEN PDP metadata document (AuthZEN 1.0, PDP
// metadata): the PDP identifier and the URL of every endpoint with a
// discovery parameter, in the order of endpoints. Gatehouse's native
// endpoints are additional parameters (clients ignore parameters they do
// not understand), and so is gatehouse_max_batch, the most evaluations one
// batch may hold, by which the clients split larger batches.
type discovery struct {
	pdp      string
	maxBatch int
}

// MarshalJSON writes the members in order.
func (d discovery) MarshalJSON() ([]byte, error) {
	b := []byte(`{"policy_decision_point":`)
	b = appendJSONString(b, d.pdp)
	for i := range endpoints {
		if e := &endpoints[i]; e.discovery != "" {
			b = append(b, ',')
			b = appendJSONString(b, e.discovery)
			b = append(b, ':')
			b = appendJSONString(b, d.pdp+"/"+e.path)
		}
	}
	b = append(b, `,"gatehouse_max_batch":`...)
	b = strconv.AppendInt(b, int64(d.maxBatch), 10)
	return append(b, '}'), nil
}

// appendJSONString appends s as encoding/json writes a string.
func appendJSONString(b []byte, s string) []byte {
	q, _ := json.Marshal(s)
	return append(b, q...)
}

// serveDiscovery answers the PDP metadata of the tenant (GET
// /.well-known/authzen-configuration).
func (h *Handler) serveDiscovery(w http.ResponseWriter, r *http.Request, tenant string) {
	e := h.store.Get(tenant)
	if e == nil || e.Snapshot == nil {
		h.fail(w, http.StatusNotFound, "unknown tenant "+tenant)
		return
	}
	base := h.opts.BaseURL
	if base == "" {
		scheme := "http"
		if r.TLS != nil {
			scheme = "https"
		}
		base = scheme + "://" + r.Host
	}
	// The PDP identifier is the URL the well-known segment was inserted
	// into: the tenant's base path, or the root for the default tenant
	// served there.
	pdp := base + tenantsPrefix + tenant
	if !strings.HasPrefix(r.URL.Path, tenantsPrefix) && !strings.HasPrefix(r.URL.Path, "/"+wellKnownAuthZEN+tenantsPrefix) {
		pdp = base
	}
	h.writeJSON(w, e.Snapshot, discovery{pdp: pdp, maxBatch: h.lim.maxBatch})
}
