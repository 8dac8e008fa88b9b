"""Cancel attempts made because a kill switch or an emergency stop stands: one row per order (or per
venue that could not be asked), plus one evidence-log entry per batch, in the caller's transaction."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from torghut_assets.domain.orders import CancelOutcome
from torghut_assets.ledger import evidence_log, schema
from torghut_assets.ledger.identity import row_id
from torghut_assets.ledger.writes import to_native

ENTRY_KIND = "order_cancellation"


def record_cancellations(
    conn: Connection,
    outcomes: Sequence[CancelOutcome],
    *,
    trigger: str,
    trigger_reason: str,
    trigger_source: str,
    attempted_at: dt.datetime,
    lane: str | None = None,
    window_start: dt.datetime | None = None,
) -> list[dict[str, Any]]:
    rows = [
        {
            "id": row_id(
                "order_cancellations",
                trigger_source,
                lane,
                window_start,
                attempted_at.isoformat(),
                outcome.venue,
                outcome.order_id,
                index,
            ),
            "trigger": trigger,
            "trigger_reason": trigger_reason[:256],
            "trigger_source": trigger_source,
            "lane": lane,
            "window_start": to_native(window_start),
            "venue": outcome.venue,
            "order_id": outcome.order_id,
            "client_order_id": outcome.client_order_id,
            "accepted": outcome.accepted,
            "status": outcome.status,
            "detail": outcome.detail[:500],
            "attempted_at": to_native(attempted_at),
        }
        for index, outcome in enumerate(outcomes)
    ]
    if not rows:
        return rows
    conn.execute(sa.insert(schema.order_cancellations), rows)
    evidence_log.append_entry(
        conn,
        entry_kind=ENTRY_KIND,
        subject=f"{trigger}:{trigger_source}:{lane or 'all'}",
        content={
            "trigger": trigger,
            "trigger_reason": trigger_reason,
            "attempted_at": attempted_at.isoformat(),
            "window_start": None if window_start is None else window_start.isoformat(),
            "outcomes": [
                {k: r[k] for k in ("venue", "order_id", "client_order_id", "accepted", "status", "detail")}
                for r in rows
            ],
        },
        lane=lane,
        window_start=window_start,
        recorded_at=attempted_at,
    )
    return rows


def cancellations(conn: Connection, lane: str | None = None) -> list[dict[str, Any]]:
    table = schema.order_cancellations
    query = sa.select(table).order_by(table.c.attempted_at, table.c.id)
    if lane is not None:
        query = query.where(table.c.lane == lane)
    return [dict(r) for r in conn.execute(query).mappings()]
