package console

import (
	"bytes"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// page is one route of the console. The table below is every route: a page
// is a row here, its handler and template, and its test.
type page struct {
	// name identifies the page (its template and its nav entry).
	name string
	// title is the nav label and the page title.
	title string
	// pattern is the ServeMux pattern; tenant pages have {tenant}.
	pattern string
	// template is the page's file under templates/ ("" for raw pages).
	template string
	// nav: listed in a tenant's navigation, linking to navPath.
	nav     bool
	navPath string // under /t/{tenant}/
	// data computes what the template shows (HTML pages).
	data func(s *Server, r *http.Request, t *Tenant) (any, error)
	// raw writes a non-HTML answer (CSV, YAML, patches).
	raw func(s *Server, w http.ResponseWriter, r *http.Request, t *Tenant) error
}

// pages is every route of the console, in navigation order.
var pages = []page{
	{name: "home", title: "Tenants", pattern: "GET /{$}", template: "home.html", data: (*Server).homeData},
	{name: "overview", title: "Overview", pattern: "GET /t/{tenant}/{$}", template: "overview.html", nav: true, navPath: "", data: (*Server).overviewData},
	{name: "matrix", title: "Role matrix", pattern: "GET /t/{tenant}/matrix", template: "matrix.html", nav: true, navPath: "matrix", data: (*Server).matrixData},
	{name: "matrix-csv", pattern: "GET /t/{tenant}/matrix.csv", raw: (*Server).matrixCSV},
	{name: "fields", title: "Field access", pattern: "GET /t/{tenant}/fields", template: "fields.html", nav: true, navPath: "fields", data: (*Server).fieldsData},
	{name: "people", title: "People", pattern: "GET /t/{tenant}/people", template: "people.html", nav: true, navPath: "people", data: (*Server).peopleData},
	{name: "person", title: "Person", pattern: "GET /t/{tenant}/people/{subject}", template: "person.html", data: (*Server).personData},
	{name: "explain", title: "Explain", pattern: "GET /t/{tenant}/explain", template: "explain.html", nav: true, navPath: "explain", data: (*Server).explainData},
	{name: "whocan", title: "Who can", pattern: "GET /t/{tenant}/who-can", template: "whocan.html", nav: true, navPath: "who-can", data: (*Server).whoCanData},
	{name: "approvers", title: "Approvers", pattern: "GET /t/{tenant}/approvers", template: "approvers.html", nav: true, navPath: "approvers", data: (*Server).approversData},
	{name: "changes", title: "Changes", pattern: "GET /t/{tenant}/changes", template: "changes.html", nav: true, navPath: "changes", data: (*Server).changesData},
	{name: "diff", title: "Diff", pattern: "GET /diff", template: "diff.html", data: (*Server).diffData},
	{name: "whatif", title: "What if", pattern: "GET /t/{tenant}/what-if", template: "whatif.html", nav: true, navPath: "what-if", data: (*Server).whatIfData},
	{name: "whatif-post", title: "What if", pattern: "POST /t/{tenant}/what-if", template: "whatif.html", data: (*Server).whatIfData},
	{name: "whatif-download", pattern: "POST /t/{tenant}/what-if/download", raw: (*Server).whatIfDownload},
}

// inputError is bad input from the URL or a form: 400 with the message.
type inputError struct{ msg string }

func (e *inputError) Error() string { return e.msg }

// badInput returns an inputError; format values from the request with
// quote, which bounds them.
func badInput(format string, args ...any) error {
	return &inputError{msg: fmt.Sprintf(format, args...)}
}

// notFound is a missing object named by the URL: 404 with the message.
type notFound struct{ msg string }

func (e *notFound) Error() string { return e.msg }

// quote quotes a value from a request for a message, at most 40 bytes of it.
func quote(s string) string {
	if len(s) > 40 {
		return fmt.Sprintf("%q…", s[:40])
	}
	return fmt.Sprintf("%q", s)
}

// navItem is one entry of a tenant's navigation.
type navItem struct {
	Title, Href string
	Current     bool
}

// view is what the layout template receives.
type view struct {
	Title  string
	Page   string
	State  *State
	Tenant *Tenant
	Nav    []navItem
	Source string
	Data   any
	// Error is set on error pages.
	Error string
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request, p page) {
	st := s.state.Load()
	var t *Tenant
	if name := r.PathValue("tenant"); strings.Contains(p.pattern, "{tenant}") {
		if t = st.Tenant(name); t == nil {
			s.renderError(w, r, st, http.StatusNotFound, fmt.Sprintf("No tenant %s in %s.", quote(name), s.opts.Source))
			return
		}
	}
	if p.raw != nil {
		if err := p.raw(s, w, r, t); err != nil {
			s.fail(w, r, st, err)
		}
		return
	}
	data, err := p.data(s, r, t)
	if err != nil {
		s.fail(w, r, st, err)
		return
	}
	title := p.title
	if t != nil {
		title = p.title + " · " + t.Name
	}
	s.render(w, http.StatusOK, p.name, view{Title: title, Page: p.name, State: st, Tenant: t, Nav: s.nav(t, p), Source: s.opts.Source, Data: data})
}

func (s *Server) fail(w http.ResponseWriter, r *http.Request, st *State, err error) {
	var in *inputError
	if errors.As(err, &in) {
		s.renderError(w, r, st, http.StatusBadRequest, in.msg)
		return
	}
	var nf *notFound
	if errors.As(err, &nf) {
		s.renderError(w, r, st, http.StatusNotFound, nf.msg)
		return
	}
	s.renderError(w, r, st, http.StatusInternalServerError, err.Error())
}

func (s *Server) renderError(w http.ResponseWriter, r *http.Request, st *State, code int, msg string) {
	s.render(w, code, "home", view{Title: http.StatusText(code), Page: "error", State: st, Source: s.opts.Source, Error: msg, Data: s.mustHome()})
}

// render executes a page into a buffer first, so that a template error
// never sends half a page with a 200.
func (s *Server) render(w http.ResponseWriter, code int, name string, v view) {
	var buf bytes.Buffer
	if err := s.pages[name].ExecuteTemplate(&buf, "layout", v); err != nil {
		http.Error(w, "console: rendering "+name+": "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(code)
	_, _ = w.Write(buf.Bytes())
}

func (s *Server) nav(t *Tenant, cur page) []navItem {
	if t == nil {
		return nil
	}
	var out []navItem
	for _, p := range pages {
		if p.nav {
			out = append(out, navItem{Title: p.title, Href: tenantPath(t.Name, p.navPath), Current: p.name == cur.name ||
				(cur.name == "person" && p.name == "people") || (cur.name == "whatif-post" && p.name == "whatif")})
		}
	}
	return out
}

// tenantPath is the URL of a tenant page, with query values.
func tenantPath(tenant, sub string, query ...string) string {
	u := "/t/" + url.PathEscape(tenant) + "/" + sub
	if len(query) > 1 {
		q := url.Values{}
		for i := 0; i+1 < len(query); i += 2 {
			if query[i+1] != "" {
				q.Add(query[i], query[i+1])
			}
		}
		if enc := q.Encode(); enc != "" {
			u += "?" + enc
		}
	}
	return u
}

// funcs are the template functions every page may use.
var funcs = template.FuncMap{
	"tenantPath": tenantPath,
	"join":       strings.Join,
	"since": func(t time.Time) string {
		return t.UTC().Format(time.RFC3339)
	},
	// short cuts a long value for a table cell; the full value is in the
	// cell's title attribute where it matters.
	"short": func(n int, s string) string {
		if len(s) <= n {
			return s
		}
		return s[:n] + "…"
	},
}

// homeData lists the tenants.
func (s *Server) homeData(*http.Request, *Tenant) (any, error) { return s.mustHome(), nil }

type homeRow struct {
	Name     string
	Revision string
	Counts   any
	Problems int
	Refused  bool
}

func (s *Server) mustHome() []homeRow {
	var out []homeRow
	for _, t := range s.state.Load().Tenants {
		row := homeRow{Name: t.Name, Problems: len(t.Problems), Refused: t.Snapshot == nil}
		if t.Snapshot != nil {
			row.Revision, row.Counts = t.Snapshot.Revision(), t.Snapshot.Counts()
		}
		out = append(out, row)
	}
	return out
}
