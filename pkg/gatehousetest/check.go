package gatehousetest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
)

// Request is one authorization question, as an app asks it: may Subject do
// Action on a resource of ResourceType?
type Request struct {
	// Subject is the subject's id (a user name of the tenant's UserGroups).
	Subject string
	// SubjectProperties are the subject's properties: groups (the identity
	// provider's, matched by UserGroups' externalGroups), unit, company,
	// companies, facilities, or any property the policy's conditions read.
	SubjectProperties map[string]any
	// Action is the action's name, e.g. "edit".
	Action string
	// ResourceType is the resource type, e.g. "workorders"; ResourceID is
	// optional.
	ResourceType, ResourceID string
	// ResourceProperties are the record's properties: unit, ownerId,
	// assigneeIds, facilityId, companyId, projectContacts, approvals, or
	// any property the policy's conditions read (e.g. amount).
	ResourceProperties map[string]any
	// Context is the request context conditions may read.
	Context map[string]any
}

// Decision is the endpoint's answer.
type Decision struct {
	// Allowed is the decision.
	Allowed bool
	// Reason is its reason code: Allowed, UnknownSubject, NoRoles,
	// UnknownResource, UnknownAction, NotPermitted, ScopeNotMatched,
	// ConditionFalse, Restricted, or NoSnapshot for a tenant not served.
	Reason string
	// Revision is the snapshot revision that decided.
	Revision string
}

// EvaluationURL returns the URL of tenant's AuthZEN evaluation endpoint.
func (k *Kit) EvaluationURL(tenant string) string {
	return k.URL + "/tenants/" + url.PathEscape(tenant) + "/access/v1/evaluation"
}

// Check asks the endpoint over HTTP, as an app would (AuthZEN Access
// Evaluation). A deny is a Decision, not an error; errors are transport
// failures and non-200 answers (their body in the message).
func (k *Kit) Check(ctx context.Context, tenant string, r Request) (Decision, error) {
	type subject struct {
		Type       string         `json:"type"`
		ID         string         `json:"id"`
		Properties map[string]any `json:"properties,omitempty"`
	}
	type action struct {
		Name string `json:"name"`
	}
	type resource struct {
		Type       string         `json:"type"`
		ID         string         `json:"id,omitempty"`
		Properties map[string]any `json:"properties,omitempty"`
	}
	body, err := json.Marshal(struct {
		Subject  subject        `json:"subject"`
		Action   action         `json:"action"`
		Resource resource       `json:"resource"`
		Context  map[string]any `json:"context,omitempty"`
	}{
		subject{"user", r.Subject, r.SubjectProperties},
		action{r.Action},
		resource{r.ResourceType, r.ResourceID, r.ResourceProperties},
		r.Context,
	})
	if err != nil {
		return Decision{}, fmt.Errorf("gatehousetest: request: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, k.EvaluationURL(tenant), bytes.NewReader(body))
	if err != nil {
		return Decision{}, fmt.Errorf("gatehousetest: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := k.HTTPClient.Do(req)
	if err != nil {
		return Decision{}, fmt.Errorf("gatehousetest: %w", err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return Decision{}, fmt.Errorf("gatehousetest: reading the answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return Decision{}, fmt.Errorf("gatehousetest: %s: %s: %s", k.EvaluationURL(tenant), resp.Status, bytes.TrimSpace(out))
	}
	var ans struct {
		Decision bool `json:"decision"`
		Context  struct {
			Reason   string `json:"reason"`
			Revision string `json:"revision"`
		} `json:"context"`
	}
	if err := json.Unmarshal(out, &ans); err != nil {
		return Decision{}, fmt.Errorf("gatehousetest: answer %q: %w", out, err)
	}
	rev := ans.Context.Revision
	if rev == "" {
		rev = resp.Header.Get("Gatehouse-Revision")
	}
	return Decision{Allowed: ans.Decision, Reason: ans.Context.Reason, Revision: rev}, nil
}
