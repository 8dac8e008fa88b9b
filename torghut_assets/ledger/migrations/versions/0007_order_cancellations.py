"""Order cancellations: every cancel attempt a kill switch or an emergency stop made, and its outcome.

Revision ID: 0007_order_cancellations
Revises: 0006_universe_snapshots
Create Date: 2026-12-05 19:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_order_cancellations"
down_revision = "0006_universe_snapshots"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "order_cancellations",
        sa.Column("id", sa.Uuid(as_uuid=False), nullable=False),
        sa.Column("trigger", sa.String(length=32), nullable=False),
        sa.Column("trigger_reason", sa.String(length=256), nullable=False),
        sa.Column("trigger_source", sa.String(length=64), nullable=False),
        sa.Column("lane", sa.String(length=64), nullable=True),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=True),
        sa.Column("venue", sa.String(length=32), nullable=False),
        sa.Column("order_id", sa.String(length=128), nullable=True),
        sa.Column("client_order_id", sa.String(length=128), nullable=True),
        sa.Column("accepted", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=True),
        sa.Column("detail", sa.String(length=500), server_default="", nullable=False),
        sa.Column("attempted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_cancellations")),
    )
    with op.batch_alter_table("order_cancellations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_order_cancellations_attempted_at"), ["attempted_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_order_cancellations_lane_window_start"), ["lane", "window_start"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("order_cancellations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_order_cancellations_lane_window_start"))
        batch_op.drop_index(batch_op.f("ix_order_cancellations_attempted_at"))
    op.drop_table("order_cancellations")
