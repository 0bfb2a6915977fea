// Package dist_test checks `make dist`: the release archives of the kubectl
// plugin, their checksums and the krew manifest that installs them.
package dist_test

import (
	"archive/tar"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// krewPlugin is the part of krew's Plugin manifest (v1alpha2) checked here.
type krewPlugin struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name string `json:"name"`
	} `json:"metadata"`
	Spec struct {
		Version          string `json:"version"`
		ShortDescription string `json:"shortDescription"`
		Platforms        []struct {
			Selector struct {
				MatchLabels map[string]string `json:"matchLabels"`
			} `json:"selector"`
			URI    string `json:"uri"`
			SHA256 string `json:"sha256"`
			Bin    string `json:"bin"`
		} `json:"platforms"`
	} `json:"spec"`
}

func TestDist(t *testing.T) {
	out := t.TempDir()
	const version = "v1.2.3"
	cmd := exec.Command("bash", "../../hack/dist.sh", version, out)
	cmd.Env = append(os.Environ(), "PLATFORMS="+runtime.GOOS+"/"+runtime.GOARCH, "RELEASE_URL=https://example.test/releases/"+version)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("hack/dist.sh: %v\n%s", err, b)
	}
	raw, err := os.ReadFile(filepath.Join(out, "krew", "gatehouse.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var p krewPlugin
	if err := yaml.UnmarshalStrict(raw, &p); err != nil && !strings.Contains(err.Error(), "unknown field") {
		t.Fatalf("krew manifest: %v\n%s", err, raw)
	}
	if p.APIVersion != "krew.googlecontainertools.github.com/v1alpha2" || p.Kind != "Plugin" || p.Metadata.Name != "gatehouse" ||
		p.Spec.Version != version || p.Spec.ShortDescription == "" || len(p.Spec.Platforms) != 1 {
		t.Fatalf("krew manifest: %+v", p)
	}
	pl := p.Spec.Platforms[0]
	archive := "kubectl-gatehouse_" + version + "_" + runtime.GOOS + "_" + runtime.GOARCH + ".tar.gz"
	if pl.URI != "https://example.test/releases/"+version+"/"+archive || pl.Bin != "kubectl-gatehouse" ||
		pl.Selector.MatchLabels["os"] != runtime.GOOS || pl.Selector.MatchLabels["arch"] != runtime.GOARCH {
		t.Errorf("platform entry: %+v", pl)
	}
	data, err := os.ReadFile(filepath.Join(out, "archives", archive))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	if hex.EncodeToString(sum[:]) != pl.SHA256 {
		t.Errorf("the manifest's sha256 %s is not the archive's", pl.SHA256)
	}
	sums, _ := os.ReadFile(filepath.Join(out, "archives", "SHA256SUMS"))
	if !strings.Contains(string(sums), pl.SHA256+"  "+archive) {
		t.Errorf("SHA256SUMS lacks the archive: %s", sums)
	}
	// The archive holds the plugin binary; it runs and reports the version.
	bin := filepath.Join(t.TempDir(), "kubectl-gatehouse")
	extract(t, data, "kubectl-gatehouse", bin)
	got, err := exec.Command(bin, "version").CombinedOutput()
	if err != nil || !strings.Contains(string(got), version) {
		t.Errorf("kubectl-gatehouse version: %v %s", err, got)
	}
	// The same inputs give the same archive (reproducible builds).
	again := t.TempDir()
	cmd = exec.Command("bash", "../../hack/dist.sh", version, again)
	cmd.Env = append(os.Environ(), "PLATFORMS="+runtime.GOOS+"/"+runtime.GOARCH)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("hack/dist.sh again: %v\n%s", err, b)
	}
	data2, _ := os.ReadFile(filepath.Join(again, "archives", archive))
	if sum2 := sha256.Sum256(data2); sum2 != sum {
		t.Error("two builds of the same version differ")
	}
}

func TestDistRejectsABadVersion(t *testing.T) {
	cmd := exec.Command("bash", "../../hack/dist.sh", "latest; rm -rf /", t.TempDir())
	b, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(b), "VERSION must look like v1.2.3") {
		t.Errorf("a bad version: %v %s", err, b)
	}
}

func extract(t *testing.T, archive []byte, name, to string) {
	t.Helper()
	zr, err := gzip.NewReader(strings.NewReader(string(archive)))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			t.Fatalf("%s not in the archive", name)
		}
		if err != nil {
			t.Fatal(err)
		}
		if filepath.Clean(h.Name) != name {
			continue
		}
		f, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY, 0o755)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(f, tr); err != nil {
			t.Fatal(err)
		}
		_ = f.Close()
		return
	}
}
