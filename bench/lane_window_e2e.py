"""One lane window end to end on the embedded default (SQLite ledger, simulator, paper broker):
`lane_window_job` in-process vs the domain functions it wraps, called directly on the same window
(signal admission, candidate evaluation, fold and stress replays). The ratio is Dagster + ledger overhead.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

NAME = "Lane window e2e"
BASELINE = "the domain functions called directly"
TARGET = "< 10 s; overhead ratio reported"
TARGET_RATIO = float("inf")
BACKEND_NAMES = ("sqlite",)
SIZE_UNIT = None  # the size key growth is measured in (None: one size)
REPEATS = 1
WINDOW = "2026-03-03-15:00"


def meets(ratio: float, project_seconds: float) -> bool:
    return project_seconds < 10.0


def sizes(scale: str) -> list[dict[str, Any]]:
    return [{"lane": "macd_rsi", "window": WINDOW}]


def size_label(size: dict[str, Any]) -> str:
    return f"{size['lane']} {size['window']}"


def prepare(size: dict[str, Any], backend: str, cache: Path) -> dict[str, Any]:
    return {**size, "home": tempfile.mkdtemp(prefix="torghut-bench-e2e-")}


def project(state: dict[str, Any]) -> Callable[[], int]:
    home = Path(state["home"])
    os.environ.update(
        {
            "DAGSTER_HOME": str(home),
            "TORGHUT_DATABASE_URL": f"sqlite:///{home / 'ledger.db'}",
            "TORGHUT_ARTIFACT_ROOT": str(home / "artifacts"),
        }
    )
    import dagster as dg

    from torghut_assets.definitions import defs
    from torghut_assets.ledger.engine import create_ledger_engine
    from torghut_assets.ledger.migrate import upgrade

    engine = create_ledger_engine(os.environ["TORGHUT_DATABASE_URL"])
    upgrade(engine)
    engine.dispose()
    job = defs.resolve_job_def("lane_window_job")
    key = dg.MultiPartitionKey({"lane": state["lane"], "window": state["window"]})

    def run() -> int:
        with dg.DagsterInstance.ephemeral() as instance:
            result = job.execute_in_process(partition_key=key, instance=instance)
        if not result.success:
            raise RuntimeError("lane_window_job failed")
        return len(result.get_asset_materialization_events())

    return run


def baseline(state: dict[str, Any]) -> Callable[[], int]:
    from torghut_assets.adapters.market_simulator import MarketSimulator
    from torghut_assets.defs.lane_window.partitions import lane_window_from_key
    from torghut_assets.domain import research_evaluation as evaluation
    from torghut_assets.domain.lanes import LANES
    from torghut_assets.domain.signal_quality import admit_signals
    from torghut_assets.services.research_inputs import lookback_start

    window = lane_window_from_key(f"{state['lane']}|{state['window']}")
    settings = evaluation.ResearchSettings()
    strategy_type = LANES[window.lane].strategy_type
    simulator = MarketSimulator()

    def run() -> int:
        start = lookback_start(window, settings)
        frame = admit_signals(
            simulator.signals(start, window.end),
            window_start=start,
            window_end=window.end,
            universe=simulator.universe,
        ).frame
        specs = evaluation.candidate_specs(strategy_type, settings)
        results = evaluation.evaluate_candidates(
            frame, specs, run_id="bench", dataset_version="bench", cost=settings.cost_model
        )
        folds = evaluation.fold_plan(frame, settings)
        windows = evaluation.fold_frame(frame, folds)
        count = 0
        for result in results:
            count += len(windows.evaluate(result.spec, settings.cost_model))
            count += len(evaluation.evaluate_stress(frame, result.spec, settings.cost_model))
        return count

    return run


def compare(project_result: int, baseline_result: int) -> tuple[bool, str]:
    return (
        project_result > 0 and baseline_result > 0,
        f"{project_result} materializations; domain path {baseline_result} results",
    )
