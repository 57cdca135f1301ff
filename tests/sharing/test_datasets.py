"""Dataset Sharing API: routes, wire format, streamed deterministic zip with digest, immutability."""

from __future__ import annotations

import io
import os
import zipfile

import httpx

from .helpers import bucket_keys, publish_dataset, sha256

API = "/api/v1"


def test_health(stack):
    r = httpx.get(f"{stack.dataset.url}{API}/health")
    assert r.status_code == 200 and r.json() == {"status": "UP"}


def test_publish_and_download_zip(stack, unique):
    ds, dm = os.urandom(9 * 1024 * 1024 + 7), b'{"columns": ["date", "node_1"]}'  # ranged reads
    with stack.dataset_client() as c:
        r = publish_dataset(c, unique, "1.0.0", ds, dm)
        assert r.status_code == 200, r.text
        meta = r.json()
        assert isinstance(meta["datasetIdentifier"], int)
        assert meta["dataType"] == "synthetic" and meta["tag"] == "timeseries"
        assert meta["dataset"] == {"size": len(ds), "sha256": sha256(ds)}
        assert meta["dataModel"] == {"size": len(dm), "sha256": sha256(dm)}
        z = c.get(f"{API}/dataset/by_id/{meta['datasetIdentifier']}")
    assert z.status_code == 200
    assert z.headers["content-type"] == "application/zip"
    # the digest and size announced up front are those of the bytes sent
    assert z.headers["x-content-sha256"] == sha256(z.content) == meta["sha256"]
    assert int(z.headers["content-length"]) == len(z.content) == meta["size"]
    with zipfile.ZipFile(io.BytesIO(z.content)) as zf:
        assert zf.testzip() is None
        assert sorted(zf.namelist()) == ["dataModel", "dataset"]
        assert zf.read("dataset") == ds and zf.read("dataModel") == dm


def test_zip_follows_upload_order_either_way(stack, unique):
    # a dataset of more than one part first: its digests are still being computed off the event
    # loop when the data model's zip header arrives, and the zip's SHA-256 must keep the order
    ds, dm = os.urandom(9 * 1024 * 1024 + 3), b"m" * 10
    with stack.dataset_client() as c:
        r = c.post(
            f"{API}/dataset",
            data={"name": unique, "version": "1", "dataType": "mixed", "tag": "t", "parameters": "{}"},
            files={"datasetFile": ("ds", ds), "dataModelFile": ("dm", dm)},  # dataset first this time
        )
        assert r.status_code == 200, r.text
        z = c.get(f"{API}/dataset/by_id/{r.json()['datasetIdentifier']}")
    assert sha256(z.content) == r.json()["sha256"]
    assert zipfile.ZipFile(io.BytesIO(z.content)).namelist() == ["dataset", "dataModel"]


def test_catalog_data_latest_and_delete(stack, unique):
    s3 = stack.s3()
    with stack.dataset_client() as c:
        ids = {}
        for v, t in (("1.0.0", "production"), ("1.10.0", "synthetic"), ("1.9.0", "mixed")):
            ids[v] = publish_dataset(c, unique, v, v.encode(), b"dm", data_type=t).json()["datasetIdentifier"]
        allv = c.get(f"{API}/dataset_catalog", params={"name": unique}).json()["datasets"]
        synth = c.get(f"{API}/dataset_catalog", params={"name": unique, "dataType": "synthetic"}).json()
        empty = c.get(f"{API}/dataset_catalog", params={"name": unique, "dataType": "", "tag": ""}).json()
        latest = c.get(f"{API}/dataset/{ids['1.0.0']}/data").json()
        before = set(bucket_keys(s3, stack.settings.dataset_bucket))
        d = c.delete(f"{API}/dataset/{ids['1.9.0']}", params={"version": "1.9.0"})
        gone = c.get(f"{API}/dataset/{ids['1.9.0']}/data", params={"version": "1.9.0"})
    assert [x["version"] for x in allv] == ["1.0.0", "1.10.0", "1.9.0"]
    assert [x["version"] for x in synth["datasets"]] == ["1.10.0"]
    assert len(empty["datasets"]) == 3
    assert latest["version"] == "1.10.0"
    assert d.status_code == 200 and gone.status_code == 404
    assert len(before - set(bucket_keys(s3, stack.settings.dataset_bucket))) == 2


def test_dataset_immutability(stack, unique):
    with stack.dataset_client() as c:
        a = publish_dataset(c, unique, "1.0.0", b"rows", b"schema")
        b = publish_dataset(c, unique, "1.0.0", b"rows", b"schema")
        x = publish_dataset(c, unique, "1.0.0", b"rows", b"schema-v2")
        bad_type = publish_dataset(c, unique, "2.0.0", b"rows", b"schema", data_type="real")
        one_file = c.post(
            f"{API}/dataset",
            data={"name": unique, "version": "3", "dataType": "mixed", "tag": "t"},
            files={"datasetFile": ("ds", b"x")},
        )
    assert a.status_code == 200 and b.status_code == 200 and b.json() == a.json()
    assert x.status_code == 409
    assert bad_type.status_code == 422
    assert one_file.status_code == 422
