# -*- coding: utf-8 -*-
# Copyright: HX-MLOps contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure helpers for the microk8s flavor: command lines (as argument lists), parsers for
what the microk8s CLI prints, and the decisions "would this change anything?".

Nothing here runs a process: the module passes a ``run`` callable (``argv -> (rc, out, err)``)
so the unit tests can drive every path with recorded outputs.

Formats parsed (from the microk8s CLI):

* ``microk8s status --format yaml``::

      microk8s:
        running: True
      high-availability:
        enabled: False
      addons:
        - name: dns
          repository: core
          description: CoreDNS
          version: 1.10.1
          status: enabled

  It is printed line by line by microk8s (not by a YAML library), so it is parsed line by
  line here too, which also keeps PyYAML off the managed host. Older releases omit
  ``high-availability`` and ``repository``; both are optional.
* ``microk8s status`` on a worker node: ``This MicroK8s deployment is acting as a node in a
  cluster.`` (exit code 1).
* ``microk8s add-node --format short``: one ``microk8s join <ip>:<port>/<token>/<check>`` per
  address, the default route's address first.
* ``microk8s join``: ``Contacting cluster at <ip>`` and, for workers, ``The node has joined
  the cluster ...``; failures end with ``(<http status>).``.
* ``microk8s enable|disable``: ``Addon <repo>/<name> is already enabled|disabled``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import re

OPERATIONS = ("status", "addon", "add_node", "join", "leave", "remove_node")

WORKER_LOCKED_MARKER = "acting as a node in a cluster"
NOT_RUNNING_MARKER = "microk8s is not running"
ALREADY_RE = re.compile(r"^Addon (?:(?P<repo>[\w.-]+)/)?(?P<name>[\w.-]+) is already (?P<state>enabled|disabled)\s*$", re.M)
JOIN_LINE_RE = re.compile(
    r"^microk8s join (?P<url>(?P<address>[^\s/]+):(?P<port>\d+)/(?P<token>[0-9a-fA-F]+)/(?P<check>[0-9a-fA-F]+))"
    r"(?P<flags>(?: --\S+)*)\s*$"
)
JOIN_URL_RE = re.compile(r"^(?P<address>[^\s/]+):(?P<port>\d+)/(?P<token>[0-9a-fA-F]{32,})(?:/(?P<check>[0-9a-fA-F]{12,}))?$")
CONTACT_RE = re.compile(r"^Contacting cluster at (?P<address>\S+)\s*$", re.M)
HTTP_ERROR_RE = re.compile(r"^(?P<message>.*)\((?P<status>\d{3})\)\.\s*$", re.M)
ADDON_NAME_RE = re.compile(r"^(?:[a-z0-9][a-z0-9-]*/)?[a-z0-9][a-z0-9-]*$")
NODE_NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")

# Files microk8s itself writes, relative to $SNAP_DATA (/var/snap/microk8s/current).
WORKER_LOCK = "var/lock/clustered.lock"
DQLITE_CLUSTER = "var/kubernetes/backend/cluster.yaml"


class Microk8sError(Exception):
    """A microk8s command failed or printed something we do not understand."""

    def __init__(self, msg, **result):
        super(Microk8sError, self).__init__(msg)
        self.result = result


# --- command lines -------------------------------------------------------------------------

def status_cmd(binary, wait_ready=False, timeout=0):
    cmd = [binary, "status", "--format", "yaml"]
    if wait_ready:
        cmd.append("--wait-ready")
        if timeout:
            cmd.extend(["--timeout", str(int(timeout))])
    return cmd


def addon_cmd(binary, name, state, args=None):
    """``microk8s enable NAME [ARGS...]`` or ``microk8s disable NAME [ARGS...]``."""
    if state not in ("enabled", "disabled"):
        raise ValueError("state must be enabled or disabled, got %r" % (state,))
    verb = "enable" if state == "enabled" else "disable"
    return [binary, verb, name] + [str(a) for a in (args or [])]


def add_node_cmd(binary, token=None, token_ttl=None):
    cmd = [binary, "add-node", "--format", "short"]
    if token:
        cmd.extend(["--token", token])
    if token_ttl is not None:
        cmd.extend(["--token-ttl", str(int(token_ttl))])
    return cmd


def join_cmd(binary, url, worker=False, skip_verify=False):
    cmd = [binary, "join", url]
    if worker:
        cmd.append("--worker")
    if skip_verify:
        cmd.append("--skip-verify")
    return cmd


def leave_cmd(binary):
    return [binary, "leave"]


