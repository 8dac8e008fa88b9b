"""The readiness report: the roadmap's acceptance criteria, computed from the ledger
(docs/runtime-reports.md).

Time is lane-window time: "the last 24 h" are the lane windows that started in [as_of − 24 h, as_of), and
the paper period is the last N market sessions up to `as_of`. That keeps the report reproducible for any
past `as_of`, and a replay gives the same verdicts. The figures are measured here; the criteria and
their verdicts are `domain/readiness.py`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import pandas as pd
from sqlalchemy.engine import Connection

from torghut_assets.domain.lanes import LANES
from torghut_assets.domain.market_calendar import is_session_day, previous_sessions, session_bounds
from torghut_assets.domain.readiness import ReadinessFigures, readiness_report
from torghut_assets.ledger import readiness_queries as rq
from torghut_assets.ledger.artifacts import ArtifactRef
from torghut_assets.ledger.evidence_digests import live_recompute
from torghut_assets.ledger.evidence_log import verify_chain
from torghut_assets.ledger.trading_record import lane_trading_records
from torghut_assets.services.ports import LedgerPort


@dataclass(frozen=True)
class ReadinessReport:
    report: dict[str, Any]
    artifact: ArtifactRef


def paper_period_start(as_of: dt.datetime, market_days: int) -> dt.datetime:
    """Open of the earliest of the last `market_days` sessions up to `as_of` (today's counts if open)."""
    today = pd.Timestamp(as_of).tz_convert("America/New_York").date()
    sessions = previous_sessions(today, market_days - (1 if is_session_day(today) else 0))
    if is_session_day(today):
        sessions.append(today)
    bounds = session_bounds(sessions[0])
    if bounds is None:  # pragma: no cover - previous_sessions only returns session days
        raise ValueError(f"{sessions[0]} is not a session")
    return bounds[0].to_pydatetime()


def measure(conn: Connection, as_of: dt.datetime, market_days: int) -> tuple[ReadinessFigures, dt.datetime]:
    """The report's figures as of `as_of`, and where its paper period starts."""
    day_start = as_of - dt.timedelta(hours=24)
    period_start = paper_period_start(as_of, market_days)
    equities = {lane: cfg.equity for lane, cfg in LANES.items()}
    records = list(lane_trading_records(conn, equities, period_start, as_of).values())
    pnls = [r.net_pnl for r in records if r.net_pnl is not None]
    latest = rq.latest_recommendation(conn, period_start, as_of)
    chain = verify_chain(conn, recompute=live_recompute(conn))
    figures = ReadinessFigures(
        signals_24h=rq.signal_count(conn, day_start, as_of),
        decisions_24h=rq.decision_count(conn, day_start, as_of),
        executions_24h=rq.execution_count(conn, day_start, as_of),
        complete_research_sets_24h=rq.complete_research_sets(conn, day_start, as_of),
        executions_missing_route_24h=rq.executions_missing_route(conn, day_start, as_of),
        paper_period_days=market_days,
        paper_period_net_realized_pnl=sum(pnls) if pnls else None,
        paper_period_executions=sum(r.executions for r in records),
        latest_recommended_mode=None if latest is None else latest[1],
        latest_gate_evaluation_id=None if latest is None else latest[0],
        evidence_entries=chain.entries_checked,
        evidence_chain_ok=chain.ok,
        evidence_breaks=len(chain.breaks),
    )
    return figures, period_start


def build_readiness_report(ledger: LedgerPort, as_of: dt.datetime, market_days: int) -> ReadinessReport:
    """Measure, judge and store the report as a content-addressed artifact."""
    with ledger.engine.connect() as conn:
        figures, period_start = measure(conn, as_of, market_days)
    report = readiness_report(figures, as_of=as_of.isoformat(), period_start=period_start.isoformat())
    return ReadinessReport(report, ledger.artifacts.write_json("gates/readiness-report", report))
