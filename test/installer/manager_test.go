package installer_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"

	authnv1 "k8s.io/api/authentication/v1"
	authzv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/yaml"

	"github.com/gatehouse-dev/gatehouse/internal/authz/kubeauth"
)

// The manager as the Deployment runs it, the tenant app, and the policy tests' decisions.

func managerContainer(t *testing.T, deploy *unstructured.Unstructured) container {
	t.Helper()
	var spec struct {
		ServiceAccountName string          `json:"serviceAccountName"`
		Grace              *int64          `json:"terminationGracePeriodSeconds"`
		Containers         []container     `json:"containers"`
		Volumes            []corev1.Volume `json:"volumes"`
	}
	podSpec, _, _ := unstructured.NestedMap(deploy.Object, "spec", "template", "spec")
	data, _ := json.Marshal(podSpec)
	if err := json.Unmarshal(data, &spec); err != nil {
		t.Fatal(err)
	}
	for _, c := range spec.Containers {
		if c.Name == "manager" {
			c.serviceAccount, c.volumes, c.grace = spec.ServiceAccountName, spec.Volumes, 30 // the API's default
			if spec.Grace != nil {
				c.grace = *spec.Grace
			}
			return c
		}
	}
	t.Fatal("the Deployment has no manager container")
	return container{}
}

// flag returns the value of --name=value in the container's args.
func (c container) flag(name string) string {
	for _, a := range c.Args {
		if v, ok := strings.CutPrefix(a, "--"+name+"="); ok {
			return v
		}
	}
	return ""
}

func (c container) hasPort(target any, want int32) bool {
	for _, p := range c.Ports {
		if p.ContainerPort == want && (target == p.Name || fmt.Sprint(target) == strconv.Itoa(int(want))) {
			return true
		}
	}
	return false
}

// secretMount returns where the container mounts Secret name.
func (c container) secretMount(name string) string {
	for _, v := range c.volumes {
		if v.Secret == nil || v.Secret.SecretName != name {
			continue
		}
		for _, m := range c.VolumeMounts {
			if m.Name == v.Name {
				return m.MountPath
			}
		}
	}
	return ""
}

// env is the container's environment, with the downward API's namespace.
func (c container) env(ns string) map[string]string {
	out := map[string]string{}
	for _, e := range c.Env {
		switch {
		case e.ValueFrom != nil && e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == "metadata.namespace":
			out[e.Name] = ns
		case e.ValueFrom == nil:
			out[e.Name] = e.Value
		}
	}
	return out
}

// managerArgs are the Deployment's args with what running out of cluster
// needs changed, and the loopback addresses chosen for the listeners.
func managerArgs(t *testing.T, c container, certDir string, webhookPort int) ([]string, map[string]string) {
	t.Helper()
	addrs := map[string]string{}
	var args []string
	for _, a := range c.Args {
		name, value, _ := strings.Cut(strings.TrimPrefix(a, "--"), "=")
		switch {
		case name == "webhook-cert-dir" || name == "metrics-cert-dir":
			// Deviation: the mounted Secret's path is a directory of the test.
			value = certDir
		case strings.HasPrefix(value, ":"):
			// Deviation: the Deployment binds every interface of the pod;
			// here each listener gets a free port on loopback.
			value = "127.0.0.1:" + strconv.Itoa(freePort(t))
			addrs[name] = value
		}
		if !strings.Contains(a, "=") {
			args = append(args, a) // a boolean flag, as the Deployment sets it
			continue
		}
		args = append(args, "--"+name+"="+value)
	}
	// Deviations: the webhook server has no host flag (it listens on every
	// interface) and the endpoint defaults to :8443, so both get free ports;
	// the endpoint on loopback. TLS and TokenReview/SubjectAccessReview
	// stay on, as deployed.
	args = append(args, "--webhook-port="+strconv.Itoa(webhookPort))
	addrs["authz-bind-address"] = "127.0.0.1:" + strconv.Itoa(freePort(t))
	args = append(args, "--authz-bind-address="+addrs["authz-bind-address"])
	for _, want := range []string{"health-probe-bind-address", "metrics-bind-address"} {
		if addrs[want] == "" {
			t.Fatalf("the Deployment sets no --%s", want)
		}
	}
	return args, addrs
}

