//go:build soak

package soak

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	accessv1 "github.com/gatehouse-dev/gatehouse/api/v1alpha1"
	"github.com/gatehouse-dev/gatehouse/internal/snapshot"
	"github.com/gatehouse-dev/gatehouse/internal/tenantgen"
)

// ---- the run ----

type soakRun struct {
	h          *harness
	tenants    []*tenant
	start, end time.Time

	checked, wrong, unknown  atomic.Int64
	mixed                    atomic.Int64 // answers at a mix of two applied states' kinds
	firstWrong, firstUnknown atomic.Value
	changes, changeErrors    atomic.Int64
	invalidRejected          atomic.Int64
	invalidAccepted          atomic.Int64

	mu        sync.Mutex
	errors    map[string]int    // by cause
	answers   map[string][2]int // replica/second -> ok, failed
	propag    map[string][]propSample
	samples   []sample
	unknownAt []time.Duration // when answers came at unknown revisions
	// unknownRevs are the unknown revisions replica-1 (whose trail is a
	// file) answered at, per tenant, in order seen.
	unknownRevs map[*tenant][]string
	faultLogs   []faultLog

	propagations sync.WaitGroup
}

type propSample struct {
	acked time.Time
	d     time.Duration
	big   bool // the large tenant (the others are small)
}

type sample struct {
	at         time.Duration
	rss        [2]int64
	goroutines [2]float64
	ready      [2]int
}

type faultLog struct {
	name     string
	from, to time.Time
	note     string
}

func (run *soakRun) countError(cause string) {
	run.mu.Lock()
	defer run.mu.Unlock()
	if run.errors == nil {
		run.errors = map[string]int{}
	}
	run.errors[cause]++
}

func (run *soakRun) bucket(r *replica, ok bool) {
	key := fmt.Sprintf("%s/%d", r.name, int(time.Since(run.start).Seconds()))
	run.mu.Lock()
	defer run.mu.Unlock()
	if run.answers == nil {
		run.answers = map[string][2]int{}
	}
	c := run.answers[key]
	if ok {
		c[0]++
	} else {
		c[1]++
	}
	run.answers[key] = c
}

// load sends evaluations at a fixed rate to one replica and checks each.
func (run *soakRun) load(ctx context.Context, r *replica, rate int) {
	tick := time.NewTicker(time.Second / time.Duration(rate))
	defer tick.Stop()
	rnd := rand.New(rand.NewPCG(uint64(r.authz), 7))
	var inflight sync.WaitGroup
	sem := make(chan struct{}, 16)
	for now := range tick.C {
		if now.After(run.end) {
			break
		}
		tn := run.tenants[rnd.IntN(len(run.tenants))]
		q := tn.reqs[rnd.IntN(len(tn.reqs))]
		select {
		case sem <- struct{}{}:
		default:
			run.countError(r.name + ": client saturated (requests still waiting)")
			continue
		}
		inflight.Go(func() {
			defer func() { <-sem }()
			a, err := r.evaluate(tn, q)
			if err != nil {
				run.bucket(r, false)
				run.countError(r.name + ": " + errorCause(err))
				return
			}
			run.bucket(r, true)
			if a.Context.Revision == "" {
				// Not served (a replica that just started): it must fail
				// closed.
				if a.Decision {
					if run.wrong.Add(1) == 1 {
						run.firstWrong.Store(fmt.Sprintf("%s %s: allowed without a snapshot (%s)", r.name, tn.name, a.Context.Reason))
					}
				}
				run.countError(r.name + ": tenant not served yet (denied, " + a.Context.Reason + ")")
				return
			}
			st := tn.at(a.Context.Revision)
			if st == nil {
				if st = tn.mixed(a.Context.Revision); st != nil {
					run.mixed.Add(1)
				}
			}
			if st == nil {
				if run.unknown.Add(1) == 1 {
					run.firstUnknown.Store(run.explainUnknown(ctx, tn, r, a.Context.Revision))
				}
				run.mu.Lock()
				run.unknownAt = append(run.unknownAt, time.Since(run.start))
				if r == run.h.replicas[0] && !slices.Contains(run.unknownRevs[tn], a.Context.Revision) {
					if run.unknownRevs == nil {
						run.unknownRevs = map[*tenant][]string{}
					}
					run.unknownRevs[tn] = append(run.unknownRevs[tn], a.Context.Revision)
				}
				run.mu.Unlock()
				run.countError(r.name + ": answer at an unknown revision")
				return
			}
			run.checked.Add(1)
			want := st.model.Allowed(q.Subject, q.Action, q.Record)
			if a.Decision != want {
				if run.wrong.Add(1) == 1 {
					run.firstWrong.Store(fmt.Sprintf("%s %s: %s %s %s at %s: got %v (%s), reference %v",
						r.name, tn.name, q.Subject, q.Action, q.Record.Module, a.Context.Revision, a.Decision, a.Context.Reason, want))
				}
			}
		})
	}
	inflight.Wait()
}

