package authz

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/runtime"

	"github.com/gatehouse-dev/gatehouse/api/v1alpha1"
	"github.com/gatehouse-dev/gatehouse/internal/snapshot"
	"github.com/gatehouse-dev/gatehouse/internal/store"
	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

// tenant is the namespace of config/samples.
const tenant = "acme-field-services"

var (
	samplesOnce sync.Once
	samplesObjs snapshot.Objects
	samplesErr  error
)

// sampleObjects converts config/samples to snapshot input.
func sampleObjects(t testing.TB) snapshot.Objects {
	t.Helper()
	samplesOnce.Do(func() {
		root, err := testenv.RepoRoot()
		if err != nil {
			samplesErr = err
			return
		}
		objs, err := testenv.Samples(filepath.Join(root, "config", "samples"))
		if err != nil {
			samplesErr = err
			return
		}
		conv := runtime.DefaultUnstructuredConverter
		for _, u := range objs {
			switch u.GetKind() {
			case "Role":
				var o v1alpha1.Role
				samplesErr = conv.FromUnstructured(u.Object, &o)
				samplesObjs.Roles = append(samplesObjs.Roles, o)
			case "UserGroup":
				var o v1alpha1.UserGroup
				samplesErr = conv.FromUnstructured(u.Object, &o)
				samplesObjs.Groups = append(samplesObjs.Groups, o)
			case "FieldPolicy":
				var o v1alpha1.FieldPolicy
				samplesErr = conv.FromUnstructured(u.Object, &o)
				samplesObjs.FieldPolicies = append(samplesObjs.FieldPolicies, o)
			case "ApprovalChain":
				var o v1alpha1.ApprovalChain
				samplesErr = conv.FromUnstructured(u.Object, &o)
				samplesObjs.ApprovalChains = append(samplesObjs.ApprovalChains, o)
			}
			if samplesErr != nil {
				return
			}
		}
	})
	if samplesErr != nil {
		t.Fatalf("samples: %v", samplesErr)
	}
	return samplesObjs
}

func sampleSnapshot(t testing.TB) *snapshot.Snapshot {
	t.Helper()
	snap, problems := snapshot.Compile(tenant, sampleObjects(t))
	if len(problems) > 0 {
		t.Fatalf("samples have problems: %v", problems)
	}
	return snap
}

// newTestHandler serves the samples as tenant with opts (None security
// unless set).
func newTestHandler(t testing.TB, opts Options) (*Handler, *store.Store) {
	t.Helper()
	st := store.New()
	st.Set(tenant, &store.Entry{Snapshot: sampleSnapshot(t), CompiledAt: time.Now()})
	if opts.Authenticator == nil {
		opts.Authenticator = None{}
	}
	if opts.TenantAuthorizer == nil {
		opts.TenantAuthorizer = None{}
	}
	h, err := New(st, opts)
	if err != nil {
		t.Fatal(err)
	}
	return h, st
}

// do sends one request through the handler and validates the exchange
// against the OpenAPI contract (checkContract).
func do(h http.Handler, method, path, body string, header ...string) *httptest.ResponseRecorder {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	r := httptest.NewRequest(method, path, rd)
	if body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Set(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	checkContract(method, path, []byte(body), w.Code, w.Header(), w.Body.Bytes())
	return w
}

const base = "/tenants/" + tenant

func decodeJSON(t *testing.T, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
}
