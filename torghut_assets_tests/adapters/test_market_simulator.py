from __future__ import annotations

import datetime as dt
from functools import lru_cache

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from torghut_assets.adapters.market_simulator import (
    BAR_FRAME_COLUMNS,
    DEFAULT_UNIVERSE,
    REGIMES,
    MarketSimulator,
    UnknownSymbolError,
)
from torghut_assets.domain.market_calendar import EXCHANGE_TZ, previous_sessions, session_bounds
from torghut_assets.domain.signal_frame import SIGNAL_COLUMNS, SIGNAL_SCHEMA

SIM = MarketSimulator()
SESSION_DAY = dt.date(2026, 2, 24)
MINUTE = pd.Timedelta(minutes=1)
# Monday 2026-02-23 13:00 UTC to Wednesday 13:00 UTC: two sessions and the night between.
SPAN_START = pd.Timestamp("2026-02-23 13:00", tz="UTC")
SPAN_MINUTES = 48 * 60


def utc(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


def whole_session(day: dt.date) -> tuple[pd.Timestamp, pd.Timestamp]:
    bounds = session_bounds(day)
    assert bounds is not None
    return bounds[0], bounds[1] + MINUTE


@lru_cache(maxsize=1)
def span_bars() -> pd.DataFrame:
    return SIM.bars(SPAN_START, SPAN_START + SPAN_MINUTES * MINUTE)


@lru_cache(maxsize=1)
def span_signals() -> pd.DataFrame:
    return SIM.signals(SPAN_START, SPAN_START + SPAN_MINUTES * MINUTE)


@lru_cache(maxsize=1)
def twenty_sessions() -> pd.DataFrame:
    days = previous_sessions(SESSION_DAY, 20)
    bars = SIM.bars(whole_session(days[0])[0], whole_session(days[-1])[1])
    return bars.assign(day=bars["ts"].dt.tz_convert(EXCHANGE_TZ).dt.date)


def between(frame: pd.DataFrame, column: str, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
    return frame[(frame[column] >= start) & (frame[column] < end)].reset_index(drop=True)


def test_same_seed_regenerates_identical_bars_and_signals() -> None:
    start, end = utc("2026-02-24 16:00"), utc("2026-02-24 17:00")
    other = MarketSimulator(seed=SIM.seed)
    pd.testing.assert_frame_equal(SIM.bars(start, end), other.bars(start, end), check_exact=True)
    pd.testing.assert_frame_equal(SIM.signals(start, end), other.signals(start, end), check_exact=True)


def test_different_seed_gives_a_different_market() -> None:
    start, end = utc("2026-02-24 16:00"), utc("2026-02-24 17:00")
    ours, theirs = SIM.bars(start, end), MarketSimulator(seed=7).bars(start, end)
    assert not np.array_equal(ours["close"].to_numpy(), theirs["close"].to_numpy())


@pytest.mark.parametrize("hour", [14, 17, 20])
def test_hourly_window_equals_the_slice_of_a_whole_session(hour: int) -> None:
    session_start, session_end = whole_session(SESSION_DAY)
    start = pd.Timestamp(dt.datetime(2026, 2, 24, hour), tz="UTC")
    end = start + pd.Timedelta(hours=1)
    pd.testing.assert_frame_equal(
        SIM.bars(start, end),
        between(SIM.bars(session_start, session_end), "ts", start, end),
        check_exact=True,
    )
    pd.testing.assert_frame_equal(
        SIM.signals(start, end),
        between(SIM.signals(session_start, session_end), "event_ts", start, end),
        check_exact=True,
    )


@given(
    offset=st.integers(min_value=0, max_value=SPAN_MINUTES - 1),
    length=st.integers(min_value=1, max_value=6 * 60),
)
@settings(max_examples=25, deadline=None)
def test_any_sub_window_equals_the_slice_of_a_larger_window(offset: int, length: int) -> None:
    start = SPAN_START + offset * MINUTE
    end = min(start + length * MINUTE, SPAN_START + SPAN_MINUTES * MINUTE)
    pd.testing.assert_frame_equal(
        SIM.bars(start, end), between(span_bars(), "ts", start, end), check_exact=True
    )
    pd.testing.assert_frame_equal(
        SIM.signals(start, end), between(span_signals(), "event_ts", start, end), check_exact=True
    )


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (utc("2026-02-28 14:00"), utc("2026-02-28 15:00")),  # Saturday
        (utc("2026-02-24 03:00"), utc("2026-02-24 04:00")),  # a weekday night
        (utc("2026-04-03 15:00"), utc("2026-04-03 16:00")),  # Good Friday
    ],
)
def test_closed_market_windows_are_empty_with_the_right_columns(
    start: pd.Timestamp, end: pd.Timestamp
) -> None:
    bars, signals = SIM.bars(start, end), SIM.signals(start, end)
    assert bars.empty and list(bars.columns) == list(BAR_FRAME_COLUMNS)
    assert str(bars["ts"].dtype) == "datetime64[us, UTC]"
    assert signals.empty and list(signals.columns) == list(SIGNAL_COLUMNS)
    SIGNAL_SCHEMA.validate(signals)


