package helm_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gatehouse-dev/gatehouse/hack/genchart"
	"github.com/gatehouse-dev/gatehouse/internal/snapshot"
)

// defaultLimitArgs are the --tenant-max-* flags with the manager's defaults.
func defaultLimitArgs() []string {
	var out []string
	for line := range strings.SplitSeq(strings.TrimSpace(snapshot.DefaultLimits().Describe()), "\n") {
		flag, _, _ := strings.Cut(line, "\t")
		out = append(out, flag)
	}
	return out
}

// TestValues renders the chart with each notable value set.
func TestValues(t *testing.T) {
	has := func(args []string, want ...string) error {
		for _, w := range want {
			if !slices.Contains(args, w) {
				return fmt.Errorf("the manager's args %q lack %s", args, w)
			}
		}
		return nil
	}
	lacks := func(args []string, flags ...string) error {
		for _, a := range args {
			for _, f := range flags {
				if a == f || strings.HasPrefix(a, f+"=") {
					return fmt.Errorf("the manager's args %q have %s", args, a)
				}
			}
		}
		return nil
	}
	kinds := func(objs []*unstructured.Unstructured) []string {
		var out []string
		for _, o := range objs {
			out = append(out, o.GetKind())
		}
		return out
	}
	cases := []struct {
		name  string
		set   []string
		check func(t *testing.T, objs []*unstructured.Unstructured) error
	}{
		{"defaults", nil, func(t *testing.T, objs []*unstructured.Unstructured) error {
			args := managerArgs(t, objs)
			if err := has(args, append(defaultLimitArgs(), "--leader-elect")...); err != nil {
				return err
			}
			return lacks(args, "--cert-rotation", "--shard", "--shard-default", "--audit-log", "--audit-http-url", "--audit-required")
		}},
		{"image", []string{"image.repository=example.test/gh", "image.tag=v9", "image.pullPolicy=Always"}, func(t *testing.T, objs []*unstructured.Unstructured) error {
			c := managerContainer(t, find(t, objs, "Deployment"))
			if c["image"] != "example.test/gh:v9" || c["imagePullPolicy"] != "Always" {
				return fmt.Errorf("image %v, pull policy %v", c["image"], c["imagePullPolicy"])
			}
			return nil
		}},
		{"replicas and resources", []string{"replicas=5", "resources.limits.memory=3Gi"}, func(t *testing.T, objs []*unstructured.Unstructured) error {
			d := find(t, objs, "Deployment")
			n, _, _ := unstructured.NestedFieldNoCopy(d.Object, "spec", "replicas")
			mem, _, _ := unstructured.NestedString(managerContainer(t, d), "resources", "limits", "memory")
			if fmt.Sprint(n) != "5" || mem != "3Gi" {
				return fmt.Errorf("replicas %v, memory limit %s", n, mem)
			}
			return nil
		}},
		{"built-in rotation", []string{"certificates.mode=builtIn"}, func(t *testing.T, objs []*unstructured.Unstructured) error {
			if k := kinds(objs); slices.Contains(k, "Certificate") || slices.Contains(k, "Issuer") || !slices.Contains(k, "Secret") {
				return fmt.Errorf("kinds %v: want a Secret and no cert-manager objects", k)
			}
			if a := find(t, objs, "ValidatingWebhookConfiguration").GetAnnotations(); len(a) != 0 {
				return fmt.Errorf("the webhook keeps annotations %v", a)
			}
			return has(managerArgs(t, objs), "--cert-rotation", "--cert-secret=gatehouse-webhook-server-cert",
				"--webhook-service-dns=gatehouse-webhook-service.gatehouse-system.svc")
		}},
		{"namespace", []string{"namespace=gh", "certificates.mode=builtIn"}, func(t *testing.T, objs []*unstructured.Unstructured) error {
			for _, o := range objs {
				if o.GetNamespace() != "" && o.GetNamespace() != "gh" {
					return fmt.Errorf("%s in namespace %s", key(o), o.GetNamespace())
				}
			}
			if find(t, objs, "Namespace").GetName() != "gh" {
				return fmt.Errorf("the Namespace is not gh")
			}
			return has(managerArgs(t, objs), "--webhook-service-dns=gatehouse-webhook-service.gh.svc")
		}},
		{"no namespace object", []string{"createNamespace=false"}, func(t *testing.T, objs []*unstructured.Unstructured) error {
			if slices.Contains(kinds(objs), "Namespace") {
				return fmt.Errorf("a Namespace is rendered")
			}
			return nil
		}},
		{"authz port", []string{"authz.service.port=9999"}, func(t *testing.T, objs []*unstructured.Unstructured) error {
			n := 0
			for _, o := range objs {
				if o.GetKind() != "Service" {
					continue
				}
				ports, _, _ := unstructured.NestedSlice(o.Object, "spec", "ports")
				for _, p := range ports {
					if p := p.(map[string]any); p["name"] == "authz" {
						n++
						if fmt.Sprint(p["port"]) != "9999" {
							return fmt.Errorf("Service %s: authz port %v → %v", o.GetName(), p["port"], p["targetPort"])
						}
					}
				}
			}
			if n == 0 {
				return fmt.Errorf("no Service port named authz")
			}
			return nil
		}},
		{"metrics secure, no leader election", []string{"metrics.secure=true", "leaderElection.enabled=false"}, func(t *testing.T, objs []*unstructured.Unstructured) error {
			args := managerArgs(t, objs)
			if !slices.Contains(args, "--metrics-secure") && !slices.Contains(args, "--metrics-secure=true") {
				return fmt.Errorf("the manager's args %q lack --metrics-secure", args)
			}
			if slices.Contains(args, "--leader-elect") || slices.Contains(args, "--leader-elect=true") {
				return fmt.Errorf("the manager's args %q elect a leader", args)
			}
			return nil
		}},
		{"sharding", []string{"sharding.shard=b", "sharding.default=true"}, func(t *testing.T, objs []*unstructured.Unstructured) error {
			return has(managerArgs(t, objs), "--shard=b", "--shard-default")
		}},
		{"tenant limits", []string{"tenantLimits.roles=7", "tenantLimits.compiledBytes=1073741824", "tenantLimits.inheritanceDepth=0"}, func(t *testing.T, objs []*unstructured.Unstructured) error {
			return has(managerArgs(t, objs), "--tenant-max-roles=7", "--tenant-max-compiled-bytes=1073741824", "--tenant-max-inheritance-depth=0", "--tenant-max-usergroups=20000")
		}},
		{"audit", []string{"audit.log=/var/log/gatehouse/audit.jsonl", "audit.http.url=https://audit.example/events?a=b: c", "audit.http.tokenFile=/var/run/audit/token", "audit.required=true"}, func(t *testing.T, objs []*unstructured.Unstructured) error {
			return has(managerArgs(t, objs), "--audit-log=/var/log/gatehouse/audit.jsonl", "--audit-http-url=https://audit.example/events?a=b: c",
				"--audit-http-token-file=/var/run/audit/token", "--audit-required")
		}},
		{"extras", []string{"extraArgs={--default-tenant=acme,--debounce=1s}", "extraVolumes[0].name=audit", "extraVolumes[0].emptyDir.medium=Memory",
			"extraVolumeMounts[0].name=audit", "extraVolumeMounts[0].mountPath=/var/run/audit", "nodeSelector.disk=ssd", "tolerations[0].operator=Exists"}, func(t *testing.T, objs []*unstructured.Unstructured) error {
			d := find(t, objs, "Deployment")
			args := managerArgs(t, objs)
			if args[len(args)-2] != "--default-tenant=acme" || args[len(args)-1] != "--debounce=1s" {
				return fmt.Errorf("extraArgs are not last: %q", args)
			}
			vols, _, _ := unstructured.NestedSlice(d.Object, "spec", "template", "spec", "volumes")
			mounts, _, _ := unstructured.NestedSlice(managerContainer(t, d), "volumeMounts")
			sel, _, _ := unstructured.NestedStringMap(d.Object, "spec", "template", "spec", "nodeSelector")
			tol, _, _ := unstructured.NestedSlice(d.Object, "spec", "template", "spec", "tolerations")
			if len(vols) != 2 || len(mounts) != 2 || sel["disk"] != "ssd" || len(tol) != 1 {
				return fmt.Errorf("volumes %v, mounts %v, nodeSelector %v, tolerations %v", vols, mounts, sel, tol)
			}
			return nil
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := c.check(t, template(t, c.set...)); err != nil {
				t.Error(err)
			}
		})
	}
	// Values the chart refuses.
	for _, set := range [][]string{
		{"certificates.mode=selfSigned"},
		{"sharding.default=true"},
		{"audit.http.tokenFile=/t"},
	} {
		args := []string{"template", "gatehouse", "charts/gatehouse"}
		for _, s := range set {
			args = append(args, "--set", s)
		}
		if _, err := helmErrOut(t, args...); err == nil {
			t.Errorf("helm %s: rendered, want an error", strings.Join(args, " "))
		}
	}
}

