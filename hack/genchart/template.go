package genchart

import (
	"errors"
	"fmt"
	"strings"
)

// gen holds the chart being generated.
type gen struct {
	files      map[string][]byte
	ns         string
	values     *values
	deployment bool
	partOf     map[string]string // object key → the value of its optional part
}

// values are the defaults found in config/ for the chart's values.
type values struct {
	namespace      string
	replicas       any
	resources      any
	pullPolicy     string
	leaderElect    bool
	metricsSecure  bool
	serviceMonitor *bool // nil: config/ has no ServiceMonitor
	authzService   *bool // nil: config/ has no Service of its own for the endpoint
	authzPort      any   // nil: no Service port named authz
	parts          []string
}

func and(a, b string) string {
	if a == "" {
		return b
	}
	return "and (" + a + ") (" + b + ")"
}

// template replaces the values the chart exposes in o, and narrows cond
// (when the object is rendered at all).
func (g *gen) template(o obj, cond *string) error {
	g.values.namespace = g.ns
	md, _ := o["metadata"].(map[string]any)
	switch kind(o) {
	case "Namespace":
		*cond = and(*cond, ".Values.createNamespace")
	case "ServiceMonitor":
		on := g.partOf[key(o)] == ""
		if on { // in config/default itself
			*cond = and(*cond, ".Values.metrics.serviceMonitor.enabled")
		}
		g.values.serviceMonitor = &on
	case "Service":
		if strings.Contains(name(o), "authz") {
			*cond = and(*cond, ".Values.authz.service.enabled")
			on := true
			g.values.authzService = &on
		}
		spec, _ := o["spec"].(map[string]any)
		ports, _ := spec["ports"].([]any)
		for _, p := range ports {
			if p, ok := p.(map[string]any); ok && p["name"] == "authz" {
				if g.values.authzPort == nil {
					g.values.authzPort = p["port"]
				}
				p["port"] = inline("{{ .Values.authz.service.port }}")
			}
		}
	case "Deployment":
		if md != nil {
			return g.deploymentValues(o)
		}
	}
	return nil
}

func (g *gen) deploymentValues(o obj) error {
	spec, _ := o["spec"].(map[string]any)
	pod, _ := dig(spec, "template", "spec").(map[string]any)
	containers, _ := pod["containers"].([]any)
	var c map[string]any
	for _, x := range containers {
		if x, ok := x.(map[string]any); ok && x["name"] == "manager" {
			c = x
		}
	}
	if c == nil {
		return errors.New("no manager container")
	}
	if g.deployment {
		return errors.New("more than one manager Deployment")
	}
	g.deployment = true
	if r, ok := spec["replicas"]; ok {
		g.values.replicas = r
	} else {
		g.values.replicas = 1
	}
	spec["replicas"] = inline("{{ .Values.replicas }}")
	if _, ok := c["image"].(string); !ok {
		return errors.New("the manager's image differs between the modes")
	}
	c["image"] = inline(`{{ include "gatehouse.image" . | quote }}`)
	if p, ok := c["imagePullPolicy"].(string); ok {
		g.values.pullPolicy = p
	}
	c["imagePullPolicy"] = optional{".Values.image.pullPolicy", inline("{{ .Values.image.pullPolicy }}")}
	g.values.resources = c["resources"]
	c["resources"] = toYAML(".Values.resources")

	args, _ := c["args"].([]any)
	var out []any
	var seenLeader, seenSecure bool
	for _, a := range args {
		// In place, so that the defaults keep config/'s order.
		// --flag (on when the value is) or --flag=true|false (the value's).
		switch a {
		case "--leader-elect":
			g.values.leaderElect = true
			out = append(out, optional{".Values.leaderElection.enabled", a})
			continue
		case "--metrics-secure":
			g.values.metricsSecure = true
			out = append(out, optional{".Values.metrics.secure", a})
			continue
		case "--leader-elect=true", "--leader-elect=false":
			g.values.leaderElect = a == "--leader-elect=true"
			seenLeader = true
			out = append(out, inline(`{{ printf "--leader-elect=%t" .Values.leaderElection.enabled | quote }}`))
			continue
		case "--metrics-secure=true", "--metrics-secure=false":
			g.values.metricsSecure = a == "--metrics-secure=true"
			seenSecure = true
			out = append(out, inline(`{{ printf "--metrics-secure=%t" .Values.metrics.secure | quote }}`))
			continue
		}
		if s, ok := a.(string); ok && strings.HasPrefix(s, "--tenant-max-") {
			return fmt.Errorf("config/ sets %s: the chart's tenantLimits would override it", s)
		}
		out = append(out, a)
	}
	str := func(cond, flag, value string) any {
		return optional{cond, inline(fmt.Sprintf("{{ printf %q %s | quote }}", "--"+flag+"=%s", value))}
	}
	if !g.values.leaderElect && !seenLeader {
		out = append(out, optional{".Values.leaderElection.enabled", "--leader-elect"})
	}
	if !g.values.metricsSecure && !seenSecure {
		out = append(out, optional{".Values.metrics.secure", "--metrics-secure"})
	}
	out = append(out,
		str(".Values.sharding.shard", "shard", ".Values.sharding.shard"),
		optional{"and .Values.sharding.shard .Values.sharding.default", "--shard-default"},
	)
	for _, l := range limits() {
		out = append(out, inline(fmt.Sprintf("{{ printf %q (int64 .Values.tenantLimits.%s) | quote }}", "--"+l.flag+"=%d", l.key)))
	}
	out = append(out,
		str(".Values.audit.log", "audit-log", ".Values.audit.log"),
		str(".Values.audit.http.url", "audit-http-url", ".Values.audit.http.url"),
		str(".Values.audit.http.tokenFile", "audit-http-token-file", ".Values.audit.http.tokenFile"),
		str(".Values.audit.http.spoolDir", "audit-http-spool-dir", ".Values.audit.http.spoolDir"),
		optional{".Values.audit.required", "--audit-required"},
		block(func(col int) []string {
			return []string{"{{- range .Values.extraArgs }}", strings.Repeat(" ", col) + "- {{ . | quote }}", "{{- end }}"}
		}),
	)
	c["args"] = out
	appendBlock := func(m map[string]any, key, value string) {
		list, _ := m[key].([]any)
		m[key] = append(list, block(func(col int) []string {
			return []string{"{{- with " + value + " }}", fmt.Sprintf("{{- toYaml . | nindent %d }}", col), "{{- end }}"}
		}))
	}
	appendBlock(c, "volumeMounts", ".Values.extraVolumeMounts")
	appendBlock(pod, "volumes", ".Values.extraVolumes")
	for _, k := range []string{"nodeSelector", "tolerations", "affinity"} {
		if _, ok := pod[k]; ok {
			return fmt.Errorf("config/ sets the pod's %s: the chart's value would replace it", k)
		}
		pod[k] = optional{".Values." + k, toYAML(".Values." + k)}
	}
	return nil
}

func toYAML(value string) block {
	return func(col int) []string {
		return []string{fmt.Sprintf("{{- toYaml %s | nindent %d }}", value, col)}
	}
}

func dig(v any, path ...string) any {
	for _, p := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[p]
	}
	return v
}
