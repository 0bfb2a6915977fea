package snapshot

import (
	"fmt"
	"math"
	"testing"

	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/interpreter"
)

// mapActivation and refActivation are the map-based activation the views
// replaced, kept as the reference the differential tests compare against.
type mapActivation struct {
	subject, resource, action, context any
}

func (a *mapActivation) ResolveName(name string) (any, bool) {
	switch name {
	case "subject":
		return a.subject, true
	case "resource":
		return a.resource, true
	case "action":
		return a.action, true
	case "context":
		return a.context, true
	}
	return nil, false
}

func (a *mapActivation) Parent() interpreter.Activation { return nil }

// refActivation is the former activationFor (p != nil) and stepApplies
// activation (p == nil), verbatim apart from sharing the map builders.
func refActivation(p *profile, sub *Subject, action string, res *Resource, ctx map[string]any) *mapActivation {
	if p == nil {
		return &mapActivation{
			subject:  map[string]any{"id": "", "type": "", "properties": map[string]any{}},
			resource: refResourceMap(res),
			action:   map[string]any{"name": action},
			context:  map[string]any{},
		}
	}
	subject := map[string]any{"id": sub.ID, "type": sub.Type, "groups": p.groupNames, "roles": p.roleNames}
	if len(sub.Properties) == 0 && sub.Unit == "" && sub.Company == "" && sub.Companies == nil && sub.Facilities == nil && sub.Groups == nil {
		subject["properties"] = p.attr.props
	} else {
		subject["properties"] = mergedProps(p, sub)
	}
	if ctx == nil {
		ctx = map[string]any{}
	}
	return &mapActivation{subject: subject, resource: refResourceMap(res), action: map[string]any{"name": action}, context: ctx}
}

// refResourceMap is the former resourceMap, kept verbatim.
func refResourceMap(res *Resource) map[string]any {
	props := make(map[string]any, len(res.Properties)+7)
	for k, v := range res.Properties {
		props[k] = v
	}
	if res.OwnerID != "" {
		props[PropOwnerID] = res.OwnerID
	}
	if res.AssigneeIDs != nil {
		props[PropAssigneeIDs] = res.AssigneeIDs
	}
	if res.Unit != "" {
		props[PropUnit] = res.Unit
	}
	if res.FacilityID != "" {
		props[PropFacilityID] = res.FacilityID
	}
	if res.CompanyID != "" {
		props[PropCompanyID] = res.CompanyID
	}
	if res.ProjectContacts != nil {
		props[PropProjectContacts] = res.ProjectContacts
	}
	if res.Approvals != nil {
		list := make([]any, len(res.Approvals))
		for i, a := range res.Approvals {
			list[i] = map[string]any{"step": a.Step, "by": a.By}
		}
		props[PropApprovals] = list
	}
	return map[string]any{"type": res.Type, "id": res.ID, "properties": props}
}

