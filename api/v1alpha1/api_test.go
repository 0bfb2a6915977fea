package v1alpha1_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/gatehouse-dev/gatehouse/api/v1alpha1"
	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

const tenant = "acme-field-services"

var _ = Describe("the samples", Ordered, func() {
	It("are accepted by the API server", func() {
		root, err := testenv.RepoRoot()
		Expect(err).NotTo(HaveOccurred())
		objs, err := testenv.Samples(filepath.Join(root, "config", "samples"))
		Expect(err).NotTo(HaveOccurred())
		Expect(len(objs)).To(BeNumerically(">=", 15))
		for _, obj := range objs {
			Expect(k8s.Create(ctx, obj)).To(Succeed(), "creating %s %s", obj.GetKind(), obj.GetName())
		}
	})

	It("round-trip typed, including string and list attributes", func() {
		var crew v1.UserGroup
		Expect(k8s.Get(ctx, client.ObjectKey{Namespace: tenant, Name: "calgary-branch"}, &crew)).To(Succeed())
		Expect(crew.Spec.Attributes["unit"].Values).To(Equal([]string{"/ca/ab/calgary"}))
		Expect(crew.Spec.Attributes["unit"].List).To(BeFalse())
		Expect(crew.Spec.Attributes["facilities"].Values).To(Equal([]string{"yyc-yard", "yyc-depot"}))
		Expect(crew.Spec.Attributes["facilities"].List).To(BeTrue())

		var chain v1.ApprovalChain
		Expect(k8s.Get(ctx, client.ObjectKey{Namespace: tenant, Name: "purchase-orders"}, &chain)).To(Succeed())
		Expect(chain.Spec.Action).To(Equal(v1.ActionName("approve")))
		Expect(chain.Spec.Steps).To(HaveLen(2))

		var tech v1.Role
		Expect(k8s.Get(ctx, client.ObjectKey{Namespace: tenant, Name: "technician"}, &tech)).To(Succeed())
		Expect(tech.Spec.Permissions[0].Scope).To(Equal(v1.ScopeUnitTree))
		Expect(tech.Spec.Permissions[2].Scope).To(Equal(v1.ScopeAll), "scope defaults to all")
	})

	It("list with `kubectl get gatehouse` and show their columns", func() {
		kubectl := kubectlOrSkip()
		out := runKubectl(kubectl, "get", "gatehouse", "-n", tenant)
		Expect(out).To(ContainSubstring("role.access.gatehouse.dev/technician"))
		Expect(out).To(ContainSubstring("usergroup.access.gatehouse.dev/calgary-crew"))
		Expect(out).To(ContainSubstring("fieldpolicy.access.gatehouse.dev/workorder-fields"))
		Expect(out).To(ContainSubstring("approvalchain.access.gatehouse.dev/purchase-orders"))
		Expect(out).To(MatchRegexp(`NAME\s+DISPLAY NAME\s+FULL ACCESS\s+READY\s+AGE`))
		Expect(out).To(MatchRegexp(`NAME\s+RESOURCE\s+ACTION\s+READY\s+AGE`))
		Expect(out).To(MatchRegexp(`purchase-orders\s+purchaseorders\s+approve\s`))
	})
})

