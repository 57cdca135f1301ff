"""The catalog read path: asyncio PostgreSQL queries and a generation-checked answer cache.

``GET /model_catalog`` and ``GET /dataset_catalog`` are what peer domains poll. They run on the
event loop, never in the thread pool: a small pool of asyncio psycopg connections reads the
catalog's generation (``catalog_generation``, bumped by a trigger in every transaction that
changes the table, see migration 0002) and, unless a serialised answer for the same filters was
cached under that same generation, runs the query and serialises the rows with orjson (JSONB
columns are spliced in as pre-serialised text).

Consistency: the generation is read *before* the rows, in autocommit, so a cached answer is
never older than the generation it is stored under; a request that starts after a change was
committed always sees a new generation and therefore fresh rows (read-your-writes across
workers and replicas). The cache is per process and bounded in bytes
(``HX_SHARING_CATALOG_CACHE_BYTES``; 0 turns it off).

The wire format is the one the pydantic response models describe; ``tests/sharing`` checks that
both serialisations give the same documents.
"""

from __future__ import annotations

import asyncio
import collections
import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
import psycopg
from psycopg import sql
from psycopg.rows import namedtuple_row
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import make_url

from .common_routes import keep_latest
from .logs import get_logger

log = get_logger("catalog")


def json_fragment(text: str | None) -> orjson.Fragment | dict:
    """A JSONB column read as text (see ``CatalogSpec.json_columns``), spliced into the answer as it is."""
    return {} if text is None or text == "null" else orjson.Fragment(text)


@dataclass(frozen=True)
class CatalogSpec:
    """One catalog: its table, the list key of the answer, the columns it reads and the row -> document
    function (rows are named tuples; JSONB columns in ``json_columns`` arrive as text)."""

    kind: str
    table: str
    list_key: str
    columns: Sequence[str]
    json_columns: frozenset[str]
    document: Callable[[Any], dict]
    filters: Sequence[str]  # columns that may be filtered by equality

    @classmethod
    def for_table(cls, table, *, kind: str, list_key: str, document: Callable[[Any], dict], filters: Sequence[str]):
        """The spec reading every column of an ORM table (JSONB columns as text)."""
        return cls(
            kind=kind,
            table=table.name,
            list_key=list_key,
            columns=tuple(c.name for c in table.columns),
            json_columns=frozenset(c.name for c in table.columns if isinstance(c.type, JSONB)),
            document=document,
            filters=filters,
        )

    def select(self) -> sql.Composed:
        cols = sql.SQL(", ").join(
            sql.SQL("{}::text AS {}").format(sql.Identifier(c), sql.Identifier(c)) if c in self.json_columns else sql.Identifier(c) for c in self.columns
        )
        return sql.SQL("SELECT {} FROM {}").format(cols, sql.Identifier(self.table))


def _retrieve(fut: asyncio.Future) -> None:
    if not fut.cancelled():
        fut.exception()


