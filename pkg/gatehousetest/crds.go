package gatehousetest

import (
	"bufio"
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"
)

//go:embed crds/*.yaml
var crdFiles embed.FS

// CRDs returns Gatehouse's CustomResourceDefinitions, fresh copies on each
// call. Start installs them; give them to envtest.Environment.CRDs to have
// them installed with the control plane instead.
func CRDs() ([]*apiextensionsv1.CustomResourceDefinition, error) {
	entries, err := fs.ReadDir(crdFiles, "crds")
	if err != nil {
		return nil, err
	}
	var out []*apiextensionsv1.CustomResourceDefinition
	for _, e := range entries {
		data, err := crdFiles.ReadFile(path.Join("crds", e.Name()))
		if err != nil {
			return nil, err
		}
		docs := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
		for {
			doc, err := docs.Read()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return nil, fmt.Errorf("gatehousetest: embedded CRD %s: %w", e.Name(), err)
			}
			if len(bytes.TrimSpace(doc)) == 0 {
				continue
			}
			crd := &apiextensionsv1.CustomResourceDefinition{}
			if err := yaml.UnmarshalStrict(doc, crd); err != nil {
				return nil, fmt.Errorf("gatehousetest: embedded CRD %s: %w", e.Name(), err)
			}
			out = append(out, crd)
		}
	}
	return out, nil
}

// installCRDs creates or updates the CRDs and waits until they are
// established.
func installCRDs(cfg *rest.Config) error {
	crds, err := CRDs()
	if err != nil {
		return err
	}
	_, err = envtest.InstallCRDs(cfg, envtest.CRDInstallOptions{
		CRDs:         crds,
		PollInterval: 50 * time.Millisecond,
		MaxTime:      30 * time.Second,
	})
	if err != nil {
		return fmt.Errorf("gatehousetest: installing CRDs: %w", err)
	}
	return nil
}
