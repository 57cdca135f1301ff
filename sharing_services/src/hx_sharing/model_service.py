"""Model Sharing API."""

from __future__ import annotations

import asyncio
from typing import Annotated, Literal

from fastapi import APIRouter, Body, FastAPI, HTTPException, Query, Request, status
from fastapi.responses import Response, StreamingResponse
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from .app import COMMON_RESPONSES, create_app, digest_headers, new_object_key
from .auth import ReadModel, WriteModel
from .catalog import CatalogSpec, json_fragment
from .common_routes import ID_RESOLUTION, check_text, delete_version, id_param, not_found, resolve, safe_filename
from .db import Model, ModelStatusEvent, utcnow
from .logs import get_logger
from .schemas import Error, ModelCatalog, ModelResponse, ModelStatus, StatusChange, StatusEvent, StatusHistory
from .settings import Settings
from .storage import call, is_missing, read_ahead
from .uploads import abort_all, parse_json_field, receive_upload, require_fields

log = get_logger("model")
ModelId = id_param()
router = APIRouter(tags=["model"])

STATUSES = [s.value for s in ModelStatus]

UPLOAD_FORM = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["name", "version", "status", "library", "libraryVersion", "domain", "tag", "file"],
                    "properties": {
                        "name": {"type": "string", "minLength": 1, "maxLength": 255},
                        "version": {
                            "type": "string",
                            "minLength": 1,
                            "maxLength": 128,
                            "description": "immutable once published; `latest` is reserved",
                        },
                        "status": {"type": "string", "enum": STATUSES},
                        "library": {"type": "string", "minLength": 1, "maxLength": 255},
                        "libraryVersion": {"type": "string", "minLength": 1, "maxLength": 128},
                        "domain": {"type": "string", "minLength": 1, "maxLength": 255},
                        "tag": {"type": "string", "minLength": 1, "maxLength": 255},
                        "parameters": {"type": "string", "description": "a JSON object, as text", "default": "{}"},
                        "characteristics": {"type": "string", "description": "a JSON object, as text", "default": "{}"},
                        "file": {"type": "string", "format": "binary"},
                    },
                }
            }
        },
    }
}

DOWNLOAD_HEADERS = {
    "X-Content-SHA256": {"description": "hex SHA-256 of the body", "schema": {"type": "string"}},
    "Digest": {"description": "RFC 3230 digest (sha-256, base64)", "schema": {"type": "string"}},
}


def _document(m, json_value) -> dict:
    """The wire fields of a model row: an ORM ``Model`` or a catalog row with the same attribute
    names. ``json_value`` maps the JSONB columns (``to_response``: the value; the catalog: its text)."""
    return {
        "modelIdentifier": m.id,
        "name": m.name,
        "version": m.version,
        "status": m.status,
        "library": m.library,
        "libraryVersion": m.library_version,
        "domain": m.domain,
        "tag": m.tag,
        "parameters": json_value(m.parameters),
        "characteristics": json_value(m.characteristics),
        "sha256": m.sha256,
        "size": m.size_bytes,
        "created": m.created_at,
        "createdBy": m.created_by,
        "statusChangedAt": m.status_changed_at,
        "statusChangedBy": m.status_changed_by,
    }


def to_response(m: Model) -> ModelResponse:
    return ModelResponse(**_document(m, lambda v: v or {}))


# The catalog read path serialises rows itself (hx_sharing.catalog), with the same fields.
MODEL_CATALOG = CatalogSpec.for_table(
    Model.__table__,
    kind="model",
    list_key="models",
    document=lambda r: _document(r, json_fragment),
    filters=("domain", "tag", "status", "name"),
)


