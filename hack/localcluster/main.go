// Command localcluster starts a local control plane (etcd and kube-apiserver
// from bin/k8s) with Gatehouse's CRDs installed, writes an admin kubeconfig,
// and runs until interrupted. `make run` uses it; it is a development tool,
// not part of the product.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

func main() {
	kubeconfig := flag.String("write-kubeconfig", "bin/local/kubeconfig", "Where to write the admin kubeconfig.")
	webhookEnv := flag.String("write-webhook-env", "", "Where to write the webhook's host, port and certificate directory (shell variables); empty: the API server calls no webhook.")
	flag.Parse()
	if err := run(*kubeconfig, *webhookEnv); err != nil {
		fmt.Fprintln(os.Stderr, "localcluster:", err)
		os.Exit(1)
	}
}

func run(kubeconfigPath, webhookEnvPath string) error {
	env, err := testenv.New()
	if err != nil {
		return err
	}
	if webhookEnvPath != "" {
		// As the envtest suites do: a CA and serving certificate for a
		// webhook on loopback, and Gatehouse's ValidatingWebhookConfiguration
		// pointed at it with that CA, so the manager's webhook is called.
		root, err := testenv.RepoRoot()
		if err != nil {
			return err
		}
		env.WebhookInstallOptions = envtest.WebhookInstallOptions{Paths: []string{filepath.Join(root, "config", "webhook", "manifests.yaml")}}
	}
	if _, err := env.Start(); err != nil {
		return fmt.Errorf("starting the control plane: %w", err)
	}
	defer func() { _ = env.Stop() }()

	user, err := env.ControlPlane.AddUser(envtest.User{Name: "local-admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return err
	}
	kubeconfig, err := user.KubeConfig()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(kubeconfigPath), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(kubeconfigPath, kubeconfig, 0o600); err != nil {
		return err
	}
	if webhookEnvPath != "" {
		wh := env.WebhookInstallOptions
		vars := fmt.Sprintf("WEBHOOK_HOST=%s\nWEBHOOK_PORT=%d\nWEBHOOK_CERT_DIR=%s\n", wh.LocalServingHost, wh.LocalServingPort, wh.LocalServingCertDir)
		if err := os.WriteFile(webhookEnvPath, []byte(vars), 0o600); err != nil {
			return err
		}
	}
	fmt.Printf("localcluster: API server at %s, kubeconfig %s\n", env.Config.Host, kubeconfigPath)

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, os.Interrupt, syscall.SIGTERM)
	<-stop
	fmt.Println("localcluster: stopping")
	return nil
}
