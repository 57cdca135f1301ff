#!/usr/bin/env bash
# Build the sharing services' image (sharing_services/Containerfile) from a minimal build
# context, offline-capable: the Python wheels are downloaded on the host by pip (which has the
# host's index access and trust store; inside containers this machine does not trust TLS) into
# the context's sharing_services/wheels, and the build installs from them with --no-index.
# The base image comes from hack/images.sh (no registry is reachable).
#
# Usage: hack/sharing-image.sh [amd64|arm64] [tag]     (default: amd64 hx-mlops/sharing:0.1.0)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
arch=${1:-amd64}
tag=${2:-hx-mlops/sharing:0.1.0}
die() { printf 'ERROR: %s\n' "$*" >&2; exit 1; }
case $arch in
  amd64) machine=x86_64 ;;
  arm64) machine=aarch64 ;;
  *) die "unknown architecture '$arch' (valid: amd64, arm64)" ;;
esac
# every manylinux tag the base image's glibc (Debian bookworm: 2.36) runs; pip does not widen
# a single --platform to the older tags by itself
platforms=(--platform "manylinux2014_$machine")
for minor in 17 24 26 27 28 31 34 35 36; do platforms+=(--platform "manylinux_2_${minor}_$machine"); done
base=${HX_IMAGE_REPO:-hx-mlops/debian}:bookworm-$arch
python=${PYTHON:-$root/.venv/bin/python}
[ -x "$python" ] || die "$python not found: run make setup"
docker image inspect "$base" >/dev/null 2>&1 || die "base image $base is missing: run hack/images.sh $arch"

ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
git -C "$root" ls-files requirements.txt sharing_services | tar -C "$root" -c -T - | tar -C "$ctx" -x
# the same constraints the Containerfile derives (pip refuses extras in a constraints file)
sed -e 's/\[[^]]*\]//' "$ctx/requirements.txt" > "$ctx/constraints.txt"
# the base image's python3 is Debian bookworm's CPython 3.11
"$python" -m pip download --quiet --disable-pip-version-check -d "$ctx/sharing_services/wheels" \
  --only-binary=:all: --implementation cp --python-version 3.11 --abi cp311 "${platforms[@]}" \
  -c "$ctx/constraints.txt" "$ctx/sharing_services" "setuptools>=77"
rm -f "$ctx/constraints.txt"
platform_args=()
[ "$arch" = amd64 ] || platform_args=(--platform "linux/$arch")
tar -C "$ctx" -c . | docker build --quiet "${platform_args[@]}" -f sharing_services/Containerfile \
  --build-arg "BASE_IMAGE=$base" -t "$tag" -
# the build stage is left behind as an untagged image of several hundred MB per build
docker image prune --force --filter label=org.hx-mlops.image-stage=sharing-build >/dev/null
echo "built $tag ($arch)"
