"""The simulator prints bars only in XNYS sessions: none on holidays, none after a 13:00 ET early close."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from torghut_assets.adapters.market_simulator import MarketSimulator

SIM = MarketSimulator()


def utc(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


def test_an_early_close_day_has_bars_until_1pm_new_york_only() -> None:
    # 2026-11-27 (day after Thanksgiving, EST): 09:30-13:00 ET = 14:30-18:00 UTC.
    bars = SIM.bars(utc("2026-11-27 00:00"), utc("2026-11-28 00:00"))
    assert bars["ts"].min() == utc("2026-11-27 14:30")
    assert bars["ts"].max() == utc("2026-11-27 17:59")
    assert bars.groupby("symbol")["ts"].nunique().max() == 210
    # A signal is stamped at its bar's close, so the last one (the 12:59 ET bar) is stamped 13:00 ET.
    after = SIM.signals(utc("2026-11-27 18:00"), utc("2026-11-27 19:00"))
    assert set(after["event_ts"]) == {utc("2026-11-27 18:00")}


def test_newest_signal_after_an_early_close_is_the_1pm_bar_close() -> None:
    assert SIM.newest_signal_ts(utc("2026-11-27 17:30:10")) == utc("2026-11-27 17:30")
    assert SIM.newest_signal_ts(utc("2026-11-27 20:00")) == utc("2026-11-27 18:00")
    assert SIM.newest_signal_ts(utc("2026-11-28 15:00")) == utc("2026-11-27 18:00")


def test_holidays_after_2027_print_no_bars() -> None:
    # Thanksgiving 2028, Good Friday 2029, Juneteenth 2030.
    for day in (dt.date(2028, 11, 23), dt.date(2029, 3, 30), dt.date(2030, 6, 19)):
        start = pd.Timestamp(dt.datetime(day.year, day.month, day.day), tz="UTC")
        assert SIM.bars(start, start + pd.Timedelta(days=1)).empty, day
