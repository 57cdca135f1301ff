"""Small helpers shared by the sharing tests."""

from __future__ import annotations

import hashlib
import json

import httpx


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def model_form(name: str, version: str, status: str = "production", **over) -> dict[str, str]:
    form = {
        "name": name,
        "version": version,
        "status": status,
        "library": "scikit_learn",
        "libraryVersion": "1.5.2",
        "domain": "classification",
        "tag": "network_alarms",
        "parameters": json.dumps({"batch_size": "50"}),
        "characteristics": json.dumps({"accuracy": "0.86"}),
    }
    form.update(over)
    return form


def publish_model(c: httpx.Client, name: str, version: str, data: bytes, **over) -> httpx.Response:
    return c.post("/api/v1/model", data=model_form(name, version, **over), files={"file": ("m.pkl", data)})


def dataset_form(name: str, version: str, data_type: str = "synthetic", **over) -> dict[str, str]:
    form = {
        "name": name,
        "version": version,
        "dataType": data_type,
        "tag": "timeseries",
        "parameters": json.dumps({"rows": "5000"}),
    }
    form.update(over)
    return form


def publish_dataset(c: httpx.Client, name: str, version: str, dataset: bytes, data_model: bytes, **over):
    return c.post(
        "/api/v1/dataset",
        data=dataset_form(name, version, **over),
        files={"dataModelFile": ("dm.json", data_model), "datasetFile": ("ds.csv", dataset)},
    )


def bucket_keys(s3, bucket: str) -> list[str]:
    keys = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        keys += [o["Key"] for o in page.get("Contents", [])]
    return keys


def open_multipart_uploads(s3, bucket: str) -> list[str]:
    return [u["Key"] for u in s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])]
