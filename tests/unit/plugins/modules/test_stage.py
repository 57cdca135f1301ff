# -*- coding: utf-8 -*-
# Copyright: HX-MLOps contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""hx.mlops.stage / stage_info: pure logic (command lines, manifests, parsing) and the module run
end to end as real local processes of ``python -m hx_stages`` (the package must be installed)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "collections"))
# the module runs `python -m hx_stages`: use the working tree's package even if not installed
SRC = os.path.join(ROOT, "stage_runner", "src")

from ansible_collections.hx.mlops.plugins.module_utils import stage as st  # noqa: E402
from ansible_collections.hx.mlops.plugins.modules import stage as stage_module  # noqa: E402
from ansible_collections.hx.mlops.plugins.modules import stage_info as stage_info_module  # noqa: E402

# --- pure logic ---------------------------------------------------------------------------------


def test_local_command_is_an_exact_list():
    assert st.local_command("train", ["--input", "/d/a.csv"], python="/venv/bin/python", runs_dir="/r",
                            domain="vendor", plan=True) == [
        "/venv/bin/python", "-m", "hx_stages", "train", "--input", "/d/a.csv", "--runs-dir", "/r",
        "--domain", "vendor", "--plan"]
    assert st.local_command("test", [], executable="/usr/bin/hx-stage", force=True) == [
        "/usr/bin/hx-stage", "test", "--force"]


@pytest.mark.parametrize("stage,args,secrets,message", [
    ("predict", [], [], "valid: datagen, anonymize"),
    ("train", ["--runs-dir", "/x"], [], "set by the module"),
    ("train", ["--force"], [], "set by the module"),
    ("anonymize", ["--input", "a.csv", "--note", "k=s3cr3tvalue"], ["s3cr3tvalue"],
     "secrets go through the environment"),
])
def test_check_args_rejects(stage, args, secrets, message):
    with pytest.raises(st.StageModuleError, match=message):
        st.check_args(stage, args, secrets)


def test_parse_report_takes_the_last_json_line():
    log = 'INFO starting\n{"partial": 1}\nnoise {"x": 2}\n{"stage": "train", "passed": true}\n\n'
    assert st.parse_report(log) == {"stage": "train", "passed": True}
    assert st.parse_report("no json here") is None
    assert st.parse_report("") is None


def _manifest(**kw):
    key = st.job_key("validate", ["--input", "dataset:3@1.0.0"], "img:1", kw.get("arch", "amd64"),
                     kw.get("edge_capable", False), {"A": "1"}, "creds", [], "mno-prod")
    name = st.job_name("validate", key)
    return key, name, st.job_manifest(name, "hx-mlops", "validate", ["--input", "dataset:3@1.0.0"], "img:1", key,
                                      env={"A": "1"}, secret_name="creds", domain="mno-prod",
                                      secret_env_refs=[{"env": "HX_SHARING_TOKEN", "secret": "tok", "key": "t"}],
                                      **kw)


def test_job_manifest_core_placement_only():
    key, name, m = _manifest()
    pod = m["spec"]["template"]["spec"]
    assert name == "hx-stage-validate-" + key[:12] and len(name) <= 63
    assert pod["nodeSelector"] == {"kubernetes.io/arch": "amd64"}
    assert "tolerations" not in pod
    c = pod["containers"][0]
    assert c["args"] == ["validate", "--input", "dataset:3@1.0.0"]
    assert c["envFrom"] == [{"secretRef": {"name": "creds"}}]
    assert {"name": "HX_SHARING_TOKEN", "valueFrom": {"secretKeyRef": {"name": "tok", "key": "t"}}} in c["env"]
    assert {"name": "HX_DOMAIN", "value": "mno-prod"} in c["env"]
    assert pod["restartPolicy"] == "Never" and m["spec"]["backoffLimit"] == 0
    assert m["metadata"]["annotations"]["hx.mlops/run-key"] == key
    assert c["securityContext"]["runAsNonRoot"] is True