var _ = Describe("schema validation", func() {
	meta := func(name string) metav1.ObjectMeta {
		return metav1.ObjectMeta{Name: name, Namespace: "validation"}
	}
	step := func(name string) v1.ApprovalStep {
		return v1.ApprovalStep{Name: v1.ObjectName(name), Approvers: v1.Approvers{Roles: []v1.ObjectName{"supervisor"}}}
	}
	many := func(n int) []v1.ModuleName {
		out := make([]v1.ModuleName, n)
		for i := range out {
			out[i] = v1.ModuleName(fmt.Sprintf("module%d", i))
		}
		return out
	}

	DescribeTable("rejects a bad object with a message naming the field",
		func(obj client.Object, field, message string) {
			err := k8s.Create(ctx, obj)
			Expect(err).To(HaveOccurred())
			Expect(apierrors.IsInvalid(err)).To(BeTrue(), "want Invalid, got %v", err)
			Expect(err.Error()).To(ContainSubstring(field))
			Expect(err.Error()).To(ContainSubstring(message))
		},
		Entry("extends must be DNS labels", &v1.Role{ObjectMeta: meta("r1"), Spec: v1.RoleSpec{
			Extends: []v1.ObjectName{"Field_Base"}}},
			"spec.extends[0]", "should match '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$'"),
		Entry("a scope outside the enum", &v1.Role{ObjectMeta: meta("r2"), Spec: v1.RoleSpec{
			Permissions: []v1.Permission{{Resources: []v1.ModuleName{"workorders"}, Actions: []v1.ActionName{"view"}, Scope: "mine"}}}},
			"spec.permissions[0].scope", "Unsupported value"),
		Entry("a permission without actions", &v1.Role{ObjectMeta: meta("r3"), Spec: v1.RoleSpec{
			Permissions: []v1.Permission{{Resources: []v1.ModuleName{"workorders"}}}}},
			"spec.permissions[0].actions", "Required value"),
		Entry("an over-long resource list", &v1.Role{ObjectMeta: meta("r4"), Spec: v1.RoleSpec{
			Permissions: []v1.Permission{{Resources: many(65), Actions: []v1.ActionName{"view"}}}}},
			"spec.permissions[0].resources", "must have at most 64 items"),
		Entry("a module name with spaces", &v1.Role{ObjectMeta: meta("r5"), Spec: v1.RoleSpec{
			Permissions: []v1.Permission{{Resources: []v1.ModuleName{"work orders"}, Actions: []v1.ActionName{"view"}}}}},
			"spec.permissions[0].resources[0]", "should match"),
		Entry("an over-long description", &v1.Role{ObjectMeta: meta("r6"), Spec: v1.RoleSpec{
			Description: strings.Repeat("x", 1025)}},
			"spec.description", "Too long"),
		Entry("a group role that is no DNS label", &v1.UserGroup{ObjectMeta: meta("g1"), Spec: v1.UserGroupSpec{
			Roles: []v1.ObjectName{"Technician"}}},
			"spec.roles[0]", "should match '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$'"),
		Entry("a group naming a member group twice", &v1.UserGroup{ObjectMeta: meta("g2"), Spec: v1.UserGroupSpec{
			MemberGroups: []v1.ObjectName{"crew", "crew"}}},
			"spec.memberGroups[1]", "Duplicate value"),
		Entry("a restriction with a bad scope", &v1.UserGroup{ObjectMeta: meta("g3"), Spec: v1.UserGroupSpec{
			Restrictions: []v1.Restriction{{Resources: []v1.ModuleName{"invoices"}, Scope: "tenant"}}}},
			"spec.restrictions[0].scope", "Unsupported value"),
		Entry("a field listed twice", &v1.FieldPolicy{ObjectMeta: meta("f1"), Spec: v1.FieldPolicySpec{
			Resource: "workorders", Fields: []v1.FieldRule{{Name: "margin"}, {Name: "margin"}}}},
			"spec.fields[1]", "Duplicate value"),
		Entry("a grant that names no one", &v1.FieldPolicy{ObjectMeta: meta("f2"), Spec: v1.FieldPolicySpec{
			Resource: "workorders", Fields: []v1.FieldRule{{Name: "margin", Grants: []v1.FieldGrant{{Access: v1.FieldHidden}}}}}},
			"spec.fields[0].grants[0]", "a grant must name at least one role or group"),
		Entry("a field policy over every module", &v1.FieldPolicy{ObjectMeta: meta("f3"), Spec: v1.FieldPolicySpec{
			Resource: "*"}},
			"spec.resource", "a field policy covers one module"),
		Entry("a bad field access", &v1.FieldPolicy{ObjectMeta: meta("f4"), Spec: v1.FieldPolicySpec{
			Resource: "workorders", Default: "secret"}},
			"spec.default", "Unsupported value"),
		Entry("a bad field name", &v1.FieldPolicy{ObjectMeta: meta("f5"), Spec: v1.FieldPolicySpec{
			Resource: "workorders", Fields: []v1.FieldRule{{Name: "custom..code"}}}},
			"spec.fields[0].name", "should match"),
		Entry("required below 1", &v1.ApprovalChain{ObjectMeta: meta("a1"), Spec: v1.ApprovalChainSpec{
			Resource: "purchaseorders", Steps: []v1.ApprovalStep{func() v1.ApprovalStep { s := step("lead"); s.Required = ptr.To[int32](0); return s }()}}},
			"spec.steps[0].required", "required must be at least 1"),
		Entry("required together with requireAll", &v1.ApprovalChain{ObjectMeta: meta("a2"), Spec: v1.ApprovalChainSpec{
			Resource: "purchaseorders", Steps: []v1.ApprovalStep{func() v1.ApprovalStep {
				s := step("lead")
				s.Required, s.RequireAll = ptr.To[int32](2), true
				return s
			}()}}},
			"spec.steps[0]", "required and requireAll are mutually exclusive"),
		Entry("a step without approvers", &v1.ApprovalChain{ObjectMeta: meta("a3"), Spec: v1.ApprovalChainSpec{
			Resource: "purchaseorders", Steps: []v1.ApprovalStep{{Name: "lead"}}}},
			"spec.steps[0].approvers", "a step needs at least one approver"),
		Entry("two steps with one name", &v1.ApprovalChain{ObjectMeta: meta("a4"), Spec: v1.ApprovalChainSpec{
			Resource: "purchaseorders", Steps: []v1.ApprovalStep{step("lead"), step("lead")}}},
			"spec.steps[1]", "Duplicate value"),
		Entry("a chain without steps", &v1.ApprovalChain{ObjectMeta: meta("a5"), Spec: v1.ApprovalChainSpec{
			Resource: "purchaseorders"}},
			"spec.steps", "Required value"),
	)

	It("accepts a valid object of each kind and applies defaults", func() {
		role := &v1.Role{ObjectMeta: meta("ok-role"), Spec: v1.RoleSpec{Extends: []v1.ObjectName{"base"},
			Permissions: []v1.Permission{{Resources: []v1.ModuleName{"*"}, Actions: []v1.ActionName{"view"}}}}}
		Expect(k8s.Create(ctx, role)).To(Succeed())
		Expect(role.Spec.Permissions[0].Scope).To(Equal(v1.ScopeAll))

		policy := &v1.FieldPolicy{ObjectMeta: meta("ok-policy"), Spec: v1.FieldPolicySpec{Resource: "workorders",
			Fields: []v1.FieldRule{{Name: "custom.warrantyCode", Grants: []v1.FieldGrant{{Roles: []v1.ObjectName{"ok-role"}, Access: v1.FieldRead}}}}}}
		Expect(k8s.Create(ctx, policy)).To(Succeed())
		Expect(policy.Spec.Default).To(Equal(v1.FieldWrite))

		chain := &v1.ApprovalChain{ObjectMeta: meta("ok-chain"), Spec: v1.ApprovalChainSpec{Resource: "purchaseorders",
			Steps: []v1.ApprovalStep{func() v1.ApprovalStep { s := step("lead"); s.Required = ptr.To[int32](2); return s }()}}}
		Expect(k8s.Create(ctx, chain)).To(Succeed())
		Expect(chain.Spec.Action).To(Equal(v1.ActionName("approve")))

		group := &v1.UserGroup{ObjectMeta: meta("ok-group"), Spec: v1.UserGroupSpec{
			Members: []v1.SubjectID{"alice@example.com"}, Roles: []v1.ObjectName{"ok-role"},
			Attributes: map[string]v1.AttributeValue{"unit": v1.StringAttribute("/ca/ab"), "skills": v1.ListAttribute("hvac")}}}
		Expect(k8s.Create(ctx, group)).To(Succeed())
	})
})

