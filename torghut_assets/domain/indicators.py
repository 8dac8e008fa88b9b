"""Technical-analysis signals from 1-minute bars, in the `ta_signals` shape.

Every indicator restarts at each session's open, per symbol: overnight gaps would otherwise leak
yesterday's close into today's averages, and restarting is what makes a window computed from the
session open equal to the same rows of a whole-session computation.

Warm-up conventions (NaN until enough bars exist, never a biased early value):
- rsi14: Wilder smoothing seeded with the simple mean of the first 14 close-to-close changes, so the
  first value is on the 15th bar of the session (`seq` 14).
- Bollinger 20/2: population standard deviation (ddof=0), first value on the 20th bar.
- vwap_w5m: volume-weighted over the last up-to-5 bars, so it exists from the first bar.
- vol_realized_w60s: sample standard deviation of the last up-to-5 one-bar log returns, expressed as
  a plain fraction per 60 s bar (not annualised); the first bar's return is log(close/open), and the
  value exists from the second bar.
- imbalance sizes: top-of-book depth is not in a bar, so it is derived from the bar: depth is a tenth
  of the bar's volume (at least one round lot) tilted towards the bid when the bar closed up.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from pandas.core.window.rolling import Rolling

from torghut_assets.domain.market_calendar import EXCHANGE_TZ, session_opens_closes
from torghut_assets.domain.signal_frame import SIGNAL_COLUMNS, empty_signal_frame

BAR_COLUMNS: tuple[str, ...] = (
    "symbol",
    "ts",
    "open",
    "high",
    "low",
    "close",
    "volume",
    "vwap",
    "spread_bps",
)
BAR_LENGTH = np.timedelta64(1, "m")
RSI_PERIOD = 14
BOLLINGER_PERIOD = 20
BOLLINGER_WIDTH = 2.0
VWAP_WINDOW = 5
VOL_WINDOW = 5
ROUND_LOT = 100

F64 = npt.NDArray[np.float64]


class _Sessions:
    """Rows laid out as a (bar-in-session, session) matrix so one C pass covers every session.

    Each column is one (symbol, session) with its bars from the open downwards and NaN padding
    after its last bar. Window functions run down the columns, so they restart at every open and a
    column's values never depend on another column or on the padding below it.
    """

    def __init__(self, key: npt.NDArray[np.int64], position: npt.NDArray[np.int64]) -> None:
        self.key, self.position = key, position
        self.shape = (int(position.max()) + 1, int(key.max()) + 1)

    def spread(self, values: npt.ArrayLike) -> F64:
        matrix = np.full(self.shape, np.nan)
        matrix[self.position, self.key] = np.asarray(values, dtype=np.float64)
        return matrix

    def gather(self, matrix: F64 | pd.DataFrame) -> F64:
        return np.asarray(matrix, dtype=np.float64)[self.position, self.key]


def _ewm(matrix: F64, *, span: float | None = None, alpha: float | None = None) -> F64:
    return pd.DataFrame(matrix).ewm(span=span, alpha=alpha, adjust=False).mean().to_numpy()


def _rolling(matrix: F64, window: int, min_periods: int) -> Rolling[pd.DataFrame]:
    return pd.DataFrame(matrix).rolling(window, min_periods=min_periods)


def _session_opens(local_day: npt.NDArray[np.datetime64]) -> npt.NDArray[np.datetime64]:
    opens, _ = session_opens_closes(local_day)
    closed = np.isnat(opens)
    if closed.any():
        raise ValueError(f"bars on {local_day[closed][0]}, which is not a trading session")
    return opens


def _rsi(closes: F64) -> F64:
    delta = np.full_like(closes, np.nan)
    delta[1:] = closes[1:] - closes[:-1]
    moves = np.hstack([np.clip(delta, 0.0, None), np.clip(-delta, 0.0, None)])
    seeded = np.full_like(moves, np.nan)
    if moves.shape[0] > RSI_PERIOD:
        seeded[RSI_PERIOD] = moves[1 : RSI_PERIOD + 1].sum(axis=0) / RSI_PERIOD
        seeded[RSI_PERIOD + 1 :] = moves[RSI_PERIOD + 1 :]
    smoothed = _ewm(seeded, alpha=1.0 / RSI_PERIOD)
    avg_up, avg_down = np.hsplit(smoothed, 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        rsi = 100.0 - 100.0 / (1.0 + avg_up / avg_down)
    rsi = np.where(avg_down == 0, 100.0, rsi)
    return np.where((avg_up == 0) & (avg_down == 0), 50.0, rsi)


def _order_book(
    open_: F64, high: F64, low: F64, close: F64, volume: npt.NDArray[np.int64], spread_bps: F64
) -> dict[str, npt.ArrayLike]:
    half = close * spread_bps / 2e4
    bar_range, move = high - low, close - open_
    tilt = np.divide(move, bar_range, out=np.zeros_like(move), where=bar_range > 0)
    depth = np.maximum(volume // 10, ROUND_LOT)
    return {
        "imbalance_spread": 2.0 * half,
        "imbalance_bid_px": close - half,
        "imbalance_ask_px": close + half,
        "imbalance_bid_sz": np.rint(depth * (1.0 + 0.5 * tilt)).astype(np.int64),
        "imbalance_ask_sz": np.rint(depth * (1.0 - 0.5 * tilt)).astype(np.int64),
    }


def compute_signals(
    bars: pd.DataFrame, *, source: str, ingest_latency_ms: pd.Series | None = None
) -> pd.DataFrame:
    """Bars of any symbols and sessions -> a SIGNAL_SCHEMA frame sorted by (event_ts, symbol).

    `bars` needs BAR_COLUMNS with `ts` the bar start (tz-aware). `ingest_latency_ms`, aligned on
    `bars.index`, says how long after the bar closed each signal was ingested; without it the
    signal is ingested the instant its bar closes.
    """
    missing = [c for c in BAR_COLUMNS if c not in bars.columns]
    if missing:
        raise ValueError(f"bars lack columns {missing}")
    if not isinstance(bars["ts"].dtype, pd.DatetimeTZDtype):
        raise ValueError("bars.ts must be timezone-aware")
    if bars.empty:
        return empty_signal_frame()

    ts_utc = bars["ts"].dt.tz_convert("UTC")
    local_day = ts_utc.dt.tz_convert(EXCHANGE_TZ).dt.tz_localize(None).to_numpy().astype("datetime64[D]")
    codes, _ = pd.factorize(bars["symbol"].astype(str), sort=True)
    ts = ts_utc.dt.tz_localize(None).to_numpy().astype("datetime64[us]")
    by_session = np.lexsort((ts, codes))

    def column(name: str, dtype: type[np.generic] = np.float64) -> npt.NDArray[Any]:
        return bars[name].to_numpy(dtype=dtype)[by_session]

    codes, ts, local_day = codes[by_session], ts[by_session], local_day[by_session]
    session_open = _session_opens(local_day)
    starts = np.r_[True, (codes[1:] != codes[:-1]) | (local_day[1:] != local_day[:-1])]
    key = np.cumsum(starts) - 1
    sessions = _Sessions(key, np.arange(len(key)) - np.flatnonzero(starts)[key])

    open_, high, low, close = column("open"), column("high"), column("low"), column("close")
    vwap, volume = column("vwap"), column("volume", np.int64)
    closes, shares, notional = sessions.spread(close), sessions.spread(volume), sessions.spread(vwap * volume)
    ema12, ema26 = _ewm(closes, span=12), _ewm(closes, span=26)
    macd = ema12 - ema26
    macd_signal = _ewm(macd, span=9)
    boll = _rolling(closes, BOLLINGER_PERIOD, BOLLINGER_PERIOD)
    boll_mid, boll_sd = boll.mean().to_numpy(), boll.std(ddof=0).to_numpy()
    cum_shares, cum_notional = np.nancumsum(shares, axis=0), np.nancumsum(notional, axis=0)
    w5_shares, w5_notional = np.hsplit(
        _rolling(np.hstack([shares, notional]), VWAP_WINDOW, 1).sum().to_numpy(), 2
    )
    log_close = np.log(closes)
    first_return = log_close[:1] - np.log(sessions.spread(open_)[:1])
    realized = _rolling(np.vstack([first_return, np.diff(log_close, axis=0)]), VOL_WINDOW, 2).std(ddof=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        vwap_session = np.where(cum_shares > 0, cum_notional / cum_shares, np.nan)
        vwap_w5m = np.where(w5_shares > 0, w5_notional / w5_shares, np.nan)

    latency = np.zeros(len(bars), dtype=np.int64) if ingest_latency_ms is None else ingest_latency_ms
    latency_ms = pd.Series(latency, index=bars.index).to_numpy(dtype=np.int64)[by_session]
    event_ts = ts + BAR_LENGTH
    columns: dict[str, npt.ArrayLike] = {
        "symbol": column("symbol", np.object_),
        "event_ts": event_ts,
        "seq": (ts - session_open) // BAR_LENGTH,
        "ingest_ts": event_ts + latency_ms.astype("timedelta64[ms]"),
        "is_final": np.ones(len(key), dtype=np.int64),
        "source": np.full(len(key), source, dtype=object),
        "window_size": np.full(len(key), "PT1M", dtype=object),
        "version": np.ones(len(key), dtype=np.int64),
        "price": close,
        "close": close,
        "vwap": vwap,
        "volume": volume,
        "macd": sessions.gather(macd),
        "macd_signal": sessions.gather(macd_signal),
        "macd_hist": sessions.gather(macd - macd_signal),
        "ema12": sessions.gather(ema12),
        "ema26": sessions.gather(ema26),
        "rsi14": sessions.gather(_rsi(closes)),
        "boll_mid": sessions.gather(boll_mid),
        "boll_upper": sessions.gather(boll_mid + BOLLINGER_WIDTH * boll_sd),
        "boll_lower": sessions.gather(boll_mid - BOLLINGER_WIDTH * boll_sd),
        "vwap_session": sessions.gather(vwap_session),
        "vwap_w5m": sessions.gather(vwap_w5m),
        "vol_realized_w60s": sessions.gather(realized),
        **_order_book(open_, high, low, close, volume, column("spread_bps")),
    }
    by_time = np.lexsort((codes, ts))
    out = pd.DataFrame({name: np.asarray(columns[name])[by_time] for name in SIGNAL_COLUMNS})
    for name in ("symbol", "source", "window_size"):
        out[name] = out[name].astype(str)
    for name in ("event_ts", "ingest_ts"):
        out[name] = out[name].dt.tz_localize("UTC")
    for name in ("imbalance_bid_sz", "imbalance_ask_sz"):
        out[name] = out[name].astype("Int64")
    return out
