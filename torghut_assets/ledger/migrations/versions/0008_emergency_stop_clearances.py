"""Emergency-stop clearances: each time a person cleared a lane's latched emergency stop, who and why.

Revision ID: 0008_emergency_stop_clearances
Revises: 0007_order_cancellations
Create Date: 2026-12-05 23:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0008_emergency_stop_clearances"
down_revision = "0007_order_cancellations"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "emergency_stop_clearances",
        sa.Column("id", sa.Uuid(as_uuid=False), nullable=False),
        sa.Column("lane", sa.String(length=64), nullable=False),
        sa.Column("cleared_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cleared_through_window", sa.DateTime(timezone=True), nullable=True),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column(
            "cleared_reasons", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False
        ),
        sa.Column("emergency_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("evidence_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_emergency_stop_clearances")),
    )
    with op.batch_alter_table("emergency_stop_clearances", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_emergency_stop_clearances_lane_cleared_at"), ["lane", "cleared_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("emergency_stop_clearances", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_emergency_stop_clearances_lane_cleared_at"))
    op.drop_table("emergency_stop_clearances")
