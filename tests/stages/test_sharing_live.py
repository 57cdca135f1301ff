"""The stages against the real Model and Dataset Sharing APIs (hx_sharing on a real PostgreSQL and
MinIO, the fixtures of tests/sharing): publish, read back by id, gate a model fetched by id."""

import json
import os
import sys

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

try:
    import hx_sharing  # noqa: F401 - installed by `make setup` (pip install -e sharing_services)
except ImportError:  # a missing prerequisite fails loudly, it never skips
    pytest.fail("hx_sharing is not installed: run `make setup` (or .venv/bin/pip install -e sharing_services)",
                pytrace=False)

from tests.sharing.conftest import minio, postgres, stack  # noqa: E402,F401 - fixtures


@pytest.fixture
def live(stack, monkeypatch):  # noqa: F811
    monkeypatch.setenv("HX_SHARING_TOKEN", stack.tokens["admin"])
    monkeypatch.setenv("HX_DATASET_API_URL", stack.dataset.url)
    monkeypatch.setenv("HX_MODEL_API_URL", stack.model.url)
    return stack


def test_stages_round_trip_through_the_sharing_apis(run, datasets, aes_key, live):
    name = "kpi-anon-{}".format(os.getpid())
    code, anon = run("anonymize", "-i", datasets["holdout"], "--publish", "--publish-name", name,
                     "--publish-version", "1.0.0", "--domain", "vendor")
    assert code == 0, anon
    ds_id = anon["published"]["response"]["datasetIdentifier"]
    assert isinstance(ds_id, int)
    code, again = run("anonymize", "-i", datasets["holdout"], "--publish", "--publish-name", name,
                      "--publish-version", "1.0.0")
    assert again["changed"] is False and again["published"]["changed"] is False

    code, val = run("validate", "-i", "dataset:{}@1.0.0".format(ds_id), "--schema", "builtin:telco-kpi")
    assert code == 0, val
    assert val["inputs"]["data"]["sha256"] == anon["outputs"][0]["sha256"]  # same bytes came back

    model_name = "qoe-{}".format(os.getpid())
    code, tr = run("train", "-i", datasets["train"], "--publish", "--publish-name", model_name,
                   "--publish-version", "0.1.0", "--model-status", "staging", "--domain", "vendor")
    assert code == 0, tr
    model_id = tr["published"]["response"]["modelIdentifier"]
    with live.model_client() as c:
        meta = c.get("/api/v1/model/{}/data".format(model_id)).json()
    ch = meta["characteristics"] if isinstance(meta["characteristics"], dict) else json.loads(meta["characteristics"])
    assert ch["energy"]["method"] in ("measured", "estimated") and ch["energy"]["joules"] > 0
    assert ch["metrics"] == tr["result"]["metrics"]

    code, gate = run("test", "--model", "model:{}".format(model_id), "-i", datasets["holdout"], "--min", "r2=0.7")
    assert code == 0, gate
    assert gate["inputs"]["model"]["sha256"] == tr["outputs"][0]["sha256"]


def test_wrong_scope_is_a_clear_error(run, datasets, live, monkeypatch):
    monkeypatch.setenv("HX_SHARING_TOKEN", live.tokens["dataset-reader"])
    code, rep = run("train", "-i", datasets["train"], "--publish", "--publish-name", "nope-{}".format(os.getpid()))
    assert code == 2 and rep["error_kind"] == "sharing" and "HTTP 403" in rep["error"]
