# -*- coding: utf-8 -*-
# Copyright: HX-MLOps contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests for hx.mlops.microk8s, driven by outputs recorded from the microk8s CLI.

Fixtures (tests/unit/plugins/modules/fixtures/microk8s/):

* status_*.yaml: ``microk8s status --format yaml``, rendered with the exact ``str.format``
  padding of microk8s' ``scripts/wrappers/status.py`` (1.2x with addon repositories and the
  high-availability block; ``status_v1_20.yaml`` the older layout without them).
* status_worker.txt: what ``microk8s status`` prints on a worker (``is_cluster_locked``).
* add_node_short.txt: ``microk8s add-node --format short`` (default route address first,
  32 hex token, 12 hex certificate fingerprint; an IPv6 address without brackets).
* join_*.txt: ``microk8s join`` for a worker, a control-plane node, a node dqlite already
  knows, a used token.
* enable_*/disable_*: addon enable/disable output (stdout; repository inference on stderr).
* nodes.json: ``microk8s kubectl get nodes -o json``; config.yaml: ``microk8s config``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", "..", ".."))
# collections/ansible_collections/hx/mlops is a symlink to the repository root
sys.path.insert(0, os.path.join(ROOT, "collections"))

from ansible.module_utils import basic  # noqa: E402
from module_runner import run_main  # noqa: E402

from ansible_collections.hx.mlops.plugins.module_utils import microk8s as mk  # noqa: E402
from ansible_collections.hx.mlops.plugins.modules import microk8s as module  # noqa: E402

FIXTURES = os.path.join(HERE, "fixtures", "microk8s")
BIN = "/snap/bin/microk8s"
TOKEN = "4f1e3c8d0a9b7e6f5d4c3b2a19080706"
URL = "10.20.0.11:25000/4f1e3c8d0a9b7e6f5d4c3b2a19080706/9d2f1b0e6c4a"


def fixture(name):
    with open(os.path.join(FIXTURES, name)) as f:
        return f.read()


# --- parsers -------------------------------------------------------------------------------

class TestParseStatus:
    def test_single_node(self):
        status = mk.parse_status(fixture("status_single.yaml"))
        assert status["running"] is True
        assert status["worker"] is False
        assert status["high_availability"] == {
            "enabled": True, "nodes": [{"address": "127.0.0.1:19001", "role": "voter"}]}
        assert sorted(n for n, a in status["addons"].items() if a["status"] == "enabled") == [
            "dns", "ha-cluster", "helm", "helm3"]
        assert status["addons"]["dns"] == {
            "name": "dns", "repository": "core", "description": "CoreDNS",
            "version": "1.10.1", "status": "enabled"}
        # "version: " with nothing after it (rbac, community) is an empty string
        assert status["addons"]["rbac"]["version"] == ""
        assert status["addons"]["hostpath-storage"]["description"] == (
            "Storage class; allocates storage from host directory")
        assert len(status["addons"]) == 22

    def test_ha_cluster(self):
        status = mk.parse_status(fixture("status_ha.yaml"))
        nodes = status["high_availability"]["nodes"]
        assert [n["role"] for n in nodes] == ["voter", "voter", "voter", "standby"]
        assert nodes[3]["address"] == "10.20.0.14:19001"
        assert mk.addon_state(status, "ingress") == "enabled"
        assert mk.addon_state(status, "core/metrics-server") == "enabled"
        assert mk.addon_state(status, "community/metrics-server") is None
        assert mk.addon_state(status, "cert-manager") == "disabled"

    def test_not_running(self):
        status = mk.parse_status(fixture("status_not_running.txt"))
        assert status["running"] is False
        assert status["addons"] == {}
        assert status["message"].startswith("microk8s is not running")

    def test_worker(self):
        status = mk.parse_status(fixture("status_worker.txt"))
        assert status["worker"] is True
        assert status["running"] is False
        assert "acting as a node in a cluster" in status["message"]

    def test_old_layout_without_repository_or_ha(self):
        status = mk.parse_status(fixture("status_v1_20.yaml"))
        assert status["running"] is True
        assert status["high_availability"] == {"enabled": False, "nodes": []}
        assert status["addons"]["dns"]["repository"] is None
        assert mk.addon_state(status, "storage") == "disabled"
        assert mk.addon_state(status, "core/dns") == "enabled"

    def test_garbage_is_rejected(self):
        with pytest.raises(mk.Microk8sError, match="not microk8s status"):
            mk.parse_status("addons:\n  - name: dns\n")
        with pytest.raises(mk.Microk8sError, match="unexpected top-level line"):
            mk.parse_status("microk8s is running\n")


