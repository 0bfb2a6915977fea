package views

import (
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/manifest"
	"github.com/gatehouse-dev/gatehouse/internal/snapshot"
)

// sampleTenant compiles config/samples.
func sampleTenant(t testing.TB) (*snapshot.Snapshot, snapshot.Objects) {
	t.Helper()
	set, err := manifest.Read([]string{filepath.Join("..", "..", "config", "samples")}, manifest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	objs := set.ByTenant()["acme-field-services"]
	s, problems := snapshot.Compile("acme-field-services", objs)
	if s == nil || len(problems) > 0 {
		t.Fatalf("samples: %v", problems)
	}
	return s, objs
}

func resource(t testing.TB, typ string, props ...string) snapshot.Resource {
	t.Helper()
	p, err := ParseProps(props)
	if err != nil {
		t.Fatal(err)
	}
	res, err := MakeResource(typ, "", p)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestExplainSamples(t *testing.T) {
	s, _ := sampleTenant(t)
	tests := map[string]struct {
		subject string
		groups  []string
		action  string
		module  string
		props   []string
		allowed bool
		reason  string
		grant   string
		fields  string
	}{
		"apprentice edits a work order assigned to him": {subject: "alex.apprentice", action: "edit", module: "workorders",
			props: []string{"assigneeIds=alex.apprentice"}, allowed: true, reason: snapshot.ReasonAllowed,
			grant: "role limited-technician via group calgary-apprentices: spec.permissions[0], scope ownOrAssigned", fields: FieldsPartial},
		"apprentice may not edit someone else's": {subject: "alex.apprentice", action: "edit", module: "workorders",
			props: []string{"assigneeIds=tom.tech"}, reason: snapshot.ReasonScopeNotMatched, fields: FieldsPartial},
		"director has full access": {subject: "dana.director", action: "archive", module: "invoices",
			allowed: true, reason: snapshot.ReasonAllowed, grant: "role administrator via group head-office: fullAccess", fields: FieldsAll},
		"unknown subject":              {subject: "nobody", action: "view", module: "workorders", reason: snapshot.ReasonUnknownSubject, fields: FieldsNone},
		"IdP group maps a role":        {subject: "zed", groups: []string{"acme-staff"}, action: "create", module: "workorders", allowed: true, reason: snapshot.ReasonAllowed, fields: FieldsPartial},
		"unknown module is a decision": {subject: "tom.tech", action: "view", module: "rockets", reason: snapshot.ReasonUnknownResource, fields: FieldsAll},
		"unknown action is a decision": {subject: "tom.tech", action: "launch", module: "workorders", reason: snapshot.ReasonUnknownAction, fields: FieldsPartial},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			x := Explain(s, &snapshot.Request{Subject: snapshot.Subject{ID: tc.subject, Groups: tc.groups}, Action: tc.action, Resource: resource(t, tc.module, tc.props...)})
			if x.Allowed != tc.allowed || x.Reason != tc.reason {
				t.Fatalf("got %v %s, want %v %s", x.Allowed, x.Reason, tc.allowed, tc.reason)
			}
			if x.Message == "" {
				t.Errorf("no sentence for %s", x.Reason)
			}
			if tc.grant != "" && x.Grant != tc.grant {
				t.Errorf("grant %q, want %q", x.Grant, tc.grant)
			}
			if x.FieldLevel != tc.fields {
				t.Errorf("fields %s, want %s (%+v)", x.FieldLevel, tc.fields, x.Fields)
			}
			if x.Allowed != contains(x.Actions, tc.action) {
				t.Errorf("actions %v disagree with the decision", x.Actions)
			}
		})
	}
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

func TestWhoCanSamples(t *testing.T) {
	s, _ := sampleTenant(t)
	tests := map[string]struct {
		action, module string
		props          []string
		want           []string
	}{
		"edit a Calgary work order": {action: "edit", module: "workorders", props: []string{"unit=/ca/ab/calgary"},
			want: []string{"dana.director", "sam.supervisor", "tina.tech", "tom.tech"}},
		"edit an assigned work order elsewhere": {action: "edit", module: "workorders", props: []string{"unit=/ca/on", "assigneeIds=alex.apprentice"},
			want: []string{"alex.apprentice", "dana.director"}},
		"nobody launches": {action: "launch", module: "workorders", want: []string{"dana.director"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			rows := WhoCan(s, tc.action, resource(t, tc.module, tc.props...))
			var got []string
			for _, r := range rows {
				got = append(got, r.Subject)
				if r.Grant == "" || r.Role == "" || r.Group == "" {
					t.Errorf("row without its grant: %+v", r)
				}
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestParseProps(t *testing.T) {
	tests := map[string]struct {
		props []string
		check func(snapshot.Resource) bool
		key   string // of the PropError, "-" for none
	}{
		"standard and other properties": {props: []string{"ownerId=42", "assigneeIds=a, b", "amount=1500", "note=x=y"}, key: "-",
			check: func(r snapshot.Resource) bool {
				return r.OwnerID == "42" && strings.Join(r.AssigneeIDs, "|") == "a|b" && r.Properties["amount"] == int64(1500) && r.Properties["note"] == "x=y"
			}},
		"approvals": {props: []string{"approvals=supervisor:sam"}, key: "-",
			check: func(r snapshot.Resource) bool { return len(r.Approvals) == 1 && r.Approvals[0].By == "sam" }},
		"no =":           {props: []string{"amount"}, key: ""},
		"empty key":      {props: []string{"=5"}, key: ""},
		"approval no by": {props: []string{"approvals=sam"}, key: "approvals"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			p, err := ParseProps(tc.props)
			var pe *PropError
			if tc.key != "-" {
				if !errors.As(err, &pe) || pe.Key != tc.key || pe.Problem == "" {
					t.Fatalf("error %v, want a PropError with key %q", err, tc.key)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			res, err := MakeResource("purchaseorders", "", p)
			if err != nil || !tc.check(res) {
				t.Errorf("%+v %v", res, err)
			}
		})
	}
	if _, err := MakeResource("workorders", "", map[string]any{"unit": "/ca/../on"}); err == nil {
		t.Error("a non-canonical unit is accepted")
	}
}