@router.post(
    "/model",
    response_model=ModelResponse,
    summary="Publish a model version",
    description="Multipart form upload, streamed to the object store. Publishing the same bytes again under "
    "the same (name, version) returns the existing record; different bytes are refused with 409.",
    responses={
        **COMMON_RESPONSES,
        409: {"model": Error, "description": "(name, version) exists with different content"},
        413: {"model": Error, "description": "Larger than the configured limit"},
    },
    openapi_extra=UPLOAD_FORM,
)
async def add_model(request: Request, principal: WriteModel) -> ModelResponse:
    state = request.app.state
    settings: Settings = state.settings
    key = new_object_key("models")

    async def open_sink(_field: str):
        return state.store.writer(key)

    form = await receive_upload(request, {"file"}, open_sink, settings.max_upload_bytes)
    sinks = list(form.files.values())
    try:
        f = require_fields(form.fields, ["name", "status", "library", "domain", "tag"])
        f |= require_fields(form.fields, ["version", "libraryVersion"], max_len=128)
        if f["version"] == "latest":
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "'latest' is reserved and cannot be a version")
        if f["status"] not in STATUSES:
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_CONTENT, f"status {f['status']!r} is not one of {', '.join(STATUSES)}"
            )
        params = parse_json_field(form.fields, "parameters")
        chars = parse_json_field(form.fields, "characteristics")
        res = form.results["file"]
        row = Model(
            name=f["name"],
            version=f["version"],
            status=f["status"],
            library=f["library"],
            library_version=f["libraryVersion"],
            domain=f["domain"],
            tag=f["tag"],
            parameters=params,
            characteristics=chars,
            object_key=key,
            size_bytes=res.size,
            sha256=res.sha256,
            created_by=principal.name,
            status_changed_by=principal.name,
        )
        created, stored = await asyncio.to_thread(_insert, state.db, row)
    except BaseException:
        await abort_all(sinks)
        raise
    if not created:
        await abort_all(sinks)  # ours is a duplicate: drop the object we just wrote
        if stored.sha256 != res.sha256:
            raise HTTPException(
                status.HTTP_409_CONFLICT,
                f"model {stored.name!r} version {stored.version!r} already exists with different content "
                f"(sha256 {stored.sha256}); versions are immutable, publish a new version",
            )
        log.info("duplicate publish ignored", extra={"artifact": stored.name, "version": stored.version})
    else:
        log.info(
            "model published",
            extra={
                "artifact": stored.name,
                "version": stored.version,
                "size": stored.size_bytes,
                "sha256": stored.sha256,
            },
        )
    return to_response(stored)


def _insert(db, row: Model) -> tuple[bool, Model]:
    def existing(s):
        return s.scalar(select(Model).where(Model.name == row.name, Model.version == row.version))

    with db.session() as s:
        found = existing(s)
        if found is not None:
            return False, found
        s.add(row)
        try:
            s.flush()
            s.add(ModelStatusEvent(model_id=row.id, from_status=None, to_status=row.status, changed_by=row.created_by))
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
    "/model_catalog",
    response_model=ModelCatalog,
    summary="List models matching filters",
    description="Filters combine with AND; an empty value means no filter. `status` defaults to `production`. "
    "`version=latest` keeps only the newest version of each model name.",
    responses=COMMON_RESPONSES,
)
async def model_catalog(
    request: Request,
    principal: ReadModel,
    domain: str | None = Query(None, max_length=255),
    tag: str | None = Query(None, max_length=255),
    status_: Literal["training", "development", "staging", "production", ""] | None = Query(
        "production", alias="status"
    ),
    name: str | None = Query(None, max_length=255),
    version: str | None = Query(None, max_length=128),
    limit: int | None = Query(None, ge=1, le=100_000, description="at most this many (an addition)"),
    offset: int = Query(0, ge=0, le=2**31 - 1, description="skip this many (an addition)"),
) -> Response:
    for v, n in ((domain, "domain"), (tag, "tag"), (name, "name"), (version, "version")):
        check_text(v, n)
    # On the event loop, cached per catalog generation: see hx_sharing.catalog.
    body = await request.app.state.catalog.answer(
        MODEL_CATALOG, {"domain": domain, "tag": tag, "status": status_, "name": name}, version, limit, offset
    )
    return Response(body, media_type="application/json")


@router.get(
    "/model/by_id/{model_id}",
    summary="Download a model file",
    description=ID_RESOLUTION + " The body is streamed; `X-Content-SHA256` and `Digest` carry its SHA-256.",
    response_class=StreamingResponse,
    responses={
        **COMMON_RESPONSES,
        200: {
            "description": "The model file",
            "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
            "headers": DOWNLOAD_HEADERS,
        },
        404: {"model": Error, "description": "No such model or version"},
    },
)
async def download_model(
    request: Request,
    principal: ReadModel,
    model_id: ModelId,
    version: str = Query("latest", max_length=128),
):
    state = request.app.state
    row = await asyncio.to_thread(_resolve, state.db, model_id, version)
    try:
        size, etag = await call(state.store.head, row.object_key)
    except Exception as exc:
        if is_missing(exc):
            log.error("model file missing from the object store", extra={"id": row.id, "key": row.object_key})
            raise not_found("model file") from exc
        raise
    if size != row.size_bytes:
        log.error("model file size differs from its record", extra={"id": row.id, "stored": size})
    # The length actually stored, with the digest recorded at publication: a client that checks the
    # digest (hx_sharing.client does) detects an object altered behind the service's back.
    headers = digest_headers(row.sha256, size)
    headers["Content-Disposition"] = f'attachment; filename="{safe_filename(row.name, row.version)}"'
    return StreamingResponse(
        read_ahead(state.store.iter_ranges(row.object_key, size, etag)),
        media_type="application/octet-stream",
        headers=headers,
    )


