"""The upload path shared by both services: size checks, streaming, cleanup on failure."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import HTTPException, Request, status
from starlette.requests import ClientDisconnect

from .forms import FormResult, UploadTooLarge, read_form
from .logs import get_logger
from .storage import MultipartWriter, ObjectStoreUnavailable, is_unavailable

log = get_logger("uploads")

FORM_OVERHEAD = 1024 * 1024  # text fields + part headers allowed on top of the file bytes


DRAIN_BYTES = 64 * 1024 * 1024


async def drain(request: Request, cap: int) -> None:
    """Read and drop the rest of the body (up to cap) so the client sees the 413, not a reset."""
    seen = 0
    while seen <= cap:
        message = await request.receive()
        if message["type"] != "http.request":
            return
        seen += len(message.get("body", b""))
        if not message.get("more_body", False):
            return


def too_large(limit: int) -> HTTPException:
    return HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, f"upload exceeds the limit of {limit} bytes")


def check_content_length(request: Request, limit: int) -> None:
    raw = request.headers.get("content-length")
    if raw is None:
        return
    try:
        length = int(raw)
    except ValueError as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "invalid Content-Length") from exc
    if length > limit + FORM_OVERHEAD:
        raise too_large(limit)


async def abort_all(sinks) -> None:
    for sink in sinks:
        try:
            await asyncio.shield(sink.abort())
        except BaseException:  # noqa: BLE001
            log.exception("abort failed")


async def receive_upload(
    request: Request,
    file_fields: set[str],
    open_sink: Callable[[str], Awaitable[MultipartWriter]],
    limit: int,
) -> FormResult:
    """Stream the form; on any failure abort the sinks and map the error to an HTTP one."""
    check_content_length(request, limit)
    form: FormResult | None = None
    try:
        form = await read_form(request, file_fields, open_sink, limit)
        missing = sorted(f for f in file_fields if f not in form.files)
        if missing:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"missing file field(s): {', '.join(missing)}")
        results = {}
        for name, sink in form.files.items():
            results[name] = await sink.close()
        form.results = results  # type: ignore[attr-defined]
        return form
    except BaseException as exc:
        form = getattr(exc, "form", None) or form
        await abort_all(list(form.files.values()) if form else [])
        if isinstance(exc, UploadTooLarge):
            await drain(request, DRAIN_BYTES)
            raise too_large(limit) from None
        if isinstance(exc, ClientDisconnect):
            log.info("client disconnected during upload; nothing kept", extra={"path": request.url.path})
            raise
        if isinstance(exc, HTTPException):
            raise
        if is_unavailable(exc):
            raise ObjectStoreUnavailable(type(exc).__name__) from exc
        raise


def parse_json_field(fields: dict[str, str], name: str, required: bool = False) -> dict[str, Any]:
    raw = fields.get(name)
    if raw is None or raw.strip() == "":
        if required:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"missing field {name!r}")
        return {}
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"field {name!r} is not valid JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"field {name!r} must be a JSON object")
    return value


def require_fields(fields: dict[str, str], names: list[str], max_len: int = 255) -> dict[str, str]:
    out = {}
    for n in names:
        v = fields.get(n)
        if v is None or v.strip() == "":
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"missing field {n!r}")
        if len(v) > max_len or "\x00" in v:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"field {n!r} is too long or holds NUL")
        out[n] = v
    return out
