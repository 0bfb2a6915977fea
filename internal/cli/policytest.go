package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/gatehouse-dev/gatehouse/internal/manifest"
	"github.com/gatehouse-dev/gatehouse/internal/snapshot"
)

// PolicyTestKind is the kind of a policy test document.
const PolicyTestKind = "PolicyTest"

const testLong = `Test runs policy unit tests against the compiled manifests and prints
"N passed, N failed"; each failure shows what was expected and what was got.
Exit code 1 when a test fails, 2 when a test file is invalid.

TESTS are files or directories (read recursively, *.yaml and *.yml). A test
file holds one or more YAML documents of this form:

  apiVersion: cli.gatehouse.dev/v1alpha1   # optional
  kind: PolicyTest                         # optional
  tenant: acme-field-services              # optional: default --tenant, else
                                           # the only tenant of the manifests
  cases:
  - name: technicians edit work orders of their unit
    subject: tom.tech                      # an ID, or:
    # subject:
    #   id: alice
    #   groups: [acme-staff]               # identity-provider groups
    #   properties: {unit: /ca/ab}         # unit, company, companies, facilities, ...
    action: edit
    resource: workorders/42                # TYPE[/ID], or:
    # resource:
    #   type: workorders
    #   id: "42"
    #   properties: {unit: /ca/ab/calgary, ownerId: bob, assigneeIds: [a, b],
    #                amount: 3000, approvals: [{step: supervisor, by: sam}]}
    context: {}                            # optional request context (CEL)
    expect:                                # every expectation is optional
      allowed: true                        # Check(...).Allowed
      reason: Allowed                      # Check(...).Reason
      fields:                              # Fields(...): each list compared
        readable: [margin, status]         #   exactly (sorted) when given
        writable: [status]
        hidden: [billingRate]
      approvers:                           # ApprovalPlan(resource): applicable
      - step: supervisor                   #   steps in order, with their
        eligible: [sam.supervisor]         #   eligible approvers
      currentStep: supervisor              # ApprovalPlan(resource).Current
                                           #   ("" when complete)
      canApprove: false                    # CanApprove(subject, resource)

A case needs a subject for allowed, reason, fields and canApprove, and an
action for allowed and reason. Approver expectations need only a resource.`

// testFile is one policy test document.
type testFile struct {
	APIVersion string     `json:"apiVersion,omitempty"`
	Kind       string     `json:"kind,omitempty"`
	Tenant     string     `json:"tenant,omitempty"`
	Cases      []testCase `json:"cases"`
}

// testCase is one policy test.
type testCase struct {
	Name     string         `json:"name"`
	Subject  *testSubject   `json:"subject,omitempty"`
	Action   string         `json:"action,omitempty"`
	Resource *testResource  `json:"resource,omitempty"`
	Context  map[string]any `json:"context,omitempty"`
	Expect   testExpect     `json:"expect"`
}

// testExpect are the expectations of a case; nil means not checked.
type testExpect struct {
	Allowed     *bool       `json:"allowed,omitempty"`
	Reason      *string     `json:"reason,omitempty"`
	Fields      *testFields `json:"fields,omitempty"`
	Approvers   *[]testStep `json:"approvers,omitempty"`
	CurrentStep *string     `json:"currentStep,omitempty"`
	CanApprove  *bool       `json:"canApprove,omitempty"`
}

type testFields struct {
	Readable *[]string `json:"readable,omitempty"`
	Writable *[]string `json:"writable,omitempty"`
	Hidden   *[]string `json:"hidden,omitempty"`
}

type testStep struct {
	Step     string   `json:"step"`
	Eligible []string `json:"eligible"`
}

// testSubject is a subject ID or {id, groups, properties}.
type testSubject struct {
	ID         string         `json:"id"`
	Groups     []string       `json:"groups,omitempty"`
	Properties map[string]any `json:"properties,omitempty"`
}

// UnmarshalJSON accepts a string (the ID) or an object.
func (s *testSubject) UnmarshalJSON(data []byte) error {
	var id string
	if json.Unmarshal(data, &id) == nil {
		*s = testSubject{ID: id}
		return nil
	}
	type plain testSubject
	return strictJSON(data, (*plain)(s))
}

// testResource is "TYPE[/ID]" or {type, id, properties}.
type testResource struct {
	Type       string         `json:"type"`
	ID         string         `json:"id,omitempty"`
	Properties map[string]any `json:"properties,omitempty"`
}

// UnmarshalJSON accepts a string (TYPE[/ID]) or an object.
func (r *testResource) UnmarshalJSON(data []byte) error {
	var s string
	if json.Unmarshal(data, &s) == nil {
		typ, id := splitResource(s)
		*r = testResource{Type: typ, ID: id}
		return nil
	}
	type plain testResource
	return strictJSON(data, (*plain)(r))
}

// strictJSON decodes with unknown fields rejected and numbers kept as int64
// when whole.
func strictJSON(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return err
	}
	fixNumbers(reflect.ValueOf(v))
	return nil
}

