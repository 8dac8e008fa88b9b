"""Signal continuity: a latched alert and an emergency stop, driven one lane window at a time.

The reference's first production gap was silence nobody could classify. This state machine turns the
sequence of window verdicts into a latch that only real recovery clears (docs/continuity.md): the alert opens
after a streak of actionable empty windows (or one very late one), stays latched through every further
actionable empty window, and clears only after `recovery_cycles` consecutive signal-bearing windows.
Closed-market silence is expected and neither opens nor clears anything.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import pandas as pd

INGEST_REASONS = frozenset(
    {"no_signals_in_window", "cursor_tail_stable", "cursor_ahead_of_stream", "empty_batch_advanced"}
)
UNIVERSE_UNAVAILABLE = "universe_source_unavailable"
CURSOR_AHEAD = "cursor_ahead_of_stream"
LANE_WINDOW_MISSING = "lane_window_missing"

STATE_ACTIONABLE = "actionable_source_fault"
STATE_EXPECTED = "expected_market_closed_staleness"
STATE_HEALTHY = "healthy"

LATCHED, REFRESHED, RECOVERING, CLEARED = "latched", "refreshed", "recovering", "cleared"
EMERGENCY_TRIGGERED, EMERGENCY_ESCALATED, EMERGENCY_RECOVERED = (
    "emergency_stop",
    "emergency_escalated",
    "freshness_recovered",
)
RECOVERABLE_PREFIXES = ("signal_lag_exceeded:", "signal_staleness_streak_exceeded:")


@dataclass(frozen=True)
class ContinuityConfig:
    """Defaults are the reference's env defaults; the emergency stop is on by default here
    because the lane-window pipeline has no other freshness kill path."""

    no_signal_streak_alert_threshold: int = 2
    stale_lag_alert_seconds: float = 300.0
    recovery_cycles: int = 2
    critical_reasons: frozenset[str] = frozenset(
        {CURSOR_AHEAD, "no_signals_in_window", UNIVERSE_UNAVAILABLE, LANE_WINDOW_MISSING}
    )
    market_closed_expected_reasons: frozenset[str] = frozenset(
        {
            "no_signals_in_window",
            "cursor_tail_stable",
            "empty_batch_advanced",
            "market_closed",
            LANE_WINDOW_MISSING,
        }
    )
    emergency_stop_enabled: bool = True
    emergency_recovery_cycles: int = 3
    signal_lag_seconds_limit: float = 600.0
    staleness_alert_streak_limit: int = 3

    def __post_init__(self) -> None:
        for name in (
            "no_signal_streak_alert_threshold",
            "recovery_cycles",
            "emergency_recovery_cycles",
            "staleness_alert_streak_limit",
        ):
            if getattr(self, name) < 1:
                raise ValueError(f"continuity config {name} must be >= 1, got {getattr(self, name)}")
        for name in ("stale_lag_alert_seconds", "signal_lag_seconds_limit"):
            if not getattr(self, name) > 0:
                raise ValueError(f"continuity config {name} must be > 0, got {getattr(self, name)}")


@dataclass(frozen=True)
class WindowObservation:
    """One window's ingest verdict. `no_signal_detail` is the cause behind the reason when there is one,
    e.g. `universe_source_unavailable:error:jangar_http_error_cache_stale` (signal_ingest_windows)."""

    window_start: pd.Timestamp
    signals_total: int
    no_signal_reason: str | None
    market_session_open: bool
    signal_lag_seconds: float | None = None
    no_signal_detail: str | None = None


@dataclass(frozen=True)
class ContinuityState:
    lane: str
    last_window_start: pd.Timestamp | None = None
    reason: str | None = None
    streak: int = 0
    alert_active: bool = False
    alert_reason: str | None = None
    alert_since: pd.Timestamp | None = None
    recovery_streak: int = 0
    emergency_stop_active: bool = False
    emergency_reasons: tuple[str, ...] = field(default=())
    emergency_recovery_streak: int = 0
    emergency_since: pd.Timestamp | None = None


@dataclass(frozen=True)
class ContinuityEvent:
    window_start: pd.Timestamp
    transition: str
    reason: str | None
    actionable: bool
    market_session_open: bool
    signal_lag_seconds: float | None
    streak: int
    alert_active: bool
    detail: tuple[str, ...] = ()


def classify_staleness(obs: WindowObservation, config: ContinuityConfig) -> str:
    """`actionable_source_fault`, `expected_market_closed_staleness`, or `healthy` for a window with signals.

    `cursor_ahead_of_stream` is actionable only while the market is open: the reference gives that code to
    ordinary overnight silence longer than the lookback (docs/continuity.md, proposed).
    """
    if obs.signals_total > 0 or obs.no_signal_reason is None:
        return STATE_HEALTHY
    reason = obs.no_signal_reason
    if reason == CURSOR_AHEAD:
        return STATE_ACTIONABLE if obs.market_session_open else STATE_EXPECTED
    if obs.market_session_open or reason not in config.market_closed_expected_reasons:
        return STATE_ACTIONABLE
    return STATE_EXPECTED


def _emergency_reasons(obs: WindowObservation, streak: int, config: ContinuityConfig) -> list[str]:
    reasons: list[str] = []
    reason = obs.no_signal_reason
    lag = obs.signal_lag_seconds
    if obs.market_session_open and lag is not None and lag >= config.signal_lag_seconds_limit:
        reasons.append(f"signal_lag_exceeded:{int(lag)}")
    expected_closed = not obs.market_session_open and reason in config.market_closed_expected_reasons
    if (
        reason in config.critical_reasons
        and streak >= config.staleness_alert_streak_limit
        and not expected_closed
    ):
        reasons.append(f"signal_staleness_streak_exceeded:{reason}:{streak}")
    if reason == UNIVERSE_UNAVAILABLE:
        reasons.append(universe_halt_reason(obs))
    return reasons


def universe_halt_reason(obs: WindowObservation) -> str:
    """The reference's emergency-stop reason `universe_source_unavailable:<status>:<reason>`, with the
    universe's status and reason as the window recorded them; `error:unknown` for a window recorded
    before the cause was kept (the reference's fallback when it has no reason)."""
    detail = obs.no_signal_detail
    if detail and detail.startswith(f"{UNIVERSE_UNAVAILABLE}:"):
        return detail
    return f"{UNIVERSE_UNAVAILABLE}:error:unknown"


def _recoverable(reasons: tuple[str, ...]) -> bool:
    return all(r.startswith(RECOVERABLE_PREFIXES) for r in reasons)


def step(
    state: ContinuityState, obs: WindowObservation, config: ContinuityConfig
) -> tuple[ContinuityState, list[ContinuityEvent]]:
    """Advance one lane by one window. Windows must arrive in order; a repeated window is a no-op."""
    if state.last_window_start is not None and obs.window_start <= state.last_window_start:
        return state, []
    staleness = classify_staleness(obs, config)
    actionable = staleness == STATE_ACTIONABLE
    if obs.signals_total > 0:
        reason, streak = None, 0
    else:
        reason = obs.no_signal_reason
        streak = state.streak + 1 if reason == state.reason else 1
    new = replace(state, last_window_start=obs.window_start, reason=reason, streak=streak)
    events: list[ContinuityEvent] = []

    cause = (universe_halt_reason(obs),) if reason == UNIVERSE_UNAVAILABLE else ()

    def event(transition: str, detail: tuple[str, ...] = cause) -> None:
        events.append(
            ContinuityEvent(
                obs.window_start,
                transition,
                reason,
                actionable,
                obs.market_session_open,
                obs.signal_lag_seconds,
                streak,
                new.alert_active,
                detail,
            )
        )

    if obs.signals_total > 0:
        if new.alert_active:
            recovery = new.recovery_streak + 1
            if recovery >= max(1, config.recovery_cycles):
                new = replace(new, alert_active=False, alert_reason=None, alert_since=None, recovery_streak=0)
                event(CLEARED)
            else:
                new = replace(new, recovery_streak=recovery)
                event(RECOVERING)
    elif actionable:
        lag = obs.signal_lag_seconds
        latch = (
            reason == UNIVERSE_UNAVAILABLE
            or streak >= config.no_signal_streak_alert_threshold
            or (lag is not None and lag >= config.stale_lag_alert_seconds)
        )
        if new.alert_active:
            new = replace(new, recovery_streak=0)
            event(REFRESHED)
        elif latch:
            new = replace(
                new, alert_active=True, alert_reason=reason, alert_since=obs.window_start, recovery_streak=0
            )
            event(LATCHED)

    if config.emergency_stop_enabled:
        found = _emergency_reasons(obs, streak, config) if obs.signals_total == 0 else []
        if found and not new.emergency_stop_active:
            new = replace(
                new,
                emergency_stop_active=True,
                emergency_reasons=tuple(found),
                emergency_recovery_streak=0,
                emergency_since=obs.window_start,
            )
            event(EMERGENCY_TRIGGERED, tuple(found))
        elif found:
            before = new.emergency_reasons
            merged = tuple(dict.fromkeys((*before, *found)))
            new = replace(new, emergency_reasons=merged, emergency_recovery_streak=0)
            if not _recoverable(tuple(found)) and merged != before:
                event(EMERGENCY_ESCALATED, merged)
        elif new.emergency_stop_active and _recoverable(new.emergency_reasons):
            clean = new.emergency_recovery_streak + 1
            if clean >= max(1, config.emergency_recovery_cycles):
                event(EMERGENCY_RECOVERED, new.emergency_reasons)
                new = replace(
                    new,
                    emergency_stop_active=False,
                    emergency_reasons=(),
                    emergency_recovery_streak=0,
                    emergency_since=None,
                )
            else:
                new = replace(new, emergency_recovery_streak=clean)
    elif new.emergency_stop_active:
        new = replace(
            new,
            emergency_stop_active=False,
            emergency_reasons=(),
            emergency_recovery_streak=0,
            emergency_since=None,
        )
    return new, events


def due_windows(
    last_evaluated: pd.Timestamp, now: pd.Timestamp, grace: pd.Timedelta, max_windows: int
) -> list[pd.Timestamp]:
    """Hourly window starts after `last_evaluated` whose deadline (end + grace) has passed, oldest first.

    Capped so one tick stays short; the next tick continues where this one stopped.
    """
    first = last_evaluated + pd.Timedelta(hours=1)
    last = (now - grace - pd.Timedelta(hours=1)).floor("h")
    if last < first:
        return []
    return list(pd.date_range(first, last, freq="h"))[:max_windows]


def missing_window(window_start: pd.Timestamp, market_session_open: bool) -> WindowObservation:
    """A window past its deadline with no ingest verdict: silence we cannot even classify."""
    return WindowObservation(window_start, 0, LANE_WINDOW_MISSING, market_session_open, None)


def live_promotion_block(state: ContinuityState | None) -> str | None:
    """Why a live promotion must be refused for this lane right now, or None.

    A lane never evaluated has no continuity evidence, which fails closed.
    """
    if state is None or state.last_window_start is None:
        return "signal_continuity_unknown"
    if state.emergency_stop_active:
        return "emergency_stop_active"
    if state.alert_active:
        return "signal_continuity_alert_active"
    return None


def continuity_summary(
    obs: WindowObservation, state: ContinuityState | None, config: ContinuityConfig
) -> dict[str, object]:
    """The `signal_continuity` block of the reference's no-signals artifact: this window's classification
    plus the lane's alert as last evaluated (None state = never evaluated, reported as such)."""
    classification = classify_staleness(obs, config)
    alert_active = bool(state and state.alert_active)
    return {
        "state": classification,
        "reason": obs.no_signal_reason,
        "actionable": classification == STATE_ACTIONABLE,
        "alert_active": alert_active,
        "alert_reason": state.alert_reason if state and alert_active else None,
        "evaluated_through": None if state is None else state.last_window_start,
    }
