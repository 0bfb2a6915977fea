#!/usr/bin/env bash
# Runs Helm, built from the Go module proxy at the version pinned in
# hack/tools/go.mod (like golangci-lint), into bin/helm. The binary is
# (re)built when it is missing or was built from another version.
# Usage: hack/helm.sh ARGS...        (hack/helm.sh --build-only: just build)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
helm=$root/bin/helm
want=$(awk '$1 == "helm.sh/helm/v3" { print $2 }' "$root/hack/tools/go.mod")
if [ -z "$want" ]; then
  echo "hack/helm.sh: helm.sh/helm/v3 is not required by hack/tools/go.mod" >&2
  exit 1
fi
have=""
if [ -x "$helm" ]; then
  have=$(go version -m "$helm" 2>/dev/null | awk '$1 == "mod" && $2 == "helm.sh/helm/v3" { print $3 }')
fi
if [ "$have" != "$want" ]; then
  echo "hack/helm.sh: building helm $want into bin/helm" >&2
  (cd "$root/hack/tools" && GOBIN="$root/bin" go install helm.sh/helm/v3/cmd/helm)
fi
if [ "${1:-}" = "--build-only" ]; then
  exit 0
fi
exec "$helm" "$@"
