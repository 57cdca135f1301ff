"""Helpers used by the route modules of both services."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Iterable
from typing import Annotated, Any

from fastapi import HTTPException, Path, status

from .semver import newest
from .storage import ObjectStoreUnavailable, is_unavailable

MAX_ID = 2**31 - 1


def id_param():
    """A fresh Annotated path-parameter type per service (FastAPI must not share one FieldInfo across apps)."""
    return Annotated[int, Path(ge=1, le=MAX_ID, description="identifier returned when the item was published")]


ID_RESOLUTION = (
    "The identifier names one published version; `version` selects a version of the same name: "
    "`latest` (the default) is the newest by semantic-version order, any other value must match exactly."
)


def not_found(what: str) -> HTTPException:
    return HTTPException(status.HTTP_404_NOT_FOUND, f"{what} not found")


def check_text(value: str | None, name: str) -> str | None:
    if value is not None and "\x00" in value:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"{name} holds a NUL character")
    return value


def resolve(session, cls, item_id: int, version: str | None, what: str) -> Any:
    """Row for (id, version) following the rules in ID_RESOLUTION."""
    from sqlalchemy import select

    check_text(version, "version")
    row = session.get(cls, item_id)
    if row is None:
        raise not_found(what)
    if version in (None, "") or version == row.version:
        return row
    if version == "latest":
        versions = session.scalars(select(cls.version).where(cls.name == row.name)).all()
        version = newest(versions)
    other = session.scalar(select(cls).where(cls.name == row.name, cls.version == version))
    if other is None:
        raise not_found(f"{what} {row.name!r} version {version!r}")
    return other


async def delete_version(state, cls, item_id: int, version: str, what: str, keys: Callable[[Any], Iterable[str]]) -> Any:
    """DELETE of one named version: its row and its objects go together, or neither does.

    ``latest`` is refused, so a delete never lands on a version the caller did not name."""
    if version == "latest":
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "name the version to delete; 'latest' is refused")
    return await asyncio.to_thread(_delete_version, state, cls, item_id, version, what, keys)


def _delete_version(state, cls, item_id: int, version: str, what: str, keys) -> Any:
    with state.db.session() as s:
        row = resolve(s, cls, item_id, version, what)
        s.delete(row)
        s.flush()  # the row is gone inside the transaction; delete the objects, then commit
        try:
            state.store.delete(*keys(row))
        except Exception as exc:
            s.rollback()
            if is_unavailable(exc):
                raise ObjectStoreUnavailable(type(exc).__name__) from exc
            raise
        s.commit()
        return row


def keep_latest(rows: list, key=lambda r: r.name) -> list:
    by_name: dict[str, list] = {}
    for r in rows:
        by_name.setdefault(key(r), []).append(r)
    out = []
    for group in by_name.values():
        best = newest([r.version for r in group])
        out.extend(r for r in group if r.version == best)
    return sorted(out, key=lambda r: r.id)


_FILENAME_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_filename(*parts: str) -> str:
    return _FILENAME_SAFE.sub("_", "-".join(parts))[:200] or "artifact"
