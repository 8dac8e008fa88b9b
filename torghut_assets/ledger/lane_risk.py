"""A lane's trading risk as of a window's end: the inputs of the non-recoverable emergency-stop reasons.

Measured over what the lane did since its current placement at paper or above took effect, and since a
person last cleared its emergency stop (a clearance starts the count afresh, as a restart of the
reference's scheduler resets its counters). A lane with no such placement trades nothing real, so its
fallback ratio and drawdown are not measured; its research failures always are.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from torghut_assets.domain.continuity import RiskObservation
from torghut_assets.domain.lane_rollout import replay_lane
from torghut_assets.domain.research import TERMINAL_RUN_STATUSES, ResearchRunStatus
from torghut_assets.domain.stages import Stage, stage_index
from torghut_assets.ledger import schema
from torghut_assets.ledger.rollout_store import lane_history
from torghut_assets.ledger.trading_record import lane_trading_record


def placement_since(conn: Connection, lane: str, at: dt.datetime) -> dt.datetime | None:
    """When the lane's placement standing at `at` took effect, if it is at paper or above and not halted."""
    history = [h for h in lane_history(conn, lane) if h.transition.at <= at]
    state = replay_lane(lane, (h.transition for h in history))
    if not history or state.halted or state.active is None:
        return None
    if stage_index(state.stage) < stage_index(Stage.PAPER):
        return None
    return history[-1].transition.at


def autonomy_failure_streak(
    conn: Connection, lane: str, through_window: dt.datetime, after_window: dt.datetime | None
) -> int:
    """Consecutive failed lane-window research runs, counted back from the latest settled one."""
    t = schema.research_runs
    query = (
        sa.select(t.c.status)
        .where(
            t.c.lane == lane,
            t.c.run_kind == "lane_window",
            t.c.status.in_(TERMINAL_RUN_STATUSES),
            t.c.window_start <= through_window,
            *([t.c.window_start > after_window] if after_window is not None else []),
        )
        .order_by(t.c.window_start.desc())
        .limit(100)
    )
    streak = 0
    for (status,) in conn.execute(query):
        if status != ResearchRunStatus.FAILED:
            break
        streak += 1
    return streak


def lean_canary_fallback_ratio(
    conn: Connection, lane: str, since: dt.datetime, until: dt.datetime
) -> float | None:
    """The reference's live canary: orders meant for LEAN that fell back to Alpaca, over orders meant for
    LEAN; None when none was meant for LEAN."""
    e = schema.executions
    lean_total, fallbacks = conn.execute(
        sa.select(
            sa.func.count(),
            sa.func.sum(
                sa.case(
                    (sa.and_(e.c.execution_fallback_count > 0, e.c.execution_actual_adapter == "alpaca"), 1),
                    else_=0,
                )
            ),
        ).where(
            e.c.lane == lane,
            e.c.execution_expected_adapter == "lean",
            e.c.window_start >= since,
            e.c.window_start < until,
        )
    ).one()
    return None if not lean_total else float(fallbacks or 0) / float(lean_total)


def lane_risk_as_of(
    conn: Connection,
    lane: str,
    window_start: dt.datetime,
    window_end: dt.datetime,
    equity: float,
    cleared_through: dt.datetime | None,
    live: bool = False,
) -> RiskObservation:
    """The risk figures the emergency stop judges for one window; `cleared_through` is the last window a
    person's clearance covered (None when never cleared); `live` adds the LEAN live canary."""
    failures = autonomy_failure_streak(conn, lane, window_start, cleared_through)
    since = placement_since(conn, lane, window_end)
    if since is None:
        return RiskObservation(autonomy_failure_streak=failures)
    if cleared_through is not None:
        since = max(since, cleared_through + dt.timedelta(hours=1))
    record = lane_trading_record(conn, lane, since, equity, until=window_end)
    if record.executions == 0:
        return RiskObservation(autonomy_failure_streak=failures)
    return RiskObservation(
        execution_fallback_ratio=record.fallback_ratio,
        max_drawdown=record.drawdown_fraction,
        autonomy_failure_streak=failures,
        lean_canary_fallback_ratio=lean_canary_fallback_ratio(conn, lane, since, window_end)
        if live
        else None,
    )
