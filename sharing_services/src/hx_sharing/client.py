"""Client helper for the sharing APIs: streaming transfers with end-to-end SHA-256 checks.

    from hx_sharing.client import SharingClient
    with SharingClient("http://127.0.0.1:8080", token) as c:
        meta = c.upload_model("model.mar", name="ispm", version="1.2.0", status="staging",
                              library="torch", libraryVersion="2.4", domain="ran", tag="ispm")
        c.download_model(meta["modelIdentifier"], "out.mar")   # raises DigestMismatch if corrupted

Files are read and written in chunks; nothing is held in memory whole.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, BinaryIO

import httpx

API = "/api/v1"
CHUNK = 1024 * 1024


class SharingError(Exception):
    def __init__(self, status_code: int, detail: Any) -> None:
        super().__init__(f"HTTP {status_code}: {detail}")
        self.status_code = status_code
        self.detail = detail


class DigestMismatch(Exception):
    """The bytes received (or stored) do not have the SHA-256 the other side announced."""

    def __init__(self, expected: str, actual: str) -> None:
        super().__init__(f"SHA-256 mismatch: expected {expected}, got {actual}")
        self.expected = expected
        self.actual = actual


class _HashingReader:
    """File wrapper hashing what httpx reads; keeps fileno/seek/tell so Content-Length is known."""

    def __init__(self, f: BinaryIO) -> None:
        self._f = f
        self.sha = hashlib.sha256()

    def read(self, n: int = -1) -> bytes:
        data = self._f.read(n)
        self.sha.update(data)
        return data

    def seek(self, offset: int, whence: int = 0) -> int:
        pos = self._f.seek(offset, whence)
        if pos == 0:
            self.sha = hashlib.sha256()
        return pos

    def tell(self) -> int:
        return self._f.tell()

    def fileno(self) -> int:
        return self._f.fileno()

    def __iter__(self):
        while chunk := self.read(CHUNK):
            yield chunk


def _raise_for(r: httpx.Response) -> None:
    if r.status_code >= 400:
        try:
            r.read()
            detail = r.json().get("detail", r.text)
        except Exception:  # noqa: BLE001 - not JSON
            detail = r.text
        raise SharingError(r.status_code, detail)


def expected_digest(headers: httpx.Headers) -> str | None:
    if v := headers.get("x-content-sha256"):
        return v.lower()
    for name in ("repr-digest", "digest"):
        for item in headers.get(name, "").split(","):
            algo, _, value = item.strip().partition("=")
            if algo.lower() == "sha-256" and value:
                import base64

                return base64.b64decode(value.strip(":")).hex()
    return None


class SharingClient:
    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        *,
        timeout: float = 60.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.http = httpx.Client(
            base_url=base_url.rstrip("/"),
            headers=headers,
            timeout=httpx.Timeout(timeout, connect=10.0),
            transport=transport,
        )

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> SharingClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- generic ----------------------------------------------------------------------------
    def health(self) -> dict:
        r = self.http.get(f"{API}/health")
        return {"statusCode": r.status_code, **r.json()}

    def _json(self, method: str, path: str, **kw) -> Any:
        r = self.http.request(method, f"{API}{path}", **kw)
        _raise_for(r)
        return r.json()

    def _upload(self, path: str, data: dict[str, str], files: dict[str, str | os.PathLike]) -> dict:
        handles, readers = {}, {}
        try:
            for field, fpath in files.items():
                handles[field] = open(fpath, "rb")  # noqa: SIM115 - closed in finally
                readers[field] = _HashingReader(handles[field])
            r = self.http.post(
                f"{API}{path}",
                data=data,
                files={k: (Path(files[k]).name, v, "application/octet-stream") for k, v in readers.items()},
            )
            _raise_for(r)
            return r.json() | {"_localSha256": {k: v.sha.hexdigest() for k, v in readers.items()}}
        finally:
            for h in handles.values():
                h.close()

    def _download(self, path: str, params: dict, dest: str | os.PathLike | BinaryIO) -> dict:
        """Stream to dest; verify against the announced digest; raise DigestMismatch if it differs."""
        with self.http.stream("GET", f"{API}{path}", params=params) as r:
            _raise_for(r)
            expected = expected_digest(r.headers)
            if expected is None:
                raise SharingError(r.status_code, "server sent no SHA-256 digest header")
            sha = hashlib.sha256()
            size = 0
            if hasattr(dest, "write"):
                for chunk in r.iter_raw(CHUNK):
                    sha.update(chunk)
                    size += len(chunk)
                    dest.write(chunk)  # type: ignore[union-attr]
                actual = sha.hexdigest()
                if actual != expected:
                    raise DigestMismatch(expected, actual)
                return {"sha256": actual, "size": size}
            dest_path = Path(dest)
            fd, tmp = tempfile.mkstemp(prefix=f".{dest_path.name}.", dir=dest_path.parent or ".")
            try:
                with os.fdopen(fd, "wb") as out:
                    for chunk in r.iter_raw(CHUNK):
                        sha.update(chunk)
                        size += len(chunk)
                        out.write(chunk)
                actual = sha.hexdigest()
                if actual != expected:
                    raise DigestMismatch(expected, actual)
                os.replace(tmp, dest_path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
            return {"sha256": actual, "size": size}

    # -- models -----------------------------------------------------------------------------
    def upload_model(
        self,
        file: str | os.PathLike,
        *,
        name: str,
        version: str,
        status: str,
        library: str,
        libraryVersion: str,
        domain: str,
        tag: str,
        parameters: dict | None = None,
        characteristics: dict | None = None,
    ) -> dict:
        data = {
            "name": name,
            "version": version,
            "status": status,
            "library": library,
            "libraryVersion": libraryVersion,
            "domain": domain,
            "tag": tag,
            "parameters": json.dumps(parameters or {}),
            "characteristics": json.dumps(characteristics or {}),
        }
        meta = self._upload("/model", data, {"file": file})
        local = meta.pop("_localSha256")["file"]
        if meta["sha256"] != local:
            raise DigestMismatch(local, meta["sha256"])
        return meta

    def download_model(self, model_id: int, dest, version: str = "latest") -> dict:
        return self._download(f"/model/by_id/{model_id}", {"version": version}, dest)

    def model_catalog(self, **filters: str) -> list[dict]:
        return self._json("GET", "/model_catalog", params=filters)["models"]

    def model_data(self, model_id: int, version: str = "latest") -> dict:
        return self._json("GET", f"/model/{model_id}/data", params={"version": version})

    def delete_model(self, model_id: int, version: str) -> dict:
        return self._json("DELETE", f"/model/{model_id}", params={"version": version})

    def set_model_status(self, model_id: int, status: str, comment: str | None = None) -> dict:
        return self._json("PATCH", f"/model/{model_id}/status", json={"status": status, "comment": comment})

    def model_status_history(self, model_id: int) -> dict:
        return self._json("GET", f"/model/{model_id}/status")

    # -- datasets ---------------------------------------------------------------------------
    def upload_dataset(
        self,
        dataset_file: str | os.PathLike,
        data_model_file: str | os.PathLike,
        *,
        name: str,
        version: str,
        dataType: str,
        tag: str,
        parameters: dict | None = None,
    ) -> dict:
        data = {
            "name": name,
            "version": version,
            "dataType": dataType,
            "tag": tag,
            "parameters": json.dumps(parameters or {}),
        }
        meta = self._upload("/dataset", data, {"dataModelFile": data_model_file, "datasetFile": dataset_file})
        local = meta.pop("_localSha256")
        for field, key in (("datasetFile", "dataset"), ("dataModelFile", "dataModel")):
            if meta[key]["sha256"] != local[field]:
                raise DigestMismatch(local[field], meta[key]["sha256"])
        return meta

    def download_dataset(self, dataset_id: int, dest, version: str = "latest") -> dict:
        return self._download(f"/dataset/by_id/{dataset_id}", {"version": version}, dest)

    def dataset_catalog(self, **filters: str) -> list[dict]:
        return self._json("GET", "/dataset_catalog", params=filters)["datasets"]

    def dataset_data(self, dataset_id: int, version: str = "latest") -> dict:
        return self._json("GET", f"/dataset/{dataset_id}/data", params={"version": version})

    def delete_dataset(self, dataset_id: int, version: str) -> dict:
        return self._json("DELETE", f"/dataset/{dataset_id}", params={"version": version})
