"""Vectorised long-only replay of strategy actions, and the metrics the research ledger stores.

Semantics (docs/research.md plus the choices the reference leaves open):

* Order. Rows are replayed per (symbol, session) in (symbol, event_ts, seq) order; a session is the
  America/New_York date of the bar close. Every session starts flat with a flat target.
* Target. A buy from a flat target sets the target to qty = max(1, floor(notional_per_trade / price))
  shares, priced at the signal bar; further buys keep that size (no pyramiding, no 1-share resizing
  churn while a signal condition persists); a sell sets it to flat; no action keeps the last target
  (ffill within the session).
* Delay. The target decided on bar t is traded at the close of the next bar of the same symbol and
  session, so a decision never trades at the price that produced it (no look-ahead).
* Session end. The position is closed at the last bar of each (symbol, session) present in the replayed
  rows; in a windowed backtest the window edge is such a bar, which keeps each fold self-contained and
  fully realised. This close is forced: it ignores the participation cap.
* Participation cap. A bar fills at most floor(max_participation x volume) shares (none on zero-volume
  bars); what is not filled carries to the following bars until the target is reached or replaced
  (partial fills). Participation = |traded| / volume (1.0 when volume is 0), clipped to 1.0.
* Cost per fill = |traded| x price x (half_spread_bps x spread_multiplier
  + impact_bps_at_full_participation x participation + commission_bps) / 1e4, with half_spread_bps =
  imbalance_spread / 2 / price x 1e4 (fallback imbalance_ask_px - imbalance_bid_px, else 0). Impact is
  linear in participation: the full figure is paid only by a fill taking the whole bar's volume, so
  under the default 10 % cap it is at most 5 bps.
* PnL. Bar pnl = position carried into the bar x price change; gross = sum of bar pnl (realised +
  unrealised; identical once flat); net = gross - cost.
* max_drawdown = |min(equity - running peak)| in currency, equity = cumulative net pnl of the whole
  portfolio per bar time, peak starting at 0 (docs/research.md).
* turnover_notional = sum |traded| x price; average exposure = sum over rows of |position| x price divided
  by the number of distinct bar times; turnover_ratio = turnover / average exposure (0 if never exposed);
  cost_bps = cost / turnover x 1e4 (0 without turnover).
* decision_count = non-zero actions in the window; trade_count = fills, i.e. bars on which the position
  changed (each partial fill and each forced session close counts).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields

import numpy as np
import numpy.typing as npt
import pandas as pd

from torghut_assets.domain.strategies import (
    BarKeys,
    BarLayout,
    BoolArray,
    FloatArray,
    IntArray,
    SortedColumns,
    StrategySpec,
    actions_in_order,
    bar_keys,
    bar_layout,
    layout_from_keys,
    previous_in_group,
    resolve_price,
    sorted_columns,
    utc_index,
)

HIGH_VOL_BPS_PER_BAR = 15.0
TREND_MOVE_BPS = 25.0

_CAP_EPSILON = 1e-9


@dataclass(frozen=True)
class CostModel:
    commission_bps: float = 0.0
    impact_bps_at_full_participation: float = 50.0
    max_participation: float = 0.10
    spread_multiplier: float = 1.0

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if not math.isfinite(value) or value < 0:
                raise ValueError(f"{f.name} must be a finite number >= 0, got {value!r}")
        if not 0 < self.max_participation <= 1:
            raise ValueError(f"max_participation must be in (0, 1], got {self.max_participation!r}")

    def as_dict(self) -> dict[str, object]:
        return {k: float(v) for k, v in sorted(asdict(self).items())}


@dataclass(frozen=True)
class BacktestMetrics:
    decision_count: int
    trade_count: int
    gross_pnl: float
    net_pnl: float
    max_drawdown: float
    turnover_notional: float
    turnover_ratio: float
    cost_bps: float
    cost_total: float

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


EMPTY_METRICS = BacktestMetrics(0, 0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)


def _float_column(signals: pd.DataFrame, name: str) -> FloatArray:
    if name not in signals.columns:
        return np.full(len(signals), np.nan)
    return pd.to_numeric(signals[name], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)


def _aligned_actions(signals: pd.DataFrame, actions: pd.Series) -> npt.NDArray[np.int8]:
    if len(actions) == len(signals) and actions.index.equals(signals.index):
        raw = pd.to_numeric(actions, errors="coerce")
    else:
        raw = pd.to_numeric(actions.reindex(signals.index), errors="coerce")
    values = raw.to_numpy(dtype=np.float64, na_value=0.0)
    out: npt.NDArray[np.int8] = np.sign(np.nan_to_num(values)).astype(np.int8)
    return out


def _ffill(values: FloatArray) -> FloatArray:
    """Forward fill; callers seed every group start, so values never leak across groups."""
    if len(values) == 0:
        return values
    out: FloatArray = values[np.maximum.accumulate(np.where(np.isnan(values), 0, np.arange(len(values))))]
    return out


def _fill_positions(
    desired: IntArray, caps: IntArray, group_start: BoolArray, group_end: BoolArray
) -> IntArray:
    """Positions under a per-bar fill cap, without a per-bar loop.

    Between two changes of the desired position (a segment) the position walks monotonically towards the
    segment's target: pos_t = min(target, start + cumulative cap) going up (mirrored going down), which is
    closed-form given the position the segment starts from. That start is the previous segment's end, so
    start positions are solved by fixed-point iteration over all segments at once, seeded with "the
    previous target was reached". Each sweep fixes at least the next unresolved segment and a fixed point
    is the unique solution, so it ends after at most (segments + 1) sweeps; in practice two or three, as
    the chain only propagates through consecutive segments that did not complete.
    """
    n = len(desired)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    change = np.diff(desired, prepend=0)
    change[group_start] = desired[group_start]
    if ((np.abs(change) <= caps) | group_end).all():
        return desired.copy()  # every change fits its bar's cap: the position is the desired path
    seg_start = group_start.copy()
    seg_start[1:] |= desired[1:] != desired[:-1]
    first = np.flatnonzero(seg_start)
    last = np.append(first[1:] - 1, n - 1)
    seg = np.cumsum(seg_start, dtype=np.int64) - 1
    running = np.cumsum(caps, dtype=np.int64)
    reach = running - (running[first] - caps[first])[seg]
    target = desired[first]
    opens_group = group_start[first]
    begin = np.where(opens_group, 0, np.append(0, target[:-1]))
    while True:
        b_row, t_row = begin[seg], target[seg]
        pos = np.where(t_row >= b_row, np.minimum(t_row, b_row + reach), np.maximum(t_row, b_row - reach))
        nxt = np.where(opens_group, 0, np.append(0, pos[last][:-1]))
        if np.array_equal(nxt, begin):
            break
        begin = nxt
    pos[group_end] = 0
    out: IntArray = pos.astype(np.int64)
    return out


@dataclass(frozen=True, eq=False)
class _Inputs:
    """Input-order arrays of everything the replay reads, so windows are cut without copying frames."""

    keys: BarKeys
    price: FloatArray
    volume: FloatArray
    spread: FloatArray
    action: npt.NDArray[np.int8]

    def take(self, rows: BoolArray | IntArray) -> _Inputs:
        return _Inputs(
            self.keys.take(rows), self.price[rows], self.volume[rows], self.spread[rows], self.action[rows]
        )


def _inputs(signals: pd.DataFrame, actions: pd.Series) -> _Inputs:
    price = resolve_price(signals)
    if len(price) and not np.isfinite(price).all():
        raise ValueError("signals: every row needs a positive price, close or vwap")
    spread = _float_column(signals, "imbalance_spread")
    quoted = _float_column(signals, "imbalance_ask_px") - _float_column(signals, "imbalance_bid_px")
    spread = np.clip(np.where(np.isfinite(spread), spread, np.nan_to_num(quoted)), 0.0, None)
    volume = np.clip(np.nan_to_num(_float_column(signals, "volume")), 0.0, None)
    return _Inputs(bar_keys(signals), price, volume, spread, _aligned_actions(signals, actions))


@dataclass(frozen=True, eq=False)
class _Replay:
    layout: BarLayout
    price: FloatArray
    volume: FloatArray
    action: npt.NDArray[np.int8]
    desired: IntArray
    position: IntArray
    traded: IntArray
    caps: IntArray
    fills: IntArray
    fill_participation: FloatArray
    fill_notional: FloatArray
    fill_cost: FloatArray
    gross: FloatArray

    @property
    def exposure(self) -> FloatArray:
        out: FloatArray = np.abs(self.position) * self.price
        return out

    def _dense(self, at_fills: FloatArray) -> FloatArray:
        out = np.zeros(len(self.position))
        out[self.fills] = at_fills
        return out

    @property
    def participation(self) -> FloatArray:
        return self._dense(self.fill_participation)

    @property
    def notional(self) -> FloatArray:
        return self._dense(self.fill_notional)

    @property
    def cost(self) -> FloatArray:
        return self._dense(self.fill_cost)

    @property
    def net(self) -> FloatArray:
        out = self.gross.copy()
        out[self.fills] -= self.fill_cost
        return out


@dataclass(frozen=True, eq=False)
class _SortedBars:
    """The replay's inputs in (symbol, event_ts, seq) order with each row's distinct-bar-time index,
    computed once per window so that many candidates can be replayed over it."""

    layout: BarLayout
    price: FloatArray
    volume: FloatArray
    half_spread_bps: FloatArray
    price_change: FloatArray
    bar: IntArray
    n_times: int

    @classmethod
    def of(cls, layout: BarLayout, price: FloatArray, volume: FloatArray, spread: FloatArray) -> _SortedBars:
        times, bar = np.unique(layout.event_ts_ns, return_inverse=True)
        prev_price = previous_in_group(price, layout.group_start)
        change = np.where(layout.group_start, 0.0, price - np.nan_to_num(prev_price))
        return cls(
            layout, price, volume, spread / 2.0 / price * 1e4, change, bar.astype(np.int64), len(times)
        )

    def caps(self, max_participation: float) -> IntArray:
        out: IntArray = np.floor(max_participation * self.volume + _CAP_EPSILON).astype(np.int64)
        return out


def _sorted(inputs: _Inputs) -> _SortedBars:
    layout = layout_from_keys(inputs.keys)
    o = layout.order
    return _SortedBars.of(layout, inputs.price[o], inputs.volume[o], inputs.spread[o])


def _run(
    bars: _SortedBars, action: npt.NDArray[np.int8], spec: StrategySpec, cost_model: CostModel
) -> _Replay:
    """One candidate over sorted bars; `action` is in the bars' sorted order."""
    layout = bars.layout
    n = len(layout.order)
    price, volume = bars.price, bars.volume

    qty = np.maximum(np.floor(spec.param("notional_per_trade") / price + _CAP_EPSILON), 1.0)
    decided = np.where(action != 0, action.astype(np.float64), np.nan)
    last_action = previous_in_group(decided, layout.group_start)
    last_action[layout.group_start] = -1.0
    entry = (action > 0) & (_ffill(last_action) <= 0)
    entry_row = np.maximum.accumulate(np.where(entry, np.arange(n), 0)) if n else np.zeros(0, np.int64)
    target = np.where(action > 0, qty[entry_row], np.where(action < 0, 0.0, np.nan))
    target[layout.group_start & np.isnan(target)] = 0.0
    desired = np.nan_to_num(previous_in_group(_ffill(target), layout.group_start)).astype(np.int64)
    desired[layout.group_end] = 0

    caps = bars.caps(cost_model.max_participation)
    position = _fill_positions(desired, caps, layout.group_start, layout.group_end)
    before = np.where(layout.group_start, 0, np.append(0, position[:-1]))
    traded = position - before
    fills = np.flatnonzero(traded)
    abs_traded = np.abs(traded[fills]).astype(np.float64)
    fill_volume = volume[fills]
    per_volume = np.divide(abs_traded, fill_volume, out=np.ones(len(fills)), where=fill_volume > 0)
    participation = np.minimum(per_volume, 1.0)
    cost_bps = (
        bars.half_spread_bps[fills] * cost_model.spread_multiplier
        + cost_model.impact_bps_at_full_participation * participation
        + cost_model.commission_bps
    )
    notional = abs_traded * price[fills]
    return _Replay(
        layout,
        price,
        volume,
        action,
        desired,
        position,
        traded,
        caps,
        fills,
        participation,
        notional,
        notional * cost_bps / 1e4,
        before * bars.price_change,
    )


