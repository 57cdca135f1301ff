#!/usr/bin/env python3
# -*- coding: utf-8 -*-
"""Test double of the microk8s CLI for Molecule (installed as /snap/bin/microk8s).

snapd cannot run in an unprivileged container, so the real snap cannot be installed here.
This stand-in keeps the state microk8s keeps (in the same $SNAP_DATA files the module reads:
var/lock/clustered.lock, var/kubernetes/backend/cluster.yaml, credentials/cluster-tokens.txt)
and prints what microk8s prints (same formats as the unit-test fixtures), so the role and the
module run unchanged against it. Every call is appended to $SNAP_COMMON/hx-stub-calls.log so
the scenario can verify exactly which commands ran (and that a second run ran none that change).
"""

import json
import os
import re
import secrets
import socket
import subprocess
import sys

SNAP_DATA = os.environ.get("HX_STUB_SNAP_DATA", "/var/snap/microk8s/current")
SNAP_COMMON = os.environ.get("HX_STUB_SNAP_COMMON", "/var/snap/microk8s/common")
STATE = os.path.join(SNAP_COMMON, "hx-stub-state.json")
CALLS = os.path.join(SNAP_COMMON, "hx-stub-calls.log")
LOCK = os.path.join(SNAP_DATA, "var/lock/clustered.lock")
CLUSTER_YAML = os.path.join(SNAP_DATA, "var/kubernetes/backend/cluster.yaml")
TOKENS = os.path.join(SNAP_DATA, "credentials/cluster-tokens.txt")

ADDONS = [
    ("cert-manager", "Cloud native certificate management", "1.8.0"),
    ("dashboard", "The Kubernetes dashboard", "2.7.0"),
    ("dns", "CoreDNS", "1.10.1"),
    ("ha-cluster", "Configure high availability on the current node", "0.1.0"),
    ("helm", "Helm - the package manager for Kubernetes", "3.9.1"),
    ("helm3", "Helm 3 - the package manager for Kubernetes", "3.9.1"),
    ("hostpath-storage", "Storage class; allocates storage from host directory", "1.1.0"),
    ("ingress", "Ingress controller for external access", "1.8.0"),
    ("metrics-server", "K8s Metrics Server for API access to service metrics", "0.6.3"),
    ("rbac", "Role-Based Access Control for authorisation", ""),
    ("registry", "Private image registry exposed on localhost:32000", "2.8.1"),
]
DEFAULT_ENABLED = ["dns", "ha-cluster", "helm", "helm3"]


def load():
    try:
        with open(STATE) as f:
            return json.load(f)
    except (IOError, OSError, ValueError):
        return {"enabled": list(DEFAULT_ENABLED), "nodes": [socket.gethostname().lower()]}


def save(state):
    os.makedirs(SNAP_COMMON, exist_ok=True)
    with open(STATE, "w") as f:
        json.dump(state, f)


def ips():
    out = subprocess.run(["hostname", "-I"], stdout=subprocess.PIPE, universal_newlines=True).stdout.split()
    return out or ["127.0.0.1"]


def worker_locked():
    if os.path.exists(LOCK):
        print("This MicroK8s deployment is acting as a node in a cluster.")
        print("Please use the master node.")
        sys.exit(1)


def status(args):
    worker_locked()
    state = load()
    ha = "ha-cluster" in state["enabled"]
    print("microk8s:")
    print("  running: True")
    print("high-availability:")
    print("  enabled: %s" % ha)
    if ha:
        print("  nodes:")
        print("    - address: %s:19001" % ips()[0])
        print("      role: voter")
    print("addons:")
    for wanted in ("enabled", "disabled"):
        for name, desc, ver in ADDONS:
            if (name in state["enabled"]) != (wanted == "enabled"):
                continue
            print("  - name: %s" % name)
            print("    repository: core")
            print("    description: %s" % desc)
            print("    version: %s" % ver)
            print("    status: %s" % wanted)


def xable(verb, args):
    worker_locked()
    state = load()
    name = args[0].split("/")[-1]
    if name not in [a[0] for a in ADDONS]:
        sys.stderr.write("Addon %s was not found in any repository\n" % name)
        sys.exit(1)
    sys.stderr.write("Infer repository core for addon %s\n" % name)
    on = name in state["enabled"]
    if (verb == "enable") == on:
        print("Addon core/%s is already %sd" % (name, verb))
        return
    if verb == "enable":
        state["enabled"].append(name)
        print("Enabling %s" % name)
        print("%s is enabled" % name)
    else:
        state["enabled"].remove(name)
        print("Disabling %s" % name)
        print("%s is disabled" % name)
    save(state)


