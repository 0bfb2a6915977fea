//go:build soak

package soak

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
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
	// roleParts and otherParts are the state's revision parts
	// (snapshot.RevisionParts) of its Roles and of its other objects, for
	// hashing mixes of states (see mixed); set for recent states.
	roleParts, otherParts [][]byte
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
	// notMixed are revisions found to be no such mix, with nextSeq then.
	notMixed map[string]int
	// searches and searchTime count the searches for mixes.
	searches   int
	searchTime time.Duration
	// versions maps each stored object version (versionKey) to the state
	// whose apply stored it.
	versions map[string]int
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
	parts := snapshot.RevisionParts(objectsOf(m, extra))
	rev := snapshot.RevisionOfParts(tn.name, parts)
	tn.mu.Lock()
	defer tn.mu.Unlock()
	tn.nextSeq++
	st, ok := tn.byRevision[rev]
	if !ok {
		st = &state{model: m, extra: extra, revision: rev}
		tn.byRevision[rev] = st
	}
	// A state registered as possible before its apply was acknowledged,
	// or the same content again (a change undone), is now the latest.
	st.seq, st.acked = tn.nextSeq, acked
	st.roleParts, st.otherParts = splitParts(parts)
	tn.cur = st
	tn.recent = append(slices.DeleteFunc(tn.recent, func(x *state) bool { return x == st }), st)
	if len(tn.recent) > 40 {
		tn.recent[0].roleParts, tn.recent[0].otherParts = nil, nil
		tn.recent = tn.recent[1:]
	}
	return st
}

// splitParts splits sorted revision parts into those of Roles and the rest.
func splitParts(parts [][]byte) (roles, others [][]byte) {
	for _, p := range parts {
		var kind struct {
			K string `json:"k"`
		}
		if err := json.Unmarshal(p, &kind); err == nil && kind.K == accessv1.KindRole {
			roles = append(roles, p)
		} else {
			others = append(others, p)
		}
	}
	return roles, others
}

// mixed finds a state that combines the Roles of one recent state with the
// UserGroups of another: the informers of different kinds deliver events
// independently (after an API server restart, one kind's watch may resume
// seconds after another's), so a compile can see a Role change before an
// earlier UserGroup change, or after a later one. Such a revision was
// compiled from real object versions, just not from one applied state;
// answers at it are checked against exactly that combination. Revisions
// that are no such mix are remembered too, as the search hashes every pair.
func (tn *tenant) mixed(rev string) *state {
	tn.mu.Lock()
	defer tn.mu.Unlock()
	if st, ok := tn.mixes[rev]; ok {
		return st
	}
	if seq, ok := tn.notMixed[rev]; ok && seq == tn.nextSeq {
		return nil // searched, and no state was recorded since
	}
	if tn.mixes == nil {
		tn.mixes, tn.notMixed = map[string]*state{}, map[string]int{}
	}
	start := time.Now()
	defer func() { tn.searches++; tn.searchTime += time.Since(start) }()
	var parts [][]byte
	for _, ri := range tn.recent {
		for _, gi := range tn.recent {
			if ri == gi {
				continue
			}
			parts = append(append(parts[:0], ri.roleParts...), gi.otherParts...)
			slices.SortFunc(parts, bytes.Compare)
			if snapshot.RevisionOfParts(tn.name, parts) != rev {
				continue
			}
			m := gi.model.Clone()
			m.Roles = ri.model.Clone().Roles
			m.Reindex()
			st := &state{seq: max(ri.seq, gi.seq), model: m, extra: ri.extra, revision: rev}
			tn.mixes[rev] = st
			return st
		}
	}
	tn.notMixed[rev] = tn.nextSeq
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
