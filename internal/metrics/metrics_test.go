package metrics_test

import (
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/gatehouse-dev/gatehouse/api/v1alpha1"
	"github.com/gatehouse-dev/gatehouse/internal/metrics"
	"github.com/gatehouse-dev/gatehouse/internal/snapshot"
)

// series returns the series of the named family in controller-runtime's
// registry (which is what the manager serves on /metrics).
func series(t *testing.T, name string) []*dto.Metric {
	t.Helper()
	families, err := ctrlmetrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() == name {
			return f.GetMetric()
		}
	}
	return nil
}

// find returns the series of name whose labels include want, or nil.
func find(t *testing.T, name string, want map[string]string) *dto.Metric {
	t.Helper()
next:
	for _, m := range series(t, name) {
		have := map[string]string{}
		for _, l := range m.GetLabel() {
			have[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if have[k] != v {
				continue next
			}
		}
		return m
	}
	return nil
}

// gauge returns the value of the series of name whose labels include want.
func gauge(t *testing.T, name string, want map[string]string) (float64, bool) {
	t.Helper()
	m := find(t, name, want)
	return m.GetGauge().GetValue(), m != nil
}

func compileTenant(t *testing.T) *snapshot.Snapshot {
	t.Helper()
	role := v1alpha1.Role{}
	role.Name = "viewer"
	role.Spec.Permissions = []v1alpha1.Permission{{Resources: []v1alpha1.ModuleName{"workorders"}, Actions: []v1alpha1.ActionName{"view"}}}
	group := v1alpha1.UserGroup{}
	group.Name = "crew"
	group.Spec.Members = []v1alpha1.SubjectID{"a", "b"}
	group.Spec.Roles = []v1alpha1.ObjectName{"viewer"}
	s, problems := snapshot.Compile("metrics-test", snapshot.Objects{Roles: []v1alpha1.Role{role}, Groups: []v1alpha1.UserGroup{group}})
	if len(problems) != 0 {
		t.Fatal(problems)
	}
	return s
}

func TestObserveAndDropTenant(t *testing.T) {
	s := compileTenant(t)
	at := time.Unix(1700000000, 0)
	metrics.ObserveCompile("metrics-test", 3*time.Millisecond, true, s, 1, at)
	metrics.ObserveCompile("metrics-other", time.Millisecond, true, s, 0, at)
	defer metrics.DropTenant("metrics-other")

	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"gatehouse_snapshot_objects", map[string]string{"tenant": "metrics-test", "kind": metrics.KindSubjects}, 2},
		{"gatehouse_snapshot_objects", map[string]string{"tenant": "metrics-test", "kind": metrics.KindRoles}, 1},
		{"gatehouse_snapshot_objects", map[string]string{"tenant": "metrics-test", "kind": metrics.KindGroups}, 1},
		{"gatehouse_snapshot_left_out_objects", map[string]string{"tenant": "metrics-test"}, 1},
		{"gatehouse_snapshot_last_compile_timestamp_seconds", map[string]string{"tenant": "metrics-test"}, 1700000000},
	} {
		got, ok := gauge(t, c.name, c.labels)
		if !ok || got != c.want {
			t.Errorf("%s%v = %v (present %v), want %v", c.name, c.labels, got, ok, c.want)
		}
	}
	if len(series(t, "gatehouse_compile_duration_seconds")) != 1 {
		t.Error("no compile duration histogram")
	}

	metrics.DropTenant("metrics-test")
	for _, name := range []string{"gatehouse_snapshot_objects", "gatehouse_snapshot_left_out_objects", "gatehouse_snapshot_last_compile_timestamp_seconds"} {
		if _, ok := gauge(t, name, map[string]string{"tenant": "metrics-test"}); ok {
			t.Errorf("%s still has a series of the dropped tenant", name)
		}
		if _, ok := gauge(t, name, map[string]string{"tenant": "metrics-other"}); !ok {
			t.Errorf("%s lost the other tenant's series", name)
		}
	}
}

func TestUnchangedCompileKeepsSize(t *testing.T) {
	s := compileTenant(t)
	metrics.ObserveCompile("metrics-unchanged", time.Millisecond, true, s, 0, time.Unix(1, 0))
	defer metrics.DropTenant("metrics-unchanged")
	// An unchanged compile passes no snapshot; the size stays.
	metrics.ObserveCompile("metrics-unchanged", time.Millisecond, false, nil, 0, time.Unix(2, 0))
	if got, _ := gauge(t, "gatehouse_snapshot_objects", map[string]string{"tenant": "metrics-unchanged", "kind": metrics.KindSubjects}); got != 2 {
		t.Errorf("subjects %v after an unchanged compile, want 2", got)
	}
	if got, _ := gauge(t, "gatehouse_snapshot_last_compile_timestamp_seconds", map[string]string{"tenant": "metrics-unchanged"}); got != 2 {
		t.Errorf("last compile %v, want 2", got)
	}
}

func TestTenants(t *testing.T) {
	metrics.SetTenants(3)
	if got, ok := gauge(t, "gatehouse_tenants", nil); !ok || got != 3 {
		t.Errorf("tenants %v", got)
	}
}
