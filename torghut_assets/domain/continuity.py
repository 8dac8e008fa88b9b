"""Signal continuity: a latched alert and an emergency stop, driven one lane window at a time.

The reference's first production gap was silence nobody could classify. This state machine turns the
sequence of window verdicts into a latch that only real recovery clears (docs/continuity.md): the alert opens
after a streak of actionable empty windows (or one very late one), stays latched through every further
actionable empty window, and clears only after `recovery_cycles` consecutive signal-bearing windows.
Closed-market silence is expected and neither opens nor clears anything.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import StrEnum

import pandas as pd

from torghut_assets.domain.market_calendar import last_session_close

INGEST_REASONS = frozenset(
    {"no_signals_in_window", "cursor_tail_stable", "cursor_ahead_of_stream", "empty_batch_advanced"}
)
UNIVERSE_UNAVAILABLE = "universe_source_unavailable"
CURSOR_AHEAD = "cursor_ahead_of_stream"
LANE_WINDOW_MISSING = "lane_window_missing"


class Staleness(StrEnum):
    """How a window's silence reads (`classify_staleness`)."""

    ACTIONABLE = "actionable_source_fault"
    EXPECTED = "expected_market_closed_staleness"
    HEALTHY = "healthy"


class ContinuityTransition(StrEnum):
    """A lane's continuity event: the alert latching, refreshing, recovering and clearing, and the
    emergency stop firing, escalating, recovering on its own or being cleared by a person."""

    LATCHED = "latched"
    REFRESHED = "refreshed"
    RECOVERING = "recovering"
    CLEARED = "cleared"
    EMERGENCY_TRIGGERED = "emergency_stop"
    EMERGENCY_ESCALATED = "emergency_escalated"
    EMERGENCY_RECOVERED = "freshness_recovered"
    EMERGENCY_CLEARED = "emergency_cleared"


class EmergencyStopReason(StrEnum):
    """The reference's emergency-stop reason prefixes (docs/continuity.md, emergency stop).

    Freshness breaches recover on their own after `emergency_recovery_cycles` clean windows; every other
    reason stays latched until a person clears it (`clear_emergency_stop_job`).
    """

    SIGNAL_LAG = "signal_lag_exceeded"
    STALENESS_STREAK = "signal_staleness_streak_exceeded"
    UNIVERSE_UNAVAILABLE = "universe_source_unavailable"
    AUTONOMY_FAILURE_STREAK = "autonomy_failure_streak_exceeded"
    FALLBACK_RATIO = "execution_fallback_ratio_exceeded"
    MAX_DRAWDOWN = "max_drawdown_exceeded"
    LEAN_CANARY_BREACH = "lean_canary_breach"

    @property
    def recoverable(self) -> bool:
        return self in (EmergencyStopReason.SIGNAL_LAG, EmergencyStopReason.STALENESS_STREAK)

    def coded(self, *detail: object) -> str:
        return ":".join((self.value, *(str(d) for d in detail)))


RECOVERABLE_PREFIXES = tuple(f"{r.value}:" for r in EmergencyStopReason if r.recoverable)


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
    autonomy_failure_streak_limit: int = 3
    fallback_ratio_limit: float = 0.25
    max_drawdown_limit: float = 0.08
    session_close_tolerance_seconds: float = 900.0
    lean_live_canary_enabled: bool = False
    lean_live_canary_fallback_ratio_limit: float = 0.25
    lean_live_canary_hard_rollback_enabled: bool = True

    def __post_init__(self) -> None:
        for name in (
            "no_signal_streak_alert_threshold",
            "recovery_cycles",
            "emergency_recovery_cycles",
            "staleness_alert_streak_limit",
            "autonomy_failure_streak_limit",
        ):
            if getattr(self, name) < 1:
                raise ValueError(f"continuity config {name} must be >= 1, got {getattr(self, name)}")
        for name in (
            "stale_lag_alert_seconds",
            "signal_lag_seconds_limit",
            "fallback_ratio_limit",
            "max_drawdown_limit",
            "lean_live_canary_fallback_ratio_limit",
        ):
            if not getattr(self, name) > 0:
                raise ValueError(f"continuity config {name} must be > 0, got {getattr(self, name)}")
        if not self.session_close_tolerance_seconds >= 0:
            raise ValueError(
                "continuity config session_close_tolerance_seconds must be >= 0, "
                f"got {self.session_close_tolerance_seconds}"
            )


