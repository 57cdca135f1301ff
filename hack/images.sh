#!/usr/bin/env bash
# Build the Molecule base images locally: no registry is reachable, so every image is a
# Debian root file system made with debootstrap and turned into an image with `docker import`.
#
#   hx-mlops/debian:bookworm-amd64   amd64 "server" platforms
#   hx-mlops/debian:bookworm-arm64   arm64 "Raspberry Pi" platforms, run under qemu-user-static
#
# Both carry python3 and sudo (what Ansible needs) and no init system: Molecule runs
# them unprivileged with `sleep infinity` as PID 1. The arm64 image also carries
# dphys-swapfile, which Raspberry Pi OS ships and the edge role must disable.
#
# Idempotent: an image that already exists is skipped (HX_IMAGES_FORCE=1 rebuilds).
# The Debian mirror is read from /etc/apt/sources.list(.d) (override: HX_DEBIAN_MIRROR).
#
# Usage: hack/images.sh [amd64] [arm64]      (default: both)
set -euo pipefail

SUITE=${HX_DEBIAN_SUITE:-bookworm}
REPO=${HX_IMAGE_REPO:-hx-mlops/debian}
WORK=${HX_IMAGES_WORKDIR:-/var/tmp/hx-mlops-images}
COMMON_PACKAGES=python3,sudo,procps,kmod,iproute2,ca-certificates
EXTRA_PACKAGES_arm64=dphys-swapfile
EXTRA_PACKAGES_amd64=

