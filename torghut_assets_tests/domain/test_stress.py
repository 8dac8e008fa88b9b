from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from torghut_assets.domain.backtest import CostModel, backtest, replay
from torghut_assets.domain.strategies import (
    EMA_TREND,
    LEGACY_MACD_RSI,
    STRATEGY_TYPES,
    default_strategy,
    strategy_actions,
)
from torghut_assets.domain.stress import STRESS_CASES, run_stress, stress_inputs
from torghut_assets_tests.domain.signal_fixtures import make_signals, tiny_frame

COSTS = CostModel()


@pytest.fixture(scope="module")
def signals() -> pd.DataFrame:
    return make_signals(minutes=180, seed=11)


@pytest.mark.parametrize("strategy_type", STRATEGY_TYPES)
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_spread_stress_never_improves_net_pnl(strategy_type: str, seed: int) -> None:
    frame = make_signals(minutes=120, seed=seed)
    result = run_stress("spread", frame, default_strategy(strategy_type), COSTS)
    assert result.metrics.net_pnl <= result.baseline.net_pnl
    assert result.metrics.gross_pnl == result.baseline.gross_pnl
    assert result.pessimistic_pnl_delta <= 0


@pytest.mark.parametrize("case", STRESS_CASES)
def test_stress_is_deterministic(case: str, signals: pd.DataFrame) -> None:
    spec = default_strategy(EMA_TREND)
    snapshot = signals.copy()
    first_frame, first_costs = stress_inputs(case, signals, COSTS)
    second_frame, second_costs = stress_inputs(case, signals, COSTS)
    pd.testing.assert_frame_equal(first_frame, second_frame)
    assert first_costs == second_costs
    assert run_stress(case, signals, spec, COSTS) == run_stress(case, signals, spec, COSTS)
    pd.testing.assert_frame_equal(signals, snapshot)


def test_volatility_stress_doubles_log_moves_around_the_session_open(signals: pd.DataFrame) -> None:
    shocked, costs = stress_inputs("volatility", signals, COSTS)
    assert costs.spread_multiplier == 1.5
    assert (shocked["price"] > 0).all()
    day = pd.DatetimeIndex(signals["event_ts"]).tz_convert("America/New_York").date
    keys = [signals["symbol"], pd.Series(day, index=signals.index)]
    base_move = np.log(signals["price"] / signals.groupby(keys)["price"].transform("first"))
    shocked_move = np.log(shocked["price"] / shocked.groupby(keys)["price"].transform("first"))
    np.testing.assert_allclose(shocked_move, 2 * base_move, atol=1e-12)
    np.testing.assert_array_equal(np.sign(shocked["macd_hist"]), np.sign(signals["macd_hist"]))
    pd.testing.assert_series_equal(shocked["rsi14"], signals["rsi14"])
    np.testing.assert_allclose(
        shocked["imbalance_spread"] / shocked["price"], signals["imbalance_spread"] / signals["price"]
    )


def test_liquidity_stress_produces_partial_fills(signals: pd.DataFrame) -> None:
    spec = default_strategy(EMA_TREND).with_params(notional_per_trade=50_000.0)
    shocked, costs = stress_inputs("liquidity", signals, COSTS)
    assert costs.max_participation == 0.02
    assert (shocked["volume"] == np.floor(signals["volume"] * 0.25)).all()
    replayed = replay(shocked, strategy_actions(shocked, spec), spec, costs)
    mid_session = replayed.groupby("session_id").cumcount(ascending=False) > 0
    partial = (
        mid_session & (replayed["traded_qty"] != 0) & (replayed["position_qty"] != replayed["desired_qty"])
    )
    assert partial.any()


def test_liquidity_stress_never_raises_the_participation_cap(signals: pd.DataFrame) -> None:
    _, costs = stress_inputs("liquidity", signals, CostModel(max_participation=0.01))
    assert costs.max_participation == 0.01


def _crossing_session(n: int = 40, cross_at: int = 10) -> pd.DataFrame:
    gaps = [-0.05 if i < cross_at else 0.05 for i in range(n)]
    return tiny_frame([100.0] * n, ema12=[100.0 + g for g in gaps], ema26=[100.0] * n, rsi14=[50.0] * n)


def test_halt_delays_actions_by_five_bars() -> None:
    frame = _crossing_session()
    shocked, _ = stress_inputs("halt", frame, COSTS)
    spec = default_strategy(EMA_TREND)

    def buys(f: pd.DataFrame) -> list[pd.Timestamp]:
        return f["event_ts"][strategy_actions(f, spec) == 1].tolist()

    assert buys(frame) == [frame["event_ts"].iloc[10]]
    assert buys(shocked) == [frame["event_ts"].iloc[15]]


def test_halt_drops_a_mid_session_block_but_keeps_the_session_close() -> None:
    frame = _crossing_session()
    shocked, costs = stress_inputs("halt", frame, COSTS)
    assert costs == COSTS
    dropped = frame.index.difference(shocked.index).tolist()
    assert dropped == [20, 21, 22, 23]
    assert shocked["event_ts"].iloc[-1] == frame["event_ts"].iloc[-1]
    assert (shocked["price"] == frame.loc[shocked.index, "price"]).all()


def test_halted_replay_trades_again_after_the_gap(signals: pd.DataFrame) -> None:
    spec = default_strategy(EMA_TREND)
    shocked, costs = stress_inputs("halt", signals, COSTS)
    replayed = replay(shocked, strategy_actions(shocked, spec), spec, costs)
    assert replayed.groupby("session_id")["traded_qty"].sum().eq(0).all()
    late = replayed.groupby("session_id").cumcount() > 90
    assert (replayed["traded_qty"][late] != 0).any()


def test_metric_bundle_carries_the_ledger_keys(signals: pd.DataFrame) -> None:
    result = run_stress("liquidity", signals, default_strategy(LEGACY_MACD_RSI), COSTS)
    bundle = result.metric_bundle()
    assert set(bundle) == {
        "case",
        "max_drawdown",
        "cost_bps",
        "turnover_ratio",
        "net_pnl",
        "gross_pnl",
        "decision_count",
        "trade_count",
    }
    assert bundle["case"] == "liquidity"
    assert result.pessimistic_pnl_delta == result.metrics.net_pnl - result.baseline.net_pnl


def test_stress_window_and_precomputed_baseline(signals: pd.DataFrame) -> None:
    spec = default_strategy(EMA_TREND)
    start, end = signals["event_ts"].min(), signals["event_ts"].max()
    baseline = backtest(signals, strategy_actions(signals, spec), spec, COSTS, start, end)
    fresh = run_stress("volatility", signals, spec, COSTS, start, end)
    assert fresh.baseline == baseline
    assert run_stress("volatility", signals, spec, COSTS, start, end, baseline=baseline) == fresh


def test_unknown_stress_case_is_rejected_by_name(signals: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="meteor"):
        stress_inputs("meteor", signals, COSTS)
    with pytest.raises(ValueError, match="meteor"):
        run_stress("meteor", signals, default_strategy(EMA_TREND), COSTS)
