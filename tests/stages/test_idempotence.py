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
