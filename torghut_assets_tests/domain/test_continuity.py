"""Continuity latch and emergency stop (docs/continuity.md), one lane window at a time."""

from __future__ import annotations

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from torghut_assets.domain.continuity import (
    ContinuityConfig,
    ContinuityState,
    ContinuityTransition,
    Staleness,
    WindowObservation,
    classify_staleness,
    continuity_summary,
    due_windows,
    live_promotion_block,
    missing_window,
    step,
)

CONFIG = ContinuityConfig()
MONDAY_OPEN = pd.Timestamp("2026-03-02 15:00", tz="UTC")


def _window(i: int) -> pd.Timestamp:
    return MONDAY_OPEN + pd.Timedelta(hours=i)


def healthy(i: int) -> WindowObservation:
    return WindowObservation(_window(i), 480, None, True, None)


def silent(i: int, reason: str = "no_signals_in_window", market_open: bool = True, lag: float | None = None):
    return WindowObservation(_window(i), 0, reason, market_open, lag)


def run(observations: list[WindowObservation], config: ContinuityConfig = CONFIG):
    state, transitions = ContinuityState(lane="macd_rsi"), []
    for obs in observations:
        state, events = step(state, obs, config)
        transitions.extend(e.transition for e in events)
    return state, transitions


def test_one_empty_open_market_window_does_not_latch() -> None:
    state, transitions = run([silent(0)])
    assert not state.alert_active and transitions == []


def test_alert_latches_after_the_streak_threshold() -> None:
    state, transitions = run([silent(0), silent(1)])
    assert state.alert_active and state.alert_reason == "no_signals_in_window"
    assert transitions == [ContinuityTransition.LATCHED]


def test_a_single_window_past_the_stale_lag_latches_at_once() -> None:
    state, _ = run([silent(0, "cursor_ahead_of_stream", lag=301.0)])
    assert state.alert_active


def test_empty_universe_latches_at_once() -> None:
    state, _ = run([silent(0, "universe_source_unavailable")])
    assert state.alert_active


def test_streak_resets_when_the_reason_changes() -> None:
    state, _ = run([silent(0, "no_signals_in_window"), silent(1, "source_unavailable")])
    assert state.streak == 1
    assert state.alert_active is False


def test_closed_market_silence_is_expected_and_never_latches() -> None:
    state, transitions = run([silent(i, "market_closed", market_open=False) for i in range(30)])
    assert not state.alert_active and ContinuityTransition.LATCHED not in transitions


def test_cursor_ahead_of_stream_is_actionable_only_while_the_market_is_open() -> None:
    assert (
        classify_staleness(silent(0, "cursor_ahead_of_stream", market_open=False), CONFIG)
        == Staleness.EXPECTED
    )
    assert (
        classify_staleness(silent(0, "cursor_ahead_of_stream", market_open=True), CONFIG)
        == Staleness.ACTIONABLE
    )


def test_source_failure_is_actionable_even_when_the_market_is_closed() -> None:
    assert (
        classify_staleness(silent(0, "source_unavailable", market_open=False), CONFIG) == Staleness.ACTIONABLE
    )


def test_latched_alert_is_refreshed_by_each_further_actionable_empty_window() -> None:
    _, transitions = run([silent(0), silent(1), healthy(2), silent(3)])
    assert transitions == [
        ContinuityTransition.LATCHED,
        ContinuityTransition.RECOVERING,
        ContinuityTransition.REFRESHED,
    ]


def test_alert_clears_only_after_the_recovery_cycles() -> None:
    state, transitions = run([silent(0), silent(1), healthy(2), healthy(3)])
    assert transitions == [
        ContinuityTransition.LATCHED,
        ContinuityTransition.RECOVERING,
        ContinuityTransition.CLEARED,
    ]
    assert not state.alert_active


def test_closed_market_windows_neither_refresh_nor_recover_a_latched_alert() -> None:
    state, transitions = run(
        [silent(0), silent(1), *[silent(i, "market_closed", False) for i in range(2, 20)]]
    )
    assert state.alert_active and transitions == [ContinuityTransition.LATCHED]


def test_replaying_an_already_evaluated_window_changes_nothing() -> None:
    state, _ = run([silent(0), silent(1)])
    again, events = step(state, silent(1), CONFIG)
    assert again == state and events == []


def test_emergency_stop_triggers_on_a_critical_streak_and_recovers_after_clean_windows() -> None:
    state, transitions = run([silent(0), silent(1), silent(2), healthy(3), healthy(4), healthy(5)])
    assert transitions.count(ContinuityTransition.EMERGENCY_TRIGGERED) == 1
    assert transitions[-1] == ContinuityTransition.EMERGENCY_RECOVERED
    assert not state.emergency_stop_active


def test_emergency_stop_names_the_lag_when_the_market_is_open() -> None:
    state, _ = run([silent(0, "cursor_ahead_of_stream", lag=900.0)])
    assert state.emergency_stop_active
    assert state.emergency_reasons == ("signal_lag_exceeded:900",)


def test_non_recoverable_emergency_reason_needs_a_human() -> None:
    state, transitions = run([silent(0, "universe_source_unavailable"), *[healthy(i) for i in range(1, 10)]])
    assert state.emergency_stop_active
    assert ContinuityTransition.EMERGENCY_RECOVERED not in transitions


