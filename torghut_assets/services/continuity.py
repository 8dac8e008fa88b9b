"""Signal continuity: apply each closed lane window's ingest verdict (and the lane's trading risk) to the
lane's persisted latch, and cancel every open order when an emergency stop fires.

Why a use case of its own: the sensor runs it every minute, and each lane's step must read the state,
apply every due window and save the state plus its transitions in one transaction, so a tick that dies
after its commit never re-applies a window (the state row, not the sensor cursor, says how far a lane
is evaluated). Paging and the Dagster run requests stay with the sensor.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, TypedDict

import pandas as pd
from sqlalchemy.engine import Connection

from torghut_assets.catalog_loader import configured_catalog
from torghut_assets.domain.alerts import Alert, continuity_alert
from torghut_assets.domain.continuity import (
    ContinuityConfig,
    ContinuityEvent,
    ContinuityState,
    ContinuityTransition,
    WindowObservation,
    due_windows,
    missing_window,
    step,
)
from torghut_assets.domain.lane_window_keys import window_start_from_key
from torghut_assets.domain.lanes import lane_config
from torghut_assets.domain.market_calendar import market_minutes
from torghut_assets.ledger import order_cancellations
from torghut_assets.ledger.continuity_store import load_state, observations_since, recent_events, save_state
from torghut_assets.ledger.emergency_stop_clearances import clearances
from torghut_assets.services.emergency_stop import with_lane_risk
from torghut_assets.services.ports import LaneModePort, LedgerPort, VenuePort
from torghut_assets.services.stop_orders import StopTrigger, cancel_open_orders

DEADLINE_GRACE = pd.Timedelta(minutes=20)
MAX_WINDOWS_PER_TICK = 48
INITIAL_LOOKBACK = pd.Timedelta(hours=24)
CANCEL_SOURCE = "signal_continuity_sensor"


class Transition(TypedDict):
    """One continuity transition as the sensor reports, pages and tags it."""

    lane: str
    window_start: str
    transition: str
    reason: str | None
    latched_window: str
    detail: list[str]


class LaneEvaluation(NamedTuple):
    state: ContinuityState
    transitions: list[Transition]


class Tick(NamedTuple):
    """Every lane's transitions of one sensor tick, and how far each lane is evaluated."""

    transitions: list[Transition]
    progress: dict[str, str | None]


def first_window() -> pd.Timestamp:
    """The lane catalog's first window: nothing before it is ever due."""
    return window_start_from_key(configured_catalog().window_start)


def _due(state: ContinuityState, now: pd.Timestamp) -> tuple[pd.Timestamp, list[pd.Timestamp]]:
    """Where the lane's evaluation resumes, and the closed windows due since (at most a tick's worth)."""
    floor = first_window() - pd.Timedelta(hours=1)
    start_after = state.last_window_start or max(floor, now.floor("h") - INITIAL_LOOKBACK)
    return start_after, due_windows(start_after, now, DEADLINE_GRACE, MAX_WINDOWS_PER_TICK)


def _observation(
    conn: Connection,
    seen: Mapping[pd.Timestamp, WindowObservation],
    lane: str,
    window_start: pd.Timestamp,
    equity: float,
    live: bool,
) -> WindowObservation:
    """The window's ingest verdict (a missing one is a missing window) plus the lane's risk at its end."""
    observation = seen.get(window_start) or missing_window(
        window_start, len(market_minutes(window_start, window_start + pd.Timedelta(hours=1))) > 0
    )
    return with_lane_risk(conn, observation, lane, equity, live)


def _transitions(
    lane: str, events: Sequence[ContinuityEvent], latched_in: Sequence[pd.Timestamp]
) -> list[Transition]:
    return [
        Transition(
            lane=lane,
            window_start=e.window_start.isoformat(),
            transition=e.transition,
            reason=e.reason,
            latched_window=latch.isoformat(),
            detail=list(e.detail),
        )
        for e, latch in zip(events, latched_in, strict=True)
    ]


