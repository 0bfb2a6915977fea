package snapshot

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
	"weak"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/checker"
	celast "github.com/google/cel-go/common/ast"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/interpreter"
)

// CEL limits. The estimate assumes every list, map and string an expression
// walks holds up to AssumedSize elements; the runtime limit catches inputs
// larger than that. One cost unit is roughly one cheap CEL operation.
const (
	// MaxEstimatedCost is the highest estimated worst-case cost an expression
	// may have; costlier expressions are rejected with InvalidExpression.
	MaxEstimatedCost = 100_000
	// RuntimeCostLimit bounds one evaluation: cel-go's cost limit for the
	// plan's partial evaluation, and the comprehension steps of a check's
	// (MaxEvalSteps). Past it the condition is false (deny).
	RuntimeCostLimit = 100_000
	// AssumedSize is the size assumed for lists, maps and strings when
	// estimating cost.
	AssumedSize = 256
	// maxExprLen mirrors the CRD's MaxLength for CELExpression.
	maxExprLen = 4096
)

var (
	envOnce sync.Once
	celEnv  *cel.Env
	envErr  error
	// checkInterp and partInterp plan every condition of every tenant. A
	// cel.Program carries a dispatcher with a binding for each overload of
	// the standard library (~14 KB); the interpreters hold one dispatcher
	// for the process instead.
	checkInterp interpreter.Interpreter
	partInterp  interpreter.Interpreter
)

// env returns the one CEL environment shared by every tenant: subject,
// resource, action and context are string-keyed maps of dyn values, so
// expressions can reach any property the application sends.
func env() (*cel.Env, error) {
	envOnce.Do(func() {
		m := cel.MapType(cel.StringType, cel.DynType)
		celEnv, envErr = cel.NewEnv(
			cel.Variable("subject", m),
			cel.Variable("resource", m),
			cel.Variable("action", m),
			cel.Variable("context", m),
			// JSON numbers arrive as doubles while literals are ints;
			// without this `amount < 5000` would be a no-overload error.
			cel.CrossTypeNumericComparisons(true),
			cel.ParserRecursionLimit(64),
			cel.ParserExpressionSizeLimit(maxExprLen),
		)
		if envErr != nil {
			return
		}
		checkInterp, partInterp, envErr = interpreters(celEnv)
	})
	return celEnv, envErr
}

// interpreters builds what cel.Env.Program builds for each program (see
// cel-go's newProgram), once: the dispatcher of the env's functions and an
// interpreter over plain and over partial attributes. The env has no
// program options of its own (its libraries add none), so programs planned
// by these behave as cel.Program's; TestSharedInterpreterMatchesProgram
// compares them.
func interpreters(e *cel.Env) (check, part interpreter.Interpreter, err error) {
	disp := interpreter.NewDispatcher()
	for _, fn := range e.Functions() {
		b, err := fn.Bindings()
		if err != nil {
			return nil, nil, err
		}
		if err := disp.Add(b...); err != nil {
			return nil, nil, err
		}
	}
	ad, pr := e.CELTypeAdapter(), e.CELTypeProvider()
	check = interpreter.NewInterpreter(disp, e.Container, pr, ad,
		interpreter.NewAttributeFactory(e.Container, ad, pr, interpreter.EnableErrorOnBadPresenceTest(false)))
	part = interpreter.NewInterpreter(disp, e.Container, pr, ad,
		interpreter.NewPartialAttributeFactory(e.Container, ad, pr, interpreter.EnableErrorOnBadPresenceTest(false)))
	return check, part, nil
}

// condition is one compiled CEL expression. It is immutable (Plan's parts
// are made once), so it is shared by every profile, and every tenant, that
// holds the same source (see compileCondition).
type condition struct {
	src string
	prg program // for Check
	// What Plan needs, made on first use: most tenants never plan, and
	// the checked AST and the partial program are two thirds of a
	// condition's memory.
	planOnce sync.Once
	plan     *condPlan
}

// condPlan is a condition's partial evaluation for Plan.
type condPlan struct {
	ast  *cel.Ast
	part *interpreter.ObservableInterpretable
}

// planned returns the condition's partial evaluation, compiling src again
// (nil if that fails, which newCondition has ruled out).
func (c *condition) planned() *condPlan {
	c.planOnce.Do(func() {
		e, err := env()
		if err != nil {
			return
		}
		ast, iss := e.Compile(c.src)
		if iss != nil && iss.Err() != nil {
			return
		}
		if part, err := planPartial(ast); err == nil {
			c.plan = &condPlan{ast: ast, part: part}
		}
	})
	return c.plan
}

