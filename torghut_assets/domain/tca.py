"""Transaction cost analysis per execution (docs/routing.md).

Positive slippage and shortfall always mean "worse than arrival", on either side, so costs add up.
The reference's arrival is the decision price; this project adds a split of the shortfall into delay
(decision price → market price when the order reached the venue) and impact (market arrival → fill),
plus fees.
"""

from __future__ import annotations

from dataclasses import dataclass

from torghut_assets.domain.orders import OrderSide

DIRECTION = {OrderSide.BUY: 1, OrderSide.SELL: -1}


@dataclass(frozen=True)
class TcaInput:
    side: OrderSide
    arrival_price: float | None
    avg_fill_price: float | None
    submitted_qty: float
    filled_qty: float
    prior_signed_qty: float
    expected_shortfall_bps_p50: float | None = None
    expected_shortfall_bps_p95: float | None = None
    market_arrival_price: float | None = None
    fees: float = 0.0


@dataclass(frozen=True)
class TcaMetrics:
    signed_qty: float
    fill_ratio: float | None
    slippage_bps: float | None
    shortfall_notional: float | None
    realized_shortfall_bps: float | None
    divergence_bps: float | None
    churn_qty: float
    churn_ratio: float | None
    delay_cost_notional: float | None = None
    impact_cost_notional: float | None = None
    fees_notional: float = 0.0
    implementation_shortfall_notional: float | None = None


def compute_tca(inp: TcaInput) -> TcaMetrics:
    """Slippage/shortfall only when arrival, fill price and a positive fill all exist; never guessed."""
    direction = DIRECTION[inp.side]
    signed = direction * inp.filled_qty
    fill_ratio = inp.filled_qty / inp.submitted_qty if inp.submitted_qty > 0 else None
    churn_qty = 0.0
    if inp.prior_signed_qty * signed < 0:
        churn_qty = min(abs(inp.prior_signed_qty), abs(signed))
    churn_ratio = churn_qty / inp.filled_qty if inp.filled_qty > 0 else None
    arrival, fill = inp.arrival_price, inp.avg_fill_price
    if arrival is None or fill is None or arrival <= 0 or inp.filled_qty <= 0:
        return TcaMetrics(signed, fill_ratio, None, None, None, None, churn_qty, churn_ratio)
    slippage = direction * (fill - arrival) / arrival * 1e4
    shortfall = direction * (fill - arrival) * inp.filled_qty
    divergence = None if inp.expected_shortfall_bps_p50 is None else slippage - inp.expected_shortfall_bps_p50
    market = (
        inp.market_arrival_price if inp.market_arrival_price and inp.market_arrival_price > 0 else arrival
    )
    delay = direction * (market - arrival) * inp.filled_qty
    impact = direction * (fill - market) * inp.filled_qty
    return TcaMetrics(
        signed,
        fill_ratio,
        slippage,
        shortfall,
        slippage,
        divergence,
        churn_qty,
        churn_ratio,
        delay_cost_notional=delay,
        impact_cost_notional=impact,
        fees_notional=inp.fees,
        implementation_shortfall_notional=shortfall + inp.fees,
    )
