package authorship_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/gatehouse-dev/gatehouse/api/v1alpha1"
	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/metrics"
)

// receiver is an HTTP sink's far end on loopback: it keeps the records of
// the CloudEvents batches it accepts, by id, and answers 503 while down.
type receiver struct {
	srv  *httptest.Server
	down atomic.Bool
	mu   sync.Mutex
	byID map[string]audit.Record
}

func newReceiver(t *testing.T) *receiver {
	rc := &receiver{byID: map[string]audit.Record{}}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rc.down.Load() {
			w.Header().Set("Retry-After", "0")
			http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
			return
		}
		if r.Header.Get("Content-Type") != audit.CloudEventsBatchContentType {
			http.Error(w, "want a CloudEvents batch", http.StatusUnsupportedMediaType)
			return
		}
		var batch []audit.CloudEvent
		if err := json.NewDecoder(r.Body).Decode(&batch); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		rc.mu.Lock()
		defer rc.mu.Unlock()
		for _, ev := range batch {
			rec, err := ev.Record()
			if err != nil || ev.ID == "" || ev.Type != audit.CloudEventTypePrefix+rec.Event {
				http.Error(w, "bad event", http.StatusBadRequest)
				return
			}
			rc.byID[ev.ID] = *rec
		}
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) sink(t *testing.T, source string) audit.Sink {
	t.Helper()
	s, err := audit.NewHTTPSink(audit.HTTPOptions{URL: rc.srv.URL, Source: source,
		MinRetryDelay: 10 * time.Millisecond, MaxRetryDelay: 100 * time.Millisecond})
	must(t, err)
	return s
}

// has reports whether the receiver holds every record of records.
func (rc *receiver) has(records []audit.Record) bool {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	for i := range records {
		if _, ok := rc.byID[records[i].ID()]; !ok {
			return false
		}
	}
	return true
}

// The HTTP sink receives what the JSON lines have, catches up after the
// receiver was down, and --audit-required withholds a change meanwhile.
func TestHTTPSinkAndRequiredAcrossReplicas(t *testing.T) {
	c := startCluster(t)
	ctx := context.Background()
	rc := newReceiver(t)
	a := c.startReplica(t, replicaOptions{name: "replica-a", webhook: true, sinks: []audit.Sink{rc.sink(t, "/gatehouse/replica-a")}})
	required := c.startReplica(t, replicaOptions{name: "replica-r", required: true, sinks: []audit.Sink{rc.sink(t, "/gatehouse/replica-r")}})

	must(t, c.admin.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: tenant}}))
	c.bindEditor(t, tenant, rbacv1.Subject{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: "alice"})
	for _, obj := range []client.Object{
		role("technician", perm("workorders", "view", v1.ScopeAll)),
		role("tenant-admin", v1.Permission{Resources: []v1.ModuleName{"workorders", "purchaseorders"}, Actions: []v1.ActionName{"*"}}),
		group("admins", []v1.SubjectID{"alice"}, "tenant-admin"),
		group("techs", []v1.SubjectID{"tom.tech"}, "technician"),
	} {
		must(t, c.admin.Create(ctx, obj))
	}
	for _, r := range []*replica{a, required} {
		eventually(t, r.name+" to serve the tenant", func() bool { return r.allows("alice", "create", "purchaseorders") })
	}
	alice := c.as(t, "alice", "uid-alice", "acme-admins")
	must(t, update(alice, &v1.Role{}, "technician", func(o client.Object) {
		r := o.(*v1.Role)
		r.Spec.Permissions = append(r.Spec.Permissions, perm("workorders", "edit", v1.ScopeAll))
	}))
	eventually(t, "replica A to serve alice's change", func() bool { return a.allows("tom.tech", "edit", "workorders") })
	eventually(t, "the receiver to hold every record of replica A's trail", func() bool { return rc.has(a.trail.records(t)) })
	eventually(t, "the receiver to hold every record of the required replica's trail", func() bool { return rc.has(required.trail.records(t)) })
	eventually(t, "the required replica to serve alice's change", func() bool { return required.allows("tom.tech", "edit", "workorders") })

	// The receiver goes down; alice changes the role again.
	rc.down.Store(true)
	withheld := withheldCompiles()
	before := required.revision(tenant)
	must(t, update(alice, &v1.Role{}, "technician", func(o client.Object) {
		r := o.(*v1.Role)
		r.Spec.Permissions = append(r.Spec.Permissions, perm("workorders", "delete", v1.ScopeAll))
	}))
	// Replica A (not required) serves it at once; its record waits in the
	// sink's buffer.
	eventually(t, "replica A to serve the change while the receiver is down", func() bool { return a.allows("tom.tech", "delete", "workorders") })
	// The required replica compiles it, fails to deliver its record, and
	// keeps serving the last good snapshot.
	eventually(t, "the required replica to withhold the change", func() bool { return withheldCompiles() > withheld })
	if required.allows("tom.tech", "delete", "workorders") || required.revision(tenant) != before {
		t.Fatalf("the required replica serves a change whose record was not delivered (revision %s, was %s)", required.revision(tenant), before)
	}

	// The receiver comes back: the queued records arrive, and the required
	// replica serves the change once its record is delivered.
	rc.down.Store(false)
	eventually(t, "the required replica to serve the change after the receiver came back", func() bool { return required.allows("tom.tech", "delete", "workorders") })
	if got, want := required.revision(tenant), a.revision(tenant); got != want {
		t.Errorf("the required replica serves %s, replica A %s", got, want)
	}
	eventually(t, "the receiver to hold every record of replica A's trail after the outage", func() bool { return rc.has(a.trail.records(t)) })
	eventually(t, "the receiver to hold the required replica's records after the outage", func() bool { return rc.has(required.trail.records(t)) })
	// Every change the required replica served has its record at the
	// receiver, with the same revision.
	rc.mu.Lock()
	defer rc.mu.Unlock()
	served := required.revision(tenant)
	found := false
	for _, rec := range rc.byID {
		if rec.Replica == "replica-r" && rec.Event == audit.EventCompiled && rec.ToRevision == served {
			found = true
		}
	}
	if !found {
		t.Errorf("no record of the required replica's revision %s at the receiver", served)
	}
}

// withheldCompiles reads gatehouse_audit_withheld_compiles_total.
func withheldCompiles() float64 {
	var m dto.Metric
	if err := metrics.AuditWithheld.Write(&m); err != nil {
		return -1
	}
	return m.GetCounter().GetValue()
}
