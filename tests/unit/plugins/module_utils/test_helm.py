# -*- coding: utf-8 -*-
# Copyright: (c) 2026, HX-MLOps maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests of the helm logic: exact command lines, value merging, manifest comparison,
diffs, error messages, and the manager driven by a scripted fake helm."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import stat
import sys
import threading
import time

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "collections"))

from ansible_collections.hx.mlops.plugins.module_utils import catalog  # noqa: E402
from ansible_collections.hx.mlops.plugins.module_utils import helm as h  # noqa: E402

CHARTS = os.path.join(ROOT, "charts")
KC = ["--kubeconfig", "/k/config", "--kube-context", "hx-vendor"]


# --- command lines -----------------------------------------------------------------------------

def test_cmd_status():
    assert h.cmd_status("helm", "pg", "ns", "/k/config", "hx-vendor") == [
        "helm", "status", "pg", "--namespace", "ns", "--output", "json"] + KC
    assert h.cmd_status("helm", "pg", "ns", show_resources=True) == [
        "helm", "status", "pg", "--namespace", "ns", "--output", "json", "--show-resources"]


def test_cmd_template_needs_no_cluster():
    assert h.cmd_template("helm", "pg", "/c/postgres", "ns", "/t/v.json") == [
        "helm", "template", "pg", "/c/postgres", "--namespace", "ns", "--values", "/t/v.json", "--skip-tests"]


def test_cmd_upgrade_default():
    assert h.cmd_upgrade("helm", "pg", "/c/postgres", "ns", "/t/v.json", kubeconfig="/k/config",
                         context="hx-vendor") == [
        "helm", "upgrade", "pg", "/c/postgres", "--install", "--namespace", "ns", "--create-namespace",
        "--values", "/t/v.json", "--reset-values", "--output", "json", "--timeout", "300s", "--wait"] + KC


def test_cmd_upgrade_records_the_digest():
    cmd = h.cmd_upgrade("helm", "pg", "/c", "ns", "/v", digest="ab12")
    assert cmd[cmd.index("--description") + 1] == "hx.mlops input digest ab12"
    assert h.digest_of("hx.mlops input digest ab12") == "ab12"
    assert h.digest_of("Rollback to 1") is None and h.digest_of(None) is None


def test_input_digest_covers_chart_files_values_and_identity(tmp_path):
    chart = tmp_path / "c"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("name: c\n")
    (chart / "templates" / "a.yaml").write_text("a: 1\n")
    d0 = h.input_digest(str(chart), {"a": 1}, "r", "ns")
    assert d0 == h.input_digest(str(chart), {"a": 1}, "r", "ns")
    assert d0 != h.input_digest(str(chart), {"a": 2}, "r", "ns")
    assert d0 != h.input_digest(str(chart), {"a": 1}, "r2", "ns")
    assert d0 != h.input_digest(str(chart), {"a": 1}, "r", "ns2")
    (chart / "templates" / "a.yaml").write_text("a: 2\n")
    assert d0 != h.input_digest(str(chart), {"a": 1}, "r", "ns")
    # the symlinked library chart is part of the digest
    assert h.input_digest(os.path.join(CHARTS, "postgres"), {}, "r", "ns") != \
        h.input_digest(os.path.join(CHARTS, "timescaledb"), {}, "r", "ns")


def test_cmd_upgrade_atomic_no_wait():
    assert h.cmd_upgrade("helm", "pg", "/c", "ns", "/v", wait=False, timeout=60, atomic=True) == [
        "helm", "upgrade", "pg", "/c", "--install", "--namespace", "ns", "--create-namespace",
        "--values", "/v", "--reset-values", "--output", "json", "--timeout", "60s", "--atomic"]


def test_cmd_uninstall():
    assert h.cmd_uninstall("helm", "pg", "ns", timeout=30) == [
        "helm", "uninstall", "pg", "--namespace", "ns", "--timeout", "30s", "--wait"]
    assert h.cmd_uninstall("helm", "pg", "ns", wait=False, context="c") == [
        "helm", "uninstall", "pg", "--namespace", "ns", "--timeout", "300s", "--kube-context", "c"]


# --- values ------------------------------------------------------------------------------------

