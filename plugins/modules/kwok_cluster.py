#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: HX-MLOps contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: kwok_cluster
short_description: Run a real Kubernetes control plane with simulated nodes on the controller
version_added: 0.1.0
description:
  - Creates, starts, stops or deletes a local cluster made of a real etcd, kube-apiserver,
    kube-controller-manager and kube-scheduler plus the kwok controller that simulates nodes,
    using C(kwokctl --runtime binary) with binaries built locally (C(hack/build-tools.sh)).
  - Writes a kubeconfig whose cluster, user and context are all named O(context).
  - C(changed) comes from the cluster's state on disk and its running processes, compared
    with O(state), and from a comparison of the kubeconfig file with the wanted one.
author:
  - HX-MLOps contributors (@hx-mlops)
extends_documentation_fragment:
  - hx.mlops.attributes
options:
  name:
    description: Cluster name (also the kwokctl cluster name).
    type: str
    required: true
  state:
    description:
      - V(present) creates the cluster, or starts it when it exists but is stopped.
      - V(stopped) stops its processes and keeps its data.
      - V(absent) deletes the cluster, its data and O(kubeconfig).
    type: str
    choices: [present, stopped, absent]
    default: present
  workdir:
    description: kwokctl work directory (C(KWOK_WORKDIR)) holding every cluster's files.
    type: path
    required: true
  tools_bin:
    description: Directory with C(etcd), C(kube-apiserver), C(kube-controller-manager), C(kube-scheduler), C(kwok) and C(kwokctl).
    type: path
    required: true
  apiserver_port:
    description:
      - Host port of the kube-apiserver.
      - Starting a cluster fails if the port lies in the host's ephemeral port range
        (C(net.ipv4.ip_local_port_range)) without being reserved, where outgoing connections can take it.
      - An existing cluster keeps the port it was created with; asking for another one fails with a clear
        message, since kwokctl cannot move a cluster.
    type: int
    required: true
  kubeconfig:
    description: Kubeconfig file to write (mode 0600) for the cluster.
    type: path
    required: true
  context:
    description: Name of the context, cluster and user in O(kubeconfig).
    type: str
    required: true
  extra_args:
    description: Extra component arguments, as C(component=key=value).
    type: list
    elements: str
    default: []
  timeout:
    description: Seconds to wait for the control plane to become ready.
    type: int
    default: 180
attributes:
  check_mode:
    support: full
    details: Predicts create, start, stop or delete from the state on disk and the running processes.
  diff_mode:
    support: full
    details: Shows the cluster's existence and running components before and after.
  idempotent:
    support: full
notes:
  - Build the binaries first with C(make setup) or C(hack/build-tools.sh).
"""

EXAMPLES = r"""
- name: Start the vendor domain's control plane
  hx.mlops.kwok_cluster:
    name: hx-vendor
    workdir: "{{ hx_state_dir }}/kwok"
    tools_bin: "{{ lookup('ansible.builtin.env', 'HOME') }}/.cache/hx-mlops/tools/bin"
    apiserver_port: 26441
    kubeconfig: "{{ hx_state_dir }}/vendor/kubeconfig"
    context: hx-vendor
"""

RETURN = r"""
components:
  description: Whether each control-plane component runs, after the change.
  returned: always
  type: dict
  sample: {"etcd": true, "kube-apiserver": true}
commands:
  description: The kwokctl commands run (or, in check mode, that would run).
  returned: always
  type: list
  elements: list
server:
  description: URL of the kube-apiserver.
  returned: when O(state=present)
  type: str
  sample: https://127.0.0.1:26441
