package authz

import (
	"errors"
	"net/http"

	"github.com/gatehouse-dev/gatehouse/internal/authz/jsonscan"
	"github.com/gatehouse-dev/gatehouse/internal/snapshot"
)

// planOut is the answer of /v1/plan: the filter AST and, when the request
// maps properties to columns, a parameterized SQL WHERE fragment.
type planOut struct {
	Revision string `json:"revision"`
	snapshot.Plan
	SQL *sqlOut `json:"sql,omitempty"`
	// SQLError says why no SQL could be rendered (an unmapped property or
	// a condition SQL cannot express); the filter is still valid. A column
	// that is not an SQL identifier is the caller's mistake: a 400 naming
	// columns.<property>.
	SQLError string `json:"sqlError,omitempty"`
}

type sqlOut struct {
	Where string `json:"where"`
	Args  []any  `json:"args"`
}

// servePlan answers the list filter of the records the subject may act
// on, and its SQL when the request maps properties to columns (/v1/plan).
func (h *Handler) servePlan(w http.ResponseWriter, r *http.Request, st *state, tenant string, _ *Caller) {
	req := &st.req
	t := &req.top
	snap, ok := h.entry(w, r, tenant, t.minRevision)
	if !ok {
		return
	}
	p := snap.Plan(t.sub, t.action, t.res.Type)
	out := planOut{Revision: revisionOf(snap), Plan: p}
	if req.columns != nil {
		var opts []snapshot.SQLOption
		switch req.placeholder {
		case "", "dollar":
		case "question":
			opts = append(opts, snapshot.SQLPlaceholder(func(int) string { return "?" }))
		default:
			h.badRequest(w, tenant, `placeholder: must be "dollar" or "question"`)
			return
		}
		if req.argOffset > 0 {
			opts = append(opts, snapshot.SQLArgOffset(req.argOffset))
		}
		where, args, err := p.SQL(req.columns, opts...)
		var bad *snapshot.ColumnError
		switch {
		case errors.As(err, &bad):
			// The reason names byte offsets only, never the value.
			h.badRequest(w, tenant, string(jsonscan.AppendPathKey([]byte("columns"), bad.Property))+": not an SQL identifier: "+bad.Reason)
			return
		case err != nil:
			out.SQLError = err.Error()
		default:
			if args == nil {
				args = []any{}
			}
			out.SQL = &sqlOut{Where: where, Args: args}
		}
	}
	h.writeJSON(w, snap, out)
}
