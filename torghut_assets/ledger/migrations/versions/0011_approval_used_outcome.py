"""Approval use outcome: an approval is spent by its first presentation, allowed or denied.

`approval_overrides.used_outcome` records the outcome (`allow` / `deny`) of the promotion decision that
spent the approval (`used_by_promotion_id`), so a replay is refused naming that promotion and its
outcome. Rows used before this revision were all used by allowed promotions: they get `allow`.

Revision ID: 0011_approval_used_outcome
Revises: 0010_approval_provenance
Create Date: 2026-12-08 12:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_approval_used_outcome"
down_revision = "0010_approval_provenance"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("approval_overrides", schema=None) as batch_op:
        batch_op.add_column(sa.Column("used_outcome", sa.String(length=8), nullable=True))
    op.execute(
        "UPDATE approval_overrides SET used_outcome = 'allow' "
        "WHERE used_at IS NOT NULL AND used_by_promotion_id IS NOT NULL"
    )


def downgrade() -> None:
    with op.batch_alter_table("approval_overrides", schema=None) as batch_op:
        batch_op.drop_column("used_outcome")
