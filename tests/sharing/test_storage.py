"""ObjectStore against the real MinIO: ranged parallel reads, ETag pinning, multipart abort."""

from __future__ import annotations

import asyncio
import os

import botocore.exceptions
import pytest
from hx_sharing.storage import ObjectStore


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
