"""Authentication (401), authorization by scope (403), and the OpenAPI security declaration."""

from __future__ import annotations

import httpx
import pytest
from hx_sharing import clients
from hx_sharing.db import Database

from .helpers import model_form, publish_dataset, publish_model

API = "/api/v1"

MODEL_READS = [
    ("GET", "/model_catalog"),
    ("GET", "/model/by_id/1"),
    ("GET", "/model/1/data"),
    ("GET", "/model/1/status"),
]
MODEL_WRITES = [("DELETE", "/model/1?version=1"), ("PATCH", "/model/1/status")]
DATASET_READS = [("GET", "/dataset_catalog"), ("GET", "/dataset/by_id/1"), ("GET", "/dataset/1/data")]
DATASET_WRITES = [("DELETE", "/dataset/1?version=1")]


def _call(base: str, method: str, path: str, token: str | None):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    kw = {"json": {"status": "staging"}} if method == "PATCH" else {}
    return httpx.request(method, f"{base}{API}{path}", headers=headers, timeout=30, **kw)


@pytest.mark.parametrize("method,path", MODEL_READS + MODEL_WRITES + [("POST", "/model")])
def test_model_routes_need_a_token(stack, method, path):
    r = _call(stack.model.url, method, path, None)
    assert r.status_code == 401
    assert r.headers["www-authenticate"].startswith("Bearer")
    assert _call(stack.model.url, method, path, "hxs_not-a-real-token-but-long-enough-000").status_code == 401


@pytest.mark.parametrize("method,path", DATASET_READS + DATASET_WRITES + [("POST", "/dataset")])
def test_dataset_routes_need_a_token(stack, method, path):
    assert _call(stack.dataset.url, method, path, None).status_code == 401


@pytest.mark.parametrize("method,path", MODEL_WRITES)
def test_model_reader_cannot_write(stack, method, path):
    r = _call(stack.model.url, method, path, stack.tokens["model-reader"])
    assert r.status_code == 403
    assert 'error="insufficient_scope"' in r.headers["www-authenticate"]


@pytest.mark.parametrize("method,path", MODEL_READS)
def test_dataset_reader_cannot_read_models(stack, method, path):
    assert _call(stack.model.url, method, path, stack.tokens["dataset-reader"]).status_code == 403


@pytest.mark.parametrize("method,path", DATASET_READS + DATASET_WRITES)
def test_model_clients_cannot_touch_datasets(stack, method, path):
    assert _call(stack.dataset.url, method, path, stack.tokens["model-writer"]).status_code == 403


def test_uploads_are_refused_before_the_body_is_stored(stack, unique):
    with stack.model_client("model-reader") as c:
        assert publish_model(c, unique, "1.0.0", b"x").status_code == 403
    with stack.dataset_client("dataset-reader") as c:
        assert publish_dataset(c, unique, "1.0.0", b"x", b"y").status_code == 403
    with stack.model_client() as c:
        assert c.get(f"{API}/model_catalog", params={"name": unique, "status": ""}).json() == {"models": []}


def test_reader_can_read_and_writer_can_publish(stack, unique):
    with stack.model_client("model-writer") as w, stack.model_client("model-reader") as r:
        mid = publish_model(w, unique, "1.0.0", b"x").json()["modelIdentifier"]
        assert r.get(f"{API}/model/by_id/{mid}").content == b"x"


def test_revoked_and_rotated_tokens_stop_working(stack, unique):
    db = Database(stack.settings)
    try:
        token = clients.create_client(db, unique, ["read:model"])
        assert _call(stack.model.url, "GET", "/model_catalog", token).status_code == 200
        new = clients.rotate_client(db, unique)
        assert _call(stack.model.url, "GET", "/model_catalog", token).status_code == 401
        assert _call(stack.model.url, "GET", "/model_catalog", new).status_code == 200
        clients.revoke_client(db, unique)
        assert _call(stack.model.url, "GET", "/model_catalog", new).status_code == 401
    finally:
        db.dispose()


def test_tokens_are_stored_hashed(stack):
    import psycopg

    with psycopg.connect(stack.db_url.replace("postgresql+psycopg", "postgresql")) as conn:
        stored = [row[0] for row in conn.execute("SELECT token_hash FROM sharing_client")]
    for token in stack.tokens.values():
        assert token not in stored
        assert all(len(h) == 64 for h in stored)


def test_openapi_declares_bearer_scheme_and_scopes(stack):
    spec = httpx.get(f"{stack.model.url}/openapi.json").json()
    assert spec["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    assert spec["paths"]["/api/v1/model_catalog"]["get"]["security"] == [{"bearerAuth": ["read:model"]}]
    assert spec["paths"]["/api/v1/model"]["post"]["security"] == [{"bearerAuth": ["write:model"]}]
    assert "security" not in spec["paths"]["/api/v1/health"]["get"]
    dspec = httpx.get(f"{stack.dataset.url}/openapi.json").json()
    assert dspec["paths"]["/api/v1/dataset"]["post"]["security"] == [{"bearerAuth": ["write:dataset"]}]
    assert httpx.get(f"{stack.model.url}/docs").status_code == 200


def test_form_helper_is_reference_shaped():
    assert set(model_form("n", "1")) == {
        "name",
        "version",
        "status",
        "library",
        "libraryVersion",
        "domain",
        "tag",
        "parameters",
        "characteristics",
    }


def test_concurrent_lookups_of_one_token_share_one_query():
    """When a cached token expires under load, the requests carrying it wait for one lookup."""
    import asyncio
    import threading
    import time
    from types import SimpleNamespace

    from hx_sharing.auth import Principal, TokenCache, _lookup

    calls = []

    class SlowDb:
        def read(self, fn):
            calls.append(threading.get_ident())
            time.sleep(0.05)
            return Principal("peer", frozenset({"read:model"}))

    state = SimpleNamespace(db=SlowDb(), token_cache=TokenCache(0), token_lookups={})

    async def run():
        first = await asyncio.gather(*(_lookup(state, "h1") for _ in range(20)), _lookup(state, "h2"))
        again = await _lookup(state, "h1")  # after the first lookup finished: a new query
        return first, again

    first, again = asyncio.run(run())
    assert {p.name for p in first} == {"peer"} and again.name == "peer"
    assert len(calls) == 3  # h1 once for 20 callers, h2 once, h1 again later
    assert state.token_lookups == {}
