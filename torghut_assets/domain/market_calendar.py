"""When US equities trade, so windows with no session are known to be legitimately empty.

Regular session only (09:30 America/New_York to the close; no pre- or post-market). The data comes
from the maintained `exchange_calendars` library, calendar XNYS: every NYSE full-day holiday in every
year (rule-based: New Year's Day unless it falls on a Saturday, MLK Day, Washington's Birthday, Good
Friday, Memorial Day, Juneteenth, Independence Day, Labor Day, Thanksgiving, Christmas, each moved to
the Friday before / Monday after a weekend), the ad hoc closures (e.g. 2025-01-09, national day of
mourning), and the early closes at 13:00 ET (the day before Independence Day, the day after
Thanksgiving, Christmas Eve). On an early-close day `session_bounds` returns the 13:00 close, so
everything keyed to the close moves with it: the bars that exist, the lane's entry block and
flatten time (`domain.decisions.plan_session_decisions`), whether an hourly window is "market open".

Why the domain may import it: `exchange_calendars` is a pure, deterministic, offline data library
(holiday rules and dates in code, no I/O, no network, no clock read once `start`/`end` are given), so
it keeps the domain replayable; see `torghut_assets_tests/test_architecture.py` and
docs/market-calendar.md. It is imported lazily, the first time a session is looked up, so loading the
code location does not pay for it.

The library is asked once per process for a session table (default years `DEFAULT_YEARS`, about
0.25 s, dominated by the library evaluating its holiday rules); the table is widened (one rebuild) the
first time a date outside it is asked for, up to `SUPPORTED_YEARS`, beyond which lookups raise. Lookups
are then plain numpy indexing: O(1) per date through a dense day-number index, vectorised for arrays
(`session_opens_closes`), searchsorted for ranges (`market_minutes`, `previous_sessions`).
"""

from __future__ import annotations

import datetime as dt
import threading
import warnings
from dataclasses import dataclass
from functools import lru_cache
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt
import pandas as pd

from torghut_assets.domain.lanes import LaneWindow

EXCHANGE_TZ = ZoneInfo("America/New_York")
CALENDAR_NAME = "XNYS"
SESSION_OPEN = dt.time(9, 30)
SESSION_CLOSE = dt.time(16, 0)
EARLY_CLOSE = dt.time(13, 0)
SESSION_LENGTH_MINUTES = 390
"""Length of a regular (full) session; an early-close session has 210 minutes."""

DEFAULT_YEARS: tuple[int, int] = (1990, 2070)
SUPPORTED_YEARS: tuple[int, int] = (1900, 2200)

I64 = npt.NDArray[np.int64]
DayArray = npt.NDArray[np.datetime64]

_MINUTE_US = 60_000_000
_EPOCH_ORDINAL = dt.date(1970, 1, 1).toordinal()
_EMPTY = pd.DatetimeIndex([], dtype="datetime64[us, UTC]")


@dataclass(frozen=True)
class _SessionTable:
    """Every session of whole years `first_year`..`last_year`, sorted; instants as UTC epoch microseconds."""

    first_year: int
    last_year: int
    days: DayArray  # datetime64[D], the New York date naming each session
    opens: I64
    closes: I64
    base: int  # epoch day number of January 1st of first_year
    slot: npt.NDArray[np.int32]  # epoch day - base -> row in days/opens/closes, or -1 when closed

    def covers(self, first_year: int, last_year: int) -> bool:
        return self.first_year <= first_year and last_year <= self.last_year

    def row(self, day: dt.date) -> int:
        return int(self.slot[day.toordinal() - _EPOCH_ORDINAL - self.base])


