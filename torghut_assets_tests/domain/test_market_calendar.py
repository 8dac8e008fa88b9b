from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from dateutil.easter import easter as dateutil_easter

from torghut_assets.domain.market_calendar import (
    is_early_close,
    is_market_open,
    is_session_day,
    market_minutes,
    previous_sessions,
    session_bounds,
    session_length_minutes,
    session_minutes,
    session_opens_closes,
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


# --- XNYS from exchange_calendars: holidays in every year, early closes, DST -----------------------------
#
# Expected dates are written out here, not read from the library under test. Sources:
# * NYSE Group press releases "NYSE Group Announces 2025, 2026 and 2027 Holiday and Early Closings
#   Calendar" (2024-11-08) and "... 2026, 2027 and 2028 ..." (2025-12-23): the published holidays and
#   1:00 p.m. early closes for 2026-2028.
# * 2029-2033: NYSE Rule 7.2 applied by hand (weekend holidays observed the Friday before / Monday after,
#   New Year's Day on a Saturday not observed; early close on July 3rd, the day after Thanksgiving and
#   Christmas Eve when those are weekdays and not themselves holidays), with Good Friday cross-checked
#   against python-dateutil's Easter computation below.

PUBLISHED_2028_HOLIDAYS = (
    "2028-01-17",  # Martin Luther King, Jr. Day
    "2028-02-21",  # Washington's Birthday
    "2028-04-14",  # Good Friday
    "2028-05-29",  # Memorial Day
    "2028-06-19",  # Juneteenth
    "2028-07-04",  # Independence Day
    "2028-09-04",  # Labor Day
    "2028-11-23",  # Thanksgiving
    "2028-12-25",  # Christmas; New Year's Day falls on Saturday 2028-01-01 and is not observed
)
RULE_HOLIDAYS: dict[int, tuple[str, ...]] = {
    2028: PUBLISHED_2028_HOLIDAYS,
    2029: (
        "2029-01-01", "2029-01-15", "2029-02-19", "2029-03-30", "2029-05-28", "2029-06-19",
        "2029-07-04", "2029-09-03", "2029-11-22", "2029-12-25",
    ),
    2030: (
        "2030-01-01", "2030-01-21", "2030-02-18", "2030-04-19", "2030-05-27", "2030-06-19",
        "2030-07-04", "2030-09-02", "2030-11-28", "2030-12-25",
    ),
}  # fmt: skip
EARLY_CLOSES: dict[int, tuple[str, ...]] = {
    2026: ("2026-11-27", "2026-12-24"),  # published; July 3rd is the Independence Day holiday
    2027: ("2027-11-26",),  # published; July 3rd is a Saturday, Christmas Eve the Christmas holiday
    2028: ("2028-07-03", "2028-11-24"),  # published; Christmas Eve is a Sunday
    2029: ("2029-07-03", "2029-11-23", "2029-12-24"),
    2030: ("2030-07-03", "2030-11-29", "2030-12-24"),
}


def days_of(year: int) -> list[dt.date]:
    first = dt.date(year, 1, 1)
    return [first + dt.timedelta(days=i) for i in range((dt.date(year + 1, 1, 1) - first).days)]


def dates(texts: tuple[str, ...]) -> list[dt.date]:
    return [dt.date.fromisoformat(t) for t in texts]


def et(day: dt.date, hour: int, minute: int = 0) -> pd.Timestamp:
    return pd.Timestamp(dt.datetime(day.year, day.month, day.day, hour, minute), tz="America/New_York")


@pytest.mark.parametrize("year", sorted(RULE_HOLIDAYS))
def test_weekday_closures_are_exactly_the_nyse_holidays_of_the_year(year: int) -> None:
    closed = [d for d in days_of(year) if d.weekday() < 5 and not is_session_day(d)]
    assert closed == dates(RULE_HOLIDAYS[year])


def test_new_years_day_on_a_saturday_is_not_observed_on_the_friday_before_or_the_monday_after() -> None:
    # 2028-01-01 and 2033-01-01 are Saturdays; NYSE's 2028 release: "no New Year's Day holiday is observed".
    for saturday in (dt.date(2028, 1, 1), dt.date(2033, 1, 1)):
        friday, monday = saturday - dt.timedelta(days=1), saturday + dt.timedelta(days=2)
        assert is_session_day(friday) and is_session_day(monday), saturday
    assert not is_session_day(dt.date(2028, 1, 17))  # and MLK Day 2028 is still a holiday


@pytest.mark.parametrize(
    ("observed", "why"),
    [
        (dt.date(2027, 6, 18), "Juneteenth on Saturday 2027-06-19, observed Friday (published)"),
        (dt.date(2032, 6, 18), "Juneteenth on Saturday 2032-06-19, observed Friday"),
        (dt.date(2033, 6, 20), "Juneteenth on Sunday 2033-06-19, observed Monday"),
        (dt.date(2032, 7, 5), "Independence Day on Sunday 2032-07-04, observed Monday"),
        (dt.date(2032, 12, 24), "Christmas on Saturday 2032-12-25, observed Friday"),
        (dt.date(2033, 12, 26), "Christmas on Sunday 2033-12-25, observed Monday"),
    ],
)
def test_weekend_holidays_are_observed_on_the_adjacent_weekday(observed: dt.date, why: str) -> None:
    assert session_bounds(observed) is None, why
    assert len(market_minutes(et(observed, 9, 30), et(observed, 16))) == 0


@pytest.mark.parametrize("year", range(2026, 2036))
def test_good_friday_matches_an_independent_easter_computation(year: int) -> None:
    good_friday = dateutil_easter(year) - dt.timedelta(days=2)  # python-dateutil, not exchange_calendars
    assert session_bounds(good_friday) is None
    assert is_session_day(good_friday - dt.timedelta(days=1))  # Maundy Thursday trades


@pytest.mark.parametrize("year", sorted(EARLY_CLOSES))
def test_early_closes_of_the_year_are_exactly_the_1pm_sessions(year: int) -> None:
    early = []
    for day in days_of(year):
        bounds = session_bounds(day)
        if bounds is not None and bounds[1] != et(day, 16):
            assert bounds == (et(day, 9, 30), et(day, 13)), day
            early.append(day)
    assert early == dates(EARLY_CLOSES[year])
    assert [d for d in days_of(year) if is_early_close(d)] == early


@pytest.mark.parametrize(
    ("day", "close_utc"),
    [
        (dt.date(2028, 7, 3), "2028-07-03 17:00"),  # EDT: 13:00 ET is 17:00 UTC
        (dt.date(2028, 11, 24), "2028-11-24 18:00"),  # EST (DST ended 2028-11-05): 18:00 UTC
        (dt.date(2029, 12, 24), "2029-12-24 18:00"),
    ],
)
def test_an_early_close_is_1pm_new_york_time_on_either_side_of_dst(day: dt.date, close_utc: str) -> None:
    bounds = session_bounds(day)
    assert bounds is not None and bounds[1] == utc(close_utc)
    minutes = session_minutes(day)
    assert len(minutes) == 210 == session_length_minutes(day)
    assert minutes[-1] == utc(close_utc) - pd.Timedelta(minutes=1)
    assert is_market_open(utc(close_utc) - pd.Timedelta(seconds=1))
    assert not is_market_open(utc(close_utc))
    assert len(market_minutes(utc(close_utc), utc(close_utc) + pd.Timedelta(hours=1))) == 0


def test_dst_moves_the_utc_session_in_2028_and_a_weekend_straddling_the_change_keeps_full_sessions() -> None:
    # US DST 2028: starts Sunday 2028-03-12, ends Sunday 2028-11-05.
    assert session_bounds(dt.date(2028, 3, 10)) == (utc("2028-03-10 14:30"), utc("2028-03-10 21:00"))
    assert session_bounds(dt.date(2028, 3, 13)) == (utc("2028-03-13 13:30"), utc("2028-03-13 20:00"))
    assert session_bounds(dt.date(2028, 11, 3)) == (utc("2028-11-03 13:30"), utc("2028-11-03 20:00"))
    assert session_bounds(dt.date(2028, 11, 6)) == (utc("2028-11-06 14:30"), utc("2028-11-06 21:00"))
    spring = market_minutes(utc("2028-03-10 00:00"), utc("2028-03-14 00:00"))
    assert len(spring) == 2 * 390 and spring[390] == utc("2028-03-13 13:30")


def test_a_thanksgiving_week_has_a_holiday_and_a_half_day() -> None:
    # 2028: Thanksgiving Thursday 11-23 closed, Friday 11-24 closes at 13:00 ET.
    week = market_minutes(utc("2028-11-20 00:00"), utc("2028-11-25 00:00"))
    per_day = week.tz_convert("America/New_York").normalize().value_counts().sort_index()
    assert [(d.date().isoformat(), n) for d, n in per_day.items()] == [
        ("2028-11-20", 390), ("2028-11-21", 390), ("2028-11-22", 390), ("2028-11-24", 210),
    ]  # fmt: skip
    assert previous_sessions(dt.date(2028, 11, 27), 2) == [dt.date(2028, 11, 22), dt.date(2028, 11, 24)]


def test_vectorised_lookup_agrees_with_session_bounds_day_by_day() -> None:
    days = [d for year in range(2025, 2032) for d in days_of(year)]
    opens, closes = session_opens_closes(np.array(days, dtype="datetime64[D]"))
    for day, open_, close in zip(days, opens, closes, strict=True):
        bounds = session_bounds(day)
        if bounds is None:
            assert np.isnat(open_) and np.isnat(close), day
        else:
            assert (pd.Timestamp(open_, tz="UTC"), pd.Timestamp(close, tz="UTC")) == bounds, day


def test_an_hourly_window_is_the_slice_of_its_session() -> None:
    day = dt.date(2028, 11, 24)
    full = session_minutes(day)
    window = market_minutes(utc("2028-11-24 17:00"), utc("2028-11-24 18:00"))
    assert window.equals(full[-60:]) and str(window.dtype) == "datetime64[us, UTC]"


def test_dates_beyond_the_default_table_widen_it_and_far_dates_raise() -> None:
    assert session_bounds(dt.date(2099, 12, 25)) is None  # a Friday Christmas, past DEFAULT_YEARS
    assert is_session_day(dt.date(2099, 12, 24))
    with pytest.raises(ValueError, match="market calendar covers years"):
        is_session_day(dt.date(2300, 1, 2))
