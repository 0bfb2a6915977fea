package views

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/manifest"
	"github.com/gatehouse-dev/gatehouse/internal/snapshot"
)

func samplesTenant(t *testing.T) (snapshot.Objects, *snapshot.Snapshot, []snapshot.Problem) {
	t.Helper()
	set, err := manifest.Read([]string{filepath.Join("..", "..", "config", "samples")}, manifest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	objs := set.SnapshotObjects("acme-field-services")
	snap, problems := snapshot.Compile("acme-field-services", objs)
	return objs, snap, problems
}

func TestWhatIfEdits(t *testing.T) {
	objs, snap, problems := samplesTenant(t)
	tests := map[string]struct {
		edits   []string
		want    []string // change words
		changed string
		bad     string // an error containing this
	}{
		"technicians gain delete on workorders": {edits: []string{"Role/technician/workorders/delete/all"},
			want: []string{"gained delete workorders: tina.tech,tom.tech"}, changed: "Role/technician"},
		"a scope change is a loss and a gain": {edits: []string{"Role/technician/workorders/edit/all"},
			want:    []string{"gained edit workorders: tina.tech,tom.tech", "lost edit workorders (scope unitTree): tina.tech,tom.tech"},
			changed: "Role/technician"},
		"a removal splits the permission": {edits: []string{"Role/technician/workorders/assign/none"},
			want: []string{"lost assign workorders (scope unitTree): tina.tech,tom.tech"}, changed: "Role/technician"},
		"granting what is granted changes nothing": {edits: []string{"Role/technician/workorders/view/unitTree"}},
		"a field grant": {edits: []string{"FieldPolicy/workorder-fields/margin/technician/read"},
			want: []string{"field margin hidden→read: tina.tech,tom.tech"}, changed: "FieldPolicy/workorder-fields"},
		"an unknown role":    {edits: []string{"Role/nobody/workorders/view/all"}, bad: `no Role "nobody"`},
		"a bad scope":        {edits: []string{"Role/technician/workorders/view/everywhere"}, bad: "not a scope"},
		"a bad access":       {edits: []string{"FieldPolicy/workorder-fields/margin/technician/maybe"}, bad: "not write"},
		"a wildcard":         {edits: []string{"Role/technician/*/view/all"}, bad: "wildcards"},
		"too few parts":      {edits: []string{"Role/technician"}, bad: "want Role/"},
		"a long edit is cut": {edits: []string{"Role/" + strings.Repeat("x", 100) + "/a/b/c"}, bad: "…"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var edits []Edit
			var err error
			for _, s := range tc.edits {
				var e Edit
				if e, err = ParseEdit(s); err != nil {
					break
				}
				if e.String() != s {
					t.Errorf("String %q, want %q", e.String(), s)
				}
				edits = append(edits, e)
			}
			var edited snapshot.Objects
			if err == nil {
				edited, err = ApplyEdits(objs, edits)
			}
			if tc.bad != "" {
				if err == nil || !strings.Contains(err.Error(), tc.bad) || strings.Contains(err.Error(), strings.Repeat("x", 50)) {
					t.Fatalf("error %v, want %q", err, tc.bad)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			w := Evaluate("acme-field-services", snap, problems, objs, edited, snapshot.DefaultLimits())
			var got []string
			for _, p := range w.Changes.Permissions {
				got = append(got, p.Change+" "+GrantWords(p)+": "+strings.Join(p.Subjects, ","))
			}
			for _, f := range w.Changes.Fields {
				got = append(got, "field "+f.Field+" "+string(f.From)+"→"+string(f.To)+": "+strings.Join(f.Subjects, ","))
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("changes %q, want %q", got, tc.want)
			}
			var changed []string
			for _, r := range w.Changed {
				changed = append(changed, r.String())
			}
			if strings.Join(changed, ",") != tc.changed {
				t.Errorf("changed %v, want %q", changed, tc.changed)
			}
			if len(w.Problems) > 0 {
				t.Errorf("problems %v", w.Problems)
			}
			// The loaded objects are left alone.
			if again := ChangedObjects(objs, CopyObjects(objs)); len(again) != 0 {
				t.Errorf("objects changed in place: %v", again)
			}
		})
	}
}

func TestWhatIfReplaceObject(t *testing.T) {
	objs, snap, problems := samplesTenant(t)
	ref := ObjectRef{Kind: "UserGroup", Name: "calgary-crew"}
	orig, ok := ObjectYAML(objs, ref)
	if !ok || !strings.Contains(string(orig), "tom.tech") {
		t.Fatalf("ObjectYAML: %s", orig)
	}
	tests := map[string]struct {
		yaml     string
		lost     string
		problems string
		bad      string
	}{
		"the same object":    {yaml: string(orig)},
		"a member removed":   {yaml: strings.Replace(string(orig), "- tom.tech\n", "", 1), lost: "tom.tech"},
		"a namespace given":  {yaml: strings.Replace(string(orig), "name: calgary-crew", "name: calgary-crew\n  namespace: acme-field-services", 1)},
		"an unknown role":    {yaml: strings.Replace(string(orig), "- technician", "- nobody", 1), lost: "tina.tech", problems: "Role \"nobody\" does not exist"},
		"another kind":       {yaml: strings.Replace(string(orig), "kind: UserGroup", "kind: Role", 1), bad: "kind is"},
		"another name":       {yaml: strings.Replace(string(orig), "name: calgary-crew", "name: other", 1), bad: "metadata.name"},
		"another namespace":  {yaml: strings.Replace(string(orig), "name: calgary-crew", "name: calgary-crew\n  namespace: other", 1), bad: "metadata.namespace"},
		"two objects":        {yaml: string(orig) + "---\n" + string(orig), bad: "exactly one"},
		"not YAML":           {yaml: "kind: [", bad: "yaml:"},
		"an unknown field":   {yaml: string(orig) + "extra: 1\n", bad: "extra"},
		"too large":          {yaml: string(orig) + "#" + strings.Repeat("x", MaxYAML), bad: "at most"},
		"another apiVersion": {yaml: strings.Replace(string(orig), "v1alpha1", "v9", 1), bad: "apiVersion"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			edited, err := ReplaceObject(objs, "acme-field-services", ref, []byte(tc.yaml))
			if tc.bad != "" {
				if err == nil || !strings.Contains(err.Error(), tc.bad) || len(err.Error()) > 300 {
					t.Fatalf("error %v, want %q", err, tc.bad)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			w := Evaluate("acme-field-services", snap, problems, objs, edited, snapshot.DefaultLimits())
			lost := ""
			for _, p := range w.Changes.Permissions {
				if p.Change == snapshot.Lost {
					lost += strings.Join(p.Subjects, ",") + " "
				}
			}
			if tc.lost == "" && lost != "" || !strings.Contains(lost, tc.lost) {
				t.Errorf("lost %q, want %q", lost, tc.lost)
			}
			var ps []string
			for _, p := range w.Problems {
				ps = append(ps, p.String())
			}
			if got := strings.Join(ps, "; "); tc.problems == "" && got != "" || !strings.Contains(got, tc.problems) {
				t.Errorf("problems %q, want %q", got, tc.problems)
			}
		})
	}
}

func TestWhatIfTogglesAndPatch(t *testing.T) {
	objs, _, _ := samplesTenant(t)
	m := RoleToggles(objs)
	var tech *ToggleRow
	for i := range m.Rows {
		if m.Rows[i].Role == "technician" {
			tech = &m.Rows[i]
		}
	}
	if tech == nil {
		t.Fatal("no technician row")
	}
	cells := map[string]ToggleCell{}
	for _, mm := range tech.Modules {
		for _, c := range mm.Cells {
			cells[c.Module+"/"+c.Action] = c
		}
	}
	for key, want := range map[string]string{
		"workorders/delete": "Role/technician/workorders/delete/unitTree",
		"workorders/view":   "Role/technician/workorders/view/none",
		"assets/view":       "Role/technician/assets/view/unitTree", // inherited from field-base; the role edits assets in its unit tree
	} {
		if got := cells[key].Toggle.String(); got != want {
			t.Errorf("%s toggles %q, want %q", key, got, want)
		}
	}
	if cells["assets/view"].Inherited != "all" {
		t.Errorf("assets/view inherited %q", cells["assets/view"].Inherited)
	}
	_, rows := FieldToggles(objs)
	found := false
	for _, r := range rows {
		for _, c := range r.Cells {
			if r.Field == "margin" && c.Role == "technician" {
				found = c.Access == "hidden" && c.Toggle.String() == "FieldPolicy/workorder-fields/margin/technician/read"
			}
		}
	}
	if !found {
		t.Error("no margin toggle for technician")
	}
	e, _ := ParseEdit("Role/technician/workorders/delete/unitTree")
	edited, err := ApplyEdits(objs, []Edit{e})
	if err != nil {
		t.Fatal(err)
	}
	patch := Patch(objs, edited, ChangedObjects(objs, edited))
	for _, want := range []string{"--- a/Role/technician.yaml\n+++ b/Role/technician.yaml\n@@ -", "+    - delete\n"} {
		if !strings.Contains(patch, want) {
			t.Errorf("patch lacks %q:\n%s", want, patch)
		}
	}
	if UnifiedDiff("a", "b", "x\n", "x\n") != "" {
		t.Error("a diff of equal texts")
	}
	if got := UnifiedDiff("a", "b", "1\n2\n3\n4\n5\n", "1\n2\n3\nfour\n5\n"); got != "--- a\n+++ b\n@@ -1,5 +1,5 @@\n 1\n 2\n 3\n-4\n+four\n 5\n" {
		t.Errorf("UnifiedDiff:\n%s", got)
	}
}
