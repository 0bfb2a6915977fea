package snapshot

import (
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types"
)

// sharedExprs adds to diffExprs what the activation test has no need for:
// functions of every kind, errors, and the shapes partial evaluation prunes.
var sharedExprs = []string{
	`resource.properties.amount / 0 > 1`,
	`subject.properties.unit.startsWith('/ca') && resource.properties.amount < 5000`,
	`subject.properties.unit == '/ca' || resource.properties.amount > 10`,
	`subject.id == 'u1' ? resource.properties.amount > 1 : false`,
	`resource.properties.name.matches('^[a-z]+$')`,
	`timestamp('2026-01-01T00:00:00Z') < timestamp('2027-01-01T00:00:00Z')`,
	`duration('1h') > duration('1m') && 'x'.contains('x') && 'abc'.endsWith('c')`,
	`size('abc') == 3 && double(resource.properties.amount) >= 0.0 && uint(1) == 1u`,
	`[1, 2, 3].map(x, x * 2).exists(x, x == resource.properties.amount)`,
	`{'a': 1}.a == 1 && type(1) == int`,
	`!(action.name in ['approve', 'view'])`,
	`context.ip == '10.0.0.1' && subject.properties.unit == '/ca'`,
	`resource.properties.tags.all(t, t.size() < 10) && subject.roles.exists(r, r == 'x')`,
}

// TestSharedInterpreterMatchesProgram compares conditions planned by the
// process's shared interpreters with cel.Program, as they were planned
// before: the same values, errors and residual expressions.
func TestSharedInterpreterMatchesProgram(t *testing.T) {
	e, err := env()
	if err != nil {
		t.Fatal(err)
	}
	profiles, subjects, resources := diffProfiles(), diffSubjects(), diffResources()
	for _, src := range append(append([]string(nil), diffExprs...), sharedExprs...) {
		c, err := compileCondition(src)
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		ast, iss := e.Compile(src)
		if iss != nil && iss.Err() != nil {
			t.Fatal(iss.Err())
		}
		prg, err := e.Program(ast, cel.InterruptCheckFrequency(1))
		if err != nil {
			t.Fatal(err)
		}
		part, err := e.Program(ast, cel.CostLimit(RuntimeCostLimit), cel.EvalOptions(cel.OptTrackState, cel.OptPartialEval))
		if err != nil {
			t.Fatal(err)
		}
		for ri := range resources {
			for si := range subjects {
				for _, p := range append(profiles, nil) {
					act := refActivation(p, &subjects[si], "approve", &resources[ri], map[string]any{"ip": "10.0.0.1"})
					want, _, wantErr := prg.Eval(act)
					got, _, gotErr := c.prg.Eval(act)
					if (wantErr != nil) != (gotErr != nil) || wantErr == nil && want.Equal(got) != types.True && !isNaN(want) {
						t.Errorf("%s: cel.Program %v (%v), shared %v (%v)", src, want, wantErr, got, gotErr)
					}
				}
			}
		}
		for si := range subjects {
			for _, p := range profiles {
				vars := map[string]any{"subject": subjectMap(p, &subjects[si]), "action": map[string]any{"name": "approve"}}
				known, value, rest := c.residual(vars)
				wk, wv, wrest := refResidual(e, ast, part, vars)
				if known != wk || value != wv || !sameText(astText(rest), astText(wrest)) {
					t.Errorf("%s: residual %v %v %q, cel.Program's %v %v %q", src, known, value, astText(rest), wk, wv, astText(wrest))
				}
			}
		}
	}
}

func isNaN(v any) bool {
	d, ok := v.(types.Double)
	return ok && d != d
}

// sameText compares residuals up to the order of map literals' entries,
// which follows Go's map iteration in both.
func sameText(a, b string) bool {
	if a == b {
		return true
	}
	ra, rb := []rune(a), []rune(b)
	slices.Sort(ra)
	slices.Sort(rb)
	return strings.Contains(a, "{") && slices.Equal(ra, rb)
}

func astText(a *cel.Ast) string {
	if a == nil {
		return ""
	}
	s, err := cel.AstToString(a)
	if err != nil {
		// The message holds a pointer; that it fails is what compares.
		return "unprintable"
	}
	return s
}

// refResidual is condition.residual as it was, with a cel.Program.
func refResidual(e *cel.Env, ast *cel.Ast, part cel.Program, vars map[string]any) (known, value bool, rest *cel.Ast) {
	defer func() {
		if recover() != nil {
			known, value, rest = true, false, nil
		}
	}()
	act, err := cel.PartialVars(vars, cel.AttributePattern("resource"), cel.AttributePattern("context"))
	if err != nil {
		return true, false, nil
	}
	out, det, err := part.Eval(act)
	if err != nil {
		return true, false, nil
	}
	if types.IsUnknown(out) {
		r, err := e.ResidualAst(ast, det)
		if err != nil {
			return false, false, ast
		}
		return false, false, r
	}
	b, isBool := out.(types.Bool)
	return true, isBool && bool(b), nil
}

// TestConditionsInterned: one source compiles to one condition while any
// snapshot holds it, and its entry goes once none does.
func TestConditionsInterned(t *testing.T) {
	const src = `resource.properties.interned == 'yes'`
	a, err := compileCondition(src)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := compileCondition(src)
	if a != b {
		t.Fatal("the same source compiled twice")
	}
	a, b = nil, nil
	_, _ = a, b
	for range 100 {
		runtime.GC()
		conds.Lock()
		_, held := conds.m[src]
		conds.Unlock()
		if !held {
			return
		}
		runtime.Gosched()
	}
	t.Error("the entry of a condition nobody holds was not removed")
}
