"""Simulated paper broker: the default execution venue when no broker credentials exist.

A market order fills at the open of the first bar after the decision (the decision is made on a bar's
close, so the next bar is the earliest honest fill), paying half the quoted spread plus linear impact,
capped at a share of the bar's volume (the rest of a day order is cancelled). No bar left
in the session means the day order expires unfilled. Everything is a pure function of the bars, so a
window's fills can be re-derived bit for bit for reconciliation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from torghut_assets.domain.decisions import TradeDecision

SIMULATOR_ADAPTER = "simulator"
SIMULATOR_VERSION = "torghut-paper-sim/1"


@dataclass(frozen=True)
class FillModel:
    impact_bps_at_full_participation: float = 50.0
    max_participation: float = 0.10


@dataclass(frozen=True)
class PaperFill:
    decision: TradeDecision
    order_id: str
    status: str
    submitted_qty: int
    filled_qty: int
    avg_fill_price: float | None
    filled_at: pd.Timestamp | None
    expected_shortfall_bps_p50: float
    expected_shortfall_bps_p95: float
    fill_bar: dict[str, object]


def _expected_cost_bps(spread_bps: float, participation: float, model: FillModel) -> float:
    return spread_bps / 2.0 + model.impact_bps_at_full_participation * participation


def simulate_fills(
    decisions: list[TradeDecision], bars: pd.DataFrame, model: FillModel | None = None
) -> list[PaperFill]:
    """Fill every planned decision against `bars` (symbol, ts, open, volume, spread_bps)."""
    model = model or FillModel()
    by_symbol = {
        str(sym): frame.sort_values("ts").reset_index(drop=True) for sym, frame in bars.groupby("symbol")
    }
    fills: list[PaperFill] = []
    for decision in decisions:
        if decision.status != "planned":
            continue
        order_id = f"sim-{decision.decision_hash[:32]}"
        symbol_bars = by_symbol.get(decision.symbol)
        idx = None if symbol_bars is None else int(symbol_bars["ts"].searchsorted(decision.event_ts, "left"))
        if symbol_bars is None or idx is None or idx >= len(symbol_bars):
            fills.append(PaperFill(decision, order_id, "expired", decision.qty, 0, None, None, 0.0, 0.0, {}))
            continue
        bar = symbol_bars.iloc[idx]
        volume = int(bar["volume"])
        capacity = math.floor(model.max_participation * volume)
        filled = min(decision.qty, capacity)
        participation = filled / volume if volume > 0 else 0.0
        cost_bps = _expected_cost_bps(float(bar["spread_bps"]), participation, model)
        direction = 1 if decision.action == "buy" else -1
        price = round(float(bar["open"]) * (1 + direction * cost_bps / 1e4), 4)
        full_participation = decision.qty / volume if volume > 0 else 1.0
        p95 = _expected_cost_bps(float(bar["spread_bps"]) * 1.5, min(full_participation, 1.0), model)
        status = "filled" if filled == decision.qty else ("partially_filled" if filled > 0 else "canceled")
        fills.append(
            PaperFill(
                decision=decision,
                order_id=order_id,
                status=status,
                submitted_qty=decision.qty,
                filled_qty=filled,
                avg_fill_price=price if filled > 0 else None,
                filled_at=pd.Timestamp(bar["ts"]) if filled > 0 else None,
                expected_shortfall_bps_p50=cost_bps,
                expected_shortfall_bps_p95=max(p95, cost_bps),
                fill_bar={
                    "ts": pd.Timestamp(bar["ts"]),
                    "open": float(bar["open"]),
                    "volume": volume,
                    "spread_bps": float(bar["spread_bps"]),
                },
            )
        )
    return fills
