from __future__ import annotations

import itertools
import math
import statistics

import numpy as np
import pandas as pd
import pytest

from torghut_assets.domain.indicators import compute_signals
from torghut_assets.domain.signal_frame import SIGNAL_COLUMNS, SIGNAL_SCHEMA

# Thirty minutes of a stock drifting up from the open, pulling back, then recovering.
CLOSES = [
    245.10, 245.32, 245.18, 245.55, 245.71, 245.60, 245.94, 246.12, 246.05, 245.88,
    245.70, 245.52, 245.61, 245.40, 245.22, 245.35, 245.58, 245.80, 245.76, 246.02,
    246.31, 246.25, 246.48, 246.70, 246.62, 246.55, 246.81, 247.02, 246.90, 247.15,
]  # fmt: skip


def make_bars(
    symbol: str, open_utc: str, closes: list[float], first_open: float | None = None
) -> pd.DataFrame:
    closes_arr = np.array(closes)
    opens = np.r_[first_open if first_open is not None else closes_arr[0] - 0.05, closes_arr[:-1]]
    high = np.maximum(opens, closes_arr) + 0.04
    low = np.minimum(opens, closes_arr) - 0.03
    return pd.DataFrame(
        {
            "symbol": symbol,
            "ts": pd.date_range(pd.Timestamp(open_utc, tz="UTC"), periods=len(closes), freq="min", unit="us"),
            "open": opens,
            "high": high,
            "low": low,
            "close": closes_arr,
            "volume": np.arange(len(closes), dtype=np.int64) * 1_000 + 120_000,
            "vwap": (high + low + closes_arr) / 3.0,
            "spread_bps": 0.8,
        }
    )


def ema(values: list[float], span: int) -> list[float]:
    alpha = 2.0 / (span + 1.0)
    out = [values[0]]
    for value in values[1:]:
        out.append(alpha * value + (1.0 - alpha) * out[-1])
    return out


def wilder_rsi(closes: list[float], period: int = 14) -> list[float]:
    changes = [b - a for a, b in itertools.pairwise(closes)]
    gains = [max(c, 0.0) for c in changes]
    losses = [max(-c, 0.0) for c in changes]
    avg_gain, avg_loss = sum(gains[:period]) / period, sum(losses[:period]) / period
    out = [math.nan] * period + [100.0 - 100.0 / (1.0 + avg_gain / avg_loss)]
    for gain, loss in zip(gains[period:], losses[period:], strict=True):
        avg_gain = (avg_gain * (period - 1) + gain) / period
        avg_loss = (avg_loss * (period - 1) + loss) / period
        out.append(100.0 - 100.0 / (1.0 + avg_gain / avg_loss))
    return out


@pytest.fixture
def signals() -> pd.DataFrame:
    return compute_signals(make_bars("AAPL", "2026-02-24 14:30", CLOSES), source="unit-test")


def test_ema12_and_ema26_match_the_textbook_recursion(signals: pd.DataFrame) -> None:
    np.testing.assert_allclose(signals["ema12"], ema(CLOSES, 12), rtol=1e-12)
    np.testing.assert_allclose(signals["ema26"], ema(CLOSES, 26), rtol=1e-12)


def test_macd_signal_is_the_ema9_of_ema12_minus_ema26(signals: pd.DataFrame) -> None:
    macd = [a - b for a, b in zip(ema(CLOSES, 12), ema(CLOSES, 26), strict=True)]
    macd_signal = ema(macd, 9)
    np.testing.assert_allclose(signals["macd"], macd, atol=1e-9)
    np.testing.assert_allclose(signals["macd_signal"], macd_signal, atol=1e-9)
    np.testing.assert_allclose(signals["macd_hist"], np.subtract(macd, macd_signal), atol=1e-9)


def test_rsi14_uses_wilder_smoothing_seeded_by_the_first_14_changes(signals: pd.DataFrame) -> None:
    expected = wilder_rsi(CLOSES)
    assert signals["rsi14"].iloc[:14].isna().all()
    np.testing.assert_allclose(signals["rsi14"].iloc[14:], expected[14:], rtol=1e-10)


