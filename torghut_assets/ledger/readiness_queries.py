"""Counts behind `readiness_report`: the last 24 h of lane-window flow, complete research row sets, and
the latest gate evaluation of the paper period (docs/runtime-reports.md).

Every period is half-open, [start, end), in lane-window time, so the report is reproducible for any past
`as_of`.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from torghut_assets.ledger import schema


def _count(
    conn: Connection,
    table: sa.Table,
    column: str,
    start: dt.datetime,
    end: dt.datetime,
    *where: sa.ColumnElement[bool],
) -> int:
    c = table.c[column]
    return int(conn.execute(sa.select(sa.func.count()).where(c >= start, c < end, *where)).scalar_one())


def signal_count(conn: Connection, start: dt.datetime, end: dt.datetime) -> int:
    return _count(conn, schema.signals, "lane_window_start", start, end)


def decision_count(conn: Connection, start: dt.datetime, end: dt.datetime) -> int:
    return _count(conn, schema.trade_decisions, "window_start", start, end)


def execution_count(conn: Connection, start: dt.datetime, end: dt.datetime) -> int:
    return _count(conn, schema.executions, "window_start", start, end)


def executions_missing_route(conn: Connection, start: dt.datetime, end: dt.datetime) -> int:
    """Executions without a known expected or actual adapter."""
    e = schema.executions
    missing_route = sa.or_(
        e.c.execution_expected_adapter.is_(None),
        e.c.execution_actual_adapter.is_(None),
        e.c.execution_expected_adapter.in_(("", "unknown")),
        e.c.execution_actual_adapter.in_(("", "unknown")),
    )
    return _count(conn, e, "window_start", start, end, missing_route)


def complete_research_sets(conn: Connection, start: dt.datetime, end: dt.datetime) -> int:
    """Non-skipped runs in the period with at least one candidate, fold, stress and promotion row."""
    r, c = schema.research_runs, schema.research_candidates
    f, s, p = schema.research_fold_metrics, schema.research_stress_metrics, schema.research_promotions
    cands = sa.select(c.c.candidate_id).where(c.c.run_id == r.c.run_id)
    query = sa.select(sa.func.count()).where(
        r.c.window_start >= start,
        r.c.window_start < end,
        r.c.status != "skipped",
        sa.exists(cands),
        sa.exists(sa.select(f.c.id).where(f.c.candidate_id.in_(cands))),
        sa.exists(sa.select(s.c.id).where(s.c.candidate_id.in_(cands))),
        sa.exists(sa.select(p.c.id).where(p.c.run_id == r.c.run_id)),
    )
    return int(conn.execute(query).scalar_one())


def latest_recommendation(conn: Connection, start: dt.datetime, end: dt.datetime) -> tuple[str, str] | None:
    """(gate evaluation id, recommended mode) of the newest evaluation of a window in the period."""
    g = schema.gate_evaluations
    latest = conn.execute(
        sa.select(g.c.id, g.c.recommended_mode)
        .where(g.c.window_start >= start, g.c.window_start < end)
        .order_by(g.c.evaluated_at.desc())
        .limit(1)
    ).first()
    return None if latest is None else (str(latest[0]), str(latest[1]))
