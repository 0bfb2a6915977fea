package authz

import (
	"encoding/json"
	"net/http"

	"github.com/gatehouse-dev/gatehouse/internal/snapshot"
)

// writeJSON writes v with encoding/json: the search, discovery, plan and
// approval answers are not on the hot path, and their shapes (filters,
// generic properties) are better served by the standard encoder.
func (h *Handler) writeJSON(w http.ResponseWriter, snap *snapshot.Snapshot, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		h.fail(w, http.StatusInternalServerError, "cannot encode response")
		return
	}
	w.Header()[RevisionHeader] = h.revisionHeader(snap)
	w.Write(b)
}

func revisionOf(s *snapshot.Snapshot) string {
	if s == nil {
		return ""
	}
	return s.Revision()
}