class TestParseAddNode:
    def test_short_format(self):
        parsed = mk.parse_add_node(fixture("add_node_short.txt"))
        assert parsed["token"] == TOKEN + "/9d2f1b0e6c4a"
        assert parsed["url"] == URL
        assert parsed["addresses"] == ["10.20.0.11", "172.17.0.1", "fd42:3c1a:b0e2::11"]
        assert parsed["port"] == 25000
        assert len(parsed["urls"]) == 3

    def test_prefer_address(self):
        parsed = mk.parse_add_node(fixture("add_node_short.txt"))
        assert mk.pick_join_url(parsed, "172.17.0.1") == "172.17.0.1:25000/%s/9d2f1b0e6c4a" % TOKEN
        assert mk.pick_join_url(parsed, "192.0.2.1") == URL
        assert mk.pick_join_url(parsed, None) == URL

    @pytest.mark.parametrize("text", [
        "", "From the node you wish to join to this cluster, run the following:\n",
        "microk8s join 10.0.0.1:25000/abc/def\nmicrok8s join 10.0.0.2:25000/abd/def\n",
    ])
    def test_rejects(self, text):
        with pytest.raises(mk.Microk8sError):
            mk.parse_add_node(text)


class TestParseJoin:
    def test_worker(self):
        parsed = mk.parse_join(fixture("join_worker.txt"), 0)
        assert parsed == {"joined": True, "worker": True, "address": "10.20.0.11", "error": None,
                          "http_status": None, "already_member": False}

    def test_control_plane(self):
        parsed = mk.parse_join(fixture("join_control_plane.txt"), 0)
        assert parsed["joined"] is True and parsed["worker"] is False

    def test_already_known(self):
        parsed = mk.parse_join(fixture("join_already_known.txt"), 6)
        assert parsed["already_member"] is True
        assert parsed["http_status"] == 504
        assert parsed["error"] == "Connection failed. The joining node (10.20.0.21) is already known to dqlite"

    def test_invalid_token(self):
        parsed = mk.parse_join(fixture("join_invalid_token.txt"), 6)
        assert parsed["already_member"] is False
        assert (parsed["error"], parsed["http_status"]) == ("Connection failed. Invalid token", 500)


class TestParseOthers:
    def test_addon_output(self):
        assert mk.parse_addon_output(fixture("enable_dns.txt")) == {"already": False, "state": None}
        assert mk.parse_addon_output(fixture("enable_already.txt")) == {"already": True, "state": "enabled"}

    def test_nodes(self):
        nodes = mk.parse_nodes(fixture("nodes.json"))
        assert [(n["name"], n["ready"], n["labels"]["kubernetes.io/arch"]) for n in nodes] == [
            ("cp-01", True, "amd64"), ("pi-01", True, "arm64")]

    def test_membership(self, tmp_path):
        assert mk.membership(str(tmp_path)) == {"worker": False, "control_plane_peers": 0, "joined": False}
        backend = tmp_path / "var" / "kubernetes" / "backend"
        backend.mkdir(parents=True)
        (backend / "cluster.yaml").write_text(fixture("dqlite_cluster_1.yaml"))
        assert mk.membership(str(tmp_path))["joined"] is False
        (backend / "cluster.yaml").write_text(fixture("dqlite_cluster_3.yaml"))
        assert mk.membership(str(tmp_path)) == {"worker": False, "control_plane_peers": 3, "joined": True}
        lock = tmp_path / "var" / "lock"
        lock.mkdir(parents=True)
        (lock / "clustered.lock").write_text("")
        assert mk.membership(str(tmp_path))["worker"] is True


# --- command lines ---------------------------------------------------------------------------

