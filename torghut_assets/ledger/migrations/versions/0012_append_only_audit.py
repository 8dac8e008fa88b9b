"""Append-only audit, and the error of a failed research run.

- `research_runs.error`: why a `failed` run failed (the research step's exception).
- `research_promotions.revision`: the lane window's own requests (approver role `autonomous_scheduler`)
  become a stream per window, 1, 2, 3, ..., unique per (lane, window_start) among those rows; a re-run
  that requests something else appends the next revision instead of rewriting the request. Existing
  rows are revision 1 (a window held one request).
- `approval_uses`: the use (or revocation) of an approval is a row of its own, unique per approval id,
  instead of an update of the `approval_overrides` row. The uses recorded so far on `approval_overrides`
  (`used_at`, `used_by_promotion_id`, `used_outcome`) move there, and those columns are dropped.
- `candidate_lifecycle_events`: a candidate's lifecycle changes (champion/active, demoted/standby,
  paused) are appended per candidate instead of updating `research_candidates.lifecycle_*`. Each
  candidate whose stored lifecycle is not the research run's `challenger`/`evaluated` gets it as its
  revision 1.

Revision ID: 0012_append_only_audit
Revises: 0011_approval_used_outcome
Create Date: 2026-12-10 12:00:00
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from alembic import op

revision = "0012_append_only_audit"
down_revision = "0011_approval_used_outcome"
branch_labels = None
depends_on = None

# The ledger's row-id namespace (ledger/identity.py), copied so the migration does not import the package.
_NAMESPACE = uuid.UUID("6f1c3a52-8d0e-4d8b-9a57-3b1f0c7e2a91")
_SCHEDULER_ROLE = "approver_role = 'autonomous_scheduler'"


def _row_id(table: str, *key: object) -> str:
    return str(uuid.uuid5(_NAMESPACE, "|".join([table, *(str(k) for k in key)])))


# Typed views of the columns read, so SQLite hands back datetimes (not their text) on both databases.
_TS = sa.DateTime(timezone=True)


def _use_columns(table: str) -> sa.TableClause:
    """The use of an approval, as `approval_overrides` held it before and `approval_uses` holds it now."""
    return sa.table(
        table,
        sa.column("override_id", sa.String()),
        sa.column("used_by_promotion_id", sa.String()),
        sa.column("used_outcome", sa.String()),
        sa.column("used_at", _TS),
    )


_candidates = sa.table(
    "research_candidates",
    sa.column("candidate_id", sa.String()),
    sa.column("lifecycle_role", sa.String()),
    sa.column("lifecycle_status", sa.String()),
)


def upgrade() -> None:
    with op.batch_alter_table("research_runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("error", sa.Text(), nullable=True))

    with op.batch_alter_table("research_promotions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("revision", sa.Integer(), server_default="1", nullable=False))
    op.create_index(
        "uq_research_promotions_request_revision",
        "research_promotions",
        ["lane", "window_start", "revision"],
        unique=True,
        postgresql_where=sa.text(_SCHEDULER_ROLE),
        sqlite_where=sa.text(_SCHEDULER_ROLE),
    )

    uses = op.create_table(
        "approval_uses",
        sa.Column("id", sa.Uuid(as_uuid=False), nullable=False),
        sa.Column("override_id", sa.String(length=64), nullable=False),
        sa.Column("used_by_promotion_id", sa.Uuid(as_uuid=False), nullable=True),
        sa.Column("used_outcome", sa.String(length=8), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_approval_uses")),
        sa.UniqueConstraint("override_id", name=op.f("uq_approval_uses_override_id")),
    )
    bind = op.get_bind()
    o = _use_columns("approval_overrides").c
    spent = bind.execute(
        sa.select(o.override_id, o.used_by_promotion_id, o.used_outcome, o.used_at).where(
            o.used_at.is_not(None)
        )
    ).all()
    if spent:
        op.bulk_insert(
            uses,
            [
                {
                    "id": _row_id("approval_uses", override_id),
                    "override_id": override_id,
                    "used_by_promotion_id": None if promotion is None else str(promotion),
                    "used_outcome": outcome or "allow",
                    "used_at": used_at,
                    "created_at": used_at,
                }
                for override_id, promotion, outcome, used_at in spent
            ],
        )
    with op.batch_alter_table("approval_overrides", schema=None) as batch_op:
        batch_op.drop_column("used_outcome")
        batch_op.drop_column("used_by_promotion_id")
        batch_op.drop_column("used_at")

    events = op.create_table(
        "candidate_lifecycle_events",
        sa.Column("id", sa.Uuid(as_uuid=False), nullable=False),
        sa.Column("candidate_id", sa.String(length=64), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("lifecycle_role", sa.String(length=16), nullable=False),
        sa.Column("lifecycle_status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_candidate_lifecycle_events")),
        sa.UniqueConstraint(
            "candidate_id", "revision", name=op.f("uq_candidate_lifecycle_events_candidate_id_revision")
        ),
    )
    c = _candidates.c
    moved = bind.execute(
        sa.select(c.candidate_id, c.lifecycle_role, c.lifecycle_status).where(
            sa.or_(c.lifecycle_role != "challenger", c.lifecycle_status != "evaluated")
        )
    ).all()
    if moved:
        op.bulk_insert(
            events,
            [
                {
                    "id": _row_id("candidate_lifecycle_events", candidate_id, 1),
                    "candidate_id": candidate_id,
                    "revision": 1,
                    "lifecycle_role": role,
                    "lifecycle_status": status,
                }
                for candidate_id, role, status in moved
            ],
        )


def downgrade() -> None:
    bind = op.get_bind()
    latest = bind.execute(
        sa.text(
            "SELECT e.candidate_id, e.lifecycle_role, e.lifecycle_status FROM candidate_lifecycle_events e "
            "WHERE e.revision = (SELECT max(x.revision) FROM candidate_lifecycle_events x "
            "WHERE x.candidate_id = e.candidate_id)"
        )
    ).all()
    for candidate_id, role, status in latest:
        bind.execute(
            sa.text(
                "UPDATE research_candidates SET lifecycle_role = :role, lifecycle_status = :status "
                "WHERE candidate_id = :candidate_id"
            ),
            {"role": role, "status": status, "candidate_id": candidate_id},
        )
    op.drop_table("candidate_lifecycle_events")

    with op.batch_alter_table("approval_overrides", schema=None) as batch_op:
        batch_op.add_column(sa.Column("used_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("used_by_promotion_id", sa.Uuid(as_uuid=False), nullable=True))
        batch_op.add_column(sa.Column("used_outcome", sa.String(length=8), nullable=True))
    uses = _use_columns("approval_uses").c
    for override_id, promotion, outcome, used_at in bind.execute(
        sa.select(uses.override_id, uses.used_by_promotion_id, uses.used_outcome, uses.used_at)
    ).all():
        if outcome == "revoked":
            bind.execute(
                sa.text("UPDATE approval_overrides SET revoked_at = :at WHERE override_id = :override_id"),
                {"at": used_at, "override_id": override_id},
            )
            continue
        bind.execute(
            sa.text(
                "UPDATE approval_overrides SET used_at = :at, used_by_promotion_id = :promotion, "
                "used_outcome = :outcome WHERE override_id = :override_id"
            ),
            {"at": used_at, "promotion": promotion, "outcome": outcome, "override_id": override_id},
        )
    op.drop_table("approval_uses")

    op.drop_index("uq_research_promotions_request_revision", table_name="research_promotions")
    with op.batch_alter_table("research_promotions", schema=None) as batch_op:
        batch_op.drop_column("revision")

    with op.batch_alter_table("research_runs", schema=None) as batch_op:
        batch_op.drop_column("error")
