from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from torghut_assets.domain.market_calendar import (
    is_market_open,
    market_minutes,
    previous_sessions,
    session_bounds,
    session_minutes,
)


def utc(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


def test_weekend_has_no_session() -> None:
    saturday, sunday = dt.date(2026, 2, 28), dt.date(2026, 3, 1)
    assert session_bounds(saturday) is None
    assert session_bounds(sunday) is None
    assert len(session_minutes(saturday)) == 0


@pytest.mark.parametrize(
    "holiday",
    [
        dt.date(2025, 1, 9),  # national day of mourning
        dt.date(2026, 4, 3),  # Good Friday
        dt.date(2026, 7, 3),  # Independence Day observed (the 4th is a Saturday)
        dt.date(2027, 12, 24),  # Christmas observed (the 25th is a Saturday)
    ],
)
def test_nyse_holiday_has_no_session(holiday: dt.date) -> None:
    assert session_bounds(holiday) is None


def test_saturday_new_year_is_not_observed_on_the_friday_before() -> None:
    assert session_bounds(dt.date(2027, 12, 31)) is not None


def test_utc_open_moves_an_hour_earlier_when_new_york_enters_daylight_time() -> None:
    winter = session_bounds(dt.date(2026, 3, 6))
    summer = session_bounds(dt.date(2026, 3, 9))
    assert winter == (utc("2026-03-06 14:30"), utc("2026-03-06 21:00"))
    assert summer == (utc("2026-03-09 13:30"), utc("2026-03-09 20:00"))


def test_regular_session_has_390_one_minute_bars() -> None:
    minutes = session_minutes(dt.date(2026, 2, 24))
    assert len(minutes) == 390
    assert str(minutes.dtype) == "datetime64[us, UTC]"
    assert minutes[0] == utc("2026-02-24 14:30")
    assert minutes[-1] == utc("2026-02-24 20:59")


def test_market_is_open_from_the_opening_minute_until_just_before_the_close() -> None:
    assert not is_market_open(utc("2026-02-24 14:29:59"))
    assert is_market_open(utc("2026-02-24 14:30"))
    assert is_market_open(pd.Timestamp("2026-02-24 15:59:59", tz="America/New_York"))
    assert not is_market_open(utc("2026-02-24 21:00"))
    assert not is_market_open(utc("2026-02-28 16:00"))


def test_market_minutes_across_a_weekend_hold_only_friday_and_monday_bars() -> None:
    minutes = market_minutes(utc("2026-02-27 19:00"), utc("2026-03-02 16:00"))
    friday, monday = minutes[minutes.day == 27], minutes[minutes.day == 2]
    assert len(minutes) == len(friday) + len(monday)
    assert (friday[0], friday[-1], len(friday)) == (utc("2026-02-27 19:00"), utc("2026-02-27 20:59"), 120)
    assert (monday[0], monday[-1], len(monday)) == (utc("2026-03-02 14:30"), utc("2026-03-02 15:59"), 90)


def test_market_minutes_of_an_overnight_window_are_empty() -> None:
    assert len(market_minutes(utc("2026-02-24 22:00"), utc("2026-02-25 14:00"))) == 0


def test_previous_sessions_skip_weekends_and_holidays_oldest_first() -> None:
    # 2026-01-19 is Martin Luther King Jr. Day.
    assert previous_sessions(dt.date(2026, 1, 20), 3) == [
        dt.date(2026, 1, 14),
        dt.date(2026, 1, 15),
        dt.date(2026, 1, 16),
    ]


def test_naive_timestamps_are_rejected() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        is_market_open(pd.Timestamp("2026-02-24 15:00"))
