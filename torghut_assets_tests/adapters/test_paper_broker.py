"""Specification of the simulated paper broker: next-bar fills, costs, partial fills, expiry, order ids,
and the orders its book lists for a time range.

Decisions and bars come from one simulated session (2026-03-03, default seed) and the configured lanes.
"""

from __future__ import annotations

import dataclasses
import math

import pandas as pd
import pytest

from torghut_assets.adapters.paper_broker import FillModel, PaperFill, SimulatedVenue, simulate_fills
from torghut_assets.domain.decisions import FLATTEN_RATIONALE, TradeDecision
from torghut_assets.domain.orders import OrderListingVenue, OrderRequest
from torghut_assets.domain.tca import TcaInput, compute_tca
from torghut_assets_tests.domain.session_fixtures import (
    SimulatedSession,
    plan,
    planned,
    rejected,
    simulate_session,
)

MODEL = FillModel()


@pytest.fixture(scope="module")
def session() -> SimulatedSession:
    return simulate_session()


@pytest.fixture(scope="module")
def decisions(session: SimulatedSession) -> list[TradeDecision]:
    """ema_trend with at most 2 open positions: plenty of fills and plenty of rejections."""
    return plan(session, "ema_trend", max_open_positions=2)


@pytest.fixture(scope="module")
def fills(decisions: list[TradeDecision], session: SimulatedSession) -> list[PaperFill]:
    return simulate_fills(decisions, session.bars)


def first_bar_at_or_after(bars: pd.DataFrame, symbol: str, ts: pd.Timestamp) -> pd.Series:
    candidates = bars[(bars["symbol"] == symbol) & (bars["ts"] >= ts)].sort_values("ts")
    return candidates.iloc[0]


def expected_price(bar: pd.Series, action: str, filled: int) -> float:
    cost_bps = float(bar["spread_bps"]) / 2 + MODEL.impact_bps_at_full_participation * filled / int(
        bar["volume"]
    )
    direction = 1 if action == "buy" else -1
    return round(float(bar["open"]) * (1 + direction * cost_bps / 1e4), 4)


def test_the_session_has_fills_and_rejections(decisions: list[TradeDecision]) -> None:
    assert len(planned(decisions)) > 10
    assert rejected(decisions)


# --- what is sent -----------------------------------------------------------------------------------------


def test_only_planned_decisions_are_sent(decisions: list[TradeDecision], fills: list[PaperFill]) -> None:
    assert [f.decision for f in fills] == planned(decisions)


def test_rejected_decisions_are_never_sent(decisions: list[TradeDecision], session: SimulatedSession) -> None:
    assert simulate_fills(rejected(decisions), session.bars) == []


def test_order_id_is_sim_plus_the_first_32_chars_of_the_decision_hash(fills: list[PaperFill]) -> None:
    for f in fills:
        assert f.order_id == "sim-" + f.decision.decision_hash[:32]
        assert len(f.order_id) == 36


def test_order_ids_are_unique_within_a_session(fills: list[PaperFill]) -> None:
    ids = [f.order_id for f in fills]
    assert len(ids) == len(set(ids))


def test_fills_are_deterministic(
    decisions: list[TradeDecision], session: SimulatedSession, fills: list[PaperFill]
) -> None:
    assert simulate_fills(decisions, session.bars.sample(frac=1.0, random_state=11)) == fills


# --- when and at what price -------------------------------------------------------------------------------


def test_fills_at_the_first_bar_starting_at_or_after_the_decision(
    fills: list[PaperFill], session: SimulatedSession
) -> None:
    for f in fills:
        bar = first_bar_at_or_after(session.bars, f.decision.symbol, f.decision.event_ts)
        assert f.filled_at == bar["ts"]
        assert f.fill_bar["ts"] == bar["ts"]
        assert f.fill_bar["open"] == bar["open"]
        assert f.filled_at >= f.decision.event_ts


def test_a_decision_on_a_bar_close_fills_in_the_bar_that_opens_then(fills: list[PaperFill]) -> None:
    # Signals are stamped with their bar's close time, which is the next bar's start time.
    for f in fills:
        assert f.filled_at == f.decision.event_ts


def test_fill_price_is_open_moved_by_half_spread_plus_impact(
    fills: list[PaperFill], session: SimulatedSession
) -> None:
    for f in fills:
        bar = first_bar_at_or_after(session.bars, f.decision.symbol, f.decision.event_ts)
        assert f.avg_fill_price == pytest.approx(
            expected_price(bar, f.decision.action, f.filled_qty), abs=1e-9
        )


