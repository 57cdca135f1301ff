"""Parts shared by both services: app factory, health, error mapping, access log."""

from __future__ import annotations

import asyncio
import gc
import os
import time
import uuid
from base64 import b64encode
from contextlib import asynccontextmanager
from typing import Any

import psycopg
from fastapi import APIRouter, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import DataError, DBAPIError, OperationalError
from starlette.requests import ClientDisconnect

from . import __version__
from .auth import TokenCache
from .catalog import CatalogReader
from .db import Database
from .logs import get_logger
from .schemas import Error, Health, HealthState
from .settings import Settings, get_settings
from .storage import ObjectStore, ObjectStoreUnavailable, is_unavailable

log = get_logger("app")
access_log = get_logger("access")

API_PREFIX = "/api/v1"

COMMON_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": Error, "description": "Missing or invalid bearer token"},
    403: {"model": Error, "description": "The token lacks the required scope"},
    503: {"model": Error, "description": "Database or object store unavailable"},
}


def digest_headers(sha256_hex: str, size: int | None = None) -> dict[str, str]:
    b64 = b64encode(bytes.fromhex(sha256_hex)).decode()
    headers = {
        "X-Content-SHA256": sha256_hex,
        "Digest": f"sha-256={b64}",  # RFC 3230
        "Repr-Digest": f"sha-256=:{b64}:",  # RFC 9530
        "ETag": f'"{sha256_hex}"',
    }
    if size is not None:
        headers["Content-Length"] = str(size)
    return headers


def new_object_key(prefix: str) -> str:
    return f"{prefix}/{uuid.uuid4().hex}"


def _health_router() -> APIRouter:
    router = APIRouter(tags=["health"])

    @router.get(
        "/health",
        response_model=Health,
        response_model_exclude_none=True,
        summary="Service health",
        description="UP when both PostgreSQL and the object store answer; otherwise 503 and DOWN.",
        responses={503: {"model": Health, "description": "A dependency is unreachable"}},
    )
    async def health(request: Request):
        state = request.app.state

        def check(fn) -> HealthState:
            try:
                fn()
                return HealthState.UP
            except Exception as exc:  # noqa: BLE001 - any failure means DOWN
                log.warning("health check failed", extra={"error": repr(exc)})
                return HealthState.DOWN

        db_state, s3_state = await asyncio.gather(
            asyncio.to_thread(check, state.db.ping), asyncio.to_thread(check, state.store.ping)
        )
        if db_state is HealthState.UP and s3_state is HealthState.UP:
            return Health(status=HealthState.UP)
        body = Health(status=HealthState.DOWN, checks={"database": db_state, "objectStore": s3_state})
        return JSONResponse(body.model_dump(mode="json"), status_code=503)

    return router


class AccessLogMiddleware:
    """Pure ASGI (no body buffering): one structured line per request, plus X-Request-ID."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        start = time.perf_counter()
        rid = None
        for k, v in scope.get("headers", []):
            if k == b"x-request-id":
                rid = v.decode("latin-1")[:64]
        rid = rid or os.urandom(8).hex()
        status_code = 0

        async def _send(message):
            nonlocal status_code
            if message["type"] == "http.response.start":
                status_code = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", rid.encode("latin-1"))]
            await send(message)

        try:
            await self.app(scope, receive, _send)
        finally:
            principal = scope.get("state", {}).get("principal")
            access_log.info(
                "request",
                extra={
                    "method": scope["method"],
                    "path": scope["path"],
                    "status": status_code,
                    "ms": round((time.perf_counter() - start) * 1000, 2),
                    "client": principal.name if principal else None,
                    "requestId": rid,
                },
            )


def create_app(
    *,
    title: str,
    description: str,
    bucket_attr: str,
    routers: list[APIRouter],
    settings: Settings | None = None,
) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        state = app.state
        state.settings = settings
        state.db = Database(settings)
        state.store = ObjectStore(settings, getattr(settings, bucket_attr))
        state.token_cache = TokenCache(settings.auth_cache_seconds)
        state.token_lookups = {}  # token hash -> the lookup in flight (auth._lookup)
        state.catalog = CatalogReader(
            settings.database_url.get_secret_value(),
            settings.catalog_connections,
            settings.db_connect_timeout,
            settings.catalog_cache_bytes,
        )
        await state.catalog.warm()  # a database that is down now is retried on first use
        if settings.create_buckets:
            try:
                await asyncio.to_thread(state.store.ensure_bucket)
            except Exception as exc:  # noqa: BLE001 - start anyway; /health reports DOWN
                log.warning("could not ensure bucket", extra={"bucket": state.store.bucket, "error": repr(exc)})
        log.info("service started", extra={"service": title, "bucket": state.store.bucket})
        # Everything imported and built so far lives as long as the process: keep it out of the
        # collector's scans, so full collections stay short under load (tail latency).
        gc.collect()
        gc.freeze()
        # Requests allocate short-lived objects by the hundred; with the default thresholds a
        # full collection (all long-lived objects created since, such as botocore's lazily
        # loaded models) ran several times a second under load, each a pause of tens of ms.
        gc.set_threshold(20_000, 50, 100)
        yield
        await state.catalog.close()
        state.db.dispose()

    app = FastAPI(
        title=title,
        description=description,
        version=__version__,
        lifespan=lifespan,
        license_info={"name": "Apache 2.0", "identifier": "Apache-2.0"},
    )
    app.include_router(_health_router(), prefix=API_PREFIX)
    for r in routers:
        app.include_router(r, prefix=API_PREFIX)

    @app.exception_handler(ObjectStoreUnavailable)
    async def _s3_down(request: Request, exc: ObjectStoreUnavailable):
        return JSONResponse({"detail": f"object store unavailable: {exc}"}, status_code=503)

    @app.exception_handler(ClientDisconnect)
    async def _gone(request: Request, exc: ClientDisconnect):
        # Nobody is listening any more; the status only shows up in the access log.
        return Response(status_code=499)

    @app.exception_handler(OperationalError)
    async def _db_down(request: Request, exc: OperationalError):
        log.warning("database unavailable", extra={"error": str(exc.orig)[:300]})
        return JSONResponse({"detail": "database unavailable"}, status_code=503)

    @app.exception_handler(psycopg.OperationalError)
    async def _db_down_async(request: Request, exc: psycopg.OperationalError):
        # the asyncio catalog path talks to psycopg directly (hx_sharing.catalog)
        log.warning("database unavailable", extra={"error": str(exc)[:300]})
        return JSONResponse({"detail": "database unavailable"}, status_code=503)

    @app.exception_handler(DataError)
    async def _bad_value(request: Request, exc: DataError):
        return JSONResponse({"detail": "a value is out of range or not storable"}, status_code=422)

    @app.exception_handler(DBAPIError)
    async def _db_error(request: Request, exc: DBAPIError):
        if exc.connection_invalidated:
            return JSONResponse({"detail": "database unavailable"}, status_code=503)
        log.error("database error", extra={"error": str(exc.orig)[:300]})
        return JSONResponse({"detail": "database error"}, status_code=500)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception):
        if is_unavailable(exc):
            log.warning("object store unavailable", extra={"error": repr(exc)[:300]})
            return JSONResponse({"detail": "object store unavailable"}, status_code=503)
        log.exception("unhandled error", extra={"path": request.url.path})
        return JSONResponse({"detail": "internal error"}, status_code=500)

    app.add_middleware(AccessLogMiddleware)
    return app


__all__ = ["API_PREFIX", "COMMON_RESPONSES", "HTTPException", "create_app", "digest_headers", "new_object_key"]
