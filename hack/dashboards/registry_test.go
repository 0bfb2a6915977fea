package dashboards

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	admissionv1 "k8s.io/api/admission/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"
	crwebhook "sigs.k8s.io/controller-runtime/pkg/webhook"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/gatehouse-dev/gatehouse/internal/authz"
	"github.com/gatehouse-dev/gatehouse/internal/metrics"
	"github.com/gatehouse-dev/gatehouse/internal/snapshot"
	"github.com/gatehouse-dev/gatehouse/webhook"
)

// gatehouseCollectors are Gatehouse's collectors (internal/metrics). The
// catalogue takes their names and labels from their descriptors, so a
// family is known with its labels before it has a series.
var gatehouseCollectors = map[string]prometheus.Collector{
	"CompileDuration":    metrics.CompileDuration,
	"Compiles":           metrics.Compiles,
	"SnapshotObjects":    metrics.SnapshotObjects,
	"LeftOutObjects":     metrics.LeftOutObjects,
	"LastCompile":        metrics.LastCompile,
	"Tenants":            metrics.Tenants,
	"AuditErrors":        metrics.AuditErrors,
	"AuditWithheld":      metrics.AuditWithheld,
	"Admissions":         metrics.Admissions,
	"AuditHTTPQueued":    metrics.AuditHTTPQueued,
	"AuditHTTPDelivered": metrics.AuditHTTPDelivered,
	"AuditHTTPDropped":   metrics.AuditHTTPDropped,
	"AuditHTTPRetries":   metrics.AuditHTTPRetries,
	"AuthzRequests":      metrics.AuthzRequests,
	"AuthzDuration":      metrics.AuthzDuration,
	"AuthzDecisions":     metrics.AuthzDecisions,
	"AuthzRejected":      metrics.AuthzRejected,
	"AuthzQueueWait":     metrics.AuthzQueueWait,
}

// descFields read prometheus.Desc's String() (the descriptor has no
// accessors for its name and labels): the name, the constant labels
// (name="value" pairs) and the variable labels (names, c(name) when
// constrained). Other fields (help, unit) are skipped.
var (
	descName      = regexp.MustCompile(`^Desc\{fqName: "((?:[^"\\]|\\.)*)"`)
	descConst     = regexp.MustCompile(`constLabels: \{((?:[^}"]|"(?:[^"\\]|\\.)*")*)\}`)
	descConstName = regexp.MustCompile(`(?:^|,)(\w+)="(?:[^"\\]|\\.)*"`)
	descVariable  = regexp.MustCompile(`variableLabels: \{([^}]*)\}\}$`)
)

// collectorType is the family type of a Gatehouse collector: a vector's by
// its Go type, a single metric's by what it writes (the Histogram and
// Summary interfaces are alike, a Gauge is also a Counter).
func collectorType(c prometheus.Collector) string {
	switch c.(type) {
	case *prometheus.HistogramVec:
		return Histogram
	case *prometheus.SummaryVec:
		return Summary
	case *prometheus.CounterVec:
		return Counter
	case *prometheus.GaugeVec:
		return Gauge
	}
	var m dto.Metric
	if metric, ok := c.(prometheus.Metric); ok && metric.Write(&m) == nil {
		switch {
		case m.Histogram != nil:
			return Histogram
		case m.Summary != nil:
			return Summary
		case m.Counter != nil:
			return Counter
		case m.Gauge != nil:
			return Gauge
		}
	}
	return Untyped
}

// describe returns the families a collector describes.
func describe(collector string, c prometheus.Collector) (Catalogue, error) {
	ch := make(chan *prometheus.Desc, 16)
	go func() { c.Describe(ch); close(ch) }()
	cat := Catalogue{}
	var err error
	for d := range ch {
		s := d.String()
		name, consts, vars := descName.FindStringSubmatch(s), descConst.FindStringSubmatch(s), descVariable.FindStringSubmatch(s)
		if name == nil || consts == nil || vars == nil {
			err = fmt.Errorf("metrics.%s: cannot read descriptor %s", collector, s)
			continue
		}
		f := Family{Type: collectorType(c), Labels: map[string]bool{}}
		for _, m := range descConstName.FindAllStringSubmatch(consts[1], -1) {
			f.Labels[m[1]] = true
		}
		for _, l := range strings.Split(vars[1], ",") {
			if l = strings.TrimSuffix(strings.TrimPrefix(l, "c("), ")"); l != "" {
				f.Labels[l] = true
			}
		}
		cat[name[1]] = f
	}
	return cat, err
}

var (
	managerOnce sync.Once
	managerCat  Catalogue
	managerErr  error
)

// managerCatalogue returns the families the manager's registry
// (controller-runtime's metrics.Registry, served on /metrics) exposes:
// Gatehouse's, from their descriptors, after checking that each is
// registered there; and every family gathered from the registry after the
// manager's code paths ran once (an authorization request observed through
// the observer cmd/manager creates, a compile, audit failures, a controller
// reconciling a request, an admission review through controller-runtime's
// webhook server).
func managerCatalogue(t *testing.T) Catalogue {
	t.Helper()
	managerOnce.Do(func() { managerCat, managerErr = buildManagerCatalogue() })
	if managerErr != nil {
		t.Fatal(managerErr)
	}
	return managerCat
}

