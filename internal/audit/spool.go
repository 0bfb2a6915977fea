package audit

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// The HTTP sink's spool (HTTPOptions.SpoolDir) is a write-ahead journal of
// the records it accepted: every record is appended to a segment file
// before it is queued, and the position up to which records are settled
// (delivered, or refused by the receiver) is written down after each
// batch. A sink opened on the same directory queues the unsettled records
// again, so records queued or in flight when the process stops, crashes or
// is killed are delivered by the next one.
//
// Records settle in the order they were written (one sender, batches in
// order), so the settled part of the journal is a prefix, kept as one
// position. Segments are never rewritten: a segment wholly before that
// position is deleted.

// spoolSegmentBytes is the size past which appends go to a new segment
// (a variable for tests).
var spoolSegmentBytes int64 = 4 << 20

// maxSegment bounds segment numbers far below overflow (a segment a
// microsecond would take half a million years to reach it).
const maxSegment = 1 << 62

const (
	spoolSettledFile = "settled"
	spoolLockFile    = "lock"
	spoolSegmentExt  = ".jsonl"
)

// spoolPos is the position just after a record: its segment, and how many
// lines of that segment it ends.
type spoolPos struct {
	seg  uint64
	line int
}

func (p spoolPos) before(q spoolPos) bool {
	return p.seg < q.seg || p.seg == q.seg && p.line < q.line
}

// spooledRecord is an unsettled record read back from the spool.
type spooledRecord struct {
	event  json.RawMessage
	id     string
	tenant string
	pos    spoolPos
}

type spool struct {
	dir     string
	lock    *os.File
	segs    []uint64 // segments on disk, ascending; the last is appended to
	f       *os.File
	size    int64
	lines   int
	settled spoolPos
}

func segmentName(seg uint64) string { return fmt.Sprintf("%020d%s", seg, spoolSegmentExt) }

// openSpool opens (creating) the spool in dir, takes its lock, and returns
// the records written by earlier sinks and not settled, in order. Appends
// go to a new segment, so a line torn by a crash is never continued.
func openSpool(dir string) (*spool, []spooledRecord, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, nil, fmt.Errorf("audit: HTTPOptions.SpoolDir: %w", err)
	}
	lock, err := lockFile(filepath.Join(dir, spoolLockFile))
	if err != nil {
		return nil, nil, fmt.Errorf("audit: HTTPOptions.SpoolDir: %w", err)
	}
	sp := &spool{dir: dir, lock: lock}
	fail := func(err error) (*spool, []spooledRecord, error) {
		_ = lock.Close()
		return nil, nil, fmt.Errorf("audit: HTTPOptions.SpoolDir: %w", err)
	}
	if sp.settled, err = readSettled(filepath.Join(dir, spoolSettledFile)); err != nil {
		return fail(err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fail(err)
	}
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), spoolSegmentExt)
		if seg, err := strconv.ParseUint(name, 10, 64); ok && err == nil && e.Type().IsRegular() {
			if seg >= maxSegment {
				return fail(fmt.Errorf("%s is past the last segment number", prefix(e.Name(), 32)))
			}
			sp.segs = append(sp.segs, seg)
		}
	}
	slices.Sort(sp.segs)
	var replay []spooledRecord
	for _, seg := range sp.segs {
		if seg < sp.settled.seg {
			continue
		}
		recs, err := readSegment(filepath.Join(dir, segmentName(seg)), seg, sp.settled)
		if err != nil {
			return fail(err)
		}
		replay = append(replay, recs...)
	}
	// New records go after every segment and after the settled mark: a
	// mark past the last segment (its segments deleted, the start that
	// would have made the next one crashed) must not cover them.
	next := sp.settled.seg + 1
	if len(sp.segs) > 0 {
		next = max(next, sp.segs[len(sp.segs)-1]+1)
	}
	if next >= maxSegment {
		return fail(errors.New("the spool's segment numbers are used up; move the directory aside"))
	}
	// Segments before the first unsettled record (all of them when none
	// is) are done with, empty ones of earlier starts included.
	live := next
	if len(replay) > 0 {
		live = replay[0].pos.seg
	}
	for len(sp.segs) > 0 && sp.segs[0] < live {
		_ = os.Remove(filepath.Join(dir, segmentName(sp.segs[0])))
		sp.segs = sp.segs[1:]
	}
	if err := sp.startSegment(next); err != nil {
		return fail(err)
	}
	return sp, replay, nil
}

