# -*- coding: utf-8 -*-
# Copyright: HX-MLOps contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""hx.mlops.kwok_cluster refuses ports it cannot honour before it runs kwokctl.

The tools are empty stand-ins here: each case must fail before any of them would run
(the real clusters are exercised by the integration tests and Molecule)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.abspath(os.path.join(HERE, "..", "..", "..", "..", "collections")))

from ansible_collections.hx.mlops.plugins.module_utils import kwok, ports  # noqa: E402
from ansible_collections.hx.mlops.plugins.modules import kwok_cluster  # noqa: E402


@pytest.fixture
def args(tmp_path, monkeypatch):
    tools = tmp_path / "tools"
    tools.mkdir()
    for binary in ["kwokctl"] + list(kwok.BINARIES.values()):
        (tools / binary).write_text("#!/bin/sh\necho ran >> %s\nexit 1\n" % (tmp_path / "ran"))
        (tools / binary).chmod(0o755)
    (tmp_path / "port_range").write_text("32768\t60999\n")
    monkeypatch.setattr(ports, "PORT_RANGE_FILE", str(tmp_path / "port_range"))
    monkeypatch.setattr(ports, "RESERVED_PORTS_FILE", str(tmp_path / "no-such-file"))
    return {"name": "hx-x", "workdir": str(tmp_path / "kwok"), "tools_bin": str(tools),
            "kubeconfig": str(tmp_path / "kubeconfig"), "context": "hx-x", "apiserver_port": 26441}


@pytest.mark.parametrize("check_mode", [True, False])
def test_an_ephemeral_apiserver_port_is_refused(run_module, args, tmp_path, check_mode):
    res = run_module(kwok_cluster, dict(args, apiserver_port=36441), check_mode=check_mode)
    assert res["failed"] and "cluster hx-x (kube-apiserver): port 36441 lies in this host's ephemeral" in res["msg"]
    assert not (tmp_path / "ran").exists() and not (tmp_path / "kubeconfig").exists()


def test_an_existing_cluster_is_not_silently_kept_on_its_old_port(run_module, args, tmp_path):
    cluster = tmp_path / "kwok" / "clusters" / "hx-x"
    cluster.mkdir(parents=True)
    (cluster / "kwok.yaml").write_text(
        "apiVersion: config.kwok.x-k8s.io/v1alpha1\nkind: KwokctlConfiguration\n"
        "options: {kubeApiserverPort: 36441}\n---\nkind: Stage\n")
    res = run_module(kwok_cluster, args)
    assert res["failed"]
    assert res["msg"].startswith("Cluster hx-x exists with its kube-apiserver on port 36441, not on port 26441")
    assert "make clean" in res["msg"] and not (tmp_path / "ran").exists()
