"""Approval override records (`approval_overrides`): store, look up, and spend exactly once.

Only sha256(token) is stored: a ledger reader cannot lift a token from the table.

Single use means single presentation: an approval that verifies is spent by the first promotion it is
presented to, in the transaction that records that promotion decision, whether the promotion is allowed
or denied. `used_by_promotion_id` names the decision and `used_outcome` its outcome (`allow` / `deny`);
`use_of` reads both back, so a replay is refused naming them. A token that fails verification is never
spent (it is nobody's approval, and must not burn the genuine one).

- HMAC approvals (dev only) are stored when minted; spending is a conditional UPDATE (`used_at IS
  NULL`), so of two promotions presenting the same token at once, one wins and the other sees a replay.
- Ed25519 approvals are minted offline and enter the table only when a promotion presents them: the row
  is inserted already used, and the unique `override_id` (= the approval id) makes a second use a
  replay. A row for an approval id that exists for any reason (used, or inserted revoked) blocks that
  approval.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from torghut_assets.domain.approvals import (
    SCHEME_ED25519,
    SCHEME_HMAC,
    USED_OUTCOMES,
    ApprovalProvenance,
    ApprovalRecord,
    ApprovalScope,
    ApprovalUse,
    ApprovalUseOutcome,
)
from torghut_assets.domain.signed_approvals import SignedApproval
from torghut_assets.ledger import schema
from torghut_assets.ledger.identity import row_id
from torghut_assets.ledger.queries import as_utc

table = schema.approval_overrides


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def insert_override(
    conn: Connection, record: ApprovalRecord, token: str, *, source: str | None = None
) -> dict[str, Any]:
    row = {
        "id": row_id("approval_overrides", record.override_id),
        "override_id": record.override_id,
        "candidate_id": record.candidate_id,
        "approver": record.approver,
        "approver_role": record.approver_role,
        "reason": record.reason,
        "scope": {
            "candidate_id": record.scope.candidate_id,
            "target_mode": record.scope.target_mode,
            "symbols": list(record.scope.symbols),
        },
        "policy_checksum": record.policy_checksum,
        "gate_evaluation_id": record.gate_evaluation_id,
        "expires_at": record.expires_at,
        "token_sha256": token_digest(token),
        "scheme": SCHEME_HMAC,
        "source": source,
        "created_at": record.created_at,
    }
    conn.execute(table.insert().values(**row))
    return row


def provenance_of(conn: Connection, override_id: str) -> ApprovalProvenance | None:
    row = conn.execute(
        sa.select(table.c.approver, table.c.approver_role, table.c.scheme, table.c.source).where(
            table.c.override_id == override_id
        )
    ).first()
    if row is None:
        return None
    return ApprovalProvenance(
        scheme=row.scheme or SCHEME_HMAC,
        source=row.source,
        approver=row.approver,
        approver_role=row.approver_role,
    )


def seen(conn: Connection, approval_id: str) -> bool:
    """True when the ledger already has a row for this approval id (used, or revoked in advance)."""
    return conn.execute(sa.select(table.c.id).where(table.c.override_id == approval_id)).first() is not None


def _outcome(outcome: str) -> str:
    if outcome not in USED_OUTCOMES:
        raise ValueError(f"used_outcome must be one of {sorted(USED_OUTCOMES)}, got {outcome!r}")
    return outcome


def use_of(conn: Connection, approval_id: str) -> ApprovalUse | None:
    """What spent (or revoked) this approval id, or None if the ledger holds no used or revoked row."""
    row = conn.execute(
        sa.select(
            table.c.used_at, table.c.used_by_promotion_id, table.c.used_outcome, table.c.revoked_at
        ).where(table.c.override_id == approval_id)
    ).first()
    if row is None or (row.used_at is None and row.revoked_at is None):
        return None
    if row.used_at is not None:
        return ApprovalUse(
            promotion_id=None if row.used_by_promotion_id is None else str(row.used_by_promotion_id),
            outcome=None if row.used_outcome is None else ApprovalUseOutcome(row.used_outcome),
            at=_aware(row.used_at),
        )
    return ApprovalUse(promotion_id=None, outcome=None, at=_aware(row.revoked_at), revoked=True)


def record_signed_use(
    conn: Connection,
    approval: SignedApproval,
    token: str,
    *,
    promotion_id: str,
    outcome: str,
    gate_evaluation_id: str,
    policy_checksum: str,
    approvers_checksum: str,
    at: dt.datetime,
) -> bool:
    """Insert the Ed25519 approval as spent by promotion decision `promotion_id`, whose outcome is
    `outcome` (`allow` / `deny`); False if its id was already there (a replay).

    The insert runs in a savepoint, so losing a race to a concurrent promotion presenting the same
    approval leaves this transaction usable (it records the replay instead of failing).
    """
    row = {
        "id": row_id("approval_overrides", approval.approval_id),
        "override_id": approval.approval_id,
        "candidate_id": approval.candidate_id,
        "approver": approval.approver,
        "approver_role": approval.approver_role,
        "reason": approval.reason,
        "scope": {
            "candidate_id": approval.candidate_id,
            "target_mode": approval.target_stage,
            "symbols": list(approval.symbols),
            "policy_checksum_signed": approval.policy_checksum,
        },
        "policy_checksum": policy_checksum,
        "gate_evaluation_id": gate_evaluation_id,
        "expires_at": approval.expires_at,
        "token_sha256": token_digest(token),
        "used_at": at,
        "used_by_promotion_id": promotion_id,
        "used_outcome": _outcome(outcome),
        "scheme": SCHEME_ED25519,
        "source": approval.source,
        "key_id": approval.key_id,
        "approvers_checksum": approvers_checksum,
        "created_at": approval.issued_at,
    }
    if seen(conn, approval.approval_id):
        return False
    try:
        with conn.begin_nested():
            conn.execute(table.insert().values(**row))
    except sa.exc.IntegrityError:
        return False
    return True


def _aware(value: Any) -> dt.datetime:
    ts = as_utc(value)
    if ts is None:
        raise ValueError("approval override without a timestamp")
    return ts.to_pydatetime()


def load_record(conn: Connection, override_id: str) -> tuple[ApprovalRecord, dt.datetime | None] | None:
    """The signed record and when it was used (None = unused), or None if no such override."""
    row = conn.execute(sa.select(table).where(table.c.override_id == override_id)).mappings().first()
    if row is None:
        return None
    scope = row["scope"] or {}
    record = ApprovalRecord(
        override_id=row["override_id"],
        candidate_id=row["candidate_id"],
        approver=row["approver"],
        approver_role=row["approver_role"],
        reason=row["reason"],
        scope=ApprovalScope(
            candidate_id=str(scope.get("candidate_id", "")),
            target_mode=str(scope.get("target_mode", "")),
            symbols=tuple(str(s) for s in scope.get("symbols", [])),
        ),
        policy_checksum=row["policy_checksum"],
        gate_evaluation_id=str(row["gate_evaluation_id"]),
        created_at=_aware(row["created_at"]),
        expires_at=_aware(row["expires_at"]),
    )
    revoked_or_used = row["used_at"] if row["used_at"] is not None else row["revoked_at"]
    return record, (None if revoked_or_used is None else _aware(revoked_or_used))


def consume(conn: Connection, override_id: str, *, promotion_id: str, outcome: str, at: dt.datetime) -> bool:
    """Mark the override spent by promotion decision `promotion_id`, whose outcome is `outcome`
    (`allow` / `deny`); False if it was already used or revoked (a replay)."""
    result = conn.execute(
        table.update()
        .where(table.c.override_id == override_id, table.c.used_at.is_(None), table.c.revoked_at.is_(None))
        .values(used_at=at, used_by_promotion_id=promotion_id, used_outcome=_outcome(outcome))
    )
    return result.rowcount == 1


def list_overrides(conn: Connection, limit: int = 50) -> list[dict[str, Any]]:
    query = sa.select(table).order_by(table.c.created_at.desc()).limit(limit)
    return [dict(r) for r in conn.execute(query).mappings()]