class AnswerCache:
    """LRU of serialised answers, bounded in bytes, each stored with the generation it was read at."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.bytes = 0
        self.hits = 0
        self.misses = 0
        self._data: collections.OrderedDict[tuple, tuple[int, bytes]] = collections.OrderedDict()

    def get(self, key: tuple, generation: int) -> bytes | None:
        hit = self._data.get(key)
        if hit is not None and hit[0] == generation:
            self._data.move_to_end(key)
            self.hits += 1
            return hit[1]
        if hit is not None:  # stale: the catalog changed since
            self._drop(key)
        self.misses += 1
        return None

    def put(self, key: tuple, generation: int, body: bytes) -> None:
        if len(body) > self.max_bytes // 4:  # one answer never takes over the cache
            return
        if key in self._data:
            self._drop(key)
        self._data[key] = (generation, body)
        self.bytes += len(body)
        while self.bytes > self.max_bytes:
            self._drop(next(iter(self._data)))

    def _drop(self, key: tuple) -> None:
        _gen, body = self._data.pop(key)
        self.bytes -= len(body)


class ConnectionPool:
    """At most ``size`` asyncio connections (autocommit, UTC), opened on demand and reused."""

    def __init__(self, conninfo: str, size: int, connect_timeout: int) -> None:
        self.conninfo = conninfo
        self.connect_timeout = connect_timeout
        self._slots: asyncio.Queue[psycopg.AsyncConnection | None] = asyncio.Queue()
        for _ in range(size):
            self._slots.put_nowait(None)

    async def _connect(self) -> psycopg.AsyncConnection:
        return await psycopg.AsyncConnection.connect(
            self.conninfo,
            autocommit=True,
            connect_timeout=self.connect_timeout,
            options="-c TimeZone=UTC",
            row_factory=namedtuple_row,
        )

    async def run(self, fn: Callable[[psycopg.AsyncConnection], Any]) -> Any:
        """``await fn(conn)``; a connection found broken (database restarted) is replaced once."""
        conn = await self._slots.get()
        try:
            for attempt in (1, 2):
                if conn is None or conn.closed:
                    conn = await self._connect()
                try:
                    return await fn(conn)
                except psycopg.OperationalError:
                    broken = conn.broken or conn.closed
                    await conn.close()
                    conn = None
                    if attempt == 2 or not broken:
                        raise
            raise AssertionError("unreachable")
        finally:
            self._slots.put_nowait(conn)

    async def warm(self) -> None:
        """Open every connection now rather than under the first burst of requests."""
        slots = [self._slots.get_nowait() for _ in range(self._slots.qsize())]
        try:
            opened = await asyncio.gather(*(self._connect() for s in slots if s is None), return_exceptions=True)
            fresh = iter(opened)
            slots = [s if s is not None else next(fresh) for s in slots]
            errors = [c for c in slots if isinstance(c, BaseException)]
            if errors:
                log.warning("catalog connections not opened at start", extra={"error": repr(errors[0])[:300]})
        finally:
            for s in slots:
                self._slots.put_nowait(None if isinstance(s, BaseException) else s)

    async def close(self) -> None:
        while not self._slots.empty():
            conn = self._slots.get_nowait()
            if conn is not None:
                await conn.close()


def conninfo_from_url(url: str) -> str:
    """The SQLAlchemy URL of the settings (postgresql+psycopg://...) as a libpq URI."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


class CatalogReader:
    def __init__(self, database_url: str, pool_size: int, connect_timeout: int, cache_bytes: int) -> None:
        conninfo = conninfo_from_url(database_url)
        self.pool = ConnectionPool(conninfo, pool_size, connect_timeout)
        # generation reads get a connection of their own: a request whose answer is cached never
        # queues behind the row queries of requests whose answers are not
        self.generation_pool = ConnectionPool(conninfo, 1, connect_timeout)
        self.cache = AnswerCache(cache_bytes) if cache_bytes > 0 else None
        self._next_read: dict[str, asyncio.Future] = {}
        self._reads: set[asyncio.Task] = set()

    async def generation(self, kind: str) -> int:
        """The catalog's current generation, read by a query that starts after this call.

        Calls that arrive before the pending read has its connection join it (one query for a
        burst of requests), and a read never serves a call that arrived after its query was
        sent, so every caller sees every change committed before it asked.
        """
        fut = self._next_read.get(kind)
        if fut is None:
            fut = asyncio.get_running_loop().create_future()
            fut.add_done_callback(_retrieve)  # waiters that were cancelled must not leave it unretrieved
            self._next_read[kind] = fut
            task = asyncio.ensure_future(self._read_generation(kind, fut))
            self._reads.add(task)
            task.add_done_callback(self._reads.discard)
        return await asyncio.shield(fut)

    async def _read_generation(self, kind: str, fut: asyncio.Future) -> None:
        def close_batch() -> None:
            if self._next_read.get(kind) is fut:
                del self._next_read[kind]

        async def q(conn):
            # Only now, with the connection in hand, does the batch close: everyone who asked
            # while this read waited for the connection is served by it, and the query starts
            # after all of them asked. Later callers wait for the next read.
            close_batch()
            cur = await conn.execute("SELECT generation FROM catalog_generation WHERE kind = %s", (kind,))
            row = await cur.fetchone()
            return row.generation if row else -1

        try:
            result = await self.generation_pool.run(q)
        except BaseException as exc:  # noqa: BLE001 - handed to every waiter
            close_batch()
            if not fut.done():
                fut.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
        else:
            if not fut.done():
                fut.set_result(result)

    async def answer(
        self,
        spec: CatalogSpec,
        filters: dict[str, str | None],
        version: str | None,
        limit: int | None,
        offset: int,
    ) -> bytes:
        """The serialised answer ``{"<list_key>": [...]}`` for these filters (empty value: no filter)."""
        where = {k: v for k, v in filters.items() if v}
        unknown = set(where) - set(spec.filters)
        if unknown:
            raise ValueError(f"not a filter of {spec.kind}: {', '.join(sorted(unknown))}")
        key = (spec.kind, tuple(sorted(where.items())), version or "", limit, offset)
        generation = None
        if self.cache is not None:
            generation = await self.generation(spec.kind)
            body = self.cache.get(key, generation)
            if body is not None:
                return body
        rows = await self.pool.run(lambda conn: self._rows(conn, spec, where, version, limit, offset))
        if version == "latest":
            rows = keep_latest(rows)[offset:][:limit]
        body = orjson.dumps({spec.list_key: [spec.document(r) for r in rows]}, option=orjson.OPT_UTC_Z)
        if self.cache is not None and generation is not None:
            self.cache.put(key, generation, body)
        return body

    async def _rows(self, conn, spec: CatalogSpec, where: dict, version: str | None, limit: int | None, offset: int):
        exact = bool(version) and version != "latest"
        query = self._query(spec, tuple(where), exact, version == "latest")
        params: list[Any] = list(where.values())
        if exact:
            params.append(version)
        if version != "latest":
            params += [limit, offset]
        cur = await conn.execute(query, params)
        return await cur.fetchall()

    @functools.lru_cache(maxsize=256)  # noqa: B019 - a handful of shapes; the reader lives as long as the app
    def _query(self, spec: CatalogSpec, columns: tuple[str, ...], exact_version: bool, latest: bool) -> bytes:
        """The SQL for one shape of filters, composed once (values are always parameters)."""
        clauses = [sql.SQL("{} = {}").format(sql.Identifier(col), sql.Placeholder()) for col in columns]
        if exact_version:
            clauses.append(sql.SQL("version = {}").format(sql.Placeholder()))
        query = spec.select()
        if clauses:
            query = sql.SQL("{} WHERE {}").format(query, sql.SQL(" AND ").join(clauses))
        query = sql.SQL("{} ORDER BY id").format(query)
        if not latest:
            query = sql.SQL("{} LIMIT {} OFFSET {}").format(query, sql.Placeholder(), sql.Placeholder())
        return query.as_bytes(None)

    async def warm(self) -> None:
        await asyncio.gather(self.pool.warm(), self.generation_pool.warm())

    async def close(self) -> None:
        await self.pool.close()
        await self.generation_pool.close()


__all__ = ["AnswerCache", "CatalogReader", "CatalogSpec", "conninfo_from_url", "json_fragment"]
