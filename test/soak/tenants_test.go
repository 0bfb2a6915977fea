//go:build soak

package soak

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"

	accessv1 "github.com/gatehouse-dev/gatehouse/api/v1alpha1"
	"github.com/gatehouse-dev/gatehouse/internal/snapshot"
	"github.com/gatehouse-dev/gatehouse/internal/tenantgen"
)

// ---- tenants: the reference model and what was applied ----

// state is one applied state of a tenant: the model (the reference
// evaluator's input) and the revision its objects compile to.
type state struct {
	seq      int
	model    *tenantgen.Model
	extra    []accessv1.Role // admitted invalid roles (left out; no effect on answers)
	revision string
	acked    time.Time
}

type tenant struct {
	name string
	mu   sync.Mutex
	cur  *state
	// byRevision holds every state ever applied (or attempted: a failed
	// apply may have been persisted).
	byRevision map[string]*state
	reqs       []tenantgen.Request
	probe      tenantgen.Request
	nextSeq    int
	// recent are the last states applied, newest last: a compile may mix
	// their Roles and UserGroups (see mixed).
	recent []*state
	mixes  map[string]*state // revisions of such mixes already found
}

func newTenant(name string, cfg tenantgen.Config) *tenant {
	cfg.Tenant = name
	m := tenantgen.Generate(cfg)
	tn := &tenant{name: name, byRevision: map[string]*state{}, reqs: m.Requests(2000, cfg.Seed)}
	tn.probe = tn.reqs[0]
	tn.record(m, nil, time.Now())
	return tn
}

func objectsOf(m *tenantgen.Model, extra []accessv1.Role) snapshot.Objects {
	o := snapshot.Objects(m.Objects())
	o.Roles = append(o.Roles, extra...)
	return o
}

func (tn *tenant) record(m *tenantgen.Model, extra []accessv1.Role, acked time.Time) *state {
	tn.mu.Lock()
	defer tn.mu.Unlock()
	rev := snapshot.RevisionOf(tn.name, objectsOf(m, extra))
	if st, ok := tn.byRevision[rev]; ok {
		// The same content again (a change undone): it is now the latest.
		tn.nextSeq++
		st.seq, st.acked = tn.nextSeq, acked
		tn.cur = st
		return st
	}
	tn.nextSeq++
	st := &state{seq: tn.nextSeq, model: m, extra: extra, revision: rev, acked: acked}
	tn.byRevision[rev] = st
	tn.cur = st
	tn.recent = append(tn.recent, st)
	if len(tn.recent) > 40 {
		tn.recent = tn.recent[1:]
	}
	return st
}

// mixed finds a state that combines the Roles of one recent state with the
// UserGroups of another: the informers of different kinds deliver events
// independently, so a compile can see a Role change before an earlier
// UserGroup change, or after a later one. Such a revision was compiled
// from real object versions, just not from one applied state; answers at
// it are checked against exactly that combination.
func (tn *tenant) mixed(rev string) *state {
	tn.mu.Lock()
	defer tn.mu.Unlock()
	if st, ok := tn.mixes[rev]; ok {
		return st
	}
	for _, ri := range tn.recent {
		for _, gi := range tn.recent {
			if ri == gi {
				continue
			}
			m := gi.model.Clone()
			m.Roles = ri.model.Clone().Roles
			m.Reindex()
			if snapshot.RevisionOf(tn.name, objectsOf(m, ri.extra)) == rev {
				st := &state{seq: max(ri.seq, gi.seq), model: m, extra: ri.extra, revision: rev}
				if tn.mixes == nil {
					tn.mixes = map[string]*state{}
				}
				tn.mixes[rev] = st
				return st
			}
		}
	}
	return nil
}

func (tn *tenant) current() *state {
	tn.mu.Lock()
	defer tn.mu.Unlock()
	return tn.cur
}

func (tn *tenant) at(rev string) *state {
	tn.mu.Lock()
	defer tn.mu.Unlock()
	return tn.byRevision[rev]
}

// typed sets the object's TypeMeta (server-side apply needs it).
func (h *harness) typed(obj client.Object) client.Object {
	gvk, err := apiutil.GVKForObject(obj, h.scheme)
	if err == nil {
		obj.GetObjectKind().SetGroupVersionKind(gvk)
	}
	obj.SetResourceVersion("")
	obj.SetManagedFields(nil)
	return obj
}

func (h *harness) apply(ctx context.Context, obj client.Object) error {
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return h.admin.Patch(cctx, h.typed(obj), client.Apply, client.FieldOwner("soak"), client.ForceOwnership)
}

func (h *harness) populate(ctx context.Context, tn *tenant) {
	if err := h.admin.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: tn.name}}); err != nil {
		h.t.Fatal(err)
	}
	o := tn.current().model.Objects()
	objs := o.All()
	work := make(chan accessv1.AccessObject)
	var wg sync.WaitGroup
	var failed atomic.Value
	for range 16 {
		wg.Go(func() {
			for obj := range work {
				if err := h.apply(ctx, obj); err != nil {
					failed.Store(fmt.Sprintf("%s: %v", obj.GetName(), err))
				}
			}
		})
	}
	for _, obj := range objs {
		work <- obj
	}
	close(work)
	wg.Wait()
	if f := failed.Load(); f != nil {
		h.t.Fatalf("populating %s: %s", tn.name, f)
	}
}
