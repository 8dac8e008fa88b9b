"""Emergency-stop reasons with the reference's semantics (docs/continuity.md, emergency stop).

Each reason: it fires at exactly its limit (the reference's limits are inclusive), it either recovers on
its own after `emergency_recovery_cycles` clean windows or stays latched, and what a person must do.
"""

from __future__ import annotations

import pandas as pd
import pytest

from torghut_assets.domain.continuity import (
    ContinuityConfig,
    ContinuityState,
    ContinuityTransition,
    EmergencyStopNotActive,
    EmergencyStopReason,
    RiskObservation,
    WindowObservation,
    clear_emergency_stop,
    emergency_stop_reasons,
    step,
)

CONFIG = ContinuityConfig()
NO_RISK = RiskObservation()
MONDAY_OPEN = pd.Timestamp("2026-03-02 15:00", tz="UTC")


def at(i: int) -> pd.Timestamp:
    return MONDAY_OPEN + pd.Timedelta(hours=i)


def healthy(i: int, risk: RiskObservation = NO_RISK) -> WindowObservation:
    return WindowObservation(at(i), 480, None, True, None, risk=risk)


def silent(i: int, reason: str = "no_signals_in_window", lag: float | None = None) -> WindowObservation:
    return WindowObservation(at(i), 0, reason, True, lag)


def run(observations: list[WindowObservation], state: ContinuityState | None = None):
    state = state or ContinuityState(lane="macd_rsi")
    transitions: list[str] = []
    for obs in observations:
        state, events = step(state, obs, CONFIG)
        transitions.extend(e.transition for e in events)
    return state, transitions


def reasons_of(obs: WindowObservation, streak: int = 1) -> list[str]:
    return emergency_stop_reasons(obs, streak, CONFIG)


# --- fires at exactly its limit -------------------------------------------------------------------


def test_signal_lag_fires_at_exactly_the_lag_limit() -> None:
    assert reasons_of(silent(0, "cursor_ahead_of_stream", lag=600.0)) == ["signal_lag_exceeded:600"]
    assert reasons_of(silent(0, "cursor_ahead_of_stream", lag=599.0)) == []


def test_staleness_streak_fires_at_exactly_the_streak_limit() -> None:
    assert reasons_of(silent(0), streak=3) == ["signal_staleness_streak_exceeded:no_signals_in_window:3"]
    assert reasons_of(silent(0), streak=2) == []


def test_autonomy_failures_fire_at_exactly_the_streak_limit() -> None:
    assert reasons_of(healthy(0, RiskObservation(autonomy_failure_streak=3))) == [
        "autonomy_failure_streak_exceeded:3"
    ]
    assert reasons_of(healthy(0, RiskObservation(autonomy_failure_streak=2))) == []


def test_fallback_ratio_fires_at_exactly_the_ratio_limit() -> None:
    assert reasons_of(healthy(0, RiskObservation(execution_fallback_ratio=0.25))) == [
        "execution_fallback_ratio_exceeded:0.250"
    ]
    assert reasons_of(healthy(0, RiskObservation(execution_fallback_ratio=0.2499))) == []


def test_drawdown_fires_at_exactly_the_drawdown_limit() -> None:
    assert reasons_of(healthy(0, RiskObservation(max_drawdown=0.08))) == ["max_drawdown_exceeded:0.0800"]
    assert reasons_of(healthy(0, RiskObservation(max_drawdown=0.0799))) == []


def test_a_universe_outage_fires_on_its_first_window() -> None:
    obs = WindowObservation(at(0), 0, "universe_source_unavailable", True, None)
    assert reasons_of(obs) == ["universe_source_unavailable:error:unknown"]


def test_trading_risk_counts_even_in_a_window_full_of_signals() -> None:
    state, transitions = run([healthy(0, RiskObservation(max_drawdown=0.12))])
    assert transitions == [ContinuityTransition.EMERGENCY_TRIGGERED]
    assert state.emergency_reasons == ("max_drawdown_exceeded:0.1200",)


# --- which reasons recover and which latch ---------------------------------------------------------


def test_only_freshness_reasons_are_recoverable() -> None:
    assert {r for r in EmergencyStopReason if r.recoverable} == {
        EmergencyStopReason.SIGNAL_LAG,
        EmergencyStopReason.STALENESS_STREAK,
    }


def test_a_signal_lag_stop_recovers_after_the_recovery_cycles_of_clean_windows() -> None:
    state, transitions = run([silent(0, "cursor_ahead_of_stream", lag=900.0), healthy(1), healthy(2)])
    assert state.emergency_stop_active and state.emergency_recovery_streak == 2
    state, transitions = run([healthy(3)], state)
    assert not state.emergency_stop_active and transitions == [ContinuityTransition.EMERGENCY_RECOVERED]