def replay(
    signals: pd.DataFrame, actions: pd.Series, spec: StrategySpec, cost_model: CostModel
) -> pd.DataFrame:
    """One row per (symbol, bar) in replay order, indexed by the input labels, with the position path,
    fills, costs and bar pnl; `summarize` of this frame equals `backtest`."""
    inputs = _inputs(signals, actions)
    bars = _sorted(inputs)
    r = _run(bars, inputs.action[bars.layout.order], spec, cost_model)
    keys = [c for c in ("symbol", "event_ts", "seq") if c in signals.columns]
    base = signals[keys].iloc[r.layout.order]
    columns: dict[str, object] = {
        "session_id": r.layout.group_id,
        "price": r.price,
        "volume": r.volume,
        "action": r.action,
        "desired_qty": r.desired,
        "position_qty": r.position,
        "traded_qty": r.traded,
        "fill_cap_qty": r.caps,
        "participation": r.participation,
        "traded_notional": r.notional,
        "cost": r.cost,
        "gross_pnl": r.gross,
        "net_pnl": r.gross - r.cost,
        "exposure_notional": r.exposure,
    }
    return pd.concat([base, pd.DataFrame(columns, index=base.index)], axis=1)


def window_mask(signals: pd.DataFrame, start: pd.Timestamp | None, end: pd.Timestamp | None) -> BoolArray:
    return _ts_mask(utc_index(signals["event_ts"]).as_unit("ns").asi8, start, end)