func errorCause(err error) string {
	s := err.Error()
	switch {
	case strings.Contains(s, "connection refused"):
		return "connection refused"
	case strings.Contains(s, "Timeout") || strings.Contains(s, "deadline"):
		return "timeout"
	case strings.HasPrefix(s, "status "):
		return s[:min(len(s), 10)]
	}
	return s[:min(len(s), 60)]
}

// explainUnknown says how an unknown revision relates to what the API
// server holds now: a harness mistake shows as a difference between the
// listed objects and the model.
func (run *soakRun) explainUnknown(ctx context.Context, tn *tenant, r *replica, rev string) string {
	var roles accessv1.RoleList
	var groups accessv1.UserGroupList
	var fps accessv1.FieldPolicyList
	var chains accessv1.ApprovalChainList
	for _, l := range []client.ObjectList{&roles, &groups, &fps, &chains} {
		if err := run.h.admin.List(ctx, l, client.InNamespace(tn.name)); err != nil {
			return fmt.Sprintf("%s %s at %s (listing: %v)", r.name, tn.name, rev, err)
		}
	}
	listed := snapshot.Objects{Roles: roles.Items, Groups: groups.Items, FieldPolicies: fps.Items, ApprovalChains: chains.Items}
	cur := tn.current()
	model := objectsOf(cur.model, cur.extra)
	var diff []string
	names := func(o snapshot.Objects) map[string]string {
		out := map[string]string{}
		for _, x := range o.Roles {
			b, _ := json.Marshal(x.Spec)
			out["Role/"+x.Name] = string(b)
		}
		for _, x := range o.Groups {
			b, _ := json.Marshal(x.Spec)
			out["UserGroup/"+x.Name] = string(b)
		}
		return out
	}
	lm, mm := names(listed), names(model)
	for k, v := range lm {
		if mm[k] != v {
			diff = append(diff, k)
		}
	}
	for k := range mm {
		if _, ok := lm[k]; !ok {
			diff = append(diff, k+" (missing)")
		}
	}
	sort.Strings(diff)
	return fmt.Sprintf("%s %s at %s; the API now holds revision %s, the churner's current is %s; objects differing from the model: %d %.300v",
		r.name, tn.name, rev, snapshot.RevisionOf(tn.name, listed), cur.revision, len(diff), diff)
}

