package audit

import (
	"context"
	"errors"
	"time"
)

// Sink receives records. Implementations are safe for concurrent use.
type Sink interface {
	// Write hands r to the sink. A synchronous sink (Lines) returns once r
	// is written. An asynchronous sink returns once r is queued or, with
	// wait, once r is delivered; it never blocks beyond ctx, and a full
	// queue is an error, not a wait. The sink may keep r: the caller must
	// not change it afterwards.
	Write(ctx context.Context, r *Record, wait bool) error
	// Close delivers what it can until ctx ends and releases the sink;
	// later writes fail.
	Close(ctx context.Context) error
}

// DefaultDeliveryTimeout bounds how long a required record waits for its
// delivery.
const DefaultDeliveryTimeout = 10 * time.Second

// Options configure a Trail.
type Options struct {
	// Required makes Record wait until every sink has delivered the record
	// (at most DeliveryTimeout) and fail otherwise: the caller then does
	// not serve the change it describes (fail closed for regulated
	// tenants). Without it, Record only queues on asynchronous sinks, and a
	// lost record is counted (Counters.WriteFailed).
	Required bool
	// DeliveryTimeout is the longest a required record waits; 0 means
	// DefaultDeliveryTimeout.
	DeliveryTimeout time.Duration
	// Counters are told about records a sink could not take or deliver
	// (nil: nobody).
	Counters Counters
}

// Counters receive what the trail and its sinks count, for metrics; the
// manager passes Prometheus counters (internal/metrics), keeping this
// package free of a metrics registry. Methods must be cheap and safe for
// concurrent use.
type Counters interface {
	// WriteFailed: a sink could not take or deliver a record of event.
	WriteFailed(event string)
	// HTTPQueued: the HTTP sink holds delta more (or fewer) records.
	HTTPQueued(delta int)
	// HTTPDelivered: the receiver acknowledged n records.
	HTTPDelivered(n int)
	// HTTPDropped: the HTTP sink gave up on n records for reason (one of
	// DropReasons).
	HTTPDropped(reason string, n int)
	// HTTPRetried: the HTTP sink sent a request again.
	HTTPRetried()
}

// Reasons an HTTP sink drops records.
const (
	// DropFull: the sink's buffer was full when the record was written.
	DropFull = "full"
	// DropRejected: the receiver refused the record's batch with a 4xx
	// that retrying cannot fix, or the record alone was too large (413).
	DropRejected = "rejected"
	// DropClosed: the sink was closed before the record was delivered.
	DropClosed = "closed"
)

// DropReasons are every reason an HTTP sink drops records.
var DropReasons = []string{DropFull, DropRejected, DropClosed}

// noCounters counts nothing.
type noCounters struct{}

func (noCounters) WriteFailed(string)      {}
func (noCounters) HTTPQueued(int)          {}
func (noCounters) HTTPDelivered(int)       {}
func (noCounters) HTTPDropped(string, int) {}
func (noCounters) HTTPRetried()            {}

// Trail writes each record to every sink.
type Trail struct {
	sinks []Sink
	opts  Options
}

// NewTrail returns a Trail over sinks.
func NewTrail(opts Options, sinks ...Sink) *Trail {
	if opts.DeliveryTimeout <= 0 {
		opts.DeliveryTimeout = DefaultDeliveryTimeout
	}
	if opts.Counters == nil {
		opts.Counters = noCounters{}
	}
	return &Trail{sinks: sinks, opts: opts}
}

// Required reports whether records must be delivered before what they
// describe takes effect.
func (t *Trail) Required() bool { return t.opts.Required }

// Record writes r to every sink and returns the failures, joined; each one
// is counted. With Options.Required it returns once every sink delivered r
// or DeliveryTimeout passed.
func (t *Trail) Record(ctx context.Context, r Record) error {
	return t.write(ctx, &r, t.opts.Required)
}

// Note writes a record without waiting for its delivery, whatever Required
// says: for records that do not describe a served change (sampled
// decisions, denied or dry-run admissions), which never hold up an answer.
func (t *Trail) Note(ctx context.Context, r Record) error {
	return t.write(ctx, &r, false)
}

func (t *Trail) write(ctx context.Context, r *Record, wait bool) error {
	if r.Type == "" {
		r.Type = RecordType
	}
	if wait {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, t.opts.DeliveryTimeout)
		defer cancel()
	}
	var errs []error
	for _, s := range t.sinks {
		if err := s.Write(ctx, r, wait); err != nil {
			t.opts.Counters.WriteFailed(r.Event)
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Close closes every sink, delivering what they hold until ctx ends.
func (t *Trail) Close(ctx context.Context) error {
	var errs []error
	for _, s := range t.sinks {
		errs = append(errs, s.Close(ctx))
	}
	return errors.Join(errs...)
}
