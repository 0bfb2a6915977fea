package installer_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	authnv1 "k8s.io/api/authentication/v1"
	authzv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
)

// Issue [15 packaging] items 2 and 4: the Pod Security, availability,
// traffic and metrics pieces of the installer.

const (
	// optionalParts are config/default's commented-out parts, included in
	// what the test applies.
	optionalParts = "network-policy prometheus grafana"
	// scraperNamespace is where the installer's example metrics-reader
	// binding puts Prometheus's ServiceAccount (kube-prometheus's).
	scraperNamespace = "monitoring"
	// The namespace labels the network policies admit.
	authzClientLabel    = "access.gatehouse.dev/authz-client"
	metricsScraperLabel = "access.gatehouse.dev/metrics-scraper"
)

// checkOptionalParts checks that the installer with its optional parts
// holds every object of the shipped installer unchanged, and adds only the
// network policies, the ServiceMonitor and the example binding.
func checkOptionalParts(t *testing.T, shipped, full []*unstructured.Unstructured) {
	t.Helper()
	key := func(o *unstructured.Unstructured) string {
		return o.GetKind() + " " + o.GetNamespace() + "/" + o.GetName()
	}
	byKey := map[string]*unstructured.Unstructured{}
	for _, o := range full {
		byKey[key(o)] = o
	}
	for _, o := range shipped {
		got, ok := byKey[key(o)]
		if !ok {
			t.Errorf("%s: in the shipped installer, not with the optional parts", key(o))
		} else if !reflect.DeepEqual(got.Object, o.Object) {
			t.Errorf("%s: changed by the optional parts", key(o))
		}
		delete(byKey, key(o))
	}
	added := map[string]int{}
	for _, o := range byKey {
		added[o.GetKind()]++
	}
	if want := map[string]int{"NetworkPolicy": 4, "ServiceMonitor": 1, "ClusterRoleBinding": 1, "ConfigMap": 1}; !reflect.DeepEqual(added, want) {
		t.Errorf("the optional parts add %v, want %v", added, want)
	}
}

