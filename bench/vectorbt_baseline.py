"""The research sweep written the way a vectorbt user would: wide (time x symbol) arrays, the macd_rsi
rule as array comparisons, and `Portfolio.from_signals` per fold over a chunk of candidates.

It encodes the engine's execution semantics (domain/backtest.py) in vectorbt terms so the two must
agree on PnL: a decision on bar t fills at the next bar's price, long only without pyramiding, the
size fixed at the entry decision, every (symbol, session) closed at its last bar inside the fold.
Costs are the part of the cost model vectorbt can express as a per-order fee fraction (half spread
and commission); the sweep therefore uses impact 0 and a participation cap that never binds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from torghut_assets.domain.backtest import CostModel
from torghut_assets.domain.strategies import MARKET_TZ, StrategySpec, resolve_price, utc_index
from torghut_assets.domain.walk_forward import Fold

_EPS = 1e-9


@dataclass(frozen=True)
class WideFrame:
    """One fold's rows as (bar time x symbol) arrays; requires a full grid (every symbol every bar)."""

    price: np.ndarray
    fee: np.ndarray
    macd: np.ndarray
    macd_signal: np.ndarray
    rsi: np.ndarray
    group_start: np.ndarray
    group_end: np.ndarray


def wide_folds(signals: pd.DataFrame, folds: Sequence[Fold], cost: CostModel) -> list[WideFrame]:
    ordered = signals.sort_values(["event_ts", "symbol"], kind="stable")
    n_symbols = ordered["symbol"].nunique()
    ts = utc_index(ordered["event_ts"]).as_unit("ns")
    times = ts.asi8.reshape(-1, n_symbols)[:, 0]
    day = ts.tz_convert(MARKET_TZ).tz_localize(None).normalize().asi8.reshape(-1, n_symbols)[:, 0]

    def grid(values: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(values.reshape(-1, n_symbols))

    price = resolve_price(ordered)
    spread = ordered["imbalance_spread"].to_numpy(dtype=np.float64, na_value=np.nan)
    quoted = (ordered["imbalance_ask_px"] - ordered["imbalance_bid_px"]).to_numpy(np.float64, na_value=np.nan)
    spread = np.clip(np.where(np.isfinite(spread), spread, np.nan_to_num(quoted)), 0.0, None)
    fee = (spread / 2.0 / price * 1e4 * cost.spread_multiplier + cost.commission_bps) / 1e4
    columns = {
        c: grid(ordered[c].to_numpy(np.float64, na_value=np.nan)) for c in ("macd", "macd_signal", "rsi14")
    }
    out = []
    for fold in folds:
        lo = np.searchsorted(times, pd.Timestamp(fold.test_start).as_unit("ns").value)
        hi = np.searchsorted(times, pd.Timestamp(fold.test_end).as_unit("ns").value)
        d = day[lo:hi]
        start = np.r_[True, d[1:] != d[:-1]]
        end = np.r_[start[1:], True]
        out.append(
            WideFrame(
                grid(price)[lo:hi],
                grid(fee)[lo:hi],
                columns["macd"][lo:hi],
                columns["macd_signal"][lo:hi],
                columns["rsi14"][lo:hi],
                start,
                end,
            )
        )
    return out


def fold_net_pnl(vbt: object, wide: WideFrame, specs: Sequence[StrategySpec]) -> np.ndarray:
    """Net PnL per candidate (summed over symbols) of one fold, for a chunk of candidates."""
    _t, s = wide.price.shape
    c = len(specs)
    buy_below = np.repeat([sp.param("rsi_buy_below") for sp in specs], s)
    sell_above = np.repeat([sp.param("rsi_sell_above") for sp in specs], s)
    notional = np.repeat([sp.param("notional_per_trade") for sp in specs], s)
    macd, sig, rsi = (np.tile(a, (1, c)) for a in (wide.macd, wide.macd_signal, wide.rsi))
    price = np.tile(wide.price, (1, c))
    with np.errstate(invalid="ignore"):
        action = ((macd > sig) & (rsi < buy_below)).astype(np.int8) - ((macd < sig) & (rsi > sell_above))
    prev = np.zeros_like(action)
    prev[1:] = action[:-1]
    prev[wide.group_start] = 0
    qty = np.maximum(np.floor(notional / price + _EPS), 1.0)
    size = np.empty_like(qty)
    size[1:] = qty[:-1]
    size[0] = 1.0
    entries = (prev > 0) & ~wide.group_end[:, None]
    exits = (prev < 0) | wide.group_end[:, None]
    portfolio = vbt.Portfolio.from_signals(  # type: ignore[attr-defined]
        price,
        entries,
        exits,
        size=size,
        size_type="amount",
        fees=np.tile(wide.fee, (1, c)),
        init_cash=np.inf,
        direction="longonly",
        accumulate=False,
    )
    records = portfolio.trades.values
    pnl = np.bincount(records["col"], weights=records["pnl"], minlength=c * s)
    return pnl.reshape(c, s).sum(axis=1)
