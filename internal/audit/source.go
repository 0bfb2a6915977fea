package audit

import (
	"strings"
	"unicode/utf8"
)

// GitOps provenance is read from the metadata the GitOps controllers put on
// what they apply. One table: a recogniser per controller.
const (
	// ToolArgoCD and ToolFlux name the GitOps controllers recognised.
	ToolArgoCD = "argocd"
	ToolFlux   = "flux"

	// ArgoCDTrackingAnnotation is Argo CD's annotation tracking method
	// (the default from Argo CD 3): "<app>:<group>/<kind>:<namespace>/<name>",
	// where <app> is "<namespace>_<name>" for an Application outside Argo
	// CD's own namespace.
	ArgoCDTrackingAnnotation = "argocd.argoproj.io/tracking-id"
	// ArgoCDInstanceLabel is the label Argo CD's documentation recommends
	// for label tracking (application.instanceLabelKey).
	ArgoCDInstanceLabel = "argocd.argoproj.io/instance"
	// StandardInstanceLabel is Argo CD's default label tracking key. Helm
	// charts set it too, so it is read only when the writer is known to be
	// Argo CD (SourceOfWriter).
	StandardInstanceLabel = "app.kubernetes.io/instance"
)

type sourceRecogniser struct {
	tool string
	// application returns the application's name, "" when the object does
	// not carry this controller's marks.
	application func(labels, annotations map[string]string) (app, trackingID string)
}

var sourceRecognisers = []sourceRecogniser{
	{tool: ToolArgoCD, application: func(labels, annotations map[string]string) (string, string) {
		if id := annotations[ArgoCDTrackingAnnotation]; id != "" {
			app, _, _ := strings.Cut(id, ":")
			return strings.Replace(app, "_", "/", 1), id
		}
		return labels[ArgoCDInstanceLabel], ""
	}},
	{tool: ToolFlux, application: fluxOwner("kustomize.toolkit.fluxcd.io")},
	{tool: ToolFlux, application: fluxOwner("helm.toolkit.fluxcd.io")},
}

// fluxOwner reads the name and namespace labels Flux's kustomize- and
// helm-controller put on what they apply.
func fluxOwner(prefix string) func(labels, _ map[string]string) (string, string) {
	return func(labels, _ map[string]string) (string, string) {
		name := labels[prefix+"/name"]
		if name == "" {
			return "", ""
		}
		if ns := labels[prefix+"/namespace"]; ns != "" {
			return ns + "/" + name, ""
		}
		return name, ""
	}
}

// maxSourceValue bounds what is copied from metadata into a record.
const maxSourceValue = 253

// SourceOf returns where a GitOps controller applied an object from, read
// from its labels and annotations; nil when none is recognised.
func SourceOf(labels, annotations map[string]string) *Source {
	for _, rec := range sourceRecognisers {
		if app, id := rec.application(labels, annotations); app != "" {
			return &Source{Tool: rec.tool, Application: clip(app), TrackingID: clip(id)}
		}
	}
	return nil
}

// SourceOfWriter is SourceOf for a change written by argoCD (the writer is
// one of Argo CD's ServiceAccounts): Argo CD's default instance label then
// names the Application too.
func SourceOfWriter(labels, annotations map[string]string, argoCD bool) *Source {
	if s := SourceOf(labels, annotations); s != nil || !argoCD {
		return s
	}
	if app := labels[StandardInstanceLabel]; app != "" {
		return &Source{Tool: ToolArgoCD, Application: clip(app)}
	}
	return &Source{Tool: ToolArgoCD}
}

// ApplicationKey returns the namespace and name of the Argo CD Application
// s names; an Application without a namespace is in defaultNamespace (Argo
// CD's own). ok is false for other tools.
func (s *Source) ApplicationKey(defaultNamespace string) (namespace, name string, ok bool) {
	if s == nil || s.Tool != ToolArgoCD || s.Application == "" {
		return "", "", false
	}
	if ns, n, found := strings.Cut(s.Application, "/"); found {
		return ns, n, true
	}
	return defaultNamespace, s.Application, true
}

// FillFromApplication copies, from an Argo CD Application's content (as
// unstructured), the repository, path and revision being synced and who
// started the sync. During a sync (when the webhook sees its writes) the
// operation names the revision; otherwise the last synced one is used.
func (s *Source) FillFromApplication(app map[string]any) {
	str := func(path ...string) string {
		v, _ := nested(app, path...).(string)
		return clip(v)
	}
	s.RepoURL, s.Path = str("spec", "source", "repoURL"), str("spec", "source", "path")
	if s.RepoURL == "" { // a multi-source Application: the first source
		if srcs, ok := nested(app, "spec", "sources").([]any); ok && len(srcs) > 0 {
			if first, ok := srcs[0].(map[string]any); ok {
				s.RepoURL, _ = first["repoURL"].(string)
				s.Path, _ = first["path"].(string)
				s.RepoURL, s.Path = clip(s.RepoURL), clip(s.Path)
			}
		}
	}
	for _, rev := range [][]string{
		{"status", "operationState", "operation", "sync", "revision"},
		{"status", "operationState", "syncResult", "revision"},
		{"status", "sync", "revision"},
	} {
		if s.Revision = str(rev...); s.Revision != "" {
			break
		}
	}
	if user := str("status", "operationState", "operation", "initiatedBy", "username"); user != "" {
		s.InitiatedBy = user
	} else if auto, _ := nested(app, "status", "operationState", "operation", "initiatedBy", "automated").(bool); auto {
		s.InitiatedBy = "automated"
	}
}

func nested(m map[string]any, path ...string) any {
	var cur any = m
	for _, p := range path {
		mm, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = mm[p]
	}
	return cur
}

// clip cuts s to at most maxSourceValue bytes, on a rune boundary.
func clip(s string) string {
	if len(s) <= maxSourceValue {
		return s
	}
	cut := maxSourceValue
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut]
}