func buildManagerCatalogue() (Catalogue, error) {
	cat := Catalogue{}
	described := map[string]bool{}
	for name, c := range gatehouseCollectors {
		// Registering it again proves it is in the registry.
		var already prometheus.AlreadyRegisteredError
		if err := ctrlmetrics.Registry.Register(c); !errors.As(err, &already) || already.ExistingCollector != c {
			return nil, fmt.Errorf("metrics.%s is not registered in controller-runtime's registry (Register: %v)", name, err)
		}
		fams, err := describe(name, c)
		if err != nil {
			return nil, err
		}
		for fam, f := range fams {
			cat[fam] = f
			described[fam] = true
		}
	}

	if err := exercise(); err != nil {
		return nil, err
	}

	families, err := ctrlmetrics.Registry.Gather()
	if err != nil {
		return nil, fmt.Errorf("gathering the registry: %v", err)
	}
	for _, mf := range families {
		f := Family{Type: familyType(mf.GetType()), Labels: map[string]bool{}}
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				f.Labels[lp.GetName()] = true
			}
		}
		name := mf.GetName()
		if d, ok := cat[name]; ok {
			// The descriptor and the series must agree.
			if d.Type != f.Type || names(d.Labels) != names(f.Labels) {
				return nil, fmt.Errorf("%s: descriptor says %s with %s, the registry serves %s with %s", name, d.Type, names(d.Labels), f.Type, names(f.Labels))
			}
			continue
		}
		if strings.HasPrefix(name, "gatehouse_") && !described[name] {
			return nil, fmt.Errorf("%s is served but not in gatehouseCollectors: add its collector", name)
		}
		cat[name] = f
	}
	return cat, nil
}

func familyType(t dto.MetricType) string {
	switch t {
	case dto.MetricType_COUNTER:
		return Counter
	case dto.MetricType_GAUGE:
		return Gauge
	case dto.MetricType_HISTOGRAM, dto.MetricType_GAUGE_HISTOGRAM:
		return Histogram
	case dto.MetricType_SUMMARY:
		return Summary
	}
	return Untyped
}

// exercise runs the manager's code paths that create series.
func exercise() error {
	// The authorization endpoint's observer, as cmd/manager/serving.go
	// creates it, and one request of each kind.
	obs := metrics.NewAuthzObserver(authz.EndpointNames(), authz.RejectionReasons()...)
	obs.ObserveRequest(authz.EndpointNames()[0], http.StatusOK, time.Millisecond)
	obs.ObserveDecisions(1, 1)
	obs.ObserveRejected(authz.RejectionReasons()[0])
	obs.ObserveQueued(time.Millisecond)

	// A compile, the tenants count and the audit trail's counters.
	s, _ := snapshot.Compile("dashboards-test", snapshot.Objects{})
	metrics.ObserveCompile("dashboards-test", time.Millisecond, true, s, 0, time.Now())
	metrics.SetTenants(1)
	var ac metrics.AuditCounters
	ac.WriteFailed("compiled")
	ac.HTTPQueued(0)
	ac.HTTPDelivered(0)
	ac.HTTPRetried()

	if err := reconcileOnce(); err != nil {
		return err
	}
	return admitOnce()
}

// tenantController is the name of Gatehouse's tenant controller
// (controllers.ControllerName), the value of the controller label of its
// series. The controllers package is not imported: the label's name, not
// its value, is what the catalogue records.
const tenantController = "tenant"

// reconcileOnce runs a controller named as Gatehouse's tenant controller
// through one reconcile, which creates the controller and work queue
// series.
func reconcileOnce() error {
	done := make(chan struct{})
	var once sync.Once
	c, err := controller.NewUnmanaged(tenantController, controller.Options{
		SkipNameValidation: ptr.To(true),
		Reconciler: reconcile.Func(func(context.Context, reconcile.Request) (reconcile.Result, error) {
			once.Do(func() { close(done) })
			return reconcile.Result{}, nil
		}),
	})
	if err != nil {
		return err
	}
	if err := c.Watch(source.Func(func(_ context.Context, q workqueue.TypedRateLimitingInterface[reconcile.Request]) error {
		q.Add(reconcile.Request{NamespacedName: types.NamespacedName{Namespace: "tenant", Name: "x"}})
		return nil
	})); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan error, 1)
	go func() { stopped <- c.Start(ctx) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		cancel()
		return fmt.Errorf("the controller did not reconcile within 30s")
	}
	// Let the worker finish the item (reconcile_total counts after Reconcile returns).
	deadline := time.Now().Add(10 * time.Second)
	for !reconciled() && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	return <-stopped
}

// reconciled is true once the registry counts a successful reconcile.
func reconciled() bool {
	families, _ := ctrlmetrics.Registry.Gather()
	for _, mf := range families {
		if mf.GetName() != "controller_runtime_reconcile_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if lp.GetName() == "result" && lp.GetValue() == "success" && m.GetCounter().GetValue() > 0 {
					return true
				}
			}
		}
	}
	return false
}

// admitOnce sends one admission review through controller-runtime's
// webhook server, registered at Gatehouse's path as webhook.Setup does.
func admitOnce() error {
	srv := crwebhook.NewServer(crwebhook.Options{})
	srv.Register(webhook.ValidatePath, &admission.Webhook{Handler: admission.HandlerFunc(func(context.Context, admission.Request) admission.Response {
		return admission.Allowed("")
	})})
	review := admissionv1.AdmissionReview{Request: &admissionv1.AdmissionRequest{UID: "1"}}
	review.APIVersion, review.Kind = "admission.k8s.io/v1", "AdmissionReview"
	body, err := json.Marshal(review)
	if err != nil {
		return err
	}
	req := httptest.NewRequest(http.MethodPost, webhook.ValidatePath, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	srv.WebhookMux().ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		return fmt.Errorf("admission review: HTTP %d: %s", rec.Code, rec.Body)
	}
	return nil
}
