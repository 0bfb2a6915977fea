package authz

import (
	_ "embed"
	"net/http"
	"sync"

	"sigs.k8s.io/yaml"
)

// openAPIYAML is the OpenAPI 3.1 contract of every endpoint of the route
// table. openapi_test.go checks that it lists exactly the routes and that
// every response the tests produce validates against it.
//
//go:embed openapi.yaml
var openAPIYAML []byte

// openAPIPath is where the contract is served, as JSON.
const openAPIPath = "/openapi.json"

// openAPIJSON is the contract converted to JSON once.
var openAPIJSON = sync.OnceValues(func() ([]byte, error) { return yaml.YAMLToJSON(openAPIYAML) })

// serveOpenAPI answers the contract (GET /openapi.json). Like every
// endpoint it is served to authenticated callers only; it names no tenant.
func (h *Handler) serveOpenAPI(w http.ResponseWriter) {
	b, err := openAPIJSON()
	if err != nil {
		h.fail(w, http.StatusInternalServerError, "cannot encode response")
		return
	}
	w.Header()[RevisionHeader] = hdrNoRev
	w.Write(b)
}
