"""Dataset Sharing API."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Iterator
from typing import Literal

from fastapi import APIRouter, FastAPI, HTTPException, Query, Request, status
from fastapi.responses import Response, StreamingResponse
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from . import zipstream
from .app import COMMON_RESPONSES, create_app, digest_headers, new_object_key
from .auth import ReadDataset, WriteDataset
from .catalog import CatalogSpec, json_fragment
from .common_routes import ID_RESOLUTION, check_text, delete_version, id_param, not_found, resolve, safe_filename
from .db import Dataset
from .logs import get_logger
from .schemas import DatasetCatalog, DatasetResponse, DataType, Error
from .settings import Settings
from .storage import call, is_missing, read_ahead
from .uploads import abort_all, parse_json_field, receive_upload, require_fields

log = get_logger("dataset")
DatasetId = id_param()
router = APIRouter(tags=["dataset"])

DATA_TYPES = [d.value for d in DataType]
# form field -> entry name inside the served zip (the reference's names)
FILES = {"datasetFile": "dataset", "dataModelFile": "dataModel"}

UPLOAD_FORM = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["name", "version", "dataType", "tag", "dataModelFile", "datasetFile"],
                    "properties": {
                        "name": {"type": "string", "minLength": 1, "maxLength": 255},
                        "version": {"type": "string", "minLength": 1, "maxLength": 128},
                        "dataType": {"type": "string", "enum": DATA_TYPES},
                        "tag": {"type": "string", "minLength": 1, "maxLength": 255},
                        "parameters": {"type": "string", "description": "a JSON object, as text", "default": "{}"},
                        "dataModelFile": {"type": "string", "format": "binary"},
                        "datasetFile": {"type": "string", "format": "binary"},
                    },
                }
            }
        },
    }
}


def _entries(d: Dataset) -> list[zipstream.Entry]:
    info = {
        "dataset": zipstream.Entry("dataset", d.dataset_size, d.dataset_crc32),
        "dataModel": zipstream.Entry("dataModel", d.data_model_size, d.data_model_crc32),
    }
    return [info[n] for n in d.zip_order.split(",")]


def _document(d, json_value) -> dict:
    """The wire fields of a dataset row: an ORM ``Dataset`` or a catalog row with the same
    attribute names. ``json_value`` maps the JSONB column (``to_response``: the value; the
    catalog: its text)."""
    return {
        "datasetIdentifier": d.id,
        "name": d.name,
        "version": d.version,
        "dataType": d.data_type,
        "tag": d.tag,
        "parameters": json_value(d.parameters),
        "sha256": d.sha256,
        "size": d.zip_size,
        "dataset": {"size": d.dataset_size, "sha256": d.dataset_sha256},
        "dataModel": {"size": d.data_model_size, "sha256": d.data_model_sha256},
        "created": d.created_at,
        "createdBy": d.created_by,
    }


def to_response(d: Dataset) -> DatasetResponse:
    return DatasetResponse(**_document(d, lambda v: v or {}))


# The catalog read path serialises rows itself (hx_sharing.catalog), with the same fields.
DATASET_CATALOG = CatalogSpec.for_table(
    Dataset.__table__,
    kind="dataset",
    list_key="datasets",
    document=lambda r: _document(r, json_fragment),
    filters=("tag", "data_type", "name"),
)


class _ZipHashingSink:
    """Wraps a MultipartWriter so that the served zip's SHA-256 is computed during the upload.

    The writer feeds the file's bytes to the zip's hash too (``also``), off the event loop; the
    zip's own headers are added around them here, in order: the local header when the part
    begins, the data descriptor once the writer has settled.
    """

    def __init__(self, writer, entry_name: str, zip_sha) -> None:
        self.writer = writer
        self.entry_name = entry_name
        self.zip_sha = zip_sha
        self.zip_sha.update(zipstream.local_header(entry_name))

    async def write(self, data: bytes) -> None:
        await self.writer.write(data)

    async def part_end(self) -> None:
        # Called when the part's last byte has arrived, before the next part's local header.
        await self.writer.settle()  # the CRC-32 is computed off the event loop
        self.zip_sha.update(
            zipstream.data_descriptor(zipstream.Entry(self.entry_name, self.writer.size, self.writer.crc32))
        )

    async def close(self):
        return await self.writer.close()

    async def abort(self) -> None:
        await self.writer.abort()


@router.post(
    "/dataset",
    response_model=DatasetResponse,
    summary="Publish a dataset version (dataset file + data model file)",
    description="Multipart form upload, streamed to the object store. Same files again under the same "
    "(name, version) return the existing record; different files are refused with 409.",
    responses={
        **COMMON_RESPONSES,
        409: {"model": Error, "description": "(name, version) exists with different content"},
        413: {"model": Error, "description": "Larger than the configured limit"},
    },
    openapi_extra=UPLOAD_FORM,
)
async def add_dataset(request: Request, principal: WriteDataset) -> DatasetResponse:
    state = request.app.state
    settings: Settings = state.settings
    prefix = new_object_key("datasets")
    zip_sha = hashlib.sha256()

    async def open_sink(field: str):
        entry = FILES[field]
        return _ZipHashingSink(state.store.writer(f"{prefix}/{entry}", crc32=True, also=zip_sha), entry, zip_sha)

    form = await receive_upload(request, set(FILES), open_sink, settings.max_upload_bytes)
    sinks = list(form.files.values())
    try:
        f = require_fields(form.fields, ["name", "dataType", "tag"])
        f |= require_fields(form.fields, ["version"], max_len=128)
        if f["version"] == "latest":
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "'latest' is reserved and cannot be a version")
        if f["dataType"] not in DATA_TYPES:
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_CONTENT,
                f"dataType {f['dataType']!r} is not one of {', '.join(DATA_TYPES)}",
            )
        params = parse_json_field(form.fields, "parameters")
        ds, dm = form.results["datasetFile"], form.results["dataModelFile"]
        order = [FILES[name] for name in form.order]
        row = Dataset(
            name=f["name"],
            version=f["version"],
            data_type=f["dataType"],
            tag=f["tag"],
            parameters=params,
            dataset_key=ds.key,
            dataset_size=ds.size,
            dataset_sha256=ds.sha256,
            dataset_crc32=ds.crc32,
            data_model_key=dm.key,
            data_model_size=dm.size,
            data_model_sha256=dm.sha256,
            data_model_crc32=dm.crc32,
            zip_order=",".join(order),
            zip_size=0,
            sha256="",
            created_by=principal.name,
        )
        entries = _entries(row)
        zip_sha.update(zipstream.central_directory(entries))
        row.sha256 = zip_sha.hexdigest()
        row.zip_size = zipstream.archive_size(entries)
        created, stored = await asyncio.to_thread(_insert, state.db, row)
    except BaseException:
        await abort_all(sinks)
        raise
    if not created:
        await abort_all(sinks)
        if (stored.dataset_sha256, stored.data_model_sha256) != (ds.sha256, dm.sha256):
            raise HTTPException(
                status.HTTP_409_CONFLICT,
                f"dataset {stored.name!r} version {stored.version!r} already exists with different content; "
                "versions are immutable, publish a new version",
            )
    else:
        log.info(
            "dataset published", extra={"artifact": stored.name, "version": stored.version, "size": stored.zip_size}
        )
    return to_response(stored)


def _insert(db, row: Dataset) -> tuple[bool, Dataset]:
    def existing(s):
        return s.scalar(select(Dataset).where(Dataset.name == row.name, Dataset.version == row.version))

    with db.session() as s:
        found = existing(s)
        if found is not None:
            return False, found
        s.add(row)
        try:
            s.commit()
        except IntegrityError:
            s.rollback()
            found = existing(s)
            if found is None:
                raise
            return False, found
        s.refresh(row)
        return True, row


@router.get(
    "/dataset_catalog",
    response_model=DatasetCatalog,
    summary="List datasets matching filters",
    description="Filters combine with AND; an empty value means no filter. "
    "`version=latest` keeps only the newest version of each dataset name.",
    responses=COMMON_RESPONSES,
)
async def dataset_catalog(
    request: Request,
    principal: ReadDataset,
    tag: str | None = Query(None, max_length=255),
    dataType: Literal["production", "synthetic", "mixed", ""] | None = Query(None),
    name: str | None = Query(None, max_length=255),
    version: str | None = Query(None, max_length=128),
    limit: int | None = Query(None, ge=1, le=100_000, description="at most this many (an addition)"),
    offset: int = Query(0, ge=0, le=2**31 - 1, description="skip this many (an addition)"),
) -> Response:
    for v, n in ((tag, "tag"), (name, "name"), (version, "version")):
        check_text(v, n)
    # On the event loop, cached per catalog generation: see hx_sharing.catalog.
    body = await request.app.state.catalog.answer(
        DATASET_CATALOG, {"tag": tag, "data_type": dataType, "name": name}, version, limit, offset
    )
    return Response(body, media_type="application/json")


def _resolve(db, dataset_id: int, version: str | None) -> Dataset:
    return db.read(lambda s: resolve(s, Dataset, dataset_id, version, "dataset"))


def _zip_stream(store, d: Dataset, heads: dict[str, tuple[int, str]]) -> Iterator[bytes]:
    keys = {"dataset": d.dataset_key, "dataModel": d.data_model_key}
    entries = _entries(d)
    for e in entries:
        yield zipstream.local_header(e.name)
        size, etag = heads[e.name]
        yield from store.iter_ranges(keys[e.name], size, etag)
        yield zipstream.data_descriptor(e)
    yield zipstream.central_directory(entries)


@router.get(
    "/dataset/by_id/{dataset_id}",
    summary="Download a dataset as a zip holding `dataset` and `dataModel`",
    description=ID_RESOLUTION + " The zip is streamed (entries stored, not compressed); `X-Content-SHA256` and "
    "`Digest` carry its SHA-256, which is also `sha256` in the metadata.",
    response_class=StreamingResponse,
    responses={
        **COMMON_RESPONSES,
        200: {
            "description": "zip archive",
            "content": {"application/zip": {"schema": {"type": "string", "format": "binary"}}},
        },
        404: {"model": Error, "description": "No such dataset or version"},
    },
)
async def download_dataset(
    request: Request,
    principal: ReadDataset,
    dataset_id: DatasetId,
    version: str = Query("latest", max_length=128),
):
    state = request.app.state
    row = await asyncio.to_thread(_resolve, state.db, dataset_id, version)
    try:
        heads = {
            "dataset": await call(state.store.head, row.dataset_key),
            "dataModel": await call(state.store.head, row.data_model_key),
        }
    except Exception as exc:
        if is_missing(exc):
            raise not_found("dataset file") from exc
        raise
    if (heads["dataset"][0], heads["dataModel"][0]) != (row.dataset_size, row.data_model_size):
        log.error("dataset files differ in size from their record", extra={"id": row.id})
        raise HTTPException(status.HTTP_500_INTERNAL_SERVER_ERROR, "stored dataset files do not match their record")
    headers = digest_headers(row.sha256, row.zip_size)
    headers["Content-Disposition"] = f'attachment; filename="{safe_filename(row.name, row.version)}_files.zip"'
    return StreamingResponse(read_ahead(_zip_stream(state.store, row, heads)), media_type="application/zip", headers=headers)


@router.get(
    "/dataset/{dataset_id}/data",
    response_model=DatasetResponse,
    summary="Dataset metadata",
    description=ID_RESOLUTION,
    responses={**COMMON_RESPONSES, 404: {"model": Error, "description": "No such dataset or version"}},
)
def dataset_data(
    request: Request,
    principal: ReadDataset,
    dataset_id: DatasetId,
    version: str = Query("latest", max_length=128),
) -> DatasetResponse:
    return to_response(_resolve(request.app.state.db, dataset_id, version))


@router.delete(
    "/dataset/{dataset_id}",
    response_model=DatasetResponse,
    summary="Delete a dataset version (metadata and files)",
    description="`version` is required and must name a version exactly (`latest` is refused).",
    responses={**COMMON_RESPONSES, 404: {"model": Error, "description": "No such dataset or version"}},
)
async def delete_dataset(
    request: Request,
    principal: WriteDataset,
    dataset_id: DatasetId,
    version: str = Query(..., min_length=1, max_length=128),
) -> DatasetResponse:
    row = await delete_version(
        request.app.state, Dataset, dataset_id, version, "dataset", lambda r: [r.dataset_key, r.data_model_key]
    )
    log.info("dataset deleted", extra={"artifact": row.name, "version": row.version, "by": principal.name})
    return to_response(row)


def build_app(settings: Settings | None = None) -> FastAPI:
    return create_app(
        title="HX Dataset Sharing API",
        description="Publish, find and download datasets across HX-MLOps domains. Compatible with the reference "
        "Dataset Sharing API under /api/v1, plus bearer-token scopes, immutable versions and content digests.",
        bucket_attr="dataset_bucket",
        routers=[router],
        settings=settings,
    )


def app_factory() -> FastAPI:
    """For `uvicorn --factory hx_sharing.dataset_service:app_factory`."""
    return build_app()
