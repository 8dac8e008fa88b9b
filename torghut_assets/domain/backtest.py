"""Vectorised long-only replay of strategy actions, and the metrics the research ledger stores.

Semantics (domain.md §8 plus the choices the reference leaves open):

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
  portfolio per bar time, peak starting at 0 (domain.md §8).
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
    BoolArray,
    FloatArray,
    IntArray,
    StrategySpec,
    bar_layout,
    previous_in_group,
    resolve_price,
    utc_index,
)

HIGH_VOL_BPS_PER_BAR = 15.0
TREND_MOVE_BPS = 25.0

_CAP_EPSILON = 1e-9
_REPLAY_COLUMNS = (
    "symbol",
    "event_ts",
    "seq",
    "price",
    "close",
    "vwap",
    "volume",
    "imbalance_spread",
    "imbalance_bid_px",
    "imbalance_ask_px",
)


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


def replay(
    signals: pd.DataFrame, actions: pd.Series, spec: StrategySpec, cost_model: CostModel
) -> pd.DataFrame:
    """One row per (symbol, bar) in replay order, indexed by the input labels, with the position path,
    fills, costs and bar pnl; `backtest` only sums this frame."""
    layout = bar_layout(signals)
    o = layout.order
    n = len(o)
    price = resolve_price(signals)[o]
    if n and not np.isfinite(price).all():
        raise ValueError("signals: every row needs a positive price, close or vwap")
    volume = np.clip(np.nan_to_num(_float_column(signals, "volume")[o]), 0.0, None)
    action = _aligned_actions(signals, actions)[o]

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

    caps = np.floor(cost_model.max_participation * volume + _CAP_EPSILON).astype(np.int64)
    position = _fill_positions(desired, caps, layout.group_start, layout.group_end)
    before = np.where(layout.group_start, 0, np.append(0, position[:-1]))
    traded = position - before
    abs_traded = np.abs(traded).astype(np.float64)

    per_volume = np.divide(abs_traded, volume, out=np.ones(n), where=volume > 0)
    participation = np.minimum(np.where(traded != 0, per_volume, 0.0), 1.0)
    spread = _float_column(signals, "imbalance_spread")[o]
    quoted = (_float_column(signals, "imbalance_ask_px") - _float_column(signals, "imbalance_bid_px"))[o]
    spread = np.clip(np.where(np.isfinite(spread), spread, np.nan_to_num(quoted)), 0.0, None)
    half_spread_bps = spread / 2.0 / price * 1e4
    cost_bps = (
        half_spread_bps * cost_model.spread_multiplier
        + cost_model.impact_bps_at_full_participation * participation
        + cost_model.commission_bps
    )
    notional = abs_traded * price
    cost = notional * cost_bps / 1e4
    prev_price = previous_in_group(price, layout.group_start)
    gross = np.where(layout.group_start, 0.0, before * (price - np.nan_to_num(prev_price)))

    keys = [c for c in ("symbol", "event_ts", "seq") if c in signals.columns]
    frame = signals[keys].iloc[o]
    frame["session_id"] = layout.group_id
    frame["price"] = price
    frame["volume"] = volume
    frame["action"] = action
    frame["desired_qty"] = desired
    frame["position_qty"] = position
    frame["traded_qty"] = traded
    frame["fill_cap_qty"] = caps
    frame["participation"] = participation
    frame["traded_notional"] = notional
    frame["cost"] = cost
    frame["gross_pnl"] = gross
    frame["net_pnl"] = gross - cost
    frame["exposure_notional"] = np.abs(position) * price
    return frame


def window_mask(signals: pd.DataFrame, start: pd.Timestamp | None, end: pd.Timestamp | None) -> BoolArray:
    ts = utc_index(signals["event_ts"])
    mask = np.ones(len(signals), dtype=bool)
    if start is not None:
        mask &= np.asarray(ts >= utc_index(pd.DatetimeIndex([start]))[0])
    if end is not None:
        mask &= np.asarray(ts < utc_index(pd.DatetimeIndex([end]))[0])
    return mask


def summarize(replayed: pd.DataFrame) -> BacktestMetrics:
    if replayed.empty:
        return EMPTY_METRICS
    bar_net = replayed["net_pnl"].to_numpy(dtype=np.float64)
    times, bar = np.unique(utc_index(replayed["event_ts"]).asi8, return_inverse=True)
    equity = np.cumsum(np.bincount(bar, weights=bar_net, minlength=len(times)))
    peak = np.maximum.accumulate(np.maximum(equity, 0.0))
    gross = math.fsum(replayed["gross_pnl"].to_numpy(dtype=np.float64))
    cost = math.fsum(replayed["cost"].to_numpy(dtype=np.float64))
    turnover = math.fsum(replayed["traded_notional"].to_numpy(dtype=np.float64))
    avg_exposure = math.fsum(replayed["exposure_notional"].to_numpy(dtype=np.float64)) / len(times)
    return BacktestMetrics(
        decision_count=int(np.count_nonzero(replayed["action"].to_numpy())),
        trade_count=int(np.count_nonzero(replayed["traded_qty"].to_numpy())),
        gross_pnl=gross,
        net_pnl=gross - cost,
        max_drawdown=max(0.0, float(np.max(peak - equity))),
        turnover_notional=turnover,
        turnover_ratio=turnover / avg_exposure if avg_exposure > 0 else 0.0,
        cost_bps=cost / turnover * 1e4 if turnover > 0 else 0.0,
        cost_total=cost,
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
    mask = window_mask(signals, start, end)
    aligned = _aligned_actions(signals, actions)
    window = signals[[c for c in _REPLAY_COLUMNS if c in signals.columns]][mask]
    return summarize(replay(window, pd.Series(aligned[mask], index=window.index), spec, cost_model))


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
    "backtest",
    "net_pnl_cv",
    "regime_label",
    "replay",
    "summarize",
    "window_mask",
]