started=$SECONDS
log() { printf '[images %4ss] %s\n' "$((SECONDS - started))" "$*"; }
die() { printf 'ERROR: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "run as root: debootstrap and binfmt_misc need it (sudo hack/images.sh)"
docker info >/dev/null 2>&1 || die "Docker is not answering; run hack/docker.sh first"

# --- Debian mirror -----------------------------------------------------------------------
mirror() {
  if [ -n "${HX_DEBIAN_MIRROR:-}" ]; then echo "$HX_DEBIAN_MIRROR"; return; fi
  local m
  # deb822 sources (URIs:) first, then one-line sources (deb URL SUITE ...); skip security.
  m=$(grep -hsE '^URIs:' /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null \
        | awk '{print $2}' | grep -E '/debian/?$' | grep -v security | head -n1 || true)
  if [ -z "$m" ]; then
    m=$(grep -hsE '^deb\s' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null \
          | awk '{print $2}' | grep -E '/debian/?$' | grep -v security | head -n1 || true)
  fi
  echo "${m:-http://deb.debian.org/debian}"
}
MIRROR=$(mirror)

# --- host tools ----------------------------------------------------------------------------
need_pkgs=()
command -v debootstrap >/dev/null 2>&1 || need_pkgs+=(debootstrap)
[ -x /usr/bin/qemu-aarch64-static ] || need_pkgs+=(qemu-user-static)
command -v update-binfmts >/dev/null 2>&1 || need_pkgs+=(binfmt-support)
if [ ${#need_pkgs[@]} -gt 0 ]; then
  log "installing ${need_pkgs[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >/dev/null \
    || die "apt-get install ${need_pkgs[*]} failed"
fi

# --- binfmt_misc for arm64 -----------------------------------------------------------------
enable_binfmt() {
  if ! mountpoint -q /proc/sys/fs/binfmt_misc; then
    log "mounting binfmt_misc at /proc/sys/fs/binfmt_misc"
    mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc \
      || die "cannot mount binfmt_misc (needs CAP_SYS_ADMIN and a kernel with CONFIG_BINFMT_MISC)"
  fi
  if [ ! -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]; then
    log "registering qemu-aarch64 with binfmt_misc"
    update-binfmts --enable qemu-aarch64 || die "update-binfmts --enable qemu-aarch64 failed"
  fi
  # The F (fix-binary) flag makes the kernel keep the interpreter open, so it also works
  # inside containers that do not carry /usr/bin/qemu-aarch64-static.
  grep -q '^flags:.*F' /proc/sys/fs/binfmt_misc/qemu-aarch64 \
    || log "warning: qemu-aarch64 registered without the F flag; containers need the interpreter inside"
}

# --- image architecture --------------------------------------------------------------------
# Older daemons (Debian's docker.io 20.10) ignore `docker import --platform` and label every
# import with the host architecture; Molecule then asks for linux/arm64 and tries to pull.
# Rewrite the architecture in the image config locally: docker save -> edit -> docker load.
fix_arch() {
  local tag=$1 arch=$2 have
  have=$(docker image inspect --format '{{.Architecture}}' "$tag")
  [ "$have" = "$arch" ] && return 0
  log "$tag: labelled $have by the daemon; relabelling as $arch"
  local tmp; tmp=$(mktemp -d)
  docker save "$tag" | tar -C "$tmp" -x
  python3 - "$tmp" "$arch" <<'PY'
import hashlib, json, os, sys
d, arch = sys.argv[1], sys.argv[2]
manifest = json.load(open(os.path.join(d, "manifest.json")))
old = manifest[0]["Config"]
cfg = json.load(open(os.path.join(d, old)))
cfg["architecture"] = arch
if arch == "arm64":
    cfg["variant"] = "v8"
data = json.dumps(cfg, separators=(",", ":")).encode()
new = hashlib.sha256(data).hexdigest() + ".json"
open(os.path.join(d, new), "wb").write(data)
if new != old:
    os.remove(os.path.join(d, old))
manifest[0]["Config"] = new
json.dump(manifest, open(os.path.join(d, "manifest.json"), "w"))
PY
  docker image rm "$tag" >/dev/null
  tar -C "$tmp" -c . | docker load >/dev/null
  rm -rf "$tmp"
  have=$(docker image inspect --format '{{.Architecture}}' "$tag")
  [ "$have" = "$arch" ] || die "$tag is still labelled $have after relabelling"
}

# --- build ---------------------------------------------------------------------------------
build() {
  local arch=$1 tag="$REPO:$SUITE-$1"
  if [ -z "${HX_IMAGES_FORCE:-}" ] && docker image inspect "$tag" >/dev/null 2>&1; then
    log "$tag exists; skipping (HX_IMAGES_FORCE=1 rebuilds)"
    fix_arch "$tag" "$arch"
    return
  fi
  local extra_var="EXTRA_PACKAGES_$arch"
  local pkgs="$COMMON_PACKAGES${!extra_var:+,${!extra_var}}"
  local root="$WORK/$SUITE-$arch"
  rm -rf "$root"; mkdir -p "$root"

  if [ "$arch" = "$(dpkg --print-architecture)" ]; then
    log "$tag: debootstrap $SUITE from $MIRROR (packages: $pkgs)"
    debootstrap --variant=minbase --arch "$arch" --include="$pkgs" "$SUITE" "$root" "$MIRROR" \
      >"$WORK/$SUITE-$arch.log" 2>&1 || { tail -n 20 "$WORK/$SUITE-$arch.log" >&2; die "debootstrap $arch failed (log: $WORK/$SUITE-$arch.log)"; }
  else
    enable_binfmt
    log "$tag: debootstrap --foreign first stage from $MIRROR (packages: $pkgs)"
    debootstrap --variant=minbase --arch "$arch" --foreign --include="$pkgs" "$SUITE" "$root" "$MIRROR" \
      >"$WORK/$SUITE-$arch.log" 2>&1 || { tail -n 20 "$WORK/$SUITE-$arch.log" >&2; die "debootstrap --foreign $arch failed"; }
    cp /usr/bin/qemu-aarch64-static "$root/usr/bin/"
    log "$tag: second stage under qemu-aarch64-static (slow: several minutes)"
    chroot "$root" /debootstrap/debootstrap --second-stage >>"$WORK/$SUITE-$arch.log" 2>&1 \
      || { tail -n 20 "$WORK/$SUITE-$arch.log" >&2; die "second stage $arch failed (log: $WORK/$SUITE-$arch.log)"; }
  fi

  log "$tag: trimming and importing"
  # The image must not claim a swap file or keep apt lists.
  rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb "$root/var/swap"
  printf 'deb %s %s main\n' "$MIRROR" "$SUITE" >"$root/etc/apt/sources.list"
  tar --numeric-owner -C "$root" -c . \
    | docker import --platform "linux/$arch" \
        --change 'ENV container=docker' \
        --change 'CMD ["/bin/sleep", "infinity"]' \
        --message "hx-mlops $SUITE $arch base image (debootstrap $(date -u +%F))" \
        - "$tag" >/dev/null
  rm -rf "$root"
  fix_arch "$tag" "$arch"
  log "$tag: built ($(docker image inspect --format '{{.Architecture}} {{.Size}} bytes' "$tag"))"
}

mkdir -p "$WORK"
archs=("$@"); [ ${#archs[@]} -gt 0 ] || archs=(amd64 arm64)
for a in "${archs[@]}"; do
  case $a in amd64|arm64) build "$a" ;; *) die "unknown architecture '$a' (valid: amd64, arm64)" ;; esac
done
log "done"