// fixNumbers replaces json.Number values in maps by int64 or float64.
func fixNumbers(v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			fixNumbers(v.Elem())
		}
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).IsExported() {
				fixNumbers(v.Field(i))
			}
		}
	case reflect.Map:
		if m, ok := v.Interface().(map[string]any); ok {
			for k, x := range m {
				m[k] = numbers(x)
			}
		}
	}
}

func numbers(x any) any {
	switch t := x.(type) {
	case json.Number:
		if i, err := t.Int64(); err == nil {
			return i
		}
		f, _ := t.Float64()
		return f
	case map[string]any:
		for k, e := range t {
			t[k] = numbers(e)
		}
	case []any:
		for i, e := range t {
			t[i] = numbers(e)
		}
	}
	return x
}

// loadedCase is a case with its position and tenant.
type loadedCase struct {
	testCase
	pos    string
	tenant string
}

// testResult is the result of one case.
type testResult struct {
	Name   string     `json:"name"`
	Pos    string     `json:"pos"`
	Passed bool       `json:"passed"`
	Diffs  []testDiff `json:"diffs,omitempty"`
}

// testDiff is one expectation that did not hold.
type testDiff struct {
	What string `json:"what"`
	Want string `json:"want"`
	Got  string `json:"got"`
}

// testSummary is the output of gatehouse test.
type testSummary struct {
	Passed  int          `json:"passed"`
	Failed  int          `json:"failed"`
	Results []testResult `json:"results"`
}

func newTestCmd(e *env) *cobra.Command {
	var (
		src     source
		verbose bool
		run     string
	)
	cmd := &cobra.Command{
		Use:     "test -f DIR TESTS...",
		Short:   "Run policy unit tests (subject, action, record → expected decision, fields, approvers)",
		Long:    testLong,
		Example: `  gatehouse test -f config/samples config/samples/tests`,
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cases, err := loadTests(args, src.tenant)
			if err != nil {
				return err
			}
			set, err := src.read(e)
			if err != nil {
				return err
			}
			builds := map[string]*tenantBuild{}
			tenants := set.Tenants()
			var sum testSummary
			for _, c := range cases {
				if run != "" && !strings.Contains(c.Name, run) {
					continue
				}
				tenant := c.tenant
				if tenant == "" {
					if len(tenants) != 1 {
						return usageError("%s: the manifests hold %d tenants (%s): set tenant in the test file or pass --tenant", c.pos, len(tenants), strings.Join(tenants, ", "))
					}
					tenant = tenants[0]
				}
				b := builds[tenant]
				if b == nil {
					if !contains(tenants, tenant) {
						return usageError("%s: tenant %q has no objects in the manifests", c.pos, tenant)
					}
					b = compileTenant(set, tenant)
					if n := len(b.problems); n > 0 {
						fmt.Fprintf(e.stderr, "gatehouse: warning: tenant %s has %d problem(s); objects with problems are left out (see gatehouse compile)\n", tenant, n)
					}
					builds[tenant] = b
				}
				r, err := runCase(b.snap, c)
				if err != nil {
					return usageError("%s: %v", c.pos, err)
				}
				if r.Passed {
					sum.Passed++
				} else {
					sum.Failed++
				}
				sum.Results = append(sum.Results, r)
			}
			if sum.Results == nil {
				sum.Results = []testResult{}
			}
			if ok, err := e.structured(sum); ok {
				if err == nil && sum.Failed > 0 {
					return failed()
				}
				return err
			}
			for _, r := range sum.Results {
				if r.Passed {
					if verbose {
						fmt.Fprintf(e.stdout, "%s %s %s\n", e.paint(green, "ok  "), r.Pos, r.Name)
					}
					continue
				}
				fmt.Fprintf(e.stdout, "%s %s %s\n", e.paint(red, "FAIL"), r.Pos, r.Name)
				for _, d := range r.Diffs {
					fmt.Fprintf(e.stdout, "    %s:\n", d.What)
					fmt.Fprintf(e.stdout, "      %s\n", e.paint(red, "- want: "+d.Want))
					fmt.Fprintf(e.stdout, "      %s\n", e.paint(green, "+ got:  "+d.Got))
				}
			}
			fmt.Fprintf(e.stdout, "%d passed, %d failed\n", sum.Passed, sum.Failed)
			if sum.Failed > 0 {
				return failed()
			}
			return nil
		},
	}
	src.addFlags(cmd, "tenant of test files that name none (default: the only tenant of the manifests)")
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "also list the passing cases")
	cmd.Flags().StringVar(&run, "run", "", "run only the cases whose name contains this text")
	return cmd
}

