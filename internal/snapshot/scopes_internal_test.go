package snapshot

import (
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gatehouse-dev/gatehouse/api/v1alpha1"
)

// TestScopeTable: the table is the one list of scopes — the API's, the
// CRD enum's, and the hand-written evaluations in matchScopes and
// scopeFilter all cover exactly its rows.
func TestScopeTable(t *testing.T) {
	var names []v1alpha1.Scope
	for _, sp := range scopeTable {
		names = append(names, sp.Name)
	}
	if !slices.Equal(names, v1alpha1.AllScopes) {
		t.Fatalf("scope table %v, API %v", names, v1alpha1.AllScopes)
	}
	src, err := os.ReadFile("../../api/v1alpha1/common_types.go")
	if err != nil {
		t.Fatal(err)
	}
	enum := regexp.MustCompile(`\+kubebuilder:validation:Enum=(all;[^\s]+)`).FindSubmatch(src)
	if enum == nil || string(enum[1]) != strings.Join(func() []string {
		var out []string
		for _, n := range names {
			out = append(out, string(n))
		}
		return out
	}(), ";") {
		t.Fatalf("the CRD's scope enum %q is not the table's", enum)
	}
	// Every bit belongs to exactly one single-bit scope.
	for bit := range nScopes {
		n := 0
		for _, sp := range scopeTable {
			if sp.mask == 1<<bit {
				n++
			}
		}
		if n != 1 {
			t.Errorf("bit %d is the single bit of %d scopes", bit, n)
		}
	}

	// A subject whose groups set every attribute a scope reads, and records
	// that do or do not match each relative scope.
	g := v1alpha1.UserGroup{ObjectMeta: metav1.ObjectMeta{Name: "g"}, Spec: v1alpha1.UserGroupSpec{
		Members: []v1alpha1.SubjectID{"sam"}, Roles: []v1alpha1.ObjectName{"r"},
		Attributes: map[string]v1alpha1.AttributeValue{
			AttrUnit: v1alpha1.StringAttribute("/ca/ab"), AttrFacilities: v1alpha1.ListAttribute("f1"),
			AttrCompany: v1alpha1.StringAttribute("c1"), AttrCompanies: v1alpha1.ListAttribute("c2"),
		}}}
	r := v1alpha1.Role{ObjectMeta: metav1.ObjectMeta{Name: "r"}, Spec: v1alpha1.RoleSpec{Permissions: []v1alpha1.Permission{
		{Resources: []v1alpha1.ModuleName{"m"}, Actions: []v1alpha1.ActionName{"view"}}}}}
	s, probs := Compile("t", Objects{Roles: []v1alpha1.Role{r}, Groups: []v1alpha1.UserGroup{g}})
	if len(probs) > 0 {
		t.Fatal(probs)
	}
	pi, _ := s.lookup("sam")
	p, sub := &s.profiles[pi], &Subject{ID: "sam"}
	matching := map[string][]string{
		PropOwnerID: {"sam"}, PropAssigneeIDs: {"x", "sam"}, PropProjectContacts: {"sam"},
		PropUnit: {"/ca/ab"}, PropFacilityID: {"f1"}, PropCompanyID: {"c2"},
	}
	inTree := map[v1alpha1.Scope]string{v1alpha1.ScopeUnitTree: "/ca/ab/calgary"}
	for _, sp := range scopeTable {
		if !sp.Relative {
			continue
		}
		props := []string{sp.Property}
		if sp.Property == "" { // a combination: any of its parts
			for _, c := range sp.Covers {
				cs, _ := scopeSpec(c)
				props = append(props[:0:0], cs.Property)
				break
			}
		}
		for _, prop := range props {
			pp := standardProperty(t, prop)
			yes, no := &Resource{Type: "m"}, &Resource{Type: "m"}
			pp.set(yes, matching[prop])
			pp.set(no, []string{"someone-else"})
			if prop == PropUnit {
				no.Unit = "/us"
			}
			if s.matchScopes(sp.mask, p, sub, yes) == 0 {
				t.Errorf("matchScopes: %s does not select a record with %s %v", sp.Name, prop, matching[prop])
			}
			if s.matchScopes(sp.mask, p, sub, no) != 0 {
				t.Errorf("matchScopes: %s selects a record of someone else", sp.Name)
			}
			f := s.scopeFilter(sp.mask, p, sub)
			if !f.Matches(yes) || f.Matches(no) {
				t.Errorf("scopeFilter: %s gives %+v", sp.Name, f)
			}
			if u, ok := inTree[sp.Name]; ok {
				deep := &Resource{Type: "m", Unit: u}
				if s.matchScopes(sp.mask, p, sub, deep) == 0 || !f.Matches(deep) {
					t.Errorf("%s does not select a unit below the subject's", sp.Name)
				}
			}
		}
	}
}

