#!/usr/bin/env bash
# Run every Molecule scenario under molecule/ with its full test sequence.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
shopt -s nullglob
scenarios=(molecule/*/molecule.yml)
if [ ${#scenarios[@]} -eq 0 ]; then
  echo "ERROR: no Molecule scenario under molecule/" >&2
  exit 1
fi
if ! docker info >/dev/null 2>&1; then
  echo "ERROR: Docker Engine is not running. Run: make setup (hack/docker.sh starts it)" >&2
  exit 1
fi
failed=()
passed=0
for s in "${scenarios[@]}"; do
  name=$(basename "$(dirname "$s")")
  [ "$name" = default ] && continue  # the stub Molecule loads first (see molecule/default/molecule.yml)
  echo "== molecule test -s $name"
  if molecule test -s "$name"; then passed=$((passed + 1)); else failed+=("$name"); fi
done
echo "molecule: ${passed} passed, ${#failed[@]} failed${failed:+ (${failed[*]})}"
[ ${#failed[@]} -eq 0 ] && [ "$passed" -gt 0 ]