def _load_xnys(first_year: int, last_year: int) -> _SessionTable:
    import exchange_calendars  # lazy: see the module docstring

    with warnings.catch_warnings():
        # exchange_calendars 4.13 calls Series.values on tz-aware data, deprecated by pandas 3.1.
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", FutureWarning)
        calendar = exchange_calendars.get_calendar(
            CALENDAR_NAME, start=f"{first_year}-01-01", end=f"{last_year}-12-31"
        )
        schedule = calendar.schedule
    if schedule["break_start"].notna().any():  # pragma: no cover - XNYS has no lunch break
        raise RuntimeError(f"{CALENDAR_NAME} schedule has intraday breaks; the calendar does not model them")
    days = np.asarray(schedule.index.to_numpy().astype("datetime64[D]"))
    opens, closes = (
        np.asarray(schedule[c].dt.tz_convert(None).to_numpy().astype("datetime64[us]").astype(np.int64))
        for c in ("open", "close")
    )
    base = int(np.datetime64(f"{first_year}-01-01", "D").astype(np.int64))
    end = int(np.datetime64(f"{last_year + 1}-01-01", "D").astype(np.int64))
    slot = np.full(end - base, -1, dtype=np.int32)
    slot[days.astype(np.int64) - base] = np.arange(len(days), dtype=np.int32)
    return _SessionTable(first_year, last_year, days, opens, closes, base, slot)


_table: _SessionTable | None = None
_table_lock = threading.Lock()


def _table_for(first_year: int, last_year: int) -> _SessionTable:
    """The process-wide session table, built (or widened) on first need."""
    global _table
    table = _table
    if table is not None and table.covers(first_year, last_year):
        return table
    lo, hi = SUPPORTED_YEARS
    if first_year < lo or last_year > hi:
        raise ValueError(f"market calendar covers years {lo}-{hi}; asked for {first_year}-{last_year}")
    with _table_lock:
        table = _table
        if table is None or not table.covers(first_year, last_year):
            start = min(first_year, DEFAULT_YEARS[0] if table is None else table.first_year)
            end = max(last_year, DEFAULT_YEARS[1] if table is None else table.last_year)
            table = _load_xnys(max(start, lo), min(end, hi))
            _table = table
    return table


def _table_at(day: dt.date) -> _SessionTable:
    return _table_for(day.year, day.year)


def is_session_day(day: dt.date) -> bool:
    return session_bounds(day) is not None


def _require_aware(ts: pd.Timestamp) -> pd.Timestamp:
    if ts.tzinfo is None:
        raise ValueError(f"timestamp {ts} must be timezone-aware; naive times are ambiguous across DST")
    return ts.tz_convert("UTC").as_unit("us")


def exchange_date(ts: pd.Timestamp) -> dt.date:
    """The New York calendar date of an instant, which is what names a session."""
    return _require_aware(ts).tz_convert(EXCHANGE_TZ).date()


def _utc(us: int) -> pd.Timestamp:
    return pd.Timestamp(us, unit="us", tz="UTC").as_unit("us")


@lru_cache(maxsize=16384)
def session_bounds(day: dt.date) -> tuple[pd.Timestamp, pd.Timestamp] | None:
    """UTC open and close of `day`'s session (the 13:00 ET close on an early-close day), or None when
    the exchange is closed all day."""
    table = _table_at(day)
    row = table.row(day)
    if row < 0:
        return None
    return _utc(int(table.opens[row])), _utc(int(table.closes[row]))


def is_early_close(day: dt.date) -> bool:
    """Whether `day` is a session that closes before the regular 16:00 ET."""
    bounds = session_bounds(day)
    return bounds is not None and bounds[1].tz_convert(EXCHANGE_TZ).time() < SESSION_CLOSE