def _ts_mask(ts_ns: IntArray, start: pd.Timestamp | None, end: pd.Timestamp | None) -> BoolArray:
    mask = np.ones(len(ts_ns), dtype=bool)
    if start is not None:
        mask &= ts_ns >= utc_index(pd.DatetimeIndex([start])).as_unit("ns").asi8[0]
    if end is not None:
        mask &= ts_ns < utc_index(pd.DatetimeIndex([end])).as_unit("ns").asi8[0]
    return mask


def _exact_sum(values: FloatArray) -> float:
    """math.fsum over the non-zero entries only: the same correctly rounded sum, but a replay is mostly
    flat bars, and converting only the others is what keeps a many-candidate sweep cheap."""
    return math.fsum(values[values != 0].tolist())


def _metrics(
    bar: IntArray,
    n_times: int,
    action: npt.NDArray[np.int8],
    trade_count: int,
    gross_pnl: FloatArray,
    net_pnl: FloatArray,
    cost: FloatArray,
    notional: FloatArray,
    exposure: FloatArray,
) -> BacktestMetrics:
    """`cost` and `notional` may hold only the fill rows: only their sums are read."""
    if len(bar) == 0:
        return EMPTY_METRICS
    equity = np.cumsum(np.bincount(bar, weights=net_pnl, minlength=n_times))
    peak = np.maximum.accumulate(np.maximum(equity, 0.0))
    gross = _exact_sum(gross_pnl)
    cost_total = _exact_sum(cost)
    turnover = _exact_sum(notional)
    avg_exposure = _exact_sum(exposure) / n_times
    return BacktestMetrics(
        decision_count=int(np.count_nonzero(action)),
        trade_count=trade_count,
        gross_pnl=gross,
        net_pnl=gross - cost_total,
        max_drawdown=max(0.0, float(np.max(peak - equity))),
        turnover_notional=turnover,
        turnover_ratio=turnover / avg_exposure if avg_exposure > 0 else 0.0,
        cost_bps=cost_total / turnover * 1e4 if turnover > 0 else 0.0,
        cost_total=cost_total,
    )


