#!/usr/bin/env bash
# ansible-test sanity on the collection's Ansible content.
#
# ansible-test needs the collection at .../ansible_collections/hx/mlops, so the
# tracked files are copied there (no venv, caches or runtime state).
#
# Left out of the copy, each for a reason, and each checked by something else:
#   charts/            Helm templates are not YAML until rendered (sanity's yamllint
#                      cannot parse them); `helm lint` runs on every chart in tests.
#   sharing_services/, stage_runner/, bench/, hack/
#                      standalone Python 3.11 applications, not Ansible plugins
#                      (ansible-test's pylint profile targets plugins); ruff lints them.
#   molecule/, tests/{integration,sharing,stages,fixtures}/
#                      pytest/Molecule suites run by `make test`; ruff lints them.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
dest=$root/tests/output/sanity/ansible_collections/hx/mlops
rm -rf "$dest" && mkdir -p "$dest"
cd "$root"
git ls-files -z --cached --others --exclude-standard \
  | grep -zvE '^(collections|charts|sharing_services|stage_runner|bench|hack|molecule|tests/(integration|sharing|stages|fixtures|output))/' \
  | rsync -a --from0 --files-from=- ./ "$dest/"
cd "$dest"
git init -q . && git add -A >/dev/null   # ansible-test lists files through git
python=$(python -c 'import sys; print("%d.%d" % sys.version_info[:2])')
ansible-test sanity --venv --requirements --python "$python" --color no "$@"
