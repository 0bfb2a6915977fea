#!/usr/bin/env bash
# Renders the installer (config/default: CRDs, RBAC, the manager, the webhook
# and its cert-manager certificate) for image IMG to standard output.
# `make build-installer` writes it to dist/install.yaml, and test/installer
# applies the same output to a control plane, so both use this one render.
# Usage: hack/render-installer.sh IMG   (KUSTOMIZE overrides `kubectl kustomize`)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
img=${1:?usage: $0 IMG}
kustomize=${KUSTOMIZE:-kubectl kustomize}
# config/manager must build on its own too (it is a base of other overlays).
(cd "$root/config/manager" && $kustomize . >/dev/null)
rendered=$($kustomize "$root/config/default")
printf '%s\n' "$rendered" | sed "s|controller:latest|$img|"
