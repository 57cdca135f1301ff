"""ObjectStore against the real MinIO: ranged parallel reads, ETag pinning, multipart abort."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import threading
import zlib

import botocore.exceptions
import pytest
from hx_sharing.storage import ObjectStore, read_ahead


@pytest.fixture
def store(stack):
    settings = stack.settings.model_copy(
        update={"download_concurrency": 3, "download_range_size": 256 * 1024, "part_size": 5 * 1024 * 1024}
    )
    st = ObjectStore(settings, "storage-tests")
    st.ensure_bucket()
    return st


def test_ranged_reads_reassemble_the_object(store, unique):
    data = os.urandom(3 * 1024 * 1024 + 123)
    store.s3.put_object(Bucket=store.bucket, Key=unique, Body=data)
    size, etag = store.head(unique)
    chunks = list(store.iter_ranges(unique, size, etag))
    assert b"".join(chunks) == data
    assert len(chunks) == 13  # 12 full ranges of 256 KiB and a short one


def test_an_object_replaced_mid_download_fails_instead_of_splicing(store, unique):
    store.s3.put_object(Bucket=store.bucket, Key=unique, Body=os.urandom(2 * 1024 * 1024))
    size, etag = store.head(unique)
    it = store.iter_ranges(unique, size, etag)
    next(it)
    store.s3.put_object(Bucket=store.bucket, Key=unique, Body=os.urandom(2 * 1024 * 1024))
    with pytest.raises(botocore.exceptions.ClientError) as err:
        list(it)
    assert err.value.response["Error"]["Code"] == "PreconditionFailed"


def test_writer_abort_leaves_no_upload(store, unique):
    async def go():
        w = store.writer(unique)
        await w.write(os.urandom(6 * 1024 * 1024))  # one part shipped: a multipart upload exists
        await w.abort()

    asyncio.run(go())
    assert store.s3.list_multipart_uploads(Bucket=store.bucket).get("Uploads", []) == []
    assert "Contents" not in store.s3.list_objects_v2(Bucket=store.bucket, Prefix=unique)


def test_writer_digests_cover_every_byte_across_parts(store, unique):
    # Digests are computed off the event loop, part by part, while part buffers are reused:
    # irregular chunks across three parts, a settle() mid-part (as a dataset's part_end does)
    # and a short last part must still give the digests of the bytes written, and the object.
    data = os.urandom(3 * 5 * 1024 * 1024 + 777)

    async def go():
        w = store.writer(unique, crc32=True)
        cut = [0, 1, 70_000, 5 * 1024 * 1024 - 3, 5 * 1024 * 1024 + 9, 8_000_000, len(data) - 5, len(data)]
        for a, b in zip(cut, cut[1:], strict=False):
            await w.write(data[a:b])
            if b == 8_000_000:
                await w.settle()
                assert w.crc32 == zlib.crc32(data[:b])
                assert w.sha256 == hashlib.sha256(data[:b]).hexdigest()
        return await w.close()

    result = asyncio.run(go())
    assert (result.size, result.sha256, result.crc32) == (len(data), hashlib.sha256(data).hexdigest(), zlib.crc32(data))
    assert store.s3.get_object(Bucket=store.bucket, Key=unique)["Body"].read() == data


def test_read_ahead_closes_the_source_when_the_response_stops_early():
    closed = []

    def blocks():
        try:
            for i in range(100):
                yield bytes([i]) * 1024
        finally:
            closed.append(True)

    async def go():
        source = read_ahead(blocks())
        got = [await source.__anext__() for _ in range(3)]
        await source.aclose()  # what Starlette does when the client goes away
        await asyncio.sleep(0.1)  # the close waits for a read still running on the pool
        return got

    got = asyncio.run(go())
    assert got == [bytes([i]) * 1024 for i in range(3)]
    assert closed == [True]


def test_many_concurrent_ranged_downloads_through_read_ahead_do_not_starve(store, unique):
    # More read-ahead readers than pool threads, each waiting for ranged GETs: if both ran on one
    # pool, every thread would wait for a job queued behind it and no download would finish.
    data = os.urandom(1024 * 1024 + 11)
    store.s3.put_object(Bucket=store.bucket, Key=unique, Body=data)
    size, etag = store.head(unique)

    async def one() -> bytes:
        return b"".join([block async for block in read_ahead(store.iter_ranges(unique, size, etag))])

    async def go():
        return await asyncio.wait_for(asyncio.gather(*(one() for _ in range(24))), timeout=30)

    assert asyncio.run(go()) == [data] * 24


def test_read_ahead_closes_the_source_only_after_a_running_read_returns():
    # A client that goes away while the next block is being read cancels the response; the
    # source must not be closed under the reading thread's feet, but closed once it returns.
    release = threading.Event()
    closed = []

    def blocks():
        try:
            yield b"a"
            release.wait(10)
            yield b"b"
        finally:
            closed.append(True)

    async def go():
        source = read_ahead(blocks())
        assert await source.__anext__() == b"a"  # the read of b"b" is now running, and blocked
        waiting = asyncio.ensure_future(source.__anext__())
        await asyncio.sleep(0.05)
        waiting.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await waiting
        assert closed == []
        release.set()
        for _ in range(200):
            if closed:
                break
            await asyncio.sleep(0.01)

    asyncio.run(go())
    assert closed == [True]
