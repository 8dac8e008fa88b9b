from __future__ import annotations

import uuid

import numpy as np
import pandas as pd
import pytest

from torghut_assets.domain.strategies import (
    EMA_TREND,
    LEGACY_MACD_RSI,
    STRATEGY_TYPES,
    StrategySpec,
    default_strategy,
    parameter_grid,
    strategy_actions,
)
from torghut_assets_tests.domain.signal_fixtures import concat_frames, make_signals, tiny_frame

NAN = float("nan")


def _actions(frame: pd.DataFrame, spec: StrategySpec) -> list[int]:
    return strategy_actions(frame, spec).tolist()


def _ema_frame(gaps_bps: list[float], *, symbol: str = "AAPL", day: str = "2026-02-23", rsi: float = 50.0):
    n = len(gaps_bps)
    ema26 = [100.0] * n
    ema12 = [100.0 + g / 100.0 for g in gaps_bps]
    return tiny_frame([100.0] * n, symbol=symbol, day=day, ema12=ema12, ema26=ema26, rsi14=[rsi] * n)


def test_macd_rsi_buys_only_when_macd_above_signal_and_rsi_below_threshold() -> None:
    frame = tiny_frame(
        [100.0] * 4, macd=[1.0, 1.0, -1.0, 1.0], macd_signal=[0.0] * 4, rsi14=[30.0, 40.0, 30.0, 35.0]
    )
    assert _actions(frame, default_strategy(LEGACY_MACD_RSI)) == [1, 0, 0, 0]


def test_macd_rsi_sells_only_when_macd_below_signal_and_rsi_above_threshold() -> None:
    frame = tiny_frame(
        [100.0] * 4, macd=[-1.0, -1.0, 1.0, -1.0], macd_signal=[0.0] * 4, rsi14=[70.0, 60.0, 70.0, 65.0]
    )
    assert _actions(frame, default_strategy(LEGACY_MACD_RSI)) == [-1, 0, 0, 0]


def test_macd_rsi_thresholds_come_from_params() -> None:
    frame = tiny_frame([100.0] * 2, macd=[1.0, -1.0], macd_signal=[0.0, 0.0], rsi14=[42.0, 58.0])
    spec = default_strategy(LEGACY_MACD_RSI).with_params(rsi_buy_below=45.0, rsi_sell_above=55.0)
    assert _actions(frame, spec) == [1, -1]


def test_missing_indicators_produce_no_action() -> None:
    frame = tiny_frame(
        [100.0] * 3, macd=[NAN, 1.0, 1.0], macd_signal=[0.0, NAN, 0.0], rsi14=[20.0, 20.0, NAN]
    )
    assert _actions(frame, default_strategy(LEGACY_MACD_RSI)) == [0, 0, 0]
    assert _actions(_ema_frame([NAN, 5.0, NAN, -5.0]), default_strategy(EMA_TREND)) == [0, 0, 0, 0]


def test_ema_cross_fires_once_on_the_bar_that_leaves_the_band() -> None:
    spec = default_strategy(EMA_TREND).with_params(min_cross_bps=1.0)
    frame = _ema_frame([-5.0, 0.5, 2.0, 3.0, -0.5, -2.0, -3.0])
    assert _actions(frame, spec) == [0, 0, 1, 0, 0, -1, 0]


def test_ema_cross_uses_previous_bar_of_same_symbol() -> None:
    a = _ema_frame([-5.0, 5.0], symbol="AAPL")
    b = _ema_frame([5.0, 5.0], symbol="MSFT")
    interleaved = concat_frames(a, b).sort_values(["event_ts", "symbol"]).reset_index(drop=True)
    actions = strategy_actions(interleaved, default_strategy(EMA_TREND))
    by_symbol = {s: actions[interleaved["symbol"] == s].tolist() for s in ("AAPL", "MSFT")}
    assert by_symbol == {"AAPL": [0, 1], "MSFT": [0, 0]}


def test_ema_cross_does_not_compare_across_sessions() -> None:
    frame = concat_frames(_ema_frame([-5.0], day="2026-02-23"), _ema_frame([5.0, 5.0], day="2026-02-24"))
    assert _actions(frame, default_strategy(EMA_TREND)) == [0, 0, 0]


def test_ema_trend_rsi_filter_blocks_buys_but_not_sells() -> None:
    spec = default_strategy(EMA_TREND).with_params(rsi_filter_max=60.0)
    assert _actions(_ema_frame([-5.0, 5.0], rsi=75.0), spec) == [0, 0]
    assert _actions(_ema_frame([5.0, -5.0], rsi=75.0), spec) == [0, -1]


