"""Route parity's statements: the recent decisions replayed on both routes, and the parity report row.

Why here: the parity use case decides which decisions to pair and what a report says; only the ledger
knows how they are read and stored.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from torghut_assets.domain.decisions import DecisionStatus
from torghut_assets.ledger import schema
from torghut_assets.ledger.identity import row_id
from torghut_assets.ledger.writes import upsert_rows


def recent_decision_rows(conn: Connection, symbols: Sequence[str], limit: int) -> list[dict[str, Any]]:
    """The most recent decisions on these symbols that risk let through (newest first)."""
    table = schema.trade_decisions
    query = (
        sa.select(table)
        .where(table.c.symbol.in_(symbols), table.c.status != DecisionStatus.REJECTED.value)
        .order_by(table.c.signal_event_ts.desc(), table.c.id)
        .limit(limit)
    )
    return [dict(r) for r in conn.execute(query).mappings()]


def record_report(
    conn: Connection,
    *,
    report_id: str,
    mode: str,
    primary_adapter: str,
    secondary_adapter: str,
    symbols: Sequence[str],
    pair_count: int,
    passed: bool,
    reasons: Sequence[str],
    metrics: dict[str, Any],
    artifact_ref: dict[str, Any],
    evaluated_at: dt.datetime,
) -> str:
    """Store one parity report (its id names the pairs' digest and the evaluation time); the report id."""
    stamped = f"parity-{report_id}-{evaluated_at.strftime('%Y%m%dT%H%M%S')}"
    upsert_rows(
        conn,
        schema.route_parity_reports,
        [
            {
                "id": row_id("route_parity_reports", report_id, evaluated_at.isoformat()),
                "report_id": stamped,
                "mode": mode,
                "primary_adapter": primary_adapter,
                "secondary_adapter": secondary_adapter,
                "symbols": list(symbols),
                "pair_count": pair_count,
                "passed": passed,
                "reasons": list(reasons),
                "metrics": metrics,
                "artifact_ref": artifact_ref,
                "evaluated_at": evaluated_at,
                "created_at": evaluated_at,
            }
        ],
    )
    return stamped
