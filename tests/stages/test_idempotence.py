import os

from hx_stages import stages
from hx_stages.runner import run_stage


def _mtimes(directory):
    return {n: os.stat(os.path.join(directory, n)).st_mtime_ns for n in os.listdir(directory)}


def test_second_run_is_not_recomputed(run, datasets, tmp_path):
    out = tmp_path / "m" / "model.skops"
    code, first = run("train", "-i", datasets["train"], "-o", out)
    assert code == 0 and first["changed"] is True and first["cached"] is False
    run_dir = first["run_dir"]
    assert os.path.isfile(os.path.join(run_dir, "COMPLETE"))
    before = _mtimes(run_dir)
    out_before = os.stat(out).st_mtime_ns
    code, second = run("train", "-i", datasets["train"], "-o", out)
    assert code == 0 and second["changed"] is False and second["cached"] is True
    assert second["run_key"] == first["run_key"]
    # not recomputed: same timestamps in the report, files untouched (not rewritten)
    assert second["started_at"] == first["started_at"] and second["energy"] == first["energy"]
    assert _mtimes(run_dir) == before and os.stat(out).st_mtime_ns == out_before
    # a different parameter is a different run
    code, third = run("train", "-i", datasets["train"], "--seed", 1, "-o", tmp_path / "m2" / "model.skops")
    assert third["changed"] is True and third["run_key"] != first["run_key"]
    # --force recomputes under the same key
    code, forced = run("train", "-i", datasets["train"], "--force")
    assert forced["changed"] is True and forced["run_key"] == first["run_key"]
    assert forced["started_at"] != first["started_at"]
    assert run.run_dirs()[1] == []


def test_compute_counter_with_the_python_api(datasets, tmp_path):
    calls = []

    def counted(ctx):
        calls.append(1)
        return stages.validate_stage(ctx)

    params = {"psi_max": 0.25, "psi_bins": 10, "ks_max": None, "drift_columns": None, "max_missing": 0.0,
              "builtin_schema": "telco-kpi"}
    runs = str(tmp_path / "runs")
    r1 = run_stage("validate", counted, {"data": datasets["holdout"]}, params, runs_dir=runs)
    r2 = run_stage("validate", counted, {"data": datasets["holdout"]}, params, runs_dir=runs)
    assert calls == [1]
    assert (r1["changed"], r2["changed"]) == (True, False)
    # the key follows the input bytes, not the path
    copy = tmp_path / "copy.csv"
    copy.write_bytes(open(datasets["holdout"], "rb").read())
    r3 = run_stage("validate", counted, {"data": str(copy)}, params, runs_dir=runs)
    assert calls == [1] and r3["run_key"] == r1["run_key"] and r3["changed"] is False
    copy.write_bytes(open(datasets["holdout"], "rb").read() + b"\n")
    r4 = run_stage("validate", counted, {"data": str(copy)}, params, runs_dir=runs)
    assert calls == [1, 1] and r4["run_key"] != r1["run_key"]


def test_cached_run_restores_a_deleted_output(run, datasets, aes_key, tmp_path):
    out = tmp_path / "anon.csv"
    first = run("anonymize", "-i", datasets["holdout"], "-o", out)[1]
    os.unlink(out)
    code, second = run("anonymize", "-i", datasets["holdout"], "-o", out)
    assert second["cached"] is True and second["changed"] is True  # the output file was written again
    assert second["started_at"] == first["started_at"] and os.path.isfile(out)


def test_incomplete_run_dir_is_not_trusted(run, datasets, tmp_path):
    code, first = run("datagen", "--rows", 50)
    os.unlink(os.path.join(first["run_dir"], "COMPLETE"))  # e.g. a crash from an older writer
    code, second = run("datagen", "--rows", 50)
    assert second["changed"] is True and second["started_at"] != first["started_at"]
    assert os.path.isfile(os.path.join(second["run_dir"], "COMPLETE"))


def _cli(*args, runs):
    import sys
    return [sys.executable, "-m", "hx_stages", *map(str, args), "--runs-dir", str(runs)]


def test_plan_predicts_without_writing(run, datasets, tmp_path):
    code, plan = run("validate", "-i", datasets["holdout"], "--schema", "builtin:telco-kpi", "--plan")
    assert code == 0 and plan["plan"] is True and plan["would_run"] is True and plan["changed"] is True
    assert run.run_dirs() == ([], [])
    code, rep = run("validate", "-i", datasets["holdout"], "--schema", "builtin:telco-kpi")
    assert rep["run_key"] == plan["run_key"]
    code, plan = run("validate", "-i", datasets["holdout"], "--schema", "builtin:telco-kpi", "--plan")
    assert plan["would_run"] is False and plan["changed"] is False and plan["stored_report"]["passed"] is True


def test_concurrent_runs_of_one_key_compute_once(datasets, tmp_path):
    import json
    import subprocess

    runs = tmp_path / "runs"
    cmd = _cli("train", "-i", datasets["train"], runs=runs)
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True) for _ in range(2)]
    reports = [json.loads(p.communicate(timeout=300)[0].strip().splitlines()[-1]) for p in procs]
    assert sorted(r["cached"] for r in reports) == [False, True]
    assert reports[0]["run_key"] == reports[1]["run_key"] and reports[0]["started_at"] == reports[1]["started_at"]


def test_killed_run_leaves_nothing_and_is_cleaned_up(datasets, tmp_path):
    import signal
    import subprocess
    import time

    runs = tmp_path / "runs"
    out = tmp_path / "out"
    cmd = _cli("train", "-i", datasets["train"], "--model", "random_forest", "--param", "n_estimators=80",
               "--output", str(out) + "/", runs=runs)
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and not any(".partial-" in n for n in (os.listdir(runs) if runs.exists() else [])):
        time.sleep(0.05)
    time.sleep(0.2)
    assert proc.poll() is None, "the stage finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    names = os.listdir(runs)
    assert [n for n in names if not n.startswith(".")] == []  # no complete run
    assert [n for n in names if ".partial-" in n]  # only the hidden staging directory
    assert not out.exists() or os.listdir(out) == []
    # the next run of the same key removes the leftover and completes
    proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=300)
    assert proc.returncode == 0
    names = os.listdir(runs)
    assert not [n for n in names if ".partial-" in n]
    assert len([n for n in names if n.startswith("train-")]) == 1
    assert sorted(os.listdir(out)) == ["model.skops", "model.skops.meta.json"]
