package tenantgen_test

import (
	"encoding/json"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/tenantgen"
)

func TestDeterministic(t *testing.T) {
	cfg := tenantgen.Default(2000)
	a, _ := json.Marshal(tenantgen.Generate(cfg))
	b, _ := json.Marshal(tenantgen.Generate(cfg))
	if string(a) != string(b) {
		t.Fatal("same seed, different tenants")
	}
	cfg.Seed = 2
	c, _ := json.Marshal(tenantgen.Generate(cfg))
	if string(a) == string(c) {
		t.Fatal("different seeds, same tenant")
	}
	m := tenantgen.Generate(tenantgen.Default(2000))
	r1, _ := json.Marshal(m.Requests(500, 1))
	r2, _ := json.Marshal(m.Requests(500, 1))
	if string(r1) != string(r2) {
		t.Fatal("requests not deterministic")
	}
}

func TestShape(t *testing.T) {
	m := tenantgen.Generate(tenantgen.Default(5000))
	if len(m.Roles) != 200 || len(m.Groups) != 2000 || len(m.Users) != 5000 || len(m.FieldPolicies) != 10 || len(m.Chains) == 0 {
		t.Fatalf("sizes: %d roles %d groups %d users %d policies %d chains", len(m.Roles), len(m.Groups), len(m.Users), len(m.FieldPolicies), len(m.Chains))
	}
	ownish, cond, perms := 0, 0, 0
	for _, r := range m.Roles[len(tenantgen.BaseRoles):] {
		for _, p := range r.Perms {
			perms++
			if p.Scope == tenantgen.Own || p.Scope == tenantgen.Assigned || p.Scope == tenantgen.OwnOrAssigned {
				ownish++
			}
			if p.MaxAmount > 0 {
				cond++
			}
		}
	}
	if ownish*100/perms < 25 || ownish*100/perms > 42 || cond == 0 {
		t.Fatalf("scope mix: %d own/assigned and %d conditional of %d", ownish, cond, perms)
	}
	members := 0
	for _, g := range m.Groups {
		members += len(g.Members)
	}
	if members < 5000 {
		t.Fatalf("members %d", members)
	}
	o := m.Objects()
	if len(o.Roles) != 200 || len(o.Groups) != 2000 || len(o.FieldPolicies) != 10 {
		t.Fatal("objects do not mirror the model")
	}
	reqs := m.Requests(1000, 5)
	allowed := 0
	for _, r := range reqs {
		if r.Allowed {
			allowed++
		}
		if r.Allowed != m.Allowed(r.Subject, r.Action, r.Record) {
			t.Fatal("request answer is not the reference answer")
		}
	}
	if len(reqs) != 1000 || allowed != 800 {
		t.Fatalf("mix: %d of %d allowed", allowed, len(reqs))
	}
}