def test_bollinger_bands_are_two_population_deviations_around_the_20_bar_mean(signals: pd.DataFrame) -> None:
    window = CLOSES[-20:]
    mid, sd = statistics.fmean(window), statistics.pstdev(window)
    assert signals["boll_mid"].iloc[:19].isna().all()
    assert signals["boll_mid"].iloc[-1] == pytest.approx(mid, rel=1e-12)
    assert signals["boll_upper"].iloc[-1] == pytest.approx(mid + 2 * sd, rel=1e-12)
    assert signals["boll_lower"].iloc[-1] == pytest.approx(mid - 2 * sd, rel=1e-12)


def test_session_vwap_is_the_volume_weighted_bar_vwap_since_the_open() -> None:
    bars = make_bars("AAPL", "2026-02-24 14:30", CLOSES)
    signals = compute_signals(bars, source="unit-test")
    expected = (bars["vwap"] * bars["volume"]).cumsum() / bars["volume"].cumsum()
    np.testing.assert_allclose(signals["vwap_session"], expected, rtol=1e-12)


def test_indicators_restart_at_each_session_open() -> None:
    monday = make_bars("AAPL", "2026-02-23 14:30", [c - 3.0 for c in CLOSES])
    tuesday = make_bars("AAPL", "2026-02-24 14:30", CLOSES, first_open=244.90)
    both = compute_signals(pd.concat([monday, tuesday], ignore_index=True), source="unit-test")
    alone = compute_signals(tuesday, source="unit-test")
    second_session = both[both["event_ts"] > pd.Timestamp("2026-02-24", tz="UTC")].reset_index(drop=True)
    pd.testing.assert_frame_equal(second_session, alone)
    assert second_session["seq"].tolist() == list(range(len(CLOSES)))


def test_symbols_are_computed_independently_of_each_other() -> None:
    aapl = make_bars("AAPL", "2026-02-24 14:30", CLOSES)
    msft = make_bars("MSFT", "2026-02-24 14:30", [c * 1.67 for c in CLOSES[::-1]])
    together = compute_signals(pd.concat([msft, aapl], ignore_index=True), source="unit-test")
    aapl_only = together[together["symbol"] == "AAPL"].reset_index(drop=True)
    pd.testing.assert_frame_equal(aapl_only, compute_signals(aapl, source="unit-test"))


def test_output_validates_against_the_signal_schema(signals: pd.DataFrame) -> None:
    assert list(signals.columns) == list(SIGNAL_COLUMNS)
    SIGNAL_SCHEMA.validate(signals)


def test_event_time_is_the_bar_close_and_seq_the_minutes_since_the_open(signals: pd.DataFrame) -> None:
    bar_starts = make_bars("AAPL", "2026-02-24 14:30", CLOSES)["ts"]
    pd.testing.assert_series_equal(
        signals["event_ts"], bar_starts + pd.Timedelta(minutes=1), check_names=False
    )
    assert signals["seq"].tolist() == list(range(len(CLOSES)))


def test_ingest_time_is_bar_close_plus_the_given_latency() -> None:
    bars = make_bars("AAPL", "2026-02-24 14:30", CLOSES)
    latency = pd.Series(np.linspace(50, 900, len(bars)).round().astype(np.int64), index=bars.index)
    signals = compute_signals(bars, source="unit-test", ingest_latency_ms=latency)
    lag_ms = (signals["ingest_ts"] - signals["event_ts"]).dt.total_seconds() * 1000
    np.testing.assert_allclose(lag_ms, latency.to_numpy())


def test_quote_side_sizes_lean_to_the_bid_after_an_up_bar(signals: pd.DataFrame) -> None:
    up = signals["close"].diff() > 0
    assert (signals.loc[up, "imbalance_bid_sz"] > signals.loc[up, "imbalance_ask_sz"]).all()
    assert (signals["imbalance_bid_px"] < signals["close"]).all()
    assert (signals["imbalance_ask_px"] > signals["close"]).all()


def test_empty_bars_give_an_empty_valid_frame() -> None:
    empty = make_bars("AAPL", "2026-02-24 14:30", CLOSES).iloc[:0]
    result = compute_signals(empty, source="unit-test")
    assert result.empty
    SIGNAL_SCHEMA.validate(result)


def test_bars_on_a_closed_day_are_rejected() -> None:
    with pytest.raises(ValueError, match="not a trading session"):
        compute_signals(make_bars("AAPL", "2026-02-28 14:30", CLOSES), source="unit-test")
