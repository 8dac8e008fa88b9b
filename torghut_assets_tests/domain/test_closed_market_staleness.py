"""Closed-market staleness, stricter than the reference (docs/continuity.md, closed market).

The reference excuses every closed-market silence (and latches every weekend on cursor-ahead); here
silence is expected only from a stream that ran to the last session close.
"""

from __future__ import annotations

import pandas as pd

from torghut_assets.domain.continuity import (
    ContinuityConfig,
    ContinuityState,
    ContinuityTransition,
    Staleness,
    WindowObservation,
    classify_staleness,
    step,
)

CONFIG = ContinuityConfig()
FRIDAY_CLOSE = pd.Timestamp("2026-03-06 21:00", tz="UTC")  # 16:00 ET
SATURDAY_NOON = pd.Timestamp("2026-03-07 17:00", tz="UTC")


def weekend_window(hours_after_close: int, newest: pd.Timestamp | None) -> WindowObservation:
    start = FRIDAY_CLOSE + pd.Timedelta(hours=hours_after_close)
    return WindowObservation(start, 0, "market_closed", False, None, newest_signal_ts=newest)


def test_a_stream_that_ran_to_the_close_is_expected_all_weekend() -> None:
    obs = weekend_window(20, newest=FRIDAY_CLOSE - pd.Timedelta(minutes=1))
    assert classify_staleness(obs, CONFIG) == Staleness.EXPECTED


def test_a_stream_that_died_in_session_is_actionable_while_the_market_is_closed() -> None:
    obs = weekend_window(20, newest=FRIDAY_CLOSE - pd.Timedelta(hours=2))
    assert classify_staleness(obs, CONFIG) == Staleness.ACTIONABLE


def test_the_close_tolerance_is_inclusive_of_a_quiet_last_quarter_hour() -> None:
    assert (
        classify_staleness(weekend_window(3, FRIDAY_CLOSE - pd.Timedelta(minutes=15)), CONFIG)
        == Staleness.EXPECTED
    )
    assert (
        classify_staleness(weekend_window(3, FRIDAY_CLOSE - pd.Timedelta(minutes=16)), CONFIG)
        == Staleness.ACTIONABLE
    )


def test_a_stream_that_died_before_the_close_latches_the_alert_before_monday() -> None:
    died = FRIDAY_CLOSE - pd.Timedelta(hours=3)
    state = ContinuityState(lane="macd_rsi")
    transitions: list[str] = []
    for hours in range(1, 4):
        state, events = step(state, weekend_window(hours, died), CONFIG)
        transitions += [e.transition for e in events]
    assert state.alert_active and ContinuityTransition.LATCHED in transitions


def test_cursor_ahead_overnight_from_a_stream_that_ran_to_the_close_does_not_stop_trading() -> None:
    state = ContinuityState(lane="macd_rsi")
    newest = FRIDAY_CLOSE - pd.Timedelta(minutes=1)
    for hours in range(1, 30):
        obs = WindowObservation(
            FRIDAY_CLOSE + pd.Timedelta(hours=hours),
            0,
            "cursor_ahead_of_stream",
            False,
            None,
            newest_signal_ts=newest,
        )
        state, _ = step(state, obs, CONFIG)
    assert not state.emergency_stop_active and not state.alert_active


def test_a_window_with_no_signal_ever_seen_keeps_the_expected_reading() -> None:
    assert classify_staleness(weekend_window(5, newest=None), CONFIG) == Staleness.EXPECTED


def test_a_tolerance_of_zero_demands_a_signal_at_the_close_itself() -> None:
    strict = ContinuityConfig(session_close_tolerance_seconds=0)
    obs = WindowObservation(SATURDAY_NOON, 0, "market_closed", False, None, newest_signal_ts=FRIDAY_CLOSE)
    assert classify_staleness(obs, strict) == Staleness.EXPECTED
