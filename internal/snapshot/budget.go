package snapshot

import (
	"context"
	"errors"
	"time"
)

// ErrBudgetExceeded is Budget.Err when the request's conditions cost more
// than its budget: more cost units, or more evaluation time.
var ErrBudgetExceeded = errors.New("snapshot: condition budget exceeded")

// ReasonBudgetExceeded is the deny reason of a decision that could not be
// made because the request's budget ran out (or its context ended) before
// or while a condition ran. Callers that set a Budget must check
// Budget.Err and discard such answers rather than serve them.
const ReasonBudgetExceeded = "BudgetExceeded"

// Cost units of conditions. cel-go's own runtime cost tracking is not used
// for checks: it keeps a stack that it searches linearly at every step, so
// its CPU grows with the square of a list's length (a 1,000-item exists()
// costs 30 times the untracked evaluation) — the tracker itself was the
// most expensive thing a hostile request could buy. Gatehouse meters
// linearly instead: an evaluation costs EvalCost plus one unit per
// comprehension step (exists, all, map, filter... at every nesting level),
// counted through cel-go's interrupt hook, and CEL time is capped as well
// because a step over a long string (matches, contains) can cost more than
// a unit suggests.
const (
	// EvalCost is what starting one condition evaluation costs.
	EvalCost = 1
	// MaxEvalSteps bounds the comprehension steps of one evaluation; past
	// it the evaluation stops and its condition is false.
	MaxEvalSteps = RuntimeCostLimit
)

// interruptVar is the variable cel-go asks the activation for at each
// comprehension step of an interruptible program.
const interruptVar = "#interrupted"

// Budget bounds the condition work of one request across all its
// evaluations (batch items, search candidates, who-can members, approval
// steps): the cost units they spend together, the time they spend
// together, and the request's context. All three are checked before each
// evaluation and every 256 comprehension steps inside one, so a request
// stops at most 256 steps past its budget.
//
// A Budget is used by one goroutine (one request); it is not safe for
// concurrent use. A nil *Budget is unlimited (each evaluation still stops
// at MaxEvalSteps).
type Budget struct {
	// pause, when set, is called at the points where work can be
	// interrupted (see SetPause).
	pause     func()
	ctx       context.Context
	limit     int64
	left      int64
	timeLimit time.Duration
	timeUsed  time.Duration
	evalStart time.Time // while an evaluation runs
	err       error
}

// NewBudget returns a budget of cost units and of condition time, bound to
// ctx (nil: none). A limit <= 0 means none.
func NewBudget(ctx context.Context, cost int64, condTime time.Duration) *Budget {
	b := &Budget{}
	b.Reset(ctx, cost, condTime)
	return b
}

// Reset re-arms b for another request, so that callers can pool budgets.
// The pause function (SetPause) is kept.
func (b *Budget) Reset(ctx context.Context, cost int64, condTime time.Duration) {
	*b = Budget{pause: b.pause, ctx: ctx, limit: cost, left: cost, timeLimit: condTime}
}

// SetPause sets a function called every 256 comprehension steps and every
// 1,024 members of a who-can walk: a server uses it to let other requests
// run (yield the processor, hand its slot on) in the middle of long work.
func (b *Budget) SetPause(f func()) { b.pause = f }

// Pause calls the pause function, if any; callers looping over items of
// their own call it between items.
func (b *Budget) Pause() {
	if b != nil && b.pause != nil {
		b.pause()
	}
}

// Err is nil while the budget lasts, ErrBudgetExceeded once the conditions
// cost more than it, or the context's error once the context ended.
func (b *Budget) Err() error {
	if b == nil {
		return nil
	}
	return b.err
}

// Spent is the cost charged so far (0 without a cost limit).
func (b *Budget) Spent() int64 {
	if b == nil || b.limit <= 0 {
		return 0
	}
	return b.limit - b.left
}

