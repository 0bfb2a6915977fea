package audit

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// spCopy copies the spool directory src to a new one, as a crash would
// leave it: every write the sink made is in the files.
func spCopy(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// spKill copies the spool as a crash would leave it, then stops the sink
// at once (what it does at Close no longer matters to the copy).
func spKill(t *testing.T, s *HTTPSink, dir string) string {
	t.Helper()
	dst := spCopy(t, dir)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_ = s.Close(ctx)
	return dst
}

// spSegments lists the segment files of dir, in order.
func spSegments(t *testing.T, dir string) []string {
	t.Helper()
	matches, err := filepath.Glob(filepath.Join(dir, "*"+spoolSegmentExt))
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(matches)
	return matches
}

// Records the first process accepted but did not deliver are delivered by
// the next one opened on the spool, in order, once; records delivered
// before are not sent again.
func TestHTTPSinkSpoolSurvivesTheProcess(t *testing.T) {
	cases := map[string]struct {
		delivered int // records delivered (and settled) before the outage
		undeliv   int // records written while the receiver is down
		// end ends the first process and returns the directory the next
		// one opens.
		end func(t *testing.T, s *HTTPSink, dir string) string
	}{
		"stopped: Close keeps what it could not deliver": {delivered: 2, undeliv: 5, end: func(t *testing.T, s *HTTPSink, dir string) string {
			closed := hsCounts.get("dropped:" + DropClosed)
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			if err := s.Close(ctx); err != nil {
				t.Errorf("Close with everything spooled: %v, want nil", err)
			}
			if s.kept != 5 {
				t.Errorf("%d records kept in the spool, want 5", s.kept)
			}
			if d := hsCounts.get("dropped:"+DropClosed) - closed; d != 0 {
				t.Errorf("%v records counted as dropped at Close, want 0: they are spooled", d)
			}
			return dir
		}},
		"killed": {delivered: 3, undeliv: 4, end: spKill},
		"killed while writing a record (torn last line)": {undeliv: 3, end: func(t *testing.T, s *HTTPSink, dir string) string {
			dst := spKill(t, s, dir)
			segs := spSegments(t, dst)
			f, err := os.OpenFile(segs[len(segs)-1], os.O_APPEND|os.O_WRONLY, 0o600)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.WriteString(`{"specversion":"1.0","id":"torn`); err != nil {
				t.Fatal(err)
			}
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
			return dst
		}},
		"killed before anything was delivered, many records": {undeliv: 300, end: spKill},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			var down atomic.Bool
			first := hsNewReceiver(t, nil, func(int, []CloudEvent, http.ResponseWriter) int {
				if down.Load() {
					return http.StatusServiceUnavailable
				}
				return http.StatusOK
			})
			dir := t.TempDir()
			s := hsNewSink(t, first.srv.URL, func(o *HTTPOptions) { o.SpoolDir = dir; o.BatchSize = 2 })
			var before, after []*Record
			for i := range tc.delivered {
				r := hsRecord("tenant-spool", i)
				ctx, cancel := context.WithTimeout(context.Background(), hsWait)
				err := s.Write(ctx, r, true)
				cancel()
				if err != nil {
					t.Fatal(err)
				}
				before = append(before, r)
			}
			down.Store(true)
			for i := range tc.undeliv {
				r := hsRecord("tenant-spool", tc.delivered+i)
				if err := s.Write(context.Background(), r, false); err != nil {
					t.Fatal(err)
				}
				after = append(after, r)
			}
			if tc.undeliv > 0 {
				first.waitArrived(len(first.got()))
			}
			next := tc.end(t, s, dir)

			second := hsNewReceiver(t, nil, nil)
			s2 := hsNewSink(t, second.srv.URL, func(o *HTTPOptions) { o.SpoolDir = next })
			want := hsIDs(after)
			deadline := time.Now().Add(hsWait)
			for len(second.delivered()) < len(want) && time.Now().Before(deadline) {
				time.Sleep(5 * time.Millisecond)
			}
			hsClose(t, s2)
			if got := second.delivered(); !slices.Equal(got, want) {
				t.Errorf("the next process delivered %d records %.200v, want the %d undelivered ones in order %.200v", len(got), got, len(want), want)
			}
			for _, id := range hsIDs(before) {
				if slices.Contains(second.delivered(), id) {
					t.Errorf("record %s, delivered by the first process, was sent again", id)
				}
			}
			// Everything is settled now: a third process sends nothing.
			s3 := hsNewSink(t, second.srv.URL, func(o *HTTPOptions) { o.SpoolDir = next })
			s3.mu.Lock()
			left := len(s3.queue) + s3.inFlight
			s3.mu.Unlock()
			if left != 0 {
				t.Errorf("a third process found %d records to send, want 0", left)
			}
		})
	}
}

