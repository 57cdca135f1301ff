"""Metadata schema (SQLAlchemy 2) and session handling.

The schema is owned by the Alembic migrations in ``hx_sharing/migrations``; the ORM classes
here must match them (``tests/sharing/test_migrations.py`` checks that they do).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from sqlalchemy import (
    BigInteger,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    create_engine,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

from .settings import Settings

T = TypeVar("T")


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Base(DeclarativeBase):
    pass


class Client(Base):
    """A caller of the APIs, usually one per peer domain, holding one bearer token."""

    __tablename__ = "sharing_client"

    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    # sha256 hex of the token; tokens are >= 32 random characters, so a fast hash is enough.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[str] = mapped_column(String(256))  # space separated, OAuth2 style
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)

    @property
    def scope_set(self) -> frozenset[str]:
        return frozenset(self.scopes.split())


class Model(Base):
    __tablename__ = "model"
    __table_args__ = (
        UniqueConstraint("name", "version", name="uq_model_name_version"),
        Index("ix_model_status", "status"),
        Index("ix_model_tag", "tag"),
    )

    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    version: Mapped[str] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(32))
    library: Mapped[str] = mapped_column(String(255))
    library_version: Mapped[str] = mapped_column(String(128))
    domain: Mapped[str] = mapped_column(String(255))
    tag: Mapped[str] = mapped_column(String(255))
    parameters: Mapped[Any] = mapped_column(JSONB)
    characteristics: Mapped[Any] = mapped_column(JSONB)
    object_key: Mapped[str] = mapped_column(String(512))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    created_by: Mapped[str] = mapped_column(String(128))
    status_changed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    status_changed_by: Mapped[str] = mapped_column(String(128))


class ModelStatusEvent(Base):
    """History of status changes: who moved which model version to which status, and when."""

    __tablename__ = "model_status_event"

    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("model.id", ondelete="CASCADE"), index=True)
    from_status: Mapped[str | None] = mapped_column(String(32), nullable=True)
    to_status: Mapped[str] = mapped_column(String(32))
    changed_by: Mapped[str] = mapped_column(String(128))
    changed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    comment: Mapped[str | None] = mapped_column(Text, nullable=True)


class CatalogGeneration(Base):
    """Per catalog ('model', 'dataset'): a counter bumped by a trigger on every committed change.

    Catalog answers are cached per process under the generation read before the query
    (``catalog.CatalogReader``); migration 0002 creates the triggers.
    """

    __tablename__ = "catalog_generation"

    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    generation: Mapped[int] = mapped_column(BigInteger, server_default="0")


class Dataset(Base):
    __tablename__ = "dataset"
    __table_args__ = (UniqueConstraint("name", "version", name="uq_dataset_name_version"),)

    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    version: Mapped[str] = mapped_column(String(128))
    data_type: Mapped[str] = mapped_column(String(32))
    tag: Mapped[str] = mapped_column(String(255))
    parameters: Mapped[Any] = mapped_column(JSONB)
    dataset_key: Mapped[str] = mapped_column(String(512))
    dataset_size: Mapped[int] = mapped_column(BigInteger)
    dataset_sha256: Mapped[str] = mapped_column(String(64))
    dataset_crc32: Mapped[int] = mapped_column(BigInteger)
    data_model_key: Mapped[str] = mapped_column(String(512))
    data_model_size: Mapped[int] = mapped_column(BigInteger)
    data_model_sha256: Mapped[str] = mapped_column(String(64))
    data_model_crc32: Mapped[int] = mapped_column(BigInteger)
    # Entry order inside the served zip: the order the files arrived in, so that the zip's
    # digest can be computed while uploading ("dataset,dataModel" or "dataModel,dataset").
    zip_order: Mapped[str] = mapped_column(String(32))
    zip_size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))  # of the served zip
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    created_by: Mapped[str] = mapped_column(String(128))


def make_engine(settings: Settings) -> Engine:
    return create_engine(
        settings.database_url.get_secret_value(),
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_pool_size,
        pool_pre_ping=True,
        pool_timeout=settings.db_connect_timeout,
        connect_args={"connect_timeout": settings.db_connect_timeout},
    )


class Database:
    """Two pools: ``session()`` for writes (transactions, pre-ping) and ``read()`` for hot read paths.

    Reads run in autocommit mode without a pre-ping: one round trip per query instead of four
    (pre-ping, BEGIN, SELECT, ROLLBACK). A connection found dead (database restarted) invalidates
    the pool and the read is retried once on a fresh connection.
    """

    def __init__(self, settings: Settings, engine: Engine | None = None) -> None:
        self.engine = engine or make_engine(settings)
        self.sessionmaker = sessionmaker(self.engine, expire_on_commit=False)
        self.read_engine = create_engine(
            settings.database_url.get_secret_value(),
            isolation_level="AUTOCOMMIT",
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_pool_size,
            pool_pre_ping=False,
            pool_timeout=settings.db_connect_timeout,
            connect_args={"connect_timeout": settings.db_connect_timeout},
        )
        self.read_sessionmaker = sessionmaker(self.read_engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self.sessionmaker() as s:
            yield s

    def read(self, fn: Callable[[Session], T]) -> T:
        for attempt in (1, 2):
            try:
                with self.read_sessionmaker() as s:
                    return fn(s)
            except DBAPIError as exc:
                if attempt == 2 or not exc.connection_invalidated:
                    raise
        raise AssertionError("unreachable")

    def ping(self) -> None:
        with self.engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")

    def dispose(self) -> None:
        self.engine.dispose()
        self.read_engine.dispose()
