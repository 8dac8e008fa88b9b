"""Digests of stored lane-window rows, recorded in the evidence log and recomputed by verification.

Digests are taken from the rows *as stored* (read back inside the writing transaction), with numbers at
8 decimals, so SQLite and PostgreSQL numeric rounding cannot raise false tamper alarms.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from torghut_assets.domain.evidence import canonical_value, sha256_hex
from torghut_assets.domain.promotion import APPROVER_ROLE as SCHEDULER_ROLE
from torghut_assets.ledger import queries, schema
from torghut_assets.ledger.evidence_log import EvidenceEntry, append_entry, evidence_log

_DIGITS = 8
_UNHASHED = {"created_at"}
# Governance state that changes after the window was written; each change has its own chain entry.
_MUTABLE = {"research_candidates": {"lifecycle_role", "lifecycle_status"}}


def _rounded(value: Any) -> Any:
    if isinstance(value, float):
        value = round(value, _DIGITS)
        return 0.0 if value == 0 else value
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_rounded(v) for v in value]
    return value


def partition_digest(
    conn: Connection, table: sa.Table, lane: str, window_start: dt.datetime
) -> dict[str, Any]:
    rows = queries.window_rows(conn, table, lane, window_start)
    if table is schema.research_promotions:
        # The window's own request; promotion-job decisions in the same window are chained one by one.
        rows = [r for r in rows if r["approver_role"] == SCHEDULER_ROLE]
    skip = _UNHASHED | _MUTABLE.get(table.name, set())
    normalized = [
        {k: _rounded(canonical_value(v)) for k, v in sorted(row.items()) if k not in skip}
        for row in sorted(rows, key=lambda r: str(r["id"]))
    ]
    return {"table": table.name, "rows": len(rows), "sha256": sha256_hex(normalized)}


def record_partition(
    conn: Connection,
    *,
    entry_kind: str,
    subject: str,
    table: sa.Table,
    lane: str,
    window_start: dt.datetime,
    recorded_at: dt.datetime,
    extra: dict[str, Any] | None = None,
) -> EvidenceEntry:
    """Append (idempotently) the digest of a partition just written, in the writer's transaction."""
    content = {**partition_digest(conn, table, lane, window_start), **(extra or {})}
    return append_entry(
        conn,
        entry_kind=entry_kind,
        subject=subject,
        content=content,
        lane=lane,
        window_start=window_start,
        recorded_at=recorded_at,
    )


def live_recompute(conn: Connection) -> Callable[[EvidenceEntry], str | None]:
    """A `verify_chain` callback: the latest entry per (kind, subject) must match the live rows' digest.

    Superseded entries are history (a re-materialized window legitimately changed), so they are only
    checked for internal consistency by the chain itself.
    """
    latest = {
        (kind, subject): seq
        for kind, subject, seq in conn.execute(
            sa.select(
                evidence_log.c.entry_kind, evidence_log.c.subject, sa.func.max(evidence_log.c.seq)
            ).group_by(evidence_log.c.entry_kind, evidence_log.c.subject)
        )
    }

    def recompute(entry: EvidenceEntry) -> str | None:
        content = entry.content if isinstance(entry.content, dict) else {}
        table = schema.metadata.tables.get(str(content.get("table")))
        if latest.get((entry.entry_kind, entry.subject)) != entry.seq or table is None or entry.lane is None:
            return None
        if entry.window_start is None:
            return None
        live = {**content, **partition_digest(conn, table, entry.lane, entry.window_start)}
        return sha256_hex(live)

    return recompute