var _ = Describe("attributes", func() {
	It("keep a value of the wrong shape without breaking typed decoding", func() {
		obj := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "access.gatehouse.dev/v1alpha1", "kind": "UserGroup",
			"metadata": map[string]any{"name": "odd-attributes", "namespace": "validation"},
			"spec": map[string]any{"attributes": map[string]any{
				"unit": int64(5), "company": "acme", "facilities": []any{"a", "b"}}},
		}}
		Expect(k8s.Create(ctx, obj)).To(Succeed())
		var group v1.UserGroup
		Expect(k8s.Get(ctx, client.ObjectKeyFromObject(obj), &group)).To(Succeed())
		Expect(group.Spec.Attributes["unit"].Validate()).To(MatchError(ContainSubstring("must be a string or a list of strings, got 5")))
		Expect(group.Spec.Attributes["company"].Values).To(Equal([]string{"acme"}))
		Expect(group.Spec.Attributes["facilities"].Validate()).To(Succeed())

		var list v1.UserGroupList
		Expect(k8s.List(ctx, &list, client.InNamespace("validation"))).To(Succeed())
	})
})

var _ = Describe("the CRDs", func() {
	kinds := []string{"accessroles", "usergroups", "fieldpolicies", "approvalchains", "permissionsnapshots"}

	It("have Ready and Age columns, the gatehouse category and short names", func() {
		shortNames := map[string]string{"accessroles": "arole", "usergroups": "ugroup", "fieldpolicies": "fpol",
			"approvalchains": "achain", "permissionsnapshots": "psnap"}
		for _, plural := range kinds {
			var crd apiextensionsv1.CustomResourceDefinition
			Expect(k8s.Get(ctx, client.ObjectKey{Name: plural + ".access.gatehouse.dev"}, &crd)).To(Succeed())
			Expect(crd.Spec.Scope).To(Equal(apiextensionsv1.NamespaceScoped))
			Expect(crd.Spec.Names.Categories).To(ContainElement("gatehouse"))
			Expect(crd.Spec.Names.ShortNames).To(ContainElement(shortNames[plural]))
			version := crd.Spec.Versions[0]
			Expect(version.Subresources.Status).NotTo(BeNil(), plural)
			var columns []string
			for _, c := range version.AdditionalPrinterColumns {
				columns = append(columns, c.Name)
			}
			Expect(columns).To(ContainElements("Ready", "Age"), plural)
		}
	})

	It("describe every field for kubectl explain", func() {
		for _, plural := range kinds {
			var crd apiextensionsv1.CustomResourceDefinition
			Expect(k8s.Get(ctx, client.ObjectKey{Name: plural + ".access.gatehouse.dev"}, &crd)).To(Succeed())
			spec := crd.Spec.Versions[0].Schema.OpenAPIV3Schema.Properties["spec"]
			status := crd.Spec.Versions[0].Schema.OpenAPIV3Schema.Properties["status"]
			Expect(undescribed("spec", spec)).To(BeEmpty(), plural)
			Expect(undescribed("status", status)).To(BeEmpty(), plural)
		}
		kubectl := kubectlOrSkip()
		out := runKubectl(kubectl, "explain", "accessroles.spec.permissions.scope")
		Expect(out).To(ContainSubstring("Scope selects the records the permission applies to"))
		out = runKubectl(kubectl, "explain", "usergroups.spec.restrictions")
		Expect(out).To(ContainSubstring("Restrictions narrow members' access"))
		out = runKubectl(kubectl, "explain", "permissionsnapshots.status.shard")
		Expect(out).To(ContainSubstring("access.gatehouse.dev/shard"))
	})
})

