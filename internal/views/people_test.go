package views

import (
	"reflect"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/api/v1alpha1"
	"github.com/gatehouse-dev/gatehouse/internal/snapshot"
)

func TestPeopleSamples(t *testing.T) {
	_, objs := sampleTenant(t)
	people := map[string]Person{}
	for _, p := range People(objs) {
		people[p.ID] = p
	}
	tests := map[string]struct {
		id    string
		check func(Person) bool
	}{
		"nested group gives unit and facilities": {id: "alex.apprentice", check: func(p Person) bool {
			return reflect.DeepEqual(p.Groups, []string{"calgary-apprentices"}) && reflect.DeepEqual(p.Nested, []string{"calgary-branch"}) &&
				reflect.DeepEqual(p.Roles, []string{"limited-technician"}) && reflect.DeepEqual(p.Inherited, []string{"field-base"}) &&
				len(p.Attributes) == 2 && p.Attributes[0].Name == "facilities" && p.Attributes[1].Values[0] == "/ca/ab/calgary" && !p.FullAccess
		}},
		"director: IdP group and full access": {id: "dana.director", check: func(p Person) bool {
			return p.FullAccess && reflect.DeepEqual(p.IdPGroups, []string{"acme-admins"})
		}},
		"supplier's company": {id: "sue.supplier", check: func(p Person) bool {
			return len(p.Attributes) == 1 && p.Attributes[0].Name == "company" && p.Attributes[0].Values[0] == "northern-pipe-supply"
		}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			p, ok := people[tc.id]
			if !ok || !tc.check(p) {
				t.Errorf("%s: %+v", tc.id, p)
			}
		})
	}
	if len(people) != 8 {
		t.Errorf("%d people, want the 8 members of samples", len(people))
	}
}

func TestFindPerson(t *testing.T) {
	_, objs := sampleTenant(t)
	tests := map[string]struct {
		id    string
		idp   []string
		ok    bool
		roles []string
	}{
		"member":               {id: "tom.tech", ok: true, roles: []string{"technician"}},
		"IdP group only":       {id: "zed", idp: []string{"acme-staff"}, ok: true, roles: []string{"requester"}},
		"member and IdP group": {id: "vic.viewer", idp: []string{"acme-staff"}, ok: true, roles: []string{"requester", "view-only"}},
		"unknown":              {id: "zed", ok: false},
		"unknown IdP group":    {id: "zed", idp: []string{"nope"}, ok: false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			p, ok := FindPerson(objs, tc.id, tc.idp)
			if ok != tc.ok || (ok && !reflect.DeepEqual(p.Roles, tc.roles)) {
				t.Errorf("%v %+v", ok, p)
			}
		})
	}
}

func TestPersonMatches(t *testing.T) {
	p := Person{ID: "tom.tech", Groups: []string{"calgary-crew"}, Roles: []string{"technician"}}
	for q, want := range map[string]bool{"": true, "TOM": true, "crew": true, "techn": true, "dana": false} {
		if p.Matches(q) != want {
			t.Errorf("Matches(%q) = %v", q, !want)
		}
	}
}

func TestAccessSamples(t *testing.T) {
	s, objs := sampleTenant(t)
	tests := map[string]struct {
		sub  snapshot.Subject
		want map[string]string // module/action → kind or filter
		none []string          // modules left out
	}{
		"apprentice": {sub: snapshot.Subject{ID: "alex.apprentice"}, want: map[string]string{
			"workorders/create": "always",
			"workorders/edit":   `ownerId = "alex.apprentice" or assigneeIds contains "alex.apprentice"`,
			"assets/view":       "always",
		}, none: []string{"purchaseorders", "invoices"}},
		"requester through IdP group": {sub: snapshot.Subject{ID: "zed", Groups: []string{"acme-staff"}}, want: map[string]string{
			"workorders/create": "always", "workorders/view": `ownerId = "zed"`,
		}, none: []string{"assets"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := map[string]string{}
			mods := map[string]bool{}
			for _, m := range Access(s, objs, tc.sub) {
				mods[m.Module] = true
				for _, a := range m.Actions {
					v := string(a.Kind)
					if a.Filter != "" {
						v = a.Filter
					}
					got[m.Module+"/"+a.Action] = v
				}
			}
			for k, v := range tc.want {
				if got[k] != v {
					t.Errorf("%s: %q, want %q", k, got[k], v)
				}
			}
			for _, m := range tc.none {
				if mods[m] {
					t.Errorf("module %s listed: %v", m, got)
				}
			}
		})
	}
}

func TestPeopleYAMLObjects(t *testing.T) {
	// Nested twice, a cycle of memberGroups, and a fullAccess role reached
	// through extends.
	g := func(name string, members []string, memberGroups []string, roles ...string) v1alpha1.UserGroup {
		ug := v1alpha1.UserGroup{}
		ug.Name = name
		for _, m := range members {
			ug.Spec.Members = append(ug.Spec.Members, v1alpha1.SubjectID(m))
		}
		for _, m := range memberGroups {
			ug.Spec.MemberGroups = append(ug.Spec.MemberGroups, v1alpha1.ObjectName(m))
		}
		for _, r := range roles {
			ug.Spec.Roles = append(ug.Spec.Roles, v1alpha1.ObjectName(r))
		}
		return ug
	}
	root := v1alpha1.Role{Spec: v1alpha1.RoleSpec{FullAccess: true}}
	root.Name = "root"
	boss := v1alpha1.Role{Spec: v1alpha1.RoleSpec{Extends: []v1alpha1.ObjectName{"root"}}}
	boss.Name = "boss"
	objs := snapshot.Objects{
		Roles:  []v1alpha1.Role{root, boss},
		Groups: []v1alpha1.UserGroup{g("a", []string{"ann"}, nil), g("b", nil, []string{"a", "c"}), g("c", nil, []string{"b"}, "boss")},
	}
	people := People(objs)
	if len(people) != 1 {
		t.Fatalf("%+v", people)
	}
	p := people[0]
	if !reflect.DeepEqual(p.Nested, []string{"b", "c"}) || !p.FullAccess || strings.Join(p.Inherited, ",") != "root" {
		t.Errorf("%+v", p)
	}
}
