package cli

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"

	"github.com/gatehouse-dev/gatehouse/api/v1alpha1"
	"github.com/gatehouse-dev/gatehouse/internal/snapshot"
)

const importLong = `Import turns an existing org structure into UserGroup manifests, one group
per department (or region), so a tenant moves in without typing hundreds of
members. The CSV needs a header row; columns (case-insensitive, any order):

  user                  subject ID (also: id, username, email)     required
  department            group to put the user in (also: region)     required
  unit                  unit path, e.g. /ca/ab/calgary               optional
  company               company attribute                            optional
  role                  role name(s), several separated by ;         optional

Attributes and roles apply to every member of a group, so a department whose
members differ in unit, company or roles is split into one group per
combination (<department>-<roles>[-N]), joined by a <department> group that
lists them in memberGroups; the split is reported on stderr. Nobody gets a
role or attribute another member of the department has.

The output (<out>/usergroups.yaml) is deterministic: groups, members and
roles are sorted. Use - as the CSV path for stdin.`

// importRow is one user of one department.
type importRow struct {
	user, dept, unit, company string
	roles                     []string
}

func newImportCmd(e *env) *cobra.Command {
	var users, out, tenant string
	cmd := &cobra.Command{
		Use:     "import --users users.csv --out DIR [--tenant T]",
		Short:   "Generate UserGroups (one per department) from a CSV of users",
		Long:    importLong,
		Example: `  gatehouse import --users users.csv --out policy/ --tenant acme-field-services`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if users == "" || out == "" {
				return usageError("--users and --out are required")
			}
			r := e.stdin
			name := "-"
			if users != "-" {
				f, err := os.Open(users)
				if err != nil {
					return usageError("%v", err)
				}
				defer func() { _ = f.Close() }() // opened read-only: nothing to flush
				r, name = f, users
			}
			rows, err := readUsersCSV(name, r)
			if err != nil {
				return usageError("%v", err)
			}
			groups, notes := buildGroups(rows, tenant)
			for _, n := range notes {
				fmt.Fprintln(e.stderr, "gatehouse: note:", n)
			}
			for i := range groups {
				for _, p := range snapshot.CheckUserGroup(&groups[i]) {
					return &exitError{code: ExitFailed, err: fmt.Errorf("generated group %s: %s: %s", groups[i].Name, p.Field, p.Message)}
				}
			}
			data, err := groupsYAML(groups, name)
			if err != nil {
				return err
			}
			if err := os.MkdirAll(out, 0o755); err != nil {
				return usageError("%v", err)
			}
			path := filepath.Join(out, "usergroups.yaml")
			if err := os.WriteFile(path, data, 0o644); err != nil {
				return usageError("%v", err)
			}
			members := 0
			for _, g := range groups {
				members += len(g.Spec.Members)
			}
			fmt.Fprintf(e.stdout, "wrote %s: %d groups, %d memberships\n", path, len(groups), members)
			return nil
		},
	}
	cmd.Flags().StringVar(&users, "users", "", "CSV of users (- for stdin)")
	cmd.Flags().StringVar(&out, "out", "", "directory to write usergroups.yaml into")
	cmd.Flags().StringVar(&tenant, "tenant", "", "metadata.namespace of the groups (default: none, e.g. set by kustomize)")
	return cmd
}

