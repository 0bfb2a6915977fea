#!/usr/bin/env bash
# `make run`: a local control plane from bin/k8s, the CRDs, the samples, and
# the manager running against it. Once the samples' PermissionSnapshot is
# Ready it prints the served revision, the counts, every object's Ready
# column, and a few decisions. Ctrl-C stops everything.
#
# RUN_ONCE=1 (smoke tests, CI) prints the same and exits 0 only if the
# snapshot became Ready, the manager reported ready, and the endpoint answered
# the 8 decisions and counted them in its metrics. Their values are shown,
# not checked: the samples' own policy tests check them.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
local_dir=${LOCAL_DIR:-$root/bin/local}
export KUBEBUILDER_ASSETS=${ENVTEST_DIR:-$root/bin/k8s}
export KUBECONFIG=$local_dir/kubeconfig
export PATH=$KUBEBUILDER_ASSETS:$PATH # kubectl from bin/k8s when none is installed
mkdir -p "$local_dir"
rm -f "$KUBECONFIG"
tenant=acme-field-services
metrics_addr=${METRICS_ADDR:-127.0.0.1:8080}
probe_addr=${PROBE_ADDR:-127.0.0.1:8081}
audit_log=$local_dir/audit.log
authz_addr=${AUTHZ_ADDR:-127.0.0.1:8443}

pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

go build -o bin/localcluster ./hack/localcluster
go build -o bin/manager ./cmd/manager
go build -o bin/gatehouse ./cmd/gatehouse
./bin/localcluster --write-kubeconfig "$KUBECONFIG" &
pids+=($!)
for _ in $(seq 1 120); do [ -s "$KUBECONFIG" ] && break; sleep 0.5; done
[ -s "$KUBECONFIG" ] || { echo "run: the local control plane did not start" >&2; exit 1; }

kubectl apply -k config/samples
: >"$audit_log"
# Development mode: the authorization endpoint on loopback, plain HTTP, no
# caller authentication (a deployment uses TLS, TokenReview and
# SubjectAccessReview). The webhook needs a certificate the API server
# trusts, so it is not served here; its envtest suite covers it.
./bin/manager --metrics-bind-address="$metrics_addr" --health-probe-bind-address="$probe_addr" \
  --audit-log="$audit_log" --authz-bind-address="$authz_addr" \
  --authz-insecure-plain-http --authz-insecure-no-authn &
pids+=($!)

# The operator creates the tenant's PermissionSnapshot on its first compile.
echo "run: waiting for the PermissionSnapshot of $tenant to be Ready..."
for _ in $(seq 1 120); do
  kubectl get permissionsnapshot current -n "$tenant" >/dev/null 2>&1 && break
  sleep 0.5
done
kubectl wait --for=condition=Ready permissionsnapshot/current -n "$tenant" --timeout=60s
revision=$(kubectl get permissionsnapshot current -n "$tenant" -o jsonpath='{.status.revision}')

ready=fail
for _ in $(seq 1 40); do
  if curl -fsS "http://$probe_addr/readyz" >/dev/null 2>&1; then ready=ok; break; fi
  sleep 0.25
done

echo
echo "run: served revision $revision of $tenant; /readyz: $ready"
kubectl get permissionsnapshot -n "$tenant" -o custom-columns='NAME:.metadata.name,REVISION:.status.revision,ROLES:.status.counts.roles,GROUPS:.status.counts.groups,SUBJECTS:.status.counts.subjects,FIELD POLICIES:.status.counts.fieldPolicies,APPROVAL CHAINS:.status.counts.approvalChains,LEFT OUT:.status.leftOut[*].name,READY:.status.conditions[?(@.type=="Ready")].status'
echo
kubectl get gatehouse -n "$tenant" -o custom-columns='OBJECT:.kind,NAME:.metadata.name,READY:.status.conditions[?(@.type=="Ready")].status,REASON:.status.conditions[?(@.type=="Ready")].reason,REVISION:.status.revision,GENERATION:.metadata.generation,OBSERVED:.status.observedGeneration' \
  --sort-by=.kind | grep -v '^PermissionSnapshot'

# Decisions from the manager's own authorization endpoint (AuthZEN 1.0).
echo
echo "run: decisions served by the manager at http://$authz_addr/tenants/$tenant/access/v1/evaluation:"
answered=0
decide() { # subject action type id properties-json
  local body answer
  body=$(printf '{"subject":{"type":"user","id":"%s"},"action":{"name":"%s"},"resource":{"type":"%s","id":"%s","properties":%s}}' "$1" "$2" "$3" "$4" "$5")
  answer=$(curl -fsS -X POST -H 'Content-Type: application/json' --data "$body" \
    "http://$authz_addr/tenants/$tenant/access/v1/evaluation" 2>&1 || true)
  case $answer in *'"decision":'*) answered=$((answered + 1)) ;; esac
  printf '  %-16s %-7s %-15s %-4s %-40s → %s\n' "$1" "$2" "$3" "$4" "$5" "$answer"
}
decide tom.tech        edit   workorders     42 '{"unit":"/ca/ab/calgary"}'
decide tom.tech        edit   workorders     43 '{"unit":"/ca/bc/vancouver"}'
decide alex.apprentice edit   workorders     44 '{"assigneeIds":["alex.apprentice"]}'
decide alex.apprentice edit   workorders     45 '{"ownerId":"tom.tech"}'
decide tom.tech        create purchaseorders ""  '{"amount":4000}'
decide tom.tech        create purchaseorders ""  '{"amount":6000}'
decide sue.supplier    view   purchaseorders 7  '{"companyId":"other-co"}'
decide dana.director   delete invoices       9  '{}'

echo
echo "run: the endpoint's metrics at http://$metrics_addr/metrics:"
metrics=$(curl -fsS "http://$metrics_addr/metrics" 2>/dev/null | grep -E '^gatehouse_authz_(requests_total\{code="200",endpoint="evaluation"\}|decisions_total)' || true)
echo "${metrics:-  (none)}" | sed 's/^/  /'

echo
echo "run: audit trail (one JSON line per served change) in $audit_log; last record:"
tail -n 1 "$audit_log" | cut -c1-400

echo
echo "run: manager started against the local API server."
echo "run: try: KUBECONFIG=$KUBECONFIG kubectl get gatehouse -n $tenant"
echo "run:      KUBECONFIG=$KUBECONFIG kubectl edit accessrole technician -n $tenant, then tail -f $audit_log"
if [ -n "${RUN_ONCE:-}" ]; then
  # For CI smoke tests: stop, and fail if anything was off.
  counted=$(echo "$metrics" | awk '/^gatehouse_authz_requests_total/ {print $2}')
  [ -n "$revision" ] && [ "$ready" = ok ] && [ "$answered" = 8 ] && [ "${counted:-0}" = 8 ] || {
    echo "run: smoke test failed (revision '$revision', readyz $ready, $answered of 8 decisions answered, $counted counted in metrics)" >&2
    exit 1
  }
  exit 0
fi
echo "run: Ctrl-C stops the manager and the control plane."
wait "${pids[@]}"
