#!/usr/bin/env bash
# Renders the installer (config/default: CRDs, RBAC, the manager, the webhook
# and its cert-manager certificate) for image IMG to standard output.
# `make build-installer` writes it to dist/install.yaml, and test/installer
# applies the same output to a control plane, so both use this one render.
# Usage: hack/render-installer.sh IMG   (KUSTOMIZE overrides `kubectl kustomize`)
#
# INSTALLER_OPTIONAL="network-policy prometheus" (either or both) renders
# config/default with those optional parts, commented out in its
# kustomization.yaml, included: what uncommenting them would give.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd -P)
img=${1:?usage: $0 IMG}
kustomize=${KUSTOMIZE:-kubectl kustomize}
# config/manager must build on its own too (it is a base of other overlays).
(cd "$root/config/manager" && $kustomize . >/dev/null)
dir=$root/config/default
if [ -n "${INSTALLER_OPTIONAL:-}" ]; then
  # A copy of config/default outside the tree (nothing appears in the
  # working tree), its bases reached by a relative path (kustomize refuses
  # absolute ones), the optional parts uncommented.
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  dir=$(cd "$tmp" && pwd -P)
  cp "$root"/config/default/* "$dir"/
  up=$(printf '%s' "$dir" | tr -cd / | wc -c)
  rel=$(printf '../%.0s' $(seq 1 "$up"))${root#/}/config
  for part in $INSTALLER_OPTIONAL; do
    grep -qx "#- \.\./$part" "$dir/kustomization.yaml" ||
      { echo "render-installer: config/default has no optional part $part" >&2; exit 1; }
    sed -i.bak "s|^#- \.\./$part\$|- ../$part|" "$dir/kustomization.yaml"
  done
  sed -i.bak "s|^- \.\./|- $rel/|" "$dir/kustomization.yaml"
  rm -f "$dir/kustomization.yaml.bak"
fi
rendered=$($kustomize "$dir")
printf '%s\n' "$rendered" | sed "s|controller:latest|$img|"
