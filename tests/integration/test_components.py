# -*- coding: utf-8 -*-
# Copyright: (c) 2026, HX-MLOps maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Integration tests of hx.mlops.component / component_info against the local cluster.

For EVERY catalog chart, in a namespace of its own:
  check mode (predicts a change, cluster untouched) -> apply (changed, Ready) -> check mode
  (no change) -> apply (no change) -> values change (changed, diff shown) -> status (Ready)
  -> delete (gone) -> delete again (no change).
Plus the errors: unknown module, wrong category, schema violation, unreachable cluster.

Needs the local clusters (`ansible-playbook playbooks/cluster.yml -i inventories/local`):
the merged kubeconfig inventories/local/.state/kubeconfig. Modules run through `ansible`
ad-hoc with the json callback, exactly as users call them.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import subprocess
import sys
import uuid

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
KUBECONFIG = os.environ.get("HX_TEST_KUBECONFIG", os.path.join(ROOT, "inventories", "local", ".state", "kubeconfig"))
CONTEXT = os.environ.get("HX_TEST_CONTEXT", "hx-vendor")
TOOLS_BIN = os.path.expanduser(os.environ.get("HX_TOOLS_DIR", "~/.cache/hx-mlops/tools") + "/bin")
HELM = os.path.join(TOOLS_BIN, "helm")
TIMEOUT = 180



@pytest.fixture(autouse=True, scope="module")
def _clusters_up():
    """A missing cluster fails loudly with the command that brings it up; it never skips."""
    if not os.path.isfile(KUBECONFIG):
        pytest.fail("local clusters not up (no %s): run `ansible-playbook playbooks/cluster.yml -i inventories/local`"
                    " (make integration does it)" % KUBECONFIG)

SHA = "0" * 64
# Values of each chart for the test: minimal, plus what a domain must give (passwords, model).
VALUES = {
    "postgres": {"auth": {"password": "pg-test-pw"}, "persistence": {"size": "1Gi"}},
    "timescaledb": {"auth": {"password": "ts-test-pw"}, "persistence": {"size": "1Gi"}},
    "minio": {"auth": {"rootPassword": "minio-test-pw"}, "persistence": {"size": "1Gi"}},
    "pgadmin": {"auth": {"password": "pga-test-pw"}},
    "kubeflow_pipelines": {},
    "mlflow": {"backendStore": {"host": "postgres"}, "artifacts": {"endpoint": "http://minio:9000", "bucket": "mlflow"}},
    "torchserve": {"model": {"source": "minio", "name": "qoe", "fileName": "qoe.mar", "sha256": SHA,
                             "minio": {"endpoint": "http://minio:9000", "object": "qoe/1/qoe.mar",
                                       "existingSecret": "minio-auth"}}},
    "tfserving": {"model": {"source": "modelsharing", "name": "qoe", "fileName": "qoe.tar.gz", "sha256": SHA,
                            "version": "1", "modelsharing": {"url": "http://modelsharing:8000", "modelId": 1,
                                                             "tokenSecret": "modelsharing-token"}}},
    "prometheus": {"persistence": {"size": "1Gi"}},
    "kepler": {},
    "scaphandre": {},
    "grafana": {"auth": {"adminPassword": "graf-test-pw"}},
}
# The change applied in step 5 (a visible, schema-valid values change).
CHANGE = {"resources": {"limits": {"memory": "768Mi"}}}

CHARTS = sorted(VALUES)


def env():
    e = dict(os.environ)
    e["PATH"] = os.pathsep.join([os.path.join(ROOT, ".venv", "bin"), TOOLS_BIN, e.get("PATH", "")])
    e["ANSIBLE_CONFIG"] = os.path.join(ROOT, "ansible.cfg")
    e["ANSIBLE_STDOUT_CALLBACK"] = "ansible.builtin.json"
    e["ANSIBLE_LOAD_CALLBACK_PLUGINS"] = "1"
    e["HX_MLOPS_CHARTS_PATH"] = os.path.join(ROOT, "charts")
    return e