// checkPodSecurity checks the install namespace enforces the restricted Pod
// Security Standard, and that the API server admits the Deployment's pod
// there (a server-side dry run of a Pod with its template: admission runs,
// nothing is stored; envtest runs no controllers to create the pods), and
// refuses the same pod with one restricted setting undone, so the
// enforcement is real.
func checkPodSecurity(ctx context.Context, t *testing.T, cs kubernetes.Interface, deploy *unstructured.Unstructured) {
	t.Helper()
	ns, err := cs.CoreV1().Namespaces().Get(ctx, deploy.GetNamespace(), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if l := ns.Labels["pod-security.kubernetes.io/enforce"]; l != "restricted" {
		t.Errorf("namespace %s: pod-security.kubernetes.io/enforce is %q, want restricted", ns.Name, l)
	}
	tmpl, _, _ := unstructured.NestedMap(deploy.Object, "spec", "template")
	data, _ := json.Marshal(tmpl)
	var pt corev1.PodTemplateSpec
	if err := json.Unmarshal(data, &pt); err != nil {
		t.Fatal(err)
	}
	pod := func(mutate func(*corev1.Pod)) error {
		p := &corev1.Pod{ObjectMeta: *pt.ObjectMeta.DeepCopy(), Spec: *pt.Spec.DeepCopy()}
		p.Name, p.Namespace = "pss-check", ns.Name
		mutate(p)
		_, err := cs.CoreV1().Pods(ns.Name).Create(ctx, p, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		return err
	}
	if err := pod(func(*corev1.Pod) {}); err != nil {
		t.Errorf("the Deployment's pod is refused in %s: %v", ns.Name, err)
	}
	err = pod(func(p *corev1.Pod) {
		p.Spec.Containers[0].SecurityContext.Capabilities = nil
	})
	if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "PodSecurity") {
		t.Errorf("a pod keeping its capabilities was not refused by Pod Security in %s: %v", ns.Name, err)
	}
	c := pt.Spec.Containers[0].SecurityContext
	if c == nil || c.ReadOnlyRootFilesystem == nil || !*c.ReadOnlyRootFilesystem {
		t.Errorf("the manager container's root file system is not read-only")
	}
}

// checkAvailability checks the PodDisruptionBudget and topology spread of
// the manager's pods, and that the authorization endpoint's and the
// metrics' Services reach their ports.
func checkAvailability(t *testing.T, inst installer, deploy *unstructured.Unstructured, c container) {
	t.Helper()
	podLabels, _, _ := unstructured.NestedStringMap(deploy.Object, "spec", "template", "metadata", "labels")
	replicas := num(deploy.Object["spec"].(map[string]any)["replicas"])
	pdb := inst.one(t, "PodDisruptionBudget", "")
	if sel, _, _ := unstructured.NestedStringMap(pdb.Object, "spec", "selector", "matchLabels"); !selects(sel, podLabels) {
		t.Errorf("the PodDisruptionBudget selects %v, not the manager's pods (%v)", sel, podLabels)
	}
	minAvailable, _, _ := unstructured.NestedFieldNoCopy(pdb.Object, "spec", "minAvailable")
	if n := num(minAvailable); n < 1 || n >= replicas {
		t.Errorf("the PodDisruptionBudget's minAvailable is %v with %d replicas: want at least 1 and below the replicas", minAvailable, replicas)
	}
	spread, _, _ := unstructured.NestedSlice(deploy.Object, "spec", "template", "spec", "topologySpreadConstraints")
	hostname := false
	for _, s := range spread {
		m := s.(map[string]any)
		sel, _, _ := unstructured.NestedStringMap(m, "labelSelector", "matchLabels")
		if m["topologyKey"] == "kubernetes.io/hostname" && m["whenUnsatisfiable"] == "ScheduleAnyway" && selects(sel, podLabels) {
			hostname = true
		}
	}
	if !hostname {
		t.Errorf("the manager's pods are not spread across nodes (topologySpreadConstraints %v)", spread)
	}

	for _, svc := range []struct{ name, flag, def string }{
		{"authz-service", "authz-bind-address", ":8443"},
		{"metrics-service", "metrics-bind-address", ":8080"},
	} {
		s := inst.one(t, "Service", prefixed(inst, svc.name))
		if sel, _, _ := unstructured.NestedStringMap(s.Object, "spec", "selector"); !selects(sel, podLabels) {
			t.Errorf("Service %s selects %v, not the manager's pods", s.GetName(), sel)
		}
		ports, _, _ := unstructured.NestedSlice(s.Object, "spec", "ports")
		want := flagPort(t, c, svc.flag, svc.def)
		// The manager serves both with the Certificate's certificate, so
		// clients verify the Service's name.
		if dnsNames, _, _ := unstructured.NestedStringSlice(inst.one(t, "Certificate", "").Object, "spec", "dnsNames"); !slices.Contains(dnsNames, s.GetName()+"."+s.GetNamespace()+".svc") {
			t.Errorf("the Certificate's DNS names %v miss Service %s.%s.svc", dnsNames, s.GetName(), s.GetNamespace())
		}
		if len(ports) != 1 || num(ports[0].(map[string]any)["port"]) != 8443 || !c.hasPort(ports[0].(map[string]any)["targetPort"], want) {
			t.Errorf("Service %s: ports %v, want 8443 to the container port of --%s (%d)", s.GetName(), ports, svc.flag, want)
		}
	}
}

// checkNetworkPolicies checks the NetworkPolicies as the API server stored
// them: they select the manager's pods; ingress reaches exactly the
// webhook (from anywhere: the API server), the authorization endpoint (from
// namespaces labelled authzClientLabel) and the metrics (from namespaces
// labelled metricsScraperLabel) at the container ports the flags bind;
// egress reaches the API server and DNS.
func checkNetworkPolicies(ctx context.Context, t *testing.T, dyn dynamic.Interface, inst installer, deploy *unstructured.Unstructured, c container) {
	t.Helper()
	podLabels, _, _ := unstructured.NestedStringMap(deploy.Object, "spec", "template", "metadata", "labels")
	gvr := schema.GroupVersionResource{Group: "networking.k8s.io", Version: "v1", Resource: "networkpolicies"}
	ingress := map[int32]string{} // container port -> who may reach it
	var egress []string
	for _, want := range inst.all("NetworkPolicy") {
		np, err := dyn.Resource(gvr).Namespace(want.GetNamespace()).Get(ctx, want.GetName(), metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if sel, _, _ := unstructured.NestedStringMap(np.Object, "spec", "podSelector", "matchLabels"); len(sel) == 0 || !selects(sel, podLabels) {
			t.Errorf("NetworkPolicy %s selects %v, not only the manager's pods", np.GetName(), sel)
		}
		rules, _, _ := unstructured.NestedSlice(np.Object, "spec", "ingress")
		for _, r := range rules {
			rule := r.(map[string]any)
			from := "anywhere"
			if peers, ok := rule["from"].([]any); ok {
				var who []string
				for _, p := range peers {
					sel, _, _ := unstructured.NestedStringMap(p.(map[string]any), "namespaceSelector", "matchLabels")
					who = append(who, fmt.Sprint(sel))
				}
				from = strings.Join(who, ",")
			}
			ports, _ := rule["ports"].([]any)
			if len(ports) == 0 {
				t.Errorf("NetworkPolicy %s: an ingress rule for every port", np.GetName())
			}
			for _, p := range ports {
				n := c.resolvePort(t, np.GetName(), p.(map[string]any)["port"])
				ingress[n] = from
			}
		}
		rules, _, _ = unstructured.NestedSlice(np.Object, "spec", "egress")
		for _, r := range rules {
			rule := r.(map[string]any)
			if _, ok := rule["to"]; ok {
				t.Errorf("NetworkPolicy %s: egress to %v; the API server and DNS are not pods", np.GetName(), rule["to"])
			}
			ports, _ := rule["ports"].([]any)
			for _, p := range ports {
				egress = append(egress, fmt.Sprintf("%v/%v", p.(map[string]any)["port"], p.(map[string]any)["protocol"]))
			}
		}
	}
	// The probes' port needs no rule: the kubelet, on the pod's node, is
	// always let in.
	want := map[int32]string{
		flagPort(t, c, "webhook-port", "9443"):          "anywhere",
		flagPort(t, c, "authz-bind-address", ":8443"):   fmt.Sprint(map[string]string{authzClientLabel: "true"}),
		flagPort(t, c, "metrics-bind-address", ":8080"): fmt.Sprint(map[string]string{metricsScraperLabel: "true"}),
	}
	if !reflect.DeepEqual(ingress, want) {
		t.Errorf("the network policies admit %v (container port: from), want %v", ingress, want)
	}
	slices.Sort(egress)
	if want := []string{"443/TCP", "53/TCP", "53/UDP", "6443/TCP"}; !slices.Equal(egress, want) {
		t.Errorf("the network policies let out %v, want %v", egress, want)
	}
}

// checkServiceMonitor checks the ServiceMonitor scrapes the metrics
// Service's port over HTTPS with Prometheus's token, verifying the
// certificate the Deployment mounts as --metrics-cert-dir by its CA and the
// Service's name, which the certificate covers.
func checkServiceMonitor(t *testing.T, inst installer, c container) {
	t.Helper()
	mon := inst.one(t, "ServiceMonitor", "")
	svc := inst.one(t, "Service", prefixed(inst, "metrics-service"))
	monSel, _, _ := unstructured.NestedStringMap(mon.Object, "spec", "selector", "matchLabels")
	for _, s := range inst.all("Service") {
		if selects(monSel, s.GetLabels()) != (s.GetName() == svc.GetName()) {
			t.Errorf("the ServiceMonitor's selector %v and Service %s", monSel, s.GetName())
		}
	}
	endpoints, _, _ := unstructured.NestedSlice(mon.Object, "spec", "endpoints")
	if len(endpoints) != 1 {
		t.Fatalf("the ServiceMonitor has %d endpoints", len(endpoints))
	}
	ep := endpoints[0].(map[string]any)
	ports, _, _ := unstructured.NestedSlice(svc.Object, "spec", "ports")
	if ep["port"] != ports[0].(map[string]any)["name"] || ep["scheme"] != "https" || ep["path"] != "/metrics" {
		t.Errorf("the ServiceMonitor scrapes %v://%v%v, want https on the metrics Service's port %v", ep["scheme"], ep["port"], ep["path"], ports[0].(map[string]any)["name"])
	}
	if ep["bearerTokenFile"] != "/var/run/secrets/kubernetes.io/serviceaccount/token" {
		t.Errorf("the ServiceMonitor sends no ServiceAccount token: %v", ep["bearerTokenFile"])
	}
	cert := inst.one(t, "Certificate", "")
	dnsNames, _, _ := unstructured.NestedStringSlice(cert.Object, "spec", "dnsNames")
	secret, _, _ := unstructured.NestedString(cert.Object, "spec", "secretName")
	serverName, _, _ := unstructured.NestedString(ep, "tlsConfig", "serverName")
	if serverName != svc.GetName()+"."+svc.GetNamespace()+".svc" || !slices.Contains(dnsNames, serverName) {
		t.Errorf("the ServiceMonitor verifies the name %q; the metrics Service is %s.%s.svc, the certificate names %v", serverName, svc.GetName(), svc.GetNamespace(), dnsNames)
	}
	if s, _, _ := unstructured.NestedString(ep, "tlsConfig", "ca", "secret", "name"); s != secret {
		t.Errorf("the ServiceMonitor trusts the CA of Secret %q, not the Certificate's %s", s, secret)
	}
	if skip, _, _ := unstructured.NestedBool(ep, "tlsConfig", "insecureSkipVerify"); skip {
		t.Error("the ServiceMonitor skips TLS verification")
	}
	if c.flag("metrics-secure") != "true" {
		t.Errorf("the Deployment sets --metrics-secure=%q, want true", c.flag("metrics-secure"))
	}
	if dir := c.secretMount(secret); dir == "" || c.flag("metrics-cert-dir") != dir {
		t.Errorf("the Deployment does not mount the Certificate's Secret %s at --metrics-cert-dir (%q)", secret, c.flag("metrics-cert-dir"))
	}
}

// checkSecureMetrics checks the running manager's metrics as Prometheus
// would scrape them with the ServiceMonitor: HTTPS verified against the CA
// and the ServiceMonitor's server name; 401 without a token or with a
// forged one, 403 for a ServiceAccount not bound to the metrics-reader
// ClusterRole, 200 for the one the installer's example binding names. It
// returns that scraper.
func checkSecureMetrics(ctx context.Context, t *testing.T, cs kubernetes.Interface, inst installer, caPEM []byte, url string) func(context.Context, string) (int, []byte, error) {
	t.Helper()
	mon := inst.one(t, "ServiceMonitor", "")
	endpoints, _, _ := unstructured.NestedSlice(mon.Object, "spec", "endpoints")
	serverName, _, _ := unstructured.NestedString(endpoints[0].(map[string]any), "tlsConfig", "serverName")
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: pool, ServerName: serverName, MinVersion: tls.VersionTLS12},
		ForceAttemptHTTP2: true, // the server must still answer HTTP/1.1 only
	}}
	get := func(ctx context.Context, url, token string) (int, []byte, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return 0, nil, err
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := client.Do(req)
		if err != nil {
			return 0, nil, err
		}
		defer func() { _ = resp.Body.Close() }()
		if resp.ProtoMajor != 1 {
			return 0, nil, fmt.Errorf("metrics served over %s, want HTTP/1.1", resp.Proto)
		}
		data, err := io.ReadAll(resp.Body)
		return resp.StatusCode, data, err
	}

	// The example binding: the metrics-reader ClusterRole, to Prometheus's
	// ServiceAccount.
	var reader *unstructured.Unstructured
	for _, r := range inst.all("ClusterRole") {
		rules, _, _ := unstructured.NestedSlice(r.Object, "rules")
		if len(rules) == 1 {
			urls, _, _ := unstructured.NestedStringSlice(rules[0].(map[string]any), "nonResourceURLs")
			verbs, _, _ := unstructured.NestedStringSlice(rules[0].(map[string]any), "verbs")
			if slices.Equal(urls, []string{"/metrics"}) && slices.Equal(verbs, []string{"get"}) {
				reader = r
			}
		}
	}
	if reader == nil {
		t.Fatal("the installer has no ClusterRole allowing only get on /metrics")
	}
	var sa string
	for _, b := range inst.all("ClusterRoleBinding") {
		if name, _, _ := unstructured.NestedString(b.Object, "roleRef", "name"); name == reader.GetName() {
			subjects, _, _ := unstructured.NestedSlice(b.Object, "subjects")
			s := subjects[0].(map[string]any)
			if s["kind"] != "ServiceAccount" || s["namespace"] != scraperNamespace {
				t.Fatalf("the metrics-reader binding's subject is %v, want a ServiceAccount of %s", s, scraperNamespace)
			}
			sa = s["name"].(string)
		}
	}
	if sa == "" {
		t.Fatalf("the installer binds %s to nobody", reader.GetName())
	}
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
		Name: scraperNamespace, Labels: map[string]string{metricsScraperLabel: "true"},
	}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	token := func(name string) string {
		if _, err := cs.CoreV1().ServiceAccounts(scraperNamespace).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		exp := int64(600)
		tr, err := cs.CoreV1().ServiceAccounts(scraperNamespace).CreateToken(ctx, name, &authnv1.TokenRequest{Spec: authnv1.TokenRequestSpec{ExpirationSeconds: &exp}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return tr.Status.Token
	}
	prometheus, intruder := token(sa), token("intruder")
	eventually(ctx, t, "RBAC allows Prometheus /metrics", func() error {
		sar, err := cs.AuthorizationV1().SubjectAccessReviews().Create(ctx, &authzv1.SubjectAccessReview{Spec: authzv1.SubjectAccessReviewSpec{
			User:                  "system:serviceaccount:" + scraperNamespace + ":" + sa,
			NonResourceAttributes: &authzv1.NonResourceAttributes{Path: "/metrics", Verb: "get"},
		}}, metav1.CreateOptions{})
		if err != nil {
			return err
		}
		if !sar.Status.Allowed {
			return errors.New("not yet allowed")
		}
		return nil
	})

	for _, tc := range []struct {
		who, token string
		want       int
	}{
		{"no token", "", http.StatusUnauthorized},
		{"a forged token", "forged", http.StatusUnauthorized},
		{"a ServiceAccount not bound to " + reader.GetName(), intruder, http.StatusForbidden},
		{"Prometheus's ServiceAccount", prometheus, http.StatusOK},
	} {
		var code int
		var body []byte
		eventually(ctx, t, "the metrics over HTTPS", func() (err error) {
			code, body, err = get(ctx, url, tc.token)
			return err
		})
		if code != tc.want {
			t.Errorf("metrics with %s: %d, want %d", tc.who, code, tc.want)
		}
		if code == http.StatusOK && !strings.Contains(string(body), "controller_runtime_") {
			t.Errorf("metrics with %s: no metrics in %.200s", tc.who, body)
		}
	}
	// Nothing in the clear.
	if code, _, err := httpGet(ctx, strings.Replace(url, "https://", "http://", 1)); err == nil && code == http.StatusOK {
		t.Error("the metrics answer plain HTTP")
	}
	return func(ctx context.Context, url string) (int, []byte, error) { return get(ctx, url, prometheus) }
}

func httpGet(ctx context.Context, url string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	data, err := io.ReadAll(resp.Body)
	return resp.StatusCode, data, err
}

// num is a number of a decoded object (JSON's float64 or the API's int64),
// or -1.
func num(v any) int64 {
	switch n := v.(type) {
	case int64:
		return n
	case float64:
		return int64(n)
	case int:
		return int64(n)
	}
	return -1
}

// selects reports whether every label of sel is in labels.
func selects(sel, labels map[string]string) bool {
	for k, v := range sel {
		if labels[k] != v {
			return false
		}
	}
	return len(sel) > 0
}

// prefixed returns the installer's name of object name (its namePrefix is
// the Deployment's, less "controller-manager").
func prefixed(inst installer, name string) string {
	for _, d := range inst.all("Deployment") {
		if p, ok := strings.CutSuffix(d.GetName(), "controller-manager"); ok {
			return p + name
		}
	}
	return name
}

// flagPort is the port the container's --name binds (def when unset).
func flagPort(t *testing.T, c container, name, def string) int32 {
	t.Helper()
	v := c.flag(name)
	if v == "" {
		v = def
	}
	if _, p, err := net.SplitHostPort(v); err == nil {
		v = p
	}
	n, err := strconv.ParseInt(v, 10, 32)
	if err != nil {
		t.Fatalf("--%s=%s: %v", name, v, err)
	}
	return int32(n)
}

// resolvePort returns the container port a NetworkPolicy port (a number or
// a container port's name) names; it must be one of the container's.
func (c container) resolvePort(t *testing.T, policy string, port any) int32 {
	t.Helper()
	for _, p := range c.Ports {
		if port == p.Name || fmt.Sprint(port) == strconv.Itoa(int(p.ContainerPort)) {
			return p.ContainerPort
		}
	}
	t.Errorf("NetworkPolicy %s: port %v is none of the manager container's %v", policy, port, c.Ports)
	return 0
}
