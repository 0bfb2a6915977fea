package bench

import (
	"context"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"
)

// The in-process figures as Go benchmarks:
//
//	go test -run '^$' -bench . -benchtime 1s     (BENCH_USERS, default 100000)
//
// Every peer is verified against Gatehouse's Check on the whole request
// mix before it is timed.

var (
	setupOnce sync.Once
	setupErr  error
	bt        *Tenant
	bo        *OPA
	bc        *Casbin
)

func setup(b *testing.B) {
	b.Helper()
	setupOnce.Do(func() {
		users := 100_000
		if v, err := strconv.Atoi(os.Getenv("BENCH_USERS")); err == nil && v > 0 {
			users = v
		}
		ctx := context.Background()
		if bt, setupErr = NewTenant(users, 1_000); setupErr != nil {
			return
		}
		if bo, setupErr = NewOPA(ctx, bt); setupErr != nil {
			return
		}
		if setupErr = VerifyOPA(ctx, bo, bt); setupErr != nil {
			return
		}
		if bc, setupErr = NewCasbin(bt); setupErr != nil {
			return
		}
		setupErr = VerifyCasbin(bc, bt)
	})
	if setupErr != nil {
		b.Fatal(setupErr)
	}
	b.ResetTimer()
}

func BenchmarkGatehouseCheckScope(b *testing.B) {
	setup(b)
	reqs := bt.ScopeChecks()
	b.ResetTimer()
	BenchGatehouseScope(bt, reqs)(b)
}

func BenchmarkGatehouseCheckMix(b *testing.B) { setup(b); BenchGatehouseCheck(bt)(b) }
func BenchmarkNaiveWalk(b *testing.B)         { setup(b); BenchNaive(bt)(b) }
func BenchmarkOPAEval(b *testing.B)           { setup(b); BenchOPA(bo, bt)(b) }
func BenchmarkCasbinEnforce(b *testing.B)     { setup(b); BenchCasbin(bc, bt)(b) }
func BenchmarkOPAEvalParsed(b *testing.B)     { setup(b); BenchOPAParsed(bo, bt)(b) }

func BenchmarkGatehousePlan(b *testing.B) { setup(b); BenchPlan(bt, ListSubjects(bt, 200))(b) }
func BenchmarkOPAPartial(b *testing.B)    { setup(b); BenchPartial(bo, ListSubjects(bt, 200))(b) }

// TestPeersAgree is the verification alone, on a small tenant (go test).
func TestPeersAgree(t *testing.T) {
	ctx := context.Background()
	tn, err := NewTenant(2_000, 300)
	if err != nil {
		t.Fatal(err)
	}
	o, err := NewOPA(ctx, tn)
	if err != nil {
		t.Fatal(err)
	}
	if err := VerifyOPA(ctx, o, tn); err != nil {
		t.Fatal(err)
	}
	c, err := NewCasbin(tn)
	if err != nil {
		t.Fatal(err)
	}
	if err := VerifyCasbin(c, tn); err != nil {
		t.Fatal(err)
	}
	subs := ListSubjects(tn, 50)
	agree, _, _, _, err := ListAgreement(ctx, o, tn, subs)
	if err != nil {
		t.Fatal(err)
	}
	if agree != len(subs) {
		t.Fatalf("list filtering: OPA and Gatehouse agree on %d of %d subjects", agree, len(subs))
	}
	pols := CerbosPolicies(tn)
	if len(pols) != len(tn.Model.Modules) {
		t.Fatalf("%d Cerbos policies for %d modules", len(pols), len(tn.Model.Modules))
	}
}

func TestLoopbackOnly(t *testing.T) {
	for _, u := range []string{"http://127.0.0.1:1/x", "http://[::1]:2/"} {
		if err := Loopback(u); err != nil {
			t.Errorf("%s: %v", u, err)
		}
	}
	for _, u := range []string{"http://10.0.0.1/", "http://example.com/", "http://192.168.1.1:80/"} {
		if Loopback(u) == nil {
			t.Errorf("%s accepted", u)
		}
	}
}

func TestLoadAgainstBare(t *testing.T) {
	s, err := StartBare()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	tn, err := NewTenant(1_000, 50)
	if err != nil {
		t.Fatal(err)
	}
	bodies, err := Verify(context.Background(), s, tn)
	if err != nil {
		t.Fatal(err)
	}
	res, err := Load(context.Background(), LoadConfig{URL: s.Check, Bodies: bodies, Conns: 4, Warmup: 50 * time.Millisecond, Duration: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests == 0 || res.Errors > 0 {
		t.Fatalf("%+v", res)
	}
}
