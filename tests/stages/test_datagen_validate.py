import os

import pandas as pd
from hx_stages import datagen
from hx_stages.util import sha256_file


def test_datagen_is_deterministic(run, tmp_path):
    a, b, c = tmp_path / "a.csv", tmp_path / "b.csv", tmp_path / "c.csv"
    assert run("datagen", "--rows", 500, "--seed", 7, "--output", a)[0] == 0
    # a different runs dir forces a real second computation
    assert run("datagen", "--runs-dir", tmp_path / "other", "--rows", 500, "--seed", 7, "--output", b)[0] == 0
    assert run("datagen", "--rows", 500, "--seed", 8, "--output", c)[0] == 0
    assert sha256_file(a) == sha256_file(b)
    assert sha256_file(a) != sha256_file(c)
    df = pd.read_csv(a, dtype={"imsi": str})
    assert list(df.columns) == datagen.COLUMNS and len(df) == 500
    assert df["imsi"].str.match(r"^00101\d{10}$").all()  # leading zeros survive
    assert df["rsrp"].between(-140, -44).all() and df["cqi"].between(0, 15).all()


def test_validate_passes_on_same_distribution(run, datasets):
    code, rep = run("validate", "-i", datasets["holdout"], "--schema", "builtin:telco-kpi",
                    "--reference", datasets["train"])
    assert code == 0 and rep["passed"] is True
    assert rep["result"]["failed"] == []
    assert set(rep["result"]["drift"]) >= {"rsrp", "sinr", "load", "throughput_mbps"}
    assert "cell_id" not in rep["result"]["drift"]  # identifiers are not drift-checked


def test_validate_detects_drift(run, datasets):
    code, rep = run("validate", "-i", datasets["drift"], "--schema", "builtin:telco-kpi",
                    "--reference", datasets["train"])
    assert code == 1 and rep["passed"] is False
    drifted = {f["column"] for f in rep["result"]["failed"] if f["check"] == "drift"}
    assert {"load", "sinr"} <= drifted
    assert rep["result"]["drift"]["load"]["psi"] > 0.25


def test_validate_reports_missing_values_ranges_and_columns(run, datasets, tmp_path):
    df = pd.read_csv(datasets["holdout"], dtype={"imsi": str, "msisdn": str})
    df.loc[0:9, "sinr"] = None
    df.loc[20, "rsrp"] = 12.0
    df = df.drop(columns=["cqi"])
    bad = tmp_path / "bad.csv"
    df.to_csv(bad, index=False)
    code, rep = run("validate", "-i", bad, "--schema", "builtin:telco-kpi")
    assert code == 1
    failed = {(f["check"], f["column"]) for f in rep["result"]["failed"]}
    assert failed == {("missing", "sinr"), ("range", "rsrp"), ("present", "cqi")}
    rng = next(f for f in rep["result"]["failed"] if f["check"] == "range")
    assert rng["out_of_range"] == 1 and rng["observed_max"] == 12.0


def test_validate_with_schema_file_and_type_check(run, datasets, tmp_path):
    schema = tmp_path / "schema.json"
    schema.write_text('{"columns": {"rat": {"type": "int"}, "load": {"type": "float", "min": 0, "max": 1}}}')
    code, rep = run("validate", "-i", datasets["holdout"], "--schema", schema)
    assert code == 1
    assert [(f["check"], f["column"]) for f in rep["result"]["failed"]] == [("type", "rat")]
    assert rep["inputs"]["schema"]["sha256"]  # the schema is an input: it is part of the run key


def test_validate_corrupt_input_is_an_error(run, datasets, tmp_path):
    raw = open(datasets["holdout"], "rb").read()
    cut = tmp_path / "cut.csv"
    cut.write_bytes(raw[: len(raw) // 2])
    code, rep = run("validate", "-i", cut, "--schema", "builtin:telco-kpi")
    assert code == 2 and rep["failed"] is True
    assert "corrupt CSV" in rep["error"] and "cut.csv" in rep["error"]
    complete, leftovers = run.run_dirs()
    assert complete == [] and leftovers == []


def test_validate_unknown_builtin_schema(run, datasets):
    code, rep = run("validate", "-i", datasets["holdout"], "--schema", "builtin:nope")
    assert code == 2 and "valid: telco-kpi" in rep["error"]
    assert os.path.exists(datasets["holdout"])
