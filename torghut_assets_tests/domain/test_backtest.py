from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from torghut_assets.domain.backtest import (
    BacktestMetrics,
    CostModel,
    backtest,
    net_pnl_cv,
    regime_label,
    replay,
)
from torghut_assets.domain.strategies import (
    LEGACY_MACD_RSI,
    STRATEGY_TYPES,
    default_strategy,
    strategy_actions,
)
from torghut_assets_tests.domain.signal_fixtures import (
    concat_frames,
    make_signals,
    session_bar_times,
    tiny_frame,
)

SPEC = default_strategy(LEGACY_MACD_RSI)
FREE = CostModel(impact_bps_at_full_participation=0.0)


def _acts(frame: pd.DataFrame, values: list[int]) -> pd.Series:
    return pd.Series(values, index=frame.index, dtype="int8")


def _positions(frame: pd.DataFrame, actions: list[int], costs: CostModel = FREE) -> list[int]:
    return replay(frame, _acts(frame, actions), SPEC, costs)["position_qty"].tolist()


def test_position_taken_one_bar_after_signal() -> None:
    frame = tiny_frame([100.0, 101.0, 102.0, 103.0, 104.0])
    replayed = replay(frame, _acts(frame, [1, 0, 0, 0, 0]), SPEC, FREE)
    assert replayed["position_qty"].tolist() == [0, 10, 10, 10, 0]
    assert replayed["gross_pnl"].tolist() == [0.0, 0.0, 10.0, 10.0, 10.0]


def test_sell_flattens_and_target_is_held_until_next_action() -> None:
    frame = tiny_frame([100.0] * 7)
    assert _positions(frame, [1, 0, 0, -1, 0, 1, 0]) == [0, 10, 10, 10, 0, 0, 0]


def test_repeated_buys_keep_the_entry_size() -> None:
    frame = tiny_frame([100.0, 120.0, 90.0, 90.0, 90.0])
    assert _positions(frame, [1, 1, 1, 0, 0]) == [0, 10, 10, 10, 0]


def test_positions_are_flat_at_session_end() -> None:
    frame = make_signals(minutes=120)
    replayed = replay(frame, strategy_actions(frame, default_strategy("ema_trend")), SPEC, CostModel())
    last_rows = replayed.groupby("session_id").tail(1)
    assert (last_rows["position_qty"] == 0).all()
    assert replayed.groupby("session_id")["traded_qty"].sum().eq(0).all()
    assert (replayed["traded_qty"] != 0).sum() > 0


def test_a_signal_on_the_last_bar_does_not_carry_into_the_next_session() -> None:
    frame = concat_frames(
        tiny_frame([100.0] * 3, day="2026-02-23"), tiny_frame([100.0] * 3, day="2026-02-24")
    )
    assert _positions(frame, [0, 0, 1, 0, 0, 0]) == [0, 0, 0, 0, 0, 0]


def test_cost_is_zero_without_trades() -> None:
    frame = make_signals(minutes=60)
    metrics = backtest(frame, _acts(frame, [0] * len(frame)), SPEC, CostModel(commission_bps=5.0))
    assert metrics == BacktestMetrics(0, 0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)


@pytest.mark.parametrize("strategy_type", STRATEGY_TYPES)
def test_net_pnl_equals_gross_minus_cost(strategy_type: str) -> None:
    frame = make_signals()
    spec = default_strategy(strategy_type)
    metrics = backtest(frame, strategy_actions(frame, spec), spec, CostModel(commission_bps=1.0))
    assert metrics.trade_count > 0 and metrics.cost_total > 0
    assert metrics.net_pnl == metrics.gross_pnl - metrics.cost_total


def test_cost_charges_half_spread_impact_and_commission() -> None:
    frame = tiny_frame([100.0] * 3, volume=1_000, spread=0.10)
    costs = CostModel(commission_bps=1.0, impact_bps_at_full_participation=50.0, max_participation=0.1)
    metrics = backtest(frame, _acts(frame, [1, 0, 0]), SPEC, costs)
    per_fill_bps = 5.0 + 50.0 * (10 / 1_000) + 1.0
    assert metrics.turnover_notional == 2_000.0
    assert metrics.cost_total == pytest.approx(2 * 1_000.0 * per_fill_bps / 1e4)
    assert metrics.cost_bps == pytest.approx(per_fill_bps)


