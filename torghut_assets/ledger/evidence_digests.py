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

from torghut_assets.domain.evidence import sha256_hex
from torghut_assets.domain.evidence_chain import partition_digest_of
from torghut_assets.domain.promotion import APPROVER_ROLE as SCHEDULER_ROLE
from torghut_assets.ledger import queries, schema
from torghut_assets.ledger.evidence_log import EvidenceEntry, append_entry, evidence_log


def partition_rows(
    conn: Connection, table: sa.Table, lane: str, window_start: dt.datetime
) -> list[dict[str, Any]]:
    """The rows a partition's digest covers (what an evidence pack exports for the partition)."""
    rows = queries.window_rows(conn, table, lane, window_start)
    if table is schema.research_promotions:
        # The window's own request; promotion-job decisions in the same window are chained one by one.
        rows = [r for r in rows if r["approver_role"] == SCHEDULER_ROLE]
    return rows


def partition_digest(
    conn: Connection, table: sa.Table, lane: str, window_start: dt.datetime
) -> dict[str, Any]:
    """The digest rule itself is `domain/evidence_chain.partition_digest_of` (an offline pack check
    recomputes it)."""
    return partition_digest_of(table.name, partition_rows(conn, table, lane, window_start))


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
    """A `verify_chain` callback: the latest entry per (kind, lane, window) must match the live rows' digest.

    A partition entry digests every row of its table in the window, so only the window's latest entry of
    that kind describes what the ledger holds now; earlier ones are history (a re-materialized window
    legitimately changed, possibly under a new run id) and are checked only by the chain itself. Keying by
    subject instead would compare a superseded run's entry with the re-run's rows.
    """
    latest = {
        seq
        for (seq,) in conn.execute(
            sa.select(sa.func.max(evidence_log.c.seq))
            .where(evidence_log.c.lane.is_not(None), evidence_log.c.window_start.is_not(None))
            .group_by(evidence_log.c.entry_kind, evidence_log.c.lane, evidence_log.c.window_start)
        )
    }

    def recompute(entry: EvidenceEntry) -> str | None:
        content = entry.content if isinstance(entry.content, dict) else {}
        table = schema.metadata.tables.get(str(content.get("table")))
        if entry.seq not in latest or table is None or entry.lane is None or entry.window_start is None:
            return None
        live = {**content, **partition_digest(conn, table, entry.lane, entry.window_start)}
        return sha256_hex(live)

    return recompute
