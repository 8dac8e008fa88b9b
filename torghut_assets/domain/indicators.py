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

import datetime as dt

import numpy as np
import numpy.typing as npt
import pandas as pd
from pandas.core.window.rolling import Rolling

from torghut_assets.domain.market_calendar import EXCHANGE_TZ, session_bounds
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
BAR_LENGTH = pd.Timedelta(minutes=1)
RSI_PERIOD = 14
BOLLINGER_PERIOD = 20
BOLLINGER_WIDTH = 2.0
VWAP_WINDOW = 5
VOL_WINDOW = 5
ROUND_LOT = 100


class _Sessions:
    """Rows laid out as a (bar-in-session, session) matrix so one C pass covers every session.

    Each column is one (symbol, session) with its bars from the open downwards and NaN padding
    after its last bar. Window functions run down the columns, so they restart at every open and a
    column's values never depend on another column or on the padding below it.
    """

    def __init__(self, key: npt.NDArray[np.int64], position: npt.NDArray[np.int64]) -> None:
        self.key, self.position = key, position
        self.shape = (int(position.max()) + 1, int(key.max()) + 1)

    def spread(self, values: pd.Series | npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        matrix = np.full(self.shape, np.nan)
        matrix[self.position, self.key] = np.asarray(values, dtype=np.float64)
        return matrix

    def gather(self, matrix: npt.NDArray[np.float64] | pd.DataFrame) -> npt.NDArray[np.float64]:
        return np.asarray(matrix, dtype=np.float64)[self.position, self.key]


def _ewm(
    matrix: npt.NDArray[np.float64], *, span: float | None = None, alpha: float | None = None
) -> npt.NDArray[np.float64]:
    return pd.DataFrame(matrix).ewm(span=span, alpha=alpha, adjust=False).mean().to_numpy()


def _rolling(matrix: npt.NDArray[np.float64], window: int, min_periods: int) -> Rolling[pd.DataFrame]:
    return pd.DataFrame(matrix).rolling(window, min_periods=min_periods)


def _session_opens(local_day: pd.Series) -> pd.Series:
    opens: dict[pd.Timestamp, pd.Timestamp] = {}
    for day in local_day.unique():
        bounds = session_bounds(dt.date(day.year, day.month, day.day))
        if bounds is None:
            raise ValueError(f"bars on {day.date()}, which is not a trading session")
        opens[day] = bounds[0]
    return local_day.map(opens).astype("datetime64[us, UTC]")


def _rsi(close: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    delta = np.full_like(close, np.nan)
    delta[1:] = close[1:] - close[:-1]
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


def _order_book(bars: pd.DataFrame) -> pd.DataFrame:
    close, spread_bps = bars["close"].to_numpy(), bars["spread_bps"].to_numpy()
    half = close * spread_bps / 2e4
    bar_range = (bars["high"] - bars["low"]).to_numpy()
    move = (bars["close"] - bars["open"]).to_numpy()
    tilt = np.divide(move, bar_range, out=np.zeros_like(move), where=bar_range > 0)
    depth = np.maximum(bars["volume"].to_numpy() // 10, ROUND_LOT)
    return pd.DataFrame(
        {
            "imbalance_spread": 2.0 * half,
            "imbalance_bid_px": close - half,
            "imbalance_ask_px": close + half,
            "imbalance_bid_sz": pd.array(np.rint(depth * (1.0 + 0.5 * tilt)).astype("int64"), dtype="Int64"),
            "imbalance_ask_sz": pd.array(np.rint(depth * (1.0 - 0.5 * tilt)).astype("int64"), dtype="Int64"),
        },
        index=bars.index,
    )


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
    if bars.empty:
        return empty_signal_frame()

    frame = bars.loc[:, list(BAR_COLUMNS)].copy()
    frame["ts"] = frame["ts"].dt.tz_convert("UTC").astype("datetime64[us, UTC]")
    latency = ingest_latency_ms if ingest_latency_ms is not None else pd.Series(0, index=bars.index)
    frame["latency"] = pd.to_timedelta(latency.reindex(bars.index).to_numpy(), unit="ms")
    local_day = frame["ts"].dt.tz_convert(EXCHANGE_TZ).dt.tz_localize(None).dt.normalize()
    frame["session_open"] = _session_opens(local_day)
    frame = frame.sort_values(["symbol", "ts"], kind="stable").reset_index(drop=True)

    key = np.asarray(frame.groupby(["symbol", "session_open"], sort=False).ngroup(), dtype=np.int64)
    position = np.asarray(pd.Series(key).groupby(key, sort=False).cumcount(), dtype=np.int64)
    sessions = _Sessions(key, position)
    volume = frame["volume"].astype("int64")
    close = sessions.spread(frame["close"])
    shares = sessions.spread(volume)
    notional = sessions.spread(frame["vwap"] * volume)

    ema12, ema26 = _ewm(close, span=12), _ewm(close, span=26)
    macd = ema12 - ema26
    macd_signal = _ewm(macd, span=9)
    boll = _rolling(close, BOLLINGER_PERIOD, BOLLINGER_PERIOD)
    boll_mid, boll_sd = boll.mean().to_numpy(), boll.std(ddof=0).to_numpy()
    cum_shares, cum_notional = np.nancumsum(shares, axis=0), np.nancumsum(notional, axis=0)
    w5 = _rolling(np.hstack([shares, notional]), VWAP_WINDOW, 1).sum().to_numpy()
    w5_shares, w5_notional = np.hsplit(w5, 2)
    log_close = np.log(close)
    returns = np.vstack(
        [log_close[:1] - np.log(sessions.spread(frame["open"])[:1]), np.diff(log_close, axis=0)]
    )
    realized = _rolling(returns, VOL_WINDOW, 2).std(ddof=1)

    with np.errstate(divide="ignore", invalid="ignore"):
        vwap_session = np.where(cum_shares > 0, cum_notional / cum_shares, np.nan)
        vwap_w5m = np.where(w5_shares > 0, w5_notional / w5_shares, np.nan)
    event_ts = frame["ts"] + BAR_LENGTH
    since_open = frame["ts"] - frame["session_open"]
    out = pd.DataFrame(
        {
            "symbol": frame["symbol"].astype(str),
            "event_ts": event_ts,
            "seq": since_open.to_numpy(dtype="timedelta64[us]") // np.timedelta64(1, "m"),
            "ingest_ts": event_ts + frame["latency"],
            "is_final": np.int64(1),
            "source": source,
            "window_size": "PT1M",
            "version": np.int64(1),
            "price": frame["close"].astype("float64"),
            "close": frame["close"].astype("float64"),
            "vwap": frame["vwap"].astype("float64"),
            "volume": volume,
            "macd": sessions.gather(macd),
            "macd_signal": sessions.gather(macd_signal),
            "macd_hist": sessions.gather(macd - macd_signal),
            "ema12": sessions.gather(ema12),
            "ema26": sessions.gather(ema26),
            "rsi14": sessions.gather(_rsi(close)),
            "boll_mid": sessions.gather(boll_mid),
            "boll_upper": sessions.gather(boll_mid + BOLLINGER_WIDTH * boll_sd),
            "boll_lower": sessions.gather(boll_mid - BOLLINGER_WIDTH * boll_sd),
            "vwap_session": sessions.gather(vwap_session),
            "vwap_w5m": sessions.gather(vwap_w5m),
            "vol_realized_w60s": sessions.gather(realized),
        }
    )
    out = out.join(_order_book(frame))
    out = out.sort_values(["event_ts", "symbol"], kind="stable").reset_index(drop=True)
    return out.loc[:, list(SIGNAL_COLUMNS)]
