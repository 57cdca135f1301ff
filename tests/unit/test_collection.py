"""The collection as users get it: every module documented, and a clean build."""
import os
import re
import subprocess
import sys
import tarfile

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.dirname(sys.executable)
MODULES = sorted(f[:-3] for f in os.listdir(os.path.join(ROOT, "plugins", "modules")) if f.endswith(".py"))
ENV = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"), ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0")


@pytest.mark.parametrize("module", MODULES)
def test_ansible_doc_renders_every_module(module):
    proc = subprocess.run([os.path.join(BIN, "ansible-doc"), "hx.mlops." + module], cwd=ROOT, env=ENV,
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "hx.mlops.%s" % module in proc.stdout
    # every module declares its check and diff mode support
    assert re.search(r"check_mode:.*?support: (full|partial|none)", proc.stdout, re.S), proc.stdout[:2000]
    assert re.search(r"diff_mode:.*?support: (full|partial|none)", proc.stdout, re.S)


def test_built_collection_holds_no_tests_caches_or_state(tmp_path):
    proc = subprocess.run([os.path.join(BIN, "ansible-galaxy"), "collection", "build", "--output-path", str(tmp_path)],
                          cwd=ROOT, env=ENV, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    (tarball,) = tmp_path.glob("hx-mlops-*.tar.gz")
    names = tarfile.open(tarball).getnames()
    assert "plugins/modules/component.py" in names and "roles/kwok_cluster/tasks/main.yml" in names
    assert "charts/postgres/Chart.yaml" in names
    bad = [n for n in names if re.search(r"(^|/)(tests|molecule|\.venv|__pycache__|\.pytest_cache|\.hypothesis|"
                                         r"\.state|credentials|collections)(/|$)|\.egg-info|\.pyc$", n)]
    assert bad == []
