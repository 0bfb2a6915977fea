# Gatehouse Makefile. `make help` lists the targets.

IMG ?= ghcr.io/gatehouse-dev/gatehouse:latest
ENVTEST_DIR ?= $(CURDIR)/bin/k8s
LOCAL_DIR ?= $(CURDIR)/bin/local
GOLANGCI_LINT ?= $(CURDIR)/bin/golangci-lint
CONTROLLER_GEN ?= go tool controller-gen
KUSTOMIZE ?= kubectl kustomize
# Test timeout: envtest suites start a real API server and etcd.
TEST_FLAGS ?= -timeout 20m

.DEFAULT_GOAL := help

.PHONY: help
help: ## List the targets.
	@awk 'BEGIN {FS = ":.*##"} /^[a-zA-Z_-]+:.*##/ { printf "  %-16s %s\n", $$1, $$2 }' $(MAKEFILE_LIST)

##@ Development

.PHONY: manifests
manifests: ## Generate CRDs, RBAC and webhook manifests from the Go markers.
	$(CONTROLLER_GEN) rbac:roleName=manager-role crd webhook paths="./api/...;./controllers/...;./webhook/..." \
		output:crd:artifacts:config=config/crd/bases output:rbac:artifacts:config=config/rbac \
		output:webhook:artifacts:config=config/webhook

.PHONY: generate
generate: ## Generate DeepCopy methods.
	$(CONTROLLER_GEN) object:headerFile="hack/boilerplate.go.txt" paths="./api/..."

.PHONY: fmt
fmt: ## Run gofmt on the module.
	gofmt -s -w $$(git ls-files '*.go')

.PHONY: vet
vet: ## Run go vet.
	go vet ./...

.PHONY: lint
lint: $(GOLANGCI_LINT) ## Run golangci-lint (built from the module proxy) on the main and bench modules.
	$(GOLANGCI_LINT) run ./...
	cd bench && $(GOLANGCI_LINT) run ./...

$(GOLANGCI_LINT): hack/tools/go.mod
	cd hack/tools && GOBIN=$(CURDIR)/bin go install github.com/golangci/golangci-lint/v2/cmd/golangci-lint

.PHONY: verify
verify: manifests generate ## Fail when generated code or manifests are out of date, or code is unformatted.
	@test -z "$$(gofmt -s -l $$(git ls-files '*.go'))" || { echo "gofmt needed:"; gofmt -s -l $$(git ls-files '*.go'); exit 1; }
	@git diff --exit-code -- api config || { echo "generated files are out of date: run 'make manifests generate' and commit"; exit 1; }
	@test -z "$$(git status --porcelain -- api config)" || { echo "untracked generated files:"; git status --porcelain -- api config; exit 1; }
	go mod tidy -diff
	go vet ./...

##@ Testing

.PHONY: envtest
envtest: ## Build kube-apiserver and etcd for envtest into bin/k8s (skipped when current).
	ENVTEST_DIR=$(ENVTEST_DIR) bash hack/envtest/build.sh

.PHONY: postgres
postgres: ## Install PostgreSQL (Debian package, apt-get as root) when its server binaries are missing.
	@bash hack/postgres.sh

.PHONY: chromium
chromium: ## Install headless Chromium (Debian package, apt-get as root) for the console's browser tests when it is missing.
	@bash hack/chromium.sh

.PHONY: helm
helm: ## Build Helm (pinned in hack/tools/go.mod, from the Go module proxy) into bin/helm.
	bash hack/helm.sh --build-only

.PHONY: chart
chart: ## Regenerate charts/gatehouse from config/ (test/helm fails when it is stale).
	bash hack/gen-chart.sh

.PHONY: test
test: envtest postgres chromium helm ## Run unit and envtest tests (helm lint/template/apply of the chart included), Plan.SQL on a real PostgreSQL, the console in a real headless Chromium, the Grafana dashboard's PromQL against the manager's registry, and the TypeScript client (npm ci, Node's test runner) against a real gatehouse serve.
	GATEHOUSE_PG_BIN=$$(bash hack/postgres.sh) && export GATEHOUSE_PG_BIN && \
	GATEHOUSE_CHROMIUM=$$(bash hack/chromium.sh) && export GATEHOUSE_CHROMIUM && \
	GATEHOUSE_ARTIFACTS=$(CURDIR)/bin/artifacts/console && export GATEHOUSE_ARTIFACTS && \
		KUBEBUILDER_ASSETS=$(ENVTEST_DIR) go test $(TEST_FLAGS) ./...
	cd hack/dashboards && go test -count=1 ./...
	bash clients/typescript/test.sh

.PHONY: soak
SOAK_DURATION ?= 2m
soak: envtest ## Soak two manager replicas under policy churn, load and faults; every answer checked (SOAK_DURATION, default 2m; SOAK_REPORT=file).
	KUBEBUILDER_ASSETS=$(ENVTEST_DIR) SOAK_DURATION=$(SOAK_DURATION) go test -tags soak -run TestSoak -count=1 -v -timeout 3h ./test/soak/

.PHONY: fuzz
fuzz: ## Run every fuzz target for FUZZTIME (default 5s) each.
	bash hack/fuzz.sh

.PHONY: bench bench-go
bench: ## Gatehouse side by side with OPA, Casbin and Cerbos in one run; writes docs/benchmarks-peers.md. BENCH_QUICK=1: CI smoke (no peer build, writes nothing).
	@if [ -z "$$BENCH_QUICK" ]; then bash hack/bench/build-peers.sh; fi
	cd bench && go run ./cmd/benchall

bench-go: envtest ## Run the main module's Go benchmarks (compiler, endpoint, admission, controllers on envtest).
	KUBEBUILDER_ASSETS=$(ENVTEST_DIR) go test -timeout 60m -run '^$$' -bench . -benchmem ./...

##@ Build

.PHONY: build
build: ## Build the manager and the gatehouse CLI into bin/.
	CGO_ENABLED=0 go build -trimpath -o bin/manager ./cmd/manager
	CGO_ENABLED=0 go build -trimpath -o bin/gatehouse ./cmd/gatehouse

.PHONY: run
run: envtest build ## Start a local API server, install the CRDs, apply the samples and run the manager against it.
	ENVTEST_DIR=$(ENVTEST_DIR) LOCAL_DIR=$(LOCAL_DIR) bash hack/run-local.sh

.PHONY: dist
VERSION ?= v0.0.0-dev
dist: ## Release archives of the kubectl-gatehouse plugin for each platform, SHA256SUMS and the krew manifest, in dist/ (VERSION=v1.2.3).
	bash hack/dist.sh $(VERSION)

.PHONY: build-installer
build-installer: manifests generate ## Write dist/install.yaml (CRDs, RBAC, manager, webhook, PDB, Services) for IMG; INSTALLER_OPTIONAL="network-policy prometheus" adds those parts.
	mkdir -p dist
	INSTALLER_OPTIONAL="$(INSTALLER_OPTIONAL)" KUSTOMIZE="$(KUSTOMIZE)" bash hack/render-installer.sh $(IMG) > dist/install.yaml.tmp
	mv dist/install.yaml.tmp dist/install.yaml

.PHONY: install
install: manifests ## Install the CRDs into the cluster of the current kubeconfig.
	$(KUSTOMIZE) config/crd | kubectl apply --server-side -f -

.PHONY: docker-build
docker-build: ## Build the container image (needs a Docker engine).
	docker build -t $(IMG) .