def _resolve(db, model_id: int, version: str | None) -> Model:
    return db.read(lambda s: resolve(s, Model, model_id, version, "model"))


@router.get(
    "/model/{model_id}/data",
    response_model=ModelResponse,
    summary="Model metadata",
    description=ID_RESOLUTION,
    responses={**COMMON_RESPONSES, 404: {"model": Error, "description": "No such model or version"}},
)
def model_data(
    request: Request,
    principal: ReadModel,
    model_id: ModelId,
    version: str = Query("latest", max_length=128),
) -> ModelResponse:
    return to_response(_resolve(request.app.state.db, model_id, version))


@router.delete(
    "/model/{model_id}",
    response_model=ModelResponse,
    summary="Delete a model version (metadata and file)",
    description="`version` is required and must name a version exactly (`latest` is refused).",
    responses={**COMMON_RESPONSES, 404: {"model": Error, "description": "No such model or version"}},
)
async def delete_model(
    request: Request,
    principal: WriteModel,
    model_id: ModelId,
    version: str = Query(..., min_length=1, max_length=128),
) -> ModelResponse:
    row = await delete_version(request.app.state, Model, model_id, version, "model", lambda r: [r.object_key])
    log.info("model deleted", extra={"artifact": row.name, "version": row.version, "by": principal.name})
    return to_response(row)


@router.patch(
    "/model/{model_id}/status",
    response_model=ModelResponse,
    summary="Change a model version's status",
    description="Moves a version between training, development, staging and production; the caller and "
    "the time are recorded (see GET /model/{id}/status). The identifier names the version (no `version` "
    "resolution here, so a promotion never lands on another version by accident).",
    responses={**COMMON_RESPONSES, 404: {"model": Error, "description": "No such model"}},
)
def change_status(
    request: Request,
    principal: WriteModel,
    model_id: ModelId,
    change: Annotated[StatusChange, Body()],
) -> ModelResponse:
    with request.app.state.db.session() as s:
        row = s.get(Model, model_id, with_for_update=True)
        if row is None:
            raise not_found("model")
        if row.status != change.status.value:
            s.add(
                ModelStatusEvent(
                    model_id=row.id,
                    from_status=row.status,
                    to_status=change.status.value,
                    changed_by=principal.name,
                    comment=change.comment,
                )
            )
            row.status = change.status.value
            row.status_changed_by = principal.name
            row.status_changed_at = utcnow()
            s.commit()
            s.refresh(row)
            log.info(
                "model status changed",
                extra={"artifact": row.name, "version": row.version, "status": row.status, "by": principal.name},
            )
        return to_response(row)


@router.get(
    "/model/{model_id}/status",
    response_model=StatusHistory,
    summary="A model version's status and its history",
    responses={**COMMON_RESPONSES, 404: {"model": Error, "description": "No such model"}},
)
def status_history(
    request: Request,
    principal: ReadModel,
    model_id: ModelId,
) -> StatusHistory:
    with request.app.state.db.session() as s:
        row = s.get(Model, model_id)
        if row is None:
            raise not_found("model")
        events = s.scalars(
            select(ModelStatusEvent).where(ModelStatusEvent.model_id == model_id).order_by(ModelStatusEvent.id)
        ).all()
        return StatusHistory(
            modelIdentifier=row.id,
            status=row.status,
            history=[
                StatusEvent(
                    fromStatus=e.from_status,
                    toStatus=e.to_status,
                    changedBy=e.changed_by,
                    changedAt=e.changed_at,
                    comment=e.comment,
                )
                for e in events
            ],
        )


def build_app(settings: Settings | None = None) -> FastAPI:
    return create_app(
        title="HX Model Sharing API",
        description="Publish, find and download models across HX-MLOps domains. Compatible with the reference "
        "Model Sharing API under /api/v1, plus bearer-token scopes, immutable versions and content digests.",
        bucket_attr="model_bucket",
        routers=[router],
        settings=settings,
    )


def app_factory() -> FastAPI:
    """For `uvicorn --factory hx_sharing.model_service:app_factory`."""
    return build_app()
