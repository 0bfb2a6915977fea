#!/usr/bin/env bash
# `make run`: a local control plane from bin/k8s, the CRDs, the manager
# running against it with its validating webhook (the API server trusts its
# certificate), and the samples. Once the samples' PermissionSnapshot is
# Ready it prints the served revision, the counts, every object's Ready
# column, a few decisions, and authorship: one tenant admin's change and one
# user's denied escalation, as the audit trail and `gatehouse audit` show
# them. Ctrl-C stops everything.
#
# RUN_ONCE=1 (smoke tests, CI) prints the same and exits 0 only if the
# snapshot became Ready, the manager reported ready, the endpoint answered
# the 8 decisions and counted them in its metrics, the audit trail names the
# admin who granted the change, and the escalation was denied and recorded.
# The decisions' values are shown, not checked: the samples' own policy
# tests check them.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
local_dir=${LOCAL_DIR:-$root/bin/local}
export KUBEBUILDER_ASSETS=${ENVTEST_DIR:-$root/bin/k8s}
export KUBECONFIG=$local_dir/kubeconfig
export PATH=$KUBEBUILDER_ASSETS:$PATH # kubectl from bin/k8s when none is installed
mkdir -p "$local_dir"
tenant=acme-field-services
metrics_addr=${METRICS_ADDR:-127.0.0.1:8080}
probe_addr=${PROBE_ADDR:-127.0.0.1:8081}
audit_log=$local_dir/audit.log
webhook_env=$local_dir/webhook.env
authz_addr=${AUTHZ_ADDR:-127.0.0.1:8443}
rm -f "$KUBECONFIG" "$webhook_env"

pids=()
cleanup() {
  # The manager first, then the control plane (whose webhook certificate
  # directory the manager watches).
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    kill "${pids[i]}" 2>/dev/null || true
    wait "${pids[i]}" 2>/dev/null || true
  done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

go build -o bin/localcluster ./hack/localcluster
go build -o bin/manager ./cmd/manager
go build -o bin/gatehouse ./cmd/gatehouse
./bin/localcluster --write-kubeconfig "$KUBECONFIG" --write-webhook-env "$webhook_env" &
pids+=($!)
for _ in $(seq 1 120); do [ -s "$KUBECONFIG" ] && [ -s "$webhook_env" ] && break; sleep 0.5; done
[ -s "$KUBECONFIG" ] && [ -s "$webhook_env" ] || { echo "run: the local control plane did not start" >&2; exit 1; }
# WEBHOOK_HOST, WEBHOOK_PORT and WEBHOOK_CERT_DIR: the API server calls the
# manager's validating webhook there, trusting the certificate in that
# directory (as the envtest suites do).
# shellcheck disable=SC1090
. "$webhook_env"

: >"$audit_log"
# Development mode: the authorization endpoint on loopback, plain HTTP, no
# caller authentication (a deployment uses TLS, TokenReview and
# SubjectAccessReview). The webhook is served on loopback with the local
# control plane's certificate: every change below is admitted or denied by
# it and recorded, with its author, in the audit trail.
./bin/manager --metrics-bind-address="$metrics_addr" --health-probe-bind-address="$probe_addr" \
  --audit-log="$audit_log" --authz-bind-address="$authz_addr" \
  --authz-insecure-plain-http --authz-insecure-no-authn \
  --webhook-host="$WEBHOOK_HOST" --webhook-port="$WEBHOOK_PORT" --webhook-cert-dir="$WEBHOOK_CERT_DIR" &
pids+=($!)

# The webhook fails closed: apply the samples once it serves.
webhook_up=fail
for _ in $(seq 1 120); do
  if curl -fsS "http://$probe_addr/readyz/webhook" >/dev/null 2>&1; then webhook_up=ok; break; fi
  sleep 0.5
done
[ "$webhook_up" = ok ] || { echo "run: the manager's webhook did not start" >&2; exit 1; }
kubectl apply -k config/samples

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

# Authorship: two people of the tenant change its access through the API
# server (impersonated, as kubectl --as does). The webhook records who asked
# and its verdict; the compile records what followed; `gatehouse audit`
# joins them.
echo
echo "run: authorship — dana.director adds tess.tech to calgary-crew; tom.tech tries to join head-office:"
kubectl create role access-editor -n "$tenant" --verb=get,list,watch,create,update,patch,delete \
  --resource=accessroles.access.gatehouse.dev,usergroups.access.gatehouse.dev,fieldpolicies.access.gatehouse.dev,approvalchains.access.gatehouse.dev >/dev/null
kubectl create rolebinding access-editors -n "$tenant" --role=access-editor --user=dana.director --user=tom.tech >/dev/null
before=$(kubectl get permissionsnapshot current -n "$tenant" -o jsonpath='{.status.revision}')
kubectl --as=dana.director --as-group=acme-admins patch usergroup calgary-crew -n "$tenant" --type=merge \
  -p '{"spec":{"members":["tom.tech","tina.tech","tess.tech"]}}' | sed 's/^/  /'
denial=$(kubectl --as=tom.tech --as-group=acme-staff patch usergroup head-office -n "$tenant" --type=merge \
  -p '{"spec":{"members":["dana.director","tom.tech"]}}' 2>&1 || true)
echo "  $denial" | cut -c1-300
for _ in $(seq 1 60); do
  [ "$(kubectl get permissionsnapshot current -n "$tenant" -o jsonpath='{.status.revision}')" != "$before" ] && break
  sleep 0.25
done
echo
echo "run: gatehouse audit who-granted --subject tess.tech $audit_log"
granted=$(./bin/gatehouse audit who-granted --subject tess.tech --tenant "$tenant" "$audit_log" 2>&1 || true)
echo "$granted" | head -n 4 | cut -c1-240 | sed 's/^/  /'
[ "$(echo "$granted" | wc -l)" -le 4 ] || echo "  … $(($(echo "$granted" | wc -l) - 4)) more rows"
echo "run: gatehouse audit denied $audit_log"
denied=$(./bin/gatehouse audit denied --tenant "$tenant" "$audit_log" 2>&1 || true)
echo "$denied" | cut -c1-240 | sed 's/^/  /'

echo
echo "run: the audit trail (JSON lines: admissions, served changes, sampled decisions) is $audit_log"
echo "run: try: KUBECONFIG=$KUBECONFIG kubectl get gatehouse -n $tenant"
echo "run:      KUBECONFIG=$KUBECONFIG kubectl edit accessrole technician -n $tenant, then"
echo "run:      ./bin/gatehouse audit changes --tenant $tenant $audit_log"
if [ -n "${RUN_ONCE:-}" ]; then
  # For CI smoke tests: stop, and fail if anything was off.
  counted=$(echo "$metrics" | awk '/^gatehouse_authz_requests_total/ {print $2}')
  authored=no
  case $granted in *dana.director*) authored=yes ;; esac
  escalation=no
  case "$denial$denied" in *"privilege escalation"*tom.tech*|*tom.tech*"privilege escalation"*) escalation=yes ;; esac
  [ -n "$revision" ] && [ "$ready" = ok ] && [ "$answered" = 8 ] && [ "${counted:-0}" = 8 ] && [ "$authored" = yes ] && [ "$escalation" = yes ] || {
    echo "run: smoke test failed (revision '$revision', readyz $ready, $answered of 8 decisions answered, $counted counted in metrics, authorship in the trail: $authored, escalation denied and recorded: $escalation)" >&2
    exit 1
  }
  exit 0
fi
echo "run: Ctrl-C stops the manager and the control plane."
wait "${pids[@]}"
