// Package audit writes Gatehouse's audit trail: one JSON line for every
// change to the permission snapshot a tenant is served, saying which objects
// changed, the old and new revision, and who gained or lost which permission,
// field access or approver role.
//
// Records are written synchronously, one Write call per line, under a mutex:
// a burst of changes produces one complete line per change, in order, and a
// line is on its way to the writer before the change it describes is served.
// There is no buffering that a crash could lose.
package audit

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/snapshot"
)

// RecordType is the value of every record's "type" field, so that audit lines
// can be told apart from other JSON on a shared stream.
const RecordType = "gatehouse.audit"

// Events a record can describe.
const (
	// EventCompiled: the tenant is served a new snapshot, compiled from a
	// change this replica saw (or the first snapshot of a new tenant, with
	// an empty FromRevision).
	EventCompiled = "compiled"
	// EventLoaded: this replica started serving a tenant while catching up
	// at start, or a tenant another replica or an earlier process served
	// before. FromRevision is the revision the PermissionSnapshot reported
	// ("" on a first install); Objects are those whose status did not
	// describe their generation yet (changed while no replica ran). There
	// is no diff: the earlier snapshot is not in memory.
	EventLoaded = "loaded"
	// EventDropped: the tenant's last access object was deleted and the
	// tenant is no longer served; the diff lists what its subjects lost.
	EventDropped = "dropped"
)

// Object changes.
const (
	// ChangeCreated: the object is new since the previous snapshot.
	ChangeCreated = "created"
	// ChangeUpdated: the object's spec changed (a new generation).
	ChangeUpdated = "updated"
	// ChangeDeleted: the object was deleted.
	ChangeDeleted = "deleted"
	// ChangeLeftOut: the object did not change but is now left out, because
	// an object it depends on changed.
	ChangeLeftOut = "leftOut"
	// ChangeRestored: the object did not change but is served again, because
	// an object it depends on was fixed.
	ChangeRestored = "restored"
)

// Object is one access object a record is about.
type Object struct {
	// Kind is Role, UserGroup, FieldPolicy or ApprovalChain.
	Kind string `json:"kind"`
	// Name is the object's name in the tenant namespace.
	Name string `json:"name"`
	// Change is created, updated, deleted, leftOut or restored.
	Change string `json:"change"`
	// Generation is the object's metadata.generation (0 when deleted).
	Generation int64 `json:"generation,omitempty"`
	// Served tells whether the object is part of the new snapshot.
	Served bool `json:"served"`
	// Problems say why the object is left out (empty when Served).
	Problems []snapshot.Problem `json:"problems,omitempty"`
}

// Record is one audit line.
type Record struct {
	// Type is always RecordType.
	Type string `json:"type"`
	// Time is when the new snapshot was compiled (or the tenant dropped).
	Time time.Time `json:"time"`
	// Replica names the process that wrote the record; every replica of an
	// HA deployment compiles, serves and audits on its own.
	Replica string `json:"replica,omitempty"`
	// Tenant is the tenant namespace.
	Tenant string `json:"tenant"`
	// Event is compiled, loaded or dropped.
	Event string `json:"event"`
	// FromRevision is the revision served before ("" for a new tenant).
	FromRevision string `json:"fromRevision,omitempty"`
	// ToRevision is the revision served now ("" when dropped).
	ToRevision string `json:"toRevision,omitempty"`
	// Objects are the objects whose change caused the new revision.
	Objects []Object `json:"objects,omitempty"`
	// Diff is who gained or lost what; nil when it cannot be computed
	// (EventLoaded).
	Diff *snapshot.Changes `json:"diff,omitempty"`
}

// Sink writes records as JSON lines. It is safe for concurrent use. The zero
// value is not usable; use NewSink, OpenFile or Discard.
type Sink struct {
	mu     sync.Mutex
	w      io.Writer
	closer io.Closer
}

// NewSink returns a Sink writing to w. Closing the Sink does not close w.
func NewSink(w io.Writer) *Sink {
	return &Sink{w: w}
}

// Discard returns a Sink that drops every record (for tools and tests that
// do not need a trail).
func Discard() *Sink {
	return NewSink(io.Discard)
}

// OpenFile returns a Sink appending to the file at path, created with mode
// 0600 when missing; "-" or "" means standard output. Close closes the file.
func OpenFile(path string) (*Sink, error) {
	if path == "" || path == "-" {
		return NewSink(os.Stdout), nil
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	return &Sink{w: f, closer: f}, nil
}

// Write encodes the record as one line and writes it before returning. An
// empty Type is set to RecordType.
func (s *Sink) Write(r Record) error {
	if r.Type == "" {
		r.Type = RecordType
	}
	line, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("audit: encoding the record of tenant %s: %w", r.Tenant, err)
	}
	line = append(line, '\n')
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.w == nil {
		return errors.New("audit: sink is closed")
	}
	// One Write call per line: with O_APPEND a line is never interleaved
	// with another writer's, and a short write is an error, not half a line
	// silently followed by the next one.
	if _, err := s.w.Write(line); err != nil {
		return fmt.Errorf("audit: writing the record of tenant %s: %w", r.Tenant, err)
	}
	return nil
}

// Close closes the file OpenFile opened; later writes fail. It is a no-op
// for a Sink made by NewSink other than stopping writes.
func (s *Sink) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.w = nil
	if s.closer != nil {
		err := s.closer.Close()
		s.closer = nil
		return err
	}
	return nil
}
