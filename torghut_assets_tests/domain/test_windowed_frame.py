"""The sweep engine (sort once, cut folds once, replay many candidates) is the per-window backtest."""

from __future__ import annotations

import pandas as pd
import pytest

from torghut_assets.adapters.market_simulator import MarketSimulator
from torghut_assets.domain.backtest import CostModel, WindowedFrame, backtest
from torghut_assets.domain.research_evaluation import ResearchSettings, fold_frame, fold_plan
from torghut_assets.domain.strategies import (
    STRATEGY_TYPES,
    default_strategy,
    parameter_grid,
    strategy_actions,
)

END = pd.Timestamp("2026-03-04", tz="UTC")
TIGHT_CAP = CostModel(max_participation=0.00001, commission_bps=1.0)  # caps of a few shares: partial fills


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    signals = MarketSimulator().signals(END - pd.Timedelta(days=3), END)
    return signals.sample(frac=1.0, random_state=3)  # input order must not matter


@pytest.mark.parametrize("strategy_type", STRATEGY_TYPES)
@pytest.mark.parametrize("cost", [CostModel(), TIGHT_CAP], ids=["default_costs", "binding_participation_cap"])
def test_every_candidate_and_fold_equals_backtest_of_that_window(
    frame: pd.DataFrame, strategy_type: str, cost: CostModel
) -> None:
    folds = fold_plan(frame, ResearchSettings(train_bars=120, test_bars=90, step_bars=90, purge_bars=5))
    windows = fold_frame(frame, folds)
    for spec in parameter_grid(default_strategy(strategy_type))[:6]:
        actions = strategy_actions(frame, spec)
        expected = [backtest(frame, actions, spec, cost, f.test_start, f.test_end) for f in folds]
        assert windows.evaluate(spec, cost) == expected


def test_unbounded_window_is_the_whole_frame(frame: pd.DataFrame) -> None:
    spec = default_strategy(STRATEGY_TYPES[0])
    actions = strategy_actions(frame, spec)
    whole = WindowedFrame(frame, [(None, None)])
    assert whole.metrics(whole.in_order(actions), spec, CostModel()) == [
        backtest(frame, actions, spec, CostModel())
    ]


def test_a_window_with_no_rows_has_empty_metrics(frame: pd.DataFrame) -> None:
    spec = default_strategy(STRATEGY_TYPES[0])
    later = END + pd.Timedelta(days=10)
    [metrics] = WindowedFrame(frame, [(later, later + pd.Timedelta(hours=1))]).evaluate(spec, CostModel())
    assert metrics.trade_count == 0 and metrics.net_pnl == 0.0