def test_spread_multiplier_scales_only_the_spread_component() -> None:
    frame = tiny_frame([100.0] * 3, volume=1_000, spread=0.10)
    base = backtest(frame, _acts(frame, [1, 0, 0]), SPEC, CostModel())
    wide = backtest(frame, _acts(frame, [1, 0, 0]), SPEC, CostModel(spread_multiplier=3.0))
    assert wide.cost_bps - base.cost_bps == pytest.approx(2 * 5.0)


def test_drawdown_matches_hand_computed_equity_curve() -> None:
    frame = tiny_frame([100.0, 100.0, 110.0, 95.0, 105.0, 100.0])
    metrics = backtest(frame, _acts(frame, [1, 0, 0, 0, 0, 0]), SPEC, FREE)
    # 10 shares from bar 1; equity 0, 0, 100, -50, 50, 0 -> peak 100, trough -50
    assert metrics.max_drawdown == 150.0
    assert metrics.gross_pnl == 0.0


def test_drawdown_peak_starts_at_zero() -> None:
    frame = tiny_frame([100.0, 100.0, 90.0, 95.0])
    assert backtest(frame, _acts(frame, [1, 0, 0, 0]), SPEC, FREE).max_drawdown == 100.0


def test_drawdown_is_measured_on_the_portfolio_curve() -> None:
    up = tiny_frame([100.0, 100.0, 110.0, 100.0], symbol="AAPL")
    down = tiny_frame([100.0, 100.0, 90.0, 100.0], symbol="MSFT")
    frame = concat_frames(up, down)
    metrics = backtest(frame, _acts(frame, [1, 0, 0, 0, 1, 0, 0, 0]), SPEC, FREE)
    assert metrics.max_drawdown == 0.0


def test_turnover_ratio_is_turnover_over_average_exposure() -> None:
    frame = tiny_frame([100.0] * 4)
    metrics = backtest(frame, _acts(frame, [1, 0, 0, 0]), SPEC, FREE)
    assert metrics.turnover_notional == 2_000.0
    assert metrics.turnover_ratio == 2_000.0 / (2 * 1_000.0 / 4)


def test_participation_cap_creates_partial_fills() -> None:
    frame = tiny_frame([10.0] * 5, volume=500)
    replayed = replay(frame, _acts(frame, [1, 0, 0, 0, 0]), SPEC, CostModel(max_participation=0.1))
    assert replayed["traded_qty"].tolist() == [0, 50, 50, 0, -100]
    assert replayed["participation"].tolist() == [0.0, 0.1, 0.1, 0.0, 0.2]


def test_unfilled_remainder_is_abandoned_when_the_target_changes() -> None:
    frame = tiny_frame([10.0] * 5, volume=500)
    assert _positions(frame, [1, -1, 0, 0, 0], CostModel(max_participation=0.1)) == [0, 50, 0, 0, 0]


def test_zero_volume_bars_do_not_fill() -> None:
    frame = tiny_frame([10.0] * 5, volume=[500, 0, 500, 500, 500])
    assert _positions(frame, [1, 0, 0, 0, 0], CostModel(max_participation=0.1)) == [0, 0, 50, 100, 0]


def test_backtest_window_is_replayed_from_a_flat_book() -> None:
    frame = tiny_frame([100.0, 101.0, 102.0, 103.0, 104.0, 105.0])
    acts = _acts(frame, [1, 0, 0, 0, 0, 0])
    start, end = frame["event_ts"].iloc[2], frame["event_ts"].iloc[5]
    assert backtest(frame, acts, SPEC, FREE, start, end).trade_count == 0
    windowed = backtest(frame, acts, SPEC, FREE, frame["event_ts"].iloc[0], end)
    assert windowed.gross_pnl == 30.0  # bought at 101, forced out at the window's last bar (104)
    assert windowed.decision_count == 1


def test_actions_aligned_by_index_label() -> None:
    frame = tiny_frame([100.0, 101.0, 102.0])
    reordered = _acts(frame, [1, 0, 0]).iloc[::-1]
    assert backtest(frame, reordered, SPEC, FREE).gross_pnl == 10.0


def _trend(step_bps: float, n: int = 60) -> pd.DataFrame:
    return tiny_frame(list(100.0 * np.exp(np.arange(n) * step_bps / 1e4)))


