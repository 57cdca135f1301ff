import json
import os

import pandas as pd


def listing(directory):
    return sorted(os.listdir(directory)) if os.path.isdir(directory) else []


def _train(run, datasets, tmp_path, *extra):
    code, rep = run("train", "-i", datasets["train"], "-o", str(tmp_path / "models") + "/", *extra)
    assert code == 0, rep
    return rep


def test_train_records_params_metrics_and_energy(run, datasets, tmp_path):
    rep = _train(run, datasets, tmp_path)
    m = rep["result"]["metrics"]
    assert set(m) == {"r2", "mae", "rmse"} and m["r2"] > 0.8 and 0 < m["mae"] < m["rmse"]
    assert rep["params"]["model"] == "hgb" and rep["params"]["features"][0] == "rsrp"
    model = tmp_path / "models" / "model.skops"
    meta = json.load(open(str(model) + ".meta.json"))
    assert meta["library"] == "scikit-learn" and meta["libraryVersion"]
    assert meta["features"] == rep["params"]["features"] and meta["target"] == "throughput_mbps"
    assert meta["characteristics"]["metrics"] == m
    assert meta["characteristics"]["energy"] == rep["energy"]
    assert meta["characteristics"]["energy"]["method"] in ("measured", "estimated")
    assert meta["sha256"] == rep["outputs"][0]["sha256"]


def test_train_other_estimator_and_hyperparameters(run, datasets, tmp_path):
    code, rep = run("train", "-i", datasets["train_pq"], "--model", "ridge", "--param", "alpha=2.5",
                    "--target", "mos", "--format", "joblib")
    assert code == 0
    assert rep["params"]["hyperparameters"] == {"alpha": 2.5}
    assert rep["outputs"][0]["name"] == "model.joblib"


def test_train_missing_target_column(run, datasets, tmp_path):
    code, rep = run("train", "-i", datasets["train"], "--target", "latency_ms", "-o", str(tmp_path / "m") + "/")
    assert code == 2 and "missing column(s) latency_ms" in rep["error"]
    assert listing(tmp_path / "m") == [] and run.run_dirs() == ([], [])


def test_test_gate_passes_and_fails(run, datasets, tmp_path):
    _train(run, datasets, tmp_path)
    model = tmp_path / "models" / "model.skops"
    code, rep = run("test", "--model", model, "-i", datasets["holdout"], "--min", "r2=0.7", "--max", "mae=50")
    assert code == 0 and rep["passed"] is True and rep["result"]["message"] == "all thresholds met"
    code, rep = run("test", "--model", model, "-i", datasets["holdout"], "--min", "r2=0.999", "--max", "rmse=1000")
    assert code == 1 and rep["passed"] is False
    assert [f["metric"] for f in rep["result"]["failed"]] == ["r2"]
    assert "r2 = " in rep["result"]["message"] and ">= 0.999" in rep["result"]["message"]


def test_test_needs_thresholds_and_valid_syntax(run, datasets, tmp_path):
    _train(run, datasets, tmp_path)
    model = tmp_path / "models" / "model.skops"
    assert "at least one threshold" in run("test", "--model", model, "-i", datasets["holdout"])[1]["error"]
    code, rep = run("test", "--model", model, "-i", datasets["holdout"], "--min", "accuracy=0.5")
    assert code == 2 and "r2, mae, rmse" in rep["error"]


def test_test_corrupt_model_and_missing_feature(run, datasets, tmp_path):
    _train(run, datasets, tmp_path)
    model = tmp_path / "models" / "model.skops"
    raw = open(model, "rb").read()
    bad = tmp_path / "bad.skops"
    bad.write_bytes(raw[: len(raw) // 2])
    code, rep = run("test", "--model", bad, "-i", datasets["holdout"], "--min", "r2=0.5")
    assert code == 2 and "corrupt model file" in rep["error"]
    df = pd.read_csv(datasets["holdout"]).drop(columns=["sinr"])
    nosinr = tmp_path / "nosinr.csv"
    df.to_csv(nosinr, index=False)
    code, rep = run("test", "--model", model, "-i", nosinr, "--min", "r2=0.5")
    assert code == 2 and "missing column(s) sinr" in rep["error"]
    assert [d for d in run.run_dirs()[0] if d.startswith("test-")] == []


def test_pickle_model_needs_explicit_permission(run, datasets, tmp_path):
    code, rep = run("train", "-i", datasets["train"], "--format", "joblib", "-o", str(tmp_path / "j") + "/")
    assert code == 0
    model = tmp_path / "j" / "model.joblib"
    code, rep = run("test", "--model", model, "-i", datasets["holdout"], "--min", "r2=0.5")
    assert code == 2 and "--allow-pickle" in rep["error"]
    code, rep = run("test", "--model", model, "-i", datasets["holdout"], "--min", "r2=0.5", "--allow-pickle")
    assert code == 0
    assert os.path.isfile(model)
