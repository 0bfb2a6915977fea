package console

import (
	"errors"
	"net/http"

	"github.com/gatehouse-dev/gatehouse/api/v1alpha1"
	"github.com/gatehouse-dev/gatehouse/internal/views"
)

func (s *Server) tenantFields(t *Tenant) (views.FieldTable, error) {
	if t.Snapshot == nil {
		return views.FieldTable{}, errRefused
	}
	v := viewsOf(t)
	v.fieldsOnce.Do(func() { v.fields, v.fieldsErr = views.FieldMatrix(t.Name, t.Objects, t.Snapshot) })
	return v.fields, v.fieldsErr
}

// fieldsPage is what templates/fields.html shows.
type fieldsPage struct {
	Refused bool
	Module  string
	// All are the modules a field policy covers (the filter's choices).
	All    []string
	Tables []fieldsTable
}

// fieldsTable is one module's roles × fields.
type fieldsTable struct {
	views.FieldModule
	Rows []fieldsRow
}

type fieldsRow struct {
	Role   string
	Reason string
	Cells  []fieldCell // per field, then the fields the policy does not list
}

type fieldCell struct {
	Access v1alpha1.FieldAccess
	Class  string
}

// fieldsData is GET /t/{tenant}/fields?module=: per module a field policy
// covers, roles × fields.
func (s *Server) fieldsData(r *http.Request, t *Tenant) (any, error) {
	f, err := s.tenantFields(t)
	if errors.Is(err, errRefused) {
		return fieldsPage{Refused: true}, nil
	}
	if err != nil {
		return nil, err
	}
	module := r.URL.Query().Get("module")
	if module != "" && !f.HasModule(module) {
		return nil, badInput("module: %s is not a module a field policy covers", quote(module))
	}
	d := fieldsPage{Module: module}
	for _, m := range f.Filter(module).Modules {
		tb := fieldsTable{FieldModule: m}
		for _, r := range m.Rows {
			row := fieldsRow{Role: r.Role, Reason: r.Reason}
			for _, a := range append(r.Access[:len(r.Access):len(r.Access)], r.Default) {
				row.Cells = append(row.Cells, fieldCell{Access: a, Class: fieldClass(a)})
			}
			tb.Rows = append(tb.Rows, row)
		}
		d.Tables = append(d.Tables, tb)
	}
	for _, m := range f.Modules {
		d.All = append(d.All, m.Module)
	}
	return d, nil
}

// fieldClass is the level class of a field access, for colour (the word is
// always shown too).
func fieldClass(a v1alpha1.FieldAccess) string {
	switch a {
	case v1alpha1.FieldWrite:
		return "lvl-full"
	case v1alpha1.FieldRead:
		return "lvl-partial"
	}
	return "lvl-none"
}