def test_disabling_the_emergency_stop_clears_its_latch() -> None:
    state, _ = run([silent(0, "cursor_ahead_of_stream", lag=900.0)])
    cleared, _ = step(state, healthy(1), ContinuityConfig(emergency_stop_enabled=False))
    assert not cleared.emergency_stop_active


def test_live_promotion_is_blocked_while_the_alert_is_latched() -> None:
    state, _ = run([silent(0), silent(1)])
    assert live_promotion_block(state) == "signal_continuity_alert_active"


def test_live_promotion_fails_closed_without_continuity_evidence() -> None:
    assert live_promotion_block(None) == "signal_continuity_unknown"
    assert live_promotion_block(ContinuityState(lane="macd_rsi")) == "signal_continuity_unknown"


def test_live_promotion_is_not_blocked_by_a_recovered_lane() -> None:
    state, _ = run([silent(0), silent(1), healthy(2), healthy(3)])
    assert live_promotion_block(state) is None


def test_due_windows_wait_for_the_deadline_and_resume_in_order() -> None:
    now = pd.Timestamp("2026-03-02 18:10", tz="UTC")
    due = due_windows(pd.Timestamp("2026-03-02 14:00", tz="UTC"), now, pd.Timedelta(minutes=20), 48)
    assert due == [pd.Timestamp(f"2026-03-02 {h}:00", tz="UTC") for h in (15, 16)]


def test_a_missing_open_market_window_is_actionable() -> None:
    assert classify_staleness(missing_window(_window(0), True), CONFIG) == Staleness.ACTIONABLE
    assert classify_staleness(missing_window(_window(0), False), CONFIG) == Staleness.EXPECTED


def test_no_signal_artifact_block_reports_the_window_and_the_latch() -> None:
    state, _ = run([silent(0), silent(1)])
    block = continuity_summary(silent(2), state, CONFIG)
    assert block == {
        "state": Staleness.ACTIONABLE,
        "reason": "no_signals_in_window",
        "actionable": True,
        "alert_active": True,
        "alert_reason": "no_signals_in_window",
        "evaluated_through": _window(1),
    }


_observation = st.one_of(
    st.just("healthy"),
    st.sampled_from(
        ["no_signals_in_window", "cursor_ahead_of_stream", "source_unavailable", "market_closed"]
    ),
)


@settings(max_examples=300, deadline=None)
@given(
    kinds=st.lists(_observation, min_size=1, max_size=60),
    opens=st.lists(st.booleans(), min_size=60, max_size=60),
    recovery=st.integers(min_value=1, max_value=4),
)
def test_alert_never_clears_without_the_required_healthy_streak(kinds, opens, recovery) -> None:
    config = ContinuityConfig(recovery_cycles=recovery)
    state = ContinuityState(lane="macd_rsi")
    healthy_run = 0
    for i, kind in enumerate(kinds):
        obs = healthy(i) if kind == "healthy" else silent(i, kind, market_open=opens[i], lag=None)
        was_active = state.alert_active
        state, _ = step(state, obs, config)
        if kind == "healthy":
            healthy_run += 1
        elif classify_staleness(obs, config) == Staleness.ACTIONABLE:
            healthy_run = 0
        if was_active and not state.alert_active:
            assert kind == "healthy" and healthy_run >= recovery


def test_a_universe_halt_keeps_jangars_status_and_reason() -> None:
    halt = "universe_source_unavailable:error:jangar_http_error_cache_stale"
    blocked = WindowObservation(
        _window(0), 0, "universe_source_unavailable", True, None, no_signal_detail=halt
    )
    state, events = step(ContinuityState(lane="macd_rsi"), blocked, CONFIG)
    assert state.emergency_reasons == (halt,)
    assert state.alert_reason == "universe_source_unavailable"  # the category drives streaks as before
    assert {e.transition: e.detail for e in events} == {
        ContinuityTransition.LATCHED: (halt,),
        ContinuityTransition.EMERGENCY_TRIGGERED: (halt,),
    }
    again = WindowObservation(_window(1), 0, "universe_source_unavailable", True, None, no_signal_detail=halt)
    state, events = step(state, again, CONFIG)
    assert [(e.transition, e.detail) for e in events] == [(ContinuityTransition.REFRESHED, (halt,))]


def test_a_universe_halt_recorded_without_its_cause_reads_as_unknown() -> None:
    state, _ = run([silent(0, "universe_source_unavailable")])
    assert state.emergency_reasons == ("universe_source_unavailable:error:unknown",)


def test_windows_that_fail_their_feature_quality_gate_latch_the_alert_though_signals_arrived() -> None:
    failed = [WindowObservation(_window(i), 480, "feature_quality_gate_failed", True, None) for i in (0, 1)]
    state, transitions = run(failed)
    assert state.alert_active and state.alert_reason == "feature_quality_gate_failed"
    assert transitions == [ContinuityTransition.LATCHED]


def test_a_window_that_fails_its_feature_quality_gate_does_not_count_towards_recovery() -> None:
    state, _ = run([silent(0), silent(1), healthy(2)])
    state, _ = step(
        state, WindowObservation(_window(3), 480, "feature_quality_gate_failed", True, None), CONFIG
    )
    assert state.alert_active and state.recovery_streak == 0
