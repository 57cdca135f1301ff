"""Model Sharing API: routes and wire format (reference-compatible), latest, immutability, status."""

from __future__ import annotations

import base64
import os

from .helpers import bucket_keys, model_form, publish_model, sha256

API = "/api/v1"


def test_health_is_exactly_up_and_needs_no_token(stack):
    import httpx

    r = httpx.get(f"{stack.model.url}{API}/health")
    assert r.status_code == 200
    assert r.json() == {"status": "UP"}  # the reference client compares the whole body


def test_publish_returns_reference_fields_in_camel_case(stack, unique):
    data = os.urandom(4096)
    with stack.model_client() as c:
        r = publish_model(c, unique, "1.0.0", data)
    assert r.status_code == 200, r.text
    body = r.json()
    assert isinstance(body["modelIdentifier"], int)
    for key in ("name", "version", "status", "library", "libraryVersion", "domain", "tag"):
        assert key in body
    assert body["name"] == unique and body["libraryVersion"] == "1.5.2"
    assert body["parameters"] == {"batch_size": "50"} and body["characteristics"] == {"accuracy": "0.86"}
    assert body["sha256"] == sha256(data) and body["size"] == 4096
    assert body["createdBy"] == "admin" and body["statusChangedBy"] == "admin"


def test_all_four_statuses_accepted_and_others_refused(stack, unique):
    with stack.model_client() as c:
        for i, status in enumerate(["training", "development", "staging", "production"]):
            assert publish_model(c, unique, f"0.{i}.0", b"x%d" % i, status=status).status_code == 200
        r = publish_model(c, unique, "9.9.9", b"y", status="archived")
        assert r.status_code == 422


def test_download_streams_file_with_digest_headers(stack, unique):
    data = os.urandom(200_000)
    with stack.model_client() as c:
        mid = publish_model(c, unique, "1.0.0", data).json()["modelIdentifier"]
        r = c.get(f"{API}/model/by_id/{mid}", params={"version": "1.0.0"})
    assert r.status_code == 200
    assert r.content == data
    assert r.headers["content-type"] == "application/octet-stream"
    assert r.headers["x-content-sha256"] == sha256(data)
    digest = base64.b64encode(bytes.fromhex(sha256(data))).decode()
    assert r.headers["digest"] == f"sha-256={digest}"
    assert r.headers["content-length"] == str(len(data))


def test_latest_is_semver_aware(stack, unique):
    versions = ["1.2.0", "1.10.0", "1.9.3", "1.10.0-rc.1", "v0.9"]
    with stack.model_client() as c:
        ids = {v: publish_model(c, unique, v, v.encode()).json()["modelIdentifier"] for v in versions}
        any_id = ids["1.2.0"]
        r = c.get(f"{API}/model/by_id/{any_id}")  # version defaults to latest
        assert r.status_code == 200 and r.content == b"1.10.0"  # not "1.9.3" (string order), not the rc
        meta = c.get(f"{API}/model/{any_id}/data").json()
        assert meta["version"] == "1.10.0" and meta["modelIdentifier"] == ids["1.10.0"]
        # an explicit version selects within the same model name
        assert c.get(f"{API}/model/by_id/{any_id}", params={"version": "1.9.3"}).content == b"1.9.3"
        assert c.get(f"{API}/model/{any_id}/data", params={"version": "2.0.0"}).status_code == 404
        # catalog: version=latest keeps the newest per name
        cat = c.get(f"{API}/model_catalog", params={"name": unique, "version": "latest"}).json()["models"]
        assert [m["version"] for m in cat] == ["1.10.0"]


def test_same_bytes_is_a_noop_and_different_bytes_conflict(stack, unique):
    with stack.model_client() as c:
        first = publish_model(c, unique, "1.0.0", b"original")
        again = publish_model(c, unique, "1.0.0", b"original", tag="another-tag")
        clash = publish_model(c, unique, "1.0.0", b"tampered")
        listed = c.get(f"{API}/model_catalog", params={"name": unique}).json()["models"]
    assert first.status_code == 200 and again.status_code == 200
    assert again.json() == first.json()  # the existing record, unchanged
    assert clash.status_code == 409
    assert len(listed) == 1 and listed[0]["sha256"] == sha256(b"original")
    # only one object stored for that version: duplicates and conflicts leave nothing behind
    key_count = len([k for k in bucket_keys(stack.s3(), stack.settings.model_bucket)])
    with stack.model_client() as c:
        publish_model(c, unique, "1.0.0", b"original")
        publish_model(c, unique, "1.0.0", b"tampered")
    assert len(bucket_keys(stack.s3(), stack.settings.model_bucket)) == key_count


def test_latest_is_not_a_valid_version_name(stack, unique):
    with stack.model_client() as c:
        assert publish_model(c, unique, "latest", b"x").status_code == 422


