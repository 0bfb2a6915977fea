// Package genchart generates the Helm chart charts/gatehouse from the
// kustomize output of config/: config/default (cert-manager certificates)
// and config/certrotation (the manager's built-in rotation) are rendered
// with `kubectl kustomize`, merged object by object (what differs between
// the two becomes conditional on certificates.mode), and the values the
// chart exposes are templated into the merged objects. Nothing in the
// chart's templates is written by hand, so the chart follows config/: run
// hack/gen-chart.sh after changing config/ (test/helm fails until then).
package genchart

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/gatehouse-dev/gatehouse/internal/snapshot"
)

// Conditions of the two certificate modes.
const (
	certManager = `eq .Values.certificates.mode "certManager"`
	builtIn     = `eq .Values.certificates.mode "builtIn"`
	nsInclude   = `{{ include "gatehouse.namespace" . }}`
)

// Generate returns the chart's files (path relative to the chart → content)
// generated from the repository at root with kubectl (for `kubectl
// kustomize`).
func Generate(root, kubectl string) (map[string][]byte, error) {
	cm, err := render(kubectl, filepath.Join(root, "config", "default"))
	if err != nil {
		return nil, err
	}
	br, err := render(kubectl, filepath.Join(root, "config", "certrotation"))
	if err != nil {
		return nil, err
	}
	ns := ""
	for _, o := range cm {
		if kind(o) == "Namespace" {
			ns = name(o)
		}
	}
	if ns == "" {
		return nil, errors.New("config/default renders no Namespace")
	}
	g := &gen{files: map[string][]byte{}, ns: ns, values: &values{}, partOf: map[string]string{}}
	// CRDs go to crds/ as rendered (Helm installs them first, never
	// templates or upgrades them).
	for _, o := range cm {
		if kind(o) == "CustomResourceDefinition" {
			data, err := yaml.Marshal(o)
			if err != nil {
				return nil, err
			}
			g.files["crds/"+name(o)+".yaml"] = append([]byte(generatedHeader("#", "config/crd/bases (as config/default renders it)")), data...)
		}
	}
	isCRD := func(o obj) bool { return kind(o) == "CustomResourceDefinition" }
	all := slices.Clone(cm)
	cm, br = slices.DeleteFunc(cm, isCRD), slices.DeleteFunc(br, isCRD)
	// The optional parts of config/default (its `#- ../PART` lines): their
	// objects, each part's off by default.
	parts, err := renderParts(root, kubectl, all)
	if err != nil {
		return nil, err
	}
	for _, p := range parts {
		g.values.parts = append(g.values.parts, p.name)
		for _, o := range p.objs {
			if kind(o) == "ServiceMonitor" && p.name != "prometheus" {
				return nil, fmt.Errorf("config/%s has a ServiceMonitor: only config/prometheus's is metrics.serviceMonitor", p.name)
			}
			g.partOf[key(o)] = partValue(p.name)
		}
		cm, br = append(cm, p.objs...), append(br, p.objs...)
	}
	// One template per object of either mode, in kustomize's order.
	for _, p := range lcs(cm, br, func(o any) string { return key(o.(obj)) }) {
		var node any
		cond := ""
		switch {
		case p.a != nil && p.b != nil:
			node = merge(p.a, p.b)
		case p.a != nil:
			node, cond = p.a, certManager
		default:
			node, cond = p.b, builtIn
		}
		o := node.(obj)
		// Text of the objects that looks like a template action (a Grafana
		// legend's {{decision}}) stays text: Helm prints it as it is.
		escapeActions(o)
		if v, ok := g.partOf[key(o)]; ok {
			cond = and(cond, v+".enabled")
		}
		if err := g.template(o, &cond); err != nil {
			return nil, fmt.Errorf("%s: %w", key(o), err)
		}
		text, err := emit(o)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", key(o), err)
		}
		text = strings.ReplaceAll(text, ns, nsInclude)
		var b strings.Builder
		b.WriteString(generatedHeader("#", "config/ (config/default, config/certrotation, config/prometheus)"))
		if cond != "" {
			fmt.Fprintf(&b, "{{- if %s }}\n", cond)
		}
		b.WriteString(text)
		if cond != "" {
			b.WriteString("{{- end }}\n")
		}
		if kind(o) == "Deployment" {
			b.WriteString("{{- include \"gatehouse.validate\" . }}\n")
		}
		file := "templates/" + strings.ToLower(kind(o)) + "-" + strings.TrimPrefix(name(o), "gatehouse-") + ".yaml"
		g.files[file] = []byte(b.String())
	}
	if !g.deployment {
		return nil, errors.New("config/default renders no Deployment with a manager container")
	}
	g.files["values.yaml"] = g.values.render()
	g.files["Chart.yaml"] = []byte(chartYAML)
	g.files[".helmignore"] = []byte(helmignore)
	g.files["templates/_helpers.tpl"] = []byte(helpers)
	g.files["templates/NOTES.txt"] = []byte(notes)
	g.files["README.md"] = []byte(readme(g.values))
	return g.files, nil
}