def ansible(module, args, check=False, diff=False, kubeconfig=KUBECONFIG, context=CONTEXT, extra_env=None):
    """Run one module ad hoc on localhost; return its result dict."""
    args = dict(args)
    if module != "hx.mlops.component_info" or args.get("what") == "status":
        args.setdefault("kubeconfig", kubeconfig)
        args.setdefault("context", context)
        args.setdefault("helm_binary", HELM)
    cmd = [os.path.join(ROOT, ".venv", "bin", "ansible"), "localhost", "-i", "localhost,", "-c", "local",
           "-e", "ansible_python_interpreter=%s" % sys.executable, "-m", module, "-a", json.dumps(args)]
    if check:
        cmd.append("--check")
    if diff:
        cmd.append("--diff")
    proc = subprocess.run(cmd, cwd=ROOT, env=dict(env(), **(extra_env or {})), capture_output=True, text=True,
                          timeout=TIMEOUT + 120)
    try:
        # the json callback prints one document; profile_tasks may add timing lines around it
        start = proc.stdout.index("\n{") + 1 if not proc.stdout.startswith("{") else 0
        out, _end = json.JSONDecoder().raw_decode(proc.stdout[start:])
        return out["plays"][0]["tasks"][0]["hosts"]["localhost"]
    except (ValueError, KeyError, IndexError):
        raise AssertionError("ansible %s failed to report:\nstdout: %s\nstderr: %s" % (module, proc.stdout, proc.stderr)) from None


def helm_status(release, namespace):
    return subprocess.run([HELM, "status", release, "-n", namespace, "-o", "json", "--kubeconfig", KUBECONFIG,
                           "--kube-context", CONTEXT], capture_output=True, text=True)


@pytest.fixture()
def namespace():
    ns = "hxt-%s" % uuid.uuid4().hex[:8]
    yield ns
    # clean up whatever a failed test left behind (releases; namespaces are cheap in kwok)
    proc = subprocess.run([HELM, "list", "-n", ns, "-q", "--kubeconfig", KUBECONFIG, "--kube-context", CONTEXT],
                          capture_output=True, text=True)
    for rel in proc.stdout.split():
        subprocess.run([HELM, "uninstall", rel, "-n", ns, "--kubeconfig", KUBECONFIG, "--kube-context", CONTEXT],
                       capture_output=True)
    subprocess.run(["kubectl", "--kubeconfig", KUBECONFIG, "--context", CONTEXT, "delete", "namespace", ns,
                    "--wait=false", "--ignore-not-found"], capture_output=True)


@pytest.mark.parametrize("name", CHARTS)
def test_lifecycle(name, namespace):
    base = {"name": name, "namespace": namespace, "values": VALUES[name], "wait": True, "timeout": TIMEOUT,
            "atomic": True}
    release = name.replace("_", "-")

    # 1. check mode: predicts a change, touches nothing
    res = ansible("hx.mlops.component", base, check=True, diff=True)
    assert not res.get("failed"), res.get("msg")
    assert res["changed"] is True and res["changes"]["reasons"] == ["release is not installed"]
    assert [c[1] for c in res["commands"]] == ["status", "template"]
    assert helm_status(release, namespace).returncode != 0, "check mode installed the release"

    # 2. apply: changed, Ready
    res = ansible("hx.mlops.component", base)
    assert not res.get("failed"), res.get("msg")
    assert res["changed"] is True and res["revision"] == 1 and res["status"] == "deployed"
    assert [c[1] for c in res["commands"]] == ["status", "upgrade"]
    upgrade = res["commands"][1]
    assert "--atomic" in upgrade and "--wait" in upgrade
    assert not any("test-pw" in arg for arg in upgrade), "a secret reached argv"

    # 3. check mode again: no change
    res = ansible("hx.mlops.component", base, check=True)
    assert res["changed"] is False, res.get("changes")

    # 4. apply again: no change, no new revision (the recorded input digest matches: no render);
    #    the same with a full render and manifest comparison
    res = ansible("hx.mlops.component", base)
    assert res["changed"] is False and res["revision"] == 1, res.get("changes")
    assert [c[1] for c in res["commands"]] == ["status"] and res["changes"]["method"] == "digest"
    res = ansible("hx.mlops.component", dict(base, compare="render"))
    assert res["changed"] is False and res["revision"] == 1, res.get("changes")
    assert [c[1] for c in res["commands"]] == ["status", "template"] and res["changes"]["method"] == "render"

    # 5. values change: changed, diff shows before/after
    changed = dict(base, values=dict(VALUES[name], **CHANGE))
    res = ansible("hx.mlops.component", changed, diff=True)
    assert res["changed"] is True and res["revision"] == 2
    assert res["changes"]["values_changed"] and res["changes"]["modified"]
    diff = res["diff"]
    assert "768Mi" in diff["after"] and "768Mi" not in diff["before"]
    assert "test-pw" not in diff["before"] + diff["after"], "a secret leaked into the diff"

    # 6. status: Ready
    res = ansible("hx.mlops.component_info", {"what": "status", "name": name, "namespace": namespace})
    st = res["status"]
    assert st["installed"] and st["revision"] == 2 and st["status"] == "deployed"
    assert st["workloads"], "no workload reported"
    assert st["ready"] is True, st["workloads"]

    # 7. delete: gone; deleting again changes nothing
    res = ansible("hx.mlops.component", dict(base, state="absent"))
    assert res["changed"] is True
    assert helm_status(release, namespace).returncode != 0
    res = ansible("hx.mlops.component", dict(base, state="absent"))
    assert res["changed"] is False


