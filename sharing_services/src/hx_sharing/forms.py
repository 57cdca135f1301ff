"""Streaming multipart/form-data reader.

Starlette's form parser spools files to temporary files before the endpoint runs. Here the
request body is parsed as it arrives and each file part is handed chunk by chunk to a sink
(an S3 multipart writer), so an upload never touches local disk and memory stays flat.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from fastapi import HTTPException, Request, status
from python_multipart.multipart import MultipartParser, MultipartState, parse_options_header

MAX_FIELD_BYTES = 1024 * 1024  # all text fields together


class UploadTooLarge(Exception):
    pass


@dataclass
class FormResult:
    fields: dict[str, str] = field(default_factory=dict)
    files: dict[str, object] = field(default_factory=dict)  # name -> sink
    order: list[str] = field(default_factory=list)  # file fields in arrival order


def _bad(msg: str) -> HTTPException:
    return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, msg)


async def read_form(
    request: Request,
    file_fields: set[str],
    open_sink: Callable[[str], Awaitable[object]],
    max_file_bytes: int,
) -> FormResult:
    """Parse the body; file parts go to sinks from ``open_sink(field)``.

    Sinks need ``async write(bytes)`` and may have ``async part_end()``, awaited after a file's
    last byte. On any exception the caller must abort the sinks in ``result.files`` -- the
    partially built result is attached to the exception as ``.form``.
    """
    ctype, params = parse_options_header(request.headers.get("content-type", ""))
    if ctype != b"multipart/form-data" or not params.get(b"boundary"):
        raise _bad("expected a multipart/form-data body with a boundary")

    result = FormResult()
    events: list[tuple] = []
    header_field = bytearray()
    header_value = bytearray()
    headers: dict[bytes, bytes] = {}

    def on_part_begin() -> None:
        headers.clear()

    def on_header_field(data: bytes, start: int, end: int) -> None:
        header_field.extend(data[start:end])

    def on_header_value(data: bytes, start: int, end: int) -> None:
        header_value.extend(data[start:end])

    def on_header_end() -> None:
        headers[bytes(header_field).lower()] = bytes(header_value)
        header_field.clear()
        header_value.clear()

    def on_headers_finished() -> None:
        _, disp = parse_options_header(headers.get(b"content-disposition", b""))
        events.append(("begin", disp.get(b"name", b"").decode("utf-8", "replace")))

    def on_part_data(data: bytes, start: int, end: int) -> None:
        events.append(("data", data[start:end]))

    def on_part_end() -> None:
        events.append(("end",))

    parser = MultipartParser(
        params[b"boundary"],
        {
            "on_part_begin": on_part_begin,
            "on_header_field": on_header_field,
            "on_header_value": on_header_value,
            "on_header_end": on_header_end,
            "on_headers_finished": on_headers_finished,
            "on_part_data": on_part_data,
            "on_part_end": on_part_end,
        },
    )

    current: str | None = None
    sink = None
    text = bytearray()
    text_total = 0
    file_total = 0
    try:
        async for chunk in request.stream():
            if not chunk:
                continue
            try:
                parser.write(chunk)
            except Exception as exc:  # python_multipart raises its own parse errors
                raise _bad(f"malformed multipart body: {exc}") from exc
            for ev in events:
                kind = ev[0]
                if kind == "begin":
                    current = ev[1]
                    if current in file_fields:
                        if current in result.files:
                            raise _bad(f"file field {current!r} given twice")
                        sink = await open_sink(current)
                        result.files[current] = sink
                        result.order.append(current)
                    else:
                        sink = None
                        text.clear()
                elif kind == "data":
                    data = ev[1]
                    if sink is not None:
                        file_total += len(data)
                        if file_total > max_file_bytes:
                            raise UploadTooLarge(file_total)
                        await sink.write(data)
                    else:
                        text_total += len(data)
                        if text_total > MAX_FIELD_BYTES:
                            raise _bad("form fields too large")
                        text.extend(data)
                else:  # end
                    if sink is not None and hasattr(sink, "part_end"):
                        await sink.part_end()
                    if sink is None and current is not None:
                        if current in result.fields:
                            raise _bad(f"field {current!r} given twice")
                        try:
                            result.fields[current] = text.decode("utf-8")
                        except UnicodeDecodeError as exc:
                            raise _bad(f"field {current!r} is not UTF-8") from exc
                    current, sink = None, None
            events.clear()
        parser.finalize()
        if parser.state != MultipartState.END:
            raise _bad("truncated multipart body (no closing boundary)")
    except BaseException as exc:
        exc.form = result  # type: ignore[attr-defined]
        raise
    return result
