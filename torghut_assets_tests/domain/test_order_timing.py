"""Specification of when a decision may become an order, and the local pre-submit checks (reference
`scheduler.py` / `execution.py` at 18622cbe3a)."""

from __future__ import annotations

import pandas as pd

from torghut_assets.domain.order_timing import (
    LOCAL_QTY_BELOW_MIN,
    LOCAL_QTY_INVALID_INCREMENT,
    LOCAL_QTY_NON_POSITIVE,
    PRECHECK_OPPOSITE_SIDE_OPEN_ORDER,
    OpenOrderView,
    WindowPhase,
    expiry_reason,
    pre_submit_rejection,
    submission_path,
    window_phase,
)

SIGNAL_TS = pd.Timestamp("2026-03-03 15:12:00", tz="UTC")
WINDOW_START = pd.Timestamp("2026-03-03 15:00", tz="UTC")
WINDOW_END = WINDOW_START + pd.Timedelta(hours=1)


def _order(side: str, order_type: str = "market", status: str = "new", symbol: str = "AAPL") -> OpenOrderView:
    return OpenOrderView(order_id="ord-1", symbol=symbol, side=side, order_type=order_type, status=status)


def test_a_window_is_open_from_its_start_until_just_before_its_end() -> None:
    assert window_phase(WINDOW_START, WINDOW_END, WINDOW_START) is WindowPhase.OPEN
    assert window_phase(WINDOW_START, WINDOW_END, WINDOW_END - pd.Timedelta("1ms")) is WindowPhase.OPEN
    assert window_phase(WINDOW_START, WINDOW_END, WINDOW_END) is WindowPhase.CLOSED
    assert (
        window_phase(WINDOW_START, WINDOW_END, WINDOW_START - pd.Timedelta("1s")) is WindowPhase.NOT_STARTED
    )


def test_a_decision_younger_than_the_timeout_may_still_be_sent() -> None:
    assert expiry_reason(SIGNAL_TS, SIGNAL_TS + pd.Timedelta(seconds=599), 600) is None


def test_a_decision_expires_exactly_at_the_timeout_and_names_its_age() -> None:
    assert expiry_reason(SIGNAL_TS, SIGNAL_TS + pd.Timedelta(seconds=600), 600) == (
        "decision_timeout_unsubmitted:600s"
    )
    assert expiry_reason(SIGNAL_TS, SIGNAL_TS + pd.Timedelta(days=30), 600) == (
        "decision_timeout_unsubmitted:2592000s"
    )


def test_a_zero_timeout_disables_expiry_as_in_the_reference() -> None:
    assert expiry_reason(SIGNAL_TS, SIGNAL_TS + pd.Timedelta(days=1), 0) is None


def test_a_non_positive_quantity_is_refused_locally() -> None:
    refused = pre_submit_rejection("AAPL", "buy", 0, [])
    assert refused is not None and refused.code == LOCAL_QTY_NON_POSITIVE


def test_a_fractional_equity_quantity_below_one_share_is_below_the_minimum() -> None:
    refused = pre_submit_rejection("AAPL", "buy", 0.5, [])
    assert refused is not None and refused.code == LOCAL_QTY_BELOW_MIN
    assert refused.detail["min_qty"] == "1"


def test_a_fractional_equity_quantity_above_one_share_has_an_invalid_increment() -> None:
    refused = pre_submit_rejection("AAPL", "buy", 1.5, [])
    assert refused is not None and refused.code == LOCAL_QTY_INVALID_INCREMENT


def test_crypto_pairs_trade_in_satoshi_steps() -> None:
    assert pre_submit_rejection("BTC/USD", "buy", 0.0001, []) is None


def test_an_open_opposite_side_market_order_blocks_the_new_order() -> None:
    refused = pre_submit_rejection("AAPL", "buy", 10, [_order("sell")])
    assert refused is not None and refused.code == PRECHECK_OPPOSITE_SIDE_OPEN_ORDER
    assert refused.detail["existing_order_id"] == "ord-1"


def test_a_resting_opposite_side_limit_order_does_not_block() -> None:
    assert pre_submit_rejection("AAPL", "buy", 10, [_order("sell", order_type="limit")]) is None


def test_same_side_final_or_other_symbol_orders_do_not_block() -> None:
    orders = [_order("buy"), _order("sell", status="filled"), _order("sell", symbol="MSFT")]
    assert pre_submit_rejection("AAPL", "buy", 10, orders) is None


def _path(real: bool, phase: WindowPhase, age_seconds: int, timeout: int = 600) -> tuple[str, str | None]:
    path, reason = submission_path(
        reaches_real_venues=real,
        phase=phase,
        decision_ts=SIGNAL_TS,
        now=SIGNAL_TS + pd.Timedelta(seconds=age_seconds),
        timeout_seconds=timeout,
    )
    return path.value, reason


def test_a_replay_lane_always_takes_the_simulated_venue_whatever_the_clock() -> None:
    assert _path(False, WindowPhase.CLOSED, 86_400 * 30) == ("simulated", None)


def test_a_fresh_decision_of_an_open_real_venue_window_is_sent_now() -> None:
    assert _path(True, WindowPhase.OPEN, 5) == ("real_time", None)


def test_a_stale_decision_of_an_open_window_expires_with_its_age() -> None:
    assert _path(True, WindowPhase.OPEN, 601) == ("expired", "decision_timeout_unsubmitted:601s")


def test_closing_a_window_sends_nothing_even_for_a_fresh_decision() -> None:
    assert _path(True, WindowPhase.CLOSED, 30) == ("expired", "window_closed_unsubmitted")


def test_a_backfill_of_last_month_expires_every_decision() -> None:
    assert _path(True, WindowPhase.CLOSED, 86_400 * 30) == (
        "expired",
        "decision_timeout_unsubmitted:2592000s",
    )