def test_buys_pay_more_than_the_open(fills: list[PaperFill]) -> None:
    buys = [f for f in fills if f.decision.action == "buy"]
    assert buys
    assert all((f.avg_fill_price or 0.0) > float(f.fill_bar["open"]) for f in buys)  # type: ignore[arg-type]


def test_sells_receive_less_than_the_open(fills: list[PaperFill]) -> None:
    sells = [f for f in fills if f.decision.action == "sell"]
    assert sells
    assert all((f.avg_fill_price or math.inf) < float(f.fill_bar["open"]) for f in sells)  # type: ignore[arg-type]


def test_expected_p50_is_half_spread_plus_impact_and_p95_is_at_least_p50(fills: list[PaperFill]) -> None:
    for f in fills:
        spread, volume = float(f.fill_bar["spread_bps"]), int(f.fill_bar["volume"])  # type: ignore[arg-type]
        assert f.expected_shortfall_bps_p50 == pytest.approx(spread / 2 + 50.0 * f.filled_qty / volume)
        assert f.expected_shortfall_bps_p95 >= f.expected_shortfall_bps_p50


def test_a_decision_during_a_halt_fills_at_the_first_bar_after_it(
    decisions: list[TradeDecision], session: SimulatedSession
) -> None:
    decision = planned(decisions)[0]
    halt_end = decision.event_ts + pd.Timedelta(minutes=7)
    halted = (session.bars["symbol"] == decision.symbol) & session.bars["ts"].between(
        decision.event_ts, halt_end, inclusive="left"
    )
    (fill,) = simulate_fills([decision], session.bars[~halted])
    assert fill.filled_at == halt_end
    assert fill.status == "filled"


# --- quantity -----------------------------------------------------------------------------------------------


def test_small_orders_fill_in_full(fills: list[PaperFill]) -> None:
    for f in fills:
        assert f.status == "filled"
        assert f.filled_qty == f.submitted_qty == f.decision.qty


def test_quantity_above_ten_percent_of_bar_volume_is_partially_filled(
    decisions: list[TradeDecision], session: SimulatedSession
) -> None:
    decision = next(d for d in planned(decisions) if d.action == "buy")
    bar = first_bar_at_or_after(session.bars, decision.symbol, decision.event_ts)
    capacity = math.floor(0.10 * int(bar["volume"]))
    large = dataclasses.replace(decision, qty=capacity + 2_500)
    (fill,) = simulate_fills([large], session.bars)
    assert fill.status == "partially_filled"
    assert fill.submitted_qty == capacity + 2_500
    assert fill.filled_qty == capacity
    assert fill.avg_fill_price == pytest.approx(expected_price(bar, "buy", capacity), abs=1e-9)


def test_quantity_exactly_at_ten_percent_of_bar_volume_fills_in_full(
    decisions: list[TradeDecision], session: SimulatedSession
) -> None:
    decision = next(d for d in planned(decisions) if d.action == "sell")
    bar = first_bar_at_or_after(session.bars, decision.symbol, decision.event_ts)
    at_cap = dataclasses.replace(decision, qty=math.floor(0.10 * int(bar["volume"])))
    (fill,) = simulate_fills([at_cap], session.bars)
    assert fill.status == "filled"
    assert fill.filled_qty == at_cap.qty


def test_a_partial_fill_costs_more_than_a_small_fill_in_the_same_bar(
    decisions: list[TradeDecision], session: SimulatedSession
) -> None:
    decision = next(d for d in planned(decisions) if d.action == "buy")
    small, large = simulate_fills([decision, dataclasses.replace(decision, qty=10**7)], session.bars)
    assert large.filled_qty > small.filled_qty
    assert (large.avg_fill_price or 0.0) > (small.avg_fill_price or 0.0)
    assert large.expected_shortfall_bps_p50 > small.expected_shortfall_bps_p50


def test_a_bar_too_thin_for_one_share_cancels_the_order(
    decisions: list[TradeDecision], session: SimulatedSession
) -> None:
    decision = planned(decisions)[0]
    bars = session.bars.copy()
    target = (bars["symbol"] == decision.symbol) & (bars["ts"] == decision.event_ts)
    bars.loc[target, "volume"] = 9  # 10 % of 9 shares rounds down to 0
    (fill,) = simulate_fills([decision], bars)
    assert fill.status == "canceled"
    assert fill.filled_qty == 0
    assert fill.avg_fill_price is None
    assert fill.filled_at is None


