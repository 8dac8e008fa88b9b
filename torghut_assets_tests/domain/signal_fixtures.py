"""Small, realistic `ta_signals` frames for domain tests, independent of the market simulator."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from torghut_assets.domain.signal_frame import INDICATOR_COLUMNS, PRICE_COLUMNS, SIGNAL_COLUMNS, UTC_TS

MARKET_TZ = "America/New_York"
DEFAULT_DAYS = ("2026-02-23", "2026-02-24")
DEFAULT_SYMBOLS = ("AAPL", "MSFT", "NVDA")
_START_PRICES = {"AAPL": 230.0, "MSFT": 410.0, "NVDA": 130.0, "AMZN": 215.0, "META": 690.0, "TSLA": 340.0}


def session_bar_times(day: str, minutes: int = 390) -> pd.DatetimeIndex:
    """Bar close times of the first `minutes` regular-session bars (09:31 ... 16:00 ET) of `day`, in UTC."""
    open_ = pd.Timestamp(f"{day} 09:30", tz=MARKET_TZ)
    local = open_ + pd.to_timedelta(np.arange(1, minutes + 1), unit="min")
    return pd.DatetimeIndex(local).tz_convert("UTC").as_unit("us")


def _finish(frame: pd.DataFrame) -> pd.DataFrame:
    """Fill bookkeeping columns and dtypes so the frame satisfies SIGNAL_SCHEMA."""
    frame["event_ts"] = pd.Series(
        pd.DatetimeIndex(frame["event_ts"]).as_unit("us"), index=frame.index
    ).astype(UTC_TS)
    frame["ingest_ts"] = frame["event_ts"] + pd.Timedelta(seconds=1)
    for col, value in (("seq", 0), ("is_final", 1), ("version", 1)):
        if col not in frame.columns:
            frame[col] = value
        frame[col] = frame[col].astype("int64")
    frame["source"] = "fixture"
    frame["window_size"] = "1Min"
    for col in SIGNAL_COLUMNS:
        if col not in frame.columns:
            frame[col] = np.nan
    frame["volume"] = frame["volume"].astype("int64")
    for col in ("imbalance_bid_sz", "imbalance_ask_sz"):
        frame[col] = pd.to_numeric(frame[col]).astype("float64").astype("Int64")
    for col in (*PRICE_COLUMNS, *INDICATOR_COLUMNS):
        frame[col] = frame[col].astype("float64")
    frame["symbol"] = frame["symbol"].astype(str)
    return frame[list(SIGNAL_COLUMNS)].reset_index(drop=True)


def _indicators(frame: pd.DataFrame) -> pd.DataFrame:
    """Textbook indicators per symbol, continuous across sessions like a live feed."""
    by = frame.groupby("symbol", sort=False)["close"]
    ema12 = by.transform(lambda s: s.ewm(span=12, adjust=False, min_periods=12).mean())
    ema26 = by.transform(lambda s: s.ewm(span=26, adjust=False, min_periods=26).mean())
    frame["ema12"], frame["ema26"] = ema12, ema26
    frame["macd"] = ema12 - ema26
    frame["macd_signal"] = frame.groupby("symbol", sort=False)["macd"].transform(
        lambda s: s.ewm(span=9, adjust=False, min_periods=9).mean()
    )
    frame["macd_hist"] = frame["macd"] - frame["macd_signal"]
    delta = by.diff()
    gain = delta.clip(lower=0.0).groupby(frame["symbol"], sort=False)
    loss = (-delta).clip(lower=0.0).groupby(frame["symbol"], sort=False)
    avg_gain = gain.transform(lambda s: s.ewm(alpha=1 / 14, adjust=False, min_periods=14).mean())
    avg_loss = loss.transform(lambda s: s.ewm(alpha=1 / 14, adjust=False, min_periods=14).mean())
    frame["rsi14"] = 100.0 - 100.0 / (1.0 + avg_gain / avg_loss.replace(0.0, np.nan))
    mid = by.transform(lambda s: s.rolling(20, min_periods=20).mean())
    std = by.transform(lambda s: s.rolling(20, min_periods=20).std(ddof=0))
    frame["boll_mid"], frame["boll_upper"], frame["boll_lower"] = mid, mid + 2 * std, mid - 2 * std
    pv = frame["close"] * frame["volume"]
    day = pd.DatetimeIndex(frame["event_ts"]).tz_convert(MARKET_TZ).date
    keys = [frame["symbol"], pd.Series(day, index=frame.index)]
    frame["vwap_session"] = pv.groupby(keys).cumsum() / frame["volume"].groupby(keys).cumsum()
    frame["vwap_w5m"] = by.transform(lambda s: s.rolling(5, min_periods=1).mean())
    log_ret = np.log(frame["close"]).groupby(frame["symbol"], sort=False).diff()
    frame["vol_realized_w60s"] = log_ret.abs()
    return frame


def make_signals(
    symbols: Sequence[str] = DEFAULT_SYMBOLS,
    days: Sequence[str] = DEFAULT_DAYS,
    minutes: int = 240,
    seed: int = 7,
    vol_bps: float = 8.0,
    drift_bps: float = 0.0,
    spread_bps: float = 4.0,
) -> pd.DataFrame:
    """Geometric random walk per symbol over `minutes` bars of each day, with indicators and quotes."""
    rng = np.random.default_rng(seed)
    parts = []
    for i, symbol in enumerate(symbols):
        times = session_bar_times(days[0], minutes).append([session_bar_times(d, minutes) for d in days[1:]])
        n = len(times)
        shocks = rng.normal(drift_bps / 1e4, vol_bps / 1e4, n)
        close = _START_PRICES.get(symbol, 50.0 + 25.0 * i) * np.exp(np.cumsum(shocks))
        volume = rng.integers(2_000, 30_000, n)
        spread = close * rng.uniform(0.5, 1.5, n) * spread_bps / 1e4
        parts.append(
            pd.DataFrame(
                {
                    "symbol": symbol,
                    "event_ts": times,
                    "price": close,
                    "close": close,
                    "vwap": close * (1 + rng.normal(0, 1e-4, n)),
                    "volume": volume,
                    "imbalance_spread": spread,
                    "imbalance_bid_px": close - spread / 2,
                    "imbalance_ask_px": close + spread / 2,
                    "imbalance_bid_sz": rng.integers(1, 50, n) * 100,
                    "imbalance_ask_sz": rng.integers(1, 50, n) * 100,
                }
            )
        )
    frame = pd.concat(parts, ignore_index=True)
    return _finish(_indicators(frame))


def tiny_frame(
    prices: Sequence[float],
    *,
    symbol: str = "AAPL",
    day: str = "2026-02-23",
    volume: int | Sequence[int] = 100_000,
    spread: float | Sequence[float] = 0.0,
    **indicators: Sequence[float] | float,
) -> pd.DataFrame:
    """One symbol, one session, consecutive minutes from 09:31 ET, every value given explicitly."""
    n = len(prices)
    data: dict[str, object] = {
        "symbol": symbol,
        "event_ts": session_bar_times(day, n),
        "price": list(prices),
        "close": list(prices),
        "vwap": list(prices),
        "volume": volume if not isinstance(volume, int) else [volume] * n,
        "imbalance_spread": spread,
    }
    data.update(indicators)
    return _finish(pd.DataFrame(data))


def concat_frames(*frames: pd.DataFrame) -> pd.DataFrame:
    return pd.concat(frames, ignore_index=True)
