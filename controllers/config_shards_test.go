package controllers_test

import (
	"bytes"
	"errors"
	"io"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	"github.com/gatehouse-dev/gatehouse/controllers"
	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

// render builds a kustomization under config/ with kubectl kustomize.
func render(t *testing.T, dir string) []*unstructured.Unstructured {
	t.Helper()
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		t.Skip("kubectl is not on PATH")
	}
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(kubectl, "kustomize", filepath.Join(root, "config", dir))
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("kubectl kustomize config/%s: %v: %s", dir, err, stderr.String())
	}
	dec := utilyaml.NewYAMLOrJSONDecoder(&stdout, 4096)
	var out []*unstructured.Unstructured
	for {
		var m map[string]any
		err := dec.Decode(&m)
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("config/%s: %v", dir, err)
		}
		if m != nil {
			out = append(out, &unstructured.Unstructured{Object: m})
		}
	}
}

func ofKind(objs []*unstructured.Unstructured, kind string) []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for _, o := range objs {
		if o.GetKind() == kind {
			out = append(out, o)
		}
	}
	return out
}

// shardOf reads a manager Deployment's --shard and --shard-default flags.
func shardOf(t *testing.T, d *unstructured.Unstructured) controllers.Shard {
	t.Helper()
	containers, _, _ := unstructured.NestedSlice(d.Object, "spec", "template", "spec", "containers")
	if len(containers) != 1 {
		t.Fatalf("Deployment %s: %d containers", d.GetName(), len(containers))
	}
	args, _, _ := unstructured.NestedStringSlice(containers[0].(map[string]any), "args")
	var s controllers.Shard
	for _, a := range args {
		switch {
		case strings.HasPrefix(a, "--shard="):
			s.Name = strings.TrimPrefix(a, "--shard=")
		case a == "--shard-default":
			s.Default = true
		}
	}
	if err := s.Validate(); err != nil {
		t.Fatalf("Deployment %s: %v", d.GetName(), err)
	}
	return s
}

func selectorAt(t *testing.T, o *unstructured.Unstructured, fields ...string) labels.Selector {
	t.Helper()
	m, found, err := unstructured.NestedMap(o.Object, fields...)
	if err != nil || !found {
		t.Fatalf("%s %s: no %s", o.GetKind(), o.GetName(), strings.Join(fields, "."))
	}
	var ls metav1.LabelSelector
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(m, &ls); err != nil {
		t.Fatal(err)
	}
	sel, err := metav1.LabelSelectorAsSelector(&ls)
	if err != nil {
		t.Fatalf("%s %s: %v", o.GetKind(), o.GetName(), err)
	}
	return sel
}

