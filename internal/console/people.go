package console

import (
	"fmt"
	"net/http"

	"github.com/gatehouse-dev/gatehouse/internal/snapshot"
	"github.com/gatehouse-dev/gatehouse/internal/views"
)

// peopleData lists the tenant's known subjects at /t/{tenant}/people?q=,
// filtered by q (a part of an ID, group or role).
type peopleData struct {
	Q      string
	People []personRow
	Total  int
	// Mapped are the groups reached through IdP groups.
	Mapped []views.MappedGroup
}

type personRow struct {
	views.Person
	Href string
}

func (s *Server) peopleData(r *http.Request, t *Tenant) (any, error) {
	q, err := param(r, "q")
	if err != nil {
		return nil, err
	}
	all := views.People(t.Objects)
	d := peopleData{Q: q, Total: len(all), People: []personRow{}, Mapped: views.MappedGroups(t.Objects)}
	for _, p := range all {
		if p.Matches(q) {
			d.People = append(d.People, personRow{Person: p, Href: personPath(t.Name, p.ID, "")})
		}
	}
	return d, nil
}

// personData is one subject's page, /t/{tenant}/people/{subject}?groups=a,b
// (groups: request-time IdP groups): its groups and roles, what it may do
// per module (snapshot.Plan per action) and its field access
// (snapshot.Fields), with links to explain.
type personData struct {
	Person views.Person
	// Groups are the request-time IdP groups as given.
	Groups  string
	Refused bool
	Access  []moduleRow
	// Form is the groups= form's action.
	Self string
}

type moduleRow struct {
	views.ModuleAccess
	Actions []actionRow
}

type actionRow struct {
	views.ActionAccess
	// Explain asks the question for a record of the module without
	// properties.
	Explain string
}

func (s *Server) personData(r *http.Request, t *Tenant) (any, error) {
	id := r.PathValue("subject")
	if len(id) > maxParam {
		return nil, badInput("subject: longer than %d bytes: %s", maxParam, quote(id))
	}
	groupText, groups, err := groupsParam(r)
	if err != nil {
		return nil, err
	}
	p, ok := views.FindPerson(t.Objects, id, groups)
	if !ok {
		msg := fmt.Sprintf("No subject %s in tenant %s: no UserGroup lists it in members", quote(id), quote(t.Name))
		if len(groups) > 0 {
			msg += " or maps one of its IdP groups (externalGroups)"
		}
		return nil, &notFound{msg: msg + "."}
	}
	d := personData{Person: p, Groups: groupText, Refused: t.Snapshot == nil, Self: personPath(t.Name, id, "")}
	sub := snapshot.Subject{ID: id, Groups: groups}
	for _, m := range views.Access(t.Snapshot, t.Objects, sub) {
		row := moduleRow{ModuleAccess: m}
		for _, a := range m.Actions {
			f := queryForm{Subject: id, Action: a.Action, Module: m.Module, Groups: groupText}
			row.Actions = append(row.Actions, actionRow{ActionAccess: a, Explain: explainPath(t.Name, f)})
		}
		d.Access = append(d.Access, row)
	}
	return d, nil
}

// The person page answers 404 for an unknown subject, which the page
// table's data functions cannot say (fail knows 400 and 500): its row is
// served through raw, which renders personData itself.
