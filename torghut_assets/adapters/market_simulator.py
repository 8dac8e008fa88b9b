"""The built-in market: deterministic 1-minute bars and TA signals for a fixed US-equity universe.

The pipeline must be replayable, so every bar is a pure function of (seed, symbol, minute). No state
is carried from an epoch: the log price is a sum of value-noise octaves (hashed lattice values at
periods from 1 trading minute to about 2.6 years, amplitude ∝ sqrt(period)) which behaves like a random walk
between its shortest and longest period, and any window can be regenerated alone, bit for bit.
Outputs are rounded (prices to 4 decimals, volume to whole shares), which also absorbs last-ulp
differences between numpy's vectorised and scalar exp/log on different array lengths.

On top of that walk each (symbol, session) gets a hashed regime — a drift over the day, a damped
oscillating market, or a burst of 3x minute noise — plus U-shaped intraday volatility and volume, an
overnight gap, and rarely a trading halt during which no bars print.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from types import MappingProxyType
from typing import ClassVar

import numpy as np
import numpy.typing as npt
import pandas as pd

from torghut_assets.domain.indicators import compute_signals
from torghut_assets.domain.market_calendar import (
    EXCHANGE_TZ,
    SESSION_LENGTH_MINUTES,
    exchange_date,
    market_minutes,
    previous_sessions,
    session_bounds,
)
from torghut_assets.domain.signal_frame import SIGNAL_SCHEMA, UTC_TS

U64 = npt.NDArray[np.uint64]
I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]

SOURCE = "torghut-simulator"
REGIMES: tuple[str, ...] = ("trend", "mean_reversion", "volatility_burst")
BAR_FRAME_COLUMNS: tuple[str, ...] = (
    "symbol", "ts", "open", "high", "low", "close", "volume", "vwap", "spread_bps",
)  # fmt: skip


@dataclass(frozen=True)
class SymbolProfile:
    base_price: float
    daily_volume: int
    daily_vol: float
    spread_bps: float


PROFILES: Mapping[str, SymbolProfile] = MappingProxyType(
    {
        "AAPL": SymbolProfile(245.0, 52_000_000, 0.016, 0.5),
        "MSFT": SymbolProfile(410.0, 22_000_000, 0.014, 0.5),
        "NVDA": SymbolProfile(185.0, 180_000_000, 0.030, 0.6),
        "AMZN": SymbolProfile(225.0, 40_000_000, 0.020, 0.5),
        "GOOGL": SymbolProfile(300.0, 30_000_000, 0.018, 0.6),
        "META": SymbolProfile(690.0, 12_000_000, 0.022, 1.0),
        "TSLA": SymbolProfile(410.0, 95_000_000, 0.038, 0.8),
        "SPY": SymbolProfile(690.0, 70_000_000, 0.009, 0.2),
    }
)
DEFAULT_UNIVERSE: tuple[str, ...] = tuple(PROFILES)

_OCTAVES: tuple[int, ...] = (1, 8, 64, 512, 4096, 32768, 262144)
_INTRADAY_OCTAVES = frozenset({1, 8})
_DAMPED_OCTAVES = frozenset({8, 64})
# Calibrated by sampling a year: close-to-close std ≈ 1.2 daily_vol, one-minute std ≈ 0.04 daily_vol.
_MINUTE_VOL_PER_DAILY_VOL = 1.0 / np.sqrt(1700.0)
_REGIME_CUTS = (0.30, 0.75)
_HALT_PROBABILITY = 0.05
_BUSDAY_EPOCH = np.datetime64("2000-01-03", "D")
_OPEN_MINUTE_OF_DAY = 9 * 60 + 30
_NEWEST_LOOKBACK_SESSIONS = 10
_ONE_MINUTE = pd.Timedelta(minutes=1)
_MASK64 = (1 << 64) - 1


class UnknownSymbolError(ValueError):
    def __init__(self, symbol: str) -> None:
        super().__init__(f"unknown symbol {symbol!r}: not in the simulator's universe")
        self.symbol = symbol


def _splitmix64(x: U64) -> U64:
    z = x + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


@lru_cache(maxsize=1024)
def _stream(seed: int, symbol: str, label: str) -> np.uint64:
    """A 64-bit key per (seed, symbol, purpose), from the names so no order or registry matters."""
    h = 0xCBF29CE484222325
    for byte in f"{seed}\x1f{symbol}\x1f{label}".encode():
        h = ((h ^ byte) * 0x100000001B3) & _MASK64
    return np.uint64(h)


def _hash(key: U64 | np.uint64, index: I64) -> U64:
    return _splitmix64(_splitmix64(index.astype(np.int64).view(np.uint64)) ^ key)


def _uniform(key: U64 | np.uint64, index: I64) -> F64:
    return (_hash(key, index) >> np.uint64(11)).astype(np.float64) * 2.0**-53


def _normal(key: U64 | np.uint64, index: I64) -> F64:
    h = _hash(key, index)
    u1 = 1.0 - (h >> np.uint64(11)).astype(np.float64) * 2.0**-53
    u2 = (_splitmix64(h) >> np.uint64(11)).astype(np.float64) * 2.0**-53
    return np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)


def _value_noise(keys: U64, t: I64, period: int) -> F64:
    """Smoothly interpolated hashed lattice values; lattice points are hashed once per call."""
    cell = t // period
    first = int(cell.min())
    lattice = _normal(keys, np.arange(first, int(cell.max()) + 2, dtype=np.int64))
    g0 = lattice[:, cell - first]
    if period == 1:
        return g0
    frac = (t - cell * period) / period
    smooth = frac * frac * (3.0 - 2.0 * frac)
    return g0 + (lattice[:, cell - first + 1] - g0) * smooth


def _u_shape(m: F64, open_weight: float, close_weight: float, width: float) -> F64:
    return (
        1.0 + open_weight * np.exp(-m / width) + close_weight * np.exp(-(SESSION_LENGTH_MINUTES - m) / width)
    )


_VOLUME_SHAPE_MEAN = float(
    _u_shape(np.arange(SESSION_LENGTH_MINUTES, dtype=np.float64), 3.0, 2.5, 20.0).mean()
)


@dataclass(frozen=True)
class _Grid:
    """Bar start minutes, plus the price boundaries around them (each bar's open and close instant).

    Within a session the requested minutes are contiguous, so a session with k bars has k + 1
    boundaries; computing the walk once per boundary halves the hashing work of open and close.
    """

    ts: pd.DatetimeIndex
    day: I64
    minute: I64
    trading_minute: I64
    edge_day: I64
    edge_minute: I64
    edge_trading_minute: I64
    open_edge: I64

    @classmethod
    def of(cls, minutes: pd.DatetimeIndex) -> _Grid:
        local = minutes.tz_convert(EXCHANGE_TZ).tz_localize(None)
        midnight = local.normalize()
        days = midnight.to_numpy().astype("datetime64[D]")
        minute = ((local - midnight) // _ONE_MINUTE).to_numpy().astype(np.int64) - _OPEN_MINUTE_OF_DAY
        trading = np.busday_count(_BUSDAY_EPOCH, days).astype(np.int64) * SESSION_LENGTH_MINUTES + minute
        day = days.astype(np.int64)
        last_of_day = np.r_[day[1:] != day[:-1], True]
        open_edge = np.arange(len(day), dtype=np.int64) + np.r_[0, np.cumsum(last_of_day[:-1])]
        edges = len(day) + int(last_of_day.sum())
        closing = open_edge[last_of_day] + 1

        def edge(values: I64, closing_values: I64) -> I64:
            out = np.empty(edges, dtype=np.int64)
            out[open_edge] = values
            out[closing] = closing_values
            return out

        return cls(
            ts=minutes,
            day=day,
            minute=minute,
            trading_minute=trading,
            edge_day=edge(day, day[last_of_day]),
            edge_minute=edge(minute, minute[last_of_day] + 1),
            edge_trading_minute=edge(trading, trading[last_of_day] + 1),
            open_edge=open_edge,
        )


@dataclass(frozen=True)
class _DayPlan:
    """How each (symbol, session) behaves; arrays are (symbols, columns) aligned with some grid."""

    regime: I64
    gap: F64
    drift: F64
    wave_amplitude: F64
    wave_period: F64
    wave_phase: F64
    burst_start: I64
    burst_end: I64
    halt_start: I64
    halt_end: I64

    def bursting(self, minute: I64) -> npt.NDArray[np.bool_]:
        return (minute >= self.burst_start) & (minute < self.burst_end)

    def halted(self, minute: I64) -> npt.NDArray[np.bool_]:
        return (minute >= self.halt_start) & (minute < self.halt_end)


@dataclass(frozen=True)
class MarketSimulator:
    """The embedded default SignalSource: needs no credentials and no network."""

    seed: int = 20260226
    universe: tuple[str, ...] = DEFAULT_UNIVERSE
    name: ClassVar[str] = "simulator"

    def __post_init__(self) -> None:
        if not self.universe:
            raise ValueError("universe must name at least one symbol")
        for symbol in self.universe:
            if symbol not in PROFILES:
                raise UnknownSymbolError(symbol)

    def reference_price(self, symbol: str) -> float:
        return PROFILES[self._check(symbol)].base_price

    def regime(self, symbol: str, day: dt.date) -> str:
        if session_bounds(day) is None:
            raise ValueError(f"{day} is not a trading session")
        plan = self._plan([self._check(symbol)], np.array([_day_number(day)], dtype=np.int64))
        return REGIMES[int(plan.regime[0, 0])]

    def bars(
        self, start: pd.Timestamp, end: pd.Timestamp, symbols: Iterable[str] | None = None
    ) -> pd.DataFrame:
        """Bars whose start `ts` lies in [start, end), sorted by (ts, symbol)."""
        return self._generate(start, end, symbols)[0]

    def signals(
        self, start: pd.Timestamp, end: pd.Timestamp, symbols: Iterable[str] | None = None
    ) -> pd.DataFrame:
        """Signals whose `event_ts` lies in [start, end), indicators warmed up from the session open."""
        first_bar, end_bar = start - _ONE_MINUTE, end - _ONE_MINUTE
        bounds = session_bounds(exchange_date(first_bar))
        if bounds is not None and bounds[0] < first_bar < bounds[1]:
            first_bar = bounds[0]
        bars, latency = self._generate(first_bar, end_bar, symbols)
        signals = compute_signals(bars, source=SOURCE, ingest_latency_ms=latency)
        in_window = (signals["event_ts"] >= start) & (signals["event_ts"] < end)
        return SIGNAL_SCHEMA.validate(signals.loc[in_window].reset_index(drop=True))

    def fetch_window(self, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
        return self.signals(start, end)

    def newest_signal_ts(self, now: pd.Timestamp) -> pd.Timestamp | None:
        """Close time of the newest bar of any symbol that had closed by `now` (None: nothing recent)."""
        today = exchange_date(now)
        last_start = now.tz_convert("UTC").floor(_ONE_MINUTE) - _ONE_MINUTE
        for day in [today, *reversed(previous_sessions(today, _NEWEST_LOOKBACK_SESSIONS))]:
            bounds = session_bounds(day)
            if bounds is None or last_start < bounds[0]:
                continue
            newest = min((last_start - bounds[0]) // _ONE_MINUTE, (bounds[1] - bounds[0]) // _ONE_MINUTE - 1)
            plan = self._plan(list(self.universe), np.array([_day_number(day)], dtype=np.int64))
            halted_now = plan.halted(np.array([newest], dtype=np.int64))[:, 0]
            printed = np.where(halted_now, plan.halt_start[:, 0] - 1, newest)
            if printed.max() >= 0:
                return (bounds[0] + (int(printed.max()) + 1) * _ONE_MINUTE).as_unit("us")
        return None

    def _check(self, symbol: str) -> str:
        if symbol not in self.universe:
            raise UnknownSymbolError(symbol)
        return symbol

    def _keys(self, symbols: list[str], label: str) -> U64:
        return np.array([_stream(self.seed, s, label) for s in symbols], dtype=np.uint64)[:, None]

    def _plan(self, symbols: list[str], day: I64) -> _DayPlan:
        unique_days, inverse = np.unique(day, return_inverse=True)

        def u(label: str) -> F64:
            return _uniform(self._keys(symbols, label), unique_days)[:, inverse]

        def n(label: str) -> F64:
            return _normal(self._keys(symbols, label), unique_days)[:, inverse]

        vol = np.array([PROFILES[s].daily_vol for s in symbols])[:, None]
        regime = np.searchsorted(np.array(_REGIME_CUTS), u("regime"), side="right").astype(np.int64)
        burst_start = np.floor(u("burst-start") * 300).astype(np.int64)
        burst_end = burst_start + np.floor(60 + 61 * u("burst-length")).astype(np.int64)
        halted = u("halt") < _HALT_PROBABILITY
        halt_start = np.floor(15 + u("halt-start") * 340).astype(np.int64)
        halt_end = halt_start + np.floor(5 + u("halt-length") * 16).astype(np.int64)
        return _DayPlan(
            regime=regime,
            gap=0.4 * vol * n("gap"),
            drift=np.where(regime == 0, np.sign(n("drift-sign")) * (0.5 + 1.0 * u("drift-size")) * vol, 0.0),
            wave_amplitude=np.where(regime == 1, (0.2 + 0.3 * u("wave-size")) * vol, 0.0),
            wave_period=45.0 + 75.0 * u("wave-period"),
            wave_phase=2.0 * np.pi * u("wave-phase"),
            burst_start=np.where(regime == 2, burst_start, -1),
            burst_end=np.where(regime == 2, burst_end, -1),
            halt_start=np.where(halted, halt_start, -1),
            halt_end=np.where(halted, halt_end, -1),
        )

    def _minute_vol(self, sigma: F64, plan: _DayPlan, minute: I64) -> F64:
        """Per-minute noise scale: U-shaped over the session, tripled inside a volatility burst."""
        shape = _u_shape(minute.astype(np.float64), 1.2, 0.7, 25.0)
        return sigma * shape * np.where(plan.bursting(minute), 3.0, 1.0)

    def _log_price(self, symbols: list[str], grid: _Grid) -> F64:
        """Log price at every boundary of the grid, shape (symbols, edges)."""
        plan = self._plan(symbols, grid.edge_day)
        sigma = np.array([PROFILES[s].daily_vol for s in symbols])[:, None] * _MINUTE_VOL_PER_DAILY_VOL
        minute, trading = grid.edge_minute, grid.edge_trading_minute
        intraday = self._minute_vol(np.ones_like(sigma), plan, minute)
        damped = np.where(plan.regime == 1, 0.35, 1.0)
        base = np.log(np.array([PROFILES[s].base_price for s in symbols]))[:, None]
        level = (
            base
            + plan.gap
            + plan.drift * (minute / SESSION_LENGTH_MINUTES)
            + plan.wave_amplitude * np.sin(2.0 * np.pi * minute / plan.wave_period + plan.wave_phase)
        )
        for period in _OCTAVES:
            noise = _value_noise(self._keys(symbols, f"octave-{period}"), trading, period)
            scale = sigma * np.sqrt(period / 2.0)
            if period in _INTRADAY_OCTAVES:
                scale = scale * intraday
            if period in _DAMPED_OCTAVES:
                scale = scale * damped
            level = level + scale * noise
        return np.asarray(level, dtype=np.float64)

    def _generate(
        self, start: pd.Timestamp, end: pd.Timestamp, symbols: Iterable[str] | None
    ) -> tuple[pd.DataFrame, pd.Series]:
        wanted = (
            self.universe if symbols is None else (symbols,) if isinstance(symbols, str) else tuple(symbols)
        )
        chosen = sorted({self._check(s) for s in wanted})
        minutes = market_minutes(start, end)
        if len(minutes) == 0:
            return _empty_bars(), pd.Series([], dtype=np.int64)
        grid = _Grid.of(minutes)
        plan = self._plan(chosen, grid.day)
        minute, trading = grid.minute, grid.trading_minute
        profiles = [PROFILES[s] for s in chosen]
        daily_vol = np.array([p.daily_vol for p in profiles])[:, None]
        sigma = daily_vol * _MINUTE_VOL_PER_DAILY_VOL

        def n(label: str) -> F64:
            return _normal(self._keys(chosen, label), trading)

        edges = self._log_price(chosen, grid)
        log_open, log_close = edges[:, grid.open_edge], edges[:, grid.open_edge + 1]
        local_vol = self._minute_vol(sigma, plan, minute)
        open_, close = np.round(np.exp(log_open), 4), np.round(np.exp(log_close), 4)
        high = np.round(np.maximum(open_, close) * np.exp(0.5 * local_vol * np.abs(n("high"))), 4)
        low = np.round(np.minimum(open_, close) * np.exp(-0.5 * local_vol * np.abs(n("low"))), 4)
        vwap = np.clip(np.round((open_ + high + low + close) / 4.0, 4), low, high)
        activity = np.minimum(np.abs(log_close - log_open) / local_vol, 4.0)
        volume = (
            np.array([p.daily_volume for p in profiles], dtype=np.float64)[:, None]
            / SESSION_LENGTH_MINUTES
            * _u_shape(minute.astype(np.float64), 3.0, 2.5, 20.0)
            / _VOLUME_SHAPE_MEAN
            * np.exp(0.4 * n("volume") - 0.08)
            * (0.8 + 0.2 * activity)
            * np.where(plan.bursting(minute), 2.2, 1.0)
        )
        base_spread = np.array([p.spread_bps for p in profiles])[:, None]
        spread = base_spread * (0.6 + 0.4 * local_vol / sigma) * np.exp(0.25 * n("spread"))
        latency = 50 + np.floor(_uniform(self._keys(chosen, "latency"), trading) * 851).astype(np.int64)

        keep = ~plan.halted(minute).T.ravel()

        def column(values: npt.NDArray[np.generic]) -> npt.NDArray[np.generic]:
            return values.T.ravel()[keep]

        bars = pd.DataFrame(
            {
                "symbol": pd.array(np.tile(np.array(chosen, dtype=object), len(minutes))[keep], dtype=str),
                "ts": np.repeat(minutes.tz_localize(None).to_numpy(), len(chosen))[keep],
                "open": column(open_),
                "high": column(high),
                "low": column(low),
                "close": column(close),
                "volume": column(np.maximum(np.rint(volume), 1).astype(np.int64)),
                "vwap": column(vwap),
                "spread_bps": column(np.maximum(np.round(spread, 4), 0.01)),
            }
        )
        bars["ts"] = bars["ts"].dt.tz_localize("UTC").astype(UTC_TS)
        return bars, pd.Series(column(latency), index=bars.index)


def _day_number(day: dt.date) -> int:
    return (day - dt.date(1970, 1, 1)).days


def _empty_bars() -> pd.DataFrame:
    frame = pd.DataFrame({c: pd.Series([], dtype=np.float64) for c in BAR_FRAME_COLUMNS})
    frame["symbol"] = pd.Series([], dtype=str)
    frame["ts"] = pd.Series([], dtype=UTC_TS)
    frame["volume"] = pd.Series([], dtype=np.int64)
    return frame
