"""When US equities trade, so windows with no session are known to be legitimately empty.

Regular session only: Mon-Fri 09:30-16:00 America/New_York, minus NYSE full-day holidays. Early
closes (13:00 on the day after Thanksgiving, Christmas Eve, July 3rd) are ignored: those days are
treated as full sessions, which only over-states expected bars for a few afternoons a year.

Holidays are hard-coded for 2025-2027 only. Outside `HOLIDAY_YEARS` every weekday counts as a
session, because a wrong answer for a far date is less harmful to a simulator than an exception
deep inside a trailing lookback.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from zoneinfo import ZoneInfo

import pandas as pd

EXCHANGE_TZ = ZoneInfo("America/New_York")
SESSION_OPEN = dt.time(9, 30)
SESSION_CLOSE = dt.time(16, 0)
SESSION_LENGTH_MINUTES = 390
HOLIDAY_YEARS: tuple[int, ...] = (2025, 2026, 2027)

# NYSE Rule 7.2 (holidays): New Year's Day, MLK Day, Washington's Birthday, Good Friday, Memorial
# Day, Juneteenth, Independence Day, Labor Day, Thanksgiving, Christmas. A Saturday holiday is
# observed the Friday before and a Sunday holiday the Monday after, except that New Year's Day on a
# Saturday is not observed (so 2027-12-31 trades). 2025-01-09 is the one-off national day of
# mourning for President Carter, on which NYSE also closed.
NYSE_HOLIDAYS: frozenset[dt.date] = frozenset(
    dt.date.fromisoformat(d)
    for d in (
        "2025-01-01", "2025-01-09", "2025-01-20", "2025-02-17", "2025-04-18", "2025-05-26",
        "2025-06-19", "2025-07-04", "2025-09-01", "2025-11-27", "2025-12-25",
        "2026-01-01", "2026-01-19", "2026-02-16", "2026-04-03", "2026-05-25",
        "2026-06-19", "2026-07-03", "2026-09-07", "2026-11-26", "2026-12-25",
        "2027-01-01", "2027-01-18", "2027-02-15", "2027-03-26", "2027-05-31",
        "2027-06-18", "2027-07-05", "2027-09-06", "2027-11-25", "2027-12-24",
    )
)  # fmt: skip

_ONE_MINUTE = pd.Timedelta(minutes=1)


def is_session_day(day: dt.date) -> bool:
    return day.weekday() < 5 and day not in NYSE_HOLIDAYS


def _utc(day: dt.date, at: dt.time) -> pd.Timestamp:
    local = dt.datetime.combine(day, at, tzinfo=EXCHANGE_TZ)
    return pd.Timestamp(local).tz_convert("UTC").as_unit("us")


def _require_aware(ts: pd.Timestamp) -> pd.Timestamp:
    if ts.tzinfo is None:
        raise ValueError(f"timestamp {ts} must be timezone-aware; naive times are ambiguous across DST")
    return ts.tz_convert("UTC").as_unit("us")


def exchange_date(ts: pd.Timestamp) -> dt.date:
    """The New York calendar date of an instant, which is what names a session."""
    return _require_aware(ts).tz_convert(EXCHANGE_TZ).date()


def session_bounds(day: dt.date) -> tuple[pd.Timestamp, pd.Timestamp] | None:
    """UTC open and close of `day`'s session, or None when the exchange is closed all day."""
    if not is_session_day(day):
        return None
    return _utc(day, SESSION_OPEN), _utc(day, SESSION_CLOSE)


def is_market_open(ts: pd.Timestamp) -> bool:
    utc = _require_aware(ts)
    bounds = session_bounds(exchange_date(utc))
    return bounds is not None and bounds[0] <= utc < bounds[1]


@lru_cache(maxsize=4096)
def session_minutes(day: dt.date) -> pd.DatetimeIndex:
    """Start times of the session's 1-minute bars; empty on a closed day."""
    bounds = session_bounds(day)
    if bounds is None:
        return pd.DatetimeIndex([], dtype="datetime64[us, UTC]")
    return pd.date_range(bounds[0], periods=SESSION_LENGTH_MINUTES, freq=_ONE_MINUTE, unit="us")


def market_minutes(start: pd.Timestamp, end: pd.Timestamp) -> pd.DatetimeIndex:
    """Bar start times in [start, end) across however many sessions the range spans."""
    lo, hi = _require_aware(start), _require_aware(end)
    empty = pd.DatetimeIndex([], dtype="datetime64[us, UTC]")
    if hi <= lo:
        return empty
    first, last = exchange_date(lo), exchange_date(hi)
    days = (first + dt.timedelta(days=i) for i in range((last - first).days + 1))
    parts = [m for m in (session_minutes(d) for d in days) if len(m)]
    if not parts:
        return empty
    minutes = parts[0].append(parts[1:]) if len(parts) > 1 else parts[0]
    return pd.DatetimeIndex(minutes[minutes.searchsorted(lo) : minutes.searchsorted(hi)])


def previous_sessions(day: dt.date, n: int) -> list[dt.date]:
    """The `n` sessions strictly before `day`, oldest first, for trailing lookbacks."""
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    found: list[dt.date] = []
    cursor = day
    while len(found) < n:
        cursor -= dt.timedelta(days=1)
        if is_session_day(cursor):
            found.append(cursor)
    return found[::-1]
