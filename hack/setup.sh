#!/usr/bin/env bash
# One-command, idempotent setup of everything the collection, its tests and the
# demo need on a Debian bookworm machine. Fast when already done: every step
# checks before it acts.
#
#   hack/setup.sh            # everything
#   HX_SETUP_SKIP=images hack/setup.sh   # skip steps (space separated: apt venv tools docker images)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
skip=" ${HX_SETUP_SKIP:-} "
started=$SECONDS
log() { printf '[setup %4ss] %s\n' "$((SECONDS - started))" "$*"; }
want() { [[ "$skip" != *" $1 "* ]]; }

# Debian packages: PostgreSQL (tests and local services), debootstrap + qemu for
# Molecule images, Docker Engine, and build helpers.
apt_packages=(postgresql postgresql-contrib debootstrap qemu-user-static binfmt-support docker.io wrk
  rsync curl ca-certificates git make python3-venv procps iproute2 jq)

if want apt; then
  missing=()
  for p in "${apt_packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
      echo "ERROR: missing Debian packages: ${missing[*]}. Run: sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
      exit 1
    fi
    log "installing Debian packages: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
  log "Debian packages present"
fi

if want venv; then
  python=${HX_PYTHON:-python3}
  if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    echo "ERROR: Python >= 3.11 is needed (ansible-core 2.19). Install it, or set HX_PYTHON=/path/to/python3.11" >&2
    exit 1
  fi
  [ -x .venv/bin/python ] || { log "creating .venv"; "$python" -m venv .venv; }
  stamp=.venv/.hx-requirements.sha256
  want_sum=$(cat requirements.txt sharing_services/pyproject.toml stage_runner/pyproject.toml 2>/dev/null | sha256sum | cut -d' ' -f1)
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want_sum" ]; then
    log "installing Python requirements into .venv"
    .venv/bin/pip install -q --upgrade pip
    .venv/bin/pip install -q -r requirements.txt
    for pkg in sharing_services stage_runner; do
      [ -f "$pkg/pyproject.toml" ] && .venv/bin/pip install -q --no-deps -e "$pkg"
    done
    echo "$want_sum" > "$stamp"
  fi
  log "Python venv ready (.venv)"
fi

if want tools; then
  hack/build-tools.sh
fi

if want docker && [ -x hack/docker.sh ]; then
  hack/docker.sh
fi

if want images && [ -x hack/images.sh ]; then
  hack/images.sh
fi

log "setup done"
