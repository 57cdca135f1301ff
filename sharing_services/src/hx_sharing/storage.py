"""Object store access (boto3) with streaming in both directions.

``MultipartWriter`` receives an upload in arbitrary chunks, hashes it (SHA-256, CRC-32) as it
goes and ships fixed-size parts to S3 with a bounded number in flight, so memory stays at
about ``part_size * (upload_concurrency + 1)`` whatever the artifact size.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import hashlib
import zlib
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import boto3
import botocore.exceptions
from botocore.config import Config

from .logs import get_logger
from .settings import Settings

log = get_logger("storage")

#: Errors meaning "the object store cannot be reached or is failing", mapped to 503.
UNAVAILABLE_ERRORS: tuple[type[BaseException], ...] = (
    botocore.exceptions.EndpointConnectionError,
    botocore.exceptions.ConnectionError,
    botocore.exceptions.ConnectTimeoutError,
    botocore.exceptions.ReadTimeoutError,
    botocore.exceptions.ResponseStreamingError,
)


# Two pools, so that no job ever waits for a job queued behind it in its own pool: _RANGES runs
# only ranged GETs (which wait for nothing else); _POOL runs read-ahead reads (which may wait for
# ranged GETs) and upload digests.
_RANGES = ThreadPoolExecutor(max_workers=16, thread_name_prefix="hx-s3-range")
_POOL = ThreadPoolExecutor(max_workers=16, thread_name_prefix="hx-sharing-io")


class ObjectStoreUnavailable(Exception):
    """The object store could not serve a request."""


def is_unavailable(exc: BaseException) -> bool:
    if isinstance(exc, UNAVAILABLE_ERRORS):
        return True
    if isinstance(exc, botocore.exceptions.ClientError):
        code = exc.response.get("Error", {}).get("Code", "")
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        return status >= 500 or code in {"ServiceUnavailable", "SlowDown", "XMinioServerNotInitialized"}
    return False


def make_s3_client(settings: Settings):
    return boto3.client(
        "s3",
        endpoint_url=settings.s3_endpoint_url,
        aws_access_key_id=settings.s3_access_key.get_secret_value(),
        aws_secret_access_key=settings.s3_secret_key.get_secret_value(),
        region_name=settings.s3_region,
        config=Config(
            signature_version="s3v4",
            s3={"addressing_style": "path", "payload_signing_enabled": settings.s3_sign_payload},
            connect_timeout=settings.s3_connect_timeout,
            read_timeout=settings.s3_read_timeout,
            retries={"max_attempts": settings.s3_max_attempts, "mode": "standard"},
            max_pool_connections=32,
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        ),
    )


class ObjectStore:
    def __init__(self, settings: Settings, bucket: str, client=None) -> None:
        self.settings = settings
        self.bucket = bucket
        self.s3 = client or make_s3_client(settings)

    def ensure_bucket(self) -> None:
        try:
            self.s3.head_bucket(Bucket=self.bucket)
        except botocore.exceptions.ClientError as exc:
            if exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") != 404:
                raise
            log.info("creating bucket", extra={"bucket": self.bucket})
            try:
                self.s3.create_bucket(Bucket=self.bucket)
            except self.s3.exceptions.BucketAlreadyOwnedByYou:
                pass

    def ping(self) -> None:
        self.s3.head_bucket(Bucket=self.bucket)

    def open(self, key: str):
        """Start a GET; returns the botocore streaming body."""
        return self.s3.get_object(Bucket=self.bucket, Key=key)["Body"]

    def iter_object(self, key: str, body=None) -> Iterator[bytes]:
        body = body if body is not None else self.open(key)
        try:
            yield from body.iter_chunks(self.settings.download_chunk_size)
        finally:
            body.close()

    def head(self, key: str) -> tuple[int, str]:
        """(size, ETag) of an object; raises ClientError 404 when it is missing."""
        resp = self.s3.head_object(Bucket=self.bucket, Key=key)
        return resp["ContentLength"], resp["ETag"]

    def _range(self, key: str, etag: str, start: int, end: int) -> bytes:
        resp = self.s3.get_object(Bucket=self.bucket, Key=key, Range=f"bytes={start}-{end}", IfMatch=etag)
        with resp["Body"] as body:
            return body.read()

    def iter_ranges(self, key: str, size: int, etag: str) -> Iterator[bytes]:
        """Stream an object as ranged GETs, ``download_concurrency`` ahead of the sender.

        Memory: at most ``download_range_size * (download_concurrency + 1)`` per download. The
        ranges are pinned to the ETag seen before the headers were sent, so an object replaced
        mid-download fails the transfer instead of splicing two versions.
        """
        step = self.settings.download_range_size
        if size <= step or self.settings.download_concurrency <= 1:
            yield from self.iter_object(key, self.s3.get_object(Bucket=self.bucket, Key=key, IfMatch=etag)["Body"])
            return
        starts = iter(range(0, size, step))
        pending: collections.deque = collections.deque()

        def submit() -> None:
            start = next(starts, None)
            if start is not None:
                pending.append(_RANGES.submit(self._range, key, etag, start, min(start + step, size) - 1))

        try:
            for _ in range(self.settings.download_concurrency):
                submit()
            while pending:
                data = pending.popleft().result()
                submit()
                yield data
        finally:
            for fut in pending:
                fut.cancel()

    def delete(self, *keys: str) -> None:
        for key in keys:
            self.s3.delete_object(Bucket=self.bucket, Key=key)

    def writer(self, key: str, crc32: bool = False, also=None) -> MultipartWriter:
        return MultipartWriter(self, key, crc32, also)


@dataclass
class WriteResult:
    key: str
    size: int
    sha256: str
    crc32: int


class MultipartWriter:
    """Async sink: ``await write(chunk)`` ... ``await close()`` or ``await abort()``."""

    def __init__(self, store: ObjectStore, key: str, crc32: bool = False, also=None) -> None:
        """``also``: another hash object (hashlib API) to feed the same bytes, in order."""
        self.store = store
        self.key = key
        self.part_size = store.settings.part_size
        self.concurrency = store.settings.upload_concurrency
        # The part being filled: allocated at its final size and filled in place (one copy per
        # byte; appending to a growing buffer re-copied it at every reallocation). Buffers of parts
        # already sent are reused: a fresh 8 MiB buffer per part costs the kernel a page fault and
        # a zeroed page for every 4 KiB of the upload.
        self._part = bytearray(0)
        self._spare: list[bytearray] = []
        self._filled = 0
        self.size = 0
        self._sha = hashlib.sha256()
        self._crc = 0
        self._want_crc = crc32  # only the dataset zip needs it
        self._also = also  # the dataset zip's SHA-256
        # Digests are computed on the thread pool, over the part buffer, off the event loop (which
        # is busy receiving the body), one span after the other: _hashing is the last queued span.
        self._hash_from = 0  # bytes of the current part already queued for hashing
        self._hashing: asyncio.Future | None = None
        self._upload_id: str | None = None
        self._parts: list[dict] = []
        self._next_part = 1
        self._in_flight: list[asyncio.Task] = []
        self._done = False
        self._stored = False  # an object exists under key (after close)

    @property
    def sha256(self) -> str:
        """SHA-256 of the bytes written, once ``settle()`` (or ``close()``) has returned."""
        return self._sha.hexdigest()

    @property
    def crc32(self) -> int:
        """CRC-32 of the bytes written, once ``settle()`` (or ``close()``) has returned."""
        return self._crc

    def _digest(self, span: memoryview) -> None:  # on a pool thread; hashlib and zlib release the GIL
        self._sha.update(span)
        if self._also is not None:
            self._also.update(span)
        if self._want_crc:
            self._crc = zlib.crc32(span, self._crc)

    async def _digest_after(self, previous: asyncio.Future | None, span: memoryview) -> None:
        if previous is not None:
            await previous
        await asyncio.get_running_loop().run_in_executor(_POOL, self._digest, span)

    def _queue_digest(self) -> asyncio.Future | None:
        """Queue the bytes of the current part not yet hashed; returns the last queued span."""
        if self._hash_from < self._filled:
            span = memoryview(self._part)[self._hash_from : self._filled]
            self._hash_from = self._filled
            self._hashing = asyncio.ensure_future(self._digest_after(self._hashing, span))
        return self._hashing

    async def settle(self) -> None:
        """Wait until ``sha256`` and ``crc32`` cover every byte written so far."""
        last = self._queue_digest()
        if last is not None:
            await last

    async def write(self, data: bytes) -> None:
        if not data:
            return
        self.size += len(data)
        view = memoryview(data)
        while view:
            if not self._part:
                self._part = self._spare.pop() if self._spare else bytearray(self.part_size)
            n = min(len(view), self.part_size - self._filled)
            self._part[self._filled : self._filled + n] = view[:n]
            self._filled += n
            view = view[n:]
            if self._filled == self.part_size:
                await self._flush_part()

    def _take_buffer(self) -> bytearray:
        """The filled part, handed over (no copy when full, one for a short last part)."""
        body = self._part if self._filled == len(self._part) else self._part[: self._filled]
        self._part, self._filled, self._hash_from = bytearray(0), 0, 0
        return body

    async def _flush_part(self) -> None:
        hashed = self._queue_digest()  # the buffer is reused only after its hashing is done
        body = self._take_buffer()
        if self._upload_id is None:
            resp = await asyncio.to_thread(
                self.store.s3.create_multipart_upload, Bucket=self.store.bucket, Key=self.key
            )
            self._upload_id = resp["UploadId"]
        number = self._next_part
        self._next_part += 1
        while len(self._in_flight) >= self.concurrency:
            await self._in_flight.pop(0)
        task = asyncio.create_task(self._upload_part(number, body, hashed))
        self._in_flight.append(task)

    async def _upload_part(self, number: int, body: bytearray, hashed: asyncio.Future | None) -> None:
        resp = await asyncio.to_thread(
            self.store.s3.upload_part,
            Bucket=self.store.bucket,
            Key=self.key,
            UploadId=self._upload_id,
            PartNumber=number,
            Body=body,
        )
        self._parts.append({"PartNumber": number, "ETag": resp["ETag"]})
        if hashed is not None:
            await hashed
        if len(body) == self.part_size:
            self._spare.append(body)

    async def close(self) -> WriteResult:
        s3, bucket = self.store.s3, self.store.bucket
        await self.settle()
        if self._upload_id is None:
            await asyncio.to_thread(s3.put_object, Bucket=bucket, Key=self.key, Body=bytes(self._take_buffer()))
        else:
            if self._filled:
                await self._flush_part()
            while self._in_flight:
                await self._in_flight.pop(0)
            parts = sorted(self._parts, key=lambda p: p["PartNumber"])
            await asyncio.to_thread(
                s3.complete_multipart_upload,
                Bucket=bucket,
                Key=self.key,
                UploadId=self._upload_id,
                MultipartUpload={"Parts": parts},
            )
        self._done = True
        self._stored = True
        return WriteResult(self.key, self.size, self.sha256, self._crc)

    async def abort(self) -> None:
        """Drop everything written so far; safe to call more than once and after close()."""
        self._part, self._filled, self._spare = bytearray(0), 0, []
        # Let parts already handed to threads finish (or fail) before aborting the upload.
        for task in self._in_flight:
            try:
                await task
            except Exception as exc:  # noqa: BLE001 - a failed part; we are aborting anyway
                log.debug("part failed during abort", extra={"error": repr(exc)})
        self._in_flight = []
        if self._hashing is not None:  # no thread may still read a buffer once abort() returns
            try:
                await self._hashing
            except Exception as exc:  # noqa: BLE001 - aborting anyway
                log.debug("hashing failed during abort", extra={"error": repr(exc)})
        try:
            if self._upload_id is not None and not self._done:
                await asyncio.to_thread(
                    self.store.s3.abort_multipart_upload,
                    Bucket=self.store.bucket,
                    Key=self.key,
                    UploadId=self._upload_id,
                )
            if self._stored:
                await asyncio.to_thread(self.store.s3.delete_object, Bucket=self.store.bucket, Key=self.key)
                self._stored = False
        except Exception:
            log.exception("could not clean up an aborted upload", extra={"key": self.key})
        self._done = True


async def read_ahead(blocks: Iterator[bytes]) -> AsyncIterator[bytes]:
    """Yield the blocks of a blocking iterator, reading the next one in a thread while this one is sent.

    Starlette iterates a plain iterator one block at a time: read, then send, then read. Here the
    read of block n+1 from S3 overlaps the send of block n to the client, for one more block
    of memory per download. The iterator is closed (releasing its S3 connection) however the
    response ends, once no thread is reading from it any more.
    """
    end = object()
    pending = _POOL.submit(next, blocks, end)
    try:
        while True:
            block = await asyncio.wrap_future(pending)
            if block is end:
                return
            pending = _POOL.submit(next, blocks, end)
            yield block
    finally:

        def finish(read: concurrent.futures.Future) -> None:
            # Runs when the last read has returned (on its pool thread), or at once if it has
            # already returned or never started: a generator can't be closed while a thread runs it.
            if not read.cancelled():
                read.exception()  # a read that failed after the response ended is no news
            close = getattr(blocks, "close", None)
            if close is not None:
                try:
                    close()  # releases the S3 connection
                except Exception:
                    log.exception("closing a download's source failed")

        pending.add_done_callback(finish)


async def call(fn, *args, **kwargs):
    """Run a blocking S3 call in a thread; connection-level failures become ObjectStoreUnavailable."""
    try:
        return await asyncio.to_thread(fn, *args, **kwargs)
    except Exception as exc:
        if is_unavailable(exc):
            raise ObjectStoreUnavailable(type(exc).__name__) from exc
        raise


def is_missing(exc: BaseException) -> bool:
    if isinstance(exc, botocore.exceptions.ClientError):
        return exc.response.get("Error", {}).get("Code") in {"NoSuchKey", "404", "NotFound"}
    return False
