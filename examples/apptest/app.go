// Package apptest is a tiny application that asks Gatehouse before acting,
// and its envtest suite (app_test.go) shows how an app tests its
// authorization against the real thing with pkg/gatehousetest.
//
// The app serves PUT /workorders/{id}?unit=UNIT for the user named in the
// X-User header (in a real app: from its session or token) and answers 403
// when Gatehouse denies "edit" on the work order.
package apptest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
)

// App edits work orders of one tenant.
type App struct {
	// Gatehouse is the authorization endpoint's base URL, e.g.
	// https://gatehouse.gatehouse-system.svc:8443.
	Gatehouse string
	// Tenant is the app's tenant: its namespace of Gatehouse policy.
	Tenant string
	// Client calls Gatehouse (nil: http.DefaultClient). In a cluster it
	// sends the app's ServiceAccount token.
	Client *http.Client
}

// ServeHTTP implements http.Handler.
func (a *App) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPut {
		http.Error(w, "PUT only", http.StatusMethodNotAllowed)
		return
	}
	id := r.URL.Path[len("/workorders/"):]
	allowed, reason, err := a.allowed(r, r.Header.Get("X-User"), "edit", "workorders", id,
		map[string]any{"unit": r.URL.Query().Get("unit")})
	switch {
	case err != nil:
		// Fail closed.
		http.Error(w, "authorization unavailable", http.StatusServiceUnavailable)
	case !allowed:
		http.Error(w, "forbidden: "+reason, http.StatusForbidden)
	default:
		_, _ = fmt.Fprintf(w, "work order %s saved\n", id) // the client may be gone
	}
}

// allowed asks Gatehouse's AuthZEN evaluation endpoint.
func (a *App) allowed(r *http.Request, user, action, resourceType, id string, props map[string]any) (bool, string, error) {
	body, err := json.Marshal(map[string]any{
		"subject":  map[string]any{"type": "user", "id": user},
		"action":   map[string]any{"name": action},
		"resource": map[string]any{"type": resourceType, "id": id, "properties": props},
	})
	if err != nil {
		return false, "", err
	}
	u := a.Gatehouse + "/tenants/" + url.PathEscape(a.Tenant) + "/access/v1/evaluation"
	req, err := http.NewRequestWithContext(r.Context(), http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return false, "", err
	}
	req.Header.Set("Content-Type", "application/json")
	c := a.Client
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Do(req)
	if err != nil {
		return false, "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return false, "", fmt.Errorf("gatehouse: %s", resp.Status)
	}
	var ans struct {
		Decision bool `json:"decision"`
		Context  struct {
			Reason string `json:"reason"`
		} `json:"context"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&ans); err != nil {
		return false, "", err
	}
	return ans.Decision, ans.Context.Reason, nil
}
