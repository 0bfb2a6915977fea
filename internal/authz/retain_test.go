package authz

import (
	"runtime"
	"testing"
	"time"
	"weak"

	"github.com/gatehouse-dev/gatehouse/api/v1alpha1"
	"github.com/gatehouse-dev/gatehouse/internal/snapshot"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// TestReplacedSnapshotsAreFreed: answering from a snapshot keeps nothing of
// it once the tenant's next snapshot replaces it. (A header cache keyed by
// snapshot kept up to 256 replaced snapshots of a churning tenant alive:
// the soak saw a replica's live heap grow by ~1 MB per change.)
func TestReplacedSnapshotsAreFreed(t *testing.T) {
	h, st := newTestHandler(t, Options{})
	body := `{"subject":{"type":"user","id":"tom.tech"},"action":{"name":"view"},"resource":{"type":"workorders","id":"1"}}`
	var refs []weak.Pointer[snapshot.Snapshot]
	objs := sampleObjects(t)
	for i := range 5 {
		// A distinct revision each time.
		objs.Roles = append(objs.Roles, v1alpha1.Role{})
		objs.Roles[len(objs.Roles)-1].Name = "extra-" + string(rune('a'+i))
		s, _ := snapshot.Compile(tenant, objs)
		st.Set(tenant, &store.Entry{Snapshot: s, CompiledAt: time.Now()})
		if w := do(h, "POST", base+"/access/v1/evaluation", body); w.Code != 200 {
			t.Fatalf("status %d: %s", w.Code, w.Body)
		}
		refs = append(refs, weak.Make(s))
	}
	for range 3 {
		runtime.GC()
	}
	for i, r := range refs[:len(refs)-1] {
		if r.Value() != nil {
			t.Errorf("replaced snapshot %d is still reachable after serving it", i)
		}
	}
	if refs[len(refs)-1].Value() == nil {
		t.Fatal("the served snapshot was freed")
	}
	runtime.KeepAlive(h)
	runtime.KeepAlive(st)
}