// churn applies one random change at a time at a steady rate; now and then
// an invalid one, which the webhook must reject.
func (run *soakRun) churn(ctx context.Context, rate int) {
	rnd := rand.New(rand.NewPCG(99, 1))
	tick := time.NewTicker(time.Second / time.Duration(rate))
	defer tick.Stop()
	n := 0
	for now := range tick.C {
		if now.After(run.end) {
			return
		}
		n++
		tn := run.tenants[0]
		if rnd.IntN(2) == 0 {
			tn = run.tenants[1+rnd.IntN(len(run.tenants)-1)]
		}
		if n%10 == 0 {
			run.invalid(ctx, tn, n)
			continue
		}
		cur := tn.current()
		next := cur.model.Clone()
		obj := mutate(next, rnd)
		next.Reindex()
		// Retry until acknowledged (the API server or the webhook may be
		// down): a failed apply may still have been persisted, so the
		// state is recorded as possible first.
		tn.recordPossible(next, cur.extra)
		deadline := time.Now().Add(90 * time.Second)
		for {
			err := run.h.apply(ctx, obj)
			if err == nil {
				st := tn.record(next, cur.extra, time.Now())
				if ao, ok := obj.(accessv1.AccessObject); ok {
					tn.noteApplied(ao, st.seq)
				}
				run.changes.Add(1)
				run.propagate(tn, st)
				break
			}
			run.changeErrors.Add(1)
			run.countError("churner: " + errorCause(err))
			if time.Now().After(deadline) || time.Now().After(run.end.Add(60*time.Second)) {
				return
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
}

// recordPossible registers a state a failed apply may have persisted.
func (tn *tenant) recordPossible(m *tenantgen.Model, extra []accessv1.Role) {
	tn.mu.Lock()
	defer tn.mu.Unlock()
	rev := snapshot.RevisionOf(tn.name, objectsOf(m, extra))
	if _, ok := tn.byRevision[rev]; !ok {
		tn.nextSeq++
		tn.byRevision[rev] = &state{seq: tn.nextSeq, model: m, extra: extra, revision: rev}
	}
}

// invalid applies a Role whose condition does not compile. The webhook
// must reject it; if it is admitted (only possible while the webhook is
// down, which failurePolicy Fail forbids), the compiler leaves it out and
// answers must not change.
func (run *soakRun) invalid(ctx context.Context, tn *tenant, n int) {
	cur := tn.current()
	bad := accessv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: tn.name, Name: fmt.Sprintf("broken-%d", n)},
		Spec: accessv1.RoleSpec{Permissions: []accessv1.Permission{{Resources: []accessv1.ModuleName{"workorders"},
			Actions: []accessv1.ActionName{"view"}, When: "resource.properties.amount <"}}}}
	extra := append(slices.Clone(cur.extra), bad)
	tn.recordPossible(cur.model, extra)
	err := run.h.apply(ctx, bad.DeepCopy())
	switch {
	case err == nil:
		run.invalidAccepted.Add(1)
		tn.record(cur.model, extra, time.Now())
	case strings.Contains(err.Error(), "denied the request"):
		run.invalidRejected.Add(1)
	default:
		run.countError("churner (invalid change): " + errorCause(err))
	}
}

// mutate changes one object of the model and returns it as applied.
func mutate(m *tenantgen.Model, rnd *rand.Rand) client.Object {
	o := func(kind string, name string) client.Object {
		objs := m.Objects()
		switch kind {
		case "role":
			for i := range objs.Roles {
				if objs.Roles[i].Name == name {
					return &objs.Roles[i]
				}
			}
		case "group":
			for i := range objs.Groups {
				if objs.Groups[i].Name == name {
					return &objs.Groups[i]
				}
			}
		}
		panic("no " + kind + " " + name)
	}
	for {
		switch rnd.IntN(5) {
		case 0: // a role gains or loses an action
			r := &m.Roles[rnd.IntN(len(m.Roles))]
			if len(r.Perms) == 0 {
				continue
			}
			p := &r.Perms[rnd.IntN(len(r.Perms))]
			a := tenantgen.Actions[rnd.IntN(len(tenantgen.Actions))]
			if i := slices.Index(p.Actions, a); i >= 0 && len(p.Actions) > 1 {
				p.Actions = slices.Delete(p.Actions, i, i+1)
			} else if i < 0 {
				p.Actions = append(p.Actions, a)
			}
			return o("role", r.Name)
		case 1: // a permission changes scope
			r := &m.Roles[rnd.IntN(len(m.Roles))]
			if len(r.Perms) == 0 {
				continue
			}
			scopes := []string{tenantgen.All, tenantgen.Own, tenantgen.Assigned, tenantgen.OwnOrAssigned, tenantgen.Contact,
				tenantgen.Unit, tenantgen.UnitTree, tenantgen.Facility, tenantgen.Company}
			r.Perms[rnd.IntN(len(r.Perms))].Scope = scopes[rnd.IntN(len(scopes))]
			return o("role", r.Name)
		case 2: // a user joins a group
			g := &m.Groups[rnd.IntN(len(m.Groups))]
			u := &m.Users[rnd.IntN(len(m.Users))]
			if slices.Contains(g.Members, u.ID) {
				continue
			}
			g.Members = append(g.Members, u.ID)
			u.Groups = append(u.Groups, g.Name)
			return o("group", g.Name)
		case 3: // a user leaves a group
			g := &m.Groups[rnd.IntN(len(m.Groups))]
			if len(g.Members) < 2 {
				continue
			}
			id := g.Members[rnd.IntN(len(g.Members))]
			g.Members = slices.DeleteFunc(g.Members, func(x string) bool { return x == id })
			for i := range m.Users {
				if m.Users[i].ID == id {
					m.Users[i].Groups = slices.DeleteFunc(m.Users[i].Groups, func(x string) bool { return x == g.Name })
				}
			}
			return o("group", g.Name)
		case 4: // a group gains or loses a role
			g := &m.Groups[rnd.IntN(len(m.Groups))]
			r := m.Roles[rnd.IntN(len(m.Roles))].Name
			if i := slices.Index(g.Roles, r); i >= 0 {
				g.Roles = slices.Delete(g.Roles, i, i+1)
			} else {
				g.Roles = append(g.Roles, r)
			}
			return o("group", g.Name)
		}
	}
}

// propagate measures, on each replica, from the acknowledgement of st
// until the replica first answers at st's revision or a later one.
func (run *soakRun) propagate(tn *tenant, st *state) {
	for _, r := range run.h.replicas {
		run.propagations.Go(func() {
			deadline := st.acked.Add(60 * time.Second)
			for time.Now().Before(deadline) {
				rev, err := r.revision(tn)
				if err == nil {
					if got := tn.at(rev); got != nil && got.seq >= st.seq {
						run.mu.Lock()
						if run.propag == nil {
							run.propag = map[string][]propSample{}
						}
						run.propag[r.name] = append(run.propag[r.name], propSample{st.acked, time.Since(st.acked), tn == run.tenants[0]})
						run.mu.Unlock()
						return
					}
				}
				time.Sleep(20 * time.Millisecond)
			}
			run.countError(r.name + ": a change not served within 60 s")
		})
	}
}

// monitor samples memory, goroutines and readiness every 2 s.
func (run *soakRun) monitor() {
	for time.Now().Before(run.end) {
		var s sample
		s.at = time.Since(run.start)
		for i, r := range run.h.replicas {
			s.rss[i], s.goroutines[i], s.ready[i] = r.rss(), r.metric("go_goroutines"), r.ready()
		}
		run.mu.Lock()
		run.samples = append(run.samples, s)
		run.mu.Unlock()
		time.Sleep(2 * time.Second)
	}
}

// faults runs each fault once per cycle of the run.
func (run *soakRun) faults(ctx context.Context, d time.Duration) {
	type fault struct {
		name string
		do   func() string
	}
	h := run.h
	leader := func() *replica {
		for _, r := range h.replicas {
			if r.metric("leader_election_master_status") > 0 {
				return r
			}
		}
		return h.replicas[0]
	}
	faults := []fault{
		{"kill -9 of replica-2 (restarted by the supervisor after 1 s)", func() string {
			r := h.replicas[1]
			start := time.Now()
			r.signal(syscall.SIGKILL)
			time.Sleep(500 * time.Millisecond)
			ok := waitFor(90*time.Second, 100*time.Millisecond, func() bool { return r.ready() == 200 })
			return fmt.Sprintf("ready again after %s: %v", time.Since(start).Round(100*time.Millisecond), ok)
		}},
		{"the leader paused (SIGSTOP) for 20 s, past its 15 s lease", func() string {
			r := leader()
			r.signal(syscall.SIGSTOP)
			time.Sleep(20 * time.Second)
			other := h.replicas[0]
			if other == r {
				other = h.replicas[1]
			}
			took := other.metric("leader_election_master_status") > 0
			before := r.restarts.Load()
			r.signal(syscall.SIGCONT)
			// Having lost its lease, the paused replica exits on resume and
			// its supervisor restarts it.
			ok := waitFor(90*time.Second, 100*time.Millisecond, func() bool { return r.restarts.Load() > before && r.ready() == 200 })
			return fmt.Sprintf("paused %s; %s took the lease: %v; %s restarted and ready again: %v", r.name, other.name, took, r.name, ok)
		}},
		{"kube-apiserver killed, down 5 s, restarted", func() string {
			p, err := restartProc(h.apiserverArgs, 5*time.Second)
			h.apiserverArgs = p
			ok := waitFor(60*time.Second, 200*time.Millisecond, func() bool {
				return h.admin.List(ctx, &corev1.NamespaceList{}) == nil
			})
			return fmt.Sprintf("restart error %v; API server answering again: %v", err, ok)
		}},
		{"etcd killed, down 5 s, restarted", func() string {
			p, err := restartProc(h.etcdArgs, 5*time.Second)
			h.etcdArgs = p
			ok := waitFor(60*time.Second, 200*time.Millisecond, func() bool {
				return h.admin.List(ctx, &corev1.NamespaceList{}) == nil
			})
			return fmt.Sprintf("restart error %v; API server answering again: %v", err, ok)
		}},
	}
	// One fault every `gap`, cycling; the first after 15 s of quiet.
	gap := max(15*time.Second, d/time.Duration(2*len(faults)+1))
	next := run.start.Add(15 * time.Second)
	for i := 0; ; i++ {
		f := faults[i%len(faults)]
		time.Sleep(time.Until(next))
		if time.Now().Add(30 * time.Second).After(run.end) {
			return // not enough time left to see it recover
		}
		from := time.Now()
		note := f.do()
		run.mu.Lock()
		run.faultLogs = append(run.faultLogs, faultLog{name: f.name, from: from, to: time.Now(), note: note})
		run.mu.Unlock()
		next = time.Now().Add(gap)
	}
}
