package snapshot_test

import (
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/snapshot"
	"github.com/gatehouse-dev/gatehouse/internal/tenantgen"
)

// TestAgainstReferenceEvaluator compiles a generated tenant and checks that
// every generated request gets the answer of tenantgen's naive evaluator,
// an independent implementation of the same rules.
func TestAgainstReferenceEvaluator(t *testing.T) {
	cfg := tenantgen.Default(3000)
	cfg.Groups = 300
	m := tenantgen.Generate(cfg)
	s, probs := snapshot.Compile(m.Tenant, snapshot.Objects(m.Objects()))
	if len(probs) > 0 {
		t.Fatalf("problems: %v", probs)
	}
	reqs := m.Requests(4000, 3)
	allowed := 0
	relations := map[string]int{}
	for _, r := range reqs {
		rq := toRequest(r)
		d := s.Check(&rq)
		if d.Allowed != r.Allowed {
			t.Fatalf("%s %s %s (%s): snapshot %+v, reference %v; record %+v", r.Subject, r.Action, r.Record.Module, r.Relation, d, r.Allowed, r.Record)
		}
		// Plan must agree on the same records.
		if p := s.Plan(rq.Subject, rq.Action, rq.Resource.Type); p.Matches(rq.Resource) != d.Allowed {
			t.Fatalf("plan disagrees for %+v", r)
		}
		if d.Allowed {
			allowed++
		}
		relations[r.Relation]++
	}
	if len(reqs) != 4000 || allowed != 3200 {
		t.Fatalf("request mix: %d requests, %d allowed", len(reqs), allowed)
	}
	for _, rel := range []string{"owner", "assignee", "stranger"} {
		if relations[rel] < 500 {
			t.Fatalf("too few %s requests: %v", rel, relations)
		}
	}
	// Subjects known only through an IdP group.
	for _, g := range m.Groups {
		if len(g.ExternalGroups) == 0 {
			continue
		}
		for _, r := range reqs[:200] {
			rq := toRequest(r)
			rq.Subject = snapshot.Subject{ID: "sso-only-user", Groups: g.ExternalGroups}
			rec := r.Record
			if rec.OwnerID == r.Subject {
				rec.OwnerID = "sso-only-user"
				rq.Resource.OwnerID = "sso-only-user"
			}
			want := m.AllowedExternal(g.Name, "sso-only-user", r.Action, rec)
			if d := s.Check(&rq); d.Allowed != want {
				t.Fatalf("external %s %s %s: snapshot %+v, reference %v", g.Name, r.Action, r.Record.Module, d, want)
			}
		}
	}
}

func TestWhoCanOnGeneratedTenant(t *testing.T) {
	cfg := tenantgen.Default(1500)
	cfg.Groups = 150
	m := tenantgen.Generate(cfg)
	s, _ := snapshot.Compile(m.Tenant, snapshot.Objects(m.Objects()))
	for _, r := range m.Requests(30, 9) {
		rq := toRequest(r)
		got := map[string]bool{}
		for _, g := range s.WhoCan(rq.Action, rq.Resource) {
			got[g.Subject] = true
		}
		for _, u := range m.Users {
			if want := m.Allowed(u.ID, r.Action, r.Record); want != got[u.ID] {
				t.Fatalf("%s %s %s: whocan %v, reference %v", u.ID, r.Action, r.Record.Module, got[u.ID], want)
			}
		}
	}
}