// TestShardsOverlay checks config/shards against the rule the managers
// apply (Shard.Serves): one Deployment per shard, one default; each
// shard's Service reaches its pods only; and the API server sends every
// namespace's admissions to exactly one shard's webhook — the shard serving
// it, or, when no shard does, the default shard's, which has no snapshot
// for it and so admits no escalation.
func TestShardsOverlay(t *testing.T) {
	objs := render(t, "shards")

	type shardParts struct {
		shard    controllers.Shard
		pods     labels.Set
		selector labels.Selector
		service  string
	}
	var shards []*shardParts
	defaults := 0
	for _, d := range ofKind(objs, "Deployment") {
		s := shardOf(t, d)
		if !s.Sharded() {
			t.Fatalf("Deployment %s has no --shard", d.GetName())
		}
		if s.Default {
			defaults++
		}
		pods, _, _ := unstructured.NestedStringMap(d.Object, "spec", "template", "metadata", "labels")
		shards = append(shards, &shardParts{shard: s, pods: pods, selector: selectorAt(t, d, "spec", "selector")})
	}
	if len(shards) != 2 || defaults != 1 {
		t.Fatalf("%d shards, %d default; want 2 and 1", len(shards), defaults)
	}
	if shards[0].shard.Name == shards[1].shard.Name {
		t.Fatalf("both Deployments are shard %q", shards[0].shard.Name)
	}
	// A Deployment's selector matches its own pods only, or the two would
	// fight over them.
	for i, s := range shards {
		for j, o := range shards {
			if got := s.selector.Matches(o.pods); got != (i == j) {
				t.Errorf("shard %s's Deployment selects shard %s's pods: %v", s.shard.Name, o.shard.Name, got)
			}
		}
	}

	// Each Service reaches exactly one shard's pods.
	byService := map[string]*shardParts{}
	for _, svc := range ofKind(objs, "Service") {
		sel, _, _ := unstructured.NestedStringMap(svc.Object, "spec", "selector")
		var reached []*shardParts
		for _, s := range shards {
			if labels.SelectorFromSet(sel).Matches(s.pods) {
				reached = append(reached, s)
			}
		}
		if len(reached) != 1 {
			t.Fatalf("Service %s reaches %d shards", svc.GetName(), len(reached))
		}
		reached[0].service = svc.GetName()
		byService[svc.GetName()] = reached[0]
		if !strings.HasSuffix(svc.GetName(), "-"+reached[0].shard.Name) {
			t.Errorf("Service %s of shard %s: apps find their shard's Service by its suffix", svc.GetName(), reached[0].shard.Name)
		}
	}
	for _, s := range shards {
		if s.service == "" {
			t.Errorf("shard %s has no Service", s.shard.Name)
		}
	}

	// Every namespace's admissions go to exactly one webhook, of the right
	// shard.
	type hook struct {
		shard *shardParts
		sel   labels.Selector
	}
	var hooks []hook
	for _, vwc := range ofKind(objs, "ValidatingWebhookConfiguration") {
		whs, _, _ := unstructured.NestedSlice(vwc.Object, "webhooks")
		for _, w := range whs {
			wh := &unstructured.Unstructured{Object: w.(map[string]any)}
			svc, _, _ := unstructured.NestedString(wh.Object, "clientConfig", "service", "name")
			s := byService[svc]
			if s == nil {
				t.Fatalf("webhook %s of %s calls Service %q, no shard's", wh.Object["name"], vwc.GetName(), svc)
			}
			hooks = append(hooks, hook{shard: s, sel: selectorAt(t, wh, "namespaceSelector")})
		}
	}
	namespaces := map[string]labels.Set{
		"unlabelled":     nil,
		"other labels":   {"team": "x"},
		"empty value":    {controllers.ShardLabel: ""},
		"no such shard":  {controllers.ShardLabel: "zz"},
		"shard a":        {controllers.ShardLabel: shards[0].shard.Name},
		"shard b":        {controllers.ShardLabel: shards[1].shard.Name},
		"b, other label": {controllers.ShardLabel: shards[1].shard.Name, "team": "x"},
	}
	for name, ns := range namespaces {
		var judged []string
		var serving []string
		for _, h := range hooks {
			if h.sel.Matches(ns) {
				judged = append(judged, h.shard.shard.Name)
			}
		}
		for _, s := range shards {
			if s.shard.Serves(ns) {
				serving = append(serving, s.shard.Name)
			}
		}
		switch {
		case len(judged) != 1:
			t.Errorf("namespace %s: judged by the webhooks of shards %v, want exactly one", name, judged)
		case len(serving) > 1:
			t.Errorf("namespace %s: served by shards %v", name, serving)
		case len(serving) == 1 && judged[0] != serving[0]:
			t.Errorf("namespace %s: served by shard %s, judged by shard %s", name, serving[0], judged[0])
		case len(serving) == 0 && !slices.ContainsFunc(shards, func(s *shardParts) bool { return s.shard.Default && s.shard.Name == judged[0] }):
			t.Errorf("namespace %s: served by no shard, judged by %s, not the default shard", name, judged[0])
		}
	}

	// One certificate covers every shard's Service.
	certs := ofKind(objs, "Certificate")
	if len(certs) != 1 {
		t.Fatalf("%d Certificates", len(certs))
	}
	dns, _, _ := unstructured.NestedStringSlice(certs[0].Object, "spec", "dnsNames")
	for svc := range byService {
		if want := svc + ".gatehouse-system.svc"; !slices.Contains(dns, want) {
			t.Errorf("certificate dnsNames %v lack %s", dns, want)
		}
	}
}

// TestDefaultInstallIsUnsharded checks that the plain install runs one
// unsharded Deployment whose webhook judges every namespace.
func TestDefaultInstallIsUnsharded(t *testing.T) {
	for _, dir := range []string{"default", "certrotation"} {
		objs := render(t, dir)
		deployments := ofKind(objs, "Deployment")
		if len(deployments) != 1 {
			t.Fatalf("config/%s: %d Deployments", dir, len(deployments))
		}
		if s := shardOf(t, deployments[0]); s.Sharded() || s.Default {
			t.Errorf("config/%s: Deployment runs shard %+v", dir, s)
		}
		for _, vwc := range ofKind(objs, "ValidatingWebhookConfiguration") {
			whs, _, _ := unstructured.NestedSlice(vwc.Object, "webhooks")
			for _, w := range whs {
				if _, found, _ := unstructured.NestedMap(w.(map[string]any), "namespaceSelector"); found {
					t.Errorf("config/%s: webhook %v has a namespaceSelector", dir, w.(map[string]any)["name"])
				}
			}
		}
	}
}
