"""The ledger reads behind a gate evaluation: the candidate and its window's research, execution quality,
LLM review errors, the latest route-parity report, and the research runs a live re-evaluation awaits.

Why one module: promotion and the live re-evaluation must judge a candidate on the same figures, read
the same way (`services/gate_evidence.py` is their one caller).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from torghut_assets.domain import gate_evidence as ge
from torghut_assets.ledger import promotion_records, queries, schema
from torghut_assets.ledger.writes import to_native

Row = dict[str, Any]

LLM_ERROR_KINDS = ("parse", "validation", "transport")  # skipped/blocked calls are not answers


def candidate_row(conn: Connection, candidate_id: str) -> Row | None:
    """The candidate's row, its lifecycle as it stands now (its latest lifecycle event)."""
    return promotion_records.candidate_rows(conn, [candidate_id]).get(candidate_id)


def candidate_parameter_set(conn: Connection, candidate_id: str) -> Any | None:
    """The stored parameter set of a candidate (None when there is no such candidate)."""
    t = schema.research_candidates
    row = conn.execute(sa.select(t.c.parameter_set).where(t.c.candidate_id == candidate_id).limit(1)).first()
    return None if row is None else row[0]


def window_runs(conn: Connection, lane: str, window_start: dt.datetime) -> list[Row]:
    return queries.window_rows(conn, schema.research_runs, lane, window_start)


def window_candidates(conn: Connection, lane: str, window_start: dt.datetime) -> list[Row]:
    return queries.window_rows(conn, schema.research_candidates, lane, window_start)


def window_folds(conn: Connection, lane: str, window_start: dt.datetime) -> list[Row]:
    return queries.window_rows(conn, schema.research_fold_metrics, lane, window_start)


def window_stress(conn: Connection, lane: str, window_start: dt.datetime) -> list[Row]:
    return queries.window_rows(conn, schema.research_stress_metrics, lane, window_start)


def tca_summary(conn: Connection, lane: str, start: dt.datetime, end: dt.datetime) -> ge.TcaSummary:
    t = schema.execution_tca_metrics
    row = conn.execute(
        sa.select(
            sa.func.count(),
            sa.func.avg(t.c.slippage_bps),
            sa.func.avg(t.c.shortfall_notional),
            sa.func.avg(t.c.churn_ratio),
        ).where(t.c.lane == lane, t.c.window_start >= start, t.c.window_start < end)
    ).one()
    return ge.TcaSummary(
        int(row[0]),
        *(None if v is None else float(v) for v in row[1:]),
    )


def llm_summary(
    conn: Connection, lane: str, start: dt.datetime, end: dt.datetime, enabled: bool
) -> ge.LlmSummary:
    reviews, decisions = schema.llm_decision_reviews, schema.trade_decisions
    row = conn.execute(
        sa.select(
            sa.func.count(),
            sa.func.coalesce(
                sa.func.sum(sa.case((reviews.c.error_kind.in_(LLM_ERROR_KINDS), 1), else_=0)), 0
            ),
        )
        .select_from(reviews.join(decisions, reviews.c.trade_decision_id == decisions.c.id))
        .where(decisions.c.lane == lane, decisions.c.window_start >= start, decisions.c.window_start < end)
    ).one()
    return ge.LlmSummary(enabled=enabled, reviews=int(row[0]), errors=int(row[1]))


def latest_route_parity(conn: Connection, now: dt.datetime) -> Row | None:
    t = schema.route_parity_reports
    row = (
        conn.execute(sa.select(t).where(t.c.evaluated_at <= now).order_by(t.c.evaluated_at.desc()).limit(1))
        .mappings()
        .first()
    )
    return None if row is None else dict(row)


def research_run_windows(
    conn: Connection, lane: str, since: dt.datetime, through: dt.datetime | None
) -> list[tuple[dt.datetime, dt.datetime, str]]:
    """(window start, window end, run status) of the lane's research runs whose window ends after
    `since` and, given `through`, starts after it; UTC-aware."""
    t = schema.research_runs
    query = sa.select(t.c.window_start, t.c.window_end, t.c.status).where(
        t.c.lane == lane, t.c.window_end > to_native(since)
    )
    if through is not None:
        query = query.where(t.c.window_start > to_native(through))
    out = []
    for start, end, status in conn.execute(query).all():
        s, e = queries.as_utc(start), queries.as_utc(end)
        if s is not None and e is not None:
            out.append((s.to_pydatetime(), e.to_pydatetime(), str(status)))
    return out
