"""Initial schema: clients, models (+ status history), datasets.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _ts(name: str, nullable: bool = False) -> sa.Column:
    if nullable:
        return sa.Column(name, sa.DateTime(timezone=True), nullable=True)
    return sa.Column(name, sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False)


def upgrade() -> None:
    op.create_table(
        "sharing_client",
        sa.Column("id", sa.Integer(), sa.Identity(), primary_key=True),
        sa.Column("name", sa.String(128), nullable=False, unique=True),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("scopes", sa.String(256), nullable=False),
        _ts("created_at"),
        _ts("updated_at"),
        _ts("revoked_at", nullable=True),
    )
    op.create_table(
        "model",
        sa.Column("id", sa.Integer(), sa.Identity(), primary_key=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("version", sa.String(128), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("library", sa.String(255), nullable=False),
        sa.Column("library_version", sa.String(128), nullable=False),
        sa.Column("domain", sa.String(255), nullable=False),
        sa.Column("tag", sa.String(255), nullable=False),
        sa.Column("parameters", JSONB(), nullable=False),
        sa.Column("characteristics", JSONB(), nullable=False),
        sa.Column("object_key", sa.String(512), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        _ts("created_at"),
        sa.Column("created_by", sa.String(128), nullable=False),
        _ts("status_changed_at"),
        sa.Column("status_changed_by", sa.String(128), nullable=False),
        sa.UniqueConstraint("name", "version", name="uq_model_name_version"),
    )
    op.create_index("ix_model_status", "model", ["status"])
    op.create_index("ix_model_tag", "model", ["tag"])
    op.create_table(
        "model_status_event",
        sa.Column("id", sa.Integer(), sa.Identity(), primary_key=True),
        sa.Column("model_id", sa.Integer(), sa.ForeignKey("model.id", ondelete="CASCADE"), nullable=False),
        sa.Column("from_status", sa.String(32), nullable=True),
        sa.Column("to_status", sa.String(32), nullable=False),
        sa.Column("changed_by", sa.String(128), nullable=False),
        _ts("changed_at"),
        sa.Column("comment", sa.Text(), nullable=True),
    )
    op.create_index("ix_model_status_event_model_id", "model_status_event", ["model_id"])
    op.create_table(
        "dataset",
        sa.Column("id", sa.Integer(), sa.Identity(), primary_key=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("version", sa.String(128), nullable=False),
        sa.Column("data_type", sa.String(32), nullable=False),
        sa.Column("tag", sa.String(255), nullable=False),
        sa.Column("parameters", JSONB(), nullable=False),
        sa.Column("dataset_key", sa.String(512), nullable=False),
        sa.Column("dataset_size", sa.BigInteger(), nullable=False),
        sa.Column("dataset_sha256", sa.String(64), nullable=False),
        sa.Column("dataset_crc32", sa.BigInteger(), nullable=False),
        sa.Column("data_model_key", sa.String(512), nullable=False),
        sa.Column("data_model_size", sa.BigInteger(), nullable=False),
        sa.Column("data_model_sha256", sa.String(64), nullable=False),
        sa.Column("data_model_crc32", sa.BigInteger(), nullable=False),
        sa.Column("zip_order", sa.String(32), nullable=False),
        sa.Column("zip_size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        _ts("created_at"),
        sa.Column("created_by", sa.String(128), nullable=False),
        sa.UniqueConstraint("name", "version", name="uq_dataset_name_version"),
    )


def downgrade() -> None:
    op.drop_table("dataset")
    op.drop_index("ix_model_status_event_model_id", table_name="model_status_event")
    op.drop_table("model_status_event")
    op.drop_index("ix_model_tag", table_name="model")
    op.drop_index("ix_model_status", table_name="model")
    op.drop_table("model")
    op.drop_table("sharing_client")
