"""Catalog generations: a counter per catalog, bumped by every committed change.

The services cache serialised catalog answers and check the counter on every request (one
primary-key lookup), so a cached answer is served only while nothing in the table changed.
Statement-level triggers bump it inside the writing transaction, whoever writes (the API, the
CLI, a restore with COPY): the new value becomes visible exactly when the change does.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TABLES = ("model", "dataset")


def upgrade() -> None:
    op.create_table(
        "catalog_generation",
        sa.Column("kind", sa.String(32), primary_key=True),
        sa.Column("generation", sa.BigInteger(), nullable=False, server_default="0"),
    )
    op.execute("INSERT INTO catalog_generation (kind, generation) VALUES ('model', 0), ('dataset', 0)")
    op.execute(
        """
        CREATE FUNCTION hx_bump_catalog_generation() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            UPDATE catalog_generation SET generation = generation + 1 WHERE kind = TG_ARGV[0];
            RETURN NULL;
        END
        $$
        """
    )
    for table in TABLES:
        op.execute(
            f"CREATE TRIGGER {table}_catalog_generation AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION hx_bump_catalog_generation('{table}')"
        )


def downgrade() -> None:
    for table in TABLES:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_catalog_generation ON {table}")
    op.execute("DROP FUNCTION IF EXISTS hx_bump_catalog_generation()")
    op.drop_table("catalog_generation")
