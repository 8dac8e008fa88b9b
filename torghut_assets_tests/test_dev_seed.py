"""Which windows `dev-seed` materializes: never a weekend hour, and a contiguous run of market hours."""

import pandas as pd

from torghut_assets.dev_seed import earlier_market_windows, recent_windows
from torghut_assets.domain.window_hours import is_window_hour

SUNDAY_MORNING = pd.Timestamp("2026-12-06 04:10", tz="UTC")
FIRST = pd.Timestamp("2026-01-05", tz="UTC")


def _utc(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


def test_a_seed_on_a_sunday_chooses_no_weekend_hour() -> None:
    chosen = recent_windows(SUNDAY_MORNING, windows=2, market_windows=3)
    assert all(is_window_hour(start) for start in chosen)
    assert chosen == [
        _utc("2026-12-04 18:00"),
        _utc("2026-12-04 19:00"),
        _utc("2026-12-04 20:00"),
        _utc("2026-12-04 23:00"),
        _utc("2026-12-05 00:00"),
    ]


def test_earlier_market_windows_walk_back_over_the_weekend_to_fridays_session() -> None:
    monday_open = _utc("2026-12-07 14:00")
    walked = list(zip(range(3), earlier_market_windows(monday_open, FIRST), strict=False))
    assert [start for _, start in walked] == [
        _utc("2026-12-04 20:00"),
        _utc("2026-12-04 19:00"),
        _utc("2026-12-04 18:00"),
    ]
