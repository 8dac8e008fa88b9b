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

from torghut_assets.domain.decisions import DecisionStatus, TradeDecision
from torghut_assets.domain.orders import OrderReport, OrderRequest, OrderSide, OrderStatus
from torghut_assets.domain.routing import Venue

SIMULATOR_VERSION = "torghut-paper-sim/1"


@dataclass(frozen=True)
class FillModel:
    impact_bps_at_full_participation: float = 50.0
    max_participation: float = 0.10
    extra_cost_bps: float = 0.0


@dataclass(frozen=True)
class PaperFill:
    decision: TradeDecision
    order_id: str
    status: OrderStatus
    submitted_qty: int
    filled_qty: int
    avg_fill_price: float | None
    filled_at: pd.Timestamp | None
    expected_shortfall_bps_p50: float
    expected_shortfall_bps_p95: float
    fill_bar: dict[str, object]


def _expected_cost_bps(spread_bps: float, participation: float, model: FillModel) -> float:
    return spread_bps / 2.0 + model.impact_bps_at_full_participation * participation + model.extra_cost_bps


@dataclass(frozen=True)
class FillOutcome:
    status: OrderStatus
    filled_qty: int
    avg_fill_price: float | None
    filled_at: pd.Timestamp | None
    expected_shortfall_bps_p50: float
    expected_shortfall_bps_p95: float
    fill_bar: dict[str, object]


def bars_by_symbol(bars: pd.DataFrame) -> dict[str, pd.DataFrame]:
    if bars.empty:
        return {}
    return {str(sym): frame.sort_values("ts").reset_index(drop=True) for sym, frame in bars.groupby("symbol")}


def fill_market_order(
    symbol_bars: pd.DataFrame | None, event_ts: pd.Timestamp, side: OrderSide, qty: int, model: FillModel
) -> FillOutcome:
    """Fill at the first bar starting at or after `event_ts`; no such bar ⇒ the day order expires."""
    idx = None if symbol_bars is None else int(symbol_bars["ts"].searchsorted(event_ts, "left"))
    if symbol_bars is None or idx is None or idx >= len(symbol_bars):
        return FillOutcome(OrderStatus.EXPIRED, 0, None, None, 0.0, 0.0, {})
    bar = symbol_bars.iloc[idx]
    volume = int(bar["volume"])
    filled = min(qty, math.floor(model.max_participation * volume))
    participation = filled / volume if volume > 0 else 0.0
    cost_bps = _expected_cost_bps(float(bar["spread_bps"]), participation, model)
    direction = 1 if side == OrderSide.BUY else -1
    price = round(float(bar["open"]) * (1 + direction * cost_bps / 1e4), 4)
    full_participation = qty / volume if volume > 0 else 1.0
    p95 = _expected_cost_bps(float(bar["spread_bps"]) * 1.5, min(full_participation, 1.0), model)
    status = (
        OrderStatus.FILLED
        if filled == qty
        else (OrderStatus.PARTIALLY_FILLED if filled > 0 else OrderStatus.CANCELED)
    )
    return FillOutcome(
        status=status,
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


def simulate_fills(
    decisions: list[TradeDecision], bars: pd.DataFrame, model: FillModel | None = None
) -> list[PaperFill]:
    """Fill every planned decision against `bars` (symbol, ts, open, volume, spread_bps)."""
    model = model or FillModel()
    by_symbol = bars_by_symbol(bars)
    fills: list[PaperFill] = []
    for decision in decisions:
        if decision.status != DecisionStatus.PLANNED:
            continue
        outcome = fill_market_order(
            by_symbol.get(decision.symbol), decision.event_ts, decision.action, decision.qty, model
        )
        fills.append(
            PaperFill(
                decision=decision,
                order_id=f"sim-{decision.decision_hash[:32]}",
                status=outcome.status,
                submitted_qty=decision.qty,
                filled_qty=outcome.filled_qty,
                avg_fill_price=outcome.avg_fill_price,
                filled_at=outcome.filled_at,
                expected_shortfall_bps_p50=outcome.expected_shortfall_bps_p50,
                expected_shortfall_bps_p95=outcome.expected_shortfall_bps_p95,
                fill_bar=outcome.fill_bar,
            )
        )
    return fills


class SimulatedVenue:
    """The paper broker as an ExecutionVenue. `name` distinguishes simulator twins of real venues in
    parity runs; `delay_bars` lets a twin fill one bar later, as a slower route would.

    Its record is its book: every order submitted to this instance, by client order id (a resubmission
    replaces the entry, as the decision hash makes it the same order). `orders_between` lists that book
    (`OrderListingVenue`), so it holds only what this process placed: a venue built afresh, as the
    nightly reconciliation builds one, lists nothing, and the reconciliation reports that as a warning.
    """

    def __init__(
        self,
        bars: pd.DataFrame,
        *,
        name: str = Venue.SIMULATOR,
        model: FillModel | None = None,
        delay_bars: int = 0,
    ) -> None:
        self.name = name
        self._bars = bars_by_symbol(bars)
        self._model = model or FillModel()
        self._delay = pd.Timedelta(minutes=delay_bars)
        self._book: dict[str, tuple[pd.Timestamp, OrderReport]] = {}

    def healthy(self) -> bool:
        return True

    def orders_between(self, since: pd.Timestamp, until: pd.Timestamp) -> list[OrderReport]:
        """The booked orders submitted in [`since`, `until`) or filled in that span, oldest first."""
        if not since < until:
            raise ValueError(f"an empty range: since {since.isoformat()} is not before {until.isoformat()}")
        listed = [
            (submitted, report)
            for submitted, report in self._book.values()
            if since <= submitted < until
            or (report.filled_at is not None and since <= report.filled_at < until)
        ]
        return [report for _, report in sorted(listed, key=lambda item: (item[0], item[1].client_order_id))]

    def submit(self, order: OrderRequest) -> OrderReport:
        outcome = fill_market_order(
            self._bars.get(order.symbol),
            order.submitted_at + self._delay,
            OrderSide(order.side),
            order.qty,
            self._model,
        )
        order_id = (
            f"sim-{order.client_order_id[:32]}"
            if self.name == Venue.SIMULATOR
            else (f"{self.name}-sim-{order.client_order_id[:28]}")
        )
        report = OrderReport(
            venue=self.name,
            order_id=order_id,
            client_order_id=order.client_order_id,
            symbol=order.symbol,
            side=order.side,
            submitted_qty=float(order.qty),
            filled_qty=float(outcome.filled_qty),
            avg_fill_price=outcome.avg_fill_price,
            status=outcome.status,
            filled_at=outcome.filled_at,
            fees=0.0,
            raw={
                "simulated": True,
                "simulator_version": SIMULATOR_VERSION,
                "market_arrival_price": outcome.fill_bar.get("open"),
                "expected_shortfall_bps_p50": outcome.expected_shortfall_bps_p50,
                "expected_shortfall_bps_p95": outcome.expected_shortfall_bps_p95,
                "fill_bar": outcome.fill_bar,
            },
        )
        self._book[order.client_order_id] = (order.submitted_at, report)
        return report