@dataclass(frozen=True)
class RiskObservation:
    """The lane's trading risk as of a window's end, measured since its current placement took effect
    (and since the emergency stop was last cleared by a person). None = not measured: the lane holds no
    placement at paper or above, or has made no execution."""

    execution_fallback_ratio: float | None = None
    max_drawdown: float | None = None
    autonomy_failure_streak: int = 0
    lean_canary_fallback_ratio: float | None = None  # live lanes only: lean→alpaca / LEAN requests


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
    newest_signal_ts: pd.Timestamp | None = None
    risk: RiskObservation = RiskObservation()

    @property
    def usable(self) -> bool:
        """Signals arrived and nothing voided them: a window that failed its feature quality gate keeps
        its rows as evidence but decides nothing, so for continuity it is a fault, not a healthy window."""
        return self.signals_total > 0 and self.no_signal_reason is None


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
    transition: ContinuityTransition
    reason: str | None
    actionable: bool
    market_session_open: bool
    signal_lag_seconds: float | None
    streak: int
    alert_active: bool
    detail: tuple[str, ...] = ()


def classify_staleness(obs: WindowObservation, config: ContinuityConfig) -> Staleness:
    """`actionable_source_fault`, `expected_market_closed_staleness`, or `healthy` for a window with signals.

    `cursor_ahead_of_stream` is actionable only while the market is open: the reference gives that code to
    ordinary overnight silence longer than the lookback (docs/continuity.md, proposed). Closed-market
    silence is expected only from a stream that ran to the last session close: one whose newest signal
    is older than that close (less a tolerance) died in session, which the closed market does not excuse.
    """
    if obs.usable or obs.no_signal_reason is None:
        return Staleness.HEALTHY
    reason = obs.no_signal_reason
    if obs.market_session_open:
        return Staleness.ACTIONABLE
    if reason != CURSOR_AHEAD and reason not in config.market_closed_expected_reasons:
        return Staleness.ACTIONABLE
    return Staleness.ACTIONABLE if stopped_before_session_close(obs, config) else Staleness.EXPECTED


def stopped_before_session_close(obs: WindowObservation, config: ContinuityConfig) -> bool:
    """Whether a closed-market window's stream had already stopped before the last session closed.

    A window with no newest signal at all proves nothing either way and keeps the expected reading.
    """
    if obs.newest_signal_ts is None:
        return False
    close = last_session_close(obs.window_start)
    if close is None:
        return False
    tolerance = pd.Timedelta(seconds=config.session_close_tolerance_seconds)
    return bool(obs.newest_signal_ts < close - tolerance)


def emergency_stop_reasons(obs: WindowObservation, streak: int, config: ContinuityConfig) -> list[str]:
    """Every emergency-stop reason this window shows, with the reference's inclusive limits.

    Signal lag counts only in session, and a staleness streak is suppressed only where the closed market
    explains it (the reference's two suppressions); the universe and the trading-risk reasons never are.
    """
    reasons: list[str] = []
    reason = obs.no_signal_reason
    if not obs.usable:
        lag = obs.signal_lag_seconds
        if obs.market_session_open and lag is not None and lag >= config.signal_lag_seconds_limit:
            reasons.append(EmergencyStopReason.SIGNAL_LAG.coded(int(lag)))
        explained = classify_staleness(obs, config) == Staleness.EXPECTED
        if (
            reason in config.critical_reasons
            and streak >= config.staleness_alert_streak_limit
            and not explained
        ):
            reasons.append(EmergencyStopReason.STALENESS_STREAK.coded(reason, streak))
        if reason == UNIVERSE_UNAVAILABLE:
            reasons.append(universe_halt_reason(obs))
    risk = obs.risk
    if risk.autonomy_failure_streak >= config.autonomy_failure_streak_limit:
        reasons.append(EmergencyStopReason.AUTONOMY_FAILURE_STREAK.coded(risk.autonomy_failure_streak))
    ratio = risk.execution_fallback_ratio
    if ratio is not None and ratio >= config.fallback_ratio_limit:
        reasons.append(EmergencyStopReason.FALLBACK_RATIO.coded(f"{ratio:.3f}"))
    drawdown = risk.max_drawdown
    if drawdown is not None and abs(drawdown) >= config.max_drawdown_limit:
        reasons.append(EmergencyStopReason.MAX_DRAWDOWN.coded(f"{abs(drawdown):.4f}"))
    canary = risk.lean_canary_fallback_ratio
    if (
        config.lean_live_canary_enabled
        and config.lean_live_canary_hard_rollback_enabled
        and canary is not None
        and canary > config.lean_live_canary_fallback_ratio_limit  # strict, as the reference's guard
    ):
        reasons.append(
            EmergencyStopReason.LEAN_CANARY_BREACH.coded("fallback_ratio_exceeded", f"{canary:.4f}")
        )
    return reasons


def is_recoverable(reason: str) -> bool:
    return reason.startswith(RECOVERABLE_PREFIXES)


def universe_halt_reason(obs: WindowObservation) -> str:
    """The reference's emergency-stop reason `universe_source_unavailable:<status>:<reason>`, with the
    universe's status and reason as the window recorded them; `error:unknown` for a window recorded
    before the cause was kept (the reference's fallback when it has no reason)."""
    detail = obs.no_signal_detail
    if detail and detail.startswith(f"{UNIVERSE_UNAVAILABLE}:"):
        return detail
    return f"{UNIVERSE_UNAVAILABLE}:error:unknown"


