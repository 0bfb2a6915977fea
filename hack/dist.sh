#!/usr/bin/env bash
# `make dist`: release archives of the gatehouse CLI (as the kubectl plugin
# kubectl-gatehouse) for each platform, their checksums, and the krew plugin
# manifest that installs them (`kubectl krew install --manifest=...`).
#
# Usage: hack/dist.sh VERSION [OUT]   (VERSION like v0.2.0; OUT default dist/)
# PLATFORMS overrides the platform list (os/arch, space-separated).
# RELEASE_URL is where the archives are published (default: GitHub releases).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
version=${1:?usage: $0 VERSION [OUT]}
case $version in
  v[0-9]*.[0-9]*.[0-9]*) ;;
  *) echo "dist: VERSION must look like v1.2.3, not '${version:0:20}'" >&2; exit 2 ;;
esac
out=${2:-$root/dist}
platforms=${PLATFORMS:-"linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64"}
release_url=${RELEASE_URL:-https://github.com/gatehouse-dev/gatehouse/releases/download/$version}
mkdir -p "$out/archives"
manifest="$out/krew/gatehouse.yaml"
mkdir -p "$(dirname "$manifest")"
entries=""
for p in $platforms; do
  os=${p%/*}
  arch=${p#*/}
  ext=""
  [ "$os" = windows ] && ext=.exe
  work=$(mktemp -d)
  (cd "$root" && CGO_ENABLED=0 GOOS=$os GOARCH=$arch go build -trimpath \
    -ldflags "-s -w -X github.com/gatehouse-dev/gatehouse/internal/version.Version=$version" \
    -o "$work/kubectl-gatehouse$ext" ./cmd/gatehouse)
  cp "$root/LICENSE" "$work/" 2>/dev/null || true
  archive="kubectl-gatehouse_${version}_${os}_${arch}.tar.gz"
  # Reproducible: fixed owner, mode and time, sorted names.
  tar --sort=name --owner=0 --group=0 --numeric-owner --mtime='2000-01-01 00:00Z' \
    -C "$work" -czf "$out/archives/$archive" .
  rm -rf "$work"
  sum=$(sha256sum "$out/archives/$archive" | cut -d' ' -f1)
  echo "$sum  $archive" >>"$out/archives/SHA256SUMS.tmp"
  entries+="  - selector:
      matchLabels:
        os: $os
        arch: $arch
    uri: $release_url/$archive
    sha256: $sum
    bin: kubectl-gatehouse$ext
"
done
sort -k2 "$out/archives/SHA256SUMS.tmp" >"$out/archives/SHA256SUMS"
rm -f "$out/archives/SHA256SUMS.tmp"
cat >"$manifest" <<YAML
apiVersion: krew.googlecontainertools.github.com/v1alpha2
kind: Plugin
metadata:
  name: gatehouse
spec:
  version: $version
  homepage: https://github.com/gatehouse-dev/gatehouse
  shortDescription: Compile, test, diff and explain Gatehouse access policy
  description: |
    kubectl gatehouse compiles, tests, diffs and explains Gatehouse access
    policy (Roles, UserGroups, FieldPolicies, ApprovalChains) from files or
    from the cluster (--from-cluster), serves it locally without a cluster,
    opens a read-only web console, and answers audit questions from the
    operator's audit trail.
  platforms:
$entries
YAML
echo "dist: $(ls "$out/archives" | grep -c tar.gz) archives and $manifest in $out"