"""

import os
import tempfile

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible_collections.hx.mlops.plugins.module_utils import kwok
from ansible_collections.hx.mlops.plugins.module_utils import ports

try:
    import yaml

    HAS_YAML = True
except ImportError:
    HAS_YAML = False


def _write_if_changed(path, text):
    try:
        with open(path) as f:
            if f.read() == text:
                return False
    except (IOError, OSError):
        pass
    directory = os.path.dirname(path)
    if not os.path.isdir(directory):
        os.makedirs(directory, 0o700)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".kubeconfig.")
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.chmod(tmp, 0o600)
    os.rename(tmp, path)
    return True


def main():
    module = AnsibleModule(
        argument_spec=dict(
            name=dict(type="str", required=True),
            state=dict(type="str", default="present", choices=["present", "stopped", "absent"]),
            workdir=dict(type="path", required=True),
            tools_bin=dict(type="path", required=True),
            apiserver_port=dict(type="int", required=True),
            kubeconfig=dict(type="path", required=True),
            context=dict(type="str", required=True),
            extra_args=dict(type="list", elements="str", default=[]),
            timeout=dict(type="int", default=180),
        ),
        supports_check_mode=True,
    )
    if not HAS_YAML:
        module.fail_json(msg=missing_required_lib("PyYAML"))
    p = module.params
    name, workdir = p["name"], p["workdir"]
    kwokctl = os.path.join(p["tools_bin"], "kwokctl")
    if p["state"] != "absent" or kwok.exists(workdir, name):
        missing = [b for b in ["kwokctl"] + list(kwok.BINARIES.values())
                   if not os.access(os.path.join(p["tools_bin"], b), os.X_OK)]
        if missing:
            module.fail_json(
                msg="Missing local Kubernetes binaries in %s: %s. Build them with: make setup "
                "(or hack/build-tools.sh kubernetes etcd kwok)" % (p["tools_bin"], ", ".join(missing)))

    env = {"KWOK_WORKDIR": workdir}
    exists = kwok.exists(workdir, name)
    components = kwok.pids_running(workdir, name) if exists else {}
    running = exists and all(components.values())
    before = {"exists": exists, "components": components}
    commands = []
    wait = "%ds" % p["timeout"]
    scratch = os.path.join(kwok.cluster_dir(workdir, name), "kubeconfig.kwokctl")

    if p["state"] == "present" and exists:
        with open(kwok.config_path(workdir, name)) as f:
            recorded = kwok.apiserver_port_of(yaml.safe_load_all(f))
        if recorded and recorded != p["apiserver_port"]:
            module.fail_json(
                msg="Cluster %s exists with its kube-apiserver on port %d, not on port %d as asked; kwokctl cannot "
                "move a cluster to another port. Delete it (state=absent; for the local inventory: make clean) "
                "and create it again, or ask for port %d." % (name, recorded, p["apiserver_port"], recorded))
    if p["state"] == "present" and not running:
        error = ports.ephemeral_error([p["apiserver_port"]], "cluster %s (kube-apiserver)" % name)
        if error:
            module.fail_json(msg=error)

    if p["state"] == "present":
        if not exists:
            commands.append(kwok.create_argv(kwokctl, name, p["tools_bin"], p["apiserver_port"],
                                             scratch, wait, p["extra_args"]))
        elif not running:
            commands.append(kwok.simple_argv(kwokctl, "start", name, wait))
    elif p["state"] == "stopped":
        if exists and any(components.values()):
            commands.append(kwok.simple_argv(kwokctl, "stop", name))
    elif exists:
        commands.append(kwok.simple_argv(kwokctl, "delete", name))

    changed = bool(commands)
    if not module.check_mode:
        if p["state"] == "present" and not os.path.isdir(workdir):
            os.makedirs(workdir, 0o700)
        for argv in commands:
            rc, out, err = module.run_command(argv, environ_update=env)
            if rc != 0:
                module.fail_json(msg="%s failed (rc=%d): %s" % (" ".join(argv[:3]), rc, err or out),
                                 commands=commands, stdout=out, stderr=err)

    result = dict(changed=changed, commands=commands)
    if p["state"] == "present":
        result["server"] = "https://127.0.0.1:%d" % p["apiserver_port"]
        if not module.check_mode:
            rc, out, err = module.run_command([kwokctl, "get", "kubeconfig", "--name", name], environ_update=env)
            if rc != 0:
                module.fail_json(msg="kwokctl get kubeconfig failed: %s" % err, commands=commands)
            config = kwok.rename_kubeconfig(yaml.safe_load(out), p["context"])
            text = yaml.safe_dump(config, default_flow_style=False, sort_keys=True)
            result["changed"] = _write_if_changed(p["kubeconfig"], text) or result["changed"]
        elif not os.path.exists(p["kubeconfig"]):
            result["changed"] = True
    elif os.path.exists(p["kubeconfig"]):
        result["changed"] = True
        if not module.check_mode:
            os.remove(p["kubeconfig"])

    after_exists = p["state"] != "absent" and (exists or p["state"] == "present")
    after = kwok.pids_running(workdir, name) if (after_exists and not module.check_mode) else {
        c: p["state"] == "present" for c in kwok.BINARIES} if after_exists else {}
    result["components"] = after
    result["diff"] = dict(before=before, after={"exists": after_exists, "components": after})
    module.exit_json(**result)


if __name__ == "__main__":
    main()
