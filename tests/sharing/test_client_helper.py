"""hx_sharing.client: streaming round trips and digest verification."""

from __future__ import annotations

import os
import zipfile

import httpx
import pytest
from hx_sharing.client import DigestMismatch, SharingClient, SharingError

from .helpers import sha256


def _key(stack, table: str, column: str, ident: int) -> str:
    import psycopg

    with psycopg.connect(stack.db_url.replace("postgresql+psycopg", "postgresql")) as conn:
        return conn.execute(f"SELECT {column} FROM {table} WHERE id = %s", (ident,)).fetchone()[0]  # noqa: S608


# Artifacts travel over http.client ("wire"); with a custom transport or an HTTP proxy they stay on
# httpx. Both paths must give the same results.
PATHS = {"wire": {}, "httpx": {"transport": httpx.HTTPTransport()}}


@pytest.mark.parametrize("path", PATHS)
def test_model_round_trip(stack, unique, tmp_path, path):
    src = tmp_path / "model.bin"
    src.write_bytes(os.urandom(6 * 1024 * 1024 + 7))
    with SharingClient(stack.model.url, stack.tokens["admin"], **PATHS[path]) as c:
        assert c._wire_ok is (path == "wire")
        assert c.health()["status"] == "UP"
        meta = c.upload_model(
            src,
            name=unique,
            version="1.0.0",
            status="staging",
            library="torch",
            libraryVersion="2.4",
            domain="ran",
            tag="t",
            parameters={"a": 1},
        )
        out = tmp_path / "out.bin"
        got = c.download_model(meta["modelIdentifier"], out)
        assert c.model_catalog(name=unique, status="staging")[0]["sha256"] == meta["sha256"]
        c.set_model_status(meta["modelIdentifier"], "production")
        assert c.model_data(meta["modelIdentifier"])["status"] == "production"
    assert out.read_bytes() == src.read_bytes()
    assert got == {"sha256": sha256(src.read_bytes()), "size": src.stat().st_size}


@pytest.mark.parametrize("path", PATHS)
def test_dataset_round_trip(stack, unique, tmp_path, path):
    (tmp_path / "ds.csv").write_bytes(b"a,b\n1,2\n" * 1000)
    (tmp_path / 'odd "name"\r.json').write_bytes(b"{}")
    with SharingClient(stack.dataset.url, stack.tokens["admin"], **PATHS[path]) as c:
        meta = c.upload_dataset(
            tmp_path / "ds.csv", tmp_path / 'odd "name"\r.json', name=unique, version="1", dataType="production", tag="t"
        )
        c.download_dataset(meta["datasetIdentifier"], tmp_path / "out.zip")
        assert c.dataset_catalog(name=unique)[0]["datasetIdentifier"] == meta["datasetIdentifier"]
    with zipfile.ZipFile(tmp_path / "out.zip") as zf:
        assert zf.read("dataset") == (tmp_path / "ds.csv").read_bytes()


def test_corrupted_object_is_detected_and_nothing_is_left_behind(stack, unique, tmp_path):
    with SharingClient(stack.model.url, stack.tokens["admin"]) as c:
        meta = c.upload_model(
            _file(tmp_path, b"good bytes!"),
            name=unique,
            version="1.0.0",
            status="production",
            library="l",
            libraryVersion="1",
            domain="d",
            tag="t",
        )
        # corrupt the stored object behind the service's back (same size, different bytes)
        stack.s3().put_object(
            Bucket=stack.settings.model_bucket,
            Key=_key(stack, "model", "object_key", meta["modelIdentifier"]),
            Body=b"evil bytes!",
        )
        dest = tmp_path / "dl.bin"
        with pytest.raises(DigestMismatch) as err:
            c.download_model(meta["modelIdentifier"], dest)
        assert err.value.expected == meta["sha256"]
        assert not dest.exists()
        assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".dl.bin")] == []


@pytest.mark.parametrize("path", PATHS)
def test_errors_carry_status_and_detail(stack, tmp_path, path):
    with SharingClient(stack.model.url, stack.tokens["model-reader"], **PATHS[path]) as c:
        with pytest.raises(SharingError) as err:
            c.upload_model(
                _file(tmp_path, b"x"),
                name="n",
                version="1",
                status="production",
                library="l",
                libraryVersion="1",
                domain="d",
                tag="t",
            )
        assert err.value.status_code == 403
        assert "lacks scope" in str(err.value.detail)
        with pytest.raises(SharingError) as err:
            c.model_data(2**31 - 1)
        assert err.value.status_code == 404
        with pytest.raises(SharingError) as err:
            c.download_model(2**31 - 1, tmp_path / "never.bin")
        assert err.value.status_code == 404 and "not found" in str(err.value.detail)
        assert not (tmp_path / "never.bin").exists()


def _file(tmp_path, data: bytes):
    p = tmp_path / "f.bin"
    p.write_bytes(data)
    return p
