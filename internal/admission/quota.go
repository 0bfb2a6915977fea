package admission

import (
	"github.com/gatehouse-dev/gatehouse/internal/snapshot"
)

// quotaDenials rejects a change that would put any object of the tenant
// beyond a limit: the compiler would leave it out. Problems the tenant has
// already (say, the operator lowered a limit) do not block other edits;
// creating an object that pushes another one past a count limit does.
func quotaDenials(req Request, after snapshot.Objects) []string {
	if req.Limits == (snapshot.Limits{}) {
		return nil
	}
	problems := req.Limits.Check(after)
	if len(problems) == 0 {
		return nil // the usual case: the tenant as it was needs no look
	}
	type key struct{ kind, name, field string }
	before := map[key]bool{}
	for _, p := range req.Limits.Check(current(req)) {
		before[key{p.Kind, p.Name, p.Field}] = true
	}
	var out []string
	for _, p := range problems {
		if !before[key{p.Kind, p.Name, p.Field}] {
			out = append(out, describe(p))
		}
	}
	return out
}
