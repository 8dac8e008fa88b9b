"""Approval override records (`approval_overrides`): store, look up, and consume exactly once.

Only sha256(token) is stored: a ledger reader cannot lift a token from the table. Consumption is a
conditional UPDATE (`used_at IS NULL`), so of two promotions presenting the same token at once, one
wins and the other sees a replay.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from torghut_assets.domain.approvals import ApprovalRecord, ApprovalScope
from torghut_assets.ledger import schema
from torghut_assets.ledger.identity import row_id
from torghut_assets.ledger.queries import as_utc

table = schema.approval_overrides


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def insert_override(conn: Connection, record: ApprovalRecord, token: str) -> dict[str, Any]:
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
        "created_at": record.created_at,
    }
    conn.execute(table.insert().values(**row))
    return row


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


def consume(conn: Connection, override_id: str, *, promotion_id: str, at: dt.datetime) -> bool:
    """Mark the override used; False if it was already used or revoked (a replay)."""
    result = conn.execute(
        table.update()
        .where(table.c.override_id == override_id, table.c.used_at.is_(None), table.c.revoked_at.is_(None))
        .values(used_at=at, used_by_promotion_id=promotion_id)
    )
    return result.rowcount == 1


def list_overrides(conn: Connection, limit: int = 50) -> list[dict[str, Any]]:
    query = sa.select(table).order_by(table.c.created_at.desc()).limit(limit)
    return [dict(r) for r in conn.execute(query).mappings()]