// normalise drops what Helm adds to every object (its labels and
// annotations, none of which the chart sets today) so that objects compare
// by content.
func normalise(o *unstructured.Unstructured) map[string]any {
	c := o.DeepCopy()
	for _, field := range []string{"labels", "annotations"} {
		m, _, _ := unstructured.NestedStringMap(c.Object, "metadata", field)
		for _, k := range []string{"helm.sh/chart", "app.kubernetes.io/managed-by", "app.kubernetes.io/instance", "app.kubernetes.io/version", "meta.helm.sh/release-name", "meta.helm.sh/release-namespace"} {
			delete(m, k)
		}
		if len(m) == 0 {
			unstructured.RemoveNestedField(c.Object, "metadata", field)
		} else {
			_ = unstructured.SetNestedStringMap(c.Object, m, "metadata", field)
		}
	}
	return c.Object
}

// TestEquivalence: with default values the chart renders the objects of
// hack/render-installer.sh (config/default), and with
// certificates.mode=builtIn those of config/certrotation.
func TestEquivalence(t *testing.T) {
	root := repoRoot(t)
	kc := kubectl(t)
	path := filepath.Dir(kc) + ":" + os.Getenv("PATH")
	renderInstaller := exec.Command("bash", filepath.Join(root, "hack", "render-installer.sh"), image)
	renderInstaller.Env = append(os.Environ(), "PATH="+path)
	certManager, err := renderInstaller.Output()
	if err != nil {
		t.Fatalf("hack/render-installer.sh: %v", err)
	}
	certRotation, err := exec.Command(kc, "kustomize", filepath.Join(root, "config", "certrotation")).Output()
	if err != nil {
		t.Fatalf("kubectl kustomize config/certrotation: %v", err)
	}
	certRotation = []byte(strings.ReplaceAll(string(certRotation), "controller:latest", image))
	type equivalence struct {
		name string
		want []byte
		set  []string
	}
	cases := []equivalence{
		{"certManager=config/default", certManager, nil},
		{"builtIn=config/certrotation", certRotation, []string{"certificates.mode=builtIn"}},
	}
	// config/default's optional parts, all on: INSTALLER_OPTIONAL.
	if parts, sets := optionalParts(t); len(parts) > 0 {
		render := exec.Command("bash", filepath.Join(root, "hack", "render-installer.sh"), image)
		render.Env = append(os.Environ(), "PATH="+path, "INSTALLER_OPTIONAL="+strings.Join(parts, " "))
		withParts, err := render.Output()
		if err != nil {
			t.Fatalf("INSTALLER_OPTIONAL=%q hack/render-installer.sh: %v", strings.Join(parts, " "), err)
		}
		cases = append(cases, equivalence{"certManager+" + strings.Join(parts, "+"), withParts, sets})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			want := map[string]*unstructured.Unstructured{}
			for _, o := range decodeAll(t, c.want) {
				want[key(o)] = o
			}
			got := map[string]*unstructured.Unstructured{}
			for _, o := range template(t, append(c.set, "image.repository="+imageRepo, "image.tag="+imageTag)...) {
				if _, dup := got[key(o)]; dup {
					t.Errorf("the chart renders %s twice", key(o))
				}
				got[key(o)] = o
			}
			for k, w := range want {
				g, ok := got[k]
				if !ok {
					t.Errorf("the chart lacks %s", k)
					continue
				}
				gn, wn := normalise(g), normalise(w)
				if g.GetKind() == "Deployment" {
					// Intended difference: the chart passes every
					// --tenant-max-* flag (tenantLimits), with the
					// manager's defaults.
					gotArgs := managerArgs(t, []*unstructured.Unstructured{{Object: gn}})
					limits := defaultLimitArgs()
					var rest []string
					for _, a := range gotArgs {
						if strings.HasPrefix(a, "--tenant-max-") {
							if !slices.Contains(limits, a) {
								t.Errorf("the chart passes %s, the manager's default is not that", a)
							}
							limits = slices.DeleteFunc(limits, func(l string) bool { return l == a })
							continue
						}
						rest = append(rest, a)
					}
					if len(limits) > 0 {
						t.Errorf("the chart does not pass %v", limits)
					}
					cs, _, _ := unstructured.NestedSlice(gn, "spec", "template", "spec", "containers")
					for _, x := range cs {
						if x := x.(map[string]any); x["name"] == "manager" {
							anyArgs := make([]any, len(rest))
							for i, a := range rest {
								anyArgs[i] = a
							}
							x["args"] = anyArgs
						}
					}
					_ = unstructured.SetNestedSlice(gn, cs, "spec", "template", "spec", "containers")
				}
				if !deepEqual(gn, wn) {
					t.Errorf("%s differs:\nchart:\n%s\nkustomize:\n%s", k, yamlString(gn), yamlString(wn))
				}
			}
			for k := range got {
				if _, ok := want[k]; !ok {
					t.Errorf("the chart renders %s, kustomize does not", k)
				}
			}
			t.Logf("%d objects equal", len(want))
		})
	}
}

// optionalParts returns config/default's optional parts and the values
// that turn them all on.
func optionalParts(t *testing.T) ([]string, []string) {
	t.Helper()
	parts, err := genchart.OptionalParts(repoRoot(t))
	if err != nil {
		t.Fatal(err)
	}
	var sets []string
	for _, p := range parts {
		sets = append(sets, genchart.PartValue(p)+".enabled=true")
	}
	return parts, sets
}