def evaluate_lane(
    ledger: LedgerPort, lane: str, now: pd.Timestamp, config: ContinuityConfig, live: bool = False
) -> LaneEvaluation:
    """Apply every due window of one lane to its persisted state, in one transaction (`live`: the lane
    trades live, so the LEAN live canary is measured too)."""
    with ledger.engine.begin() as conn:
        state = load_state(conn, lane) or ContinuityState(lane=lane)
        start_after, due = _due(state, now)
        if not due:
            return LaneEvaluation(state, [])
        seen = observations_since(conn, lane, start_after, due[-1])
        events: list[ContinuityEvent] = []
        latched_in: list[pd.Timestamp] = []
        equity = lane_config(lane).equity
        for window_start in due:
            before = state
            state, produced = step(state, _observation(conn, seen, lane, window_start, equity, live), config)
            events.extend(produced)
            latched_in.extend(before.alert_since or e.window_start for e in produced)
        save_state(conn, state, events, now.to_pydatetime())
    return LaneEvaluation(state, _transitions(lane, events, latched_in))


def evaluate_lanes(
    ledger: LedgerPort,
    lanes: Iterable[str],
    now: pd.Timestamp,
    config: ContinuityConfig,
    live_lanes: frozenset[str] = frozenset(),
) -> Tick:
    """One tick as of `now`: every lane's due windows, each lane committed on its own."""
    transitions: list[Transition] = []
    progress: dict[str, str | None] = {}
    for lane in lanes:
        state, events = evaluate_lane(ledger, lane, now, config, lane in live_lanes)
        transitions.extend(events)
        progress[lane] = None if state.last_window_start is None else state.last_window_start.isoformat()
    return Tick(transitions, progress)


def transition_alerts(transitions: Iterable[Mapping[str, Any]]) -> list[Alert]:
    """Pages for the latch, its recovery and the emergency stop; other transitions stay in the UI."""
    found = (
        continuity_alert(
            lane=str(t["lane"]),
            transition=str(t["transition"]),
            window_start=str(t["window_start"]),
            latched_window=str(t["latched_window"]),
            reason=None if t["reason"] is None else str(t["reason"]),
            detail=[str(d) for d in t["detail"]],
        )
        for t in transitions
    )
    return [a for a in found if a is not None]


def cancel_on_emergency_stop(
    ledger: LedgerPort,
    broker: VenuePort,
    lane_modes: LaneModePort,
    transitions: Iterable[Mapping[str, Any]],
    now: pd.Timestamp,
) -> int:
    """When an emergency stop fires on a lane that reaches real venues, cancel every open order at once
    (and the executions step keeps cancelling on each window while it stands). Returns the stops fired."""
    fired = [
        t
        for t in transitions
        if t["transition"] == ContinuityTransition.EMERGENCY_TRIGGERED
        and lane_modes.mode(str(t["lane"])).reaches_real_venues
    ]
    if not fired:
        return 0
    outcomes = cancel_open_orders(broker.venues(pd.DataFrame()))
    # One cancel-all covers the account; it is recorded once, against the first lane that fired.
    first = fired[0]
    with ledger.engine.begin() as conn:
        order_cancellations.record_cancellations(
            conn,
            outcomes,
            trigger=StopTrigger.EMERGENCY_STOP.value,
            trigger_reason=";".join(str(d) for d in first["detail"]) or str(first["reason"]),
            trigger_source=CANCEL_SOURCE,
            attempted_at=now.to_pydatetime(),
            lane=str(first["lane"]),
        )
    return len(fired)


@dataclass(frozen=True)
class ContinuityOverview:
    """What the `signal_continuity` asset shows: each lane's state (None: never evaluated), the recent
    transitions and the last clearances by a person."""

    states: dict[str, ContinuityState | None]
    recent_transitions: list[dict[str, Any]]
    clearances: list[dict[str, Any]]

    @property
    def latched(self) -> list[str]:
        return sorted(lane for lane, s in self.states.items() if s is not None and s.alert_active)

    @property
    def stopped(self) -> list[str]:
        return sorted(lane for lane, s in self.states.items() if s is not None and s.emergency_stop_active)

    @property
    def never_evaluated(self) -> list[str]:
        return sorted(lane for lane, s in self.states.items() if s is None)


def continuity_overview(ledger: LedgerPort, lanes: Iterable[str]) -> ContinuityOverview:
    with ledger.engine.connect() as conn:
        return ContinuityOverview(
            states={lane: load_state(conn, lane) for lane in lanes},
            recent_transitions=recent_events(conn),
            clearances=clearances(conn, limit=10),
        )
