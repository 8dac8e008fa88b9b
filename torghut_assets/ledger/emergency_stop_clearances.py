"""Clearances of latched emergency stops: append-only, one row per person's decision, in the caller's
transaction together with the state change and its evidence-log entry."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from torghut_assets.domain.evidence import sha256_hex
from torghut_assets.ledger import evidence_log, schema
from torghut_assets.ledger.identity import row_id
from torghut_assets.ledger.queries import as_utc

ENTRY_KIND = "emergency_stop_cleared"
table = schema.emergency_stop_clearances


def record_clearance(
    conn: Connection,
    *,
    lane: str,
    actor: str,
    reason: str,
    source: str,
    cleared_reasons: tuple[str, ...],
    emergency_since: dt.datetime | None,
    cleared_through_window: dt.datetime | None,
    cleared_at: dt.datetime,
) -> dict[str, Any]:
    content = {
        "lane": lane,
        "actor": actor,
        "reason": reason,
        "source": source,
        "cleared_reasons": list(cleared_reasons),
        "emergency_since": emergency_since,
        "cleared_through_window": cleared_through_window,
        "cleared_at": cleared_at,
    }
    row = {
        "id": row_id("emergency_stop_clearances", lane, cleared_at.isoformat()),
        **content,
        "evidence_hash": sha256_hex(content),
        "created_at": cleared_at,
    }
    conn.execute(table.insert().values(**row))
    evidence_log.append_entry(
        conn,
        entry_kind=ENTRY_KIND,
        subject=lane,
        content={**content, "clearance_id": row["id"]},
        lane=lane,
        recorded_at=cleared_at,
    )
    return row


def last_cleared_through(conn: Connection, lane: str) -> dt.datetime | None:
    """The last window a person's clearance covered: risk from before it no longer counts against the lane."""
    row = conn.execute(
        sa.select(table.c.cleared_through_window)
        .where(table.c.lane == lane)
        .order_by(table.c.cleared_at.desc())
        .limit(1)
    ).first()
    if row is None:
        return None
    found = as_utc(row[0])
    return None if found is None else found.to_pydatetime()


def clearances(conn: Connection, lane: str | None = None, limit: int = 20) -> list[dict[str, Any]]:
    query = sa.select(table).order_by(table.c.cleared_at.desc()).limit(limit)
    if lane is not None:
        query = query.where(table.c.lane == lane)
    return [dict(r) for r in conn.execute(query).mappings()]