@pytest.mark.parametrize("cmd, expected", [
    (mk.status_cmd(BIN), [BIN, "status", "--format", "yaml"]),
    (mk.status_cmd(BIN, True, 120), [BIN, "status", "--format", "yaml", "--wait-ready", "--timeout", "120"]),
    (mk.addon_cmd(BIN, "dns", "enabled"), [BIN, "enable", "dns"]),
    (mk.addon_cmd(BIN, "registry", "enabled", ["--size", "40Gi"]), [BIN, "enable", "registry", "--size", "40Gi"]),
    (mk.addon_cmd(BIN, "core/ingress", "disabled"), [BIN, "disable", "core/ingress"]),
    (mk.add_node_cmd(BIN), [BIN, "add-node", "--format", "short"]),
    (mk.add_node_cmd(BIN, TOKEN, 600), [BIN, "add-node", "--format", "short", "--token", TOKEN, "--token-ttl", "600"]),
    (mk.join_cmd(BIN, URL, worker=True), [BIN, "join", URL, "--worker"]),
    (mk.join_cmd(BIN, URL, skip_verify=True), [BIN, "join", URL, "--skip-verify"]),
    (mk.leave_cmd(BIN), [BIN, "leave"]),
    (mk.remove_node_cmd(BIN, "pi-01"), [BIN, "remove-node", "pi-01"]),
    (mk.remove_node_cmd(BIN, "pi-01", force=True), [BIN, "remove-node", "pi-01", "--force"]),
    (mk.nodes_cmd(BIN), [BIN, "kubectl", "get", "nodes", "-o", "json"]),
])
def test_command_lines(cmd, expected):
    assert cmd == expected


def test_validators():
    with pytest.raises(mk.Microk8sError, match="not a valid addon name"):
        mk.validate_addon_name("dns; rm -rf /")
    with pytest.raises(mk.Microk8sError, match="<address>:<port>/<token>/<check>"):
        mk.validate_join_url("10.0.0.1:25000")
    with pytest.raises(mk.Microk8sError, match="RFC 1123"):
        mk.validate_node_name("Pi_01")
    status = mk.parse_status(fixture("status_single.yaml"))
    with pytest.raises(mk.Microk8sError, match="not available on this node; available: cert-manager"):
        mk.addon_needs_change(status, "nosuch", "enabled")


# --- the module, end to end with a fake run_command ---------------------------------------

class FakeRunner:
    """Replaces AnsibleModule.run_command: answers from a table keyed by argv tuple, records calls."""

    def __init__(self, table):
        self.table = {tuple(k): v for k, v in table}
        self.calls = []

    def __call__(self, args, **kwargs):
        self.calls.append(list(args))
        try:
            return self.table[tuple(args)]
        except KeyError:
            raise AssertionError("unexpected command: %r" % (args,)) from None


def run_module(monkeypatch, args, table, check_mode=False):
    fake = FakeRunner(table)
    monkeypatch.setattr(basic.AnsibleModule, "run_command", lambda self, args, **kw: fake(args, **kw))
    return run_main(monkeypatch, module, dict(args, microk8s_path=BIN), check_mode), fake.calls


STATUS = [BIN, "status", "--format", "yaml"]


class TestModuleAddon:
    def test_enable_when_disabled(self, monkeypatch):
        res, calls = run_module(monkeypatch, {"operation": "addon", "addon": "hostpath-storage"}, [
            (STATUS, (0, fixture("status_single.yaml"), "")),
            ([BIN, "enable", "hostpath-storage"], (0, "Enabling default storage class.\n", "Infer repository core for addon hostpath-storage\n")),
        ])
        assert res["changed"] is True and not res["failed"]
        assert calls == [STATUS, [BIN, "enable", "hostpath-storage"]]
        assert res["cmd"] == [BIN, "enable", "hostpath-storage"]

    def test_already_enabled_runs_only_status(self, monkeypatch):
        res, calls = run_module(monkeypatch, {"operation": "addon", "addon": "dns"}, [
            (STATUS, (0, fixture("status_single.yaml"), "")),
        ])
        assert res["changed"] is False
        assert calls == [STATUS]

    def test_check_mode_predicts_and_does_not_enable(self, monkeypatch):
        res, calls = run_module(monkeypatch, {"operation": "addon", "addon": "ingress"}, [
            (STATUS, (0, fixture("status_single.yaml"), "")),
        ], check_mode=True)
        assert res["changed"] is True
        assert res["cmd"] == [BIN, "enable", "ingress"]
        assert calls == [STATUS]

    def test_check_mode_no_change(self, monkeypatch):
        res, calls = run_module(monkeypatch, {"operation": "addon", "addon": "ingress", "state": "disabled"}, [
            (STATUS, (0, fixture("status_single.yaml"), "")),
        ], check_mode=True)
        assert res["changed"] is False and calls == [STATUS]

    def test_disable(self, monkeypatch):
        res, calls = run_module(monkeypatch, {"operation": "addon", "addon": "ingress", "state": "disabled"}, [
            (STATUS, (0, fixture("status_ha.yaml"), "")),
            ([BIN, "disable", "ingress"], (0, fixture("disable_ingress.txt"), "")),
        ])
        assert res["changed"] is True
        assert calls[-1] == [BIN, "disable", "ingress"]

    def test_race_already_enabled_is_not_a_change(self, monkeypatch):
        res, _calls = run_module(monkeypatch, {"operation": "addon", "addon": "ingress"}, [
            (STATUS, (0, fixture("status_single.yaml"), "")),
            ([BIN, "enable", "ingress"], (0, "Addon core/ingress is already enabled\n", fixture("enable_infer.stderr.txt"))),
        ])
        assert res["changed"] is False

    def test_worker_refuses_clearly(self, monkeypatch):
        res, _calls = run_module(monkeypatch, {"operation": "addon", "addon": "dns"}, [
            (STATUS, (1, fixture("status_worker.txt"), "")),
        ])
        assert res["failed"] and "control-plane node" in res["msg"]

    def test_unknown_addon(self, monkeypatch):
        res, calls = run_module(monkeypatch, {"operation": "addon", "addon": "kubeflow"}, [
            (STATUS, (0, fixture("status_single.yaml"), "")),
        ])
        assert res["failed"] and "'kubeflow' is not available" in res["msg"]
        assert calls == [STATUS]

    def test_enable_failure(self, monkeypatch):
        res, _calls = run_module(monkeypatch, {"operation": "addon", "addon": "ingress"}, [
            (STATUS, (0, fixture("status_single.yaml"), "")),
            ([BIN, "enable", "ingress"], (1, "", "MicroK8s is not ready. Please see 'microk8s status' or wait until the cluster is ready.\n")),
        ])
        assert res["failed"] and "enable ingress failed (rc=1): MicroK8s is not ready" in res["msg"]


