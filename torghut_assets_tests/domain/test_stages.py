"""Promotion ladder, caps and auto-freeze (domain.md §10.2, §10.4, §10.5)."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from torghut_assets.domain.stages import (
    CAP_GROSS_EQUITY_PCT_EXCEEDED,
    CAP_GROSS_NOTIONAL_EXCEEDED,
    CAP_MAX_SYMBOLS_EXCEEDED,
    CAP_ORDER_NOTIONAL_EXCEEDED,
    CAP_STAGE_SUBMITS_NO_ORDERS,
    CAP_SYMBOL_EQUITY_PCT_EXCEEDED,
    STAGE_ORDER,
    Stage,
    auto_freeze,
    can_advance,
    cap_violations,
    halt,
    rollback_target,
    transition_id,
)

NOW = dt.datetime(2026, 3, 2, 15, 0, tzinfo=dt.UTC)
EQUITY = 1_000_000.0


@given(st.sampled_from(STAGE_ORDER), st.sampled_from(STAGE_ORDER))
def test_advance_is_exactly_one_step_up(src: Stage, dst: Stage) -> None:
    assert can_advance(src, dst) == (STAGE_ORDER.index(dst) - STAGE_ORDER.index(src) == 1)
    assert can_advance(src.value, dst.value) == can_advance(src, dst)


def test_stage_names_and_order() -> None:
    assert [s.value for s in STAGE_ORDER] == ["shadow", "paper", "live_l1", "live_l2", "live_l3"]
    assert can_advance("shadow", "paper") and not can_advance("shadow", "live_l1")
    with pytest.raises(ValueError):
        can_advance("shadow", "live")


def test_rollback_one_step_down_and_halt_stays() -> None:
    assert rollback_target("live_l3") is Stage.LIVE_L2
    assert rollback_target("live_l1") is Stage.PAPER
    assert rollback_target("paper") is Stage.SHADOW
    assert rollback_target("shadow") is Stage.SHADOW
    assert all(halt(s) is s for s in STAGE_ORDER)


def test_transition_id_is_stable_and_refuses_skips() -> None:
    tid = transition_id("cand-a", "paper", "live_l1", action="advance", reason="gates pass", at=NOW)
    assert tid.startswith("wprt-") and len(tid) == 5 + 24
    assert tid == transition_id(
        "cand-a", Stage.PAPER, Stage.LIVE_L1, action="advance", reason="gates pass", at=NOW
    )
    assert tid != transition_id("cand-a", "live_l1", "paper", action="rollback", reason="gates pass", at=NOW)
    with pytest.raises(ValueError):
        transition_id("cand-a", "shadow", "live_l1", action="advance", reason="skip", at=NOW)


def test_l1_within_caps() -> None:
    assert (
        cap_violations("live_l1", [1_000.0, 900.0], {"AAPL", "MSFT", "SPY"}, 5_000.0, EQUITY, 1_900.0) == []
    )


def test_l1_cap_violations() -> None:
    assert cap_violations("live_l1", [500.0], {"AAPL", "MSFT", "SPY", "QQQ"}, 2_000.0, EQUITY, 500.0) == [
        CAP_MAX_SYMBOLS_EXCEEDED
    ]
    assert cap_violations("live_l1", [1_000.01], {"AAPL"}, 1_000.01, EQUITY, 1_000.01) == [
        CAP_ORDER_NOTIONAL_EXCEEDED
    ]
    assert cap_violations("live_l1", [900.0] * 6, {"AAPL", "MSFT"}, 5_400.0, EQUITY, 2_700.0) == [
        CAP_GROSS_NOTIONAL_EXCEEDED
    ]
    assert cap_violations("live_l1", [800.0], {"AAPL"}, 800.0, 50_000.0, 800.0) == [
        CAP_SYMBOL_EQUITY_PCT_EXCEEDED
    ]


def test_other_stage_caps() -> None:
    assert cap_violations("live_l2", [6_000.0], {"AAPL"}, 120_000.0, EQUITY, 6_000.0) == [
        CAP_ORDER_NOTIONAL_EXCEEDED,
        CAP_GROSS_EQUITY_PCT_EXCEEDED,
    ]
    assert cap_violations("live_l3", [50_000.0], {"AAPL"}, 50_000.0, EQUITY, 50_000.0) == []
    assert cap_violations("shadow", [100.0], {"AAPL"}, 100.0, EQUITY, 100.0) == [CAP_STAGE_SUBMITS_NO_ORDERS]


def test_auto_freeze_three_denies_within_seven_days() -> None:
    denies = [NOW - dt.timedelta(days=6), NOW - dt.timedelta(days=3), NOW]
    assert auto_freeze(denies, NOW)
    assert not auto_freeze(denies[:2], NOW)


def test_no_auto_freeze_when_spread_over_eight_days() -> None:
    denies = [NOW - dt.timedelta(days=8), NOW - dt.timedelta(days=4), NOW]
    assert not auto_freeze(denies, NOW)
    assert not auto_freeze([*denies[:2], NOW + dt.timedelta(days=1)], NOW)