def remove_node_cmd(binary, node, force=False):
    cmd = [binary, "remove-node", node]
    if force:
        cmd.append("--force")
    return cmd


def nodes_cmd(binary):
    return [binary, "kubectl", "get", "nodes", "-o", "json"]


# --- parsers -------------------------------------------------------------------------------

def _scalar(value):
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        value = value[1:-1]
    low = value.lower()
    if low == "true":
        return True
    if low == "false":
        return False
    return value


def is_worker_locked(text):
    return WORKER_LOCKED_MARKER in (text or "")


def parse_status(text):
    """Parse ``microk8s status --format yaml``.

    Returns ``{"running": bool, "message": str|None, "worker": bool,
    "high_availability": {"enabled": bool, "nodes": [{"address", "role"}]},
    "addons": {name: {"name", "repository", "description", "version", "status"}}}``.
    """
    result = {
        "running": False,
        "message": None,
        "worker": False,
        "high_availability": {"enabled": False, "nodes": []},
        "addons": {},
    }
    text = text or ""
    if is_worker_locked(text):
        result["worker"] = True
        result["message"] = " ".join(line.strip() for line in text.strip().splitlines())
        return result

    section = None
    current = None
    seen_header = False
    for raw in text.splitlines():
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        indent = len(raw) - len(raw.lstrip(" "))
        line = raw.strip()
        if indent == 0:
            if not line.endswith(":"):
                raise Microk8sError("unexpected top-level line in microk8s status output: %r" % line)
            section = line[:-1]
            seen_header = seen_header or section == "microk8s"
            current = None
            continue
        if line.startswith("message:"):
            # printed under whichever block came last when microk8s is not running
            result["message"] = line.partition(":")[2].strip()
            continue
        if section == "microk8s":
            key, _sep, value = line.partition(":")
            if key == "running":
                result["running"] = _scalar(value) is True
            elif key == "message":
                result["message"] = value.strip()
        elif section == "high-availability":
            if line.startswith("- "):
                current = {}
                result["high_availability"]["nodes"].append(current)
                line = line[2:]
            key, _sep, value = line.partition(":")
            if key == "enabled":
                result["high_availability"]["enabled"] = _scalar(value) is True
            elif key in ("address", "role") and current is not None:
                current[key] = _scalar(value)
        elif section == "addons":
            if line.startswith("- "):
                current = {"repository": None}
                line = line[2:]
                key, _sep, value = line.partition(":")
                current[key.strip()] = _scalar(value)
                if "name" in current:
                    result["addons"][current["name"]] = current
                continue
            key, _sep, value = line.partition(":")
            if current is None:
                # ``microk8s status --yaml`` (deprecated short form): "  dns: enabled"
                result["addons"][key.strip()] = {
                    "name": key.strip(), "repository": None, "status": _scalar(value)}
                continue
            current[key.strip()] = _scalar(value)
            if key.strip() == "name":
                result["addons"][current["name"]] = current
    if not seen_header:
        raise Microk8sError("output is not microk8s status --format yaml: %r" % text[:200])
    for addon in result["addons"].values():
        if isinstance(addon.get("version"), bool):
            addon["version"] = str(addon["version"]).lower()
    return result


def addon_state(status, name):
    """``enabled``/``disabled``/None for NAME (``repo/name`` accepted) in a parsed status."""
    repo, _sep, short = name.rpartition("/")
    addon = status["addons"].get(short)
    if addon is None:
        return None
    if repo and addon.get("repository") and addon["repository"] != repo:
        return None
    return addon.get("status")


def parse_add_node(text):
    """Parse ``microk8s add-node --format short``.

    Returns ``{"token": "<token>/<check>", "urls": [...], "url": <first url>,
    "addresses": [...], "port": int}``.
    """
    urls, addresses, token, port = [], [], None, None
    for raw in (text or "").splitlines():
        line = raw.strip()
        if not line:
            continue
        m = JOIN_LINE_RE.match(line)
        if not m:
            raise Microk8sError("unexpected line in microk8s add-node output: %r" % line)
        this_token = "%s/%s" % (m.group("token"), m.group("check"))
        if token is not None and this_token != token:
            raise Microk8sError("microk8s add-node printed two different tokens")
        token = this_token
        port = int(m.group("port"))
        urls.append(m.group("url"))
        addresses.append(m.group("address"))
    if not urls:
        raise Microk8sError("microk8s add-node printed no join command: %r" % (text or "")[:200])
    return {"token": token, "urls": urls, "url": urls[0], "addresses": addresses, "port": port}


