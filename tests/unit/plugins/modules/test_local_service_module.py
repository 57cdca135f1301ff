# -*- coding: utf-8 -*-
# Copyright: HX-MLOps contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""hx.mlops.local_service run in-process against real processes and real sockets: the port checks
before a start, then start, no-op and stop of a real HTTP server."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import socket
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.abspath(os.path.join(HERE, "..", "..", "..", "..", "collections")))

from ansible_collections.hx.mlops.plugins.module_utils import ports  # noqa: E402
from ansible_collections.hx.mlops.plugins.modules import local_service  # noqa: E402


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def port_range(monkeypatch, tmp_path):
    """Point the module at a port range file of the test's choosing (the kernel's own is read by default)."""
    def set_range(low, high):
        (tmp_path / "port_range").write_text("%d\t%d\n" % (low, high))
        monkeypatch.setattr(ports, "PORT_RANGE_FILE", str(tmp_path / "port_range"))
        monkeypatch.setattr(ports, "RESERVED_PORTS_FILE", str(tmp_path / "no-such-file"))
    return set_range


def _args(tmp_path, port, **kw):
    args = {"name": "web", "state_dir": str(tmp_path / "services"), "timeout": 20,
            "argv": [sys.executable, "-m", "http.server", "--bind", "127.0.0.1", str(port)],
            "cwd": str(tmp_path), "health_url": "http://127.0.0.1:%d/" % port}
    args.update(kw)
    return args


def test_a_port_in_the_ephemeral_range_is_refused_before_anything_starts(run_module, port_range, tmp_path):
    port = _free_port()
    port_range(port - 10, port + 10)
    for check_mode in (True, False):
        res = run_module(local_service, _args(tmp_path, port), check_mode=check_mode)
        assert res["failed"] and "port %d lies in this host's ephemeral port range" % port in res["msg"]
        assert "net.ipv4.ip_local_reserved_ports=%d" % port in res["msg"]
    assert not (tmp_path / "services" / "web.json").exists()


def test_a_port_another_process_holds_is_refused_before_anything_starts(run_module, port_range, tmp_path):
    port_range(61000, 61001)
    foreign = socket.socket()
    foreign.bind(("127.0.0.1", 0))
    foreign.listen(1)
    port = foreign.getsockname()[1]
    try:
        res = run_module(local_service, _args(tmp_path, port))
    finally:
        foreign.close()
    assert res["failed"] and "already accepts connections on 127.0.0.1:%d" % port in res["msg"]
    assert not (tmp_path / "services" / "web.json").exists()


def test_start_again_and_stop_a_real_server(run_module, port_range, tmp_path):
    port_range(61000, 61001)
    port = _free_port()
    args = _args(tmp_path, port)
    assert run_module(local_service, args, check_mode=True)["changed"] is True
    started = run_module(local_service, args)
    try:
        assert started["failed"] is False and started["action"] == "started"
        assert ports.in_use(port)
        # running with the same spec: its own port does not count as taken
        again = run_module(local_service, args)
        assert again["changed"] is False and again["pid"] == started["pid"]
    finally:
        stopped = run_module(local_service, {"name": "web", "state": "stopped", "state_dir": args["state_dir"]})
    assert stopped["changed"] is True and not ports.in_use(port)
