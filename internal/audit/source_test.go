package audit_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/gatehouse-dev/gatehouse/internal/audit"
)

func TestSourceOf(t *testing.T) {
	long := strings.Repeat("é", 300) // 600 bytes of two-byte runes
	tests := map[string]struct {
		labels, annotations map[string]string
		argoCDWriter        bool
		want                *audit.Source
		wantNS, wantName    string
	}{
		"nothing": {want: nil},
		"Argo CD annotation tracking": {
			annotations: map[string]string{audit.ArgoCDTrackingAnnotation: "acme-policy:access.gatehouse.dev/Role:acme/technician"},
			want:        &audit.Source{Tool: audit.ToolArgoCD, Application: "acme-policy", TrackingID: "acme-policy:access.gatehouse.dev/Role:acme/technician"},
			wantNS:      "argocd", wantName: "acme-policy",
		},
		"Argo CD application in any namespace": {
			annotations: map[string]string{audit.ArgoCDTrackingAnnotation: "team-a_policy:access.gatehouse.dev/Role:acme/technician"},
			want:        &audit.Source{Tool: audit.ToolArgoCD, Application: "team-a/policy", TrackingID: "team-a_policy:access.gatehouse.dev/Role:acme/technician"},
			wantNS:      "team-a", wantName: "policy",
		},
		"Argo CD instance label": {
			labels: map[string]string{audit.ArgoCDInstanceLabel: "acme-policy"},
			want:   &audit.Source{Tool: audit.ToolArgoCD, Application: "acme-policy"},
			wantNS: "argocd", wantName: "acme-policy",
		},
		"the standard instance label alone is not Argo CD (Helm sets it too)": {
			labels: map[string]string{audit.StandardInstanceLabel: "my-release"},
			want:   nil,
		},
		"the standard instance label written by Argo CD": {
			labels: map[string]string{audit.StandardInstanceLabel: "acme-policy"}, argoCDWriter: true,
			want:   &audit.Source{Tool: audit.ToolArgoCD, Application: "acme-policy"},
			wantNS: "argocd", wantName: "acme-policy",
		},
		"Argo CD writer without marks": {
			argoCDWriter: true, want: &audit.Source{Tool: audit.ToolArgoCD},
		},
		"Flux Kustomization": {
			labels: map[string]string{"kustomize.toolkit.fluxcd.io/name": "policy", "kustomize.toolkit.fluxcd.io/namespace": "flux-system"},
			want:   &audit.Source{Tool: audit.ToolFlux, Application: "flux-system/policy"},
		},
		"Flux HelmRelease": {
			labels: map[string]string{"helm.toolkit.fluxcd.io/name": "gatehouse-policy"},
			want:   &audit.Source{Tool: audit.ToolFlux, Application: "gatehouse-policy"},
		},
		"a hostile tracking id is cut on a rune boundary": {
			annotations: map[string]string{audit.ArgoCDTrackingAnnotation: long},
			want:        &audit.Source{Tool: audit.ToolArgoCD},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := audit.SourceOfWriter(tc.labels, tc.annotations, tc.argoCDWriter)
			if name == "a hostile tracking id is cut on a rune boundary" {
				if got == nil || len(got.TrackingID) > 253 || len(got.Application) > 253 || !utf8.ValidString(got.TrackingID) || !utf8.ValidString(got.Application) {
					t.Fatalf("got %+v", got)
				}
				return
			}
			if (got == nil) != (tc.want == nil) || (got != nil && *got != *tc.want) {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
			ns, n, ok := got.ApplicationKey("argocd")
			if ok != (tc.wantName != "") || ns != tc.wantNS || n != tc.wantName {
				t.Errorf("ApplicationKey = %q %q %v, want %q %q", ns, n, ok, tc.wantNS, tc.wantName)
			}
		})
	}
}

func TestFillFromApplication(t *testing.T) {
	tests := map[string]struct {
		app  map[string]any
		want audit.Source
	}{
		"a sync in progress, automated": {
			app: map[string]any{
				"spec": map[string]any{"source": map[string]any{"repoURL": "https://git.example.com/p.git", "path": "acme"}},
				"status": map[string]any{
					"sync":           map[string]any{"revision": "old"},
					"operationState": map[string]any{"operation": map[string]any{"sync": map[string]any{"revision": "new"}, "initiatedBy": map[string]any{"automated": true}}},
				},
			},
			want: audit.Source{RepoURL: "https://git.example.com/p.git", Path: "acme", Revision: "new", InitiatedBy: "automated"},
		},
		"a finished sync by a user, multi-source": {
			app: map[string]any{
				"spec": map[string]any{"sources": []any{map[string]any{"repoURL": "https://git.example.com/a.git", "path": "x"}, map[string]any{"repoURL": "b"}}},
				"status": map[string]any{"operationState": map[string]any{
					"syncResult": map[string]any{"revision": "abc"},
					"operation":  map[string]any{"initiatedBy": map[string]any{"username": "alice"}}}},
			},
			want: audit.Source{RepoURL: "https://git.example.com/a.git", Path: "x", Revision: "abc", InitiatedBy: "alice"},
		},
		"only the last synced revision": {
			app:  map[string]any{"status": map[string]any{"sync": map[string]any{"revision": "r1"}}},
			want: audit.Source{Revision: "r1"},
		},
		"wrong types are ignored": {
			app:  map[string]any{"spec": "x", "status": map[string]any{"sync": map[string]any{"revision": 42}, "operationState": []any{}}},
			want: audit.Source{},
		},
		"empty": {app: map[string]any{}, want: audit.Source{}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var got audit.Source
			got.FillFromApplication(tc.app)
			if got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}
