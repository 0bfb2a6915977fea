package authz

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

// nopWriter is a ResponseWriter that keeps nothing, so that allocation
// counts and benchmarks measure the handler alone.
type nopWriter struct {
	h    http.Header
	code int
	n    int
	last []byte
}

func (w *nopWriter) Header() http.Header { return w.h }
func (w *nopWriter) Write(b []byte) (int, error) {
	w.n += len(b)
	w.last = append(w.last[:0], b...)
	return len(b), nil
}
func (w *nopWriter) WriteHeader(c int) { w.code = c }

// replay is a request whose body can be re-read, reused across iterations.
type replay struct {
	r    *http.Request
	body *bytes.Reader
	raw  []byte
}

func newReplay(path, body string) *replay {
	rp := &replay{raw: []byte(body), body: bytes.NewReader(nil)}
	rp.r = httptest.NewRequest("POST", path, nil)
	rp.r.Header.Set("Content-Type", "application/json")
	rp.r.Body = io.NopCloser(rp.body)
	rp.r.ContentLength = int64(len(body))
	return rp
}

func (rp *replay) serve(h http.Handler, w *nopWriter) {
	rp.body.Reset(rp.raw)
	clear(w.h)
	w.code = 200
	h.ServeHTTP(w, rp.r)
}

const (
	evalAllowBody = `{"subject":{"type":"user","id":"tom.tech"},"action":{"name":"view"},"resource":{"type":"workorders","id":"wo-1","properties":{"unit":"/ca/ab/calgary/north","ownerId":"alex.apprentice","assigneeIds":["tom.tech","tina.tech"]}},"context":{"minRevision":""}}`
	evalDenyBody  = `{"subject":{"type":"user","id":"alex.apprentice"},"action":{"name":"edit"},"resource":{"type":"workorders","id":"wo-9","properties":{"ownerId":"tom.tech","assigneeIds":["tina.tech"]}}}`
)

// TestEvaluationAllocs pins the allocations of the whole single-evaluation
// path (decode, check, fields, encode, headers) once pools are warm.
func TestEvaluationAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops objects at random under the race detector")
	}
	h, _ := newTestHandler(t, Options{})
	for _, c := range []struct {
		name, body string
		max        float64
	}{
		{"allow", evalAllowBody, 0},
		{"deny", evalDenyBody, 0},
	} {
		rp := newReplay(base+"/access/v1/evaluation", c.body)
		w := &nopWriter{h: http.Header{}}
		rp.serve(h, w)
		if w.code != 200 {
			t.Fatalf("%s: status %d %s", c.name, w.code, w.last)
		}
		allocs := testing.AllocsPerRun(200, func() { rp.serve(h, w) })
		t.Logf("%s: %.1f allocs/op, response %s", c.name, allocs, w.last)
		if allocs > c.max {
			t.Errorf("%s: %.1f allocs per evaluation, want <= %.0f", c.name, allocs, c.max)
		}
	}
}
