package controllers

import (
	"context"
	"errors"
	"strings"
	"testing"
)

func TestReadinessNotReadyUntilListed(t *testing.T) {
	tr := NewReadinessTracker()
	if tr.Ready() {
		t.Fatal("ready before the tenants were listed")
	}
	tr.Observe("a")
	if tr.Ready() {
		t.Fatal("ready after an observation but before the tenants were listed")
	}
	if err := tr.Check(nil); err == nil || !strings.Contains(err.Error(), "not listed") {
		t.Fatalf("Check before listing: %v", err)
	}
}

func TestReadinessWaitsForEveryExpectedTenant(t *testing.T) {
	tr := NewReadinessTracker()
	tr.Expect("a", "b", "c")
	tr.Observe("b")
	if tr.Ready() {
		t.Fatal("ready with a and c pending")
	}
	if got := strings.Join(tr.Pending(), ","); got != "a,c" {
		t.Fatalf("pending %q, want a,c", got)
	}
	if err := tr.Check(nil); err == nil || !strings.Contains(err.Error(), "2 tenants not compiled yet: a, c") {
		t.Fatalf("Check: %v", err)
	}
	select {
	case <-tr.Done():
		t.Fatal("Done closed with tenants pending")
	default:
	}
	tr.Observe("a")
	tr.Observe("c")
	if !tr.Ready() || tr.Check(nil) != nil {
		t.Fatal("not ready after every expected tenant was observed")
	}
	select {
	case <-tr.Done():
	default:
		t.Fatal("Done not closed once ready")
	}
}

func TestReadinessRemembersEarlyObservations(t *testing.T) {
	tr := NewReadinessTracker()
	// The reconciler may compile tenants before the lister runs.
	tr.Observe("a")
	tr.Observe("b")
	tr.Expect("a", "b")
	if !tr.Ready() {
		t.Fatalf("not ready; pending %v", tr.Pending())
	}
}

func TestReadinessNoTenants(t *testing.T) {
	tr := NewReadinessTracker()
	tr.Expect()
	if !tr.Ready() {
		t.Fatal("an empty cluster is not ready")
	}
}

func TestReadinessStaysReady(t *testing.T) {
	tr := NewReadinessTracker()
	tr.Expect("a")
	tr.Observe("a")
	// Tenants created after start do not make a serving replica unready.
	tr.Expect("late")
	if !tr.Ready() || len(tr.Pending()) != 0 {
		t.Fatal("a later Expect made a ready tracker unready")
	}
}

func TestReadinessCheckListsAFewPending(t *testing.T) {
	tr := NewReadinessTracker()
	tr.Expect("t1", "t2", "t3", "t4", "t5", "t6", "t7")
	err := tr.Check(nil)
	if err == nil || !strings.Contains(err.Error(), "7 tenants not compiled yet: t1, t2, t3, t4, t5 and 2 more") {
		t.Fatalf("Check: %v", err)
	}
}

func TestReadinessListerExpectsListedTenants(t *testing.T) {
	tr := NewReadinessTracker()
	l := &readinessLister{
		tracker: tr,
		waitFor: func(context.Context) bool { return true },
		list: func(context.Context) (map[string]bool, error) {
			return map[string]bool{"a": true, "b": true}, nil
		},
	}
	if l.NeedLeaderElection() {
		t.Fatal("the lister must run on every replica")
	}
	if err := l.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(tr.Pending(), ","); got != "a,b" {
		t.Fatalf("pending %q", got)
	}
}

func TestReadinessListerStopsWithoutCache(t *testing.T) {
	tr := NewReadinessTracker()
	l := &readinessLister{
		tracker: tr,
		waitFor: func(context.Context) bool { return false },
		list: func(context.Context) (map[string]bool, error) {
			t.Fatal("listed before the cache synced")
			return nil, nil
		},
	}
	if err := l.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if tr.Ready() {
		t.Fatal("ready without a list")
	}
}

func TestReadinessListerReportsListErrors(t *testing.T) {
	l := &readinessLister{
		tracker: NewReadinessTracker(),
		waitFor: func(context.Context) bool { return true },
		list:    func(context.Context) (map[string]bool, error) { return nil, errors.New("boom") },
	}
	if err := l.Start(context.Background()); err == nil || !strings.Contains(err.Error(), "boom") {
		t.Fatalf("Start: %v", err)
	}
}