// tenantApp creates ServiceAccount "app" in ns, allowed to ask about ns
// (kubeauth's SubjectAccessReview), and returns a token for it.
func tenantApp(ctx context.Context, t *testing.T, cs kubernetes.Interface, ns string) string {
	t.Helper()
	if _, err := cs.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "app"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.RbacV1().Roles(ns).Create(ctx, &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Name: "gatehouse-decisions"},
		Rules:      []rbacv1.PolicyRule{{APIGroups: []string{kubeauth.Group}, Resources: []string{kubeauth.Resource}, Verbs: []string{kubeauth.Verb}}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.RbacV1().RoleBindings(ns).Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "app-decisions"},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "gatehouse-decisions"},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: "app", Namespace: ns}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// RBAC answers from an informer: wait until it has seen the binding.
	eventually(ctx, t, "RBAC allows the app", func() error {
		sar, err := cs.AuthorizationV1().SubjectAccessReviews().Create(ctx, &authzv1.SubjectAccessReview{Spec: authzv1.SubjectAccessReviewSpec{
			User:               "system:serviceaccount:" + ns + ":app",
			ResourceAttributes: &authzv1.ResourceAttributes{Namespace: ns, Verb: kubeauth.Verb, Group: kubeauth.Group, Resource: kubeauth.Resource},
		}}, metav1.CreateOptions{})
		if err != nil {
			return err
		}
		if !sar.Status.Allowed {
			return errors.New("not yet allowed")
		}
		return nil
	})
	exp := int64(600)
	tr, err := cs.CoreV1().ServiceAccounts(ns).CreateToken(ctx, "app", &authnv1.TokenRequest{Spec: authnv1.TokenRequestSpec{ExpirationSeconds: &exp}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return tr.Status.Token
}

// policyCase is a case of config/samples/tests that asks for one decision
// of a subject given by ID (the cases about fields and approvals, and those
// with request-supplied subject attributes, are left to `gatehouse test`).
type policyCase struct {
	Name     string          `json:"name"`
	Subject  json.RawMessage `json:"subject"`
	Action   string          `json:"action"`
	Resource json.RawMessage `json:"resource"`
	Context  map[string]any  `json:"context"`
	Expect   struct {
		Allowed *bool           `json:"allowed"`
		Reason  *string         `json:"reason"`
		Fields  json.RawMessage `json:"fields"`
	} `json:"expect"`
	subject  string
	resource map[string]any
}

func policyCases(t *testing.T, file string) []policyCase {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Tenant string       `json:"tenant"`
		Cases  []policyCase `json:"cases"`
	}
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Tenant != tenant {
		t.Fatalf("%s tests tenant %s, the samples are %s", file, doc.Tenant, tenant)
	}
	var out []policyCase
	for _, c := range doc.Cases {
		if c.Action == "" || c.Expect.Allowed == nil || c.Context != nil || c.Expect.Fields != nil ||
			json.Unmarshal(c.Subject, &c.subject) != nil {
			continue
		}
		// A resource is {type, id, properties} or "TYPE[/ID]".
		var short string
		if json.Unmarshal(c.Resource, &short) == nil {
			typ, id, _ := strings.Cut(short, "/")
			c.resource = map[string]any{"type": typ, "id": id}
		} else if err := json.Unmarshal(c.Resource, &c.resource); err != nil {
			t.Fatalf("%s: resource: %v", c.Name, err)
		}
		if _, ok := c.resource["id"]; !ok {
			c.resource["id"] = ""
		}
		out = append(out, c)
	}
	if len(out) < 10 {
		t.Fatalf("only %d decision cases in %s", len(out), file)
	}
	return out
}

// evaluate asks the AuthZEN evaluation endpoint for c's decision.
func evaluate(ctx context.Context, t *testing.T, client *http.Client, endpoint, token string, c policyCase) (bool, string) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{
		"subject":  map[string]any{"type": "user", "id": c.subject},
		"action":   map[string]any{"name": c.Action},
		"resource": c.resource,
	})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s: %v", c.Name, err)
	}
	defer func() { _ = resp.Body.Close() }()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s: %s: %s", c.Name, resp.Status, data)
	}
	var answer struct {
		Decision bool `json:"decision"`
		Context  struct {
			Reason string `json:"reason"`
		} `json:"context"`
	}
	if err := json.Unmarshal(data, &answer); err != nil {
		t.Fatalf("%s: %v: %s", c.Name, err, data)
	}
	return answer.Decision, answer.Context.Reason
}