def summarize(replayed: pd.DataFrame) -> BacktestMetrics:
    """Metrics of a `replay` frame (e.g. after filtering it to some symbols)."""

    def col(name: str) -> FloatArray:
        return replayed[name].to_numpy(dtype=np.float64)

    times, bar = np.unique(utc_index(replayed["event_ts"]).as_unit("ns").asi8, return_inverse=True)
    return _metrics(
        bar.astype(np.int64),
        len(times),
        replayed["action"].to_numpy(dtype=np.int8),
        int(np.count_nonzero(replayed["traded_qty"].to_numpy(dtype=np.int64))),
        col("gross_pnl"),
        col("gross_pnl") - col("cost"),
        col("cost"),
        col("traded_notional"),
        col("exposure_notional"),
    )


def backtest(
    signals: pd.DataFrame,
    actions: pd.Series,
    spec: StrategySpec,
    cost_model: CostModel,
    start: pd.Timestamp | None = None,
    end: pd.Timestamp | None = None,
) -> BacktestMetrics:
    """Metrics of the rows with start <= event_ts < end, replayed from a flat book (see module docstring)."""
    return backtest_windows(signals, actions, spec, cost_model, [(start, end)])[0]


def backtest_windows(
    signals: pd.DataFrame,
    actions: pd.Series,
    spec: StrategySpec,
    cost_model: CostModel,
    windows: Sequence[tuple[pd.Timestamp | None, pd.Timestamp | None]],
) -> list[BacktestMetrics]:
    """`backtest` for each [start, end) window (e.g. every fold's test range) of one frame; equal to
    calling `backtest` per window, but the frame is read once, which dominates the cost of short windows."""
    frame = WindowedFrame(signals, windows)
    return frame.metrics(frame.in_order(actions), spec, cost_model)