def test_a_persisting_freshness_breach_restarts_the_clean_count_and_refreshes_the_reason() -> None:
    state, _ = run([silent(0, "cursor_ahead_of_stream", lag=900.0), healthy(1), healthy(2)])
    state, _ = run([silent(3, "cursor_ahead_of_stream", lag=1200.0)], state)
    assert state.emergency_stop_active and state.emergency_recovery_streak == 0
    assert state.emergency_reasons == ("signal_lag_exceeded:1200",)


@pytest.mark.parametrize(
    "risk",
    [
        RiskObservation(autonomy_failure_streak=3),
        RiskObservation(execution_fallback_ratio=0.5),
        RiskObservation(max_drawdown=0.1),
    ],
    ids=["autonomy_failures", "fallback_ratio", "drawdown"],
)
def test_a_trading_risk_stop_stays_latched_through_any_number_of_clean_windows(risk) -> None:
    state, _ = run([healthy(0, risk), *(healthy(i) for i in range(1, 30))])
    assert state.emergency_stop_active and state.emergency_recovery_streak == 0


def test_a_universe_stop_stays_latched_after_the_universe_returns() -> None:
    outage = WindowObservation(at(0), 0, "universe_source_unavailable", True, None)
    state, _ = run([outage, *(healthy(i) for i in range(1, 10))])
    assert state.emergency_stop_active


def test_a_freshness_stop_escalates_to_latched_when_a_hard_reason_appears() -> None:
    state, transitions = run(
        [silent(0, "cursor_ahead_of_stream", lag=900.0), healthy(1, RiskObservation(max_drawdown=0.09))]
    )
    assert [
        t
        for t in transitions
        if t in (ContinuityTransition.EMERGENCY_TRIGGERED, ContinuityTransition.EMERGENCY_ESCALATED)
    ] == [
        ContinuityTransition.EMERGENCY_TRIGGERED,
        ContinuityTransition.EMERGENCY_ESCALATED,
    ]
    assert state.emergency_reasons == ("max_drawdown_exceeded:0.0900", "signal_lag_exceeded:900")
    state, _ = run([healthy(i) for i in range(2, 12)], state)
    assert state.emergency_stop_active


# --- what a person must do --------------------------------------------------------------------------


def test_a_person_clears_a_latched_stop_and_the_lane_may_trade_again() -> None:
    state, _ = run([healthy(0, RiskObservation(execution_fallback_ratio=0.5))])
    cleared = clear_emergency_stop(state)
    assert not cleared.emergency_stop_active and cleared.emergency_reasons == ()


def test_a_fault_that_persists_after_a_clearance_latches_the_stop_again() -> None:
    state, _ = run([healthy(0, RiskObservation(max_drawdown=0.1))])
    state, transitions = run([healthy(1, RiskObservation(max_drawdown=0.1))], clear_emergency_stop(state))
    assert state.emergency_stop_active and transitions == [ContinuityTransition.EMERGENCY_TRIGGERED]


def test_clearing_a_lane_without_a_standing_stop_is_refused() -> None:
    with pytest.raises(EmergencyStopNotActive, match="no emergency stop stands on lane 'macd_rsi'"):
        clear_emergency_stop(ContinuityState(lane="macd_rsi"))


def test_a_disabled_emergency_stop_clears_even_a_latched_reason() -> None:
    state, _ = run([healthy(0, RiskObservation(max_drawdown=0.1))])
    off = ContinuityConfig(emergency_stop_enabled=False)
    state, _ = step(state, healthy(1), off)
    assert not state.emergency_stop_active


# --- the LEAN live canary ---------------------------------------------------------------------------

CANARY = ContinuityConfig(lean_live_canary_enabled=True)


def test_the_live_canary_fires_only_above_its_limit_as_the_reference_guard_does() -> None:
    over = healthy(0, RiskObservation(lean_canary_fallback_ratio=0.2501))
    at_limit = healthy(0, RiskObservation(lean_canary_fallback_ratio=0.25))
    assert emergency_stop_reasons(over, 1, CANARY) == ["lean_canary_breach:fallback_ratio_exceeded:0.2501"]
    assert emergency_stop_reasons(at_limit, 1, CANARY) == []


def test_the_live_canary_is_off_unless_enabled_as_in_the_reference() -> None:
    assert reasons_of(healthy(0, RiskObservation(lean_canary_fallback_ratio=0.9))) == []


def test_a_canary_without_hard_rollback_records_nothing_that_stops_trading() -> None:
    soft = ContinuityConfig(lean_live_canary_enabled=True, lean_live_canary_hard_rollback_enabled=False)
    assert emergency_stop_reasons(healthy(0, RiskObservation(lean_canary_fallback_ratio=0.9)), 1, soft) == []


def test_a_canary_breach_stays_latched() -> None:
    state = ContinuityState(lane="macd_rsi")
    for i, ratio in enumerate([0.5, None, None, None, None]):
        state, _ = step(state, healthy(i, RiskObservation(lean_canary_fallback_ratio=ratio)), CANARY)
    assert state.emergency_stop_active
    assert state.emergency_reasons == ("lean_canary_breach:fallback_ratio_exceeded:0.5000",)