def test_kubeflow_pipelines_from_offline_upstream_manifests(namespace, tmp_path):
    """The upstream path: a directory of kustomize output; CRDs are installed first."""
    crd_group = "hxtest%s.example.org" % namespace.split("-")[1]
    (tmp_path / "crd.yaml").write_text("""apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.%(g)s}
spec:
  group: %(g)s
  names: {kind: Widget, plural: widgets, singular: widget}
  scope: Namespaced
  versions:
    - name: v1
      served: true
      storage: true
      schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
""" % {"g": crd_group})
    (tmp_path / "app.yaml").write_text("""apiVersion: %(g)s/v1
kind: Widget
metadata: {name: w, namespace: %(ns)s}
spec: {size: 1}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: pipeline-install-config, namespace: %(ns)s}
data: {appName: pipeline, note: "{{ not a helm template }}"}
""" % {"g": crd_group, "ns": namespace})
    args = {"name": "kubeflow_pipelines", "namespace": namespace, "manifests_dir": str(tmp_path), "timeout": TIMEOUT}
    res = ansible("hx.mlops.component", args, check=True)
    assert res["changed"] is True and helm_status("kubeflow-pipelines", namespace).returncode != 0
    res = ansible("hx.mlops.component", args)
    assert not res.get("failed"), res.get("msg")
    assert res["changed"] is True and res["status"] == "deployed"
    # the custom resource exists: its CRD was installed (and Established) first
    got = subprocess.run(["kubectl", "--kubeconfig", KUBECONFIG, "--context", CONTEXT, "get",
                          "widgets.%s" % crd_group, "w", "-n", namespace, "-o", "name"], capture_output=True, text=True)
    assert got.returncode == 0, got.stderr
    res = ansible("hx.mlops.component", args)
    assert res["changed"] is False and res["changes"]["method"] == "digest"
    res = ansible("hx.mlops.component", dict(args, compare="render"), check=True, diff=True)
    assert res["changed"] is False and res["changes"]["method"] == "render"
    assert "Widget/%s/w" % namespace in res["diff"]["after"]
    res = ansible("hx.mlops.component", dict(args, state="absent"))
    assert res["changed"] is True
    subprocess.run(["kubectl", "--kubeconfig", KUBECONFIG, "--context", CONTEXT, "delete", "crd",
                    "widgets.%s" % crd_group, "--ignore-not-found"], capture_output=True)


# --- errors ------------------------------------------------------------------------------------

def test_unknown_module_lists_valid_names():
    res = ansible("hx.mlops.component", {"name": "postgresql"}, check=True)
    assert res["failed"]
    assert "unknown catalog module 'postgresql'; valid modules: datasetsharing, grafana" in res["msg"]
    assert "kubeflow_pipelines" in res["msg"] and "postgres" in res["valid_modules"]


def test_wrong_category_names_the_right_one():
    res = ansible("hx.mlops.component", {"name": "grafana", "category": "storage"}, check=True)
    assert res["failed"]
    assert res["msg"] == ("module 'grafana' is in category 'observability', not 'storage'; "
                          "modules of 'storage': minio, pgadmin, postgres, timescaledb")


def test_invalid_category_lists_choices():
    res = ansible("hx.mlops.component", {"name": "grafana", "category": "dashboards"}, check=True)
    assert res["failed"] and "value of category must be one of: storage, ml_toolkit" in res["msg"]


