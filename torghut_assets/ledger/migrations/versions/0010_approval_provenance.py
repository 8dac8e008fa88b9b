"""Approval provenance: how each approval was signed, where it was minted, which key and approvers file.

Ed25519 approvals (`ed25519_v2`) are minted offline on the approver's machine and enter
`approval_overrides` only when a promotion uses them; HMAC approvals (`hmac_v1`, dev only) are stored
when minted. Neither row holds the token: only its sha256. Rows written before this revision have NULL.

Revision ID: 0010_approval_provenance
Revises: 0009_lane_catalog_checksum
Create Date: 2026-12-06 12:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_approval_provenance"
down_revision = "0009_lane_catalog_checksum"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("approval_overrides", schema=None) as batch_op:
        batch_op.add_column(sa.Column("scheme", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("source", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("key_id", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("approvers_checksum", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("approval_overrides", schema=None) as batch_op:
        batch_op.drop_column("approvers_checksum")
        batch_op.drop_column("key_id")
        batch_op.drop_column("source")
        batch_op.drop_column("scheme")