// Write replaces the chart at dir with files.
func Write(dir string, files map[string][]byte) error {
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	for name, data := range files {
		file := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(file, data, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// Read returns the files of the chart at dir, as Generate would.
func Read(dir string) (map[string][]byte, error) {
	files := map[string][]byte{}
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		data, err := os.ReadFile(path)
		files[filepath.ToSlash(rel)] = data
		return err
	})
	return files, err
}

func generatedHeader(comment, from string) string {
	return comment + " Code generated by hack/gen-chart.sh from " + from + ". DO NOT EDIT.\n"
}

type obj = map[string]any

func kind(o obj) string { s, _ := o["kind"].(string); return s }

func name(o obj) string {
	md, _ := o["metadata"].(map[string]any)
	s, _ := md["name"].(string)
	return s
}

func key(o obj) string {
	md, _ := o["metadata"].(map[string]any)
	ns, _ := md["namespace"].(string)
	return kind(o) + "/" + ns + "/" + name(o)
}

func render(kubectl, dir string) ([]obj, error) {
	cmd := exec.Command(kubectl, "kustomize", dir)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("kubectl kustomize %s: %v\n%s", dir, err, stderr.Bytes())
	}
	return Decode(out)
}

type part struct {
	name string
	objs []obj
}

var optionalPart = regexp.MustCompile(`(?m)^#- \.\./([a-z0-9-]+)$`)

// partValue is the value that turns an optional part on (with .enabled).
func partValue(name string) string { return ".Values." + PartValue(name) }

// PartValue is the value (a path in values.yaml, with .enabled) that turns
// the optional part config/name of config/default on.
func PartValue(name string) string {
	if name == "prometheus" {
		return "metrics.serviceMonitor"
	}
	return camel(name)
}

// OptionalParts lists the optional parts of config/default: its
// kustomization.yaml's `#- ../PART` lines.
func OptionalParts(root string) ([]string, error) {
	data, err := os.ReadFile(filepath.Join(root, "config", "default", "kustomization.yaml"))
	if err != nil {
		return nil, err
	}
	var out []string
	for _, m := range optionalPart.FindAllStringSubmatch(string(data), -1) {
		out = append(out, m[1])
	}
	return out, nil
}

// renderParts renders config/default with each of its optional parts (a
// `#- ../PART` line of its kustomization.yaml) uncommented, as
// `INSTALLER_OPTIONAL=PART hack/render-installer.sh` does, and returns the
// objects each part adds. A part that changes config/default's objects is
// not supported.
func renderParts(root, kubectl string, base []obj) ([]part, error) {
	names, err := OptionalParts(root)
	if err != nil {
		return nil, err
	}
	var out []part
	for _, name := range names {
		objs, err := renderWith(root, kubectl, name)
		if err != nil {
			return nil, err
		}
		var added []obj
		for _, o := range objs {
			i := slices.IndexFunc(base, func(b obj) bool { return key(b) == key(o) })
			switch {
			case i < 0:
				added = append(added, o)
			case !reflect.DeepEqual(base[i], o):
				return nil, fmt.Errorf("the optional part config/%s changes %s: the generator supports parts that only add objects", name, key(o))
			}
		}
		out = append(out, part{name, added})
	}
	return out, nil
}

// renderWith renders a copy of config/default with part uncommented.
func renderWith(root, kubectl, name string) ([]obj, error) {
	dir := filepath.Join(root, "config", "default")
	tmp, err := os.MkdirTemp("", "genchart-")
	if err != nil {
		return nil, err
	}
	defer func() { _ = os.RemoveAll(tmp) }()
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		if e.Name() == "kustomization.yaml" {
			config, err := filepath.Rel(tmp, filepath.Join(root, "config"))
			if err != nil {
				return nil, err
			}
			text := strings.ReplaceAll(string(data), "\n#- ../"+name+"\n", "\n- ../"+name+"\n")
			// kustomize refuses absolute paths: the bases by a relative one.
			text = regexp.MustCompile(`(?m)^- \.\./`).ReplaceAllString(text, "- "+filepath.ToSlash(config)+"/")
			data = []byte(text)
		}
		if err := os.WriteFile(filepath.Join(tmp, e.Name()), data, 0o600); err != nil {
			return nil, err
		}
	}
	return render(kubectl, tmp)
}