def test_regime_label_thresholds() -> None:
    zigzag = [100.0 * (1 + (0.003 if i % 2 else 0.0)) for i in range(60)]
    calm = [100.0 * (1 + (0.0002 if i % 2 else 0.0)) for i in range(60)]
    assert regime_label(_trend(1.0)) == "trend_up"
    assert regime_label(_trend(-1.0)) == "trend_down"
    assert regime_label(tiny_frame(calm)) == "range"
    assert regime_label(tiny_frame(zigzag)) == "high_vol"
    frame = _trend(1.0)
    assert regime_label(frame, frame["event_ts"].iloc[10], frame["event_ts"].iloc[11]) == "no_data"


def test_net_pnl_cv_is_population_std_over_abs_mean() -> None:
    assert net_pnl_cv([1.0, 3.0]) == 0.5
    assert net_pnl_cv([-1.0, -3.0]) == 0.5
    assert net_pnl_cv([5.0]) is None
    assert net_pnl_cv([1.0, -1.0]) is None


def test_cost_model_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="max_participation"):
        CostModel(max_participation=0.0)
    with pytest.raises(ValueError, match="commission_bps"):
        CostModel(commission_bps=-1.0)
    assert CostModel().as_dict() == {
        "commission_bps": 0.0,
        "impact_bps_at_full_participation": 50.0,
        "max_participation": 0.1,
        "spread_multiplier": 1.0,
    }


@st.composite
def _replay_inputs(draw: st.DrawFn) -> tuple[pd.DataFrame, pd.Series, CostModel]:
    sessions = []
    for i, day in enumerate(("2026-02-23", "2026-02-24")[: draw(st.integers(1, 2))]):
        n = draw(st.integers(1, 25))
        prices = draw(st.lists(st.floats(5.0, 500.0), min_size=n, max_size=n))
        volumes = draw(st.lists(st.integers(0, 3_000), min_size=n, max_size=n))
        spreads = draw(st.lists(st.floats(0.0, 0.5), min_size=n, max_size=n))
        symbol = ("AAPL", "MSFT")[i % 2] if draw(st.booleans()) else "AAPL"
        sessions.append(
            pd.DataFrame(
                {
                    "symbol": symbol,
                    "event_ts": session_bar_times(day, n),
                    "seq": 0,
                    "price": prices,
                    "volume": volumes,
                    "imbalance_spread": spreads,
                }
            )
        )
    frame = pd.concat(sessions, ignore_index=True)
    actions = draw(st.lists(st.sampled_from([-1, 0, 0, 1]), min_size=len(frame), max_size=len(frame)))
    costs = CostModel(
        commission_bps=draw(st.floats(0.0, 5.0)),
        max_participation=draw(st.sampled_from([0.01, 0.1, 1.0])),
        spread_multiplier=draw(st.floats(0.0, 3.0)),
    )
    return frame, _acts(frame, actions), costs


_PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_PROPERTY
@given(_replay_inputs())
def test_property_traded_quantity_is_conserved_per_session(
    inputs: tuple[pd.DataFrame, pd.Series, CostModel],
) -> None:
    frame, actions, costs = inputs
    replayed = replay(frame, actions, SPEC, costs)
    assert replayed.groupby("session_id")["traded_qty"].sum().eq(0).all()
    assert (replayed["position_qty"] >= 0).all()
    not_last = replayed.groupby("session_id").cumcount(ascending=False) > 0
    assert (replayed["traded_qty"].abs()[not_last] <= replayed["fill_cap_qty"][not_last]).all()


@_PROPERTY
@given(_replay_inputs())
def test_property_net_never_exceeds_gross(inputs: tuple[pd.DataFrame, pd.Series, CostModel]) -> None:
    frame, actions, costs = inputs
    metrics = backtest(frame, actions, SPEC, costs)
    assert metrics.cost_total >= 0
    assert metrics.net_pnl <= metrics.gross_pnl
    assert math.isfinite(metrics.max_drawdown) and metrics.max_drawdown >= 0


@_PROPERTY
@given(_replay_inputs())
def test_property_backtest_is_deterministic_and_order_free(
    inputs: tuple[pd.DataFrame, pd.Series, CostModel],
) -> None:
    frame, actions, costs = inputs
    first = backtest(frame, actions, SPEC, costs)
    assert backtest(frame.copy(), actions.copy(), SPEC, costs) == first
    perm = np.random.default_rng(len(frame)).permutation(len(frame))
    assert backtest(frame.iloc[perm], actions.iloc[perm], SPEC, costs) == first
