#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: HX-MLOps contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: local_service
short_description: Supervise a long-running process on the controller
version_added: 0.1.0
description:
  - Starts, stops or restarts a detached process recorded in a state directory, for the local
    (C(kwok)) flavor where pods are simulated and the services that must really run (the PVC
    provisioner, PostgreSQL, MinIO, the sharing APIs) run as local processes.
  - A running process is identified by its pid and its start time, so a reused pid is never
    mistaken for the service.
  - The process is restarted when its argument list, environment, working directory or
    O(config_digest) differ from those it was started with; otherwise nothing changes.
author:
  - HX-MLOps contributors (@hx-mlops)
extends_documentation_fragment:
  - hx.mlops.attributes
options:
  name:
    description: Name of the service; its state and log files are named after it.
    type: str
    required: true
  state:
    description:
      - V(started) starts the process unless the same spec already runs.
      - V(restarted) always restarts it.
      - V(stopped) stops it (SIGTERM to its process group, then SIGKILL) and removes its state file.
    type: str
    choices: [started, stopped, restarted]
    default: started
  argv:
    description: Command to run, as an argument list. Required unless O(state=stopped).
    type: list
    elements: str
  env:
    description:
      - Extra environment variables. Secrets go here, never in O(argv).
      - Only a digest of the values is stored.
    type: dict
    default: {}
  cwd:
    description: Working directory of the process.
    type: path
    default: /
  state_dir:
    description: Directory holding the service's state (C(<name>.json)) and log (C(<name>.log)).
    type: path
    required: true
  config_digest:
    description: Opaque string (for example the checksum of a config file); a change restarts the service.
    type: str
    default: ""
  health_url:
    description:
      - HTTP URL that must answer 200 before the service counts as started.
      - Its port is taken as a port the service listens on (see O(health_port)).
    type: str
  health_port:
    description:
      - TCP port on 127.0.0.1 that must accept connections before the service counts as started.
      - Before a start the module fails if another process already accepts connections on this port
        (or on the port of O(health_url)), or if the port lies in the host's ephemeral port range
        (C(net.ipv4.ip_local_port_range)) without being reserved, where outgoing connections can take it.
    type: int
  timeout:
    description: Seconds to wait for health, and for a stop before SIGKILL.
    type: int
    default: 60
attributes:
  check_mode:
    support: full
    details: Reports whether the process would be started, restarted or stopped.
  diff_mode:
    support: full
    details: Shows the running state before and after.
  idempotent:
    support: full
notes:
  - The process runs in its own session and survives the end of the play.
"""

EXAMPLES = r"""
- name: Run MinIO for the vendor domain
  hx.mlops.local_service:
    name: minio-vendor
    argv: ["{{ hx_tools_bin }}/minio", server, --address, "127.0.0.1:9100", /srv/minio]
    env:
      MINIO_ROOT_USER: hx-admin
      MINIO_ROOT_PASSWORD: "{{ minio_password }}"
    state_dir: "{{ hx_state_dir }}/vendor/services"
    health_url: http://127.0.0.1:9100/minio/health/live

- name: Stop it
  hx.mlops.local_service:
    name: minio-vendor
    state: stopped
    state_dir: "{{ hx_state_dir }}/vendor/services"
"""

RETURN = r"""
pid:
  description: Pid of the running process; absent when stopped.
  returned: when the service runs
  type: int
  sample: 4242
log_file:
  description: Path of the service log.
  returned: always
  type: str
action:
  description: What was (or, in check mode, would be) done.
  returned: always
  type: str
  sample: started
"""

import time

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.six.moves.urllib.parse import urlparse
from ansible_collections.hx.mlops.plugins.module_utils import ports
from ansible_collections.hx.mlops.plugins.module_utils.local_service import (
    LocalService,
    spec_digest,
    wait_healthy,
)


def _wait_port(port, timeout, alive):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if not alive():
            return "the process exited before port %d accepted connections" % port
        if ports.in_use(port):
            return None
        time.sleep(0.3)
    return "port %d did not accept connections within %ss" % (port, timeout)


def _listen_ports(health_url, health_port):
    """(host, port) pairs the service listens on, as its health checks name them."""
    listen = []
    if health_url:
        url = urlparse(health_url)
        listen.append((url.hostname or "127.0.0.1", url.port or (443 if url.scheme == "https" else 80)))
    if health_port:
        listen.append(("127.0.0.1", health_port))
    return listen


def main():
    module = AnsibleModule(
        argument_spec=dict(
            name=dict(type="str", required=True),
            state=dict(type="str", default="started", choices=["started", "stopped", "restarted"]),
            argv=dict(type="list", elements="str"),
            env=dict(type="dict", default={}, no_log=True),
            cwd=dict(type="path", default="/"),
            state_dir=dict(type="path", required=True),
            config_digest=dict(type="str", default=""),
            health_url=dict(type="str"),
            health_port=dict(type="int"),
            timeout=dict(type="int", default=60),
        ),
        required_if=[("state", "started", ["argv"]), ("state", "restarted", ["argv"])],
        supports_check_mode=True,
    )
    p = module.params
    svc = LocalService(p["name"], p["state_dir"])
    running = svc.running()
    before = {"running": bool(running), "pid": running["pid"] if running else None}
    result = dict(changed=False, log_file=svc.log_file, action="none")

    if p["state"] == "stopped":
        if running:
            result.update(changed=True, action="stopped")
            if not module.check_mode:
                svc.stop(p["timeout"])
        elif not module.check_mode:
            svc.stop(p["timeout"])  # clears a stale state file, changes nothing running
        result["diff"] = dict(before=before, after={"running": False, "pid": None})
        module.exit_json(**result)

    digest = spec_digest(p["argv"], p["env"], p["cwd"], p["config_digest"])
    if running and running.get("digest") == digest and p["state"] == "started":
        result.update(pid=running["pid"])
        result["diff"] = dict(before=before, after=before)
        module.exit_json(**result)

    listen = _listen_ports(p["health_url"], p["health_port"])
    error = ports.ephemeral_error([port for _host, port in listen], "service %s" % p["name"])
    if error:
        module.fail_json(msg=error)
    if not running:
        taken = ["%s:%d" % hp for hp in listen if ports.in_use(hp[1], hp[0])]
        if taken:
            module.fail_json(
                msg="Service %s is not running, yet another process already accepts connections on %s: "
                "stop that process or give this service another port" % (p["name"], ", ".join(taken)))

    result.update(changed=True, action="restarted" if running else "started")
    if module.check_mode:
        result["diff"] = dict(before=before, after={"running": True, "pid": "(new)"})
        module.exit_json(**result)

    if running:
        svc.stop(p["timeout"])
    proc, state = svc.start(p["argv"], p["env"], p["cwd"], digest)

    def alive():
        return proc.poll() is None

    error = None
    if p["health_url"]:
        error = wait_healthy(p["health_url"], p["timeout"], alive)
    if not error and p["health_port"]:
        error = _wait_port(p["health_port"], p["timeout"], alive)
    if not error and not (p["health_url"] or p["health_port"]):
        time.sleep(0.5)
        if not alive():
            error = "the process exited at once with code %s" % proc.returncode
    if error:
        svc.stop(5)
        module.fail_json(
            msg="Service %s failed to start: %s. Last log lines of %s:\n%s"
            % (p["name"], error, svc.log_file, "\n".join(svc.log_tail())),
            log_file=svc.log_file,
        )
    result.update(pid=state["pid"])
    result["diff"] = dict(before=before, after={"running": True, "pid": state["pid"]})
    module.exit_json(**result)


if __name__ == "__main__":
    main()
