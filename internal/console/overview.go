package console

import (
	"net/http"

	"github.com/gatehouse-dev/gatehouse/internal/snapshot"
)

// overviewData is the tenant's overview: revision, counts, and every
// object left out with its reason, field path and place in the files.
type overviewData struct {
	Revision string
	Counts   snapshot.Counts
	// Refused is set when the tenant is over its compiled-size quota:
	// nothing is served.
	Refused  bool
	Objects  []overviewKind
	LeftOut  []leftOut
	Problems int
}

type overviewKind struct {
	Kind  string
	Count int
}

type leftOut struct {
	snapshot.Problem
	// Pos is file:line of the offending field (or the object).
	Pos string
}

func (s *Server) overviewData(_ *http.Request, t *Tenant) (any, error) {
	d := overviewData{Refused: t.Snapshot == nil, Problems: len(t.Problems)}
	if t.Snapshot != nil {
		d.Revision, d.Counts = t.Snapshot.Revision(), t.Snapshot.Counts()
	}
	d.Objects = []overviewKind{
		{"Role", len(t.Objects.Roles)}, {"UserGroup", len(t.Objects.Groups)},
		{"FieldPolicy", len(t.Objects.FieldPolicies)}, {"ApprovalChain", len(t.Objects.ApprovalChains)},
	}
	for _, p := range t.Problems {
		lo := leftOut{Problem: p}
		if o := t.Set.Find(t.Name, p.Kind, p.Name); o != nil {
			lo.Pos = o.FieldPos(p.Field)
		}
		d.LeftOut = append(d.LeftOut, lo)
	}
	return d, nil
}