@pytest.mark.parametrize("values, expected", [
    ({"service": {"type": "Ingress"}, "auth": {"password": "x"}},
     "values for 'postgres' violate the chart's values.schema.json: at '/service/type': value must be one of "
     "'ClusterIP', 'NodePort', 'LoadBalancer'"),
    ({"persistance": {"size": "1Gi"}, "auth": {"password": "x"}},
     "values for 'postgres' violate the chart's values.schema.json: at '': additional properties 'persistance' not allowed"),
    ({"auth": {"password": "x"}, "image": {"tag": 16}},
     "values for 'postgres' violate the chart's values.schema.json: at '/image/tag': got number, want string"),
    ({}, "invalid values for 'postgres': postgres: set auth.password, or auth.existingSecret"),
])
def test_schema_violation_is_named(values, expected, namespace):
    res = ansible("hx.mlops.component", {"name": "postgres", "namespace": namespace, "values": values})
    assert res["failed"]
    assert res["msg"].startswith(expected), res["msg"]
    assert helm_status("postgres", namespace).returncode != 0


def test_unreachable_cluster_is_named(tmp_path):
    kc = tmp_path / "kubeconfig"
    kc.write_text("""apiVersion: v1
kind: Config
clusters: [{name: dead, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: hx-dead, context: {cluster: dead, user: u}}, {name: hx-other, context: {cluster: dead, user: u}}]
current-context: hx-dead
""")
    res = ansible("hx.mlops.component", {"name": "postgres", "values": {"auth": {"password": "x"}}},
                  kubeconfig=str(kc), context="hx-dead")
    assert res["failed"]
    assert res["msg"].startswith("cannot reach the Kubernetes API (context 'hx-dead', kubeconfig '%s')" % kc)
    assert res["msg"].endswith("contexts in that kubeconfig: hx-dead, hx-other")
    res = ansible("hx.mlops.component", {"name": "postgres"}, kubeconfig=str(kc), context="hx-nope")
    assert res["failed"] and "cannot reach the Kubernetes API (context 'hx-nope'" in res["msg"]


def test_catalog_listing_and_values():
    res = ansible("hx.mlops.component_info", {"what": "catalog"})
    names = [m["name"] for m in res["catalog"]]
    assert set(CHARTS) <= set(names)
    assert res["categories"]["energy_measurement"] == ["kepler", "prometheus", "scaphandre"]
    res = ansible("hx.mlops.component_info", {"what": "values", "name": "minio"})
    assert res["values"]["service"]["type"] == "ClusterIP"
    res = ansible("hx.mlops.component_info", {"what": "schema", "name": "minio"})
    assert res["schema"]["additionalProperties"] is False


def test_catalog_images_for_mirroring():
    comps = [{"name": n, "values": VALUES[n]} for n in CHARTS]
    res = ansible("hx.mlops.catalog_images", {"components": comps, "registry": "mirror.local:5000",
                                              "helm_binary": HELM})
    assert not res.get("failed"), res.get("msg")
    assert "docker.io/library/postgres:16.4-bookworm" in res["images"]
    assert "docker.io/curlimages/curl:8.10.1" in res["by_component"]["torchserve"]
    assert {"source": "quay.io/minio/minio:RELEASE.2024-11-07T00-52-20Z",
            "target": "mirror.local:5000/minio/minio:RELEASE.2024-11-07T00-52-20Z"} in res["mirror"]


# --- hx.mlops.components: the live releases in one Kubernetes API read ---------------------------

def helm_cli(*args):
    proc = subprocess.run([HELM, *args, "--kubeconfig", KUBECONFIG, "--kube-context", CONTEXT],
                          capture_output=True, text=True, timeout=TIMEOUT + 60)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def by_name(res):
    assert not res.get("failed"), res.get("msg")
    return {r["name"]: r for r in res["results"]}


