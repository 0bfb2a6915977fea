package audit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
)

// Lines is a Sink writing records as JSON lines, synchronously: one Write
// call per line, under a mutex, so that a burst of changes produces one
// complete line per change, in order, and a line is on its way to the
// writer before the change it describes is served. There is no buffering
// that a crash could lose. It is safe for concurrent use.
type Lines struct {
	mu     sync.Mutex
	w      io.Writer
	closer io.Closer
}

// NewLines returns a Lines writing to w. Closing it does not close w.
func NewLines(w io.Writer) *Lines {
	return &Lines{w: w}
}

// Discard returns a Sink that drops every record (for tools and tests that
// do not need a trail).
func Discard() *Lines {
	return NewLines(io.Discard)
}

// OpenFile returns a Lines appending to the file at path, created with mode
// 0600 when missing; "-" or "" means standard output. Close closes the file.
func OpenFile(path string) (*Lines, error) {
	if path == "" || path == "-" {
		return NewLines(os.Stdout), nil
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	return &Lines{w: f, closer: f}, nil
}

// Write encodes the record as one line and writes it before returning,
// whatever wait says. An empty Type is set to RecordType.
func (s *Lines) Write(_ context.Context, r *Record, _ bool) error {
	line, err := Encode(r)
	if err != nil {
		return err
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

// Encode returns r as JSON, with an empty Type set to RecordType.
func Encode(r *Record) ([]byte, error) {
	if r.Type == "" {
		r.Type = RecordType
	}
	line, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("audit: encoding the record of tenant %s: %w", r.Tenant, err)
	}
	return line, nil
}

// Close closes the file OpenFile opened; later writes fail. It is a no-op
// for a Lines made by NewLines other than stopping writes.
func (s *Lines) Close(context.Context) error {
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
