package authz

import (
	"strings"
	"testing"
)

func TestBatchLimit(t *testing.T) {
	h, _ := newTestHandler(t, Options{MaxBatch: 3})
	w := do(h, "POST", base+"/access/v1/evaluations", `{"subject":{"id":"a"},"action":{"name":"view"},"evaluations":[{"resource":{"type":"x"}},{"resource":{"type":"x"}},{"resource":{"type":"x"}},{"resource":{"type":"x"}}]}`)
	if w.Code != 400 || !strings.Contains(w.Body.String(), "more than 3 evaluations") {
		t.Errorf("%d %s", w.Code, w.Body)
	}
}
