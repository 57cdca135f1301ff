"""Bearer-token authentication with per-client scopes.

Tokens are random strings handed to one client each; only their SHA-256 is stored. A
salted slow hash buys nothing for >= 192-bit random secrets and would cost every request.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Annotated

from fastapi import HTTPException, Request, Security, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer, SecurityScopes
from sqlalchemy import select

from .db import Client

SCOPES = {
    "read:model": "Read the model catalog, metadata and files",
    "write:model": "Publish, delete and promote models",
    "read:dataset": "Read the dataset catalog, metadata and files",
    "write:dataset": "Publish and delete datasets",
}
TOKEN_PREFIX = "hxs_"  # noqa: S105 - a prefix, not a secret
MIN_TOKEN_LENGTH = 32

bearer = HTTPBearer(
    scheme_name="bearerAuth",
    bearerFormat="opaque",
    description="A per-client token created with `hx-sharing client create`. Scopes: "
    + ", ".join(f"`{k}` ({v})" for k, v in SCOPES.items()),
    auto_error=False,
)


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def validate_token(token: str) -> None:
    if len(token) < MIN_TOKEN_LENGTH or any(c.isspace() for c in token) or not token.isprintable():
        raise ValueError(f"a token must be at least {MIN_TOKEN_LENGTH} printable characters without spaces")


def validate_scopes(scopes: list[str]) -> list[str]:
    bad = [s for s in scopes if s not in SCOPES]
    if bad:
        raise ValueError(f"unknown scope(s) {', '.join(bad)}; valid: {', '.join(SCOPES)}")
    return sorted(set(scopes))


@dataclass(frozen=True)
class Principal:
    name: str
    scopes: frozenset[str]


class TokenCache:
    """Short-lived cache of token hash -> principal, so hot paths skip a query."""

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._lock = threading.Lock()
        self._data: dict[str, tuple[float, Principal | None]] = {}

    def get(self, key: str) -> tuple[bool, Principal | None]:
        if self.ttl <= 0:
            return False, None
        with self._lock:
            hit = self._data.get(key)
        if hit and hit[0] > time.monotonic():
            return True, hit[1]
        return False, None

    def put(self, key: str, value: Principal | None) -> None:
        if self.ttl <= 0:
            return
        with self._lock:
            if len(self._data) > 10_000:
                self._data.clear()
            self._data[key] = (time.monotonic() + self.ttl, value)


def _query(state, token_hash: str) -> Principal | None:
    def q(s):
        row = s.scalar(select(Client).where(Client.token_hash == token_hash, Client.revoked_at.is_(None)))
        return Principal(row.name, row.scope_set) if row else None

    principal = state.db.read(q)
    state.token_cache.put(token_hash, principal)
    return principal


async def _lookup(state, token_hash: str) -> Principal | None:
    """One query per token at a time: when a cached entry expires under load, the requests
    that carry the token wait for a single lookup instead of all hitting the database."""
    pending: dict[str, asyncio.Future] = state.token_lookups
    fut = pending.get(token_hash)
    if fut is None:
        fut = asyncio.ensure_future(asyncio.to_thread(_query, state, token_hash))
        pending[token_hash] = fut
        fut.add_done_callback(lambda _f: pending.pop(token_hash, None))
    return await asyncio.shield(fut)


async def authenticate(
    security_scopes: SecurityScopes,
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)],
) -> Principal:
    settings = request.app.state.settings
    if not settings.auth_enabled:
        return Principal("anonymous", frozenset(SCOPES))
    if credentials is None or credentials.scheme.lower() != "bearer" or not credentials.credentials:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "missing bearer token",
            headers={"WWW-Authenticate": "Bearer"},
        )
    token_hash = hash_token(credentials.credentials)
    found, principal = request.app.state.token_cache.get(token_hash)
    if not found:  # the database only on a cache miss, off the event loop, once per token
        principal = await _lookup(request.app.state, token_hash)
    if principal is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "invalid or revoked token",
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        )
    missing = [s for s in security_scopes.scopes if s not in principal.scopes]
    if missing:
        scope = " ".join(security_scopes.scopes)
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            f"client {principal.name!r} lacks scope {' '.join(missing)}",
            headers={"WWW-Authenticate": f'Bearer error="insufficient_scope", scope="{scope}"'},
        )
    request.state.principal = principal
    return principal


ReadModel = Annotated[Principal, Security(authenticate, scopes=["read:model"])]
WriteModel = Annotated[Principal, Security(authenticate, scopes=["write:model"])]
ReadDataset = Annotated[Principal, Security(authenticate, scopes=["read:dataset"])]
WriteDataset = Annotated[Principal, Security(authenticate, scopes=["write:dataset"])]
