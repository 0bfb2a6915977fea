package console

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"weak"

	"sigs.k8s.io/yaml"

	"github.com/gatehouse-dev/gatehouse/api/v1alpha1"
	"github.com/gatehouse-dev/gatehouse/internal/manifest"
	"github.com/gatehouse-dev/gatehouse/internal/tenantgen"
)

// benchUsers sizes the benchmark tenant's users. The matrix depends on the
// 200 roles (generated first, whatever the user count), the field policies
// and the chains, not on the users: 10,000 keep the setup short.
const benchUsers = 10_000

// benchServer is a console over the 200-role, 2,000-group benchmark tenant
// of internal/tenantgen, as manifests.
func benchServer(b *testing.B) *Server {
	b.Helper()
	objs := tenantgen.Generate(tenantgen.Default(benchUsers)).Objects()
	var buf bytes.Buffer
	for _, o := range objs.All() {
		o.GetObjectKind().SetGroupVersionKind(v1alpha1.GroupVersion.WithKind(o.AccessKind()))
		data, err := yaml.Marshal(o)
		if err != nil {
			b.Fatal(err)
		}
		buf.WriteString("---\n")
		buf.Write(data)
	}
	data := buf.Bytes()
	s, err := New(context.Background(), Options{
		Load: func(context.Context) (*manifest.Set, error) {
			set := &manifest.Set{}
			return set, set.Add("bench.yaml", data, "acme")
		},
		Source: "tenantgen",
	})
	if err != nil {
		b.Fatal(err)
	}
	if t := s.State().Tenant("acme"); t == nil || t.Snapshot == nil || len(t.Objects.Roles) != 200 {
		b.Fatalf("benchmark tenant not loaded: %+v", s.State().Tenants)
	}
	return s
}

func serveMatrix(b *testing.B, s *Server, path string) int {
	w := httptest.NewRecorder()
	s.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "http://127.0.0.1:8099"+path, nil))
	if w.Code != 200 {
		b.Fatalf("GET %s: %d %.300s", path, w.Code, w.Body.String())
	}
	return w.Body.Len()
}

// BenchmarkMatrixPage renders the whole matrix page (200 roles × every
// module/action) of the benchmark tenant through the handler, the matrix
// computed once per load (the first request, not timed).
func BenchmarkMatrixPage(b *testing.B) {
	s := benchServer(b)
	serveMatrix(b, s, "/t/acme/matrix")
	n := 0
	for b.Loop() {
		n = serveMatrix(b, s, "/t/acme/matrix")
	}
	b.ReportMetric(float64(n), "bytes/page")
}

// BenchmarkMatrixPageCold computes the matrix (a compile with a synthetic
// group per role, then a plan per cell) and renders it: the first request
// after a load.
func BenchmarkMatrixPageCold(b *testing.B) {
	s := benchServer(b)
	t := s.State().Tenant("acme")
	for b.Loop() {
		viewCache.Delete(weak.Make(t))
		serveMatrix(b, s, "/t/acme/matrix")
	}
}

// BenchmarkFieldsPage renders the field access page of the benchmark tenant.
func BenchmarkFieldsPage(b *testing.B) {
	s := benchServer(b)
	serveMatrix(b, s, "/t/acme/fields")
	for b.Loop() {
		serveMatrix(b, s, "/t/acme/fields")
	}
}
