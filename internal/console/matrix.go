package console

import (
	"errors"
	"fmt"
	"mime"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"weak"

	"github.com/gatehouse-dev/gatehouse/internal/views"
)

// tenantViews are the matrices of one loaded tenant, computed on first use.
// A Tenant is never modified once loaded and a reload builds new ones, so
// the cache is keyed by the Tenant and dies with it.
type tenantViews struct {
	matrixOnce sync.Once
	matrix     *matrixAll
	matrixErr  error

	fieldsOnce sync.Once
	fields     views.FieldTable
	fieldsErr  error
}

// viewCache maps weak.Pointer[Tenant] to *tenantViews; an entry goes when
// its Tenant is collected (after a reload replaced it).
var viewCache sync.Map

func viewsOf(t *Tenant) *tenantViews {
	k := weak.Make(t)
	if v, ok := viewCache.Load(k); ok {
		return v.(*tenantViews)
	}
	v, loaded := viewCache.LoadOrStore(k, &tenantViews{})
	if !loaded {
		runtime.AddCleanup(t, func(k weak.Pointer[Tenant]) { viewCache.Delete(k) }, k)
	}
	return v.(*tenantViews)
}

// errRefused answers the matrices of a tenant over its compiled-size quota.
var errRefused = errors.New("this tenant is over its compiled-size quota: nothing is served")

// matrixAll is a tenant's whole matrix with its cells laid out for the
// page, once.
type matrixAll struct {
	m    views.LevelMatrix
	rows []matrixRow // parallel to m.Rows
}

// matrixRow is one module/action of the page.
type matrixRow struct {
	Module, Action string
	Cells          []matrixCell
}

// matrixCell is one role's level and, per grant behind it, its detail:
// "unitTree", "when: …", "via extends supervisor".
type matrixCell struct {
	Level   views.Level
	Details []string
}

// grantDetail describes one grant for a cell; "" for a plain grant of
// every record by the role itself.
func grantDetail(g views.Grant) string {
	var parts []string
	switch {
	case g.FullAccess:
		parts = append(parts, "fullAccess")
	case g.Scope != "" && g.Scope != "all":
		parts = append(parts, string(g.Scope))
	}
	if g.When != "" {
		parts = append(parts, "when: "+g.When)
	}
	if g.From != "" {
		parts = append(parts, "via extends "+g.From)
	}
	return strings.Join(parts, ", ")
}

func (s *Server) tenantMatrix(t *Tenant) (*matrixAll, error) {
	if t.Snapshot == nil {
		return nil, errRefused
	}
	v := viewsOf(t)
	v.matrixOnce.Do(func() {
		m, err := views.RoleLevels(t.Name, t.Objects, t.Snapshot)
		if err != nil {
			v.matrixErr = err
			return
		}
		a := &matrixAll{m: m, rows: make([]matrixRow, len(m.Rows))}
		for i, r := range m.Rows {
			row := matrixRow{Module: r.Module, Action: r.Action, Cells: make([]matrixCell, len(r.Cells))}
			for j, c := range r.Cells {
				mc := matrixCell{Level: c.Level}
				for _, g := range c.Grants {
					if d := grantDetail(g); d != "" {
						mc.Details = append(mc.Details, d)
					}
				}
				row.Cells[j] = mc
			}
			a.rows[i] = row
		}
		v.matrix = a
	})
	return v.matrix, v.matrixErr
}

// matrixFilter reads and checks ?module= and ?role=.
func matrixFilter(r *http.Request, m views.LevelMatrix) (module, role string, err error) {
	module, role = r.URL.Query().Get("module"), r.URL.Query().Get("role")
	if module != "" && !m.HasModule(module) {
		return "", "", badInput("module: %s is not a module of this tenant's matrix", quote(module))
	}
	if role != "" && !m.HasRole(role) {
		return "", "", badInput("role: %s is not a served role of this tenant", quote(role))
	}
	return module, role, nil
}

// matrixPage is what templates/matrix.html shows.
type matrixPage struct {
	Refused      bool
	Module, Role string
	// Modules and Roles are the filter's choices.
	Modules []string
	Roles   []views.RoleInfo
	// Columns are the roles shown, Rows the module/actions shown.
	Columns []views.RoleInfo
	Rows    []matrixRow
	CSV     string
	Legend  []legendItem
}

type legendItem struct {
	Level   views.Level
	Meaning string
}

func legend() []legendItem {
	var out []legendItem
	for _, l := range views.AllLevels() {
		out = append(out, legendItem{Level: l, Meaning: l.Meaning()})
	}
	return out
}

// matrixData is GET /t/{tenant}/matrix?module=&role=: roles × module/action.
func (s *Server) matrixData(r *http.Request, t *Tenant) (any, error) {
	a, err := s.tenantMatrix(t)
	if errors.Is(err, errRefused) {
		return matrixPage{Refused: true}, nil
	}
	if err != nil {
		return nil, err
	}
	module, role, err := matrixFilter(r, a.m)
	if err != nil {
		return nil, err
	}
	d := matrixPage{Module: module, Role: role, Modules: a.m.Modules(), Roles: a.m.Roles, Columns: a.m.Roles,
		CSV: tenantPath(t.Name, "matrix.csv", "module", module, "role", role), Legend: legend()}
	col := -1
	if role != "" {
		for i, ri := range a.m.Roles {
			if ri.Name == role {
				col, d.Columns = i, []views.RoleInfo{ri}
			}
		}
	}
	for _, row := range a.rows {
		if module != "" && row.Module != module {
			continue
		}
		if col >= 0 {
			row.Cells = row.Cells[col : col+1]
		}
		d.Rows = append(d.Rows, row)
	}
	return d, nil
}

// matrixCSV is GET /t/{tenant}/matrix.csv?module=&role=: module, action,
// then a column per role with its level.
func (s *Server) matrixCSV(w http.ResponseWriter, r *http.Request, t *Tenant) error {
	a, err := s.tenantMatrix(t)
	if err != nil {
		return err
	}
	module, role, err := matrixFilter(r, a.m)
	if err != nil {
		return err
	}
	var buf strings.Builder
	if err := a.m.Filter(module, role).WriteCSV(&buf, false); err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": fmt.Sprintf("%s-matrix.csv", t.Name)}))
	_, _ = w.Write([]byte(buf.String()))
	return nil
}
