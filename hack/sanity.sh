#!/usr/bin/env bash
# ansible-test needs the collection at .../ansible_collections/hx/mlops; copy the
# tracked files there (no venv, caches or state) and run sanity in its own venvs.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
dest=$root/tests/output/sanity/ansible_collections/hx/mlops
rm -rf "$dest" && mkdir -p "$dest"
cd "$root"
git ls-files -z --cached --others --exclude-standard | grep -zv '^collections/' \
  | rsync -a --from0 --files-from=- ./ "$dest/"
cd "$dest"
git init -q . && git add -A >/dev/null   # ansible-test lists files through git
python=$(python -c 'import sys; print("%d.%d" % sys.version_info[:2])')
ansible-test sanity --venv --requirements --python "$python" --color no "$@"
