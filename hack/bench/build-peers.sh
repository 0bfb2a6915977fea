#!/usr/bin/env bash
# Builds the peer servers of the comparison benchmarks (bench/) into
# bin/peers/: OPA (go install from the module proxy) and Cerbos (built from
# the wrapper module hack/bench/cerbos, which repeats the replace directive
# of Cerbos's go.mod). A peer already present is skipped; FORCE=1 rebuilds.
# Nothing else is downloaded: both come from the Go module proxy.
# PEERS_DIR overrides the output directory.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
out="${PEERS_DIR:-$root/bin/peers}"
mkdir -p "$out"
OPA_VERSION="${OPA_VERSION:-v1.22.2}"
CERBOS_VERSION="v0.55.0" # pinned in hack/bench/cerbos/go.mod

if [[ -x "$out/opa" && -z "${FORCE:-}" ]]; then
  echo "opa: present ($("$out/opa" version 2>/dev/null | head -1))"
else
  echo "opa: building $OPA_VERSION"
  GOBIN="$out" CGO_ENABLED=0 go install "github.com/open-policy-agent/opa@$OPA_VERSION"
fi

if [[ -x "$out/cerbos" && -z "${FORCE:-}" ]]; then
  echo "cerbos: present"
elif [[ -n "${SKIP_CERBOS:-}" ]]; then
  echo "cerbos: skipped (SKIP_CERBOS set)"
else
  echo "cerbos: building $CERBOS_VERSION (takes several minutes on 2 cores)"
  (cd "$root/hack/bench/cerbos" && go mod download && \
    CGO_ENABLED=0 go build -trimpath -o "$out/cerbos" github.com/cerbos/cerbos/cmd/cerbos)
fi
ls -l "$out"