// readSettled reads the settled position; none is the start.
func readSettled(path string) (spoolPos, error) {
	raw, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return spoolPos{}, nil
	}
	if err != nil {
		return spoolPos{}, err
	}
	var p spoolPos
	if _, err := fmt.Sscanf(string(raw), "%d %d\n", &p.seg, &p.line); err != nil || p.line < 0 || p.seg >= maxSegment {
		return spoolPos{}, fmt.Errorf("%s is not a spool position (%s)", spoolSettledFile, prefix(string(raw), 32))
	}
	return p, nil
}

// readSegment returns the records of segment seg after settled. A last
// line without its newline was torn by a crash while being written; it is
// left out, as its record was never queued. A line that is not a
// CloudEvent is an error: the spool is not ours.
func readSegment(path string, seg uint64, settled spoolPos) ([]spooledRecord, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }()
	var out []spooledRecord
	rd := bufio.NewReaderSize(f, 64<<10)
	for line := 1; ; line++ {
		raw, err := readLine(rd)
		if errors.Is(err, io.EOF) {
			return out, nil // a torn last line, or none
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			return nil, fmt.Errorf("%s line %d is longer than %d bytes", filepath.Base(path), line, MaxLineSize)
		}
		if err != nil {
			return nil, err
		}
		if settled.before(spoolPos{seg, line}) && len(raw) > 1 {
			var ev struct {
				ID   string `json:"id"`
				Data struct {
					Tenant string `json:"tenant"`
				} `json:"data"`
			}
			raw = bytes.TrimSuffix(raw, []byte{'\n'})
			if err := json.Unmarshal(raw, &ev); err != nil || ev.ID == "" {
				return nil, fmt.Errorf("%s line %d is not a spooled CloudEvent", filepath.Base(path), line)
			}
			out = append(out, spooledRecord{event: raw, id: ev.ID, tenant: ev.Data.Tenant, pos: spoolPos{seg, line}})
		}
	}
}

// readLine reads up to and including the next newline: io.EOF when the
// stream ends first (with or without a torn line), bufio.ErrBufferFull past
// MaxLineSize, as the trail reader bounds a line.
func readLine(rd *bufio.Reader) ([]byte, error) {
	var line []byte
	for {
		chunk, err := rd.ReadSlice('\n')
		if len(line)+len(chunk) > MaxLineSize {
			return nil, bufio.ErrBufferFull
		}
		line = append(line, chunk...)
		if !errors.Is(err, bufio.ErrBufferFull) {
			return line, err
		}
	}
}

func (sp *spool) startSegment(seg uint64) error {
	f, err := os.OpenFile(filepath.Join(sp.dir, segmentName(seg)), os.O_CREATE|os.O_EXCL|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	if sp.f != nil {
		_ = sp.f.Close()
	}
	sp.f, sp.size, sp.lines = f, 0, 0
	sp.segs = append(sp.segs, seg)
	return nil
}

// append writes one encoded event and returns its position. The write
// reaches the kernel before append returns, so it survives the process;
// it is not synced to the disk (a machine crash may lose the last ones).
func (sp *spool) append(event []byte) (spoolPos, error) {
	if sp.size >= spoolSegmentBytes {
		if err := sp.startSegment(sp.segs[len(sp.segs)-1] + 1); err != nil {
			return spoolPos{}, err
		}
	}
	line := make([]byte, 0, len(event)+1)
	line = append(append(line, event...), '\n')
	n, err := sp.f.Write(line)
	sp.size += int64(n)
	if err != nil {
		if n > 0 {
			// The segment now ends in a torn line, which the reader
			// leaves out as it would after a crash; the next record
			// must not continue it.
			_ = sp.startSegment(sp.segs[len(sp.segs)-1] + 1)
		}
		return spoolPos{}, err
	}
	sp.lines++
	return spoolPos{sp.segs[len(sp.segs)-1], sp.lines}, nil
}

// settle records that every record up to pos is settled, and deletes the
// segments wholly before it.
func (sp *spool) settle(pos spoolPos) error {
	if !sp.settled.before(pos) {
		return nil
	}
	tmp := filepath.Join(sp.dir, spoolSettledFile+".tmp")
	if err := os.WriteFile(tmp, fmt.Appendf(nil, "%d %d\n", pos.seg, pos.line), 0o600); err != nil {
		return err
	}
	if err := os.Rename(tmp, filepath.Join(sp.dir, spoolSettledFile)); err != nil {
		return err
	}
	sp.settled = pos
	sp.removeSettled()
	return nil
}

// removeSettled deletes the segments before the settled one (never the
// one appended to).
func (sp *spool) removeSettled() {
	for len(sp.segs) > 1 && sp.segs[0] < sp.settled.seg {
		_ = os.Remove(filepath.Join(sp.dir, segmentName(sp.segs[0])))
		sp.segs = sp.segs[1:]
	}
}

func (sp *spool) close() error {
	err := sp.f.Close()
	return errors.Join(err, sp.lock.Close())
}
