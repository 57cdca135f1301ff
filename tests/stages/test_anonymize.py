import hashlib
import hmac
import os
import subprocess
import sys

import pandas as pd
import pyarrow.parquet as pq
import pytest


def listing(directory):
    return sorted(os.listdir(directory)) if os.path.isdir(directory) else []


def _hmac(key, value):
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()[:32]


def test_anonymize_csv(run, datasets, aes_key, tmp_path):
    out = tmp_path / "out" / "anon.csv"
    code, rep = run("anonymize", "-i", datasets["train"], "--columns", "imsi,msisdn,cell_id", "-o", out)
    assert code == 0 and rep["changed"] is True
    src = pd.read_csv(datasets["train"], dtype=str)
    dst = pd.read_csv(out, dtype=str)
    assert len(dst) == len(src) == 2000
    for col in ("imsi", "msisdn", "cell_id"):
        assert dst[col].str.match(r"^[0-9a-f]{32}$").all()
        # deterministic per value, keyed, leading zeros of IMSIs are part of the value
        assert dst[col].iloc[0] == _hmac(aes_key, src[col].iloc[0])
        assert dst[col].nunique() == src[col].nunique()
    for col in ("rsrp", "sinr", "throughput_mbps", "timestamp"):
        assert (dst[col] == src[col]).all()
    cols = rep["result"]["columns_changed"]
    assert cols["imsi"]["rows_changed"] == 2000 and cols["cell_id"]["distinct_values"] == src["cell_id"].nunique()
    assert rep["result"]["key_id"] == rep["params"]["key_id"]
    text = open(rep["run_dir"] + "/report.json").read() + open(str(out) + ".meta.json").read()
    assert aes_key.hex() not in text


def test_anonymize_parquet_keeps_format_and_nulls(run, datasets, aes_key, tmp_path):
    df = pd.read_parquet(datasets["train_pq"])
    df.loc[0:4, "msisdn"] = None
    src = tmp_path / "with_nulls.parquet"
    df.to_parquet(src, index=False)
    code, rep = run("anonymize", "-i", src, "--columns", "msisdn")
    assert code == 0
    art = rep["outputs"][0]
    assert art["name"] == "with_nulls.anon.parquet"
    got = pq.read_table(art["path"]).to_pandas()
    assert got["msisdn"].iloc[0:5].isna().all()
    assert rep["result"]["columns_changed"]["msisdn"] == {"rows_changed": 1995, "rows_missing": 5,
                                                          "distinct_values": df["msisdn"].nunique()}
    assert (got["imsi"] == df["imsi"]).all()


def test_anonymize_missing_column_leaves_nothing(run, datasets, aes_key, tmp_path):
    out = tmp_path / "out"
    code, rep = run("anonymize", "-i", datasets["train"], "--columns", "imsi,imei", "-o", str(out) + "/")
    assert code == 2
    assert "missing column(s) imei" in rep["error"] and "available: timestamp" in rep["error"]
    assert listing(out) == []
    assert run.run_dirs() == ([], [])


@pytest.mark.parametrize("kind", ["csv", "parquet"])
def test_anonymize_truncated_file_is_a_clear_error(run, datasets, aes_key, tmp_path, kind):
    src = datasets["train"] if kind == "csv" else datasets["train_pq"]
    raw = open(src, "rb").read()
    cut = tmp_path / ("cut." + kind)
    cut.write_bytes(raw[: int(len(raw) * 0.6)])
    out = tmp_path / "out"
    code, rep = run("anonymize", "-i", cut, "-o", str(out) + "/")
    assert code == 2 and rep["error_kind"] == "input"
    assert ("corrupt CSV" if kind == "csv" else "corrupt Parquet") in rep["error"]
    assert listing(out) == [] and run.run_dirs() == ([], [])


def test_anonymize_without_key(run, datasets, monkeypatch, tmp_path):
    monkeypatch.delenv("HX_STAGE_KEY", raising=False)
    code, rep = run("anonymize", "-i", datasets["train"])
    assert code == 2 and rep["error_kind"] == "key"
    assert "HX_STAGE_KEY" in rep["error"]


def test_anonymize_key_file_and_process_argv(datasets, tmp_path):
    """As a real process: the key comes from a file, never appears in argv or the output."""
    key = os.urandom(32)
    key_file = tmp_path / "anon.key"
    key_file.write_text(key.hex())
    key_file.chmod(0o600)
    env = {k: v for k, v in os.environ.items() if k != "HX_STAGE_KEY"}
    argv = [sys.executable, "-m", "hx_stages", "anonymize", "-i", datasets["holdout"], "--key-file", str(key_file),
            "--runs-dir", str(tmp_path / "runs"), "--log-level", "DEBUG"]
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert key.hex() not in proc.stdout + proc.stderr + " ".join(argv)
    src = pd.read_csv(datasets["holdout"], dtype=str)
    import json
    rep = json.loads(proc.stdout.strip().splitlines()[-1])
    dst = pd.read_csv(rep["outputs"][0]["path"], dtype=str)
    assert dst["imsi"].iloc[3] == _hmac(key, src["imsi"].iloc[3])
