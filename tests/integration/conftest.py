"""Shared fixtures for integration tests: they run against the real local
clusters of inventories/local (brought up by `make integration`)."""
import json
import os
import shutil
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LOCAL_KUBECONFIG = os.path.join(ROOT, "inventories", "local", ".state", "kubeconfig")
DOMAINS = ["vendor", "mno-staging", "mno-prod"]
TOOLS_BIN = os.path.join(os.environ.get("HX_TOOLS_DIR", os.path.expanduser("~/.cache/hx-mlops/tools")), "bin")


def require_tool(name):
    path = shutil.which(name) or (os.path.join(TOOLS_BIN, name) if os.access(os.path.join(TOOLS_BIN, name), os.X_OK) else None)
    if not path:
        pytest.fail("%s not found: run `make setup` (hack/build-tools.sh builds it)" % name)
    return path


def run(argv, check=True, **kw):
    proc = subprocess.run(argv, capture_output=True, text=True, **kw)
    if check and proc.returncode != 0:
        raise AssertionError("%s failed (%d):\n%s\n%s" % (" ".join(argv), proc.returncode, proc.stdout[-4000:], proc.stderr[-4000:]))
    return proc


def playbook(*args, check=True, env=None):
    """Run ansible-playbook from the repository root; returns the completed process."""
    full_env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    full_env.update(env or {})
    proc = run(["ansible-playbook", *args], check=False, cwd=ROOT, env=full_env)
    if check and proc.returncode != 0:
        raise AssertionError("ansible-playbook %s failed (%d):\n%s" % (" ".join(args), proc.returncode, explain(proc)))
    return proc


def explain(proc, tail=3000):
    """The failed tasks of a playbook run (each with its TASK header), then its last lines.

    A failure early in a long run would otherwise scroll out of the tail an
    assertion message shows."""
    failed, task = [], None
    for line in proc.stdout.splitlines():
        if line.startswith("TASK ["):
            task = line
        elif line.lstrip().startswith(("fatal: [", "failed: [")):
            failed.extend([task or "", line[:2000]])
    head = "failed tasks:\n%s\n" % "\n".join(failed) if failed else ""
    return "%s... last lines:\n%s\n%s" % (head, proc.stdout[-tail:], proc.stderr[-tail:])


def recap(output):
    """Parse PLAY RECAP lines into {host: {ok:, changed:, failed: ...}}."""
    hosts = {}
    in_recap = False
    for line in output.splitlines():
        if line.startswith("PLAY RECAP"):
            in_recap = True
            continue
        if in_recap and ":" in line and "=" in line:
            host, _, counters = line.partition(":")
            hosts[host.strip()] = {k: int(v) for k, v in (c.split("=") for c in counters.split())}
        elif in_recap and not line.strip():
            in_recap = False
    return hosts


class Kubectl:
    def __init__(self, kubeconfig):
        self.kubeconfig = kubeconfig
        self.bin = require_tool("kubectl")

    def __call__(self, context, *args, check=True, stdin=None):
        return run([self.bin, "--kubeconfig", self.kubeconfig, "--context", context, *args], check=check, input=stdin)

    def json(self, context, *args):
        return json.loads(self(context, *args, "-o", "json").stdout)


@pytest.fixture(scope="session")
def kubectl():
    if not os.path.exists(LOCAL_KUBECONFIG):
        pytest.fail("the local domains are not up: run `ansible-playbook playbooks/cluster.yml -i inventories/local` "
                    "(make integration does it)")
    return Kubectl(LOCAL_KUBECONFIG)
