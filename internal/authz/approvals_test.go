package authz

import (
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/snapshot"
)

func TestApprovalEndpoints(t *testing.T) {
	h, _ := newTestHandler(t, Options{})
	po := `{"type":"purchaseorders","id":"po-9","properties":{"amount":30000,"unit":"/ca/ab/calgary","ownerId":"tom.tech","approvals":[{"step":"supervisor","by":"sam.supervisor"}]}}`
	w := do(h, "POST", base+"/v1/approvals/plan", `{"resource":`+po+`}`)
	var plan snapshot.ApprovalPlanResult
	decodeJSON(t, w.Body.Bytes(), &plan)
	if w.Code != 200 || plan.Chain != "purchase-orders" || plan.Current != "director" || len(plan.Steps) != 2 {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	w = do(h, "POST", base+"/v1/approvals/check", `{"subject":{"id":"dana.director"},"resource":`+po+`}`)
	var d snapshot.ApprovalDecision
	decodeJSON(t, w.Body.Bytes(), &d)
	if !d.Allowed || d.Step != "director" {
		t.Errorf("director: %s", w.Body)
	}
	w = do(h, "POST", base+"/v1/approvals/check", `{"subject":{"id":"tom.tech"},"resource":`+po+`}`)
	d = snapshot.ApprovalDecision{}
	decodeJSON(t, w.Body.Bytes(), &d)
	if d.Allowed || d.Reason != snapshot.ReasonNotEligible {
		t.Errorf("owner: %s", w.Body)
	}
	w = do(h, "POST", base+"/v1/approvals/plan", `{"resource":{"type":"purchaseorders","properties":{"approvals":[{"step":"a","who":"b"}]}}}`)
	if w.Code != 400 || !strings.Contains(w.Body.String(), "resource.properties.approvals[0].who: unknown field") {
		t.Errorf("bad approval: %d %s", w.Code, w.Body)
	}
}
