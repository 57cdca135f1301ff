"""Size limit (413) and a client vanishing mid-upload (nothing kept)."""

from __future__ import annotations

import os
import socket
import time
import uuid

import psycopg

from .conftest import MAX_UPLOAD, MiB
from .helpers import bucket_keys, model_form, open_multipart_uploads, publish_model

API = "/api/v1"


def _multipart_head(boundary: str, fields: dict[str, str], file_field: str = "file") -> bytes:
    out = b""
    for k, v in fields.items():
        out += f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
    out += (
        f'--{boundary}\r\nContent-Disposition: form-data; name="{file_field}"; filename="m.bin"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    return out


def _raw_request(port: int, token: str, body_len: int, extra_headers: str = "") -> tuple[socket.socket, str]:
    boundary = uuid.uuid4().hex
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    s.sendall(
        (
            f"POST {API}/model HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
            f"Content-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: {body_len}\r\n"
            f"{extra_headers}\r\n"
        ).encode()
    )
    return s, boundary


def _read_status(s: socket.socket) -> int:
    buf = b""
    while b"\r\n" not in buf:
        chunk = s.recv(4096)
        if not chunk:
            break
        buf += chunk
    return int(buf.split(b" ", 2)[1])


def _rows(stack, name: str) -> int:
    with psycopg.connect(stack.db_url.replace("postgresql+psycopg", "postgresql")) as conn:
        return conn.execute("SELECT count(*) FROM model WHERE name = %s", (name,)).fetchone()[0]


def test_declared_length_over_the_limit_is_refused_at_once(stack, unique):
    s, _ = _raw_request(stack.model.port, stack.tokens["admin"], MAX_UPLOAD + 2 * MiB)
    with s:
        assert _read_status(s) == 413  # before a byte of the body was sent


def test_streamed_body_over_the_limit_is_cut_with_413(stack, unique):
    keys_before = set(bucket_keys(stack.s3(), stack.settings.model_bucket))

    with stack.model_client() as c:
        # a file-like without a length: httpx sends the form chunked, so the limit is enforced while streaming
        class Endless:
            def __init__(self, n):
                self.left = n

            def read(self, size=-1):
                size = 1024 * 1024 if size < 0 else min(size, 1024 * 1024)
                n = min(size, self.left)
                self.left -= n
                return os.urandom(n) if n else b""

        r = c.post(f"{API}/model", data=model_form(unique, "1.0.0"), files={"file": ("m", Endless(MAX_UPLOAD + MiB))})
    assert r.status_code == 413, r.text
    assert _rows(stack, unique) == 0
    assert set(bucket_keys(stack.s3(), stack.settings.model_bucket)) == keys_before
    assert open_multipart_uploads(stack.s3(), stack.settings.model_bucket) == []


def test_upload_at_the_limit_is_accepted(stack, unique):
    with stack.model_client() as c:
        r = publish_model(c, unique, "1.0.0", os.urandom(MAX_UPLOAD))
    assert r.status_code == 200, r.text


def test_disconnect_mid_upload_leaves_no_row_and_no_object(stack, unique):
    s3 = stack.s3()
    bucket = stack.settings.model_bucket
    keys_before = set(bucket_keys(s3, bucket))
    total = 10 * MiB
    head_len = len(_multipart_head("x" * 32, model_form(unique, "1.0.0")))
    tail = 2 + 2 + 32 + 4  # \r\n--<boundary>--\r\n
    s, boundary = _raw_request(stack.model.port, stack.tokens["admin"], head_len + total + tail)
    s.sendall(_multipart_head(boundary, model_form(unique, "1.0.0")))
    sent = 0
    chunk = os.urandom(256 * 1024)
    while sent < 7 * MiB:  # more than one 5 MiB part: a multipart upload is in progress
        s.sendall(chunk)
        sent += len(chunk)
    # wait until the server has started the multipart upload, then vanish
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not open_multipart_uploads(s3, bucket):
        time.sleep(0.1)
    assert open_multipart_uploads(s3, bucket), "server never started a multipart upload"
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")  # RST on close
    s.close()

    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and open_multipart_uploads(s3, bucket):
        time.sleep(0.1)
    assert open_multipart_uploads(s3, bucket) == []
    assert set(bucket_keys(s3, bucket)) == keys_before
    assert _rows(stack, unique) == 0
    # and the service is fine afterwards
    with stack.model_client() as c:
        assert publish_model(c, unique, "1.0.0", b"ok").status_code == 200
