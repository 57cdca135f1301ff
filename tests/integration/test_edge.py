"""Edge onboarding against the real local clusters (kwok flavor), and its early validation.

Onboarding: a board is added to the local inventory through a second, temporary inventory
(`-i inventories/local -i <tmp>/edge.yml`) as a simulated board (ansible_connection=local, so
the controller itself is never prepared), then:
  1. playbooks/edge.yml registers it: the node appears with the labels and the taint;
  2. a second run changes nothing; a --check run predicts nothing;
  3. edge_state=absent drains and deletes it; a second removal changes nothing.

Validation: unknown flavor, a board without a resolvable address, a board listed in two
domains, each failing before any board is touched, with a message naming the problem.
"""
import os
import sys
import uuid

import pytest
import yaml

from conftest import LOCAL_KUBECONFIG, ROOT, playbook, recap

DOMAIN = "mno-staging"
CONTEXT = "hx-" + DOMAIN


def write_inventory(tmp_path, hosts, control_plane=None):
    path = tmp_path / "edge.yml"
    children = {"edge": {"hosts": hosts}}
    if control_plane:
        children["kube_control_plane"] = {"hosts": control_plane}
    path.write_text(yaml.safe_dump({"all": {"children": children}}))
    return str(path)


def simulated_board(**extra):
    host = {
        "ansible_connection": "local",
        "ansible_python_interpreter": sys.executable,
        "hx_domain": DOMAIN,
        "hx_cluster_flavor": "kwok",
        "hx_kube_context": CONTEXT,
        # inventories/local/group_vars would point at <tmp>/.state: use the real kubeconfig
        "hx_state_dir": os.path.join(ROOT, "inventories", "local", ".state"),
        "hx_kubeconfig": LOCAL_KUBECONFIG,
    }
    host.update(extra)
    return host


def changed(proc):
    return sum(h.get("changed", 0) for h in recap(proc.stdout).values())


def failed(proc):
    return sum(h.get("failed", 0) for h in recap(proc.stdout).values())


@pytest.fixture
def board(tmp_path, kubectl):
    name = "it-pi-%s" % uuid.uuid4().hex[:6]
    inv = write_inventory(tmp_path, {name: simulated_board()})
    yield name, inv
    kubectl(CONTEXT, "delete", "node", name, "--ignore-not-found", check=False)


def test_onboard_rerun_and_remove(board, kubectl):
    name, inv = board
    args = ["playbooks/edge.yml", "-i", "inventories/local", "-i", inv, "--limit", name]

    first = playbook(*args)
    assert changed(first) > 0 and failed(first) == 0

    node = kubectl.json(CONTEXT, "get", "node", name)
    labels = node["metadata"]["labels"]
    assert labels["kubernetes.io/arch"] == "arm64"
    assert labels["node-role.kubernetes.io/edge"] == ""
    assert labels["hx.mlops/domain"] == DOMAIN
    assert node["metadata"]["annotations"]["kwok.x-k8s.io/node"] == "fake"
    assert {"key": "hx.mlops/edge", "value": "true", "effect": "NoSchedule"} in node["spec"]["taints"]
    ready = [c for c in node["status"]["conditions"] if c["type"] == "Ready"]
    assert ready and ready[0]["status"] == "True"

    again = playbook(*args)
    assert changed(again) == 0, again.stdout[-3000:]

    check = playbook(*args, "--check")
    assert changed(check) == 0, check.stdout[-3000:]

    removed = playbook(*args, "-e", "edge_state=absent")
    assert changed(removed) > 0
    gone = kubectl(CONTEXT, "get", "node", name, "--ignore-not-found", "-o", "name")
    assert gone.stdout.strip() == ""

    removed_again = playbook(*args, "-e", "edge_state=absent")
    assert changed(removed_again) == 0, removed_again.stdout[-3000:]


@pytest.mark.parametrize("case, hosts, message", [
    ("microk8s without a control plane",
     {"pi-x": {"ansible_host": "192.0.2.51", "hx_domain": "mno-prod", "hx_cluster_flavor": "microk8s"}},
     "kube_control_plane, and that group is empty"),
    ("unknown flavor",
     {"pi-x": simulated_board(hx_cluster_flavor="k3s")},
     "cluster flavor 'k3s' cannot take an edge board"),
    ("kind flavor",
     {"pi-x": simulated_board(hx_cluster_flavor="kind")},
     "a physical board cannot join a kind cluster"),
    ("unresolvable board",
     {"pi-x": {"ansible_host": "pi-x.hx-does-not-exist.invalid", "hx_domain": "mno-prod",
               "hx_cluster_flavor": "microk8s"}},
     "no resolvable address for this board"),
    ("board in two domains",
     {"pi-a": {"ansible_host": "192.0.2.50", "hx_domain": "vendor", "hx_cluster_flavor": "microk8s"},
      "pi-a-again": {"ansible_host": "192.0.2.50", "hx_domain": "mno-prod", "hx_cluster_flavor": "microk8s",
                     "edge_node_name": "pi-a"}},
     "is listed in domain"),
])
def test_bad_input_fails_early(tmp_path, case, hosts, message):
    cp = None if case == "microk8s without a control plane" else {"cp-1": {"ansible_host": "192.0.2.10"}}
    inv = write_inventory(tmp_path, hosts, control_plane=cp)
    proc = playbook("playbooks/edge.yml", "-i", inv, "--limit", "edge", check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, case
    assert message in " ".join(out.split()), out[-3000:]
    # failed in the validation play: no board was contacted (no facts gathered)
    assert "Gathering Facts" not in out