// Decode splits a multi-document YAML stream into objects.
func Decode(data []byte) ([]obj, error) {
	var out []obj
	for doc := range strings.SplitSeq("\n"+string(data), "\n---") {
		var o obj
		if err := yaml.Unmarshal([]byte(doc), &o); err != nil {
			return nil, err
		}
		if len(o) > 0 {
			out = append(out, o)
		}
	}
	return out, nil
}

// Nodes of the merged, templated tree besides maps, lists and scalars.
type (
	// optional is a map value or list item present only when cond holds.
	optional struct {
		cond string
		v    any
	}
	// either is a value that differs between the certificate modes.
	either struct{ cm, br any }
	// inline is template text standing for a whole scalar.
	inline string
	// block renders lines at column col: the value of a key (below it) or
	// list items (at the dash column).
	block func(col int) []string
)

type pair struct{ a, b any }

// lcs aligns two sequences by id (their longest common subsequence), the
// unmatched elements of either in place.
func lcs[T any](a, b []T, id func(any) string) []pair {
	n, m := len(a), len(b)
	l := make([][]int, n+1)
	for i := range l {
		l[i] = make([]int, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if id(a[i]) == id(b[j]) {
				l[i][j] = l[i+1][j+1] + 1
			} else {
				l[i][j] = max(l[i+1][j], l[i][j+1])
			}
		}
	}
	var out []pair
	i, j := 0, 0
	for i < n || j < m {
		switch {
		case i < n && j < m && id(a[i]) == id(b[j]):
			out = append(out, pair{a[i], b[j]})
			i, j = i+1, j+1
		case j == m || (i < n && l[i+1][j] >= l[i][j+1]):
			out = append(out, pair{a: a[i]})
			i++
		default:
			out = append(out, pair{b: b[j]})
			j++
		}
	}
	return out
}

// merge merges the cert-manager (a) and built-in rotation (b) variants of
// a value.
func merge(a, b any) any {
	if reflect.DeepEqual(a, b) {
		return a
	}
	am, aok := a.(map[string]any)
	bm, bok := b.(map[string]any)
	if aok && bok {
		out := map[string]any{}
		for k, v := range am {
			if w, ok := bm[k]; ok {
				out[k] = merge(v, w)
			} else {
				out[k] = optional{certManager, v}
			}
		}
		for k, w := range bm {
			if _, ok := am[k]; !ok {
				out[k] = optional{builtIn, w}
			}
		}
		return out
	}
	al, aok := a.([]any)
	bl, bok := b.([]any)
	if aok && bok {
		var out []any
		for _, p := range lcs(al, bl, identity) {
			switch {
			case p.a != nil && p.b != nil:
				out = append(out, merge(p.a, p.b))
			case p.a != nil:
				out = append(out, optional{certManager, p.a})
			default:
				out = append(out, optional{builtIn, p.b})
			}
		}
		return out
	}
	return either{a, b}
}

// identity matches list items: by name when they have one, else by value.
func identity(v any) string {
	if m, ok := v.(map[string]any); ok {
		if n, ok := m["name"].(string); ok {
			return "name:" + n
		}
	}
	data, _ := json.Marshal(v)
	return string(data)
}

// emit writes v as YAML with the template nodes expanded.
func emit(v any) (string, error) {
	lines, err := emitLines(v, 0)
	if err != nil {
		return "", err
	}
	return strings.Join(lines, "\n") + "\n", nil
}

var token = regexp.MustCompile(`__H(\d+)__`)