// program is an expression planned by checkInterp.
type program struct{ i interpreter.Interpretable }

// Eval is cel.Program's Eval (det is always nil): a panic or an error
// value is an error.
func (p program) Eval(act interpreter.Activation) (out ref.Val, det *cel.EvalDetails, err error) {
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, fmt.Errorf("internal error: %v", r)
		}
	}()
	out = p.i.Eval(act)
	if e, ok := out.(*types.Err); ok {
		return out, nil, e
	}
	return out, nil, nil
}

type sizeEstimator struct{}

func (sizeEstimator) EstimateSize(checker.AstNode) *checker.SizeEstimate {
	return &checker.SizeEstimate{Min: 0, Max: AssumedSize}
}

func (sizeEstimator) EstimateCallCost(string, string, *checker.AstNode, []checker.AstNode) *checker.CallEstimate {
	return nil
}

// constantPatterns rejects matches() with a pattern that is not a string
// literal. A pattern taken from the request is compiled at every
// evaluation, and matching a long text against a long pattern costs their
// product, inside one call no budget can interrupt: the caller could buy
// minutes of CPU with one evaluation.
func constantPatterns(a *cel.Ast) error {
	for _, m := range celast.MatchDescendants(celast.NavigateAST(a.NativeRep()), celast.FunctionMatcher("matches")) {
		call := m.AsCall()
		args := call.Args()
		if len(args) == 0 {
			continue
		}
		if p := args[len(args)-1]; p.Kind() != celast.LiteralKind {
			return fmt.Errorf("matches() needs a string literal as its pattern: a pattern from the request would be compiled and run at every evaluation")
		}
	}
	return nil
}

// conds interns compiled conditions by source: tenants copied from one
// template hold the same expressions, and a condition depends on nothing
// else (the env is the process's). Entries are weak, so a condition no
// snapshot holds any more is collected and its entry removed.
var conds = struct {
	sync.Mutex
	m map[string]weak.Pointer[condition]
}{m: map[string]weak.Pointer[condition]{}}

// compileCondition parses, type-checks and cost-checks src, or returns the
// live condition already compiled from it. The error message is meant for a
// tenant admin.
func compileCondition(src string) (*condition, error) {
	conds.Lock()
	c := conds.m[src].Value()
	conds.Unlock()
	if c != nil {
		return c, nil
	}
	c, err := newCondition(src)
	if err != nil {
		return nil, err
	}
	conds.Lock()
	defer conds.Unlock()
	if old := conds.m[src].Value(); old != nil {
		return old, nil // compiled concurrently
	}
	e := condEntry{src: c.src, wp: weak.Make(c)}
	conds.m[e.src] = e.wp
	runtime.AddCleanup(c, dropCondition, e)
	return c, nil
}

type condEntry struct {
	src string
	wp  weak.Pointer[condition]
}

// dropCondition removes a collected condition's entry, unless another
// condition of the same source took its place.
func dropCondition(e condEntry) {
	conds.Lock()
	defer conds.Unlock()
	if conds.m[e.src] == e.wp {
		delete(conds.m, e.src)
	}
}

// newCondition compiles src.
func newCondition(src string) (*condition, error) {
	if len(src) > maxExprLen {
		return nil, fmt.Errorf("expression is longer than %d characters", maxExprLen)
	}
	e, err := env()
	if err != nil {
		return nil, err
	}
	ast, iss := e.Compile(src)
	if iss != nil && iss.Err() != nil {
		return nil, fmt.Errorf("does not compile: %v", iss.Err())
	}
	// dyn is accepted because property values are dynamic; a non-bool
	// result at run time is treated as false.
	if t := ast.OutputType(); !t.IsExactType(types.BoolType) && !t.IsExactType(types.DynType) {
		return nil, fmt.Errorf("must evaluate to a bool, not %s", cel.FormatCELType(t))
	}
	if err := constantPatterns(ast); err != nil {
		return nil, err
	}
	est, err := e.EstimateCost(ast, sizeEstimator{})
	if err != nil {
		return nil, fmt.Errorf("cost cannot be estimated: %v", err)
	}
	if est.Max > MaxEstimatedCost {
		return nil, fmt.Errorf("is too costly: estimated worst-case cost %d exceeds %d (lists assumed to hold %d items)",
			est.Max, MaxEstimatedCost, AssumedSize)
	}
	// No cost limit: see Budget. Making the program interruptible has
	// cel-go ask the activation for interruptVar at every comprehension
	// step, which is how steps are metered.
	prg, err := checkInterp.NewInterpretable(ast.NativeRep(), interpreter.InterruptableEval())
	if err != nil {
		return nil, fmt.Errorf("cannot be planned: %v", err)
	}
	// Planned here to reject what cannot be, then dropped (see planned).
	if _, err := planPartial(ast); err != nil {
		return nil, fmt.Errorf("cannot be planned: %v", err)
	}
	return &condition{src: src, prg: program{prg}}, nil
}

