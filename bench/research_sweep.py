"""Research sweep timing: N candidates × walk-forward folds over one lane's trailing month of minute bars.

Prints the project's time and a baseline measured in the same process: the same candidates replayed
with one `backtest` call per fold (the straightforward way), so the ratio shows what the windowed
engine buys. Usage: .venv/bin/python bench/research_sweep.py [--candidates 200] [--folds 5]
"""

from __future__ import annotations

import argparse
import time

import pandas as pd

from torghut_assets.adapters.market_simulator import MarketSimulator
from torghut_assets.domain.backtest import CostModel, backtest
from torghut_assets.domain.research_evaluation import ResearchSettings, evaluate_folds, fold_plan
from torghut_assets.domain.strategies import default_strategy, parameter_grid, strategy_actions


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--candidates", type=int, default=200)
    parser.add_argument("--folds", type=int, default=5)
    args = parser.parse_args()
    end = pd.Timestamp("2026-03-03", tz="UTC")
    frame = MarketSimulator().signals(end - pd.Timedelta(days=30), end)
    bars = frame["event_ts"].nunique()
    size = (bars - 5) // (args.folds + 1)
    settings = ResearchSettings(train_bars=size, test_bars=size, step_bars=size, purge_bars=5)
    folds = fold_plan(frame, settings)
    buy = [25.0 + i for i in range(20)]
    sell = [55.0 + i for i in range(max(1, args.candidates // 20))]
    grid = {"rsi_buy_below": buy, "rsi_sell_above": sell}
    specs = parameter_grid(default_strategy("legacy_macd_rsi"), grid)[: args.candidates]
    cost = CostModel()
    started = time.perf_counter()
    for spec in specs:
        evaluate_folds(frame, spec, folds, cost)
    project = time.perf_counter() - started
    started = time.perf_counter()
    for spec in specs:
        actions = strategy_actions(frame, spec)
        for fold in folds:
            backtest(frame, actions, spec, cost, fold.test_start, fold.test_end)
    baseline = time.perf_counter() - started
    print(f"rows={len(frame)} bars={bars} candidates={len(specs)} folds={len(folds)}")
    print(f"project (backtest_windows): {project:.2f} s")
    print(f"baseline (backtest per fold): {baseline:.2f} s")
    print(f"ratio project/baseline: {project / baseline:.2f}")


if __name__ == "__main__":
    main()