class TestModuleStatus:
    def test_wait_ready(self, monkeypatch, tmp_path):
        cmd = STATUS + ["--wait-ready", "--timeout", "60"]
        res, calls = run_module(monkeypatch, {"operation": "status", "wait_ready": True, "timeout": 60,
                                              "snap_data": str(tmp_path)}, [
            (cmd, (0, fixture("status_ha.yaml"), "")),
        ])
        assert res["changed"] is False and calls == [cmd]
        assert res["status"]["high_availability"]["enabled"] is True
        assert res["membership"]["joined"] is False

    def test_not_ready_fails(self, monkeypatch):
        cmd = STATUS + ["--wait-ready", "--timeout", "5"]
        res, _calls = run_module(monkeypatch, {"operation": "status", "wait_ready": True, "timeout": 5}, [
            (cmd, (0, fixture("status_not_running.txt"), "")),
        ])
        assert res["failed"] and "did not become ready within 5s" in res["msg"]

    def test_status_runs_in_check_mode(self, monkeypatch):
        res, calls = run_module(monkeypatch, {"operation": "status"}, [
            (STATUS, (0, fixture("status_single.yaml"), "")),
        ], check_mode=True)
        assert calls == [STATUS] and res["changed"] is False


class TestModuleAddNode:
    def test_add_node(self, monkeypatch):
        cmd = [BIN, "add-node", "--format", "short", "--token-ttl", "600"]
        res, calls = run_module(monkeypatch, {"operation": "add_node", "token_ttl": 600, "prefer_address": "10.20.0.11"}, [
            (cmd, (0, fixture("add_node_short.txt"), "")),
        ])
        assert calls == [cmd]
        assert res["changed"] is True
        assert res["join_url"] == URL
        assert res["token"] == TOKEN + "/9d2f1b0e6c4a"

    def test_given_token_is_redacted_in_result(self, monkeypatch):
        cmd = [BIN, "add-node", "--format", "short", "--token", TOKEN]
        res, calls = run_module(monkeypatch, {"operation": "add_node", "token": TOKEN}, [
            (cmd, (0, fixture("add_node_short.txt"), "")),
        ])
        assert calls == [cmd]
        assert res["cmd"] == [BIN, "add-node", "--format", "short", "--token", "<redacted>"]

    def test_check_mode_runs_nothing(self, monkeypatch):
        res, calls = run_module(monkeypatch, {"operation": "add_node"}, [], check_mode=True)
        assert calls == [] and res["changed"] is True and "token" not in res