def test_catalog_filters_default_to_production_and_empty_means_all(stack, unique):
    with stack.model_client() as c:
        publish_model(c, unique, "1.0.0", b"a", status="production", domain="d1")
        publish_model(c, unique, "1.1.0", b"b", status="staging", domain="d1")
        publish_model(c, unique, "1.2.0", b"c", status="training", domain="d2")
        default = c.get(f"{API}/model_catalog", params={"name": unique}).json()["models"]
        staging = c.get(f"{API}/model_catalog", params={"name": unique, "status": "staging"}).json()["models"]
        # the reference MNO pipeline sends every filter, empty when unset
        everything = c.get(
            f"{API}/model_catalog",
            params={"domain": "", "tag": "", "status": "", "name": unique, "version": ""},
        ).json()["models"]
        d2 = c.get(f"{API}/model_catalog", params={"name": unique, "status": "", "domain": "d2"}).json()["models"]
        none = c.get(f"{API}/model_catalog", params={"name": unique + "-nope"})
    assert [m["version"] for m in default] == ["1.0.0"]
    assert [m["version"] for m in staging] == ["1.1.0"]
    assert [m["version"] for m in everything] == ["1.0.0", "1.1.0", "1.2.0"]
    assert [m["version"] for m in d2] == ["1.2.0"]
    assert none.status_code == 200 and none.json() == {"models": []}


def test_delete_removes_row_and_object(stack, unique):
    s3 = stack.s3()
    with stack.model_client() as c:
        meta = publish_model(c, unique, "1.0.0", b"bye").json()
        keys_before = set(bucket_keys(s3, stack.settings.model_bucket))
        assert c.delete(f"{API}/model/{meta['modelIdentifier']}").status_code == 422  # version required
        assert c.delete(f"{API}/model/{meta['modelIdentifier']}", params={"version": "latest"}).status_code == 422
        r = c.delete(f"{API}/model/{meta['modelIdentifier']}", params={"version": "1.0.0"})
        assert r.status_code == 200 and r.json()["name"] == unique
        assert c.get(f"{API}/model/{meta['modelIdentifier']}/data").status_code == 404
        assert c.get(f"{API}/model/by_id/{meta['modelIdentifier']}").status_code == 404
        assert c.delete(f"{API}/model/{meta['modelIdentifier']}", params={"version": "1.0.0"}).status_code == 404
    assert len(keys_before - set(bucket_keys(s3, stack.settings.model_bucket))) == 1


def test_status_change_records_who_and_when(stack, unique):
    with stack.model_client("admin") as admin, stack.model_client("model-writer") as writer:
        meta = publish_model(admin, unique, "1.0.0", b"m", status="training").json()
        mid = meta["modelIdentifier"]
        r = writer.patch(f"{API}/model/{mid}/status", json={"status": "staging", "comment": "passed eval"})
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "staging" and r.json()["statusChangedBy"] == "model-writer"
        assert r.json()["statusChangedAt"] >= meta["statusChangedAt"]
        writer.patch(f"{API}/model/{mid}/status", json={"status": "production"})
        hist = writer.get(f"{API}/model/{mid}/status").json()
        assert writer.patch(f"{API}/model/{mid}/status", json={"status": "retired"}).status_code == 422
        prod = writer.get(f"{API}/model_catalog", params={"name": unique}).json()["models"]
    assert [(e["fromStatus"], e["toStatus"], e["changedBy"]) for e in hist["history"]] == [
        (None, "training", "admin"),
        ("training", "staging", "model-writer"),
        ("staging", "production", "model-writer"),
    ]
    assert hist["history"][1]["comment"] == "passed eval"
    assert [m["modelIdentifier"] for m in prod] == [mid]


def test_large_upload_takes_the_multipart_path(stack, unique):
    data = os.urandom(11 * 1024 * 1024)  # 3 parts of 5 MiB, 5 MiB, 1 MiB
    with stack.model_client() as c:
        meta = publish_model(c, unique, "1.0.0", data).json()
        r = c.get(f"{API}/model/by_id/{meta['modelIdentifier']}")
    assert meta["size"] == len(data) and meta["sha256"] == sha256(data)
    assert r.content == data
    obj = stack.s3().head_object(Bucket=stack.settings.model_bucket, Key=_key_of(stack, meta["modelIdentifier"]))
    assert obj["ETag"].strip('"').endswith("-3")  # S3 marks multipart objects with -<parts>


def _key_of(stack, model_id: int) -> str:
    import psycopg

    with psycopg.connect(stack.db_url.replace("postgresql+psycopg", "postgresql")) as conn:
        return conn.execute("SELECT object_key FROM model WHERE id = %s", (model_id,)).fetchone()[0]


def test_malformed_forms_are_client_errors(stack, unique):
    with stack.model_client() as c:
        no_file = c.post(f"{API}/model", data=model_form(unique, "1.0.0"), files={"other": ("x", b"x")})
        bad_json = publish_model(c, unique, "1.0.0", b"x", parameters="{not json")
        not_multipart = c.post(f"{API}/model", json={"name": unique})
        missing = c.post(f"{API}/model", data={"name": unique}, files={"file": ("x", b"x")})
        bad_id = c.get(f"{API}/model/by_id/abc")
        huge_id = c.get(f"{API}/model/{2**40}/data")
    assert no_file.status_code == 422
    assert bad_json.status_code == 422
    assert not_multipart.status_code == 422
    assert missing.status_code == 422
    assert bad_id.status_code == 422 and huge_id.status_code == 422
