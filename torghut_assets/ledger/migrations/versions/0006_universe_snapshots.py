"""Universe snapshots: every Jangar fetch attempt, so the last good universe outlives one run; and the
cause behind a window's no-signal reason (`signal_ingest_windows.no_signal_detail`).

Revision ID: 0006_universe_snapshots
Revises: 0005_scale_indexes
Create Date: 2026-11-26 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0006_universe_snapshots"
down_revision = "0005_scale_indexes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "universe_snapshots",
        sa.Column("id", sa.Uuid(as_uuid=False), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("source_key", sa.String(length=64), nullable=False),
        sa.Column("source_url", sa.String(length=500), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=64), nullable=False),
        sa.Column(
            "symbols",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("symbols_count", sa.Integer(), nullable=False),
        sa.Column("rejected_symbols", sa.Integer(), server_default="0", nullable=False),
        sa.Column("payload_hash", sa.String(length=64), nullable=True),
        sa.Column("detail", sa.String(length=300), nullable=True),
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint(
            "(status = 'ok' AND symbols_count > 0) OR (status = 'error' AND symbols_count = 0)",
            name=op.f("ck_universe_snapshots_status_matches_symbols"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_universe_snapshots")),
    )
    with op.batch_alter_table("universe_snapshots", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_universe_snapshots_source_key_status_fetched_at"),
            ["source_key", "status", "fetched_at"],
            unique=False,
        )
    with op.batch_alter_table("signal_ingest_windows", schema=None) as batch_op:
        batch_op.add_column(sa.Column("no_signal_detail", sa.String(length=128), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("signal_ingest_windows", schema=None) as batch_op:
        batch_op.drop_column("no_signal_detail")
    with op.batch_alter_table("universe_snapshots", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_universe_snapshots_source_key_status_fetched_at"))
    op.drop_table("universe_snapshots")