var diffExprs = []string{
	`resource.properties.amount < 5000`,
	`resource.properties.amount > 100.5`,
	`resource.properties.amount == 100`,
	`resource.properties.amount in [100, 4999]`,
	`int(resource.properties.amount) < 5000`,
	`string(resource.properties.amount) == '100'`,
	`resource.properties.amount + 1 > 10`,
	`resource.properties['amount'] < 5000`,
	`resource.properties.missing < 5`,
	`resource.properties.missing || true`,
	`resource.properties.amount < 5000 || resource.properties.missing`,
	`resource.properties.name < 5`,
	`resource.properties.amount == '100'`,
	`has(resource.properties.amount)`,
	`has(resource.properties.nope)`,
	`has(resource.properties.amount.x)`,
	`has(resource.nope)`,
	`'amount' in resource.properties`,
	`'ownerId' in resource.properties`,
	`'unit' in resource.properties`,
	`size(resource.properties) > 3`,
	`dyn(size(resource.properties))`,
	`dyn(size(resource))`,
	`resource.properties.size() == resource.properties.map(k, k).size()`,
	`resource.properties.exists(k, k == 'amount')`,
	`resource.properties.all(k, k != 'secret')`,
	`resource.properties.exists_one(k, k == 'unit')`,
	`dyn(resource.properties.filter(k, k.startsWith('a')).size())`,
	`resource.properties.all(k, resource.properties[k] != 0)`,
	`resource.properties.ownerId == subject.id`,
	`resource.properties.unit`,
	`resource.properties.assigneeIds.exists(a, a == subject.id)`,
	`subject.id in resource.properties.assigneeIds`,
	`size(resource.properties.assigneeIds) == 0`,
	`resource.properties.assigneeIds[0] == 'u1'`,
	`resource.properties.tags.all(t, t.startsWith('a'))`,
	`resource.properties.tags[1]`,
	`resource.properties.nested.level.deep == 'x'`,
	`resource.properties.nested.missing == 1`,
	`resource.properties.nested`,
	`resource.properties.nullish == null`,
	`resource.properties.approvals.exists(a, a.step == 'mgr' && a.by != subject.id)`,
	`size(resource.properties.approvals) == 1`,
	`resource.properties.approvals[0].by`,
	`resource == resource`,
	`resource.properties == {'amount': 100.0}`,
	`{'amount': 100.0} == resource.properties`,
	`resource.properties != subject.properties`,
	`subject.properties == subject.properties`,
	`[resource.properties][0].amount < 5000`,
	`{'r': resource.properties}.r.amount < 5000`,
	`dyn(resource.properties)[1] == 2`,
	`type(resource.properties) == map`,
	`resource.type == 'po' && resource.id != ''`,
	`resource.properties[subject.properties.key] == 1`,
	`subject.properties.unit == resource.properties.unit`,
	`subject.properties.unit.startsWith('/ca')`,
	`subject.properties.level >= 3`,
	`subject.properties.level`,
	`subject.properties.companies.exists(c, c == resource.properties.companyId)`,
	`has(subject.properties.groups)`,
	`subject.properties.groups.size() > 0`,
	`dyn(size(subject.properties))`,
	`subject.properties.exists(k, k == 'unit')`,
	`'admin' in subject.roles`,
	`subject.groups.exists(g, g == 'ops')`,
	`size(subject.groups) == 2`,
	`dyn(size(subject))`,
	`has(subject.groups)`,
	`has(subject.nope)`,
	`subject.type == 'user'`,
	`subject == subject`,
	`action.name == 'approve'`,
	`action == {'name': 'approve'}`,
	`size(action) == 1`,
	`context.ip == '10.0.0.1'`,
	`has(context.ip)`,
	`dyn(size(context))`,
}

func diffProfiles() []*profile {
	return []*profile{
		{attr: attrs{props: map[string]any{"unit": "/ca", "companies": []string{"c1", "c2"}, "level": "3"}},
			groupNames: []string{"ops", "sales"}, roleNames: []string{"admin", "viewer"}},
		{attr: attrs{props: map[string]any{}}},
		{attr: attrs{props: map[string]any{"unit": []string{"/ca", "/us"}, "key": "amount"}}, groupNames: []string{"ops"}},
	}
}

func diffSubjects() []Subject {
	return []Subject{
		{ID: "u1"},
		{ID: "u2", Type: "user", Unit: "/us/x", Company: "c9", Properties: map[string]any{"level": 4.0, "unit": "/zz", "key": "amount", "x": nil}},
		{ID: "u3", Groups: []string{"idp"}, Companies: []string{}, Facilities: []string{"f1"}, Properties: map[string]any{"companies": "c3", "groups": 1.0}},
		{ID: "u4", Unit: "/ca/ab"},
	}
}

func diffResources() []Resource {
	return []Resource{
		{Type: "po", ID: "1", OwnerID: "u1", AssigneeIDs: []string{"u1", "u2"}, Unit: "/ca/ab", FacilityID: "f1", CompanyID: "c1",
			ProjectContacts: []string{"u3"}, Properties: map[string]any{
				"amount": 100.0, "name": "n", "tags": []any{"ab", "ac"}, "nullish": nil, "ownerId": "shadow", "secret": true,
				"nested": map[string]any{"level": map[string]any{"deep": "x"}}}},
		{},
		{Type: "po", AssigneeIDs: []string{}, Approvals: []Approval{{Step: "mgr", By: "u9"}},
			Properties: map[string]any{"amount": "100", "unit": "/kept", "tags": []any{"ab", 3.0}, "nested": "flat"}},
		{Type: "po", ID: "2", CompanyID: "c2", Properties: map[string]any{"amount": 4999.0, "approvals": "shadowed"}, Approvals: []Approval{}},
		{Type: "po", ID: "3", Properties: map[string]any{"amount": math.NaN(), "tags": []any{}}},
	}
}