class TestModuleJoin:
    def test_worker_join(self, monkeypatch, tmp_path):
        cmd = [BIN, "join", URL, "--worker"]
        res, calls = run_module(monkeypatch, {"operation": "join", "join_url": URL, "worker": True,
                                              "snap_data": str(tmp_path)}, [
            (cmd, (0, fixture("join_worker.txt"), "")),
        ])
        assert calls == [cmd]
        assert res["changed"] is True and res["worker"] is True and res["joined_through"] == "10.20.0.11"
        assert URL not in json.dumps(res["cmd"])

    def test_already_joined_worker_is_not_rejoined(self, monkeypatch, tmp_path):
        (tmp_path / "var" / "lock").mkdir(parents=True)
        (tmp_path / "var" / "lock" / "clustered.lock").write_text("")
        res, calls = run_module(monkeypatch, {"operation": "join", "join_url": URL, "worker": True,
                                              "snap_data": str(tmp_path)}, [])
        assert calls == [] and res["changed"] is False

    def test_already_joined_control_plane(self, monkeypatch, tmp_path):
        backend = tmp_path / "var" / "kubernetes" / "backend"
        backend.mkdir(parents=True)
        (backend / "cluster.yaml").write_text(fixture("dqlite_cluster_3.yaml"))
        res, calls = run_module(monkeypatch, {"operation": "join", "join_url": URL, "snap_data": str(tmp_path)}, [])
        assert calls == [] and res["changed"] is False

    def test_check_mode(self, monkeypatch, tmp_path):
        res, calls = run_module(monkeypatch, {"operation": "join", "join_url": URL, "worker": True,
                                              "snap_data": str(tmp_path)}, [], check_mode=True)
        assert calls == [] and res["changed"] is True

    def test_known_to_dqlite_is_not_a_change(self, monkeypatch, tmp_path):
        cmd = [BIN, "join", URL]
        res, _calls = run_module(monkeypatch, {"operation": "join", "join_url": URL, "snap_data": str(tmp_path)}, [
            (cmd, (6, fixture("join_already_known.txt"), "")),
        ])
        assert res["changed"] is False and not res["failed"]

    def test_invalid_token_fails(self, monkeypatch, tmp_path):
        cmd = [BIN, "join", URL, "--worker"]
        res, _calls = run_module(monkeypatch, {"operation": "join", "join_url": URL, "worker": True,
                                               "snap_data": str(tmp_path)}, [
            (cmd, (6, fixture("join_invalid_token.txt"), "")),
        ])
        assert res["failed"] and res["msg"] == "microk8s join failed: Connection failed. Invalid token"
        assert res["http_status"] == 500

    def test_bad_url(self, monkeypatch, tmp_path):
        res, calls = run_module(monkeypatch, {"operation": "join", "join_url": "microk8s join 10.0.0.1:25000/x",
                                              "snap_data": str(tmp_path)}, [])
        assert res["failed"] and calls == []


class TestModuleLeaveRemove:
    def test_leave(self, monkeypatch, tmp_path):
        (tmp_path / "var" / "lock").mkdir(parents=True)
        (tmp_path / "var" / "lock" / "clustered.lock").write_text("")
        res, calls = run_module(monkeypatch, {"operation": "leave", "snap_data": str(tmp_path)}, [
            ([BIN, "leave"], (0, "Generating new cluster certificates.\nWaiting for node to start.\n", "")),
        ])
        assert calls == [[BIN, "leave"]] and res["changed"] is True

    def test_leave_when_alone(self, monkeypatch, tmp_path):
        res, calls = run_module(monkeypatch, {"operation": "leave", "snap_data": str(tmp_path)}, [])
        assert calls == [] and res["changed"] is False

    def test_remove_node(self, monkeypatch):
        nodes = [BIN, "kubectl", "get", "nodes", "-o", "json"]
        res, calls = run_module(monkeypatch, {"operation": "remove_node", "node": "pi-01", "force": True}, [
            (nodes, (0, fixture("nodes.json"), "")),
            ([BIN, "remove-node", "pi-01", "--force"], (0, "", "")),
        ])
        assert calls == [nodes, [BIN, "remove-node", "pi-01", "--force"]]
        assert res["changed"] is True and res["nodes"] == ["cp-01"]

    def test_remove_absent_node(self, monkeypatch):
        nodes = [BIN, "kubectl", "get", "nodes", "-o", "json"]
        res, calls = run_module(monkeypatch, {"operation": "remove_node", "node": "pi-02"}, [
            (nodes, (0, fixture("nodes.json"), "")),
        ])
        assert calls == [nodes] and res["changed"] is False

    def test_remove_node_check_mode(self, monkeypatch):
        nodes = [BIN, "kubectl", "get", "nodes", "-o", "json"]
        res, calls = run_module(monkeypatch, {"operation": "remove_node", "node": "pi-01"}, [
            (nodes, (0, fixture("nodes.json"), "")),
        ], check_mode=True)
        assert calls == [nodes] and res["changed"] is True
        assert res["cmd"] == [BIN, "remove-node", "pi-01"]