def test_job_manifest_edge_capable_arm64():
    key, name, m = _manifest(arch="arm64", edge_capable=True)
    pod = m["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == {"kubernetes.io/arch": "arm64"}
    assert pod["tolerations"] == [{"key": "hx.mlops/edge", "operator": "Equal", "value": "true",
                                   "effect": "NoSchedule"}]
    # placement is part of the key: the same stage for another arch is another Job
    assert key != _manifest()[0]
    with pytest.raises(st.StageModuleError, match="valid: amd64, arm64"):
        st.job_manifest(name, "ns", "validate", [], "img", key, arch="riscv64")


@pytest.mark.parametrize("job,state", [
    (None, "absent"),
    ({"status": {}}, "running"),
    ({"status": {"active": 1}}, "running"),
    ({"status": {"succeeded": 1}}, "succeeded"),
    ({"status": {"conditions": [{"type": "Complete", "status": "True"}]}}, "succeeded"),
    ({"status": {"failed": 1, "conditions": [{"type": "Failed", "status": "True"}]}}, "failed"),
])
def test_job_state(job, state):
    assert st.job_state(job) == state


# --- the module as a real local process ------------------------------------------------------------

@pytest.fixture
def base(tmp_path, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in (SRC, os.environ.get("PYTHONPATH")) if p))
    return {"python": sys.executable, "runs_dir": str(tmp_path / "runs"), "domain": "vendor"}


def _run_dirs(base):
    d = base["runs_dir"]
    return sorted(n for n in os.listdir(d) if not n.startswith(".")) if os.path.isdir(d) else []


def test_check_apply_check_apply(run_module, base, tmp_path):
    out = str(tmp_path / "data" / "kpi.csv")
    args = dict(base, stage="datagen", args=["--rows", "300", "--seed", "4", "--output", out])
    r = run_module(stage_module, args, check_mode=True)
    assert r["failed"] is False and r["changed"] is True and r["would_run"] is True
    assert _run_dirs(base) == [] and not os.path.exists(out)  # check mode wrote nothing
    assert r["cmd"][-1] == "--plan"

    r = run_module(stage_module, args)
    assert r["changed"] is True and r["report"]["cached"] is False and os.path.isfile(out)
    assert r["energy"]["method"] in ("measured", "estimated") and r["energy"]["joules"] > 0
    key = r["run_key"]
    assert _run_dirs(base) == ["datagen-" + key]
    started = r["report"]["started_at"]

    r = run_module(stage_module, args, check_mode=True)
    assert r["changed"] is False and r["would_run"] is False and r["run_key"] == key

    r = run_module(stage_module, args)
    assert r["changed"] is False and r["report"]["cached"] is True
    assert r["report"]["started_at"] == started  # not recomputed
    assert r["cmd"] == [sys.executable, "-m", "hx_stages", "datagen", "--rows", "300", "--seed", "4", "--output",
                        out, "--runs-dir", base["runs_dir"], "--domain", "vendor"]


def test_secret_through_environment_only(run_module, monkeypatch, base, tmp_path):
    data = str(tmp_path / "kpi.csv")
    run_module(stage_module, dict(base, stage="datagen", args=["--rows", "200", "--output", data]))
    key = os.urandom(32).hex()
    monkeypatch.delenv("HX_STAGE_KEY", raising=False)
    args = dict(base, stage="anonymize", args=["--input", data, "--columns", "imsi,msisdn"],
                secret_env={"HX_STAGE_KEY": key})
    r = run_module(stage_module, args)
    assert r["failed"] is False and r["changed"] is True
    assert key not in " ".join(r["cmd"]) and key not in repr(r["report"])
    assert r["report"]["result"]["columns_changed"]["imsi"]["rows_changed"] == 200
    # without the secret: a clear error, nothing written
    r = run_module(stage_module, dict(args, secret_env={}, args=args["args"] + ["--digest-chars", "20"]))
    assert r["failed"] is True and "HX_STAGE_KEY" in r["msg"]


