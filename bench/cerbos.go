package bench

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/gatehouse-dev/gatehouse/internal/tenantgen"
)

// CerbosPrincipal is what an application sends Cerbos about a user with
// every request (Cerbos is stateless about users): the roles of the user's
// groups with extends applied, and its groups' units, companies, facilities
// and restrictions.
type CerbosPrincipal struct {
	ID    string         `json:"id"`
	Roles []string       `json:"roles"`
	Attr  map[string]any `json:"attr"`
}

func cerbosScope(s string) string {
	switch s {
	case tenantgen.All:
		return "true"
	case tenantgen.Own:
		return `(R.attr.ownerId != "" && R.attr.ownerId == P.id)`
	case tenantgen.Assigned:
		return `(P.id in R.attr.assigneeIds)`
	case tenantgen.OwnOrAssigned:
		return `((R.attr.ownerId != "" && R.attr.ownerId == P.id) || P.id in R.attr.assigneeIds)`
	case tenantgen.Contact:
		return `(P.id in R.attr.projectContacts)`
	case tenantgen.Unit:
		return `(R.attr.unit != "" && R.attr.unit in P.attr.units)`
	case tenantgen.UnitTree:
		return `P.attr.units.exists(u, R.attr.unit == u || R.attr.unit.startsWith(u + "/"))`
	case tenantgen.Facility:
		return `(R.attr.facilityId != "" && R.attr.facilityId in P.attr.facilities)`
	case tenantgen.Company:
		return `(R.attr.companyId != "" && R.attr.companyId in P.attr.companies)`
	}
	return "false"
}

// CerbosPrincipals returns the principal of every user.
func CerbosPrincipals(t *Tenant) map[string]*CerbosPrincipal {
	groups := map[string]*tenantgen.Group{}
	for i := range t.Model.Groups {
		groups[t.Model.Groups[i].Name] = &t.Model.Groups[i]
	}
	out := make(map[string]*CerbosPrincipal, len(t.Model.Users))
	for _, u := range t.Model.Users {
		roles := map[string]bool{}
		units, companies, facs := []string{}, []string{}, []string{}
		restr := []any{}
		for _, gn := range t.EffGroups[u.ID] {
			g := groups[gn]
			for _, r := range g.Roles {
				for _, x := range t.EffRoles[r] {
					roles[x] = true
				}
			}
			units = append(units, g.Unit)
			companies = append(companies, g.Company)
			facs = append(facs, g.Facilities...)
			for _, rs := range g.Restrictions {
				restr = append(restr, map[string]any{"modules": rs.Modules, "scope": rs.Scope})
			}
		}
		rl := make([]string, 0, len(roles))
		for r := range roles {
			rl = append(rl, r)
		}
		sort.Strings(rl)
		out[u.ID] = &CerbosPrincipal{ID: u.ID, Roles: rl, Attr: map[string]any{
			"units": units, "companies": companies, "facilities": facs, "restrictions": restr}}
	}
	return out
}

