package testenv

import (
	"fmt"
	"os"
	"path/filepath"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

// Samples reads the objects of a kustomization directory (only its plain
// `resources` files and `namespace`, which is all config/samples uses), in
// file order, with the kustomization's namespace set on namespaced objects.
func Samples(dir string) ([]*unstructured.Unstructured, error) {
	raw, err := os.ReadFile(filepath.Join(dir, "kustomization.yaml"))
	if err != nil {
		return nil, err
	}
	var kust struct {
		Namespace string   `json:"namespace"`
		Resources []string `json:"resources"`
	}
	if err := yaml.Unmarshal(raw, &kust); err != nil {
		return nil, fmt.Errorf("%s/kustomization.yaml: %w", dir, err)
	}
	var objs []*unstructured.Unstructured
	for _, file := range kust.Resources {
		data, err := os.ReadFile(filepath.Join(dir, file))
		if err != nil {
			return nil, err
		}
		decoded, err := DecodeAll(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		for _, obj := range decoded {
			if obj.GetKind() != "Namespace" && kust.Namespace != "" {
				obj.SetNamespace(kust.Namespace)
			}
		}
		objs = append(objs, decoded...)
	}
	return objs, nil
}