// outcome is everything a decision can depend on, plus the raw result.
type outcome struct {
	value, ok, allow bool
	isErr            bool
	out              ref.Val
}

func evalBoth(c *condition, act interpreter.Activation) outcome {
	var o outcome
	o.value, o.ok = c.evalStrict(act, nil)
	o.allow = c.eval(act, nil)
	out, _, err := c.prg.Eval(act)
	o.isErr = err != nil
	o.out = out
	return o
}

func sameOutcome(a, b outcome) bool {
	if a.value != b.value || a.ok != b.ok || a.allow != b.allow || a.isErr != b.isErr {
		return false
	}
	if a.isErr {
		return true
	}
	if fa, ok := a.out.(types.Double); ok && math.IsNaN(float64(fa)) {
		fb, ok := b.out.(types.Double)
		return ok && math.IsNaN(float64(fb))
	}
	return a.out.Equal(b.out) == types.True && b.out.Equal(a.out) == types.True
}

// compareActivations evaluates c with the reference and the view-based
// activation and reports a difference.
func compareActivations(t *testing.T, c *condition, p *profile, sub *Subject, action string, res *Resource, ctx map[string]any) {
	t.Helper()
	want := evalBoth(c, refActivation(p, sub, action, res, ctx))
	act := newActivation(p, sub, action, res, ctx)
	got := evalBoth(c, act)
	same := sameOutcome(want, got)
	act.release()
	if !same {
		t.Errorf("%s\n  profile %+v subject %+v resource %+v ctx %v\n  reference %+v\n  views     %+v",
			c.src, p, sub, res, ctx, want, got)
	}
}

func TestActivationMatchesMaps(t *testing.T) {
	profiles, subjects, resources := diffProfiles(), diffSubjects(), diffResources()
	ctxs := []map[string]any{nil, {"ip": "10.0.0.1"}}
	for _, src := range diffExprs {
		c, err := compileCondition(src)
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		for ri := range resources {
			res := &resources[ri]
			for _, action := range []string{"approve", "view"} {
				// An approval step's condition: no subject.
				compareActivations(t, c, nil, nil, action, res, nil)
				for _, p := range profiles {
					for si := range subjects {
						for _, ctx := range ctxs {
							compareActivations(t, c, p, &subjects[si], action, res, ctx)
						}
					}
				}
			}
		}
	}
}

// TestActivationNoBuild guards the point of the views: a condition reading
// one property allocates no map.
func TestActivationNoBuild(t *testing.T) {
	c, err := compileCondition(`resource.properties.amount < 5000 && subject.properties.unit == '/ca' && action.name == 'approve'`)
	if err != nil {
		t.Fatal(err)
	}
	p, sub, res := diffProfiles()[0], &diffSubjects()[0], &diffResources()[0]
	run := func() {
		act := newActivation(p, sub, "approve", res, nil)
		if !c.eval(act, nil) {
			t.Fatal("condition is false")
		}
		act.release()
	}
	run()
	if n := testing.AllocsPerRun(100, run); n > 20 {
		t.Errorf("%v allocs per evaluation", n)
	}
}

func FuzzActivationMatchesMaps(f *testing.F) {
	for _, src := range diffExprs {
		f.Add(src, "amount", 100.0, "ab", uint8(0))
	}
	f.Add(`resource.properties[subject.properties.key] > 1.5`, "ownerId", -1.0, "", uint8(7))
	profiles, subjects, resources := diffProfiles(), diffSubjects(), diffResources()
	f.Fuzz(func(t *testing.T, src, key string, num float64, s string, pick uint8) {
		c, err := compileCondition(src)
		if err != nil {
			return
		}
		res := resources[int(pick)%len(resources)]
		props := map[string]any{key: num, "s": s, "l": []any{num, s}}
		for k, v := range res.Properties {
			if _, dup := props[k]; !dup {
				props[k] = v
			}
		}
		res.Properties = props
		p := profiles[int(pick/8)%len(profiles)]
		sub := subjects[int(pick/32)%len(subjects)]
		sub.Properties = map[string]any{key: s, "key": key}
		compareActivations(t, c, p, &sub, fmt.Sprint(pick), &res, map[string]any{key: num})
		compareActivations(t, c, nil, nil, s, &res, nil)
	})
}
