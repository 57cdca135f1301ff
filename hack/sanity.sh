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

# `ansible-test --venv` bootstraps pip in its venvs with a get-pip script it downloads
# from a host this machine cannot reach; put an offline stand-in (ensurepip, then pip
# from PyPI) where ansible-test looks for its cached copy.
pip_version=$(python - <<'PY'
import inspect, re
from ansible_test._internal import python_requirements as r
print(re.search(r"pip='([0-9.]+)'", inspect.getsource(r.get_venv_packages)).group(1))
PY
)
get_pip=$HOME/.ansible/test/cache/get_pip_${pip_version//./_}.py
if [ ! -s "$get_pip" ]; then
  mkdir -p "$(dirname "$get_pip")"
  cat > "$get_pip" <<'PY'
# Offline stand-in for get-pip.py (written by hack/sanity.sh): ensurepip, then pip from PyPI.
import subprocess
import sys

subprocess.check_call([sys.executable, '-m', 'ensurepip', '--default-pip'])
args = [a for a in sys.argv[1:] if a not in ('--no-setuptools', '--no-wheel')]
subprocess.check_call([sys.executable, '-m', 'pip', 'install'] + args)
PY
fi

cd "$dest"
git init -q . && git add -A >/dev/null   # ansible-test lists files through git
python=$(python -c 'import sys; print("%d.%d" % sys.version_info[:2])')
ansible-test sanity --venv --requirements --python "$python" --color no "$@"
