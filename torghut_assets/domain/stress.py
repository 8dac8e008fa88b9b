"""Stress cases: shock the inputs, re-derive actions, re-run the replay, compare with the baseline.

Shocks are deterministic transforms of the signals frame and the cost model, so a stress row in the ledger
is reproducible from the same evidence hashes as the fold rows (docs/research.md). Actions are recomputed from
the shocked frame: a shock that changes what the strategy sees must be allowed to change what it does.

* spread: spread_multiplier x3.
* volatility: every price-level column is mapped x -> p0 * (x / p0)^2 with p0 the first price of the
  symbol-session, i.e. log-moves around the open are doubled; the map is monotone and keeps prices > 0.
  Price-difference indicators (macd, macd_signal, macd_hist) are scaled by the map's slope 2p/p0 at the
  bar price, vol_realized_w60s x2, rsi14 unchanged (RSI is a ratio of gains to losses, invariant when
  every move scales alike). Quotes scale with the price so the quoted spread in bps is unchanged; the
  widening is spread_multiplier x1.5.
* liquidity: max_participation cut to 0.02 (never raised) and volumes x0.25 (floored), so orders fill
  partially over several bars.
* halt: decision indicators (not prices, not quotes) lag 5 bars within each symbol-session, so actions
  come 5 bars late; and a block of max(1, n // 10) bars starting at the session midpoint is dropped per
  symbol-session of n >= 3 bars, never its last bar, so positions ride through the gap and trading
  resumes after it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from torghut_assets.domain.backtest import BacktestMetrics, CostModel, backtest
from torghut_assets.domain.signal_frame import INDICATOR_COLUMNS
from torghut_assets.domain.strategies import (
    BarLayout,
    FloatArray,
    StrategySpec,
    bar_layout,
    resolve_price,
    strategy_actions,
)

STRESS_CASES: tuple[str, ...] = ("spread", "volatility", "liquidity", "halt")

SPREAD_MULTIPLIER = 3.0
VOLATILITY_SCALE = 2.0
VOLATILITY_SPREAD_MULTIPLIER = 1.5
LIQUIDITY_MAX_PARTICIPATION = 0.02
LIQUIDITY_VOLUME_FACTOR = 0.25
HALT_DELAY_BARS = 5
HALT_BLOCK_FRACTION = 0.10

_LEVEL_COLUMNS = (
    "price",
    "close",
    "vwap",
    "ema12",
    "ema26",
    "boll_mid",
    "boll_upper",
    "boll_lower",
    "vwap_session",
    "vwap_w5m",
)
_DIFFERENCE_COLUMNS = ("macd", "macd_signal", "macd_hist")
_QUOTE_COLUMNS = ("imbalance_spread", "imbalance_bid_px", "imbalance_ask_px")
_DECISION_COLUMNS = tuple(c for c in INDICATOR_COLUMNS if c not in _QUOTE_COLUMNS)


@dataclass(frozen=True)
class StressResult:
    stress_case: str
    metrics: BacktestMetrics
    baseline: BacktestMetrics

    @property
    def pessimistic_pnl_delta(self) -> float:
        return self.metrics.net_pnl - self.baseline.net_pnl

    def metric_bundle(self) -> dict[str, object]:
        """`research_stress_metrics.metric_bundle` (docs/ledger.md)."""
        m = self.metrics
        return {
            "case": self.stress_case,
            "max_drawdown": m.max_drawdown,
            "cost_bps": m.cost_bps,
            "turnover_ratio": m.turnover_ratio,
            "net_pnl": m.net_pnl,
            "gross_pnl": m.gross_pnl,
            "decision_count": m.decision_count,
            "trade_count": m.trade_count,
        }


def _check_case(case: str) -> None:
    if case not in STRESS_CASES:
        raise ValueError(f"unknown stress case {case!r}; known: {', '.join(STRESS_CASES)}")


def _sorted_values(frame: pd.DataFrame, column: str, layout: BarLayout) -> FloatArray:
    values = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    return values[layout.order]


def _put_sorted(frame: pd.DataFrame, column: str, values: FloatArray, layout: BarLayout) -> None:
    out = np.empty_like(values)
    out[layout.order] = values
    frame[column] = out


def _volatility(signals: pd.DataFrame, layout: BarLayout) -> pd.DataFrame:
    shocked = signals.copy()
    price = resolve_price(signals)[layout.order]
    first = np.flatnonzero(layout.group_start)
    p0 = price[first][layout.group_id]
    ratio_at_price = (price / p0) ** (VOLATILITY_SCALE - 1.0)
    slope = VOLATILITY_SCALE * ratio_at_price
    for column in _LEVEL_COLUMNS:
        if column in signals.columns:
            x = _sorted_values(signals, column, layout)
            with np.errstate(invalid="ignore"):
                mapped = np.where(x > 0, p0 * (x / p0) ** VOLATILITY_SCALE, x)
            _put_sorted(shocked, column, mapped, layout)
    for column in _DIFFERENCE_COLUMNS:
        if column in signals.columns:
            _put_sorted(shocked, column, _sorted_values(signals, column, layout) * slope, layout)
    for column in _QUOTE_COLUMNS:
        if column in signals.columns:
            _put_sorted(shocked, column, _sorted_values(signals, column, layout) * ratio_at_price, layout)
    if "vol_realized_w60s" in signals.columns:
        shocked["vol_realized_w60s"] = signals["vol_realized_w60s"] * VOLATILITY_SCALE
    return shocked


def _halt(signals: pd.DataFrame, layout: BarLayout) -> pd.DataFrame:
    shocked = signals.copy()
    n = len(layout.order)
    group = layout.group_id
    first = np.flatnonzero(layout.group_start)
    rank = np.arange(n) - first[group]
    size = np.bincount(group)[group]
    source = np.arange(n) - HALT_DELAY_BARS
    stale = rank < HALT_DELAY_BARS
    for column in _DECISION_COLUMNS:
        if column in signals.columns:
            x = _sorted_values(signals, column, layout)
            lagged = np.where(stale, np.nan, x[np.clip(source, 0, None)])
            _put_sorted(shocked, column, lagged, layout)
    block = np.maximum(1, (size * HALT_BLOCK_FRACTION + 1e-9).astype(np.int64))
    begin = size // 2
    halted = (size >= 3) & (rank >= begin) & (rank < np.minimum(begin + block, size - 1))
    keep = np.ones(n, dtype=bool)
    keep[layout.order[halted]] = False
    return shocked[keep]


def stress_inputs(case: str, signals: pd.DataFrame, cost_model: CostModel) -> tuple[pd.DataFrame, CostModel]:
    """The shocked (signals, cost model) for one case; input row order and index labels are kept."""
    _check_case(case)
    if case == "spread":
        wider = cost_model.spread_multiplier * SPREAD_MULTIPLIER
        return signals, replace(cost_model, spread_multiplier=wider)
    layout = bar_layout(signals)
    if case == "volatility":
        widened = cost_model.spread_multiplier * VOLATILITY_SPREAD_MULTIPLIER
        return _volatility(signals, layout), replace(cost_model, spread_multiplier=widened)
    if case == "liquidity":
        thin = signals.copy()
        volume = pd.to_numeric(signals["volume"], errors="coerce").fillna(0)
        thinned = np.floor(volume.to_numpy(dtype=np.float64) * LIQUIDITY_VOLUME_FACTOR)
        thin["volume"] = pd.Series(thinned, index=signals.index).astype(signals["volume"].dtype)
        capped = min(cost_model.max_participation, LIQUIDITY_MAX_PARTICIPATION)
        return thin, replace(cost_model, max_participation=capped)
    return _halt(signals, layout), cost_model


def run_stress(
    case: str,
    signals: pd.DataFrame,
    spec: StrategySpec,
    cost_model: CostModel,
    start: pd.Timestamp | None = None,
    end: pd.Timestamp | None = None,
    *,
    baseline: BacktestMetrics | None = None,
) -> StressResult:
    """Baseline and stressed backtests over [start, end); the shock is applied to the whole frame first so
    session anchors and indicator lags do not depend on where the window starts. Pass `baseline` (the
    unshocked metrics of the same window) to avoid recomputing it once per case."""
    _check_case(case)
    if baseline is None:
        baseline = backtest(signals, strategy_actions(signals, spec), spec, cost_model, start, end)
    shocked, shocked_costs = stress_inputs(case, signals, cost_model)
    stressed = backtest(shocked, strategy_actions(shocked, spec), spec, shocked_costs, start, end)
    return StressResult(stress_case=case, metrics=stressed, baseline=baseline)


__all__ = ["STRESS_CASES", "StressResult", "run_stress", "stress_inputs"]
