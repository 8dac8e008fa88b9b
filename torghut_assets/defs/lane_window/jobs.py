"""Jobs. The lane window job runs in-process: its steps are short and share one ledger connection pool."""

from __future__ import annotations

import dagster as dg

from torghut_assets.defs.lane_window.hooks import mark_research_run_failed
from torghut_assets.defs.pod_resources import LANE_WINDOW_POD

LANE_WINDOW_ASSETS = dg.AssetSelection.groups("lane_window")
LANE_WINDOW_LEDGER_ASSETS: tuple[str, ...] = (
    "signals",
    "trade_decisions",
    "executions",
    "research_runs",
    "research_candidates",
    "research_fold_metrics",
    "research_stress_metrics",
    "research_promotions",
)
"""The lane-window assets whose ledger tables the nightly reconciliation and the readiness report read."""

lane_window_job = dg.define_asset_job(
    name="lane_window_job",
    selection=LANE_WINDOW_ASSETS,
    executor_def=dg.in_process_executor,
    description="One lane window end to end: signals → decisions → executions → research ledger.",
    tags={"torghut/pipeline": "lane_window", **LANE_WINDOW_POD.tag()},
    hooks={mark_research_run_failed},
)
