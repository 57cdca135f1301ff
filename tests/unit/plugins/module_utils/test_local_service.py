"""LocalService against real processes (no mocks: it starts and stops them)."""
import sys
import time

from ansible_collections.hx.mlops.plugins.module_utils.local_service import (
    LocalService,
    _proc_start_time,
    spec_digest,
)


def test_spec_digest_changes_with_env_and_argv():
    a = spec_digest(["x"], {"A": "1"}, "/")
    assert a == spec_digest(["x"], {"A": "1"}, "/")
    assert a != spec_digest(["x"], {"A": "2"}, "/")
    assert a != spec_digest(["y"], {"A": "1"}, "/")
    assert a != spec_digest(["x"], {"A": "1"}, "/", extra="config-v2")


def test_start_records_state_and_stop_kills_the_process_group(tmp_path):
    svc = LocalService("sleeper", str(tmp_path))
    # a parent that starts a child: stop() must end the whole process group
    script = ("import subprocess, sys, time; "
              "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); "
              "print('up', flush=True); time.sleep(60)")
    argv = [sys.executable, "-c", script]
    proc, state = svc.start(argv, {"X": "1"}, str(tmp_path), "d1")
    assert svc.running()["pid"] == proc.pid
    assert oct((tmp_path / "sleeper.json").stat().st_mode & 0o777) == "0o600"
    deadline = time.time() + 5
    while b"up" not in (tmp_path / "sleeper.log").read_bytes() and time.time() < deadline:
        time.sleep(0.05)
    assert b"up" in (tmp_path / "sleeper.log").read_bytes()
    assert svc.stop(timeout=5) is True
    proc.wait(timeout=5)
    assert svc.running() is None
    assert not (tmp_path / "sleeper.json").exists()
    assert svc.stop() is False  # already stopped: nothing to do


def test_a_reused_pid_is_not_mistaken_for_the_service(tmp_path):
    svc = LocalService("ghost", str(tmp_path))
    import json
    import os
    # our own pid, but a start time that is not ours: the service is not running
    (tmp_path / "ghost.json").write_text(json.dumps({"pid": os.getpid(), "start_time": _proc_start_time(os.getpid()) + 1}))
    assert svc.running() is None
