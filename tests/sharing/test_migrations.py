"""Alembic migrations: they build the schema the ORM expects, and downgrade cleanly."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from hx_sharing.db import Base
from hx_sharing.migrate import downgrade, upgrade
from sqlalchemy import create_engine, inspect


def test_migrations_match_models_and_round_trip(postgres):
    url = postgres.create_database("migrations_check")
    upgrade(url)
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
        downgrade(url, "base")
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
        upgrade(url)
        assert {"model", "dataset", "sharing_client", "model_status_event"} <= set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