def session_length_minutes(day: dt.date) -> int:
    """Minutes in `day`'s session: 390 for a regular one, 210 for an early close, 0 when closed."""
    bounds = session_bounds(day)
    return 0 if bounds is None else int((bounds[1] - bounds[0]) // pd.Timedelta(minutes=1))


def session_opens_closes(days: npt.ArrayLike) -> tuple[DayArray, DayArray]:
    """Vectorised `session_bounds`: UTC open and close (naive datetime64[us]) of each New York date,
    NaT where the exchange is closed. Any shape; values convertible to datetime64[D]."""
    day = np.asarray(days, dtype="datetime64[D]")
    opens = np.full(day.shape, np.datetime64("NaT"), dtype="datetime64[us]")
    closes = opens.copy()
    if day.size == 0:
        return opens, closes
    valid = ~np.isnat(day)
    if not valid.any():
        return opens, closes
    years = day[valid].astype("datetime64[Y]").astype(np.int64) + 1970
    table = _table_for(int(years.min()), int(years.max()))
    rows = np.full(day.shape, -1, dtype=np.int64)
    rows[valid] = table.slot[day[valid].astype(np.int64) - table.base]
    open_session = rows >= 0
    opens[open_session] = table.opens[rows[open_session]].view("datetime64[us]")
    closes[open_session] = table.closes[rows[open_session]].view("datetime64[us]")
    return opens, closes


def is_market_open(ts: pd.Timestamp) -> bool:
    utc = _require_aware(ts)
    table = _table_for(utc.year, utc.year)
    us = utc.value // 1000
    row = int(np.searchsorted(table.closes, us, side="right"))  # the first session still to close
    return row < len(table.closes) and int(table.opens[row]) <= us


def _minute_starts(opens: I64, closes: I64) -> I64:
    """Start instants (epoch µs) of every 1-minute bar of the given sessions, in order."""
    lengths = (closes - opens) // _MINUTE_US
    total = int(lengths.sum())
    first_of_session = np.repeat(np.cumsum(lengths) - lengths, lengths)
    offset = np.arange(total, dtype=np.int64) - first_of_session
    return np.asarray(np.repeat(opens, lengths) + offset * _MINUTE_US, dtype=np.int64)


def _index(us: I64) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(us.view("datetime64[us]"), dtype="datetime64[us, UTC]")


@lru_cache(maxsize=4096)
def session_minutes(day: dt.date) -> pd.DatetimeIndex:
    """Start times of the session's 1-minute bars (210 on an early close); empty on a closed day."""
    table = _table_at(day)
    row = table.row(day)
    if row < 0:
        return _EMPTY
    return _index(_minute_starts(table.opens[row : row + 1], table.closes[row : row + 1]))


def market_minutes(start: pd.Timestamp, end: pd.Timestamp) -> pd.DatetimeIndex:
    """Bar start times in [start, end) across however many sessions the range spans."""
    lo, hi = _require_aware(start), _require_aware(end)
    if hi <= lo:
        return _EMPTY
    # Sessions never span UTC midnight (13:30-21:00 UTC), so the UTC years of the range suffice.
    table = _table_for(lo.year, hi.year)
    lo_us, hi_us = lo.value // 1000, hi.value // 1000  # both are already whole microseconds
    first = int(np.searchsorted(table.closes, lo_us, side="right"))
    last = int(np.searchsorted(table.opens, hi_us, side="left"))
    if last <= first:
        return _EMPTY
    if last == first + 1:  # the common case, an hourly window: slice the cached session index
        session = session_minutes(table.days[first].item())
        us = session.asi8
        return session[np.searchsorted(us, lo_us) : np.searchsorted(us, hi_us)]
    minutes = _minute_starts(table.opens[first:last], table.closes[first:last])
    return _index(minutes[np.searchsorted(minutes, lo_us) : np.searchsorted(minutes, hi_us)])


def previous_sessions(day: dt.date, n: int) -> list[dt.date]:
    """The `n` sessions strictly before `day`, oldest first, for trailing lookbacks."""
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    if n == 0:
        return []
    years_back = n // 240 + 1  # NYSE has at least 240 sessions a year
    table = _table_for(day.year - years_back, day.year)
    end = int(np.searchsorted(table.days, np.datetime64(day, "D"), side="left"))
    if end < n:  # pragma: no cover - only before SUPPORTED_YEARS[0]
        raise ValueError(f"fewer than {n} sessions before {day} in the supported calendar range")
    sessions: list[dt.date] = table.days[end - n : end].tolist()
    return sessions


def last_session_close(ts: pd.Timestamp) -> pd.Timestamp | None:
    """The close of the latest session that closed at or before `ts` (an early close where there was
    one): the instant a healthy stream's newest signal should be near while the market is shut."""
    utc = _require_aware(ts)
    table = _table_for(utc.year - 1, utc.year)
    row = int(np.searchsorted(table.closes, utc.value // 1000, side="right")) - 1
    if row < 0:  # pragma: no cover - only before SUPPORTED_YEARS[0]
        return None
    return _utc(int(table.closes[row]))


def session_bounds_for(window: LaneWindow) -> tuple[pd.Timestamp, pd.Timestamp] | None:
    """The session a lane window trades in (by its New York date), None when the window lies wholly
    outside it (a holiday, a weekend, before the open or after the close)."""
    bounds = session_bounds(window.start.tz_convert("America/New_York").date())
    if bounds is None or bounds[1] <= window.start or bounds[0] >= window.end:
        return None
    return bounds
