#!/usr/bin/env bash
# `make run`: a local control plane from bin/k8s, the CRDs, the samples, and
# the manager running against it. Ctrl-C stops everything.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
local_dir=${LOCAL_DIR:-$root/bin/local}
export KUBEBUILDER_ASSETS=${ENVTEST_DIR:-$root/bin/k8s}
export KUBECONFIG=$local_dir/kubeconfig
mkdir -p "$local_dir"
rm -f "$KUBECONFIG"

pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM

go build -o bin/localcluster ./hack/localcluster
./bin/localcluster --write-kubeconfig "$KUBECONFIG" &
pids+=($!)
for _ in $(seq 1 120); do [ -s "$KUBECONFIG" ] && break; sleep 0.5; done
[ -s "$KUBECONFIG" ] || { echo "run: the local control plane did not start" >&2; exit 1; }

kubectl apply -k config/samples
./bin/manager --metrics-bind-address=127.0.0.1:8080 --health-probe-bind-address=127.0.0.1:8081 &
pids+=($!)

echo
echo "run: manager started against the local API server."
echo "run: try: KUBECONFIG=$KUBECONFIG kubectl get gatehouse -n acme-field-services"
echo "run: Ctrl-C stops the manager and the control plane."
if [ -n "${RUN_ONCE:-}" ]; then
  # For CI smoke tests: show the objects, then stop.
  sleep 3
  kubectl get gatehouse -n acme-field-services
  exit 0
fi
wait "${pids[@]}"
