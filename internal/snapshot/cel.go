package snapshot

import (
	"errors"
	"fmt"
	"sync"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/checker"
	celast "github.com/google/cel-go/common/ast"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
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
	})
	return celEnv, envErr
}

// condition is one compiled CEL expression. Programs are safe for concurrent
// use, so a condition is shared by every profile that holds it.
type condition struct {
	src  string
	ast  *cel.Ast
	prg  cel.Program // fast program for Check
	part cel.Program // partial-evaluation program for Plan
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

// compileCondition parses, type-checks and cost-checks src. The error message
// is meant for a tenant admin.
func compileCondition(src string) (*condition, error) {
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
	// No cel.CostLimit: see Budget. Making the program interruptible has
	// cel-go ask the activation for interruptVar at every comprehension
	// step, which is how steps are metered.
	prg, err := e.Program(ast, cel.InterruptCheckFrequency(1))
	if err != nil {
		return nil, fmt.Errorf("cannot be planned: %v", err)
	}
	part, err := e.Program(ast, cel.CostLimit(RuntimeCostLimit), cel.EvalOptions(cel.OptTrackState, cel.OptPartialEval))
	if err != nil {
		return nil, fmt.Errorf("cannot be planned: %v", err)
	}
	return &condition{src: src, ast: ast, prg: prg, part: part}, nil
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
	out, _, err = c.prg.Eval(act)
	return out, err
}

var errPanic = errors.New("snapshot: condition panicked")

// residual partially evaluates the condition with the resource unknown. It
// returns known=true and the value when the condition does not depend on
// the resource (or context), else the residual expression.
func (c *condition) residual(vars map[string]any) (known, value bool, rest *cel.Ast) {
	defer func() {
		if recover() != nil {
			known, value, rest = true, false, nil
		}
	}()
	e, _ := env()
	act, err := cel.PartialVars(vars, cel.AttributePattern("resource"), cel.AttributePattern("context"))
	if err != nil {
		return true, false, nil
	}
	out, det, err := c.part.Eval(act)
	if err != nil {
		return true, false, nil
	}
	if types.IsUnknown(out) {
		r, err := e.ResidualAst(c.ast, det)
		if err != nil {
			return false, false, c.ast
		}
		return false, false, r
	}
	b, isBool := out.(types.Bool)
	return true, isBool && bool(b), nil
}
