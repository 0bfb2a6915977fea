package webhook_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/gatehouse-dev/gatehouse/internal/testenv"
	"github.com/gatehouse-dev/gatehouse/webhook"
)

var _ = Describe("built-in certificate rotation", func() {
	It("generates a CA and serving certificate, stores them, injects the CA and serves with them", func() {
		const (
			ns         = "gatehouse-system"
			secretName = "rotation-test-cert"
			configName = "rotation-test"
			dnsName    = "gatehouse-webhook-service.gatehouse-system.svc"
		)
		Expect(admin.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})).To(Succeed())
		// A configuration of its own that matches nothing, so injecting a new
		// CA does not disturb the suite's webhook.
		none := admissionregistrationv1.SideEffectClassNone
		Expect(admin.Create(ctx, &admissionregistrationv1.ValidatingWebhookConfiguration{
			ObjectMeta: metav1.ObjectMeta{Name: configName},
			Webhooks: []admissionregistrationv1.ValidatingWebhook{{
				Name:                    "rotation.gatehouse.dev",
				ClientConfig:            admissionregistrationv1.WebhookClientConfig{Service: &admissionregistrationv1.ServiceReference{Namespace: ns, Name: "gatehouse-webhook-service", Path: ptr.To(webhook.ValidatePath)}},
				Rules:                   []admissionregistrationv1.RuleWithOperations{{Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create}, Rule: admissionregistrationv1.Rule{APIGroups: []string{"example.invalid"}, APIVersions: []string{"v1"}, Resources: []string{"nothings"}}}},
				SideEffects:             &none,
				AdmissionReviewVersions: []string{"v1"},
			}},
		})).To(Succeed())

		listener, err := net.Listen("tcp", "127.0.0.1:0")
		Expect(err).NotTo(HaveOccurred())
		port := listener.Addr().(*net.TCPAddr).Port
		Expect(listener.Close()).To(Succeed())
		certDir := GinkgoT().TempDir()

		// The manager runs as its ServiceAccount with the shipped RBAC:
		// Secrets are granted in its own namespace only.
		managerCfg, err := testenv.ManagerCredentials(ctx, env, admin, ns)
		Expect(err).NotTo(HaveOccurred())
		mgr, err := ctrl.NewManager(managerCfg, ctrl.Options{Scheme: scheme, Metrics: metricsserver.Options{BindAddress: "0"}})
		Expect(err).NotTo(HaveOccurred())
		server, err := webhook.Setup(mgr, st, webhook.Options{Host: "127.0.0.1", Port: port, CertDir: certDir, CertRotation: true,
			SecretNamespace: ns, SecretName: secretName, ServiceDNSName: dnsName, WebhookConfigName: configName})
		Expect(err).NotTo(HaveOccurred())
		mgrCtx, stop := context.WithCancel(ctx)
		defer stop()
		go func() {
			defer GinkgoRecover()
			Expect(mgr.Start(mgrCtx)).To(Succeed())
		}()

		var secret corev1.Secret
		Eventually(func(g Gomega) {
			g.Expect(admin.Get(ctx, client.ObjectKey{Namespace: ns, Name: secretName}, &secret)).To(Succeed())
			g.Expect(secret.Data).To(HaveKey("ca.crt"))
			g.Expect(secret.Data).To(HaveKey("tls.crt"))
			g.Expect(secret.Data).To(HaveKey("tls.key"))
		}, 60*time.Second, 250*time.Millisecond).Should(Succeed())

		Eventually(func(g Gomega) {
			var cfg admissionregistrationv1.ValidatingWebhookConfiguration
			g.Expect(admin.Get(ctx, client.ObjectKey{Name: configName}, &cfg)).To(Succeed())
			g.Expect(bytes.Equal(cfg.Webhooks[0].ClientConfig.CABundle, secret.Data["ca.crt"])).To(BeTrue(), "CA injected")
		}, 60*time.Second, 250*time.Millisecond).Should(Succeed())

		// In a pod the kubelet projects the Secret into the mounted CertDir;
		// here the test plays the kubelet. The server starts only then.
		Expect(server.StartedChecker()(nil)).NotTo(Succeed(), "no server before the certificates are mounted")
		for _, name := range []string{"ca.crt", "tls.crt", "tls.key"} {
			Expect(os.WriteFile(filepath.Join(certDir, name), secret.Data[name], 0o600)).To(Succeed())
		}
		Eventually(func() error { return server.StartedChecker()(nil) }, 60*time.Second, 250*time.Millisecond).Should(Succeed())

		// The server presents a certificate for the Service's DNS name,
		// signed by the injected CA.
		pool := x509.NewCertPool()
		Expect(pool.AppendCertsFromPEM(secret.Data["ca.crt"])).To(BeTrue())
		Eventually(func() error {
			conn, err := tls.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port), &tls.Config{RootCAs: pool, ServerName: dnsName, MinVersion: tls.VersionTLS12})
			if err != nil {
				return err
			}
			return conn.Close()
		}, 30*time.Second, 250*time.Millisecond).Should(Succeed())
	})
})
