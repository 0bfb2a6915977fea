#!/usr/bin/env bash
# Builds kube-apiserver and etcd for envtest from the Go module proxy into
# bin/k8s (no prebuilt downloads exist on this network). Skips the build when
# the binaries are newer than the modules that pin them.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
out=${ENVTEST_DIR:-$root/bin/k8s}
kube_version=v1.36.3
mkdir -p "$out"

current() { # current BINARY SOURCE_DIR
  [ -x "$out/$1" ] && [ -z "$(find "$2" -newer "$out/$1" -type f 2>/dev/null)" ]
}

if current kube-apiserver "$root/hack/envtest/kube-apiserver"; then
  echo "envtest: kube-apiserver is current"
else
  echo "envtest: building kube-apiserver $kube_version (cold build takes minutes)"
  (cd "$root/hack/envtest/kube-apiserver" && CGO_ENABLED=0 go build -trimpath -o "$out/kube-apiserver" \
    -ldflags "-s -w -X k8s.io/component-base/version.gitVersion=$kube_version -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=36" .)
fi
if current etcd "$root/hack/envtest/etcd"; then
  echo "envtest: etcd is current"
else
  echo "envtest: building etcd"
  (cd "$root/hack/envtest/etcd" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$out/etcd" .)
fi
if [ ! -x "$out/kubectl" ] && command -v kubectl >/dev/null 2>&1; then
  ln -sf "$(command -v kubectl)" "$out/kubectl"
fi
