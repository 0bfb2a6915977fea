#!/usr/bin/env bash
# Regenerates the Helm chart charts/gatehouse from config/ (kustomize
# output of config/default and config/certrotation) and the manager's
# flags; see hack/genchart. Run it after changing config/: test/helm fails
# while the committed chart differs from what this produces.
# Usage: hack/gen-chart.sh   (KUBECTL overrides bin/k8s/kubectl, else kubectl)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
kubectl=${KUBECTL:-}
if [ -z "$kubectl" ]; then
  if [ -x "$root/bin/k8s/kubectl" ]; then kubectl=$root/bin/k8s/kubectl; else kubectl=kubectl; fi
fi
cd "$root"
go run ./hack/genchart/cmd/genchart -root "$root" -out "$root/charts/gatehouse" -kubectl "$kubectl"
echo "charts/gatehouse generated from config/" >&2
