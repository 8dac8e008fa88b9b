"""`readiness_report`: the roadmap's acceptance criteria, computed from the ledger (docs/runtime-reports.md).

Time is lane-window time: "the last 24 h" are the lane windows that started in [as_of − 24 h, as_of), and
the paper period is the last N market sessions (default 10) up to `as_of`. That keeps the report
reproducible for any past `as_of` and a replay gives the same verdicts.
"""

import datetime as dt
from typing import Any

import dagster as dg
import pandas as pd
import sqlalchemy as sa
from pydantic import Field
from sqlalchemy.engine import Connection

from torghut_assets.defs.governance.profitability import evaluation_time
from torghut_assets.defs.metadata import markdown_table
from torghut_assets.defs.resources import LedgerResource
from torghut_assets.domain.lanes import LANES
from torghut_assets.domain.market_calendar import is_session_day, previous_sessions, session_bounds
from torghut_assets.domain.readiness import ReadinessFigures, readiness_report
from torghut_assets.ledger import schema
from torghut_assets.ledger.evidence_digests import live_recompute
from torghut_assets.ledger.evidence_log import verify_chain
from torghut_assets.ledger.trading_record import lane_trading_records


class ReadinessReportConfig(dg.Config):
    as_of: str | None = Field(default=None, description="evaluation time (ISO 8601, UTC); default now")
    paper_period_market_days: int = Field(default=10, ge=1, le=60, description="paper period, in sessions")


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


def _count(
    conn: Connection, table: sa.Table, column: str, start: dt.datetime, end: dt.datetime, *where: Any
) -> int:
    c = table.c[column]
    return int(conn.execute(sa.select(sa.func.count()).where(c >= start, c < end, *where)).scalar_one())


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


def measure(conn: Connection, as_of: dt.datetime, market_days: int) -> tuple[ReadinessFigures, dt.datetime]:
    day_start = as_of - dt.timedelta(hours=24)
    e, g = schema.executions, schema.gate_evaluations
    missing_route = sa.or_(
        e.c.execution_expected_adapter.is_(None),
        e.c.execution_actual_adapter.is_(None),
        e.c.execution_expected_adapter.in_(("", "unknown")),
        e.c.execution_actual_adapter.in_(("", "unknown")),
    )
    period_start = paper_period_start(as_of, market_days)
    equities = {lane: cfg.equity for lane, cfg in LANES.items()}
    records = list(lane_trading_records(conn, equities, period_start, as_of).values())
    pnls = [r.net_pnl for r in records if r.net_pnl is not None]
    latest = conn.execute(
        sa.select(g.c.id, g.c.recommended_mode)
        .where(g.c.window_start >= period_start, g.c.window_start < as_of)
        .order_by(g.c.evaluated_at.desc())
        .limit(1)
    ).first()
    chain = verify_chain(conn, recompute=live_recompute(conn))
    figures = ReadinessFigures(
        signals_24h=_count(conn, schema.signals, "lane_window_start", day_start, as_of),
        decisions_24h=_count(conn, schema.trade_decisions, "window_start", day_start, as_of),
        executions_24h=_count(conn, e, "window_start", day_start, as_of),
        complete_research_sets_24h=complete_research_sets(conn, day_start, as_of),
        executions_missing_route_24h=_count(conn, e, "window_start", day_start, as_of, missing_route),
        paper_period_days=market_days,
        paper_period_net_realized_pnl=sum(pnls) if pnls else None,
        paper_period_executions=sum(r.executions for r in records),
        latest_recommended_mode=None if latest is None else str(latest[1]),
        latest_gate_evaluation_id=None if latest is None else str(latest[0]),
        evidence_entries=chain.entries_checked,
        evidence_chain_ok=chain.ok,
        evidence_breaks=len(chain.breaks),
    )
    return figures, period_start


@dg.asset(
    name="readiness_report",
    group_name="governance",
    kinds={"sql"},
    description="Acceptance criteria (24 h flow, research completeness, paper-period PnL, gates, evidence).",
)
def readiness_report_asset(
    context: dg.AssetExecutionContext, config: ReadinessReportConfig, ledger: LedgerResource
) -> dg.MaterializeResult:  # type: ignore[type-arg]
    as_of = evaluation_time(config.as_of)
    with ledger.read() as conn:
        figures, period_start = measure(conn, as_of, config.paper_period_market_days)
    report = readiness_report(figures, as_of=as_of.isoformat(), period_start=period_start.isoformat())
    ref = ledger.artifacts.write_json("gates/readiness-report", report)
    table = markdown_table(
        ["criterion", "passed", "numbers"],
        [(c["criterion_id"], "✅" if c["passed"] else "❌", c["detail"]) for c in report["criteria"]],
    )
    return dg.MaterializeResult(
        metadata={
            "ready": report["ready"],
            "criteria_passed": sum(1 for c in report["criteria"] if c["passed"]),
            "criteria_total": len(report["criteria"]),
            "report": dg.MetadataValue.path(ref.path),
            "summary": dg.MetadataValue.md(
                f"**{'READY' if report['ready'] else 'NOT READY'}** as of {report['as_of']} "
                f"(paper period from {report['paper_period_start']})\n\n{table}"
            ),
            "payload": dg.MetadataValue.json(report),
        }
    )
