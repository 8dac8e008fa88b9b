"""Lane windows follow the XNYS session: an early close ends decisions and the open window at 13:00 ET."""

from __future__ import annotations

import pandas as pd

from torghut_assets.defs.lane_window.open_window import trading_window
from torghut_assets.domain.lanes import LaneWindow
from torghut_assets.domain.market_calendar import session_bounds_for


def utc(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


def test_trade_decisions_get_the_early_close_as_the_session_close() -> None:
    # 2026-11-27 closes at 13:00 ET = 18:00 UTC: the 17:00 window carries the close (and so the 12:50 ET
    # entry block and 12:58 ET flatten); the 18:00 window has no session.
    assert session_bounds_for(LaneWindow("macd_rsi", utc("2026-11-27 17:00"))) == (
        utc("2026-11-27 14:30"),
        utc("2026-11-27 18:00"),
    )
    assert session_bounds_for(LaneWindow("macd_rsi", utc("2026-11-27 18:00"))) is None
    assert session_bounds_for(LaneWindow("macd_rsi", utc("2028-11-23 15:00"))) is None  # Thanksgiving 2028


def test_the_open_window_closes_with_the_early_close() -> None:
    last_hour = LaneWindow("macd_rsi", utc("2026-11-27 17:00"))
    assert trading_window("macd_rsi", utc("2026-11-27 17:59:30")) == last_hour
    assert trading_window("macd_rsi", utc("2026-11-27 18:00")) is None
    assert trading_window("macd_rsi", utc("2026-11-27 20:30")) is None