# --- expiry -------------------------------------------------------------------------------------------------


def test_no_bar_left_in_the_session_expires_the_order_unfilled(
    decisions: list[TradeDecision], session: SimulatedSession
) -> None:
    after_last_bar = dataclasses.replace(planned(decisions)[0], event_ts=session.close)
    (fill,) = simulate_fills([after_last_bar], session.bars)
    assert fill.status == "expired"
    assert fill.filled_qty == 0
    assert fill.submitted_qty == after_last_bar.qty
    assert fill.avg_fill_price is None
    assert fill.filled_at is None
    assert fill.order_id == "sim-" + after_last_bar.decision_hash[:32]


def test_a_symbol_without_bars_expires_the_order(
    decisions: list[TradeDecision], session: SimulatedSession
) -> None:
    decision = planned(decisions)[0]
    (fill,) = simulate_fills([decision], session.bars[session.bars["symbol"] != decision.symbol])
    assert fill.status == "expired"
    assert fill.filled_qty == 0


def test_flatten_orders_still_find_a_bar_before_the_close(fills: list[PaperFill]) -> None:
    flattens = [f for f in fills if f.decision.rationale == FLATTEN_RATIONALE]
    assert flattens
    assert all(f.status == "filled" for f in flattens)


# --- TCA on simulated fills ---------------------------------------------------------------------------------


def test_tca_slippage_on_simulated_fills_matches_the_fill_model(fills: list[PaperFill]) -> None:
    """A strategy decision's arrival is its bar close, which is the next bar's open in the simulator, so
    realized slippage equals the model's expected p50 up to the 4-decimal price rounding."""
    strategy_fills = [f for f in fills if f.decision.rationale != FLATTEN_RATIONALE]
    assert strategy_fills
    for f in strategy_fills:
        m = compute_tca(
            TcaInput(
                side=f.decision.action,
                arrival_price=f.decision.price,
                avg_fill_price=f.avg_fill_price,
                submitted_qty=f.submitted_qty,
                filled_qty=f.filled_qty,
                prior_signed_qty=0,
                expected_shortfall_bps_p50=f.expected_shortfall_bps_p50,
            )
        )
        assert (m.slippage_bps or 0.0) > 0
        assert m.divergence_bps == pytest.approx(0.0, abs=0.01)


# --- listing the orders of a time range -------------------------------------------------------------------

MINUTE_BARS = pd.DataFrame(
    {
        "symbol": "AAPL",
        "ts": pd.date_range("2026-03-03 15:00", periods=10, freq="min", tz="UTC"),
        "open": 190.0,
        "volume": 100_000,
        "spread_bps": 2.0,
    }
)


def _at(clock: str) -> pd.Timestamp:
    return pd.Timestamp(f"2026-03-03 {clock}", tz="UTC")


def _order(cid: str, at: str) -> OrderRequest:
    return OrderRequest(
        client_order_id=cid,
        symbol="AAPL",
        side="buy",
        qty=10,
        order_type="market",
        time_in_force="day",
        arrival_price=190.0,
        submitted_at=_at(at),
        correlation_id=f"corr-{cid}",
    )


def test_the_simulated_venue_lists_the_orders_it_placed_submitted_or_filled_in_the_range() -> None:
    venue = SimulatedVenue(MINUTE_BARS)
    for cid, at in (("a", "15:00:30"), ("b", "15:02:30"), ("c", "15:04:30"), ("d", "15:06:30")):
        venue.submit(_order(cid, at))  # each fills at the next minute's open

    submitted = venue.orders_between(_at("15:02"), _at("15:05"))
    filled = venue.orders_between(_at("15:05"), _at("15:06"))

    assert [r.client_order_id for r in submitted] == ["b", "c"]
    assert [(r.client_order_id, r.filled_at) for r in filled] == [("c", _at("15:05"))]
    assert isinstance(venue, OrderListingVenue)


def test_a_simulated_venue_built_afresh_lists_nothing_it_did_not_place() -> None:
    placing, fresh = SimulatedVenue(MINUTE_BARS), SimulatedVenue(MINUTE_BARS)
    placing.submit(_order("a", "15:00:30"))
    span = (_at("15:00"), _at("16:00"))

    assert [r.client_order_id for r in placing.orders_between(*span)] == ["a"]
    assert fresh.orders_between(*span) == []