def test_deep_merge_maps_merge_lists_replace():
    base = {"a": {"b": 1, "c": [1, 2]}, "d": 1}
    over = {"a": {"c": [3], "e": {"f": 1}}, "d": None}
    assert h.deep_merge(base, over) == {"a": {"b": 1, "c": [3], "e": {"f": 1}}, "d": None}
    assert base == {"a": {"b": 1, "c": [1, 2]}, "d": 1}  # not mutated


def test_merge_values_files_then_values(tmp_path):
    f1 = tmp_path / "a.yaml"
    f1.write_text("auth: {username: a, database: x}\nservice: {port: 1}\n")
    f2 = tmp_path / "b.yaml"
    f2.write_text("auth: {username: b}\n")
    docs = h.load_values_files([str(f1), str(f2)])
    assert h.merge_values(docs, {"service": {"port": 2}}) == {
        "auth": {"username": "b", "database": "x"}, "service": {"port": 2}}


def test_values_file_errors(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("- a\n- b\n")
    with pytest.raises(h.HelmError, match="must hold a mapping, got list"):
        h.load_values_files([str(bad)])
    with pytest.raises(h.HelmError, match="cannot read values file"):
        h.load_values_files([str(tmp_path / "missing.yaml")])


def test_values_file_is_private(tmp_path):
    path = h.write_values_file({"auth": {"password": "s3cret"}}, str(tmp_path))
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert json.load(open(path)) == {"auth": {"password": "s3cret"}}


def test_redaction_keeps_changes_visible():
    red = h.redact_values({"auth": {"password": "a", "existingSecret": "pg-auth", "rootPassword": "",
                                    "username": "hx"}, "model": {"modelsharing": {"tokenSecret": "t"}}})
    assert red["auth"]["password"].startswith("<redacted sha256:")
    assert red["auth"]["existingSecret"] == "pg-auth"      # a Secret *name*, not a secret
    assert red["auth"]["rootPassword"] == ""
    assert red["model"]["modelsharing"]["tokenSecret"] == "t"
    assert h.redact_values({"password": "a"}) != h.redact_values({"password": "b"})
    sec = h.redact_object({"kind": "Secret", "data": {"password": "eA=="}})
    assert sec["data"]["password"].startswith("<redacted sha256:")


# --- manifests and comparison ------------------------------------------------------------------

MANIFEST = """---
# Source: postgres/templates/service.yaml
apiVersion: v1
kind: Service
metadata: {name: pg, namespace: ns}
spec: {ports: [{port: 5432}]}
---
# Source: postgres/templates/deployment.yaml
apiVersion: apps/v1
kind: Deployment
metadata: {name: pg, namespace: ns}
spec: {replicas: 1}
---
"""


def test_parse_manifests_keys_and_ignores_comments():
    objs = h.parse_manifests(MANIFEST)
    assert sorted(objs) == ["Deployment/ns/pg", "Service/ns/pg"]
    assert h.parse_manifests("# only a comment\n---\n") == {}


def test_compare_absent_release():
    res = h.compare(None, {"values": {"a": 1}, "manifests": h.parse_manifests(MANIFEST)})
    assert res["changed"] and res["reasons"] == ["release is not installed"]
    assert res["added"] == ["Deployment/ns/pg", "Service/ns/pg"]


def test_compare_identical_is_not_changed():
    objs = h.parse_manifests(MANIFEST)
    live = {"status": "deployed", "values": {"a": 1}, "manifests": objs}
    assert h.compare(live, {"values": {"a": 1}, "manifests": h.parse_manifests(MANIFEST)})["changed"] is False


def test_compare_detects_values_manifest_and_status():
    objs = h.parse_manifests(MANIFEST)
    changed = h.parse_manifests(MANIFEST.replace("replicas: 1", "replicas: 2"))
    del changed["Service/ns/pg"]
    changed["ConfigMap/ns/x"] = {"kind": "ConfigMap"}
    res = h.compare({"status": "failed", "values": {}, "manifests": objs},
                    {"values": {"a": 1}, "manifests": changed})
    assert res["changed"]
    assert res["added"] == ["ConfigMap/ns/x"] and res["removed"] == ["Service/ns/pg"]
    assert res["modified"] == ["Deployment/ns/pg"] and res["values_changed"]
    assert res["reasons"][0] == "release status is 'failed', not 'deployed'"


def test_compare_normalizes_types():
    live = {"status": "deployed", "values": {"port": 1, "x": [1]}, "manifests": {}}
    assert not h.compare(live, {"values": {"x": (1,), "port": 1}, "manifests": {}})["changed"]


def test_make_diff_before_after():
    live = {"revision": 3, "values": {"auth": {"password": "a"}, "n": 1},
            "manifests": h.parse_manifests(MANIFEST)}
    desired = {"values": {"auth": {"password": "a"}, "n": 2},
               "manifests": h.parse_manifests(MANIFEST.replace("replicas: 1", "replicas: 2"))}
    d = h.make_diff("pg", "ns", live, desired)
    assert d["before_header"] == "ns/pg (live, revision 3)"
    assert "n: 1" in d["before"] and "n: 2" in d["after"]
    assert "replicas: 1" in d["before"] and "replicas: 2" in d["after"]
    assert "password: a" not in d["before"] + d["after"]
    gone = h.make_diff("pg", "ns", live, None)
    assert gone["after"] == "" and gone["after_header"] == "ns/pg (absent)"


# --- errors ------------------------------------------------------------------------------------

def test_schema_error_at_install_is_named():
    fake = FakeHelm()
    orig = fake.dispatch

    def dispatch(cmd):
        if cmd[1] == "upgrade":
            return 1, "", ("Error: values don't meet the specifications of the schema(s) in the following chart(s):\n"
                           "postgres:\n- at '': additional properties 'typo' not allowed\n")
        return orig(cmd)
    fake.dispatch = dispatch
    with pytest.raises(h.HelmError) as exc:
        h.ComponentManager(fake, charts_dir=CHARTS).present({"name": "postgres", "values": {"typo": 1}})
    assert exc.value.msg == ("values for 'postgres' violate the chart's values.schema.json: "
                             "at '': additional properties 'typo' not allowed")


def test_schema_error_message():
    err = ("Error: values don't meet the specifications of the schema(s) in the following chart(s):\n"
           "postgres:\n- at '/service/type': value must be one of 'ClusterIP', 'NodePort', 'LoadBalancer'\n")
    msg = h.ComponentManager.values_error({"name": "postgres"}, err)
    assert msg == ("values for 'postgres' violate the chart's values.schema.json: at '/service/type': "
                   "value must be one of 'ClusterIP', 'NodePort', 'LoadBalancer'")


def test_required_error_message():
    err = ("walk.go:75: found symbolic link in path: x\nError: execution error at "
           "(postgres/templates/secret.yaml:2:10): postgres: set auth.password\n")
    assert h.ComponentManager.values_error({"name": "postgres"}, err) == \
        "invalid values for 'postgres': postgres: set auth.password"


@pytest.mark.parametrize("err, unreachable", [
    ("Error: Kubernetes cluster unreachable: Get \"https://127.0.0.1:1/version\": dial tcp: connect: connection refused", True),
    ('Error: context "hx-nope" does not exist', True),
    ("Error: release: not found", False),
])
def test_is_unreachable(err, unreachable):
    assert h.is_unreachable(err) is unreachable


def test_unreachable_message_lists_contexts(tmp_path):
    kc = tmp_path / "kubeconfig"
    kc.write_text("contexts:\n- name: hx-vendor\n- name: hx-mno-prod\n")
    mgr = h.ComponentManager(lambda cmd: (1, "", "Error: Kubernetes cluster unreachable: connection refused"),
                             charts_dir=CHARTS, kubeconfig=str(kc), context="hx-nope")
    with pytest.raises(h.HelmError) as exc:
        mgr.present({"name": "postgres", "values": {"auth": {"password": "x"}}})
    assert "cannot reach the Kubernetes API (context 'hx-nope'" in exc.value.msg
    assert "contexts in that kubeconfig: hx-mno-prod, hx-vendor" in exc.value.msg


# --- the manager against a scripted helm -------------------------------------------------------

class FakeHelm(object):
    """Answers helm sub-commands from an in-memory release store."""

    def __init__(self, rendered=MANIFEST, delay=0.0):
        self.releases = {}
        self.calls = []
        self.rendered = rendered
        self.delay = delay
        self.lock = threading.Lock()
        self.active = 0
        self.max_active = 0

    def __call__(self, cmd):
        with self.lock:
            self.calls.append(cmd)
            self.active += 1
            self.max_active = max(self.max_active, self.active)
        try:
            time.sleep(self.delay)
            return self.dispatch(cmd)
        finally:
            with self.lock:
                self.active -= 1

    def dispatch(self, cmd):
        sub, rel = cmd[1], cmd[2]
        if sub == "status":
            if rel not in self.releases:
                return 1, "", "Error: release: not found"
            return 0, json.dumps(self.releases[rel]), ""
        if sub == "template":
            return 0, self.rendered.replace("name: pg", "name: %s" % rel), ""
        if sub == "upgrade":
            values = json.load(open(cmd[cmd.index("--values") + 1]))
            prev = self.releases.get(rel, {}).get("version", 0)
            desc = cmd[cmd.index("--description") + 1] if "--description" in cmd else "Install complete"
            self.releases[rel] = {"name": rel, "version": prev + 1, "info": {"status": "deployed", "description": desc},
                                  "config": values, "chart": {"metadata": {"name": rel, "version": "0.1.0"}},
                                  "manifest": self.rendered.replace("name: pg", "name: %s" % rel)}
            return 0, json.dumps(self.releases[rel]), ""
        if sub == "uninstall":
            self.releases.pop(rel, None)
            return 0, "", ""
        return 1, "", "unexpected"


def subcommands(fake):
    return [c[1] for c in fake.calls]


def test_present_lifecycle_check_apply_noop_change_absent():
    fake = FakeHelm()
    spec = {"name": "postgres", "values": {"auth": {"password": "x"}}, "namespace": "ns"}
    check = h.ComponentManager(fake, charts_dir=CHARTS, check_mode=True, diff=True)
    res = check.present(spec)
    assert res["changed"] and subcommands(fake) == ["status", "template"] and fake.releases == {}
    assert res["diff"]["before"] == "" and "replicas: 1" in res["diff"]["after"]

    mgr = h.ComponentManager(fake, charts_dir=CHARTS)
    fake.calls[:] = []
    res = mgr.present(spec)
    # nothing installed: the install renders and validates itself, no separate render
    assert res["changed"] and res["revision"] == 1 and subcommands(fake) == ["status", "upgrade"]
    assert res["changes"]["method"] == "install"
    assert res["images"] == ["docker.io/library/postgres:16.4-bookworm"]
    assert res["commands"][1][:5] == ["helm", "upgrade", "postgres", os.path.join(CHARTS, "postgres"), "--install"]
    assert all("x" not in c for c in res["commands"])  # the password is never on argv

    fake.calls[:] = []
    assert check.present(spec)["changed"] is False
    res = mgr.present(spec)
    # the release carries the digest of chart files + values: no re-rendering needed
    assert res["changed"] is False and res["revision"] == 1 and subcommands(fake) == ["status", "status"]
    assert res["changes"]["method"] == "digest"
    fake.calls[:] = []
    res = mgr.present(dict(spec, compare="render"))
    assert res["changed"] is False and subcommands(fake) == ["status", "template"]
    assert res["changes"]["method"] == "render"

    res = h.ComponentManager(fake, charts_dir=CHARTS, diff=True).present(
        dict(spec, values={"auth": {"password": "x"}, "service": {"port": 5433}}))
    assert res["changed"] and res["changes"]["values_changed"] and res["revision"] == 2
    assert "port: 5433" in res["diff"]["after"] and "port: 5433" not in res["diff"]["before"]

    assert mgr.absent(spec)["changed"] and "postgres" not in fake.releases
    assert mgr.absent(spec)["changed"] is False


def test_resolve_defaults_and_errors():
    mgr = h.ComponentManager(FakeHelm(), charts_dir=CHARTS)
    spec = mgr.resolve({"name": "kubeflow-pipelines"})
    assert spec["release"] == "kubeflow-pipelines" and spec["namespace"] == "hx-mlops"
    assert spec["chart_path"] == os.path.join(CHARTS, "kubeflow-pipelines")
    with pytest.raises(catalog.CatalogError, match="valid modules"):
        mgr.resolve({"name": "nope"})
    with pytest.raises(h.HelmError, match="charts_path is not set"):
        h.ComponentManager(FakeHelm()).resolve({"name": "postgres"})


def test_ensure_many_orders_levels_and_runs_a_level_concurrently():
    fake = FakeHelm(delay=0.05)
    mgr = h.ComponentManager(fake, charts_dir=CHARTS)
    specs = [{"name": n} for n in ("grafana", "mlflow", "postgres", "minio", "prometheus")]
    results, failed = mgr.ensure_many(specs, parallel=8)
    assert not failed
    assert [r["name"] for r in results] == ["grafana", "mlflow", "postgres", "minio", "prometheus"]
    assert dict((r["name"], r["level"]) for r in results) == {
        "postgres": 0, "minio": 0, "prometheus": 0, "grafana": 1, "mlflow": 1}
    upgrades = [c[2] for c in fake.calls if c[1] == "upgrade"]
    assert set(upgrades[:3]) == {"postgres", "minio", "prometheus"}
    assert set(upgrades[3:]) == {"grafana", "mlflow"}
    assert fake.max_active > 1


def test_ensure_many_stops_after_a_failed_level():
    fake = FakeHelm()
    orig = fake.dispatch

    def dispatch(cmd):
        if cmd[1] == "upgrade" and cmd[2] == "prometheus":
            return 1, "", "Error: timed out waiting for the condition"
        return orig(cmd)
    fake.dispatch = dispatch
    results, failed = h.ComponentManager(fake, charts_dir=CHARTS).ensure_many(
        [{"name": "prometheus"}, {"name": "grafana"}])
    assert failed
    assert "helm upgrade --install of 'prometheus' failed" in results[0]["msg"]
    assert results[1]["skipped"] and "grafana" not in fake.releases


def test_atomic_failure_message():
    fake = FakeHelm()
    fake.dispatch = lambda cmd: (1, "", "Error: release: not found") if cmd[1] == "status" else (
        (0, MANIFEST, "") if cmd[1] == "template" else (1, "", "Error: UPGRADE FAILED: timed out"))
    with pytest.raises(h.HelmError, match="atomic: the release was rolled back"):
        h.ComponentManager(fake, charts_dir=CHARTS).present({"name": "minio", "atomic": True})


def test_workload_readiness():
    res = {"v1/Deployment": [
        {"kind": "Deployment", "metadata": {"name": "a", "generation": 2},
         "spec": {"replicas": 1}, "status": {"observedGeneration": 2, "readyReplicas": 1}},
        {"kind": "Deployment", "metadata": {"name": "b", "generation": 2},
         "spec": {"replicas": 1}, "status": {"observedGeneration": 1, "readyReplicas": 1}}],
        "v1/DaemonSet": [{"kind": "DaemonSet", "metadata": {"name": "k"},
                          "status": {"desiredNumberScheduled": 3, "numberReady": 2}}],
        "v1/Service": [{"kind": "Service", "metadata": {"name": "s"}}]}
    assert [(w["name"], w["ready"]) for w in h.workloads_from_resources(res)] == [
        ("k", False), ("a", True), ("b", False)]


def test_build_upstream_chart(tmp_path):
    src = tmp_path / "kfp"
    src.mkdir()
    (src / "a.yaml").write_text(
        "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {name: x.argoproj.io}\n"
        "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: kubeflow}\n"
        "data: {tpl: '{{ not a template }}'}\n")
    chart = h.build_upstream_chart(str(src), str(tmp_path))
    assert os.listdir(os.path.join(chart, "crds")) == ["crds.yaml"]
    assert "CustomResourceDefinition" in open(os.path.join(chart, "crds", "crds.yaml")).read()
    assert os.listdir(os.path.join(chart, "upstream")) == ["0000.yaml"]
    with pytest.raises(h.HelmError, match="is not a directory"):
        h.build_upstream_chart(str(tmp_path / "missing"), str(tmp_path))


def test_find_charts_path(tmp_path):
    assert h.find_charts_path(None, start=os.path.join(ROOT, "plugins")) == CHARTS
    assert h.find_charts_path("/x") == "/x"


def test_secret_values_are_merged_last_and_never_on_argv():
    fake = FakeHelm()
    mgr = h.ComponentManager(fake, charts_dir=CHARTS, diff=True)
    res = mgr.present({"name": "minio", "values": {"auth": {"rootUser": "u", "rootPassword": "public"}},
                       "secret_values": {"auth": {"rootPassword": "hidden-pw"}}})
    assert fake.releases["minio"]["config"] == {"auth": {"rootUser": "u", "rootPassword": "hidden-pw"}}
    assert not any("hidden-pw" in arg for cmd in res["commands"] for arg in cmd)
    assert "hidden-pw" not in res["diff"]["after"]


def test_installs_start_when_their_own_dependencies_are_done():
    """grafana waits for prometheus only, not for a slow postgres of the same level."""
    fake = FakeHelm()
    orig = fake.dispatch
    finished = []

    def dispatch(cmd):
        if cmd[1] == "upgrade" and cmd[2] == "postgres":
            time.sleep(0.5)
        out = orig(cmd)
        if cmd[1] == "upgrade":
            finished.append(cmd[2])
        return out
    fake.dispatch = dispatch
    results, failed = h.ComponentManager(fake, charts_dir=CHARTS).ensure_many(
        [{"name": n} for n in ("postgres", "minio", "prometheus", "grafana", "mlflow")], parallel=8)
    assert not failed
    assert finished.index("grafana") < finished.index("postgres") < finished.index("mlflow")
    assert dict((r["name"], r["level"]) for r in results)["grafana"] == 1


def test_a_planning_error_stops_everything_before_any_change():
    fake = FakeHelm()
    results, failed = h.ComponentManager(fake, charts_dir=CHARTS).ensure_many(
        [{"name": "postgres"}, {"name": "grafana", "values_files": ["/nonexistent/v.yaml"]}])
    assert failed and fake.releases == {}
    assert results[0]["skipped"] and "cannot read values file '/nonexistent/v.yaml'" in results[1]["msg"]
    with pytest.raises(catalog.CatalogError, match="is in category 'observability'"):
        h.ComponentManager(fake, charts_dir=CHARTS).ensure_many([{"name": "grafana", "category": "storage"}])


def test_status_without_output_is_retried_then_named():
    fake = FakeHelm()
    orig = fake.dispatch
    calls = {"n": 0}

    def flaky(cmd):
        if cmd[1] == "status":
            calls["n"] += 1
            if calls["n"] == 1:
                return 0, "", ""
        return orig(cmd)
    fake.dispatch = flaky
    assert h.ComponentManager(fake, charts_dir=CHARTS).present({"name": "minio"})["changed"]
    fake.dispatch = lambda cmd: (0, "not json", "") if cmd[1] == "status" else orig(cmd)
    with pytest.raises(h.HelmError, match="helm status minio did not return JSON"):
        h.ComponentManager(fake, charts_dir=CHARTS).present({"name": "minio"})


# --- the batched read of the live releases (helm_store) -----------------------------------------

class FakeStore(object):
    """releases(namespace) from FakeHelm's release store, like helm_store.ReleaseStore."""

    def __init__(self, fake, error=None, unreadable=()):
        self.fake = fake
        self.error = error
        self.unreadable = unreadable
        self.calls = []

    def releases(self, namespace):
        self.calls.append(namespace)
        if self.error:
            raise self.error
        return dict((name, None if name in self.unreadable else h.helm_store.status_view(rel))
                    for name, rel in self.fake.releases.items())


def test_live_is_the_same_from_helm_status_and_from_the_store():
    fake = FakeHelm()
    h.ComponentManager(fake, charts_dir=CHARTS).present({"name": "minio"})
    rel = fake.releases["minio"]
    assert "chart" in rel and "chart" not in h.helm_store.status_view(rel)
    by_helm = h.ComponentManager(fake, charts_dir=CHARTS).live({"release": "minio", "namespace": "ns"}, [])
    mgr = h.ComponentManager(fake, charts_dir=CHARTS, release_store=FakeStore(fake))
    mgr.prefetch(["ns"])
    by_store = mgr.live({"release": "minio", "namespace": "ns"}, [])
    # helm status -o json carries no chart metadata: both fall back on the chart labels
    assert by_store == dict(by_helm, chart=by_store["chart"], app_version=by_store["app_version"])
    assert by_store["digest"] and by_store["manifests"] == by_helm["manifests"]


def test_noop_ensure_many_runs_no_helm_status(monkeypatch):
    fake = FakeHelm()
    specs = [{"name": n} for n in ("postgres", "minio", "prometheus", "grafana")]
    h.ComponentManager(fake, charts_dir=CHARTS).ensure_many(specs)
    fake.calls[:] = []
    # nor any temporary directory or values file
    monkeypatch.setattr(h.tempfile, "mkdtemp", lambda **kw: pytest.fail("a no-op wrote temporary files"))
    monkeypatch.setattr(h.tempfile, "mkstemp", lambda **kw: pytest.fail("a no-op wrote temporary files"))
    store = FakeStore(fake)
    mgr = h.ComponentManager(fake, charts_dir=CHARTS, release_store=store)
    results, failed = mgr.ensure_many(specs)
    assert not failed and not any(r["changed"] for r in results)
    assert fake.calls == [] and store.calls == ["hx-mlops"]
    assert [r["changes"]["method"] for r in results] == ["digest"] * 4
    assert [t[:2] for t in mgr.timings] == [("list", "hx-mlops")] and mgr.list_fallbacks == {}
    assert mgr.listed == {}  # only for the planning phase


def test_store_decides_changed_exactly_like_helm_status():
    fake = FakeHelm()
    base = {"name": "postgres", "values": {"auth": {"password": "x"}}}
    h.ComponentManager(fake, charts_dir=CHARTS).present(base)

    def plan_with_store(spec, **kw):
        fake.calls[:] = []
        mgr = h.ComponentManager(fake, charts_dir=CHARTS, release_store=FakeStore(fake), check_mode=True, **kw)
        return mgr.ensure_many([spec])[0][0]

    # other values: digest differs -> rendered and compared
    res = plan_with_store(dict(base, values={"auth": {"password": "y"}}))
    assert res["changed"] and res["changes"]["method"] == "render" and subcommands(fake) == ["template"]
    # deployed out of band (no digest description), same values: rendered, unchanged
    fake.releases["postgres"]["info"]["description"] = "Upgrade complete"
    res = plan_with_store(base)
    assert not res["changed"] and res["changes"]["method"] == "render" and subcommands(fake) == ["template"]
    # a failed latest revision with the right digest is not skipped
    fake.releases["postgres"]["info"].update(status="failed", description="hx.mlops input digest %s" % res["digest"])
    res = plan_with_store(base)
    assert res["changed"] and res["changes"]["reasons"] == ["release status is 'failed', not 'deployed'"]
    # not in the namespace's store at all: not installed, no helm status needed
    res = plan_with_store(dict(base, name="minio"))
    assert res["changed"] and res["changes"]["reasons"] == ["release is not installed"]
    assert subcommands(fake) == ["template"]
    # state absent: removal decided from the store too
    res = plan_with_store(dict(base, state="absent"))
    assert res["changed"] and subcommands(fake) == []


def test_store_falls_back_to_helm_status_when_unsure():
    fake = FakeHelm()
    specs = [{"name": "postgres"}, {"name": "minio"}]
    h.ComponentManager(fake, charts_dir=CHARTS).ensure_many(specs)
    # the whole namespace: Unsupported (or anything unexpected) -> helm status per release
    for error in (h.helm_store.Unsupported("HTTP 403"), RuntimeError("boom")):
        fake.calls[:] = []
        mgr = h.ComponentManager(fake, charts_dir=CHARTS, release_store=FakeStore(fake, error=error))
        results, failed = mgr.ensure_many(specs)
        assert not failed and not any(r["changed"] for r in results)
        assert sorted(subcommands(fake)) == ["status", "status"]
        assert [t[0] for t in mgr.timings][0] == "list-fallback"
        assert mgr.list_fallbacks == {"hx-mlops": "%s: %s" % (type(error).__name__, error)}
    # one release whose latest revision could not be read: helm status for that one only
    fake.calls[:] = []
    mgr = h.ComponentManager(fake, charts_dir=CHARTS, release_store=FakeStore(fake, unreadable=("minio",)))
    results, failed = mgr.ensure_many(specs)
    assert not failed and fake.calls and [c[1:3] for c in fake.calls] == [["status", "minio"]]


def test_status_with_resources_always_asks_helm():
    fake = FakeHelm()
    h.ComponentManager(fake, charts_dir=CHARTS).present({"name": "minio"})
    fake.calls[:] = []
    mgr = h.ComponentManager(fake, charts_dir=CHARTS, release_store=FakeStore(fake))
    mgr.prefetch(["hx-mlops"])
    assert mgr.status({"name": "minio"})["installed"] and subcommands(fake) == ["status"]
    assert "--show-resources" in fake.calls[0]
