"""Client helper for the sharing APIs: streaming transfers with end-to-end SHA-256 checks.

    from hx_sharing.client import SharingClient
    with SharingClient("http://127.0.0.1:8080", token) as c:
        meta = c.upload_model("model.mar", name="ispm", version="1.2.0", status="staging",
                              library="torch", libraryVersion="2.4", domain="ran", tag="ispm")
        c.download_model(meta["modelIdentifier"], "out.mar")   # raises DigestMismatch if corrupted

Files are read and written in chunks; nothing is held in memory whole.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import hashlib
import http.client
import json
import os
import ssl
import tempfile
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

import httpx

API = "/api/v1"
CHUNK = 1024 * 1024
_WIRE_CHUNK = 4 * CHUNK  # blocks of the http.client transfer path
# Downloads read the socket in slices of at most 256 KiB and write each to the file at once, in
# the thread that read it; only hashing is handed to another thread, in 4 MiB blocks. Big reads,
# or writing the data out from another thread, cost several times the CPU on the development VM:
# a 1 GiB download into a file took 2.2-3 s of client CPU that way, 0.3 s this way (the kernel's
# page cache and socket buffers then come from memory the VM had handed back to its host, see
# docs/sharing-services.md).
_RECV_SLICE = 256 * 1024


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


def _quote(value: str) -> str:
    """A form-data parameter value (field or file name), quoted as browsers and httpx do."""
    return value.replace("\\", "\\\\").replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")


def _wire_error(resp: http.client.HTTPResponse) -> SharingError:
    raw = resp.read()
    try:
        detail = json.loads(raw).get("detail", raw.decode("utf-8", "replace"))
    except (ValueError, AttributeError):
        detail = raw.decode("utf-8", "replace")
    return SharingError(resp.status, detail)


def _pipelined(readinto: Callable[[bytearray], int], consume: Callable[[memoryview], None]) -> None:
    """Receive block n+1 while another thread consumes block n (hashlib releases the GIL).

    Two buffers take turns; a buffer is filled again only after its previous block was consumed,
    and blocks are consumed in order. An error on either side ends the transfer with that error.
    """
    buffers = (bytearray(_WIRE_CHUNK), bytearray(_WIRE_CHUNK))
    busy: list[concurrent.futures.Future | None] = [None, None]
    with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="hx-download") as worker:
        try:
            turn = 0
            while True:
                if busy[turn] is not None:
                    busy[turn].result()  # type: ignore[union-attr]
                n = readinto(buffers[turn])
                if not n:
                    break
                busy[turn] = worker.submit(consume, memoryview(buffers[turn])[:n])
                turn ^= 1
            for future in (busy[turn ^ 1], busy[turn]):  # the older block first
                if future is not None:
                    future.result()
        except BaseException:
            for future in busy:  # drop what has not started; let a running block finish
                if future is not None and not future.cancel():
                    future.exception()
            raise


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
        self._auth = headers
        self._timeout = timeout
        self._base = urllib.parse.urlsplit(base_url.rstrip("/"))
        # Artifacts travel over http.client (see _wire): big blocks, no per-block parsing. A
        # custom transport or an HTTP proxy in the environment keeps them on httpx.
        self._wire_ok = transport is None and self._base.scheme in ("http", "https") and not self._proxied()
        self.http = httpx.Client(
            base_url=base_url.rstrip("/"),
            headers=headers,
            timeout=httpx.Timeout(timeout, connect=10.0),
            transport=transport,
        )

    def close(self) -> None:
        self.http.close()

    # -- bulk transfer path -----------------------------------------------------------------
    def _proxied(self) -> bool:
        proxies = urllib.request.getproxies()
        host = self._base.hostname or ""
        return self._base.scheme in proxies and not urllib.request.proxy_bypass(host)

    def _connection(self) -> http.client.HTTPConnection:
        host, port = self._base.hostname, self._base.port
        if self._base.scheme == "https":
            return http.client.HTTPSConnection(
                host, port, timeout=self._timeout, context=ssl.create_default_context(), blocksize=_WIRE_CHUNK
            )
        return http.client.HTTPConnection(host, port, timeout=self._timeout, blocksize=_WIRE_CHUNK)

    def _target(self, path: str, params: dict | None = None) -> str:
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        return f"{self._base.path}{API}{path}{query}"

    def _wire_upload(self, path: str, data: dict[str, str], files: dict[str, str | os.PathLike]) -> dict:
        """multipart/form-data written by hand: text fields, then each file in big blocks, hashed on the way."""
        boundary = uuid.uuid4().hex
        head = b"".join(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{_quote(k)}"\r\n\r\n'.encode() + v.encode() + b"\r\n"
            for k, v in data.items()
        )
        handles: dict[str, BinaryIO] = {}
        shas: dict[str, hashlib._Hash] = {}
        try:
            parts = []
            for field, fpath in files.items():
                handles[field] = open(fpath, "rb")  # noqa: SIM115 - closed in finally
                size = os.fstat(handles[field].fileno()).st_size
                part_head = (
                    f'--{boundary}\r\nContent-Disposition: form-data; name="{_quote(field)}"; '
                    f'filename="{_quote(Path(fpath).name)}"\r\nContent-Type: application/octet-stream\r\n\r\n'
                ).encode()
                parts.append((field, part_head, size))
            tail = f"--{boundary}--\r\n".encode()
            length = len(head) + sum(len(h) + n + 2 for _f, h, n in parts) + len(tail)

            def body():
                yield head
                for field, part_head, size in parts:
                    yield part_head
                    sha = shas[field] = hashlib.sha256()
                    left = size
                    while left > 0:
                        block = handles[field].read(min(_WIRE_CHUNK, left))
                        if not block:
                            raise OSError(f"{files[field]} shrank while it was being uploaded")
                        sha.update(block)
                        left -= len(block)
                        yield block
                    yield b"\r\n"
                yield tail

            conn = self._connection()
            try:
                headers = {
                    **self._auth,
                    "Content-Type": f"multipart/form-data; boundary={boundary}",
                    "Content-Length": str(length),
                }
                conn.request("POST", self._target(path), body=body(), headers=headers)
                resp = conn.getresponse()
                if resp.status >= 400:
                    raise _wire_error(resp)
                meta = json.loads(resp.read())
            finally:
                conn.close()
            return meta | {"_localSha256": {k: v.hexdigest() for k, v in shas.items()}}
        finally:
            for h in handles.values():
                h.close()

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
        if self._wire_ok:
            return self._wire_upload(path, data, files)
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

    @contextlib.contextmanager
    def _get_body(self, path: str, params: dict) -> Iterator[tuple[int, httpx.Headers, Any]]:
        """(status, headers, body) of a GET; an error status raises SharingError.

        body is the http.client response (it has ``readinto``) or, on the httpx path, an iterator
        of blocks.
        """
        if not self._wire_ok:
            with self.http.stream("GET", f"{API}{path}", params=params) as r:
                _raise_for(r)
                yield r.status_code, r.headers, r.iter_raw(CHUNK)
            return
        conn = self._connection()
        try:
            conn.request("GET", self._target(path, params), headers=self._auth)
            resp = conn.getresponse()
            if resp.status >= 400:
                raise _wire_error(resp)
            yield resp.status, httpx.Headers(resp.getheaders()), resp
        finally:
            conn.close()

    def _download(self, path: str, params: dict, dest: str | os.PathLike | BinaryIO) -> dict:
        """Stream to dest; verify against the announced digest; raise DigestMismatch if it differs."""
        with self._get_body(path, params) as (status_code, headers, body):
            expected = expected_digest(headers)
            if expected is None:
                raise SharingError(status_code, "server sent no SHA-256 digest header")
            sha = hashlib.sha256()
            size = 0

            def consume(out: BinaryIO):
                nonlocal size
                if hasattr(body, "readinto"):

                    def received(buf: bytearray) -> int:
                        # socket reads of at most _RECV_SLICE, each written out at once; the
                        # SHA-256 of the whole block runs on another thread
                        nonlocal size
                        view, got = memoryview(buf), 0
                        while got < len(buf) and (n := body.readinto(view[got : got + _RECV_SLICE])):
                            out.write(view[got : got + n])
                            got += n
                        size += got
                        return got

                    _pipelined(received, sha.update)
                else:
                    for chunk in body:
                        sha.update(chunk)
                        size += len(chunk)
                        out.write(chunk)
                actual = sha.hexdigest()
                if actual != expected:
                    raise DigestMismatch(expected, actual)
                return {"sha256": actual, "size": size}

            if hasattr(dest, "write"):
                return consume(dest)  # type: ignore[arg-type]
            dest_path = Path(dest)
            fd, tmp = tempfile.mkstemp(prefix=f".{dest_path.name}.", dir=dest_path.parent or ".")
            try:
                with os.fdopen(fd, "wb") as out:
                    result = consume(out)
                os.replace(tmp, dest_path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
            return result

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