def add_node(args):
    worker_locked()
    token = secrets.token_hex(16)
    if "--token" in args:
        token = args[args.index("--token") + 1]
    os.makedirs(os.path.dirname(TOKENS), exist_ok=True)
    with open(TOKENS, "a") as f:
        f.write(token + "\n")
    check = "9d2f1b0e6c4a"
    for ip in ips():
        print("microk8s join %s:25000/%s/%s" % (ip, token, check))


def join(args):
    url = args[0]
    if not re.match(r"^[^\s/]+:\d+/[0-9a-f]{32}/[0-9a-f]{12}$", url):
        print("Connection failed. Invalid token (500).")
        sys.exit(6)
    master = url.split(":")[0]
    print("Contacting cluster at %s" % master)
    if "--worker" in args:
        os.makedirs(os.path.dirname(LOCK), exist_ok=True)
        open(LOCK, "w").close()
        print("")
        print("The node has joined the cluster and will appear in the nodes list in a few seconds.")
        print("")
    else:
        os.makedirs(os.path.dirname(CLUSTER_YAML), exist_ok=True)
        with open(CLUSTER_YAML, "w") as f:
            f.write("- Address: %s:19001\n  ID: 1\n  Role: 0\n- Address: %s:19001\n  ID: 2\n  Role: 0\n"
                    % (master, ips()[0]))
        print("Waiting for this node to finish joining the cluster. .. ")


def leave(args):
    for path in (LOCK, CLUSTER_YAML):
        if os.path.exists(path):
            os.remove(path)
    print("Generating new cluster certificates.")
    print("Waiting for node to start.")


def remove_node(args):
    state = load()
    if args[0] in state["nodes"]:
        state["nodes"].remove(args[0])
        save(state)
    else:
        print("Node %s does not exist in Kubernetes." % args[0])
        sys.exit(1)


def kubectl(args):
    if args[:2] == ["get", "nodes"]:
        state = load()
        items = [{"apiVersion": "v1", "kind": "Node",
                  "metadata": {"name": n, "labels": {"kubernetes.io/hostname": n}},
                  "status": {"conditions": [{"type": "Ready", "status": "True"}]}} for n in state["nodes"]]
        print(json.dumps({"apiVersion": "v1", "kind": "List", "items": items}, indent=4))
        return
    sys.stderr.write("stub: unsupported kubectl call %r\n" % args)
    sys.exit(2)


def config(args):
    worker_locked()
    print("""apiVersion: v1
clusters:
- cluster:
    certificate-authority-data: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tClRFU1QtRE9VQkxFCi0tLS0tRU5EIENFUlRJRklDQVRFLS0tLS0K
    server: https://%s:16443
  name: microk8s-cluster
contexts:
- context:
    cluster: microk8s-cluster
    user: admin
  name: microk8s
current-context: microk8s
kind: Config
preferences: {}
users:
- name: admin
  user:
    client-certificate-data: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tClRFU1QtQ0xJRU5UCi0tLS0tRU5EIENFUlRJRklDQVRFLS0tLS0K
    client-key-data: LS0tLS1CRUdJTiBQUklWQVRFIEtFWS0tLS0tClRFU1QtS0VZCi0tLS0tRU5EIFBSSVZBVEUgS0VZLS0tLS0K""" % ips()[0])


COMMANDS = {
    "status": status, "enable": lambda a: xable("enable", a), "disable": lambda a: xable("disable", a),
    "add-node": add_node, "join": join, "leave": leave, "remove-node": remove_node,
    "kubectl": kubectl, "config": config,
}

if __name__ == "__main__":
    os.makedirs(SNAP_COMMON, exist_ok=True)
    with open(CALLS, "a") as f:
        f.write(" ".join(sys.argv[1:]) + "\n")
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        sys.stderr.write("stub: unsupported microk8s call %r\n" % sys.argv[1:])
        sys.exit(2)
    COMMANDS[sys.argv[1]](sys.argv[2:])
