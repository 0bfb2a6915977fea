package kubeauth_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	authnv1 "k8s.io/api/authentication/v1"
	authzv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/gatehouse-dev/gatehouse/api/v1alpha1"
	"github.com/gatehouse-dev/gatehouse/internal/authz"
	"github.com/gatehouse-dev/gatehouse/internal/authz/kubeauth"
	"github.com/gatehouse-dev/gatehouse/internal/snapshot"
	"github.com/gatehouse-dev/gatehouse/internal/store"
	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

var (
	env       *envtest.Environment
	clientset kubernetes.Interface
	ctx       = context.Background()
)

func TestKubeAuth(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "kubeauth suite (envtest)")
}

var _ = BeforeSuite(func() {
	var err error
	env, err = testenv.New()
	Expect(err).NotTo(HaveOccurred())
	cfg, err := env.Start()
	Expect(err).NotTo(HaveOccurred())
	clientset, err = kubernetes.NewForConfig(cfg)
	Expect(err).NotTo(HaveOccurred())
})

var _ = AfterSuite(func() {
	if env != nil {
		Expect(env.Stop()).To(Succeed())
	}
})

// tenantApp creates namespace ns with a ServiceAccount "app" that may get
// permissionsnapshots in ns, and returns a token for it.
func tenantApp(ns string) string {
	_, err := clientset.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
	Expect(err).NotTo(HaveOccurred())
	_, err = clientset.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "app"}}, metav1.CreateOptions{})
	Expect(err).NotTo(HaveOccurred())
	_, err = clientset.RbacV1().Roles(ns).Create(ctx, &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Name: "gatehouse-decisions"},
		Rules: []rbacv1.PolicyRule{{
			APIGroups: []string{kubeauth.Group}, Resources: []string{kubeauth.Resource}, Verbs: []string{kubeauth.Verb},
		}},
	}, metav1.CreateOptions{})
	Expect(err).NotTo(HaveOccurred())
	_, err = clientset.RbacV1().RoleBindings(ns).Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "app-decisions"},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "gatehouse-decisions"},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: "app", Namespace: ns}},
	}, metav1.CreateOptions{})
	Expect(err).NotTo(HaveOccurred())
	// RBAC answers from an informer: wait until it has seen the binding,
	// or the first review may be denied (and that denial cached).
	Eventually(func() bool {
		sar, err := clientset.AuthorizationV1().SubjectAccessReviews().Create(ctx, &authzv1.SubjectAccessReview{Spec: authzv1.SubjectAccessReviewSpec{
			User:               "system:serviceaccount:" + ns + ":app",
			ResourceAttributes: &authzv1.ResourceAttributes{Namespace: ns, Verb: kubeauth.Verb, Group: kubeauth.Group, Resource: kubeauth.Resource},
		}}, metav1.CreateOptions{})
		return err == nil && sar.Status.Allowed
	}, 10*time.Second, 20*time.Millisecond).Should(BeTrue())
	exp := int64(600)
	tr, err := clientset.CoreV1().ServiceAccounts(ns).CreateToken(ctx, "app", &authnv1.TokenRequest{
		Spec: authnv1.TokenRequestSpec{ExpirationSeconds: &exp},
	}, metav1.CreateOptions{})
	Expect(err).NotTo(HaveOccurred())
	Expect(tr.Status.Token).NotTo(BeEmpty())
	return tr.Status.Token
}

// tenantSnapshot is a one-role policy: alice may view widgets.
func tenantSnapshot(ns string) *snapshot.Snapshot {
	var role v1alpha1.Role
	role.Name = "viewer"
	role.Spec.Permissions = []v1alpha1.Permission{{Resources: []v1alpha1.ModuleName{"widgets"}, Actions: []v1alpha1.ActionName{"view"}}}
	var group v1alpha1.UserGroup
	group.Name = "staff"
	group.Spec.Members = []v1alpha1.SubjectID{"alice"}
	group.Spec.Roles = []v1alpha1.ObjectName{"viewer"}
	s, problems := snapshot.Compile(ns, snapshot.Objects{Roles: []v1alpha1.Role{role}, Groups: []v1alpha1.UserGroup{group}})
	Expect(problems).To(BeEmpty())
	return s
}

