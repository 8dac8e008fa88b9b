"""Specification of trade decisions: idempotent, replayable per window, risk-checked, flat at the close.

Inputs are a real simulated session (2026-03-03, default seed) run through the configured lanes.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
from collections import Counter

import pandas as pd
import pytest

from torghut_assets.domain.decisions import (
    FLATTEN_RATIONALE,
    TradeDecision,
    decision_hash,
    decisions_in_window,
    plan_session_decisions,
    size_order,
)
from torghut_assets.domain.strategies import default_strategy, strategy_actions
from torghut_assets_tests.domain.session_fixtures import (
    SimulatedSession,
    lane_and_spec,
    net_planned_qty,
    open_position_counts,
    plan,
    planned,
    rejected,
    simulate_session,
    utc,
)

LANE_NAMES = ("macd_rsi", "ema_trend")
# decision_hash(HAND_BUILT), computed once with the reference recipe.
PINNED_HAND_BUILT_HASH = "97bfb3add4a4a8b8f64cca558797f8aa70c2fc24d9bc818f4f753750a035fb4f"


@pytest.fixture(scope="module")
def session() -> SimulatedSession:
    return simulate_session()


@pytest.fixture(scope="module")
def decisions(session: SimulatedSession) -> dict[str, list[TradeDecision]]:
    """Full-session decisions of every configured lane, with the configured limits."""
    return {name: plan(session, name) for name in LANE_NAMES}


def reference_decision_hash(d: TradeDecision) -> str:
    """docs/lane-window.md recipe, written out independently: sha256 of compact, sorted-key JSON."""
    payload = {
        "strategy_id": d.strategy_id,
        "symbol": d.symbol,
        "event_ts": d.event_ts.tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:%SZ"),
        "timeframe": d.timeframe,
        "action": d.action,
        "qty": str(d.qty),
        "order_type": "market",
        "time_in_force": "day",
        "limit_price": None,
        "stop_price": None,
        "params": dict(d.params),
        "account_label": d.account_label,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


HAND_BUILT = TradeDecision(
    strategy_id=default_strategy("legacy_macd_rsi").strategy_id,
    symbol="AAPL",
    event_ts=utc("2026-03-03 15:07"),
    signal_seq=0,
    timeframe="1Min",
    action="buy",
    qty=3,
    price=294.5744,
    rationale="strategy_signal",
    params=dict(default_strategy("legacy_macd_rsi").params),
    account_label="paper",
)


def test_the_session_produces_decisions_for_every_lane(decisions: dict[str, list[TradeDecision]]) -> None:
    for name in LANE_NAMES:
        assert planned(decisions[name]), name
        assert {d.action for d in planned(decisions[name])} == {"buy", "sell"}


# --- idempotency ----------------------------------------------------------------------------------------


def test_decision_hash_follows_the_reference_recipe(decisions: dict[str, list[TradeDecision]]) -> None:
    for name in LANE_NAMES:
        for d in decisions[name]:
            assert d.decision_hash == reference_decision_hash(d)


def test_decision_hash_is_pinned_for_a_known_decision() -> None:
    # The hash is the broker client_order_id: it may never drift between releases.
    assert decision_hash(HAND_BUILT) == reference_decision_hash(HAND_BUILT)
    assert decision_hash(HAND_BUILT) == PINNED_HAND_BUILT_HASH


def test_decision_hash_ignores_price_rationale_seq_and_risk_outcome() -> None:
    same_order = dataclasses.replace(
        HAND_BUILT, price=300.0, rationale="other", signal_seq=7, risk_reasons=("max_notional_exceeded",)
    )
    assert decision_hash(same_order) == decision_hash(HAND_BUILT)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("symbol", "MSFT"),
        ("event_ts", utc("2026-03-03 15:08")),
        ("action", "sell"),
        ("qty", 4),
        ("timeframe", "5Min"),
        ("account_label", "live"),
        ("strategy_id", default_strategy("ema_trend").strategy_id),
        ("params", {**dict(default_strategy("legacy_macd_rsi").params), "rsi_buy_below": 30.0}),
    ],
)
def test_decision_hash_changes_with_each_order_field(field: str, value: object) -> None:
    assert decision_hash(dataclasses.replace(HAND_BUILT, **{field: value})) != decision_hash(HAND_BUILT)


def test_decision_hash_is_the_same_for_the_same_instant_in_another_timezone() -> None:
    new_york = dataclasses.replace(HAND_BUILT, event_ts=HAND_BUILT.event_ts.tz_convert("America/New_York"))
    assert decision_hash(new_york) == decision_hash(HAND_BUILT)


def test_decision_hashes_are_unique_per_account_within_a_session(
    decisions: dict[str, list[TradeDecision]],
) -> None:
    """`trade_decisions` is unique on (account, decision_hash); a collision would drop a decision."""
    for name in LANE_NAMES:
        hashes = [d.decision_hash for d in decisions[name]]
        assert len(hashes) == len(set(hashes)), name


def test_same_inputs_give_identical_decisions(
    session: SimulatedSession, decisions: dict[str, list[TradeDecision]]
) -> None:
    for name in LANE_NAMES:
        again = plan(session, name)
        assert again == decisions[name]
        assert [d.decision_hash for d in again] == [d.decision_hash for d in decisions[name]]


def test_decisions_do_not_depend_on_the_input_row_order(
    session: SimulatedSession, decisions: dict[str, list[TradeDecision]]
) -> None:
    lane, spec = lane_and_spec("ema_trend")
    shuffled = session.signals.sample(frac=1.0, random_state=7)
    assert plan_session_decisions(shuffled, spec, lane, session.close) == decisions["ema_trend"]


# --- window replay --------------------------------------------------------------------------------------


@pytest.mark.parametrize("lane_name", LANE_NAMES)
def test_a_window_replayed_from_the_session_prefix_agrees_with_the_full_session(
    session: SimulatedSession, decisions: dict[str, list[TradeDecision]], lane_name: str
) -> None:
    lane, spec = lane_and_spec(lane_name)
    signals = session.signals
    checked = 0
    for hour in range(14, 21):  # hourly UTC windows overlapping 14:30-21:00 UTC
        start = utc(f"2026-03-03 {hour}:00")
        end = start + pd.Timedelta(hours=1)
        prefix = signals[signals["event_ts"] < end]
        from_prefix = decisions_in_window(
            plan_session_decisions(prefix, spec, lane, session.close), start, end
        )
        assert from_prefix == decisions_in_window(decisions[lane_name], start, end), start
        checked += len(from_prefix)
    assert checked == len(decisions[lane_name])


def test_windows_partition_the_session_decisions(decisions: dict[str, list[TradeDecision]]) -> None:
    full = decisions["macd_rsi"]
    hours = [utc(f"2026-03-03 {h}:00") for h in range(14, 22)]
    parts = [decisions_in_window(full, a, b) for a, b in itertools.pairwise(hours)]
    assert [d for part in parts for d in part] == full


def test_window_membership_is_start_inclusive_end_exclusive() -> None:
    at_start = dataclasses.replace(HAND_BUILT, event_ts=utc("2026-03-03 15:00"))
    at_end = dataclasses.replace(HAND_BUILT, event_ts=utc("2026-03-03 16:00"))
    window = decisions_in_window([at_start, at_end], utc("2026-03-03 15:00"), utc("2026-03-03 16:00"))
    assert window == [at_start]


def test_an_empty_session_has_no_decisions(session: SimulatedSession) -> None:
    lane, spec = lane_and_spec("macd_rsi")
    assert plan_session_decisions(session.signals.iloc[0:0], spec, lane, session.close) == []


# --- flat at the close ----------------------------------------------------------------------------------


@pytest.mark.parametrize("lane_name", LANE_NAMES)
def test_every_open_position_is_flattened_before_the_close(
    decisions: dict[str, list[TradeDecision]], lane_name: str
) -> None:
    net = net_planned_qty(decisions[lane_name])
    assert net and all(qty == 0 for qty in net.values()), net


@pytest.mark.parametrize("lane_name", LANE_NAMES)
def test_flatten_orders_are_sells_in_the_last_minutes_before_the_close(
    session: SimulatedSession, decisions: dict[str, list[TradeDecision]], lane_name: str
) -> None:
    lane, _ = lane_and_spec(lane_name)
    flatten_at = session.close - pd.Timedelta(minutes=lane.session_close_flatten_minutes)
    flattens = [d for d in decisions[lane_name] if d.rationale == FLATTEN_RATIONALE]
    assert flattens, "the simulated session should leave positions open into the close"
    for d in flattens:
        assert d.action == "sell"
        assert d.status == "planned"
        assert flatten_at <= d.event_ts < session.close


def test_no_decision_follows_the_flatten(decisions: dict[str, list[TradeDecision]]) -> None:
    for name in LANE_NAMES:
        full = decisions[name]
        first_flatten = next(i for i, d in enumerate(full) if d.rationale == FLATTEN_RATIONALE)
        assert all(d.rationale == FLATTEN_RATIONALE for d in full[first_flatten:])


def test_flatten_sells_exactly_the_held_quantity(decisions: dict[str, list[TradeDecision]]) -> None:
    full = decisions["ema_trend"]
    for flat in (d for d in full if d.rationale == FLATTEN_RATIONALE):
        before = [d for d in planned(full) if d.symbol == flat.symbol and d.event_ts < flat.event_ts]
        held = sum(d.qty if d.action == "buy" else -d.qty for d in before)
        assert flat.qty == held > 0


def test_strategy_decisions_are_priced_at_their_own_signal(
    session: SimulatedSession, decisions: dict[str, list[TradeDecision]]
) -> None:
    prices = session.signals.set_index(["symbol", "event_ts"])["price"]
    for name in LANE_NAMES:
        for d in decisions[name]:
            if d.rationale != FLATTEN_RATIONALE:
                assert d.price == prices[(d.symbol, d.event_ts)]


def test_a_flatten_sell_is_priced_at_the_symbols_signal_at_the_flatten_time(
    session: SimulatedSession, decisions: dict[str, list[TradeDecision]]
) -> None:
    signals = session.signals
    flattens = [d for name in LANE_NAMES for d in decisions[name] if d.rationale == FLATTEN_RATIONALE]
    assert flattens
    for d in flattens:
        seen = signals[(signals["symbol"] == d.symbol) & (signals["event_ts"] <= d.event_ts)]
        latest = seen.sort_values("event_ts").iloc[-1]
        assert latest["event_ts"] == d.event_ts  # the symbol printed at the flatten minute
        assert d.price == latest["price"], d.symbol


def test_a_session_that_ends_before_the_flatten_window_keeps_positions(session: SimulatedSession) -> None:
    """Flattening is keyed to the session close, not to the last row seen, so a prefix is not flattened."""
    lane, spec = lane_and_spec("ema_trend")
    early = session.signals[session.signals["event_ts"] < session.open + pd.Timedelta(hours=3)]
    prefix = plan_session_decisions(early, spec, lane, session.close)
    assert all(d.rationale != FLATTEN_RATIONALE for d in prefix)


# --- entries near the close -----------------------------------------------------------------------------


def test_no_entry_is_planned_in_the_last_entry_block_minutes(
    decisions: dict[str, list[TradeDecision]], session: SimulatedSession
) -> None:
    for name in LANE_NAMES:
        lane, _ = lane_and_spec(name)
        block_at = session.close - pd.Timedelta(minutes=lane.session_close_entry_block_minutes)
        assert not [d for d in planned(decisions[name]) if d.action == "buy" and d.event_ts >= block_at]


def test_late_entries_are_rejected_with_session_close_entry_blocked(session: SimulatedSession) -> None:
    # Widen the block to the last 45 minutes so the simulated session has entries inside it.
    blocked_minutes = 45
    lane_decisions = plan(session, "ema_trend", session_close_entry_block_minutes=blocked_minutes)
    block_at = session.close - pd.Timedelta(minutes=blocked_minutes)
    late_buys = [d for d in lane_decisions if d.action == "buy" and d.event_ts >= block_at]
    assert late_buys, "expected strategy entries in the last 45 minutes"
    for d in late_buys:
        assert d.status == "rejected"
        assert "session_close_entry_blocked" in d.risk_reasons
    early_buys = [d for d in lane_decisions if d.action == "buy" and d.event_ts < block_at]
    assert all("session_close_entry_blocked" not in d.risk_reasons for d in early_buys)


def test_exits_are_still_allowed_inside_the_entry_block(session: SimulatedSession) -> None:
    lane_decisions = plan(session, "ema_trend", session_close_entry_block_minutes=120)
    block_at = session.close - pd.Timedelta(minutes=120)
    late_exits = [
        d
        for d in lane_decisions
        if d.action == "sell" and d.event_ts >= block_at and "shorts_not_allowed" not in d.risk_reasons
    ]
    assert late_exits
    assert all(d.status == "planned" for d in late_exits)


# --- risk limits ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("lane_name", LANE_NAMES)
def test_one_open_position_limit_rejects_further_entries(session: SimulatedSession, lane_name: str) -> None:
    lane_decisions = plan(session, lane_name, max_open_positions=1)
    reasons = Counter(r for d in lane_decisions for r in d.risk_reasons)
    assert reasons["max_open_positions_exceeded"] > 0
    assert max(open_position_counts(lane_decisions)) == 1


@pytest.mark.parametrize("lane_name", LANE_NAMES)
def test_configured_open_position_limit_is_never_exceeded(
    decisions: dict[str, list[TradeDecision]], lane_name: str
) -> None:
    lane, _ = lane_and_spec(lane_name)
    assert max(open_position_counts(decisions[lane_name])) <= lane.max_open_positions


def test_max_notional_below_one_share_rejects_every_entry(session: SimulatedSession) -> None:
    cheapest = float(session.signals["price"].min())
    lane_decisions = plan(session, "ema_trend", max_notional_per_trade=round(cheapest / 2, 2))
    buys = [d for d in lane_decisions if d.action == "buy"]
    assert buys
    for d in buys:
        assert d.qty >= 1
        assert d.status == "rejected"
        assert "max_notional_exceeded" in d.risk_reasons


def test_an_entry_sized_within_the_notional_limit_is_not_rejected_for_notional(
    decisions: dict[str, list[TradeDecision]],
) -> None:
    lane, spec = lane_and_spec("ema_trend")
    for d in decisions["ema_trend"]:
        if d.action == "buy":
            assert d.qty == size_order(spec, d.price)
            assert "max_notional_exceeded" not in d.risk_reasons
            assert d.qty * d.price <= lane.max_notional_per_trade


def test_rejected_entries_do_not_change_the_book(session: SimulatedSession) -> None:
    """With every entry rejected there is nothing to sell: no planned exit and no flatten, only refused
    shorts as evidence."""
    cheapest = float(session.signals["price"].min())
    lane_decisions = plan(session, "ema_trend", max_notional_per_trade=round(cheapest / 2, 2))
    assert rejected(lane_decisions)
    sells = [d for d in lane_decisions if d.action == "sell"]
    assert all(d.risk_reasons == ("shorts_not_allowed",) for d in sells)


@pytest.mark.parametrize("lane_name", LANE_NAMES)
def test_a_strategy_sell_after_a_rejected_buy_is_only_a_refused_short(
    session: SimulatedSession, lane_name: str
) -> None:
    lane, spec = lane_and_spec(lane_name, max_open_positions=1)
    lane_decisions = plan_session_decisions(session.signals, spec, lane, session.close)
    signals = session.signals.assign(action=strategy_actions(session.signals, spec))
    exercised = 0
    for buy in (d for d in rejected(lane_decisions) if d.action == "buy"):
        same_symbol = [d for d in lane_decisions if d.symbol == buy.symbol and d.event_ts > buy.event_ts]
        reentry = next(
            (d.event_ts for d in same_symbol if d.action == "buy" and d.status == "planned"), session.close
        )
        sell_signals = signals[
            (signals["symbol"] == buy.symbol)
            & (signals["event_ts"] > buy.event_ts)
            & (signals["event_ts"] < reentry)
            & (signals["action"] < 0)
        ]
        if sell_signals.empty:
            continue
        exercised += 1
        sells = [d for d in same_symbol if d.action == "sell" and d.event_ts < reentry]
        assert sells and all(d.risk_reasons == ("shorts_not_allowed",) for d in sells), buy
    assert exercised > 0, "expected strategy sells after rejected buys in the simulated session"


@pytest.mark.parametrize("lane_name", LANE_NAMES)
def test_a_sell_only_ever_closes_a_planned_position(session: SimulatedSession, lane_name: str) -> None:
    lane_decisions = plan(session, lane_name, max_open_positions=1)
    held: dict[str, int] = {}
    for d in lane_decisions:
        if d.status != "planned":
            continue
        if d.action == "sell":
            assert held.get(d.symbol, 0) == d.qty > 0, d
            held[d.symbol] = 0
        else:
            held[d.symbol] = d.qty


def test_rejected_decisions_carry_their_reasons_in_the_decision_json(session: SimulatedSession) -> None:
    d = rejected(plan(session, "macd_rsi", max_open_positions=1))[0]
    payload = d.decision_json()
    assert d.status == "rejected"
    assert payload["risk_reasons"] == list(d.risk_reasons)
    assert payload["order_type"] == "market"
    assert payload["time_in_force"] == "day"


def test_decision_json_records_the_arrival_price_for_tca(decisions: dict[str, list[TradeDecision]]) -> None:
    d = planned(decisions["macd_rsi"])[0]
    params = d.decision_json()["params"]
    assert isinstance(params, dict)
    assert params["arrival_price"] == params["price"] == pytest.approx(d.price)
    assert d.price > 0


# --- refusals are evidence ------------------------------------------------------------------------------


def test_a_sell_signal_while_flat_is_a_rejected_short_not_a_dropped_signal(
    session: SimulatedSession, decisions: dict[str, list[TradeDecision]]
) -> None:
    shorts = [d for name in LANE_NAMES for d in decisions[name] if "shorts_not_allowed" in d.risk_reasons]
    assert shorts, "the simulated session has sell signals while flat"
    for d in shorts:
        assert (d.action, d.status, d.rationale) == ("sell", "rejected", "strategy_signal")
        assert d.qty >= 1
    for name in LANE_NAMES:
        full = decisions[name]
        for short in (d for d in full if "shorts_not_allowed" in d.risk_reasons):
            before = [d for d in planned(full) if d.symbol == short.symbol and d.event_ts <= short.event_ts]
            assert sum(d.qty if d.action == "buy" else -d.qty for d in before) == 0


def test_refused_shorts_never_change_the_position_book(decisions: dict[str, list[TradeDecision]]) -> None:
    for name in LANE_NAMES:
        assert all(q >= 0 for q in net_planned_qty(decisions[name]).values())
