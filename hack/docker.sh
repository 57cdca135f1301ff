#!/usr/bin/env bash
# Make a Docker Engine available for Molecule on a host without systemd.
#
# Idempotent:
#   * installs Debian's docker.io when dockerd is missing (apt-get, Debian mirror only);
#   * starts dockerd in the background when nothing answers on the socket, logging to
#     $HX_DOCKERD_LOG (default /var/log/hx-dockerd.log);
#   * waits for the socket and checks `docker info`.
# A second run finds the daemon answering and returns at once.
#
# Usage: hack/docker.sh            (as root, or with sudo available)
set -euo pipefail

HX_DOCKERD_LOG=${HX_DOCKERD_LOG:-/var/log/hx-dockerd.log}
HX_DOCKER_SOCK=${HX_DOCKER_SOCK:-/var/run/docker.sock}
HX_DOCKER_WAIT=${HX_DOCKER_WAIT:-60}

started=$SECONDS
log() { printf '[docker %4ss] %s\n' "$((SECONDS - started))" "$*"; }
die() { printf 'ERROR: %s\n' "$*" >&2; exit 1; }

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || die "run as root (or install sudo): dockerd needs root"
  SUDO="sudo"
fi

answering() { $SUDO docker -H "unix://$HX_DOCKER_SOCK" info >/dev/null 2>&1; }

if command -v docker >/dev/null 2>&1 && answering; then
  log "dockerd already answering on $HX_DOCKER_SOCK"
  exit 0
fi

if ! command -v dockerd >/dev/null 2>&1; then
  log "dockerd missing: installing docker.io from the Debian mirror"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq || die "apt-get update failed; check /etc/apt/sources.list(.d) points at a reachable Debian mirror"
  # --no-install-recommends keeps out ubuntu-fan/cgroupfs-mount etc.; iptables is needed for bridge networking.
  $SUDO apt-get install -y -qq --no-install-recommends docker.io iptables ca-certificates >/dev/null \
    || die "apt-get install docker.io failed; fix: apt-get install -y docker.io (see apt output above)"
fi
command -v dockerd >/dev/null 2>&1 || die "dockerd still not on PATH after installing docker.io"

# Without systemd nobody mounts the cgroup hierarchy or starts containerd for us:
# dockerd starts its own containerd when none is configured.
if [ -S "$HX_DOCKER_SOCK" ]; then
  log "stale socket $HX_DOCKER_SOCK (nothing answers); removing it"
  $SUDO rm -f "$HX_DOCKER_SOCK"
fi
if [ -f /var/run/docker.pid ] && ! $SUDO kill -0 "$(cat /var/run/docker.pid)" 2>/dev/null; then
  $SUDO rm -f /var/run/docker.pid
fi

log "starting dockerd in the background (log: $HX_DOCKERD_LOG)"
$SUDO mkdir -p "$(dirname "$HX_DOCKERD_LOG")"
# setsid + nohup: the daemon survives the shell that started it.
$SUDO setsid nohup dockerd -H "unix://$HX_DOCKER_SOCK" >>"$HX_DOCKERD_LOG" 2>&1 </dev/null &

for _ in $(seq "$HX_DOCKER_WAIT"); do
  if answering; then
    log "dockerd ready: $($SUDO docker version --format 'server {{.Server.Version}}, client {{.Client.Version}}')"
    exit 0
  fi
  sleep 1
done

echo "---- last lines of $HX_DOCKERD_LOG ----" >&2
$SUDO tail -n 30 "$HX_DOCKERD_LOG" >&2 || true
die "dockerd did not answer on $HX_DOCKER_SOCK within ${HX_DOCKER_WAIT}s.
  Common fixes: 'update-alternatives --set iptables /usr/sbin/iptables-legacy' when nftables is unavailable,
  or start it by hand to read the error: dockerd --debug"
