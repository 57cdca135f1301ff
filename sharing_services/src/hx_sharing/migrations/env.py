"""Alembic environment: the URL comes from the settings object (or the caller's config)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from hx_sharing.db import Base

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    url = config.get_main_option("sqlalchemy.url")
    if url:
        return url
    from hx_sharing.settings import get_settings

    return get_settings().database_url.get_secret_value()


def run_migrations_offline() -> None:
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connectable = create_engine(_url())
    with connectable.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata)
        with context.begin_transaction():
            # Serialise concurrent `migrate` runs (two replicas starting at once).
            connection.exec_driver_sql("SELECT pg_advisory_xact_lock(7294001)")
            context.run_migrations()
    connectable.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