def test_gate_failure_and_bad_input(run_module, base, tmp_path):
    train = str(tmp_path / "train.csv")
    hold = str(tmp_path / "hold.csv")
    run_module(stage_module, dict(base, stage="datagen", args=["--rows", "1200", "--output", train]))
    run_module(stage_module, dict(base, stage="datagen",
                                  args=["--rows", "400", "--seed", "9", "--output", hold]))
    r = run_module(stage_module, dict(base, stage="train",
                                      args=["--input", train, "--output", str(tmp_path / "m") + "/"]))
    assert r["changed"] is True and r["report"]["result"]["metrics"]["r2"] > 0.7
    model = str(tmp_path / "m" / "model.skops")
    gate = dict(base, stage="test", args=["--model", model, "--input", hold, "--min", "r2=0.99"])
    r = run_module(stage_module, gate)
    assert r["failed"] is True and "r2" in r["msg"] and ">= 0.99" in r["msg"]
    r = run_module(stage_module, dict(gate, fail_on_gate=False))
    assert r["failed"] is False and r["report"]["passed"] is False and r["changed"] is False  # stored result

    missing = ["--input", str(tmp_path / "nope.csv")]
    r = run_module(stage_module, dict(base, stage="validate", args=missing))
    assert r["failed"] is True and "not found" in r["msg"]


def test_stage_info_lists_runs_with_energy(run_module, base, tmp_path):
    for seed in ("1", "2"):
        run_module(stage_module, dict(base, stage="datagen", args=["--rows", "100", "--seed", seed]))
    r = run_module(stage_info_module, {"runs_dir": base["runs_dir"], "stage": "datagen"})
    assert r["changed"] is False and len(r["runs"]) == 2
    assert r["energy_joules_total"] == pytest.approx(sum(x["energy"]["joules"] for x in r["runs"]), abs=1e-5)
    key = r["runs"][0]["run_key"]
    r = run_module(stage_info_module, {"runs_dir": base["runs_dir"], "run_key": key[:10]})
    assert [x["run_key"] for x in r["runs"]] == [key]
    r = run_module(stage_info_module, {"runs_dir": base["runs_dir"], "stage": "train"})
    assert r["runs"] == []


# --- job mode flow against an in-memory Job API -------------------------------------------------------

class FakeKube(object):
    """Stands in for the Kubernetes API only: Jobs succeed at once and log a report line."""

    jobs = {}
    created = []

    def __init__(self, kubeconfig=None, context=None):
        pass

    def get(self, namespace, name):
        return self.jobs.get((namespace, name))

    def create(self, manifest):
        key = (manifest["metadata"]["namespace"], manifest["metadata"]["name"])
        self.created.append(manifest)
        self.jobs[key] = dict(manifest, status={"succeeded": 1})
        return self.jobs[key]

    def delete(self, namespace, name):
        self.jobs.pop((namespace, name), None)

    def wait(self, namespace, name, timeout, poll=2):
        job = self.get(namespace, name)
        return st.job_state(job), job

    def log(self, namespace, name):
        return 'some log\n{"stage": "validate", "passed": true, "changed": true, "energy": {"joules": 1.5}}\n'


def test_job_mode_creates_once(run_module, monkeypatch):
    FakeKube.jobs, FakeKube.created = {}, []
    monkeypatch.setattr(st, "KubeJobs", FakeKube)
    args = {"mode": "job", "stage": "validate", "image": "localhost/hx-stages:0.1.0", "arch": "arm64",
            "edge_capable": True, "args": ["--input", "dataset:3@1.0.0"], "secret_name": "hx-stage-credentials"}
    r = run_module(stage_module, args, check_mode=True)
    assert r["changed"] is True and FakeKube.created == []
    r = run_module(stage_module, args)
    assert r["changed"] is True and r["job"]["state"] == "succeeded" and r["energy"] == {"joules": 1.5}
    assert len(FakeKube.created) == 1
    r = run_module(stage_module, args)
    assert r["changed"] is False and len(FakeKube.created) == 1
    r = run_module(stage_module, args, check_mode=True)
    assert r["changed"] is False
    r = run_module(stage_module, dict(args, force=True))
    assert r["changed"] is True and len(FakeKube.created) == 2
