package client_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/authz"
	"github.com/gatehouse-dev/gatehouse/internal/manifest"
	"github.com/gatehouse-dev/gatehouse/internal/snapshot"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// tenant is the namespace of config/samples.
const tenant = "acme-field-services"

var (
	samplesOnce sync.Once
	samplesSnap *snapshot.Snapshot
	samplesObjs snapshot.Objects
	samplesErr  error
)

// samples compiles config/samples as gatehouse serve does (manifest,
// snapshot).
func samples() (*snapshot.Snapshot, snapshot.Objects, error) {
	samplesOnce.Do(func() {
		set, err := manifest.Read([]string{filepath.Join("..", "..", "config", "samples")}, manifest.Options{})
		if err != nil {
			samplesErr = err
			return
		}
		samplesObjs = set.SnapshotObjects(tenant)
		snap, problems := snapshot.Compile(tenant, samplesObjs)
		if len(problems) > 0 {
			samplesErr = fmt.Errorf("samples have problems: %v", problems)
			return
		}
		samplesSnap = snap
	})
	return samplesSnap, samplesObjs, samplesErr
}

// newStore serves the samples as tenant.
func newStore() (*store.Store, error) {
	snap, _, err := samples()
	if err != nil {
		return nil, err
	}
	st := store.New()
	st.Set(tenant, &store.Entry{Snapshot: snap, CompiledAt: time.Now()})
	return st, nil
}

// startGatehouse serves the real authorization handler over the samples
// on a loopback port, optionally behind wrap. None security unless opts
// say otherwise.
func startGatehouse(opts authz.Options, wrap func(http.Handler) http.Handler) (*httptest.Server, *store.Store, error) {
	st, err := newStore()
	if err != nil {
		return nil, nil, err
	}
	if opts.Authenticator == nil {
		opts.Authenticator = authz.None{}
	}
	if opts.TenantAuthorizer == nil {
		opts.TenantAuthorizer = authz.None{}
	}
	h, err := authz.New(st, opts)
	if err != nil {
		return nil, nil, err
	}
	var hh http.Handler = h
	if wrap != nil {
		hh = wrap(h)
	}
	return httptest.NewServer(hh), st, nil
}

// serve is startGatehouse for tests.
func serve(t *testing.T, opts authz.Options, wrap func(http.Handler) http.Handler) (*httptest.Server, *store.Store) {
	t.Helper()
	srv, st, err := startGatehouse(opts, wrap)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	return srv, st
}