// Limit is the cost the budget was armed with (0: none).
func (b *Budget) Limit() int64 {
	if b == nil {
		return 0
	}
	return b.limit
}

// TimeLimit is the condition time the budget was armed with (0: none).
func (b *Budget) TimeLimit() time.Duration {
	if b == nil {
		return 0
	}
	return b.timeLimit
}

// Alive reports whether more work may start: the budget is not spent and
// its context has not ended. Callers looping over items of their own call
// it between items; once it is false, Err says why.
func (b *Budget) Alive() bool { return b.ok() }

// ok reports whether more work may start, recording why not.
func (b *Budget) ok() bool {
	if b == nil {
		return true
	}
	if b.err != nil {
		return false
	}
	if b.limit > 0 && b.left <= 0 {
		b.err = ErrBudgetExceeded
		return false
	}
	if b.timeLimit > 0 && b.timeUsed >= b.timeLimit {
		b.err = ErrBudgetExceeded
		return false
	}
	if b.ctx != nil {
		if err := b.ctx.Err(); err != nil {
			b.err = err
			return false
		}
	}
	return true
}

// begin starts an evaluation: it reports whether one may start, and arms
// m with the steps it may take.
func (b *Budget) begin(m *meter) bool {
	*m = meter{max: MaxEvalSteps}
	if b == nil {
		return true
	}
	if !b.ok() {
		return false
	}
	b.spend(EvalCost)
	m.b = b
	if b.limit > 0 {
		m.max = min(m.max, b.left)
	}
	if b.timeLimit > 0 {
		b.evalStart = time.Now()
	}
	return true
}

// end charges a finished evaluation's steps and time.
func (b *Budget) end(m *meter) {
	if b == nil {
		return
	}
	b.spend(m.steps)
	if b.timeLimit > 0 {
		b.timeUsed += time.Since(b.evalStart)
	}
	if m.stopped && b.ok() {
		// Stopped by the request's limits, which ok may not see on its
		// own (the step that crossed the time limit): they are spent.
		b.err = ErrBudgetExceeded
	}
}

// spend charges cost units; going past the budget stops the request.
func (b *Budget) spend(cost int64) {
	if b == nil || b.limit <= 0 {
		return
	}
	if cost > b.left {
		b.left = 0
		if b.err == nil {
			b.err = ErrBudgetExceeded
		}
		return
	}
	b.left -= cost
}

// meter counts the comprehension steps of one evaluation. cel-go asks the
// activation for interruptVar at every step; step answers true to stop.
type meter struct {
	steps int64
	max   int64
	b     *Budget
	// stopped is true when the request's budget (not MaxEvalSteps)
	// stopped the evaluation.
	stopped bool
}

// step counts one comprehension step and says whether to stop.
func (m *meter) step() bool {
	m.steps++
	if m.steps > m.max {
		m.stopped = m.b != nil && m.max < MaxEvalSteps
		return true
	}
	if m.steps&255 == 0 && m.b != nil && !m.b.runningOK() {
		m.stopped = true
		return true
	}
	return false
}

// runningOK is ok for an evaluation under way: it also counts the running
// evaluation's time.
func (b *Budget) runningOK() bool {
	if b.pause != nil {
		// Time given to others is not this request's condition time.
		p := time.Now()
		b.pause()
		b.evalStart = b.evalStart.Add(time.Since(p))
	}
	if b.timeLimit > 0 && b.timeUsed+time.Since(b.evalStart) >= b.timeLimit {
		return false
	}
	return b.ctx == nil || b.ctx.Err() == nil
}

// Within returns the snapshot's multi-evaluation queries bounded by b: each
// condition they run is charged to b, and they stop early once b.Err() is
// set (their answer is then incomplete and must not be served).
func (s *Snapshot) Within(b *Budget) Bounded { return Bounded{s: s, b: b} }

// Bounded is a snapshot with a request's Budget; see Snapshot.Within.
type Bounded struct {
	s *Snapshot
	b *Budget
}