// readUsersCSV reads and validates the CSV.
func readUsersCSV(name string, r io.Reader) ([]importRow, error) {
	cr := csv.NewReader(r)
	cr.TrimLeadingSpace = true
	cr.Comment = '#'
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%s: empty CSV", name)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %v", name, err)
	}
	col := map[string]int{}
	aliases := map[string]string{"id": "user", "username": "user", "email": "user", "region": "department", "roles": "role"}
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
		if a, ok := aliases[h]; ok {
			h = a
		}
		switch h {
		case "user", "department", "unit", "company", "role":
			if _, dup := col[h]; dup {
				return nil, fmt.Errorf("%s:1: column %s given twice", name, h)
			}
			col[h] = i
		default:
			return nil, fmt.Errorf("%s:1: unknown column %q (want user, department, unit, company, role)", name, header[i])
		}
	}
	for _, req := range []string{"user", "department"} {
		if _, ok := col[req]; !ok {
			return nil, fmt.Errorf("%s:1: column %s is required", name, req)
		}
	}
	get := func(rec []string, c string) string {
		if i, ok := col[c]; ok && i < len(rec) {
			return strings.TrimSpace(rec[i])
		}
		return ""
	}
	var rows []importRow
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return rows, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %v", name, err)
		}
		line, _ := cr.FieldPos(0)
		row := importRow{user: get(rec, "user"), dept: get(rec, "department"), unit: get(rec, "unit"), company: get(rec, "company")}
		for _, role := range strings.Split(get(rec, "role"), ";") {
			if role = strings.TrimSpace(role); role != "" {
				row.roles = append(row.roles, role)
			}
		}
		switch {
		case row.user == "":
			return nil, fmt.Errorf("%s:%d: user is empty", name, line)
		case row.dept == "" || slug(row.dept) == "":
			return nil, fmt.Errorf("%s:%d: department is empty", name, line)
		case row.unit != "" && !strings.HasPrefix(row.unit, "/"):
			return nil, fmt.Errorf("%s:%d: unit %q must be a path starting with /", name, line, row.unit)
		}
		if len(row.unit) > 1 {
			row.unit = strings.TrimRight(row.unit, "/")
		}
		rows = append(rows, row)
	}
}

// slug turns a department name into an object name.
func slug(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
			dash = false
		} else if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
	}
	out := strings.TrimRight(b.String(), "-")
	if len(out) > 63 {
		out = strings.TrimRight(out[:63], "-")
	}
	return out
}

// profile is what a group gives its members.
type profile struct {
	unit, company string
	roles         string // sorted, joined by ","
}

// buildGroups makes the groups, sorted by name, and notes about splits.
func buildGroups(rows []importRow, tenant string) ([]v1alpha1.UserGroup, []string) {
	type dept struct {
		display string
		users   map[string]*importRow // merged per user
	}
	depts := map[string]*dept{}
	for i := range rows {
		r := rows[i]
		name := slug(r.dept)
		d := depts[name]
		if d == nil {
			d = &dept{display: r.dept, users: map[string]*importRow{}}
			depts[name] = d
		}
		u := d.users[r.user]
		if u == nil {
			u = &importRow{user: r.user, unit: r.unit, company: r.company}
			d.users[r.user] = u
		}
		for _, role := range r.roles {
			if !contains(u.roles, role) {
				u.roles = append(u.roles, role)
			}
		}
		if u.unit == "" {
			u.unit = r.unit
		}
		if u.company == "" {
			u.company = r.company
		}
	}
	var groups []v1alpha1.UserGroup
	var notes []string
	for _, name := range sortedKeys(depts) {
		d := depts[name]
		profiles := map[profile][]string{}
		for _, user := range sortedKeys(d.users) {
			u := d.users[user]
			sort.Strings(u.roles)
			p := profile{unit: u.unit, company: u.company, roles: strings.Join(u.roles, ",")}
			profiles[p] = append(profiles[p], user)
		}
		keys := make([]profile, 0, len(profiles))
		for p := range profiles {
			keys = append(keys, p)
		}
		sort.Slice(keys, func(i, j int) bool {
			a, b := keys[i], keys[j]
			if a.roles != b.roles {
				return a.roles < b.roles
			}
			if a.unit != b.unit {
				return a.unit < b.unit
			}
			return a.company < b.company
		})
		if len(keys) == 1 {
			groups = append(groups, newGroup(name, d.display, tenant, keys[0], profiles[keys[0]]))
			continue
		}
		parent := newGroup(name, d.display, tenant, profile{}, nil)
		used := map[string]int{}
		for _, p := range keys {
			base := name + "-" + slug(strings.ReplaceAll(p.roles, ",", "-"))
			if p.roles == "" {
				base = name + "-no-roles"
			}
			used[base]++
			sub := base
			if used[base] > 1 {
				sub = fmt.Sprintf("%s-%d", base, used[base])
			}
			g := newGroup(sub, d.display+" ("+strings.ReplaceAll(p.roles, ",", ", ")+")", tenant, p, profiles[p])
			groups = append(groups, g)
			parent.Spec.MemberGroups = append(parent.Spec.MemberGroups, v1alpha1.ObjectName(sub))
		}
		groups = append(groups, parent)
		notes = append(notes, fmt.Sprintf("department %q: members differ in unit, company or roles: split into %d groups joined by group %s", d.display, len(keys), name))
	}
	sort.Slice(groups, func(i, j int) bool { return groups[i].Name < groups[j].Name })
	return groups, notes
}