// emitLines emits v to be indented by base columns (for the blocks'
// indentation).
func emitLines(v any, base int) ([]string, error) {
	var nodes []any
	hold := func(n any) string {
		nodes = append(nodes, n)
		return fmt.Sprintf("__H%d__", len(nodes)-1)
	}
	var plain func(v any) any
	plain = func(v any) any {
		switch v := v.(type) {
		case map[string]any:
			out := map[string]any{}
			for k, w := range v {
				if o, ok := w.(optional); ok {
					// Named after k, so that the key sorts in its place.
					out[k+hold(optional{o.cond, map[string]any{k: o.v}})] = nil
					continue
				}
				out[k] = plain(w)
			}
			return out
		case []any:
			out := make([]any, len(v))
			for i, w := range v {
				out[i] = plain(w)
			}
			return out
		case optional, either, inline, block:
			return hold(v)
		}
		return v
	}
	data, err := yaml.Marshal(plain(v))
	if err != nil {
		return nil, err
	}
	var out []string
	for line := range strings.SplitSeq(strings.TrimRight(string(data), "\n"), "\n") {
		m := token.FindStringSubmatchIndex(line)
		if m == nil {
			out = append(out, line)
			continue
		}
		var n int
		_, _ = fmt.Sscan(line[m[2]:m[3]], &n)
		node, before, after := nodes[n], line[:m[0]], line[m[1]:]
		trimmed := strings.TrimLeft(before, " ")
		col := len(before) - len(trimmed)
		switch {
		case after == ": null": // an optional key
			o := node.(optional)
			k := slices.Collect(maps.Keys(o.v.(map[string]any)))[0]
			pad := strings.TrimSuffix(before, k)
			if strings.TrimLeft(pad, " ") != "" {
				return nil, fmt.Errorf("optional key %s cannot come first in a list item", k)
			}
			col = len(pad)
			sub, err := emitLines(o.v, base+col)
			if err != nil {
				return nil, err
			}
			out = append(out, "{{- if "+o.cond+" }}")
			out = append(out, indent(sub, col)...)
			out = append(out, "{{- end }}")
		case after == "" && trimmed == "- ": // a list item
			switch node := node.(type) {
			case optional:
				sub, err := emitLines([]any{node.v}, base+col)
				if err != nil {
					return nil, err
				}
				out = append(out, "{{- if "+node.cond+" }}")
				out = append(out, indent(sub, col)...)
				out = append(out, "{{- end }}")
			case block:
				out = append(out, node(base+col)...)
			case either:
				a, err := emitLines([]any{node.cm}, base+col)
				if err != nil {
					return nil, err
				}
				b, err := emitLines([]any{node.br}, base+col)
				if err != nil {
					return nil, err
				}
				out = append(out, "{{- if "+certManager+" }}")
				out = append(out, indent(a, col)...)
				out = append(out, "{{- else }}")
				out = append(out, indent(b, col)...)
				out = append(out, "{{- end }}")
			case inline:
				out = append(out, before+string(node))
			default:
				return nil, fmt.Errorf("unexpected list item %T", node)
			}
		case after == "" && strings.HasSuffix(trimmed, ": "): // a key's value
			head := strings.TrimSuffix(before, " ")
			valCol := col + 2
			if strings.HasPrefix(trimmed, "- ") {
				valCol += 2
			}
			switch node := node.(type) {
			case inline:
				out = append(out, before+string(node))
			case block:
				out = append(out, head)
				out = append(out, node(base+valCol)...)
			case either:
				if isScalar(node.cm) && isScalar(node.br) {
					a, _ := json.Marshal(node.cm)
					b, _ := json.Marshal(node.br)
					out = append(out, fmt.Sprintf("%s{{ if %s }}%s{{ else }}%s{{ end }}", before, certManager, a, b))
					continue
				}
				a, err := emitLines(node.cm, base+valCol)
				if err != nil {
					return nil, err
				}
				b, err := emitLines(node.br, base+valCol)
				if err != nil {
					return nil, err
				}
				out = append(out, head)
				out = append(out, "{{- if "+certManager+" }}")
				out = append(out, indent(a, valCol)...)
				out = append(out, "{{- else }}")
				out = append(out, indent(b, valCol)...)
				out = append(out, "{{- end }}")
			default:
				return nil, fmt.Errorf("unexpected value %T", node)
			}
		default:
			return nil, fmt.Errorf("cannot place a template node in %q", line)
		}
	}
	return out, nil
}

func isScalar(v any) bool {
	switch v.(type) {
	case map[string]any, []any:
		return false
	}
	return true
}

func indent(lines []string, col int) []string {
	pad := strings.Repeat(" ", col)
	out := make([]string, len(lines))
	for i, l := range lines {
		if strings.HasPrefix(l, "{{") {
			out[i] = l
		} else {
			out[i] = pad + l
		}
	}
	return out
}

// limit is a --tenant-max-* flag of the manager.
type limit struct {
	flag, value, usage, key string
}

// limits lists snapshot.DefaultLimits by flag, in the manager's order.
func limits() []limit {
	var out []limit
	for line := range strings.SplitSeq(strings.TrimSpace(snapshot.DefaultLimits().Describe()), "\n") {
		flagValue, usage, _ := strings.Cut(line, "\t")
		flag, value, _ := strings.Cut(strings.TrimPrefix(flagValue, "--"), "=")
		out = append(out, limit{flag: flag, value: value, usage: usage, key: camel(strings.TrimPrefix(flag, "tenant-max-"))})
	}
	return out
}

func camel(s string) string {
	parts := strings.Split(s, "-")
	for i := 1; i < len(parts); i++ {
		parts[i] = strings.ToUpper(parts[i][:1]) + parts[i][1:]
	}
	return strings.Join(parts, "")
}

// escapeActions rewrites, in every string of v, each "{{" as an action
// printing "{{", so that Helm renders the string unchanged.
func escapeActions(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			v[k] = escapeActions(x)
		}
		return v
	case []any:
		for i, x := range v {
			v[i] = escapeActions(x)
		}
		return v
	case string:
		return strings.ReplaceAll(v, "{{", "{{`{{`}}")
	}
	return v
}
