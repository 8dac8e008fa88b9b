"""Specification of per-execution TCA (docs/routing.md), starting from the worked table."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from torghut_assets.domain.tca import TcaInput, compute_tca

# docs/routing.md worked table.
ORDER_A = TcaInput(
    side="buy",
    arrival_price=50.00,
    avg_fill_price=50.05,
    submitted_qty=100,
    filled_qty=100,
    prior_signed_qty=0,
)
ORDER_B = TcaInput(
    side="sell",
    arrival_price=50.00,
    avg_fill_price=49.98,
    submitted_qty=100,
    filled_qty=80,
    prior_signed_qty=0,
)


def _with(inp: TcaInput, **changes: Any) -> TcaInput:
    return dataclasses.replace(inp, **changes)


# --- the worked table, row by row -------------------------------------------------------------------


def test_worked_table_order_a_buy_filled_above_arrival_costs_10_bps() -> None:
    m = compute_tca(ORDER_A)
    assert m.slippage_bps == pytest.approx(10.0)
    assert m.shortfall_notional == pytest.approx(5.00)
    assert m.fill_ratio == pytest.approx(1.0)
    assert m.signed_qty == 100


def test_worked_table_order_b_sell_filled_below_arrival_costs_4_bps() -> None:
    m = compute_tca(ORDER_B)
    assert m.slippage_bps == pytest.approx(4.0)
    assert m.shortfall_notional == pytest.approx(1.60)
    assert m.fill_ratio == pytest.approx(0.8)
    assert m.signed_qty == -80


def test_worked_table_shortfall_total_is_6_60_so_pnl_proxy_is_minus_6_60() -> None:
    total = sum(compute_tca(o).shortfall_notional or 0.0 for o in (ORDER_A, ORDER_B))
    assert total == pytest.approx(6.60)
    assert -total == pytest.approx(-6.60)


def test_worked_table_adverse_excursion_p95_nearest_rank_and_max_are_10() -> None:
    adverse = sorted(abs(compute_tca(o).realized_shortfall_bps or 0.0) for o in (ORDER_A, ORDER_B))
    assert adverse == pytest.approx([4.0, 10.0])
    p95_index = -(-len(adverse) * 95 // 100) - 1  # ceil(n * 0.95) - 1 == 1
    assert adverse[p95_index] == pytest.approx(10.0)
    assert max(adverse) == pytest.approx(10.0)


def test_worked_table_order_b_after_long_100_churns_80_shares_ratio_1() -> None:
    m = compute_tca(_with(ORDER_B, prior_signed_qty=100))
    assert m.churn_qty == pytest.approx(80.0)
    assert m.churn_ratio == pytest.approx(1.0)


def test_realized_shortfall_bps_equals_slippage_bps() -> None:
    for order in (ORDER_A, ORDER_B):
        m = compute_tca(order)
        assert m.realized_shortfall_bps == m.slippage_bps


# --- no guessing: slippage needs an arrival and a fill ----------------------------------------------


def test_no_slippage_without_a_fill_price() -> None:
    m = compute_tca(_with(ORDER_A, avg_fill_price=None, filled_qty=0))
    assert (m.slippage_bps, m.shortfall_notional, m.realized_shortfall_bps, m.divergence_bps) == (
        None,
        None,
        None,
        None,
    )


def test_no_slippage_when_nothing_filled_even_with_a_price() -> None:
    m = compute_tca(_with(ORDER_A, filled_qty=0, expected_shortfall_bps_p50=3.0))
    assert m.slippage_bps is None
    assert m.shortfall_notional is None
    assert m.divergence_bps is None
    assert m.fill_ratio == 0.0
    assert m.churn_ratio is None


@pytest.mark.parametrize("arrival", [None, 0.0, -50.0])
def test_no_slippage_without_a_positive_arrival_price(arrival: float | None) -> None:
    m = compute_tca(_with(ORDER_A, arrival_price=arrival, expected_shortfall_bps_p50=3.0))
    assert m.slippage_bps is None
    assert m.shortfall_notional is None
    assert m.divergence_bps is None
    # Quantities are still known, so fill ratio and signed qty are still reported.
    assert m.fill_ratio == pytest.approx(1.0)
    assert m.signed_qty == 100


def test_fill_ratio_is_unknown_when_nothing_was_submitted() -> None:
    assert compute_tca(_with(ORDER_A, submitted_qty=0, filled_qty=0, avg_fill_price=None)).fill_ratio is None


# --- sign conventions ---------------------------------------------------------------------------------


def test_positive_slippage_means_worse_for_a_buy_filled_above_arrival() -> None:
    assert (compute_tca(_with(ORDER_A, avg_fill_price=50.10)).slippage_bps or 0.0) > 0


def test_negative_slippage_means_better_for_a_buy_filled_below_arrival() -> None:
    m = compute_tca(_with(ORDER_A, avg_fill_price=49.95))
    assert m.slippage_bps == pytest.approx(-10.0)
    assert m.shortfall_notional == pytest.approx(-5.0)


def test_positive_slippage_means_worse_for_a_sell_filled_below_arrival() -> None:
    assert (compute_tca(_with(ORDER_B, avg_fill_price=49.90)).slippage_bps or 0.0) > 0


def test_negative_slippage_means_better_for_a_sell_filled_above_arrival() -> None:
    m = compute_tca(_with(ORDER_B, avg_fill_price=50.02))
    assert m.slippage_bps == pytest.approx(-4.0)
    assert m.shortfall_notional == pytest.approx(-1.60)


@given(
    arrival=st.floats(min_value=1.0, max_value=2_000.0),
    move_bps=st.floats(min_value=-200.0, max_value=200.0),
    qty=st.integers(min_value=1, max_value=10_000),
)
def test_same_adverse_move_costs_the_same_on_either_side(arrival: float, move_bps: float, qty: int) -> None:
    """A buy filled `move` above arrival and a sell filled `move` below it have equal positive cost."""
    move = arrival * move_bps / 1e4
    buy = compute_tca(TcaInput("buy", arrival, arrival + move, qty, qty, 0))
    sell = compute_tca(TcaInput("sell", arrival, arrival - move, qty, qty, 0))
    assert buy.slippage_bps == pytest.approx(sell.slippage_bps, abs=1e-6)
    assert buy.shortfall_notional == pytest.approx(sell.shortfall_notional, abs=1e-6)
    assert buy.slippage_bps == pytest.approx(move_bps, abs=1e-6)


# --- divergence ---------------------------------------------------------------------------------------


def test_divergence_is_realized_minus_expected_p50() -> None:
    m = compute_tca(_with(ORDER_A, expected_shortfall_bps_p50=3.5, expected_shortfall_bps_p95=8.0))
    assert m.divergence_bps == pytest.approx(10.0 - 3.5)


def test_divergence_is_negative_when_execution_beat_the_model() -> None:
    m = compute_tca(_with(ORDER_B, expected_shortfall_bps_p50=6.0))
    assert m.divergence_bps == pytest.approx(4.0 - 6.0)


def test_divergence_is_unknown_without_an_expected_p50() -> None:
    assert compute_tca(_with(ORDER_A, expected_shortfall_bps_p95=8.0)).divergence_bps is None


# --- churn --------------------------------------------------------------------------------------------


def test_no_churn_when_adding_to_a_position_on_the_same_side() -> None:
    m = compute_tca(_with(ORDER_A, prior_signed_qty=100))
    assert m.churn_qty == 0.0
    assert m.churn_ratio == 0.0


def test_no_churn_from_flat() -> None:
    m = compute_tca(ORDER_B)
    assert m.churn_qty == 0.0
    assert m.churn_ratio == 0.0


def test_churn_is_capped_by_the_prior_position() -> None:
    m = compute_tca(_with(ORDER_B, prior_signed_qty=30))
    assert m.churn_qty == pytest.approx(30.0)
    assert m.churn_ratio == pytest.approx(30.0 / 80.0)


def test_buy_covering_a_short_is_churn() -> None:
    m = compute_tca(_with(ORDER_A, prior_signed_qty=-40))
    assert m.churn_qty == pytest.approx(40.0)
    assert m.churn_ratio == pytest.approx(0.4)


def test_shortfall_splits_into_delay_impact_and_fees_for_a_buy() -> None:
    # Decided at 50.00, market at 50.02 when the order arrived, filled 50.05 on 100 shares, $1 fees.
    metrics = compute_tca(
        TcaInput(
            side="buy",
            arrival_price=50.00,
            avg_fill_price=50.05,
            submitted_qty=100,
            filled_qty=100,
            prior_signed_qty=0,
            market_arrival_price=50.02,
            fees=1.0,
        )
    )
    assert metrics.delay_cost_notional == pytest.approx(2.00)
    assert metrics.impact_cost_notional == pytest.approx(3.00)
    assert metrics.implementation_shortfall_notional == pytest.approx(6.00)


def test_shortfall_parts_for_a_partially_filled_sell() -> None:
    # Sell 100, 80 filled at 49.98; decided at 50.00, market 49.99 on arrival: delay 0.80, impact 0.80.
    metrics = compute_tca(
        TcaInput(
            side="sell",
            arrival_price=50.00,
            avg_fill_price=49.98,
            submitted_qty=100,
            filled_qty=80,
            prior_signed_qty=0,
            market_arrival_price=49.99,
        )
    )
    assert metrics.delay_cost_notional == pytest.approx(0.80)
    assert metrics.impact_cost_notional == pytest.approx(0.80)
    assert metrics.shortfall_notional == pytest.approx(1.60)
    assert metrics.fill_ratio == pytest.approx(0.8)