func newGroup(name, display, tenant string, p profile, members []string) v1alpha1.UserGroup {
	g := v1alpha1.UserGroup{}
	g.APIVersion = v1alpha1.GroupVersion.String()
	g.Kind = snapshot.KindUserGroup
	g.Name = name
	g.Namespace = tenant
	g.Spec.DisplayName = display
	for _, m := range members {
		g.Spec.Members = append(g.Spec.Members, v1alpha1.SubjectID(m))
	}
	if p.roles != "" {
		for _, r := range strings.Split(p.roles, ",") {
			g.Spec.Roles = append(g.Spec.Roles, v1alpha1.ObjectName(r))
		}
	}
	if p.unit != "" || p.company != "" {
		g.Spec.Attributes = map[string]v1alpha1.AttributeValue{}
		if p.unit != "" {
			g.Spec.Attributes[snapshot.AttrUnit] = v1alpha1.StringAttribute(p.unit)
		}
		if p.company != "" {
			g.Spec.Attributes[snapshot.AttrCompany] = v1alpha1.StringAttribute(p.company)
		}
	}
	return g
}

// yamlGroup orders the fields of a generated UserGroup.
type yamlGroup struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Metadata   struct {
		Name      string `yaml:"name"`
		Namespace string `yaml:"namespace,omitempty"`
	} `yaml:"metadata"`
	Spec struct {
		DisplayName  string            `yaml:"displayName,omitempty"`
		Members      []string          `yaml:"members,omitempty"`
		MemberGroups []string          `yaml:"memberGroups,omitempty"`
		Roles        []string          `yaml:"roles,omitempty"`
		Attributes   map[string]string `yaml:"attributes,omitempty"`
	} `yaml:"spec"`
}

// groupsYAML renders the groups as a multi-document YAML file.
func groupsYAML(groups []v1alpha1.UserGroup, source string) ([]byte, error) {
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "# Generated by gatehouse import from %s. Re-run the import or edit by hand.\n", filepath.Base(source))
	for i, g := range groups {
		if i > 0 {
			buf.WriteString("---\n")
		}
		var y yamlGroup
		y.APIVersion, y.Kind = g.APIVersion, g.Kind
		y.Metadata.Name, y.Metadata.Namespace = g.Name, g.Namespace
		y.Spec.DisplayName = g.Spec.DisplayName
		for _, m := range g.Spec.Members {
			y.Spec.Members = append(y.Spec.Members, string(m))
		}
		for _, m := range g.Spec.MemberGroups {
			y.Spec.MemberGroups = append(y.Spec.MemberGroups, string(m))
		}
		for _, r := range g.Spec.Roles {
			y.Spec.Roles = append(y.Spec.Roles, string(r))
		}
		if len(g.Spec.Attributes) > 0 {
			y.Spec.Attributes = map[string]string{}
			for k, v := range g.Spec.Attributes {
				y.Spec.Attributes[k] = v.Values[0]
			}
		}
		enc := yaml.NewEncoder(&buf)
		enc.SetIndent(2)
		if err := enc.Encode(&y); err != nil {
			return nil, err
		}
		if err := enc.Close(); err != nil {
			return nil, err
		}
	}
	return buf.Bytes(), nil
}
