package console

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/gatehouse-dev/gatehouse/internal/snapshot"
	"github.com/gatehouse-dev/gatehouse/internal/views"
)

// Bounds of the question pages' query values: longer or more is bad input.
const (
	maxParam  = 256 // bytes of one value (subject, action, module, groups, q, one prop)
	maxProps  = 32  // prop values
	maxGroups = 32  // IdP groups
	// propBoxes is the number of empty prop inputs the forms offer.
	propBoxes = 2
)

// param is the query value name, trimmed and bounded.
func param(r *http.Request, name string) (string, error) {
	v := strings.TrimSpace(r.URL.Query().Get(name))
	if len(v) > maxParam {
		return "", badInput("%s: longer than %d bytes: %s", name, maxParam, quote(v))
	}
	return v, nil
}

// groupsParam reads groups=a,b (IdP groups, request-time externalGroups);
// the parameter may repeat.
func groupsParam(r *http.Request) (raw string, groups []string, err error) {
	vals := r.URL.Query()["groups"]
	for _, v := range vals {
		if len(v) > maxParam {
			return "", nil, badInput("groups: longer than %d bytes: %s", maxParam, quote(v))
		}
		for _, g := range strings.Split(v, ",") {
			if g = strings.TrimSpace(g); g != "" {
				groups = append(groups, g)
			}
		}
	}
	if len(groups) > maxGroups {
		return "", nil, badInput("groups: more than %d groups", maxGroups)
	}
	return strings.Join(groups, ","), groups, nil
}

// propsParam reads the prop=KEY=VALUE values (empty ones are skipped) and
// parses them as the CLI's --prop (views.ParseProps).
func propsParam(r *http.Request) ([]string, map[string]any, error) {
	var given []string
	for _, v := range r.URL.Query()["prop"] {
		if v = strings.TrimSpace(v); v == "" {
			continue
		}
		if len(v) > maxParam {
			return nil, nil, badInput("prop: longer than %d bytes: %s", maxParam, quote(v))
		}
		given = append(given, v)
	}
	if len(given) > maxProps {
		return nil, nil, badInput("prop: more than %d properties", maxProps)
	}
	props, err := views.ParseProps(given)
	var pe *views.PropError
	if errors.As(err, &pe) {
		if pe.Key == "" {
			return nil, nil, badInput("prop %s: %s", quote(pe.Text), pe.Problem)
		}
		return nil, nil, badInput("prop %s: %s: %s", quote(pe.Key), quote(pe.Text), pe.Problem)
	}
	if err != nil {
		return nil, nil, badInput("prop: %s", quote(err.Error()))
	}
	return given, props, nil
}

// recordParams reads module and the props into a record.
func recordParams(r *http.Request) (module string, given []string, res snapshot.Resource, err error) {
	if module, err = param(r, "module"); err != nil {
		return "", nil, res, err
	}
	given, props, err := propsParam(r)
	if err != nil {
		return "", nil, res, err
	}
	if res, err = views.MakeResource(module, "", props); err != nil {
		// Errors name the property (bounded by maxParam) and what it must be.
		return "", nil, res, badInput("prop: %s", err)
	}
	return module, given, res, nil
}

// queryForm is what a question page's form shows back.
type queryForm struct {
	Subject, Action, Module, Groups string
	// Props are the props given, then empty inputs.
	Props []string
	// Modules and Actions are the tenant's names, offered in datalists.
	Modules, Actions []string
}

func newForm(t *Tenant, given []string) queryForm {
	f := queryForm{Props: append(append([]string(nil), given...), make([]string, propBoxes)...)}
	f.Modules, f.Actions = views.ModulesAndActions(t.Objects)
	return f
}

// query is the form's values as query pairs for tenantPath.
func (f queryForm) query(with ...string) []string {
	q := []string{"subject", f.Subject, "action", f.Action, "module", f.Module, "groups", f.Groups}
	for _, p := range f.Props {
		q = append(q, "prop", p)
	}
	return append(q, with...)
}

// explainData answers /t/{tenant}/explain?subject=&action=&module=&prop=k=v&groups=a,b
// with snapshot.Check, as the endpoint does.
type explainData struct {
	Form  queryForm
	Asked bool
	// Missing names the parameters still to give.
	Missing []string
	X       views.Explanation
	// WhoCan and Person link to the same question on the other pages.
	WhoCan, Person string
}