// CerbosPolicies returns one resource policy (YAML) per module: a deny
// rule for group restrictions, then one allow rule per role permission,
// its scope and amount condition in Cerbos CEL.
func CerbosPolicies(t *Tenant) map[string]string {
	out := map[string]string{}
	restricted := map[string]bool{}
	for _, g := range t.Model.Groups {
		for _, rs := range g.Restrictions {
			for _, m := range rs.Modules {
				restricted[m] = true
			}
		}
	}
	var scopes []string
	for _, s := range []string{tenantgen.All, tenantgen.Own, tenantgen.Assigned, tenantgen.OwnOrAssigned, tenantgen.Contact,
		tenantgen.Unit, tenantgen.UnitTree, tenantgen.Facility, tenantgen.Company} {
		scopes = append(scopes, fmt.Sprintf(`(rs.scope == %q && %s)`, s, strings.ReplaceAll(cerbosScope(s), `u, `, `uu, `)))
	}
	anyScope := strings.ReplaceAll(strings.Join(scopes, " || "), "exists(uu, R.attr.unit == u || R.attr.unit.startsWith(u", "exists(uu, R.attr.unit == uu || R.attr.unit.startsWith(uu")
	for _, mod := range t.Model.Modules {
		var b strings.Builder
		fmt.Fprintf(&b, "apiVersion: api.cerbos.dev/v1\nresourcePolicy:\n  version: default\n  resource: %q\n  rules:\n", mod)
		if restricted[mod] {
			fmt.Fprintf(&b, "    - actions: [\"*\"]\n      effect: EFFECT_DENY\n      roles: [\"*\"]\n      condition:\n        match:\n          expr: %s\n",
				yamlStr(fmt.Sprintf(`P.attr.restrictions.exists(rs, %q in rs.modules && !(%s))`, mod, anyScope)))
		}
		for _, r := range t.Model.Roles {
			if r.FullAccess {
				fmt.Fprintf(&b, "    - actions: [\"*\"]\n      effect: EFFECT_ALLOW\n      roles: [%q]\n", r.Name)
				continue
			}
			for _, p := range r.Perms {
				if !containsStr(p.Modules, mod) {
					continue
				}
				acts, _ := json.Marshal(p.Actions)
				fmt.Fprintf(&b, "    - actions: %s\n      effect: EFFECT_ALLOW\n      roles: [%q]\n", acts, r.Name)
				var cond []string
				if p.Scope != tenantgen.All {
					cond = append(cond, cerbosScope(p.Scope))
				}
				if p.MaxAmount > 0 {
					cond = append(cond, fmt.Sprintf("R.attr.amount < %d.0", p.MaxAmount))
				}
				if len(cond) > 0 {
					fmt.Fprintf(&b, "      condition:\n        match:\n          expr: %s\n", yamlStr(strings.Join(cond, " && ")))
				}
			}
		}
		out[mod+".yaml"] = b.String()
	}
	return out
}

func containsStr(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

func yamlStr(s string) string {
	b, _ := json.Marshal(s) // a JSON string is a valid YAML double-quoted scalar
	return string(b)
}

// WriteCerbos writes policies and a server config listening on the given
// loopback ports into dir and returns the config path.
func WriteCerbos(t *Tenant, dir string, httpPort, grpcPort int) (string, error) {
	pol := filepath.Join(dir, "policies")
	if err := os.MkdirAll(pol, 0o755); err != nil {
		return "", err
	}
	for name, body := range CerbosPolicies(t) {
		if err := os.WriteFile(filepath.Join(pol, name), []byte(body), 0o644); err != nil {
			return "", err
		}
	}
	conf := fmt.Sprintf(`server:
  httpListenAddr: "127.0.0.1:%d"
  grpcListenAddr: "127.0.0.1:%d"
storage:
  driver: disk
  disk:
    directory: %q
    watchForChanges: false
audit:
  enabled: false
telemetry:
  disabled: true
`, httpPort, grpcPort, pol)
	path := filepath.Join(dir, "config.yaml")
	return path, os.WriteFile(path, []byte(conf), 0o644)
}

// CerbosBody is the CheckResources request of one generated request.
func CerbosBody(p *CerbosPrincipal, r tenantgen.Request) []byte {
	rec := r.Record
	body := map[string]any{
		"requestId": "b",
		"principal": p,
		"resources": []any{map[string]any{
			"actions": []string{r.Action},
			"resource": map[string]any{"kind": rec.Module, "id": rec.ID, "attr": map[string]any{
				"ownerId": rec.OwnerID, "assigneeIds": nonNilS(rec.AssigneeIDs), "projectContacts": nonNilS(rec.ProjectContacts),
				"unit": rec.Unit, "facilityId": rec.FacilityID, "companyId": rec.CompanyID, "amount": rec.Amount}},
		}},
	}
	b, _ := json.Marshal(body)
	return b
}

func nonNilS(xs []string) []string {
	if xs == nil {
		return []string{}
	}
	return xs
}

// CerbosDecision reads the effect of action from a CheckResources answer.
func CerbosDecision(body []byte, action string) (bool, error) {
	var out struct {
		Results []struct {
			Actions map[string]string `json:"actions"`
		} `json:"results"`
	}
	if err := json.Unmarshal(body, &out); err != nil {
		return false, fmt.Errorf("cerbos answer %q: %w", truncate(body), err)
	}
	if len(out.Results) != 1 {
		return false, fmt.Errorf("cerbos answer %q: want one result", truncate(body))
	}
	e, ok := out.Results[0].Actions[action]
	if !ok {
		return false, fmt.Errorf("cerbos answer %q: no effect for %s", truncate(body), action)
	}
	return e == "EFFECT_ALLOW", nil
}

func truncate(b []byte) string {
	if len(b) > 300 {
		return string(b[:300]) + "..."
	}
	return string(b)
}
