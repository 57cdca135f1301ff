# -*- coding: utf-8 -*-
# Copyright: HX-MLOps contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Supervise a long-running local process with a pidfile.

Used by the local (kwok) flavor for everything that must really run on the
controller: the PVC provisioner, PostgreSQL, MinIO and the sharing services.

A service is identified by its name; its state lives in ``state_dir``:

* ``<name>.json``  pid, process start time (guards against pid reuse) and the
  spec digest (argv + env + cwd + extra digest) the process was started with;
* ``<name>.log``   stdout and stderr of the process.

``changed`` comes from a comparison of the wanted spec with the running one.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import json
import os
import signal
import subprocess
import time

from ansible.module_utils.six.moves.urllib.error import URLError
from ansible.module_utils.urls import open_url


def spec_digest(argv, env, cwd, extra=""):
    """Digest of everything that makes a running process what it is."""
    payload = json.dumps(
        {"argv": list(argv), "env": dict(sorted((env or {}).items())), "cwd": cwd, "extra": extra},
        sort_keys=True,
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def _proc_start_time(pid):
    """Start time of a process in clock ticks since boot, or None when it is gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            stat = f.read()
    except (IOError, OSError):
        return None
    # The command name may contain spaces and parentheses: split after the last ')'.
    fields = stat.rsplit(")", 1)[1].split()
    if fields[0] == "Z":  # a zombie is not running
        return None
    return int(fields[19])


class LocalService(object):
    def __init__(self, name, state_dir):
        self.name = name
        self.state_dir = state_dir
        self.state_file = os.path.join(state_dir, name + ".json")
        self.log_file = os.path.join(state_dir, name + ".log")

    def read_state(self):
        try:
            with open(self.state_file) as f:
                return json.load(f)
        except (IOError, OSError, ValueError):
            return None

    def running(self):
        """The recorded state when its process is alive, else None."""
        state = self.read_state()
        if not state:
            return None
        if _proc_start_time(state["pid"]) != state.get("start_time"):
            return None
        return state

    def start(self, argv, env, cwd, digest):
        if not os.path.isdir(self.state_dir):
            os.makedirs(self.state_dir, 0o700)
        full_env = dict(os.environ)
        full_env.update(env or {})
        with open(self.log_file, "ab") as log:
            proc = subprocess.Popen(
                argv,
                cwd=cwd,
                env=full_env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                close_fds=True,
                start_new_session=True,
            )
        state = {
            "pid": proc.pid,
            "start_time": _proc_start_time(proc.pid),
            "digest": digest,
            "argv0": argv[0],
            "started_at": time.time(),
        }
        tmp = self.state_file + ".tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(state, f)
        os.rename(tmp, self.state_file)
        return proc, state

    def stop(self, timeout=30):
        state = self.running()
        if state:
            pid = state["pid"]
            for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 10)):
                try:
                    os.killpg(pid, sig)
                except OSError:
                    break
                deadline = time.time() + wait
                while time.time() < deadline and _proc_start_time(pid) is not None:
                    time.sleep(0.1)
                if _proc_start_time(pid) is None:
                    break
        if os.path.exists(self.state_file):
            os.remove(self.state_file)
        return state is not None

    def log_tail(self, lines=30):
        try:
            with open(self.log_file, "rb") as f:
                f.seek(0, os.SEEK_END)
                f.seek(max(0, f.tell() - 8192))
                return f.read().decode("utf-8", "replace").splitlines()[-lines:]
        except (IOError, OSError):
            return []


def wait_healthy(url, timeout, alive, expect_status=(200,)):
    """Poll ``url`` until it answers with an expected status.

    ``alive`` is a callable telling whether the process still runs: a process
    that died is reported at once instead of waiting for the timeout.
    Returns None on success or an error message.
    """
    deadline = time.time() + timeout
    last = "no answer"
    while time.time() < deadline:
        if not alive():
            return "the process exited before %s answered (%s)" % (url, last)
        try:
            resp = open_url(url, timeout=2)
            if resp.getcode() in expect_status:
                return None
            last = "HTTP %d" % resp.getcode()
        except URLError as e:
            last = str(getattr(e, "reason", e))
        except Exception as e:  # connection reset while starting, etc.
            last = str(e)
        time.sleep(0.3)
    return "%s did not become healthy within %ss (last: %s)" % (url, timeout, last)
