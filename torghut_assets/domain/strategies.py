"""Candidate strategies as pure, causal functions of a `ta_signals` frame.

A strategy is identified by (name, version); its numeric parameters vary per candidate, so every candidate
of one strategy shares the `strategy_id` that decisions are keyed on (docs/strategies.md, "Identity and
version") while `parameter_set()` tells candidates apart in `research_candidates`.

`strategy_type` is a strategy reference: a built-in name (`legacy_macd_rsi`, `ema_trend`) or the import path
of a plug-in (`package.module:attribute`, docs/strategies.md). Resolving a reference is `strategy_registry`'s
job, checking it `strategy_validation`'s and calling it `strategy_calls`'; the spec-level functions here
(`default_strategy`, `default_grid`, `parameter_grid`, `strategy_actions`, `actions_in_order`) go through
them, so built-ins and plug-ins share one path. The built-ins below keep a fast path: their rules read
`SortedColumns`, converted once per frame.

Actions are computed per (symbol, session) in (symbol, event_ts, seq) order whatever the input order, so a
cross is never measured against another symbol's row or against the previous day's close. A session is the
America/New_York calendar date of the bar close time (regular-hours bars close 09:31-16:00 ET).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from types import MappingProxyType

import numpy as np
import numpy.typing as npt
import pandas as pd

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

MARKET_TZ = "America/New_York"

LEGACY_MACD_RSI = "legacy_macd_rsi"
EMA_TREND = "ema_trend"

# Fixed so strategy ids survive process restarts and match across machines.
STRATEGY_ID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:torghut:strategy")


@dataclass(frozen=True)
class StrategySpec:
    """One candidate configuration; params are normalised to sorted (name, float) pairs so equal configs
    compare, hash and serialise identically.

    Identity: `default_strategy` sets `name` to the strategy reference itself (the built-in name, or the
    plug-in's import path, never the plug-in's self-declared `name`), so `strategy_id` =
    uuid5(reference, version). Two plug-ins cannot share an import path, and an import path always holds a
    `:` that no built-in name has, so no two strategies collide; a new version is a new id. Built-in ids
    are unchanged by this rule (their name always was their reference)."""

    name: str
    strategy_type: str
    version: str
    base_timeframe: str = "1Min"
    priority: int = 100
    enabled: bool = True
    params: tuple[tuple[str, float], ...] = ()

    def __post_init__(self) -> None:
        normalised = tuple(sorted((str(k), float(v)) for k, v in self.params))
        names = [k for k, _ in normalised]
        if len(set(names)) != len(names):
            raise ValueError(f"params: duplicate parameter names in {names}")
        object.__setattr__(self, "params", normalised)

    @property
    def strategy_id(self) -> str:
        return str(uuid.uuid5(STRATEGY_ID_NAMESPACE, f"{self.name}\x1f{self.version}"))

    def param(self, name: str) -> float:
        for key, value in self.params:
            if key == name:
                return value
        raise KeyError(f"strategy {self.name!r} has no parameter {name!r}")

    def with_params(self, **overrides: float) -> StrategySpec:
        known = dict(self.params)
        unknown = sorted(set(overrides) - set(known))
        if unknown:
            raise ValueError(f"strategy {self.name!r} has no parameter(s) {', '.join(unknown)}")
        known.update({k: float(v) for k, v in overrides.items()})
        return replace(self, params=tuple(known.items()))

    def parameter_set(self) -> dict[str, object]:
        """The `research_candidates.parameter_set` payload (docs/ledger.md), keys sorted."""
        return {
            "base_timeframe": self.base_timeframe,
            "enabled": self.enabled,
            "params": dict(self.params),
            "priority": self.priority,
            "strategy_id": self.strategy_id,
            "strategy_type": self.strategy_type,
            "version": self.version,
        }


def default_strategy(strategy_type: str, params: Mapping[str, float] | None = None) -> StrategySpec:
    """The strategy behind a reference at its declared defaults, `params` overriding some of them.

    Raises `strategy_interface.StrategyLoadError` (a ValueError) naming every problem: an unknown reference,
    a plug-in that does not import or is not a Strategy, a parameter the strategy does not declare."""
    from torghut_assets.domain.strategy_registry import strategy_spec

    return strategy_spec(strategy_type, params)


def default_grid(strategy_type: str) -> dict[str, tuple[float, ...]]:
    from torghut_assets.domain.strategy_registry import strategy_grid

    return strategy_grid(strategy_type)


def parameter_grid(
    spec: StrategySpec, grid: Mapping[str, Sequence[float]] | None = None
) -> list[StrategySpec]:
    """Cartesian product over the grid (the strategy's default grid when None); axes vary in sorted-name
    order, last axis fastest, values in the order given, so the candidate list (and every id derived from
    it) is reproducible."""
    from torghut_assets.domain.strategy_registry import spec_grid

    return spec_grid(spec, grid)


@dataclass(frozen=True, eq=False)
class BarLayout:
    """Rows of a signals frame in (symbol, event_ts, seq) order, cut into (symbol, session) groups.

    `order[i]` is the input position of the i-th sorted row; the other arrays are in sorted order.
    """

    order: IntArray
    symbol_code: IntArray
    event_ts_ns: IntArray
    session_day: IntArray
    group_start: BoolArray
    group_end: BoolArray

    @property
    def group_id(self) -> IntArray:
        return np.cumsum(self.group_start, dtype=np.int64) - 1


def utc_index(values: pd.Series | pd.DatetimeIndex) -> pd.DatetimeIndex:
    """Timestamps as a UTC DatetimeIndex; naive values are taken to be UTC already."""
    index = pd.DatetimeIndex(values)
    return index.tz_localize("UTC") if index.tz is None else index.tz_convert("UTC")


@dataclass(frozen=True, eq=False)
class BarKeys:
    """Input-order sort keys of a signals frame; `take` subsets rows without touching the frame."""

    symbol_code: IntArray
    event_ts_ns: IntArray
    seq: IntArray
    session_day: IntArray

    def take(self, rows: BoolArray | IntArray) -> BarKeys:
        return BarKeys(self.symbol_code[rows], self.event_ts_ns[rows], self.seq[rows], self.session_day[rows])


def bar_keys(signals: pd.DataFrame) -> BarKeys:
    n = len(signals)
    ts = utc_index(signals["event_ts"]).as_unit("ns")
    local = ts.tz_convert(MARKET_TZ).tz_localize(None).normalize()
    day = (local.asi8 // 86_400_000_000_000).astype(np.int64)
    codes, _ = pd.factorize(signals["symbol"].astype(str), sort=True)
    seq = signals["seq"].to_numpy(dtype=np.int64) if "seq" in signals.columns else np.zeros(n, np.int64)
    return BarKeys(np.asarray(codes, dtype=np.int64), ts.asi8.astype(np.int64), seq, day)


def layout_from_keys(keys: BarKeys) -> BarLayout:
    n = len(keys.symbol_code)
    order = np.lexsort((keys.seq, keys.event_ts_ns, keys.symbol_code)).astype(np.int64)
    sym_s, day_s = keys.symbol_code[order], keys.session_day[order]
    start = np.ones(n, dtype=bool)
    if n > 1:
        start[1:] = (sym_s[1:] != sym_s[:-1]) | (day_s[1:] != day_s[:-1])
    end = np.ones(n, dtype=bool)
    if n > 1:
        end[:-1] = start[1:]
    return BarLayout(order, sym_s, keys.event_ts_ns[order], day_s, start, end)


def bar_layout(signals: pd.DataFrame) -> BarLayout:
    return layout_from_keys(bar_keys(signals))


def resolve_price(signals: pd.DataFrame) -> FloatArray:
    """Per-row trade price with the reference fallback price -> close -> vwap (docs/ledger.md)."""
    out = np.full(len(signals), np.nan)
    for col in ("vwap", "close", "price"):
        if col in signals.columns:
            values = pd.to_numeric(signals[col], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
            out = np.where(np.isfinite(values) & (values > 0), values, out)
    return out


RULE_COLUMNS = ("macd", "macd_signal", "rsi14", "ema12", "ema26")


@dataclass(frozen=True, eq=False)
class SortedColumns:
    """What the action rules read, in a layout's sorted order, converted once per frame: a sweep over
    many candidates then pays only for the comparisons.

    `source` and `order` (the unsorted frame and the layout's order) let a plug-in strategy, which reads
    whole frames rather than these arrays, get the same rows in the same order (`sorted_frame`); the
    sorted frame is built on first use only, so built-ins never pay for it."""

    values: Mapping[str, FloatArray]
    price: FloatArray
    group_start: BoolArray
    source: pd.DataFrame | None = None
    order: IntArray | None = None
    _frames: dict[str, pd.DataFrame] = field(default_factory=dict, repr=False)

    def column(self, name: str) -> FloatArray:
        found = self.values.get(name)
        return np.full(len(self.price), np.nan) if found is None else found

    def sorted_frame(self) -> pd.DataFrame:
        """The source frame in this order with a fresh RangeIndex (position i is sorted row i)."""
        if self.source is None or self.order is None:
            raise ValueError("these sorted columns were built without their source frame")
        if "sorted" not in self._frames:
            self._frames["sorted"] = sorted_frame(self.source, self.order)
        return self._frames["sorted"]


def sorted_frame(signals: pd.DataFrame, order: IntArray) -> pd.DataFrame:
    return signals.iloc[order].reset_index(drop=True)


def sorted_columns(signals: pd.DataFrame, layout: BarLayout) -> SortedColumns:
    def read(name: str) -> FloatArray:
        values = pd.to_numeric(signals[name], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
        out: FloatArray = values[layout.order]
        return out

    present = {name: read(name) for name in RULE_COLUMNS if name in signals.columns}
    return SortedColumns(
        present, resolve_price(signals)[layout.order], layout.group_start, source=signals, order=layout.order
    )


def previous_in_group(values: FloatArray, group_start: BoolArray) -> FloatArray:
    prev = np.empty_like(values)
    if len(values):
        prev[0] = np.nan
        prev[1:] = values[:-1]
        prev[group_start] = np.nan
    return prev


def _macd_rsi(columns: SortedColumns, params: Mapping[str, float]) -> npt.NDArray[np.int8]:
    macd, sig, rsi = columns.column("macd"), columns.column("macd_signal"), columns.column("rsi14")
    buy = (macd > sig) & (rsi < params["rsi_buy_below"])
    sell = (macd < sig) & (rsi > params["rsi_sell_above"])
    return (buy.astype(np.int8) - sell.astype(np.int8)).astype(np.int8)


def _ema_trend(columns: SortedColumns, params: Mapping[str, float]) -> npt.NDArray[np.int8]:
    gap = columns.column("ema12") - columns.column("ema26")
    gap_bps = gap / columns.price * 1e4
    prev = previous_in_group(gap_bps, columns.group_start)
    band = params["min_cross_bps"]
    rsi = columns.column("rsi14")
    buy = (gap_bps > band) & (prev <= band) & (rsi <= params["rsi_filter_max"])
    sell = (gap_bps < -band) & (prev >= -band)
    return (buy.astype(np.int8) - sell.astype(np.int8)).astype(np.int8)


ActionRule = Callable[[SortedColumns, Mapping[str, float]], npt.NDArray[np.int8]]


@dataclass(frozen=True, eq=False)
class BuiltinStrategy:
    """A strategy shipped with the package. It satisfies `strategy_interface.Strategy` like any plug-in
    (same resolution, identity, parameter and grid checks), and adds `actions_in_order`: its rule reads
    columns sorted and converted once per frame, which is what keeps a many-candidate sweep cheap. Being
    in-tree, reviewed and vectorised, it is called inline: no worker thread, no output re-validation."""

    name: str
    version: str
    default_params: Mapping[str, float]
    default_grid: Mapping[str, Sequence[float]]
    rule: ActionRule

    def actions(self, signals: pd.DataFrame, params: Mapping[str, float]) -> npt.NDArray[np.int8]:
        layout = bar_layout(signals)
        out = np.zeros(len(signals), dtype=np.int8)
        out[layout.order] = self.rule(sorted_columns(signals, layout), params)
        return out

    def actions_in_order(self, columns: SortedColumns, params: Mapping[str, float]) -> npt.NDArray[np.int8]:
        return self.rule(columns, params)


def _builtin(
    name: str, params: dict[str, float], grid: dict[str, tuple[float, ...]], rule: ActionRule
) -> BuiltinStrategy:
    return BuiltinStrategy(name, "1.0.0", MappingProxyType(params), MappingProxyType(grid), rule)


BUILTIN_STRATEGIES: Mapping[str, BuiltinStrategy] = MappingProxyType(
    {
        LEGACY_MACD_RSI: _builtin(
            LEGACY_MACD_RSI,
            {"rsi_buy_below": 35.0, "rsi_sell_above": 65.0, "notional_per_trade": 1000.0},
            {"rsi_buy_below": (30.0, 35.0, 40.0, 45.0), "rsi_sell_above": (55.0, 60.0, 65.0, 70.0)},
            _macd_rsi,
        ),
        EMA_TREND: _builtin(
            EMA_TREND,
            {"min_cross_bps": 1.0, "rsi_filter_max": 70.0, "notional_per_trade": 1000.0},
            {"min_cross_bps": (0.0, 1.0, 2.0, 5.0), "rsi_filter_max": (60.0, 70.0, 80.0)},
            _ema_trend,
        ),
    }
)

STRATEGY_TYPES: tuple[str, ...] = tuple(sorted(BUILTIN_STRATEGIES))
"""The built-in strategy references; any `package.module:attribute` import path is accepted as well."""


def strategy_actions(signals: pd.DataFrame, spec: StrategySpec) -> pd.Series:
    """+1 buy / -1 sell / 0 none per row, aligned to `signals.index`.

    `ema_trend` fires when the EMA12-EMA26 gap, in bps of the bar price, crosses out of the band
    [-min_cross_bps, +min_cross_bps] (gap > band now, <= band on the previous bar of the same symbol and
    session; mirrored for sells). Measuring the cross against the band rather than against zero means a
    gap that creeps through zero and widens later still fires once, when it becomes significant.

    A plug-in is called through `strategy_calls.run_strategy` (sorted copy of the frame, time budget,
    output checks); its failures raise `strategy_interface.StrategyRunError`.
    """
    from torghut_assets.domain.strategy_calls import spec_actions

    return spec_actions(signals, spec)


def actions_in_order(columns: SortedColumns, spec: StrategySpec) -> npt.NDArray[np.int8]:
    """`strategy_actions` in the columns' sorted order, for callers that sorted the frame already."""
    from torghut_assets.domain.strategy_calls import spec_actions_in_order

    return spec_actions_in_order(columns, spec)


__all__ = [
    "BUILTIN_STRATEGIES",
    "EMA_TREND",
    "LEGACY_MACD_RSI",
    "MARKET_TZ",
    "STRATEGY_TYPES",
    "BarKeys",
    "BarLayout",
    "BuiltinStrategy",
    "SortedColumns",
    "StrategySpec",
    "actions_in_order",
    "bar_keys",
    "bar_layout",
    "default_grid",
    "default_strategy",
    "layout_from_keys",
    "parameter_grid",
    "previous_in_group",
    "resolve_price",
    "sorted_columns",
    "sorted_frame",
    "strategy_actions",
    "utc_index",
]
