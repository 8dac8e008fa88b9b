"""The research computation of one lane window, as pure functions of (signals, settings, ids).

Assets call these one stage at a time and store the results; replay calls the same functions and
compares. Keeping the computation here (not in asset bodies) is what makes "replay reproduces the
ledger byte for byte" a meaningful check rather than a second implementation.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from torghut_assets.domain import research
from torghut_assets.domain.backtest import (
    BacktestMetrics,
    CostModel,
    WindowedFrame,
    backtest,
    regime_label,
)
from torghut_assets.domain.evidence import sha256_hex
from torghut_assets.domain.overfitting import candidate_overfitting_report
from torghut_assets.domain.strategies import StrategySpec, default_strategy, parameter_grid, strategy_actions
from torghut_assets.domain.strategy_interface import StrategyLoadError
from torghut_assets.domain.stress import STRESS_CASES, StressResult, run_stress
from torghut_assets.domain.walk_forward import Fold, WalkForwardMode, walk_forward_folds

FOLD_MODES: tuple[str, ...] = tuple(m.value for m in WalkForwardMode)


class ResearchSettingsError(ValueError):
    pass


@dataclass(frozen=True)
class ResearchSettings:
    """Everything besides data and code that shapes a run; its checksum is part of the run id."""

    lookback_sessions: int = 1
    train_bars: int = 60
    test_bars: int = 30
    step_bars: int = 30
    purge_bars: int = 5
    fold_mode: str = WalkForwardMode.SLIDING.value
    grid: tuple[tuple[str, tuple[float, ...]], ...] | None = None
    cost_model: CostModel = field(default_factory=CostModel)

    def __post_init__(self) -> None:
        if self.fold_mode not in FOLD_MODES:
            raise ResearchSettingsError(f"fold_mode {self.fold_mode!r} is not one of {FOLD_MODES}")
        for name in ("lookback_sessions", "train_bars", "test_bars", "step_bars"):
            if getattr(self, name) < 1:
                raise ResearchSettingsError(
                    f"research setting {name} must be >= 1, got {getattr(self, name)}"
                )
        if self.purge_bars < 0:
            raise ResearchSettingsError(f"research setting purge_bars must be >= 0, got {self.purge_bars}")

    def as_dict(self) -> dict[str, object]:
        return {
            "lookback_sessions": self.lookback_sessions,
            "train_bars": self.train_bars,
            "test_bars": self.test_bars,
            "step_bars": self.step_bars,
            "purge_bars": self.purge_bars,
            "fold_mode": self.fold_mode,
            "grid": None if self.grid is None else {k: list(v) for k, v in self.grid},
            "cost_model": self.cost_model.as_dict(),
        }

    def checksum(self) -> str:
        return sha256_hex(self.as_dict())

    def grid_mapping(self) -> Mapping[str, Sequence[float]] | None:
        return None if self.grid is None else dict(self.grid)


@dataclass(frozen=True)
class CandidateResult:
    spec: StrategySpec
    candidate_id: str
    candidate_hash: str
    lookback: BacktestMetrics

    @property
    def parameter_set(self) -> dict[str, object]:
        return self.spec.parameter_set()


def candidate_specs(
    strategy_type: str,
    settings: ResearchSettings,
    *,
    params: Mapping[str, float] | None = None,
    grid: Mapping[str, Sequence[float]] | None = None,
) -> list[StrategySpec]:
    """Every combination tried for the run, losers included: deflated Sharpe needs all trials.

    `strategy_type` is a strategy reference (built-in name or plug-in import path); `params` overrides its
    defaults and `grid` (e.g. a lane's own) replaces the research settings' grid, itself replacing the
    strategy's default grid. Each candidate's parameter set carries the reference and version, so both are
    in every candidate hash and id."""
    axes = grid if grid is not None else settings.grid_mapping()
    return parameter_grid(default_strategy(strategy_type, params), axes)


def evaluate_candidates(
    frame: pd.DataFrame, specs: Sequence[StrategySpec], *, run_id: str, dataset_version: str, cost: CostModel
) -> list[CandidateResult]:
    results = []
    for spec in specs:
        cand_hash = research.candidate_hash(
            run_id=run_id, dataset_version=dataset_version, parameter_set=spec.parameter_set()
        )
        metrics = backtest(frame, strategy_actions(frame, spec), spec, cost)
        results.append(CandidateResult(spec, research.candidate_id(run_id, cand_hash), cand_hash, metrics))
    return results


def fold_plan(frame: pd.DataFrame, settings: ResearchSettings) -> list[Fold]:
    bar_times = pd.DatetimeIndex(frame["event_ts"].drop_duplicates().sort_values())
    return walk_forward_folds(
        bar_times,
        train_bars=settings.train_bars,
        test_bars=settings.test_bars,
        step_bars=settings.step_bars,
        purge_bars=settings.purge_bars,
        mode=WalkForwardMode(settings.fold_mode),
    )


def fold_regimes(frame: pd.DataFrame, folds: Sequence[Fold]) -> dict[str, str]:
    return {f.fold_name: regime_label(frame, f.test_start, f.test_end) for f in folds}


def fold_frame(frame: pd.DataFrame, folds: Sequence[Fold]) -> WindowedFrame:
    """The frame sorted and cut into the folds' test ranges once, for every candidate of a run."""
    return WindowedFrame(frame, [(f.test_start, f.test_end) for f in folds])


def evaluate_folds(
    frame: pd.DataFrame, spec: StrategySpec, folds: Sequence[Fold], cost: CostModel
) -> list[BacktestMetrics]:
    return fold_frame(frame, folds).evaluate(spec, cost)


def evaluate_stress(frame: pd.DataFrame, spec: StrategySpec, cost: CostModel) -> list[StressResult]:
    baseline = backtest(frame, strategy_actions(frame, spec), spec, cost)
    return [run_stress(case, frame, spec, cost, baseline=baseline) for case in STRESS_CASES]


def spec_from_parameter_set(parameter_set: Mapping[str, object]) -> StrategySpec:
    """Rebuild a candidate's strategy from its stored parameter set, refusing one that does not round-trip."""
    params = parameter_set.get("params")
    if not isinstance(params, Mapping):
        raise ValueError("parameter_set has no params mapping")
    ref = str(parameter_set["strategy_type"])
    spec = default_strategy(ref)  # StrategyLoadError when the strategy is unknown or does not load
    recorded = parameter_set.get("version")
    if recorded is not None and str(recorded) != spec.version:
        raise StrategyLoadError(
            [
                f"strategy {ref!r}: the candidate was researched with version {recorded} but version "
                f"{spec.version} is installed; research the window again, or install version {recorded}"
            ]
        )
    spec = spec.with_params(**{str(k): float(v) for k, v in params.items()})
    if research.strategy_config_hash(spec.parameter_set()) != research.strategy_config_hash(parameter_set):
        raise ValueError(f"parameter_set {parameter_set} does not rebuild to the same strategy")
    return spec


def overfitting_by_candidate(fold_net_pnl: Mapping[str, Sequence[float]]) -> dict[str, dict[str, object]]:
    """Sharpe / PSR / DSR per candidate over the run's fold PnL series, all trials included."""
    # Inputs at the ledger's 10 decimals, so stored rows and a fresh replay feed identical numbers.
    return candidate_overfitting_report(
        {k: np.round(np.asarray(v, dtype="float64"), 10) for k, v in fold_net_pnl.items()}
    )