class WindowedFrame:
    """A signals frame sorted once and cut into [start, end) windows once (e.g. a run's fold test
    ranges), so a parameter sweep pays per candidate only for its actions and its replay.

    Each window is replayed from a flat book exactly as `backtest(signals, actions, spec, cost, start,
    end)` would: cutting the sorted frame keeps the order a sort of the cut would give.
    """

    def __init__(
        self,
        signals: pd.DataFrame,
        windows: Sequence[tuple[pd.Timestamp | None, pd.Timestamp | None]],
    ) -> None:
        self._signals = signals
        self._inputs = _inputs(signals, pd.Series(0, index=signals.index, dtype="int8"))
        full = _sorted(self._inputs)
        self._layout = full.layout
        self._order = full.layout.order
        self._columns: SortedColumns | None = None
        self._windows: list[tuple[BoolArray, _SortedBars]] = []
        for start, end in windows:
            rows = _ts_mask(full.layout.event_ts_ns, start, end)
            self._windows.append((rows, _sorted(self._inputs.take(self._order[rows]))))

    def in_order(self, actions: pd.Series) -> npt.NDArray[np.int8]:
        """Input-aligned actions (as `strategy_actions` returns them) in the frame's sorted order."""
        out: npt.NDArray[np.int8] = _aligned_actions(self._signals, actions)[self._order]
        return out

    def candidate_actions(self, spec: StrategySpec) -> npt.NDArray[np.int8]:
        if self._columns is None:
            self._columns = sorted_columns(self._signals, self._layout)
        return actions_in_order(self._columns, spec)

    def metrics(
        self, actions: npt.NDArray[np.int8], spec: StrategySpec, cost_model: CostModel
    ) -> list[BacktestMetrics]:
        """Per-window metrics of sorted-order `actions` (from `in_order` or `candidate_actions`)."""
        results = []
        for rows, bars in self._windows:
            r = _run(bars, actions[rows], spec, cost_model)
            results.append(
                _metrics(
                    bars.bar,
                    bars.n_times,
                    r.action,
                    len(r.fills),
                    r.gross,
                    r.net,
                    r.fill_cost,
                    r.fill_notional,
                    r.exposure,
                )
            )
        return results

    def evaluate(self, spec: StrategySpec, cost_model: CostModel) -> list[BacktestMetrics]:
        return self.metrics(self.candidate_actions(spec), spec, cost_model)


def regime_label(
    signals: pd.DataFrame, start: pd.Timestamp | None = None, end: pd.Timestamp | None = None
) -> str:
    """A descriptive label for a fold, not a statistical test.

    From 1-bar log returns within (symbol, session) over [start, end): vol = median over symbols of the
    return standard deviation; move = mean over symbols of the summed intraday log return, both in bps.
    `high_vol` if vol >= 15 bps per bar (about 47 % annualised on 1-minute bars); else `trend_up` /
    `trend_down` if move >= +25 / <= -25 bps; else `range`. `no_data` when no symbol has two bars.
    """
    window = signals[window_mask(signals, start, end)]
    if window.empty:
        return "no_data"
    layout = bar_layout(window)
    log_price = np.log(resolve_price(window)[layout.order])
    returns = log_price - previous_in_group(log_price, layout.group_start)
    valid = np.isfinite(returns)
    if not valid.any():
        return "no_data"
    sym = layout.symbol_code[valid]
    r = returns[valid]
    count = np.bincount(sym)
    total = np.bincount(sym, weights=r, minlength=len(count))
    present = count > 0
    mean = np.divide(total, count, out=np.zeros(len(count)), where=present)
    dev = np.bincount(sym, weights=(r - mean[sym]) ** 2, minlength=len(count))
    vol_bps = np.sqrt(dev[present] / count[present]) * 1e4
    move_bps = total[present] * 1e4
    if float(np.median(vol_bps)) >= HIGH_VOL_BPS_PER_BAR:
        return "high_vol"
    move = float(np.mean(move_bps))
    if move >= TREND_MOVE_BPS:
        return "trend_up"
    if move <= -TREND_MOVE_BPS:
        return "trend_down"
    return "range"


def net_pnl_cv(fold_net: Sequence[float]) -> float | None:
    """Population std / |mean| of per-fold net pnl; None below two folds or when the mean is exactly 0."""
    values = [float(v) for v in fold_net]
    if len(values) < 2:
        return None
    mean = math.fsum(values) / len(values)
    if mean == 0:
        return None
    std = math.sqrt(math.fsum((v - mean) ** 2 for v in values) / len(values))
    return std / abs(mean)


__all__ = [
    "EMPTY_METRICS",
    "HIGH_VOL_BPS_PER_BAR",
    "TREND_MOVE_BPS",
    "BacktestMetrics",
    "CostModel",
    "WindowedFrame",
    "backtest",
    "backtest_windows",
    "net_pnl_cv",
    "regime_label",
    "replay",
    "summarize",
    "window_mask",
]
