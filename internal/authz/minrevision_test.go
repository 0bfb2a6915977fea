package authz

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/api/v1alpha1"
	"github.com/gatehouse-dev/gatehouse/internal/snapshot"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

func TestMinRevision(t *testing.T) {
	h, st := newTestHandler(t, Options{MinRevisionWait: 100 * time.Millisecond})
	cur := sampleSnapshot(t)
	eval := func(rev string) (int, http.Header, string) {
		w := do(h, "POST", base+"/access/v1/evaluation", `{"subject":{"id":"vic.viewer"},"action":{"name":"view"},"resource":{"type":"assets"},"context":{"minRevision":"`+rev+`"}}`)
		return w.Code, w.Header(), w.Body.String()
	}
	if code, _, body := eval(cur.Revision()); code != 200 {
		t.Fatalf("current revision: %d %s", code, body)
	}
	code, hdr, body := eval("0000000000000000")
	if code != 503 || hdr.Get("Retry-After") == "" || hdr.Get(RevisionHeader) != cur.Revision() {
		t.Fatalf("unknown revision: %d %v %s", code, hdr, body)
	}
	// A new snapshot arriving while the request waits is used.
	objs := sampleObjects(t)
	objs.Roles = append([]v1alpha1.Role(nil), objs.Roles...)
	objs.Roles = objs.Roles[1:] // drop administrator
	next, _ := snapshot.Compile(tenant, objs)
	h2, st2 := newTestHandler(t, Options{MinRevisionWait: 5 * time.Second})
	_ = st
	go func() {
		time.Sleep(50 * time.Millisecond)
		st2.Set(tenant, &store.Entry{Snapshot: next, CompiledAt: time.Now()})
	}()
	w := do(h2, "POST", base+"/access/v1/evaluation", `{"subject":{"id":"dana.director"},"action":{"name":"view"},"resource":{"type":"invoices"},"context":{"minRevision":"`+next.Revision()+`"}}`)
	if w.Code != 200 || w.Header().Get(RevisionHeader) != next.Revision() {
		t.Errorf("waited: %d %v %s", w.Code, w.Header(), w.Body)
	}
	// Conflicting minRevisions in one batch.
	w = do(h2, "POST", base+"/access/v1/evaluations", `{"context":{"minRevision":"a"},"evaluations":[{"context":{"minRevision":"b"}}]}`)
	if w.Code != 400 || !strings.Contains(w.Body.String(), "conflicts") {
		t.Errorf("conflict: %d %s", w.Code, w.Body)
	}
}