var _ = Describe("tenant isolation with TokenReview and SubjectAccessReview", Ordered, func() {
	var (
		srv            *httptest.Server
		tokenA, tokenB string
	)
	BeforeAll(func() {
		tokenA = tenantApp("tenant-a")
		tokenB = tenantApp("tenant-b")
		st := store.New()
		st.Set("tenant-a", &store.Entry{Snapshot: tenantSnapshot("tenant-a"), CompiledAt: time.Now()})
		st.Set("tenant-b", &store.Entry{Snapshot: tenantSnapshot("tenant-b"), CompiledAt: time.Now()})
		authn, tenants := kubeauth.New(clientset, kubeauth.Options{NegativeTTL: time.Second})
		h, err := authz.New(st, authz.Options{Authenticator: authn, TenantAuthorizer: tenants})
		Expect(err).NotTo(HaveOccurred())
		srv = httptest.NewServer(h)
		DeferCleanup(srv.Close)
	})

	evaluate := func(ns, token string) (int, string) {
		body := `{"subject":{"type":"user","id":"alice"},"action":{"name":"view"},"resource":{"type":"widgets","id":"w1"}}`
		req, err := http.NewRequest("POST", srv.URL+"/tenants/"+ns+"/access/v1/evaluation", strings.NewReader(body))
		Expect(err).NotTo(HaveOccurred())
		req.Header.Set("Content-Type", "application/json")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		Expect(err).NotTo(HaveOccurred())
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		Expect(err).NotTo(HaveOccurred())
		return resp.StatusCode, string(b)
	}

	It("lets each tenant's application query its own tenant only", func() {
		code, body := evaluate("tenant-a", tokenA)
		Expect(code).To(Equal(200), body)
		Expect(body).To(HavePrefix(`{"decision":true`))

		code, body = evaluate("tenant-b", tokenA)
		Expect(code).To(Equal(http.StatusForbidden), body)
		Expect(body).NotTo(ContainSubstring("decision"))

		code, body = evaluate("tenant-b", tokenB)
		Expect(code).To(Equal(200), body)
		code, _ = evaluate("tenant-a", tokenB)
		Expect(code).To(Equal(http.StatusForbidden))

		// Cached answers stay the same.
		code, _ = evaluate("tenant-a", tokenA)
		Expect(code).To(Equal(200))
		code, _ = evaluate("tenant-b", tokenA)
		Expect(code).To(Equal(http.StatusForbidden))
	})

	It("rejects missing and invalid tokens with 401", func() {
		code, _ := evaluate("tenant-a", "")
		Expect(code).To(Equal(http.StatusUnauthorized))
		code, _ = evaluate("tenant-a", "not-a-token")
		Expect(code).To(Equal(http.StatusUnauthorized))
		code, _ = evaluate("tenant-a", tokenA+"x")
		Expect(code).To(Equal(http.StatusUnauthorized))
	})

	It("does not reveal whether another tenant exists", func() {
		code, _ := evaluate("tenant-zzz", tokenA)
		Expect(code).To(Equal(http.StatusForbidden))
	})

	It("picks up a RoleBinding granted later once the negative entry expires", func() {
		code, _ := evaluate("tenant-b", tokenA)
		Expect(code).To(Equal(http.StatusForbidden))
		_, err := clientset.RbacV1().RoleBindings("tenant-b").Create(ctx, &rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: "tenant-a-app"},
			RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "gatehouse-decisions"},
			Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: "app", Namespace: "tenant-a"}},
		}, metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		Eventually(func() int { c, _ := evaluate("tenant-b", tokenA); return c }, 10*time.Second, 200*time.Millisecond).Should(Equal(200))
		Expect(clientset.RbacV1().RoleBindings("tenant-b").Delete(ctx, "tenant-a-app", metav1.DeleteOptions{})).To(Succeed())
	})
})

var _ = Describe("audiences and extra information of real tokens", Ordered, func() {
	const ns = "tenant-c"
	var defaultToken string
	BeforeAll(func() {
		defaultToken = tenantApp(ns)
	})

	token := func(spec authnv1.TokenRequestSpec) string {
		exp := int64(600)
		spec.ExpirationSeconds = &exp
		tr, err := clientset.CoreV1().ServiceAccounts(ns).CreateToken(ctx, "app", &authnv1.TokenRequest{Spec: spec}, metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		return tr.Status.Token
	}

	It("accepts only tokens issued for one of the configured audiences", func() {
		gatehouseToken := token(authnv1.TokenRequestSpec{Audiences: []string{"gatehouse"}})
		otherToken := token(authnv1.TokenRequestSpec{Audiences: []string{"other-service"}})
		authn := kubeauth.NewAuthenticator(clientset, kubeauth.Options{Audiences: []string{"gatehouse", "gatehouse-alt"}})
		c, err := authn.Authenticate(ctx, gatehouseToken)
		Expect(err).NotTo(HaveOccurred())
		Expect(c.Name).To(Equal("system:serviceaccount:" + ns + ":app"))
		_, err = authn.Authenticate(ctx, otherToken)
		Expect(err).To(MatchError(authz.ErrUnauthenticated))
		_, err = authn.Authenticate(ctx, defaultToken)
		Expect(err).To(MatchError(authz.ErrUnauthenticated))

		// Without Audiences, the API server's own audiences apply.
		authn = kubeauth.NewAuthenticator(clientset, kubeauth.Options{})
		_, err = authn.Authenticate(ctx, defaultToken)
		Expect(err).NotTo(HaveOccurred())
		_, err = authn.Authenticate(ctx, gatehouseToken)
		Expect(err).To(MatchError(authz.ErrUnauthenticated))
	})

	It("passes a pod-bound token's extra information through the SubjectAccessReview", func() {
		pod, err := clientset.CoreV1().Pods(ns).Create(ctx, &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "app-0"},
			Spec:       corev1.PodSpec{ServiceAccountName: "app", Containers: []corev1.Container{{Name: "app", Image: "app"}}},
		}, metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		bound := token(authnv1.TokenRequestSpec{BoundObjectRef: &authnv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: pod.Name, UID: pod.UID}})
		authn, tenants := kubeauth.New(clientset, kubeauth.Options{})
		c, err := authn.Authenticate(ctx, bound)
		Expect(err).NotTo(HaveOccurred())
		Expect(c.Extra).To(HaveKeyWithValue("authentication.kubernetes.io/pod-name", []string{"app-0"}))
		Expect(c.Extra).To(HaveKeyWithValue("authentication.kubernetes.io/pod-uid", []string{string(pod.UID)}))
		plain, err := authn.Authenticate(ctx, defaultToken)
		Expect(err).NotTo(HaveOccurred())
		Expect(plain.Key).NotTo(Equal(c.Key))

		// The API server accepts the extra information; RBAC decides on
		// the user and groups alone.
		Expect(tenants.AuthorizeTenant(ctx, c, ns)).To(BeTrue())
		Expect(tenants.AuthorizeTenant(ctx, c, "tenant-a")).To(BeFalse())
	})
})
