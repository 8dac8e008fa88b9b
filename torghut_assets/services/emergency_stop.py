"""Emergency-stop use cases: measure a lane's risk for the state machine, and a person's clearance.

Freshness reasons clear themselves after clean windows; every other reason (universe outage, repeated
research failures, fallback ratio, drawdown) stays latched until a named person clears it with a reason.
The clearance, the state change and its evidence entry commit together or not at all.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from enum import StrEnum

import pandas as pd
from sqlalchemy.engine import Connection

from torghut_assets.domain.continuity import (
    ContinuityEvent,
    ContinuityState,
    ContinuityTransition,
    WindowObservation,
    clear_emergency_stop,
)
from torghut_assets.ledger import emergency_stop_clearances
from torghut_assets.ledger.continuity_store import load_state, save_state
from torghut_assets.ledger.lane_risk import lane_risk_as_of


class ClearanceSource(StrEnum):
    DAGSTER_JOB = "dagster_job"
    CLI = "cli"


@dataclass(frozen=True)
class Clearance:
    lane: str
    actor: str
    reason: str
    cleared_reasons: tuple[str, ...]
    clearance_id: str
    evidence_hash: str


def with_lane_risk(
    conn: Connection, observation: WindowObservation, lane: str, equity: float, live: bool = False
) -> WindowObservation:
    """The window's ingest verdict plus the lane's trading risk as of its end (`live` adds the canary)."""
    start = observation.window_start.to_pydatetime()
    risk = lane_risk_as_of(
        conn,
        lane,
        start,
        start + dt.timedelta(hours=1),
        equity,
        emergency_stop_clearances.last_cleared_through(conn, lane),
        live=live,
    )
    return replace(observation, risk=risk)


def clear_lane_emergency_stop(
    conn: Connection, *, lane: str, actor: str, reason: str, source: ClearanceSource, at: dt.datetime
) -> Clearance:
    """Clear the lane's standing emergency stop (raises `EmergencyStopNotActive` when none stands).

    The count of the lane's risk restarts at the clearance, so the same old fallbacks or losses do not
    re-latch it on the next window; a fault that persists does.
    """
    actor, reason = actor.strip(), reason.strip()
    if not actor or not reason:
        raise ValueError("an emergency-stop clearance needs a named actor and a reason")
    state = load_state(conn, lane) or ContinuityState(lane=lane)
    cleared = clear_emergency_stop(state)
    row = emergency_stop_clearances.record_clearance(
        conn,
        lane=lane,
        actor=actor,
        reason=reason,
        source=source.value,
        cleared_reasons=state.emergency_reasons,
        emergency_since=None if state.emergency_since is None else state.emergency_since.to_pydatetime(),
        cleared_through_window=(
            None if state.last_window_start is None else state.last_window_start.to_pydatetime()
        ),
        cleared_at=at,
    )
    event = ContinuityEvent(
        window_start=state.last_window_start or pd.Timestamp(at),
        transition=ContinuityTransition.EMERGENCY_CLEARED,
        reason=state.reason,
        actionable=False,
        market_session_open=False,
        signal_lag_seconds=None,
        streak=state.streak,
        alert_active=state.alert_active,
        detail=(f"actor:{actor}", f"reason:{reason}", *state.emergency_reasons),
    )
    save_state(conn, cleared, [event], at)
    return Clearance(lane, actor, reason, state.emergency_reasons, str(row["id"]), str(row["evidence_hash"]))