// planPartial plans the partial evaluation of ast as cel.CostLimit with
// OptTrackState and OptPartialEval would: state for the residual, and a cost
// tracker per evaluation.
func planPartial(ast *cel.Ast) (*interpreter.ObservableInterpretable, error) {
	part, err := partInterp.NewInterpretable(ast.NativeRep(),
		interpreter.EvalStateObserver(),
		interpreter.CostObserver(interpreter.CostTrackerFactory(newPartTracker)))
	if err != nil {
		return nil, err
	}
	po, ok := part.(*interpreter.ObservableInterpretable)
	if !ok {
		return nil, errors.New("no observable program")
	}
	return po, nil
}

// eval runs the condition. Any error, non-bool result, step overrun or
// panic counts as false: a condition that cannot be decided denies. b (nil:
// none) is charged the evaluation (see Budget); once it is spent or its
// context ended the condition does not run, or stops, and is false (the
// caller reads b.Err()).
func (c *condition) eval(act any, b *Budget) bool {
	v, _ := c.evalStrict(act, b)
	return v
}

// evalStrict is eval that also says whether the result was a real bool
// (false on error, non-bool, step overrun or a spent budget).
func (c *condition) evalStrict(act any, b *Budget) (value, ok bool) {
	var m *meter
	if a, isOurs := act.(*activation); isOurs {
		m = &a.meter
	} else {
		// Only our activation meters steps; others (tests comparing
		// activations) run unbudgeted, with a meter of their own.
		m, b = new(meter), nil
	}
	if !b.begin(m) {
		return false, false
	}
	out, err := c.run(act)
	b.end(m)
	if err != nil {
		return false, false
	}
	v, isBool := out.(types.Bool)
	return isBool && bool(v), isBool
}

// run evaluates the program; a panic is an error.
func (c *condition) run(act any) (out ref.Val, err error) {
	defer func() {
		if recover() != nil {
			out, err = nil, errPanic
		}
	}()
	a, err := interpreter.NewActivation(act)
	if err != nil {
		return nil, err
	}
	out, _, err = c.prg.Eval(a)
	return out, err
}

var errPanic = errors.New("snapshot: condition panicked")

func newPartTracker() (*interpreter.CostTracker, error) {
	return interpreter.NewCostTracker(nil, interpreter.CostTrackerLimit(RuntimeCostLimit))
}

// residual partially evaluates the condition with the resource unknown. It
// returns known=true and the value when the condition does not depend on
// the resource (or context), else the residual expression.
func (c *condition) residual(vars map[string]any) (known, value bool, rest *cel.Ast) {
	defer func() {
		if recover() != nil {
			known, value, rest = true, false, nil
		}
	}()
	act, err := cel.PartialVars(vars, cel.AttributePattern("resource"), cel.AttributePattern("context"))
	if err != nil {
		return true, false, nil
	}
	pl := c.planned()
	if pl == nil {
		return true, false, nil
	}
	var state interpreter.EvalState
	out := pl.part.ObserveEval(act, func(o any) {
		if s, ok := o.(interpreter.EvalState); ok {
			state = s
		}
	})
	if types.IsError(out) {
		return true, false, nil
	}
	if types.IsUnknown(out) {
		r, err := residualAst(pl.ast, state)
		if err != nil {
			return false, false, pl.ast
		}
		return false, false, r
	}
	b, isBool := out.(types.Bool)
	return true, isBool && bool(b), nil
}

// residualAst is cel.Env.ResidualAst for a state observed without a
// cel.Program: prune, print, parse and check again.
func residualAst(a *cel.Ast, state interpreter.EvalState) (*cel.Ast, error) {
	e, err := env()
	if err != nil {
		return nil, err
	}
	n := a.NativeRep()
	pruned := interpreter.PruneAst(n.Expr(), n.SourceInfo().MacroCalls(), state)
	txt, err := cel.ExprToString(pruned.Expr(), pruned.SourceInfo())
	if err != nil {
		return nil, err
	}
	r, iss := e.Compile(txt)
	if iss != nil && iss.Err() != nil {
		return nil, iss.Err()
	}
	return r, nil
}
