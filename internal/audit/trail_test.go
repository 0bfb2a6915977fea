package audit_test

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/audit"
)

// slowSink records how each Write was asked to deliver, and fails or
// blocks until ctx ends when told to.
type slowSink struct {
	mu      sync.Mutex
	waits   []bool
	fail    error
	blockOn bool // with wait, block until ctx ends
}

func (s *slowSink) Write(ctx context.Context, _ *audit.Record, wait bool) error {
	s.mu.Lock()
	s.waits = append(s.waits, wait)
	fail, block := s.fail, s.blockOn
	s.mu.Unlock()
	if wait && block {
		<-ctx.Done()
		return ctx.Err()
	}
	return fail
}

func (s *slowSink) Close(context.Context) error { return nil }

func TestTrail(t *testing.T) {
	tests := map[string]struct {
		required bool
		note     bool
		sink     *slowSink
		wantWait bool
		wantErr  bool
	}{
		"default: queue only":                       {sink: &slowSink{}},
		"required: wait for delivery":               {required: true, sink: &slowSink{}, wantWait: true},
		"required: a failing sink fails the write":  {required: true, sink: &slowSink{fail: errors.New("down")}, wantWait: true, wantErr: true},
		"required: delivery bounded by the timeout": {required: true, sink: &slowSink{blockOn: true}, wantWait: true, wantErr: true},
		"default: a failing sink is reported":       {sink: &slowSink{fail: errors.New("down")}, wantErr: true},
		"note never waits, even when required":      {required: true, note: true, sink: &slowSink{blockOn: true}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var lines bytes.Buffer
			trail := audit.NewTrail(audit.Options{Required: tc.required, DeliveryTimeout: 20 * time.Millisecond}, audit.NewLines(&lines), tc.sink)
			rec := audit.Record{Time: time.Unix(0, 0).UTC(), Tenant: "acme", Event: audit.EventCompiled}
			var err error
			if tc.note {
				err = trail.Note(context.Background(), rec)
			} else {
				err = trail.Record(context.Background(), rec)
			}
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			if len(tc.sink.waits) != 1 || tc.sink.waits[0] != tc.wantWait {
				t.Errorf("sink asked to wait %v, want [%v]", tc.sink.waits, tc.wantWait)
			}
			// The synchronous sink got the line whatever the other did.
			if got := decodeLines(t, lines.Bytes()); len(got) != 1 || got[0].Type != audit.RecordType {
				t.Errorf("lines: %s", lines.String())
			}
			if trail.Required() != tc.required {
				t.Errorf("Required() = %v", trail.Required())
			}
		})
	}
}

func TestRecordIDIsStable(t *testing.T) {
	a := record("acme", 1)
	b := record("acme", 1)
	c := record("acme", 2)
	if a.ID() != b.ID() || a.ID() == c.ID() || len(a.ID()) != 32 {
		t.Errorf("ids %s %s %s", a.ID(), b.ID(), c.ID())
	}
}
