#!/usr/bin/env bash
# Build the pinned Go tools this collection needs from the Go module proxy.
#
# Nothing else can be downloaded on an offline build host, so every binary is
# compiled from its Go module at a pinned version. Results are cached outside
# the repository, keyed by version:
#
#   $HX_TOOLS_DIR/<tool>-<version>/<binary>   the build
#   $HX_TOOLS_DIR/bin/<binary>                a symlink to the pinned build
#
# A second run finds every binary in place and returns at once.
#
# Usage: hack/build-tools.sh [tool ...]   (default: all tools)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=hack/versions.env
source "$here/versions.env"

HX_TOOLS_DIR=${HX_TOOLS_DIR:-$HOME/.cache/hx-mlops/tools}
bin_dir="$HX_TOOLS_DIR/bin"
mkdir -p "$bin_dir"

export CGO_ENABLED=0
export GOFLAGS="-trimpath -buildvcs=false"
export GOTOOLCHAIN=local

if ! command -v go >/dev/null 2>&1; then
  echo "ERROR: 'go' not found. Install Go >= 1.24 (Debian: apt-get install golang-1.23 is too old; use the toolchain from go.dev or the machine image)." >&2
  exit 1
fi

build_date=$(date -u -d "@${SOURCE_DATE_EPOCH:-0}" +%Y-%m-%dT%H:%M:%SZ)
started=$SECONDS

log() { printf '[build-tools %4ss] %s\n' "$((SECONDS - started))" "$*"; }

# link_all DIR BIN...: point bin/<BIN> at DIR/<BIN>
link_all() {
  local dir=$1; shift
  local b
  for b in "$@"; do ln -sfn "$dir/$b" "$bin_dir/$b"; done
}

# have DIR BIN...: true when every BIN is already built in DIR
have() {
  local dir=$1; shift
  local b
  for b in "$@"; do [ -x "$dir/$b" ] || return 1; done
}

build_kubernetes() {
  local v=$KUBERNETES_VERSION dir="$HX_TOOLS_DIR/kubernetes-$KUBERNETES_VERSION"
  local bins=(kube-apiserver kube-controller-manager kube-scheduler kubectl kubelet kube-proxy)
  if ! have "$dir" "${bins[@]}"; then
    local minor=${v#v1.}; minor=${minor%%.*}
    local ldflags="-s -w"
    local pkg
    for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
      ldflags+=" -X $pkg.gitVersion=$v -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
      ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=$build_date"
    done
    mkdir -p "$dir.tmp"
    local b
    for b in "${bins[@]}"; do
      [ -x "$dir.tmp/$b" ] && continue
      log "building $b $v (cold builds take several minutes on 2 cores)"
      (cd "$here/tools/kubernetes" && go build -ldflags "$ldflags" -o "$dir.tmp/$b" "k8s.io/kubernetes/cmd/$b")
    done
    rm -rf "$dir" && mv "$dir.tmp" "$dir"
  fi
  link_all "$dir" "${bins[@]}"
}

build_etcd() {
  local v=$ETCD_VERSION dir="$HX_TOOLS_DIR/etcd-$ETCD_VERSION"
  if ! have "$dir" etcd etcdctl; then
    log "building etcd $v"
    mkdir -p "$dir.tmp"
    local ldflags="-s -w -X go.etcd.io/etcd/api/v3/version.GitSHA=v$v"
    (cd "$here/tools/etcd" && go build -ldflags "$ldflags" -o "$dir.tmp/etcd" go.etcd.io/etcd/server/v3 \
      && go build -ldflags "$ldflags" -o "$dir.tmp/etcdctl" go.etcd.io/etcd/etcdctl/v3)
    rm -rf "$dir" && mv "$dir.tmp" "$dir"
  fi
  link_all "$dir" etcd etcdctl
}

# go_install DIR MODULE@VERSION LDFLAGS: build one main package outside any module
go_install() {
  local dir=$1 pkg=$2 ldflags=$3
  mkdir -p "$dir.tmp"
  GOBIN="$dir.tmp" go install -ldflags "$ldflags" "$pkg"
}

build_kwok() {
  local v=$KWOK_VERSION dir="$HX_TOOLS_DIR/kwok-$KWOK_VERSION"
  if ! have "$dir" kwok kwokctl; then
    local ldflags="-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=${v#v} -X sigs.k8s.io/kwok/pkg/consts.KubeVersion=${KUBERNETES_VERSION#v}"
    log "building kwok $v"
    go_install "$dir" "sigs.k8s.io/kwok/cmd/kwok@$v" "$ldflags"
    log "building kwokctl $v"
    go_install "$dir" "sigs.k8s.io/kwok/cmd/kwokctl@$v" "$ldflags"
    rm -rf "$dir" && mv "$dir.tmp" "$dir"
  fi
  link_all "$dir" kwok kwokctl
}

build_helm() {
  local v=$HELM_VERSION dir="$HX_TOOLS_DIR/helm-$HELM_VERSION"
  if ! have "$dir" helm; then
    local minor=${KUBERNETES_VERSION#v1.}; minor=${minor%%.*}
    local ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=$v -X helm.sh/helm/v3/internal/version.metadata="
    ldflags+=" -X helm.sh/helm/v3/internal/version.gitTreeState=clean -X helm.sh/helm/v3/internal/version.gitCommit=$v"
    ldflags+=" -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=$minor"
    ldflags+=" -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=$minor"
    log "building helm $v"
    go_install "$dir" "helm.sh/helm/v3/cmd/helm@$v" "$ldflags"
    rm -rf "$dir" && mv "$dir.tmp" "$dir"
  fi
  link_all "$dir" helm
}

build_coredns() {
  local v=$COREDNS_VERSION dir="$HX_TOOLS_DIR/coredns-$COREDNS_VERSION"
  if ! have "$dir" coredns; then
    log "building coredns $v"
    go_install "$dir" "github.com/coredns/coredns@$v" "-s -w -X github.com/coredns/coredns/coremain.GitCommit=$v"
    rm -rf "$dir" && mv "$dir.tmp" "$dir"
  fi
  link_all "$dir" coredns
}

build_minio() {
  local v=$MINIO_VERSION dir="$HX_TOOLS_DIR/minio-$MINIO_VERSION"
  if ! have "$dir" minio; then
    log "building minio $v"
    go_install "$dir" "github.com/minio/minio@$v" "-s -w"
    rm -rf "$dir" && mv "$dir.tmp" "$dir"
  fi
  link_all "$dir" minio
}

tools=("$@")
[ ${#tools[@]} -gt 0 ] || tools=(etcd kwok helm kubernetes minio coredns)
for t in "${tools[@]}"; do
  case $t in
    kubernetes|etcd|kwok|helm|minio|coredns) "build_$t" ;;
    *) echo "ERROR: unknown tool '$t'; valid: kubernetes etcd kwok helm minio coredns" >&2; exit 2 ;;
  esac
done
log "tools ready in $bin_dir"
