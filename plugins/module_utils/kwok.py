# -*- coding: utf-8 -*-
# Copyright: HX-MLOps contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure helpers for the local (kwok) cluster flavor: kwokctl command lines,
cluster state on disk and kubeconfig rewriting."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

# Component name -> binary name in the tools directory.
BINARIES = {
    "etcd": "etcd",
    "kube-apiserver": "kube-apiserver",
    "kube-controller-manager": "kube-controller-manager",
    "kube-scheduler": "kube-scheduler",
    "kwok-controller": "kwok",
}


def cluster_dir(workdir, name):
    return os.path.join(workdir, "clusters", name)


def exists(workdir, name):
    return os.path.isfile(config_path(workdir, name))


def config_path(workdir, name):
    return os.path.join(cluster_dir(workdir, name), "kwok.yaml")


def apiserver_port_of(documents):
    """The kube-apiserver port recorded in a cluster's kwok.yaml (its parsed YAML documents), or None."""
    for doc in documents:
        if isinstance(doc, dict) and doc.get("kind") == "KwokctlConfiguration":
            return (doc.get("options") or {}).get("kubeApiserverPort")
    return None


def pids_running(workdir, name):
    """Map component -> running? from kwokctl's pid files (binary runtime)."""
    pid_dir = os.path.join(cluster_dir(workdir, name), "pids")
    result = {}
    for component in BINARIES:
        path = os.path.join(pid_dir, component + ".pid")
        try:
            with open(path) as f:
                pid = int(f.read().strip())
        except (IOError, OSError, ValueError):
            result[component] = False
            continue
        result[component] = _alive(pid)
    return result


def _alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except (IOError, OSError):
        return False
    return state != "Z"


def create_argv(kwokctl, name, tools_bin, apiserver_port, scratch_kubeconfig, wait="120s", extra_args=None):
    argv = [
        kwokctl, "create", "cluster",
        "--name", name,
        "--runtime", "binary",
        "--kube-apiserver-port", str(apiserver_port),
        "--kubeconfig", scratch_kubeconfig,
        "--wait", wait,
    ]
    for component, binary in sorted(BINARIES.items()):
        argv += ["--%s-binary" % component, os.path.join(tools_bin, binary)]
    for item in extra_args or []:
        argv += ["--extra-args", item]
    return argv


def simple_argv(kwokctl, verb, name, wait=None):
    argv = [kwokctl, verb, "cluster", "--name", name]
    if wait:
        argv += ["--wait", wait]
    return argv


def rename_kubeconfig(config, context):
    """Rename cluster, user and context of a single-context kubeconfig to ``context``."""
    config = dict(config)
    for key in ("clusters", "users", "contexts"):
        items = config.get(key) or []
        if len(items) != 1:
            raise ValueError("expected one entry in %s, found %d" % (key, len(items)))
    cluster = dict(config["clusters"][0], name=context)
    user = dict(config["users"][0], name=context)
    ctx = dict(config["contexts"][0], name=context)
    ctx["context"] = dict(ctx.get("context") or {}, cluster=context, user=context)
    config.update(clusters=[cluster], users=[user], contexts=[ctx])
    config["current-context"] = context
    return config