func TestHTTPSinkSpoolRefusesWhatIsNotItsOwn(t *testing.T) {
	cases := map[string]struct {
		prepare func(t *testing.T, dir string)
		want    string
		lacks   string
	}{
		"in use by another sink": {
			prepare: func(t *testing.T, dir string) {
				hsNewSink(t, "http://127.0.0.1:9/", func(o *HTTPOptions) { o.SpoolDir = dir })
			},
			want: "in use by another process",
		},
		"a line that is not a CloudEvent": {
			prepare: func(t *testing.T, dir string) {
				secret := "password=" + strings.Repeat("s", 200) + "\n"
				if err := os.WriteFile(filepath.Join(dir, segmentName(7)), []byte(secret), 0o600); err != nil {
					t.Fatal(err)
				}
			},
			want:  "00000000000000000007.jsonl line 1 is not a spooled CloudEvent",
			lacks: "password",
		},
		"a line past the trail reader's bound": {
			prepare: func(t *testing.T, dir string) {
				huge := strings.Repeat("x", MaxLineSize+1) + "\n"
				if err := os.WriteFile(filepath.Join(dir, segmentName(3)), []byte(huge), 0o600); err != nil {
					t.Fatal(err)
				}
			},
			want:  "00000000000000000003.jsonl line 1 is longer than",
			lacks: "xxxx",
		},
		"a settled mark that is not a position": {
			prepare: func(t *testing.T, dir string) {
				if err := os.WriteFile(filepath.Join(dir, spoolSettledFile), []byte("token="+strings.Repeat("t", 100)), 0o600); err != nil {
					t.Fatal(err)
				}
			},
			want:  "settled is not a spool position",
			lacks: strings.Repeat("t", 40),
		},
		"a file where the directory should be": {
			prepare: func(t *testing.T, dir string) {
				if err := os.RemoveAll(dir); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(dir, nil, 0o600); err != nil {
					t.Fatal(err)
				}
			},
			want: "HTTPOptions.SpoolDir",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "spool")
			if err := os.MkdirAll(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			tc.prepare(t, dir)
			_, err := NewHTTPSink(HTTPOptions{URL: "http://127.0.0.1:9/", Source: "/gatehouse/test", SpoolDir: dir})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("NewHTTPSink: %v, want an error containing %q", err, tc.want)
			}
			if tc.lacks != "" && strings.Contains(err.Error(), tc.lacks) {
				t.Errorf("the error echoes the file's content: %v", err)
			}
		})
	}
}

// Appends move to a new segment past spoolSegmentBytes, and segments
// wholly delivered are deleted.
func TestHTTPSinkSpoolRotatesAndDeletesSegments(t *testing.T) {
	old := spoolSegmentBytes
	spoolSegmentBytes = 2 << 10
	t.Cleanup(func() { spoolSegmentBytes = old })
	rc := hsNewReceiver(t, nil, nil)
	dir := t.TempDir()
	s := hsNewSink(t, rc.srv.URL, func(o *HTTPOptions) { o.SpoolDir = dir; o.BatchSize = 3 })
	var recs []*Record
	for i := range 60 {
		r := hsRecord("tenant-rotate", i)
		recs = append(recs, r)
		if err := s.Write(context.Background(), r, i == 59); err != nil {
			t.Fatal(err)
		}
	}
	if got := rc.delivered(); !slices.Equal(got, hsIDs(recs)) {
		t.Fatalf("delivered %d of 60 records", len(got))
	}
	s.mu.Lock()
	segs := len(s.spool.segs)
	s.mu.Unlock()
	if on := spSegments(t, dir); len(on) > 2 || len(on) != segs {
		t.Errorf("%d segments on disk (%d known) after everything was delivered, want at most 2", len(on), segs)
	}
	hsClose(t, s)
	// Restarts with nothing to send leave one (empty) segment, not one
	// more per start.
	for range 3 {
		s2 := hsNewSink(t, rc.srv.URL, func(o *HTTPOptions) { o.SpoolDir = dir })
		s2.mu.Lock()
		left := len(s2.queue)
		s2.mu.Unlock()
		if left != 0 {
			t.Errorf("reopened, the spool replays %d delivered records", left)
		}
		hsClose(t, s2)
	}
	if on := spSegments(t, dir); len(on) != 1 {
		t.Errorf("%d segments after three restarts with nothing to send, want 1", len(on))
	}
}