def test_components_noop_reads_the_releases_in_one_list(namespace, tmp_path):
    """A no-op re-run runs no `helm status` (one list of the namespace's release Secrets); an
    out-of-band upgrade or rollback, and a release without the recorded digest, are still seen."""
    vf = tmp_path / "prometheus.json"
    vf.write_text(json.dumps(VALUES["prometheus"]))
    # prometheus deployed by plain helm with the same values: no digest in its description
    helm_cli("upgrade", "--install", "prometheus", os.path.join(ROOT, "charts", "prometheus"), "-n", namespace,
             "--create-namespace", "--values", str(vf), "--wait")
    args = {"components": [{"name": "postgres", "values": VALUES["postgres"]},
                           {"name": "prometheus", "values": VALUES["prometheus"]}],
            "namespace": namespace, "timeout": TIMEOUT}
    res = ansible("hx.mlops.components", args)
    got = by_name(res)
    assert got["postgres"]["changed"] and got["postgres"]["changes"]["method"] == "install"
    assert not got["prometheus"]["changed"] and got["prometheus"]["changes"]["method"] == "render"
    assert res["list_fallbacks"] == {}
    assert sorted(c[1] for c in res["commands"]) == ["template", "upgrade"]
    calls = [(t["call"], t["release"]) for t in res["timings"]]
    assert calls[0] == ("list", namespace) and ("status", "postgres") not in calls

    # no-op: changed=false, not one helm status; prometheus (no digest) is rendered again
    res = ansible("hx.mlops.components", args)
    got = by_name(res)
    assert res["changed"] is False, [r.get("changes") for r in res["results"]]
    assert got["postgres"]["changes"]["method"] == "digest" and got["postgres"]["revision"] == 1
    assert got["prometheus"]["changes"]["method"] == "render"
    assert sorted((t["call"], t["release"]) for t in res["timings"]) == [("list", namespace),
                                                                         ("template", "prometheus")]
    assert not [t for t in res["timings"] if t["call"] == "status"]

    # out-of-band upgrade with other values: changed (rendered and compared, the digest is gone)
    helm_cli("upgrade", "postgres", os.path.join(ROOT, "charts", "postgres"), "-n", namespace, "--reuse-values",
             "--set", "resources.limits.memory=768Mi", "--wait")
    res = ansible("hx.mlops.components", args, check=True)
    got = by_name(res)
    assert got["postgres"]["changed"] and got["postgres"]["revision"] == 2
    assert got["postgres"]["changes"]["method"] == "render" and got["postgres"]["changes"]["values_changed"]
    assert not got["prometheus"]["changed"]
    assert not [t for t in res["timings"] if t["call"] == "status"]

    # converge again (revision 3, digest recorded), then roll back out of band to revision 2
    res = ansible("hx.mlops.components", args)
    assert by_name(res)["postgres"]["changed"] and by_name(res)["postgres"]["revision"] == 3
    assert ansible("hx.mlops.components", args)["changed"] is False
    helm_cli("rollback", "postgres", "2", "-n", namespace, "--wait")
    res = ansible("hx.mlops.components", args, check=True)
    got = by_name(res)
    assert got["postgres"]["changed"] and got["postgres"]["revision"] == 4
    assert got["postgres"]["changes"]["method"] == "render" and got["postgres"]["changes"]["values_changed"]
    assert not [t for t in res["timings"] if t["call"] == "status"]


def test_components_fall_back_to_helm_status_when_the_list_is_not_exact(namespace, tmp_path):
    """When the batched read could differ from helm's (here: a proxy is set), helm status per release
    decides, with the same answer."""
    helm_cli("upgrade", "--install", "kepler", os.path.join(ROOT, "charts", "kepler"), "-n", namespace,
             "--create-namespace", "--wait")
    args = {"components": [{"name": "kepler"}, {"name": "scaphandre"}], "namespace": namespace,
            "timeout": TIMEOUT}
    res = ansible("hx.mlops.components", args, check=True, extra_env={"HELM_DRIVER": "secret"})
    assert res["list_fallbacks"] == {} and not [t for t in res["timings"] if t["call"] == "status"]
    fast = by_name(res)
    res = ansible("hx.mlops.components", args, check=True, extra_env={"HTTPS_PROXY": "http://127.0.0.1:9"})
    assert "HTTPS_PROXY is set" in res["list_fallbacks"][namespace]
    slow = by_name(res)
    assert sorted(t["release"] for t in res["timings"] if t["call"] == "status") == ["kepler", "scaphandre"]
    for name in ("kepler", "scaphandre"):
        assert fast[name]["changed"] == slow[name]["changed"] and fast[name]["changes"] == slow[name]["changes"]
    assert not fast["kepler"]["changed"] and fast["scaphandre"]["changed"]
