"""Object store outage: clear 503s, /health DOWN, and recovery when MinIO returns."""

from __future__ import annotations

import httpx

from tests.fixtures.services import wait_for

from .helpers import publish_dataset, publish_model

API = "/api/v1"


def test_minio_outage_gives_503_and_recovers(stack, unique):
    with stack.model_client() as c:
        mid = publish_model(c, unique, "1.0.0", b"before").json()["modelIdentifier"]
    with stack.dataset_client() as d:
        did = publish_dataset(d, unique, "0.1.0", b"rows", b"schema").json()["datasetIdentifier"]

    stack.minio.stop()
    try:
        for url in (stack.model.url, stack.dataset.url):
            h = httpx.get(f"{url}{API}/health", timeout=30)
            assert h.status_code == 503
            assert h.json() == {"status": "DOWN", "checks": {"database": "UP", "objectStore": "DOWN"}}
        with stack.model_client() as c:
            up = publish_model(c, unique, "2.0.0", b"during")
            down = c.get(f"{API}/model/by_id/{mid}")
            meta = c.get(f"{API}/model/{mid}/data")  # metadata lives in PostgreSQL: still served
            gone = c.delete(f"{API}/model/{mid}", params={"version": "1.0.0"})
        with stack.dataset_client() as d:
            dup = publish_dataset(d, unique, "1.0.0", b"a", b"b")
            dgone = d.delete(f"{API}/dataset/{did}", params={"version": "0.1.0"})
        assert up.status_code == 503 and "object store" in up.json()["detail"]
        assert down.status_code == 503
        assert dup.status_code == 503
        assert meta.status_code == 200
        # a delete that cannot remove the objects keeps the row: nothing points at a missing file
        assert gone.status_code == 503 and dgone.status_code == 503
    finally:
        stack.minio.start()

    stack.wait_healthy(60)
    with stack.model_client() as c:
        assert c.get(f"{API}/model/by_id/{mid}").content == b"before"
        assert publish_model(c, unique, "2.0.0", b"after").status_code == 200
        versions = [m["version"] for m in c.get(f"{API}/model_catalog", params={"name": unique}).json()["models"]]
    assert versions == ["1.0.0", "2.0.0"]  # nothing was half-written during the outage
    with stack.dataset_client() as d:
        assert d.get(f"{API}/dataset/{did}/data").json()["version"] == "0.1.0"
        assert d.get(f"{API}/dataset/by_id/{did}").status_code == 200


def test_database_outage_gives_503_and_recovers(stack, unique):
    stack.pg.stop()
    try:
        h = httpx.get(f"{stack.model.url}{API}/health", timeout=30)
        assert h.status_code == 503 and h.json()["checks"]["database"] == "DOWN"
        with stack.model_client() as c:
            assert c.get(f"{API}/model_catalog").status_code == 503
    finally:
        stack.pg.start()
    stack.wait_healthy(60)
    with stack.model_client() as c:
        assert c.get(f"{API}/model_catalog").status_code == 200


def test_wait_for_helper_times_out():
    import pytest

    with pytest.raises(TimeoutError):
        wait_for(lambda: False, 0.3, "never")
