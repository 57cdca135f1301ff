#!/usr/bin/env python3
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, HX-MLOps maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Whole-domain catalog: `ansible-playbook playbooks/components.yml` vs sequential bare helm.

In one run, on one domain of the local clusters, in two fresh namespaces:
  A. ansible-playbook playbooks/components.yml --limit <domain>   (dependency levels, parallel)
  B. the same charts with the same values, one `helm upgrade --install --wait` after the other
     in dependency order (what a shell script would do)
first run (everything installed) and no-op re-run (nothing to do), then prints
  first-run ratio  = A_first / B_first   (target <= 0.5)
  no-op ratio      = A_noop  / B_noop    (target <= 0.3)
Both sides wait for Ready (--wait) and use the same timeout. Everything is removed at the end.

  .venv/bin/python bench/catalog_bench.py [--domain mno-staging] [--keep]
"""

from __future__ import absolute_import, division, print_function

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(ROOT, "collections"))

from ansible_collections.hx.mlops.plugins.module_utils import catalog  # noqa: E402

TOOLS_BIN = os.path.expanduser(os.environ.get("HX_TOOLS_DIR", "~/.cache/hx-mlops/tools") + "/bin")
HELM = os.path.join(TOOLS_BIN, "helm")
KUBECONFIG = os.path.join(ROOT, "inventories", "local", ".state", "kubeconfig")
MODULES = ["postgres", "timescaledb", "minio", "pgadmin", "kubeflow_pipelines", "mlflow", "torchserve",
           "tfserving", "prometheus", "kepler", "scaphandre", "grafana"]
# Same values on both sides, small volumes. Passwords: the role generates them into Secrets
# (auth.existingSecret); the bare side gets the same passwords as values, as a script would.
COMMON = {
    "postgres": {"persistence": {"size": "1Gi"}},
    "timescaledb": {"persistence": {"size": "1Gi"}},
    "minio": {"persistence": {"size": "1Gi"}},
    "pgadmin": {"persistence": {"size": "1Gi"}},
    "prometheus": {"persistence": {"size": "1Gi"}},
    "grafana": {"persistence": {"size": "1Gi"}},
}
PASSWORDS = {
    "postgres": {"auth": {"password": "bench-pg"}},
    "timescaledb": {"auth": {"password": "bench-ts"}},
    "minio": {"auth": {"rootPassword": "bench-minio"}},
    "pgadmin": {"auth": {"password": "bench-pga"}},
    "grafana": {"auth": {"adminPassword": "bench-graf"}},
}


def env():
    e = dict(os.environ)
    e["PATH"] = os.pathsep.join([os.path.join(ROOT, ".venv", "bin"), TOOLS_BIN, e.get("PATH", "")])
    e["ANSIBLE_CONFIG"] = os.path.join(ROOT, "ansible.cfg")
    return e


def timed(cmd, **kw):
    t0 = time.monotonic()
    proc = subprocess.run(cmd, cwd=ROOT, env=env(), capture_output=True, text=True, **kw)
    dt = time.monotonic() - t0
    if proc.returncode != 0:
        sys.stderr.write("command failed: %s\n%s\n%s\n" % (" ".join(cmd), proc.stdout[-4000:], proc.stderr[-4000:]))
        raise SystemExit(1)
    return dt, proc.stdout


def run_playbook(domain, namespace, creds_dir, timeout):
    extra = {
        "catalog_components": [{"name": n, "values": COMMON.get(n, {})} for n in MODULES],
        "catalog_namespace": namespace,
        "catalog_timeout": timeout,
        "catalog_credentials_dir": creds_dir,
    }
    return timed([os.path.join(ROOT, ".venv", "bin", "ansible-playbook"), "playbooks/components.yml",
                  "-i", "inventories/local", "--limit", domain, "-e", json.dumps(extra)])


def run_bare(context, namespace, workdir, timeout):
    """Sequential `helm upgrade --install --wait`, dependency order, same charts and values."""
    total = 0.0
    order = [n for level in catalog.dependency_levels(MODULES) for n in level]
    for name in order:
        values = dict(COMMON.get(name, {}), **PASSWORDS.get(name, {}))
        vf = os.path.join(workdir, "%s.json" % name)
        with open(vf, "w") as fh:
            json.dump(values, fh)
        os.chmod(vf, 0o600)
        dt, _out = timed([HELM, "upgrade", "--install", catalog.default_release(name),
                          catalog.chart_path(os.path.join(ROOT, "charts"), name), "--namespace", namespace,
                          "--create-namespace", "--values", vf, "--wait", "--timeout", "%ss" % timeout,
                          "--kubeconfig", KUBECONFIG, "--kube-context", context])
        total += dt
    return total


def cleanup(context, namespaces):
    for ns in namespaces:
        proc = subprocess.run([HELM, "list", "-n", ns, "-q", "--kubeconfig", KUBECONFIG, "--kube-context", context],
                              capture_output=True, text=True)
        for rel in proc.stdout.split():
            subprocess.run([HELM, "uninstall", rel, "-n", ns, "--kubeconfig", KUBECONFIG, "--kube-context", context],
                           capture_output=True)
        subprocess.run(["kubectl", "--kubeconfig", KUBECONFIG, "--context", context, "delete", "namespace", ns,
                        "--wait=false", "--ignore-not-found"], capture_output=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--domain", default="mno-staging", help="inventory host of inventories/local")
    ap.add_argument("--timeout", type=int, default=300)
    ap.add_argument("--keep", action="store_true", help="keep the releases (debugging)")
    args = ap.parse_args()
    if not os.path.isfile(KUBECONFIG):
        sys.exit("local clusters are not up (%s missing): ansible-playbook playbooks/cluster.yml -i inventories/local"
                 % KUBECONFIG)
    context = "hx-%s" % args.domain
    tag = uuid.uuid4().hex[:6]
    ns_play, ns_bare = "hxb-play-%s" % tag, "hxb-bare-%s" % tag
    workdir = tempfile.mkdtemp(prefix="hx-bench-")
    os.chmod(workdir, 0o700)
    try:
        print("catalog bench: %d charts on %s (namespaces %s, %s)" % (len(MODULES), context, ns_bare, ns_play))
        bare_first = run_bare(context, ns_bare, workdir, args.timeout)
        print("  bare helm, first run     : %7.2f s" % bare_first)
        play_first, _ = run_playbook(args.domain, ns_play, os.path.join(workdir, "creds"), args.timeout)
        print("  components.yml, first run: %7.2f s" % play_first)
        bare_noop = run_bare(context, ns_bare, workdir, args.timeout)
        print("  bare helm, no-op re-run  : %7.2f s" % bare_noop)
        play_noop, out = run_playbook(args.domain, ns_play, os.path.join(workdir, "creds"), args.timeout)
        print("  components.yml, no-op    : %7.2f s" % play_noop)
        recap = [ln for ln in out.splitlines() if ln.startswith(args.domain) and "changed=" in ln]
        if recap:
            print("  no-op recap: %s" % recap[-1].strip())
        first_ratio = play_first / bare_first
        noop_ratio = play_noop / bare_noop
        print("first-run ratio (components.yml / bare helm): %.2fx  (target <= 0.50)" % first_ratio)
        print("no-op ratio     (components.yml / bare helm): %.2fx  (target <= 0.30)" % noop_ratio)
    finally:
        if not args.keep:
            cleanup(context, [ns_play, ns_bare])
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