func standardProperty(t *testing.T, name string) StandardProperty {
	t.Helper()
	for _, p := range standardProperties {
		if p.Name == name {
			return p
		}
	}
	t.Fatalf("%s is not a standard property", name)
	return StandardProperty{}
}

func TestScopeWithin(t *testing.T) {
	cases := map[string]struct {
		scope, held v1alpha1.Scope
		want        bool
	}{
		"same":                        {v1alpha1.ScopeUnit, v1alpha1.ScopeUnit, true},
		"all holds everything":        {v1alpha1.ScopeCompany, v1alpha1.ScopeAll, true},
		"empty is all":                {"", v1alpha1.ScopeAll, true},
		"all is not within own":       {"", v1alpha1.ScopeOwn, false},
		"own within ownOrAssigned":    {v1alpha1.ScopeOwn, v1alpha1.ScopeOwnOrAssigned, true},
		"ownOrAssigned not in own":    {v1alpha1.ScopeOwnOrAssigned, v1alpha1.ScopeOwn, false},
		"unit within unitTree":        {v1alpha1.ScopeUnit, v1alpha1.ScopeUnitTree, true},
		"unitTree not within unit":    {v1alpha1.ScopeUnitTree, v1alpha1.ScopeUnit, false},
		"facility not within company": {v1alpha1.ScopeFacility, v1alpha1.ScopeCompany, false},
		"unknown scope":               {"everything", v1alpha1.ScopeAll, false},
	}
	for name, tc := range cases {
		if got := ScopeWithin(tc.scope, tc.held); got != tc.want {
			t.Errorf("%s: ScopeWithin(%q, %q) = %v", name, tc.scope, tc.held, got)
		}
	}
}

// TestStandardProperties: every hand-written reader of record properties
// covers every standard property (Plan filters do not read approvals).
func TestStandardProperties(t *testing.T) {
	for _, sp := range standardProperties {
		t.Run(sp.Name, func(t *testing.T) {
			res := &Resource{Type: "m"}
			sp.set(res, []string{"v1"})
			if _, ok := resourceProps(res)[sp.Name]; !ok {
				t.Errorf("resourceProps leaves %s out", sp.Name)
			}
			if sp.Kind != PropApprovalList {
				if _, ok := propertyValue(res, sp.Name); !ok {
					t.Errorf("propertyValue does not read %s", sp.Name)
				}
			}
			// The CEL activation: a condition that needs the property.
			r := v1alpha1.Role{ObjectMeta: metav1.ObjectMeta{Name: "r"}, Spec: v1alpha1.RoleSpec{Permissions: []v1alpha1.Permission{
				{Resources: []v1alpha1.ModuleName{"m"}, Actions: []v1alpha1.ActionName{"view"},
					When: v1alpha1.CELExpression(fmt.Sprintf("has(resource.properties.%s)", sp.Name))}}}}
			g := v1alpha1.UserGroup{ObjectMeta: metav1.ObjectMeta{Name: "g"}, Spec: v1alpha1.UserGroupSpec{
				Members: []v1alpha1.SubjectID{"sam"}, Roles: []v1alpha1.ObjectName{"r"}}}
			s, probs := Compile("t", Objects{Roles: []v1alpha1.Role{r}, Groups: []v1alpha1.UserGroup{g}})
			if len(probs) > 0 {
				t.Fatal(probs)
			}
			if d := s.Check(&Request{Subject: Subject{ID: "sam"}, Action: "view", Resource: *res}); !d.Allowed {
				t.Errorf("a condition does not see %s: %s", sp.Name, d.Reason)
			}
			if d := s.Check(&Request{Subject: Subject{ID: "sam"}, Action: "view", Resource: Resource{Type: "m"}}); d.Allowed {
				t.Errorf("a condition sees %s on a record without it", sp.Name)
			}
		})
	}
}
