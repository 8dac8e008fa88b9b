"""Approval override records (`approval_overrides`) and their uses (`approval_uses`): store, look up,
and spend exactly once. Both tables are append-only: using an approval appends a use row, it never
updates the approval's row.

Only sha256(token) is stored: a ledger reader cannot lift a token from the table.

Single use means single presentation: an approval that verifies is spent by the first promotion it is
presented to, in the transaction that records that promotion decision, whether the promotion is allowed
or denied. The `approval_uses` row names the decision (`used_by_promotion_id`) and its outcome
(`used_outcome`: `allow` / `deny`); `use_of` reads both back, so a replay is refused naming them. A token
that fails verification is never spent (it is nobody's approval, and must not burn the genuine one). An
approval can also be revoked before any use: a use row with `used_outcome` `revoked` (or, for an
Ed25519 approval, an `approval_overrides` row inserted with `revoked_at`).

- HMAC approvals (dev only) are stored when minted; spending inserts their use row.
- Ed25519 approvals are minted offline and enter the table only when a promotion presents them: their
  record row and their use row are inserted together.
- Either way the use row's `override_id` is unique: of two promotions presenting the same approval at
  once, one insert wins and the other (in a savepoint, so its transaction stays usable) sees a replay.
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
uses = schema.approval_uses
REVOKED = "revoked"  # a use row that ends the approval before any promotion used it


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
    """True when the ledger already has a row for this approval id: its record (an HMAC approval as
    minted, an Ed25519 one as used or revoked in advance) or its use."""
    for t in (table, uses):
        if conn.execute(sa.select(t.c.id).where(t.c.override_id == approval_id)).first() is not None:
            return True
    return False


def _outcome(outcome: str) -> str:
    if outcome not in USED_OUTCOMES:
        raise ValueError(f"used_outcome must be one of {sorted(USED_OUTCOMES)}, got {outcome!r}")
    return outcome


def _use_row(conn: Connection, approval_id: str) -> sa.RowMapping | None:
    return (
        conn.execute(
            sa.select(uses.c.used_at, uses.c.used_by_promotion_id, uses.c.used_outcome).where(
                uses.c.override_id == approval_id
            )
        )
        .mappings()
        .first()
    )


def use_of(conn: Connection, approval_id: str) -> ApprovalUse | None:
    """What spent (or revoked) this approval id, or None if the ledger holds no use and no revocation."""
    used = _use_row(conn, approval_id)
    if used is not None and used["used_outcome"] != REVOKED:
        promotion = used["used_by_promotion_id"]
        return ApprovalUse(
            promotion_id=None if promotion is None else str(promotion),
            outcome=ApprovalUseOutcome(used["used_outcome"]),
            at=_aware(used["used_at"]),
        )
    if used is not None:
        return ApprovalUse(promotion_id=None, outcome=None, at=_aware(used["used_at"]), revoked=True)
    revoked_at = conn.execute(
        sa.select(table.c.revoked_at).where(table.c.override_id == approval_id)
    ).scalar_one_or_none()
    if revoked_at is None:
        return None
    return ApprovalUse(promotion_id=None, outcome=None, at=_aware(revoked_at), revoked=True)


def _use(approval_id: str, *, promotion_id: str | None, outcome: str, at: dt.datetime) -> dict[str, Any]:
    return {
        "id": row_id("approval_uses", approval_id),
        "override_id": approval_id,
        "used_by_promotion_id": promotion_id,
        "used_outcome": outcome,
        "used_at": at,
        "created_at": at,
    }


def _insert_once(conn: Connection, *inserts: tuple[sa.Table, dict[str, Any]]) -> bool:
    """Insert the rows in a savepoint; False (and nothing inserted) when a unique approval id was already
    there, so losing a race leaves the caller's transaction usable."""
    try:
        with conn.begin_nested():
            for t, row in inserts:
                conn.execute(t.insert().values(**row))
    except sa.exc.IntegrityError:
        return False
    return True


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
    """Insert the Ed25519 approval's record and its use by promotion decision `promotion_id`, whose
    outcome is `outcome` (`allow` / `deny`); False if its id was already there (a replay).

    The inserts run in a savepoint, so losing a race to a concurrent promotion presenting the same
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
        "scheme": SCHEME_ED25519,
        "source": approval.source,
        "key_id": approval.key_id,
        "approvers_checksum": approvers_checksum,
        "created_at": approval.issued_at,
    }
    if seen(conn, approval.approval_id):
        return False
    use = _use(approval.approval_id, promotion_id=promotion_id, outcome=_outcome(outcome), at=at)
    return _insert_once(conn, (table, row), (uses, use))


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
    used = _use_row(conn, override_id)
    ended = used["used_at"] if used is not None else row["revoked_at"]
    return record, (None if ended is None else _aware(ended))


def consume(conn: Connection, override_id: str, *, promotion_id: str, outcome: str, at: dt.datetime) -> bool:
    """Append the stored (HMAC) approval's use by promotion decision `promotion_id`, whose outcome is
    `outcome` (`allow` / `deny`); False if it was already used or revoked (a replay). The approval's own
    row is left as minted."""
    revoked = conn.execute(sa.select(table.c.revoked_at).where(table.c.override_id == override_id)).first()
    if revoked is None or revoked[0] is not None:
        return False
    use = _use(override_id, promotion_id=promotion_id, outcome=_outcome(outcome), at=at)
    return _insert_once(conn, (uses, use))


def revoke(conn: Connection, override_id: str, *, at: dt.datetime) -> bool:
    """End the approval before any use: append its `revoked` use row; False if it was already used or
    revoked. Works for an Ed25519 approval id the ledger has never seen (it is then refused when
    presented)."""
    return _insert_once(conn, (uses, _use(override_id, promotion_id=None, outcome=REVOKED, at=at)))


def list_overrides(conn: Connection, limit: int = 50) -> list[dict[str, Any]]:
    """The newest approvals, each with its use (`used_at`, `used_by_promotion_id`, `used_outcome`; None
    while unused)."""
    query = (
        sa.select(table, uses.c.used_at, uses.c.used_by_promotion_id, uses.c.used_outcome)
        .select_from(table.outerjoin(uses, uses.c.override_id == table.c.override_id))
        .order_by(table.c.created_at.desc())
        .limit(limit)
    )
    return [dict(r) for r in conn.execute(query).mappings()]