// undescribed lists the schema paths below prop that have no description;
// metav1.Condition's fields come from apimachinery and are described there.
func undescribed(path string, prop apiextensionsv1.JSONSchemaProps) []string {
	var missing []string
	for name, child := range prop.Properties {
		p := path + "." + name
		if strings.TrimSpace(child.Description) == "" {
			missing = append(missing, p)
		}
		missing = append(missing, undescribed(p, child)...)
		if child.Items != nil && child.Items.Schema != nil {
			missing = append(missing, undescribed(p+"[]", *child.Items.Schema)...)
		}
	}
	return missing
}

func kubectlOrSkip() string {
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		Skip("kubectl is not on PATH")
	}
	return kubectl
}

// runKubectl runs kubectl against the envtest API server with an admin
// kubeconfig. It retries for a while: right after the CRDs are installed the
// API server may not publish their discovery and OpenAPI documents yet.
func runKubectl(kubectl string, args ...string) string {
	GinkgoHelper()
	user, err := env.ControlPlane.AddUser(envtestAdmin(), nil)
	Expect(err).NotTo(HaveOccurred())
	kubeconfig, err := user.KubeConfig()
	Expect(err).NotTo(HaveOccurred())
	dir := GinkgoT().TempDir()
	file := filepath.Join(dir, "kubeconfig")
	Expect(os.WriteFile(file, kubeconfig, 0o600)).To(Succeed())
	var out string
	Eventually(func() error {
		var stdout, stderr bytes.Buffer
		// A fresh cache directory per attempt: kubectl would otherwise keep
		// serving the discovery it cached before the CRDs were published.
		cache, err := os.MkdirTemp(dir, "cache")
		if err != nil {
			return err
		}
		cmd := exec.Command(kubectl, append([]string{"--kubeconfig", file, "--cache-dir", cache}, args...)...)
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("kubectl %v: %w: %s", args, err, stderr.String())
		}
		out = stdout.String()
		return nil
	}, 60*time.Second, time.Second).Should(Succeed())
	return out
}