def pick_join_url(add_node, prefer_address=None):
    """The URL to join through: the one on PREFER_ADDRESS when it is offered, else the first."""
    if prefer_address:
        for url, address in zip(add_node["urls"], add_node["addresses"]):
            if address == prefer_address:
                return url
    return add_node["url"]


def validate_join_url(url):
    if not url or not JOIN_URL_RE.match(url):
        raise Microk8sError(
            "join_url must look like <address>:<port>/<token>/<check> "
            "(what microk8s add-node --format short prints after 'microk8s join')")
    return url


def parse_join(text, rc=0):
    """Parse ``microk8s join`` output: ``{"joined", "worker", "address", "error", "http_status", "already_member"}``."""
    text = text or ""
    contact = CONTACT_RE.search(text)
    result = {
        "joined": rc == 0,
        "worker": "The node has joined the cluster" in text,
        "address": contact.group("address") if contact else None,
        "error": None,
        "http_status": None,
        "already_member": False,
    }
    if rc != 0:
        err = HTTP_ERROR_RE.search(text)
        if err:
            result["error"] = err.group("message").strip()
            result["http_status"] = int(err.group("status"))
        else:
            lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
            result["error"] = lines[-1] if lines else "microk8s join failed with rc=%d" % rc
        result["already_member"] = "already known to dqlite" in text
    return result


def parse_addon_output(text):
    """``{"already": bool, "state": "enabled"|"disabled"|None}`` from enable/disable output."""
    m = ALREADY_RE.search(text or "")
    if m:
        return {"already": True, "state": m.group("state")}
    return {"already": False, "state": None}


def parse_nodes(text):
    """Node names and roles from ``microk8s kubectl get nodes -o json``."""
    try:
        data = json.loads(text or "")
    except ValueError:
        raise Microk8sError("kubectl get nodes did not print JSON: %r" % (text or "")[:200])
    nodes = []
    for item in data.get("items", []):
        meta = item.get("metadata", {})
        ready = any(c.get("type") == "Ready" and c.get("status") == "True"
                    for c in item.get("status", {}).get("conditions", []))
        nodes.append({"name": meta.get("name"), "labels": meta.get("labels", {}), "ready": ready})
    return nodes


# --- local membership (files microk8s writes) ------------------------------------------------

def membership(snap_data):
    """How this node belongs to a cluster, from the files microk8s itself maintains.

    * ``worker``: ``$SNAP_DATA/var/lock/clustered.lock`` exists (written by ``join --worker``);
    * ``control_plane_peers``: number of dqlite members in
      ``$SNAP_DATA/var/kubernetes/backend/cluster.yaml`` (1 when alone).
    """
    worker = os.path.exists(os.path.join(snap_data, WORKER_LOCK))
    peers = 0
    path = os.path.join(snap_data, DQLITE_CLUSTER)
    try:
        with open(path) as f:
            peers = sum(1 for line in f if re.match(r"^\s*-\s*Address:", line))
    except (IOError, OSError):
        peers = 0
    return {"worker": worker, "control_plane_peers": peers, "joined": worker or peers > 1}


# --- decisions -------------------------------------------------------------------------------

def validate_addon_name(name):
    if not name or not ADDON_NAME_RE.match(name):
        raise Microk8sError(
            "addon %r is not a valid addon name (lower-case letters, digits and '-', "
            "optionally prefixed with '<repository>/', e.g. dns or core/dns)" % (name,))
    return name


def validate_node_name(name):
    if not name or not NODE_NAME_RE.match(name):
        raise Microk8sError("node %r is not a valid Kubernetes node name (RFC 1123 subdomain)" % (name,))
    return name


def addon_needs_change(status, name, state):
    """True/False; raises when the addon is unknown to this microk8s."""
    current = addon_state(status, name)
    if current is None:
        raise Microk8sError(
            "addon %r is not available on this node; available: %s"
            % (name, ", ".join(sorted(status["addons"])) or "none (is microk8s running?)"))
    return current != state


def run_status(run, binary, wait_ready=False, timeout=0):
    cmd = status_cmd(binary, wait_ready, timeout)
    rc, out, err = run(cmd)
    if is_worker_locked(out) or is_worker_locked(err):
        return cmd, parse_status(out + err)
    if rc != 0:
        raise Microk8sError("microk8s status failed (rc=%d): %s" % (rc, (err or out).strip()),
                            cmd=cmd, rc=rc, stdout=out, stderr=err)
    return cmd, parse_status(out)
