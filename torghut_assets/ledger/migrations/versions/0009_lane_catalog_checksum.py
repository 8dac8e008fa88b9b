"""Lane catalog checksum on research runs: the sha256 of the lane catalog file the run was shaped by.

Trade decisions carry it inside `decision_json` (`lane_catalog.checksum`); research runs, whose columns
record the gate policy checksum the same way, get a column. Rows written before the catalog have NULL.

Revision ID: 0009_lane_catalog_checksum
Revises: 0008_emergency_stop_clearances
Create Date: 2026-12-06 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_lane_catalog_checksum"
down_revision = "0008_emergency_stop_clearances"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("research_runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("lane_catalog_checksum", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("research_runs", schema=None) as batch_op:
        batch_op.drop_column("lane_catalog_checksum")
