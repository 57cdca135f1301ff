"""The catalog read path (hx_sharing.catalog): same documents as the pydantic models, and a cache
that never serves an answer older than a change committed before the request, whoever wrote it."""

from __future__ import annotations

import asyncio
import json
import os

import httpx
import psycopg

from .helpers import publish_dataset, publish_model

API = "/api/v1"


def _pg(stack):
    return psycopg.connect(stack.db_url.replace("postgresql+psycopg", "postgresql"), autocommit=True)


def test_catalog_documents_equal_the_metadata_documents(stack, unique):
    """Catalog rows are serialised by orjson from SQL rows; /data by pydantic from ORM rows: same JSON."""
    params = {"nested": {"a": [1, 2.5, None, True]}, "unicode": "mñö ✓", "quote": 'a"b\\c', "big": 2**53}
    with stack.model_client() as c:
        for i, version in enumerate(["1.0.0", "1.1.0", "2.0.0-rc.1"]):
            r = publish_model(c, unique, version, os.urandom(100 + i), parameters=json.dumps(params),
                              characteristics=json.dumps({"acc": i / 3}))  # fmt: skip
            assert r.status_code == 200, r.text
        listed = c.get(f"{API}/model_catalog", params={"name": unique, "status": ""}).json()["models"]
        assert [m["version"] for m in listed] == ["1.0.0", "1.1.0", "2.0.0-rc.1"]
        for m in listed:
            assert m == c.get(f"{API}/model/{m['modelIdentifier']}/data", params={"version": m["version"]}).json()
        assert listed[0]["parameters"] == params
        latest = c.get(f"{API}/model_catalog", params={"name": unique, "status": "", "version": "latest"}).json()
        assert [m["version"] for m in latest["models"]] == ["2.0.0-rc.1"]  # SemVer precedence
        page = c.get(f"{API}/model_catalog", params={"name": unique, "status": "", "limit": 1, "offset": 1}).json()
        assert [m["version"] for m in page["models"]] == ["1.1.0"]
    with stack.dataset_client() as c:
        r = publish_dataset(c, unique, "1.0.0", os.urandom(300), b"schema", parameters=json.dumps(params))
        assert r.status_code == 200, r.text
        (d,) = c.get(f"{API}/dataset_catalog", params={"name": unique}).json()["datasets"]
        assert d == c.get(f"{API}/dataset/{d['datasetIdentifier']}/data").json()
        assert d["parameters"] == params


def test_cached_answer_follows_writes_from_any_writer(stack, unique):
    with stack.model_client() as c:
        mid = publish_model(c, unique, "1.0.0", b"one").json()["modelIdentifier"]
        q = {"name": unique, "status": ""}
        first = c.get(f"{API}/model_catalog", params=q).json()["models"]
        assert c.get(f"{API}/model_catalog", params=q).json()["models"] == first  # served again (cache)
        # another replica, the CLI or a restore writes straight into PostgreSQL
        with _pg(stack) as conn:
            conn.execute("UPDATE model SET tag = 'changed-outside' WHERE id = %s", (mid,))
        assert c.get(f"{API}/model_catalog", params=q).json()["models"][0]["tag"] == "changed-outside"
        # the API's own writes: status change, new version, delete
        assert c.patch(f"{API}/model/{mid}/status", json={"status": "staging"}).status_code == 200
        assert c.get(f"{API}/model_catalog", params=q).json()["models"][0]["status"] == "staging"
        assert publish_model(c, unique, "1.1.0", b"two").status_code == 200
        assert len(c.get(f"{API}/model_catalog", params=q).json()["models"]) == 2
        assert c.delete(f"{API}/model/{mid}", params={"version": "1.0.0"}).status_code == 200
        assert [m["version"] for m in c.get(f"{API}/model_catalog", params=q).json()["models"]] == ["1.1.0"]
        with _pg(stack) as conn:  # TRUNCATE bumps the generation too (a statement-level trigger)
            gen0 = conn.execute("SELECT generation FROM catalog_generation WHERE kind = 'dataset'").fetchone()[0]
            conn.execute("CREATE TEMP TABLE keep AS SELECT * FROM dataset")
            conn.execute("TRUNCATE dataset")
            conn.execute("INSERT INTO dataset SELECT * FROM keep")
            gen1 = conn.execute("SELECT generation FROM catalog_generation WHERE kind = 'dataset'").fetchone()[0]
        assert gen1 == gen0 + 2


def test_concurrent_readers_see_every_committed_change(stack, unique):
    """Requests sent after a commit never get an answer cached before it, under concurrency
    (they share generation reads: a read serves only requests that arrived before it started)."""

    async def run() -> None:
        async with httpx.AsyncClient(base_url=stack.model.url, headers=stack.headers(), timeout=60) as c:
            mid = None
            for i in range(8):
                status = ["staging", "production"][i % 2]
                if mid is None:
                    data = {"name": unique, "version": "1.0.0", "status": status, "library": "torch",
                            "libraryVersion": "2.4", "domain": "d", "tag": "t"}  # fmt: skip
                    r = await c.post(f"{API}/model", data=data, files={"file": ("m.bin", b"m")})
                    assert r.status_code == 200, r.text
                    mid = r.json()["modelIdentifier"]
                else:
                    r = await c.patch(f"{API}/model/{mid}/status", json={"status": status})
                    assert r.status_code == 200, r.text
                answers = await asyncio.gather(
                    *(c.get(f"{API}/model_catalog", params={"name": unique, "status": ""}) for _ in range(25))
                )
                assert {a.json()["models"][0]["status"] for a in answers} == {status}

    asyncio.run(run())


def test_catalog_without_cache_gives_the_same_answers(stack, unique):
    from hx_sharing.model_service import build_app

    from .conftest import LiveServer

    settings = stack.settings.model_copy(update={"catalog_cache_bytes": 0, "catalog_connections": 1})
    server = LiveServer(build_app(settings)).start()
    try:
        with stack.model_client() as c:
            publish_model(c, unique, "1.0.0", b"a")
            cached = c.get(f"{API}/model_catalog", params={"name": unique}).json()
        with httpx.Client(base_url=server.url, headers=stack.headers(), timeout=30) as c:
            assert c.get(f"{API}/model_catalog", params={"name": unique}).json() == cached
            assert c.get(f"{API}/model_catalog", params={"name": unique, "tag": "nope"}).json() == {"models": []}
    finally:
        server.stop()
