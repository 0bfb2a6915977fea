package gatehousetest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"
)

// Apply applies the objects of a YAML (or JSON) stream, documents separated
// by "---", with server-side apply (field manager FieldOwner, forcing
// conflicts), in order. Namespaced objects without a namespace are put in
// namespace, which Apply creates when missing; namespace may be empty when
// every namespaced object names its own. Empty documents are skipped.
//
// Every document is decoded and checked (apiVersion, kind, metadata.name)
// before anything is applied, so malformed YAML applies nothing; an error
// names the document (its source and index, from 1). The API server's
// validation (the CRDs' schemas) still applies object by object: the
// objects before a refused one stay applied.
func (k *Kit) Apply(ctx context.Context, namespace string, data []byte) error {
	objs, err := decode("input", data)
	if err != nil {
		return err
	}
	return k.apply(ctx, namespace, objs)
}

// ApplyFiles applies YAML files as Apply does. A directory stands for its
// *.yaml, *.yml and *.json files in lexical order, not recursively, except
// kustomization.yaml (so a kustomize directory such as config/samples
// applies as is, with namespace given here instead of the
// kustomization's). Every file is read and decoded before anything is
// applied.
func (k *Kit) ApplyFiles(ctx context.Context, namespace string, paths ...string) error {
	var objs []*unstructured.Unstructured
	for _, p := range paths {
		files, err := yamlFiles(p)
		if err != nil {
			return err
		}
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				return fmt.Errorf("gatehousetest: %w", err)
			}
			o, err := decode(f, data)
			if err != nil {
				return err
			}
			objs = append(objs, o...)
		}
	}
	return k.apply(ctx, namespace, objs)
}

// yamlFiles returns p, or the YAML files of directory p.
func yamlFiles(p string) ([]string, error) {
	fi, err := os.Stat(p)
	if err != nil {
		return nil, fmt.Errorf("gatehousetest: %w", err)
	}
	if !fi.IsDir() {
		return []string{p}, nil
	}
	entries, err := os.ReadDir(p)
	if err != nil {
		return nil, fmt.Errorf("gatehousetest: %w", err)
	}
	var out []string
	for _, e := range entries {
		name := e.Name()
		ext := strings.ToLower(filepath.Ext(name))
		if e.IsDir() || !slices.Contains([]string{".yaml", ".yml", ".json"}, ext) ||
			strings.TrimSuffix(name, filepath.Ext(name)) == "kustomization" {
			continue
		}
		out = append(out, filepath.Join(p, name))
	}
	return out, nil
}

// decode returns the objects of a YAML stream.
func decode(source string, data []byte) ([]*unstructured.Unstructured, error) {
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var out []*unstructured.Unstructured
	for i := 1; ; i++ {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("gatehousetest: %s: document %d: %w", source, i, err)
		}
		var m map[string]any
		if err := yaml.Unmarshal(doc, &m); err != nil {
			return nil, fmt.Errorf("gatehousetest: %s: document %d: %w", source, i, err)
		}
		if len(m) == 0 {
			continue
		}
		u := &unstructured.Unstructured{Object: m}
		switch {
		case u.GetAPIVersion() == "":
			return nil, fmt.Errorf("gatehousetest: %s: document %d: no apiVersion", source, i)
		case u.GetKind() == "":
			return nil, fmt.Errorf("gatehousetest: %s: document %d: no kind", source, i)
		case u.GetName() == "":
			return nil, fmt.Errorf("gatehousetest: %s: document %d (%s): no metadata.name", source, i, u.GetKind())
		}
		out = append(out, u)
	}
}

func (k *Kit) apply(ctx context.Context, namespace string, objs []*unstructured.Unstructured) error {
	if namespace != "" {
		if err := k.ensureNamespace(ctx, namespace); err != nil {
			return err
		}
	}
	for _, o := range objs {
		namespaced, err := k.Client.IsObjectNamespaced(o)
		if err != nil {
			return fmt.Errorf("gatehousetest: %s %s: %w", o.GetKind(), o.GetName(), err)
		}
		switch {
		case namespaced && o.GetNamespace() == "":
			if namespace == "" {
				return fmt.Errorf("gatehousetest: %s %s: no namespace (give Apply one)", o.GetKind(), o.GetName())
			}
			o.SetNamespace(namespace)
		case !namespaced:
			o.SetNamespace("")
		}
		err = k.Client.Apply(ctx, client.ApplyConfigurationFromUnstructured(o), client.FieldOwner(FieldOwner), client.ForceOwnership)
		if err != nil {
			return fmt.Errorf("gatehousetest: apply %s %s/%s: %w", o.GetKind(), o.GetNamespace(), o.GetName(), err)
		}
	}
	return nil
}

// ensureNamespace creates namespace ns when missing.
func (k *Kit) ensureNamespace(ctx context.Context, ns string) error {
	err := k.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("gatehousetest: namespace %s: %w", ns, err)
	}
	return nil
}