func (s *Server) explainData(r *http.Request, t *Tenant) (any, error) {
	sub, err := param(r, "subject")
	if err != nil {
		return nil, err
	}
	action, err := param(r, "action")
	if err != nil {
		return nil, err
	}
	groupText, groups, err := groupsParam(r)
	if err != nil {
		return nil, err
	}
	module, given, res, err := recordParams(r)
	if err != nil {
		return nil, err
	}
	d := explainData{Form: newForm(t, given)}
	d.Form.Subject, d.Form.Action, d.Form.Module, d.Form.Groups = sub, action, module, groupText
	for _, p := range [][2]string{{"subject", sub}, {"action", action}, {"module", module}} {
		if p[1] == "" {
			d.Missing = append(d.Missing, p[0])
		}
	}
	if len(d.Missing) > 0 {
		return d, nil
	}
	d.Asked = true
	d.X = views.Explain(t.Snapshot, &snapshot.Request{Subject: snapshot.Subject{ID: sub, Groups: groups}, Action: action, Resource: res})
	whoCan := d.Form
	whoCan.Subject, whoCan.Groups = "", ""
	d.WhoCan = tenantPath(t.Name, "who-can", whoCan.query()...)
	d.Person = personPath(t.Name, sub, groupText)
	return d, nil
}

// whoCanData answers /t/{tenant}/who-can?action=&module=&prop=k=v with
// snapshot.WhoCan.
type whoCanData struct {
	Form    queryForm
	Asked   bool
	Missing []string
	Rows    []whoCanRow
}

type whoCanRow struct {
	views.Grantee
	// Person and Explain link to the subject's page and to this question
	// asked for the subject.
	Person, Explain string
}

func (s *Server) whoCanData(r *http.Request, t *Tenant) (any, error) {
	action, err := param(r, "action")
	if err != nil {
		return nil, err
	}
	module, given, res, err := recordParams(r)
	if err != nil {
		return nil, err
	}
	d := whoCanData{Form: newForm(t, given)}
	d.Form.Action, d.Form.Module = action, module
	for _, p := range [][2]string{{"action", action}, {"module", module}} {
		if p[1] == "" {
			d.Missing = append(d.Missing, p[0])
		}
	}
	if len(d.Missing) > 0 {
		return d, nil
	}
	d.Asked = true
	for _, g := range views.WhoCan(t.Snapshot, action, res) {
		q := d.Form
		q.Subject = g.Subject
		d.Rows = append(d.Rows, whoCanRow{Grantee: g, Person: personPath(t.Name, g.Subject, ""), Explain: explainPath(t.Name, q)})
	}
	return d, nil
}

// approversData answers /t/{tenant}/approvers?module=&prop=k=v with
// snapshot.ApprovalPlan: the steps of the module's ApprovalChain that apply
// to the record, each with its eligible approvers.
type approversData struct {
	Form    queryForm
	Asked   bool
	Plan    snapshot.ApprovalPlanResult
	Message string
	// Steps are Plan.Steps with links to the eligible approvers.
	Steps []approverStep
	// Chains are the modules that have an ApprovalChain, for the form.
	Chains []string
}

func (s *Server) approversData(r *http.Request, t *Tenant) (any, error) {
	module, given, res, err := recordParams(r)
	if err != nil {
		return nil, err
	}
	d := approversData{Form: newForm(t, given)}
	d.Form.Module = module
	for _, c := range t.Objects.ApprovalChains {
		d.Chains = append(d.Chains, string(c.Spec.Resource))
	}
	if module == "" {
		return d, nil
	}
	d.Asked = true
	d.Plan = t.Snapshot.ApprovalPlan(res)
	d.Message = views.ReasonText(d.Plan.Reason)
	for _, st := range d.Plan.Steps {
		as := approverStep{PlannedStep: st, Current: st.Name == d.Plan.Current}
		for _, id := range st.Eligible {
			q := d.Form
			q.Subject, q.Action = id, d.Plan.Action
			as.Approvers = append(as.Approvers, approver{ID: id, Approved: slices.Contains(st.ApprovedBy, id),
				Person: personPath(t.Name, id, ""), Explain: explainPath(t.Name, q)})
		}
		d.Steps = append(d.Steps, as)
	}
	return d, nil
}

// personPath is the URL of a subject's page, with its IdP groups.
func personPath(tenant, subject, groups string) string {
	return tenantPath(tenant, "people/"+url.PathEscape(subject), "groups", groups)
}

// explainPath is the URL of an explain question.
func explainPath(tenant string, f queryForm) string {
	return tenantPath(tenant, "explain", f.query()...)
}

type approverStep struct {
	snapshot.PlannedStep
	Current   bool
	Approvers []approver
}

type approver struct {
	ID       string
	Approved bool
	// Person and Explain link to the approver's page and to the chain's
	// action on this record asked for the approver.
	Person, Explain string
}
