"""Promotion ladder, caps and auto-freeze (docs/promotion.md, "Stage caps", "Deny vs override")."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from torghut_assets.domain.lanes import LaneConfig
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
    capped_lane,
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


# --- lane limits clamped to stage caps --------------------------------------------------------------

GENEROUS_LANE = LaneConfig(
    lane="macd_rsi",
    strategy_type="legacy_macd_rsi",
    account_label="live",
    equity=EQUITY,
    max_notional_per_trade=10_000.0,
    max_position_pct_equity=0.10,
    max_gross_notional=250_000.0,
    max_open_positions=10,
)


def test_live_l1_clamps_the_lane_to_the_canary_caps() -> None:
    capped = capped_lane(GENEROUS_LANE, Stage.LIVE_L1)
    assert capped.max_notional_per_trade == 1_000.0
    assert capped.max_gross_notional == 5_000.0
    assert capped.max_position_pct_equity == 0.01
    assert capped.max_open_positions == 3
    assert (
        dataclasses.replace(
            capped,
            max_notional_per_trade=GENEROUS_LANE.max_notional_per_trade,
            max_gross_notional=GENEROUS_LANE.max_gross_notional,
            max_position_pct_equity=GENEROUS_LANE.max_position_pct_equity,
            max_open_positions=GENEROUS_LANE.max_open_positions,
        )
        == GENEROUS_LANE
    )


def test_live_l2_clamps_gross_to_ten_percent_of_equity() -> None:
    capped = capped_lane(GENEROUS_LANE, "live_l2")
    assert capped.max_gross_notional == 100_000.0
    assert capped.max_notional_per_trade == 5_000.0
    assert capped.max_position_pct_equity == 0.10
    assert capped.max_open_positions == 10
    small = dataclasses.replace(GENEROUS_LANE, equity=200_000.0)
    assert capped_lane(small, Stage.LIVE_L2).max_gross_notional == 20_000.0


def test_caps_never_loosen_a_tighter_lane() -> None:
    tight = LaneConfig(lane="ema_trend", strategy_type="ema_trend", equity=EQUITY, max_open_positions=2)
    assert capped_lane(tight, Stage.LIVE_L1) == dataclasses.replace(
        tight, max_gross_notional=5_000.0, max_position_pct_equity=0.01
    )
    assert capped_lane(tight, Stage.LIVE_L2) == tight


@pytest.mark.parametrize("stage", [Stage.SHADOW, Stage.PAPER, Stage.LIVE_L3])
def test_stages_without_numeric_caps_leave_the_lane_unchanged(stage: Stage) -> None:
    assert capped_lane(GENEROUS_LANE, stage) == GENEROUS_LANE