// loadTests reads the test files of paths.
func loadTests(paths []string, tenant string) ([]loadedCase, error) {
	var files []string
	for _, p := range paths {
		info, err := os.Stat(p)
		if err != nil {
			return nil, usageError("%v", err)
		}
		if !info.IsDir() {
			files = append(files, p)
			continue
		}
		err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			ext := strings.ToLower(filepath.Ext(path))
			if !d.IsDir() && (ext == ".yaml" || ext == ".yml") {
				files = append(files, path)
			}
			return nil
		})
		if err != nil {
			return nil, usageError("%v", err)
		}
	}
	sort.Strings(files)
	var cases []loadedCase
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, usageError("%v", err)
		}
		docs, err := manifest.ParseDocuments(f, data)
		if err != nil {
			return nil, usageError("%v", err)
		}
		for _, d := range docs {
			var tf testFile
			if err := d.Decode(&tf); err != nil {
				return nil, usageError("%v", err)
			}
			if tf.Kind != "" && tf.Kind != PolicyTestKind {
				return nil, usageError("%s: kind %s is not a %s", d.Pos(d.Line), tf.Kind, PolicyTestKind)
			}
			if tf.Tenant == "" {
				tf.Tenant = tenant
			}
			for i, c := range tf.Cases {
				path := fmt.Sprintf("cases[%d]", i)
				lc := loadedCase{testCase: c, pos: d.Pos(d.Locate(path)), tenant: tf.Tenant}
				if lc.Name == "" {
					lc.Name = path
				}
				if err := validateCase(&lc.testCase); err != nil {
					return nil, usageError("%s: %s: %v", lc.pos, lc.Name, err)
				}
				cases = append(cases, lc)
			}
		}
	}
	if len(cases) == 0 {
		return nil, usageError("no test cases found in %s", strings.Join(paths, ", "))
	}
	return cases, nil
}

// validateCase checks that a case has what its expectations need.
func validateCase(c *testCase) error {
	x := c.Expect
	if x.Allowed == nil && x.Reason == nil && x.Fields == nil && x.Approvers == nil && x.CurrentStep == nil && x.CanApprove == nil {
		return fmt.Errorf("expect is empty: nothing to test")
	}
	if c.Resource == nil || c.Resource.Type == "" {
		return fmt.Errorf("resource is required")
	}
	if (x.Allowed != nil || x.Reason != nil || x.Fields != nil || x.CanApprove != nil) && (c.Subject == nil || c.Subject.ID == "") {
		return fmt.Errorf("subject is required")
	}
	if (x.Allowed != nil || x.Reason != nil) && c.Action == "" {
		return fmt.Errorf("action is required")
	}
	return nil
}

// runCase evaluates one case against a snapshot.
func runCase(s *snapshot.Snapshot, c loadedCase) (testResult, error) {
	r := testResult{Name: c.Name, Pos: c.pos}
	res, err := makeResource(c.Resource.Type, c.Resource.ID, c.Resource.Properties)
	if err != nil {
		return r, err
	}
	var sub snapshot.Subject
	if c.Subject != nil {
		sub, err = makeSubject(c.Subject.ID, c.Subject.Groups, c.Subject.Properties)
		if err != nil {
			return r, err
		}
	}
	req := &snapshot.Request{Subject: sub, Action: c.Action, Resource: res, Context: c.Context}
	x := c.Expect
	diff := func(what, want, got string) {
		if want != got {
			r.Diffs = append(r.Diffs, testDiff{What: what, Want: want, Got: got})
		}
	}
	if x.Allowed != nil || x.Reason != nil {
		d := s.Check(req)
		if x.Allowed != nil {
			got := fmt.Sprint(d.Allowed)
			if d.Allowed {
				got += " (" + grantText(d.Matched) + ")"
			} else {
				got += " (" + d.Reason + ")"
			}
			if *x.Allowed != d.Allowed {
				diff("allowed", fmt.Sprint(*x.Allowed), got)
			}
		}
		if x.Reason != nil {
			diff("reason", *x.Reason, d.Reason)
		}
	}
	if f := x.Fields; f != nil {
		got := s.Fields(req)
		if f.Readable != nil {
			diff("fields.readable", listText(*f.Readable), listText(got.Readable))
		}
		if f.Writable != nil {
			diff("fields.writable", listText(*f.Writable), listText(got.Writable))
		}
		if f.Hidden != nil {
			diff("fields.hidden", listText(*f.Hidden), listText(got.Hidden))
		}
	}
	if x.Approvers != nil || x.CurrentStep != nil {
		plan := s.ApprovalPlan(res)
		if x.Approvers != nil {
			var want, got []string
			for _, st := range *x.Approvers {
				want = append(want, st.Step+": "+listText(st.Eligible))
			}
			for _, st := range plan.Steps {
				got = append(got, st.Name+": "+listText(st.Eligible))
			}
			diff("approvers", strings.Join(want, "; "), strings.Join(got, "; "))
		}
		if x.CurrentStep != nil {
			diff("currentStep", quote(*x.CurrentStep), quote(plan.Current))
		}
	}
	if x.CanApprove != nil {
		d := s.CanApprove(sub, res)
		if *x.CanApprove != d.Allowed {
			diff("canApprove", fmt.Sprint(*x.CanApprove), fmt.Sprintf("%v (%s, step %q)", d.Allowed, d.Reason, d.Step))
		}
	}
	r.Passed = len(r.Diffs) == 0
	return r, nil
}

// listText renders a list sorted, e.g. [a, b].
func listText(xs []string) string {
	s := append([]string(nil), xs...)
	sort.Strings(s)
	return "[" + strings.Join(s, ", ") + "]"
}

// quote renders a step name, making "" visible.
func quote(s string) string { return fmt.Sprintf("%q", s) }