def test_bars_only_print_during_the_regular_session() -> None:
    local = span_bars()["ts"].dt.tz_convert(EXCHANGE_TZ)
    minute_of_day = local.dt.hour * 60 + local.dt.minute
    assert minute_of_day.between(9 * 60 + 30, 16 * 60 - 1).all()
    assert set(local.dt.date) == {dt.date(2026, 2, 23), dt.date(2026, 2, 24)}


def test_bars_have_consistent_ohlc_volume_vwap_and_spread() -> None:
    bars = twenty_sessions()
    body_top = np.maximum(bars["open"], bars["close"])
    body_bottom = np.minimum(bars["open"], bars["close"])
    assert (bars["low"] > 0).all()
    assert (bars["high"] >= body_top).all() and (bars["low"] <= body_bottom).all()
    assert bars["vwap"].between(bars["low"], bars["high"]).all()
    assert (bars["volume"] > 0).all() and bars["volume"].dtype == np.int64
    assert (bars["spread_bps"] > 0).all()
    prices = bars[["open", "high", "low", "close", "vwap"]].to_numpy()
    np.testing.assert_array_equal(prices, np.round(prices, 4))


def test_bars_are_sorted_by_time_then_symbol() -> None:
    bars = span_bars()
    assert bars.equals(bars.sort_values(["ts", "symbol"]).reset_index(drop=True))
    assert set(bars["symbol"]) == set(DEFAULT_UNIVERSE)


def test_some_sessions_have_a_halt_of_5_to_20_contiguous_minutes() -> None:
    counts = twenty_sessions().groupby(["symbol", "day"]).size()
    halted = counts[counts < 390]
    assert len(halted) > 0
    assert halted.between(390 - 20, 390 - 5).all()
    symbol, day = halted.index[0]
    bars = twenty_sessions()
    minutes = bars[(bars["symbol"] == symbol) & (bars["day"] == day)]["ts"]
    gaps = minutes.diff().dropna()
    assert (gaps > MINUTE).sum() == 1


def test_every_regime_appears_across_sixty_sessions() -> None:
    days = previous_sessions(SESSION_DAY, 60)
    seen = {SIM.regime(symbol, day) for symbol in DEFAULT_UNIVERSE for day in days}
    assert seen == set(REGIMES)


def test_sessions_open_with_an_overnight_gap() -> None:
    daily = twenty_sessions().groupby(["symbol", "day"]).agg(first=("open", "first"), last=("close", "last"))
    gap = (daily["first"] / daily.groupby(level="symbol")["last"].shift() - 1.0).dropna()
    assert (gap != 0).mean() > 0.95
    assert (gap.abs() > 0.005).any()


def test_volume_is_heavier_at_the_open_and_close_than_at_midday() -> None:
    bars = twenty_sessions()
    local = bars["ts"].dt.tz_convert(EXCHANGE_TZ)
    minute = local.dt.hour * 60 + local.dt.minute - (9 * 60 + 30)
    open_, midday, close = (
        bars.loc[mask, "volume"].mean() for mask in (minute < 15, minute.between(180, 240), minute >= 375)
    )
    assert open_ > 1.5 * midday and close > 1.5 * midday


def test_signals_are_stamped_at_bar_close_and_ingested_50_to_900_ms_later() -> None:
    start, end = utc("2026-02-24 15:00"), utc("2026-02-24 16:00")
    signals, bars = SIM.signals(start, end), SIM.bars(start - MINUTE, end - MINUTE)
    pd.testing.assert_series_equal(signals["event_ts"], bars["ts"] + MINUTE, check_names=False)
    lag = signals["ingest_ts"] - signals["event_ts"]
    assert lag.between(pd.Timedelta(milliseconds=50), pd.Timedelta(milliseconds=900)).all()
    assert (signals["source"] == "torghut-simulator").all() and (signals["window_size"] == "PT1M").all()


def test_newest_signal_is_the_last_bar_close_at_or_before_now() -> None:
    assert SIM.newest_signal_ts(utc("2026-02-24 15:07:42")) == utc("2026-02-24 15:07")
    assert SIM.newest_signal_ts(utc("2026-02-28 12:00")) == utc("2026-02-27 21:00")
    assert SIM.newest_signal_ts(utc("2026-03-02 14:30:30")) == utc("2026-02-27 21:00")


def test_unknown_symbol_raises_naming_the_symbol() -> None:
    with pytest.raises(UnknownSymbolError, match="ZZZZ"):
        SIM.bars(utc("2026-02-24 15:00"), utc("2026-02-24 16:00"), symbols=["AAPL", "ZZZZ"])
    with pytest.raises(UnknownSymbolError, match="ZZZZ"):
        SIM.reference_price("ZZZZ")
    with pytest.raises(UnknownSymbolError, match="ZZZZ"):
        MarketSimulator(universe=("AAPL", "ZZZZ"))


def test_symbol_subset_equals_the_same_rows_of_the_full_universe() -> None:
    start, end = utc("2026-02-24 15:00"), utc("2026-02-24 16:00")
    subset = SIM.signals(start, end, symbols=["NVDA", "SPY"])
    full = SIM.signals(start, end)
    pd.testing.assert_frame_equal(subset, full[full["symbol"].isin(["NVDA", "SPY"])].reset_index(drop=True))
