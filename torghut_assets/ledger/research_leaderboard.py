"""The research a lane committed across windows, for the cross-window leaderboard: the windows whose run
passed, their candidates and the candidates' fold net PnL.

Why here: the leaderboard's ranking is a domain rule (`domain/research_leaderboard.py`) over plain rows;
which rows count (only a `passed` run's chain, the window's current one) is a question of how the
ledger keeps them, answered once in dialect-neutral SQL.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from torghut_assets.domain.research import ResearchRunStatus
from torghut_assets.ledger import schema
from torghut_assets.ledger.queries import as_utc
from torghut_assets.ledger.writes import to_native

Row = dict[str, Any]


def latest_research_window(conn: Connection, lane: str) -> dt.datetime | None:
    """The start of the lane's latest window whose research run passed, or None."""
    runs = schema.research_runs
    latest = conn.execute(
        sa.select(sa.func.max(runs.c.window_start)).where(
            runs.c.lane == lane, runs.c.status == ResearchRunStatus.PASSED.value
        )
    ).scalar_one()
    stamp = as_utc(latest)
    return None if stamp is None else stamp.to_pydatetime()


def _passed_windows(lane: str, start: dt.datetime, end: dt.datetime) -> sa.Select[Any]:
    runs = schema.research_runs
    return sa.select(runs.c.run_id).where(
        runs.c.lane == lane,
        runs.c.status == ResearchRunStatus.PASSED.value,
        runs.c.window_start >= to_native(start),
        runs.c.window_start < to_native(end),
    )


def passed_candidates(conn: Connection, lane: str, start: dt.datetime, end: dt.datetime) -> list[Row]:
    """Every candidate of the lane's passed runs whose window starts in [start, end), oldest window first:
    window start, run and candidate ids, parameter set, trade count and lookback metrics."""
    c = schema.research_candidates
    query = (
        sa.select(
            c.c.window_start,
            c.c.run_id,
            c.c.candidate_id,
            c.c.parameter_set,
            c.c.trade_count,
            c.c.metadata_bundle,
        )
        .where(c.c.lane == lane, c.c.run_id.in_(_passed_windows(lane, start, end)))
        .order_by(c.c.window_start, c.c.candidate_id)
    )
    return [{**row._mapping, "window_start": as_utc(row.window_start)} for row in conn.execute(query)]


def passed_fold_pnl(conn: Connection, lane: str, start: dt.datetime, end: dt.datetime) -> list[Row]:
    """The fold net PnL (as float) of those candidates: candidate id, fold order, net PnL."""
    c, f = schema.research_candidates, schema.research_fold_metrics
    candidate_ids = sa.select(c.c.candidate_id).where(
        c.c.lane == lane, c.c.run_id.in_(_passed_windows(lane, start, end))
    )
    query = (
        sa.select(f.c.candidate_id, f.c.fold_order, f.c.net_pnl)
        .where(f.c.lane == lane, f.c.candidate_id.in_(candidate_ids))
        .order_by(f.c.candidate_id, f.c.fold_order)
    )
    return [
        {"candidate_id": r.candidate_id, "fold_order": int(r.fold_order), "net_pnl": float(r.net_pnl or 0.0)}
        for r in conn.execute(query)
    ]