@pytest.mark.parametrize("strategy_type", STRATEGY_TYPES)
def test_actions_do_not_depend_on_row_order(strategy_type: str) -> None:
    frame = make_signals(minutes=120)
    spec = default_strategy(strategy_type)
    shuffled = frame.sample(frac=1.0, random_state=3)
    expected = strategy_actions(frame, spec)
    assert strategy_actions(shuffled, spec).reindex(frame.index).tolist() == expected.tolist()
    assert (expected != 0).sum() > 0


@pytest.mark.parametrize("strategy_type", STRATEGY_TYPES)
def test_actions_are_causal(strategy_type: str) -> None:
    frame = make_signals(minutes=120)
    spec = default_strategy(strategy_type)
    cutoff = frame["event_ts"].sort_values().iloc[len(frame) // 2]
    past = frame[frame["event_ts"] <= cutoff]
    assert strategy_actions(past, spec).tolist() == strategy_actions(frame, spec)[past.index].tolist()


def test_actions_are_int8_aligned_to_input_index() -> None:
    frame = tiny_frame([100.0] * 3, macd=[1.0] * 3, macd_signal=[0.0] * 3, rsi14=[20.0] * 3)
    frame.index = pd.Index(["c", "a", "b"])
    actions = strategy_actions(frame, default_strategy(LEGACY_MACD_RSI))
    assert actions.dtype == np.int8
    assert actions.index.equals(frame.index)


def test_empty_frame_gives_empty_actions() -> None:
    frame = tiny_frame([100.0]).iloc[:0]
    assert len(strategy_actions(frame, default_strategy(EMA_TREND))) == 0


def test_strategy_id_is_shared_by_candidates_and_changes_with_version() -> None:
    spec = default_strategy(LEGACY_MACD_RSI)
    assert uuid.UUID(spec.strategy_id).version == 5
    assert spec.with_params(rsi_buy_below=40.0).strategy_id == spec.strategy_id
    assert (
        StrategySpec(spec.name, spec.strategy_type, "1.0.1", params=spec.params).strategy_id
        != spec.strategy_id
    )
    assert default_strategy(EMA_TREND).strategy_id != spec.strategy_id


def test_parameter_set_is_the_sorted_ledger_payload() -> None:
    spec = default_strategy(LEGACY_MACD_RSI)
    payload = spec.parameter_set()
    assert list(payload) == sorted(payload)
    assert payload == {
        "base_timeframe": "1Min",
        "enabled": True,
        "params": {"notional_per_trade": 1000.0, "rsi_buy_below": 35.0, "rsi_sell_above": 65.0},
        "priority": 100,
        "strategy_id": spec.strategy_id,
        "strategy_type": "legacy_macd_rsi",
        "version": "1.0.0",
    }


def test_params_are_normalised_so_equal_configs_compare_equal() -> None:
    a = StrategySpec("s", LEGACY_MACD_RSI, "1", params=(("b", 2), ("a", 1.0)))
    b = StrategySpec("s", LEGACY_MACD_RSI, "1", params=(("a", 1), ("b", 2.0)))
    assert a == b and hash(a) == hash(b)
    assert a.param("b") == 2.0
    with pytest.raises(KeyError, match="zzz"):
        a.param("zzz")


def test_with_params_rejects_unknown_parameter() -> None:
    with pytest.raises(ValueError, match="rsi_typo"):
        default_strategy(LEGACY_MACD_RSI).with_params(rsi_typo=1.0)


def test_parameter_grid_is_a_deterministic_cartesian_product() -> None:
    spec = default_strategy(LEGACY_MACD_RSI)
    grid = parameter_grid(spec)
    assert len(grid) == 16 and len(set(grid)) == 16
    assert grid == parameter_grid(spec)
    assert [(g.param("rsi_buy_below"), g.param("rsi_sell_above")) for g in grid[:2]] == [(30, 55), (30, 60)]
    custom = parameter_grid(
        default_strategy(EMA_TREND), {"min_cross_bps": [0.0, 2.0], "rsi_filter_max": [70.0]}
    )
    assert [g.param("min_cross_bps") for g in custom] == [0.0, 2.0]
    assert len(parameter_grid(default_strategy(EMA_TREND))) == 12


def test_unknown_strategy_type_is_rejected_by_name() -> None:
    bogus = StrategySpec("x", "momentum_magic", "1.0.0", params=(("notional_per_trade", 1.0),))
    with pytest.raises(ValueError, match="momentum_magic"):
        default_strategy("momentum_magic")
    with pytest.raises(ValueError, match="momentum_magic"):
        parameter_grid(bogus)
    with pytest.raises(ValueError, match="momentum_magic"):
        strategy_actions(tiny_frame([100.0]), bogus)
