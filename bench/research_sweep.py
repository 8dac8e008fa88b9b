"""Research sweep: N candidates x 5 walk-forward folds over S symbols x D sessions of minute bars.

Project: the research assets' engine (`fold_frame(frame, folds).evaluate(spec, cost)` per candidate, the
loop `research_fold_metrics` runs), streaming one candidate at a time over every symbol.
Baseline: vectorbt `Portfolio.from_signals` on the same signals, costs and folds, fed in chunks of
candidates (bench/vectorbt_baseline.py). Both must give the same net PnL per (candidate, fold).
"""

from __future__ import annotations

import pickle
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench.datagen import minute_signals
from torghut_assets.domain.backtest import CostModel
from torghut_assets.domain.research_evaluation import ResearchSettings, fold_frame, fold_plan
from torghut_assets.domain.strategies import StrategySpec, default_strategy, parameter_grid
from torghut_assets.domain.walk_forward import Fold

NAME = "Research sweep"
BASELINE = "vectorbt 1.2 `Portfolio.from_signals`"
TARGET = "≤ 1.0× vectorbt, same PnL to 1e-9"
TARGET_RATIO = 1.0
BACKEND_NAMES = ("in-memory",)
SIZE_UNIT = "candidates"  # the size key growth is measured in (None: one size)
FOLDS = 5
VBT_CHUNK = 50
REPEATS = 2
# What vectorbt can express as a per-order fee: half spread + commission, no size-dependent impact.
COST = CostModel(impact_bps_at_full_participation=0.0, max_participation=1.0)
GRID = {
    "notional_per_trade": [1_000.0 * k for k in (1, 2, 5, 10, 20, 30, 50, 70, 85, 100)],
    "rsi_buy_below": [25.0 + 3 * i for i in range(10)],
    "rsi_sell_above": [50.0 + 3 * i for i in range(10)],
}


def sizes(scale: str) -> list[dict[str, Any]]:
    if scale == "quick":
        return [{"symbols": 10, "sessions": 60, "candidates": n} for n in (40, 80, 160)]
    return [{"symbols": 20, "sessions": 252, "candidates": n} for n in (125, 250, 1000)]


def size_label(size: dict[str, Any]) -> str:
    return f"{size['candidates']} cand × {FOLDS} folds × {size['symbols']} sym × {size['sessions']} sessions"


def prepare(size: dict[str, Any], backend: str, cache: Path) -> dict[str, Any]:
    path = cache / f"signals_{size['symbols']}x{size['sessions']}.pkl"
    if not path.exists():
        cache.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as fh:
            pickle.dump(minute_signals(size["symbols"], size["sessions"]), fh, protocol=5)
    return {**size, "path": str(path)}


def _load(state: dict[str, Any]) -> tuple[pd.DataFrame, list[Fold], list[StrategySpec]]:
    with open(state["path"], "rb") as fh:
        frame: pd.DataFrame = pickle.load(fh)
    bars = frame["event_ts"].nunique()
    size = (bars - 5) // (FOLDS + 1)
    settings = ResearchSettings(train_bars=size, test_bars=size, step_bars=size, purge_bars=5)
    specs = parameter_grid(default_strategy("legacy_macd_rsi"), GRID)[: state["candidates"]]
    return frame, fold_plan(frame, settings), specs


def project(state: dict[str, Any]) -> Callable[[], np.ndarray]:
    frame, folds, specs = _load(state)

    def run() -> np.ndarray:
        windows = fold_frame(frame, folds)
        return np.array([[m.net_pnl for m in windows.evaluate(spec, COST)] for spec in specs])

    return run


def baseline(state: dict[str, Any]) -> Callable[[], np.ndarray]:
    import vectorbt as vbt

    from bench.vectorbt_baseline import fold_net_pnl, wide_folds

    vbt.settings.caching["enabled"] = False  # its result cache would otherwise grow with every chunk

    frame, folds, specs = _load(state)
    fold_net_pnl(vbt, wide_folds(frame, folds[:1], COST)[0], specs[:2])  # numba compilation, untimed

    def run() -> np.ndarray:
        wide = wide_folds(frame, folds, COST)
        out = np.empty((len(specs), len(folds)))
        for lo in range(0, len(specs), VBT_CHUNK):
            chunk = specs[lo : lo + VBT_CHUNK]
            for j, fold in enumerate(wide):
                out[lo : lo + len(chunk), j] = fold_net_pnl(vbt, fold, chunk)
        return out

    return run


def compare(project_result: np.ndarray, baseline_result: np.ndarray) -> tuple[bool, str]:
    diff = np.abs(project_result - baseline_result)
    tolerance = 1e-9 * np.maximum(1.0, np.abs(baseline_result))
    agree = bool(project_result.shape == baseline_result.shape and (diff <= tolerance).all())
    worst = float((diff / np.maximum(1.0, np.abs(baseline_result))).max()) if diff.size else 0.0
    return agree, f"net PnL of {diff.size} (candidate, fold) pairs, max rel diff {worst:.1e}"