def step(
    state: ContinuityState, obs: WindowObservation, config: ContinuityConfig
) -> tuple[ContinuityState, list[ContinuityEvent]]:
    """Advance one lane by one window. Windows must arrive in order; a repeated window is a no-op."""
    if state.last_window_start is not None and obs.window_start <= state.last_window_start:
        return state, []
    staleness = classify_staleness(obs, config)
    actionable = staleness == Staleness.ACTIONABLE
    if obs.usable:
        reason, streak = None, 0
    else:
        reason = obs.no_signal_reason
        streak = state.streak + 1 if reason == state.reason else 1
    new = replace(state, last_window_start=obs.window_start, reason=reason, streak=streak)
    events: list[ContinuityEvent] = []

    cause = (universe_halt_reason(obs),) if reason == UNIVERSE_UNAVAILABLE else ()

    def event(transition: ContinuityTransition, detail: tuple[str, ...] = cause) -> None:
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

    if obs.usable:
        if new.alert_active:
            recovery = new.recovery_streak + 1
            if recovery >= max(1, config.recovery_cycles):
                new = replace(new, alert_active=False, alert_reason=None, alert_since=None, recovery_streak=0)
                event(ContinuityTransition.CLEARED)
            else:
                new = replace(new, recovery_streak=recovery)
                event(ContinuityTransition.RECOVERING)
    elif actionable:
        lag = obs.signal_lag_seconds
        latch = (
            reason == UNIVERSE_UNAVAILABLE
            or streak >= config.no_signal_streak_alert_threshold
            or (lag is not None and lag >= config.stale_lag_alert_seconds)
        )
        if new.alert_active:
            new = replace(new, recovery_streak=0)
            event(ContinuityTransition.REFRESHED)
        elif latch:
            new = replace(
                new, alert_active=True, alert_reason=reason, alert_since=obs.window_start, recovery_streak=0
            )
            event(ContinuityTransition.LATCHED)

    if config.emergency_stop_enabled:
        found = emergency_stop_reasons(obs, streak, config)
        if not new.emergency_stop_active:
            if found:
                new = replace(
                    new,
                    emergency_stop_active=True,
                    emergency_reasons=tuple(found),
                    emergency_recovery_streak=0,
                    emergency_since=obs.window_start,
                )
                event(ContinuityTransition.EMERGENCY_TRIGGERED, tuple(found))
        else:
            new, escalated = _emergency_stop_standing(new, found, config)
            if escalated:
                event(ContinuityTransition.EMERGENCY_ESCALATED, new.emergency_reasons)
            elif not new.emergency_stop_active:
                event(ContinuityTransition.EMERGENCY_RECOVERED, state.emergency_reasons)
    elif new.emergency_stop_active:
        new = _emergency_stop_cleared(new)
    return new, events


def _emergency_stop_standing(
    state: ContinuityState, found: list[str], config: ContinuityConfig
) -> tuple[ContinuityState, bool]:
    """The reference's recovery rule for a standing stop; returns the new state and whether it escalated.

    A latched (non-recoverable) reason holds the stop until a person clears it; a new non-recoverable
    reason escalates a freshness stop; a freshness breach that persists restarts the clean count.
    """
    latched = state.emergency_reasons
    if not latched or not all(is_recoverable(r) for r in latched):
        return replace(state, emergency_recovery_streak=0), False
    hard = [r for r in found if not is_recoverable(r)]
    if hard:
        merged = tuple(sorted(set(latched) | set(hard)))
        return replace(state, emergency_reasons=merged, emergency_recovery_streak=0), True
    if found:
        return replace(state, emergency_reasons=tuple(sorted(set(found))), emergency_recovery_streak=0), False
    clean = state.emergency_recovery_streak + 1
    if clean >= config.emergency_recovery_cycles:
        return _emergency_stop_cleared(state), False
    return replace(state, emergency_recovery_streak=clean), False


def _emergency_stop_cleared(state: ContinuityState) -> ContinuityState:
    return replace(
        state,
        emergency_stop_active=False,
        emergency_reasons=(),
        emergency_recovery_streak=0,
        emergency_since=None,
    )


def clear_emergency_stop(state: ContinuityState) -> ContinuityState:
    """A person's clearance: the only way out of a latched reason. Refused when no stop stands."""
    if not state.emergency_stop_active:
        raise EmergencyStopNotActive(f"no emergency stop stands on lane {state.lane!r}")
    return _emergency_stop_cleared(state)


class EmergencyStopNotActive(ValueError):
    """Clearing a lane whose emergency stop is not set: nothing to clear, so nothing is recorded."""


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
        "actionable": classification == Staleness.ACTIONABLE,
        "alert_active": alert_active,
        "alert_reason": state.alert_reason if state and alert_active else None,
        "evaluated_through": None if state is None else state.last_window_start,
    }
