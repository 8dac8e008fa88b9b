"""Research run and candidate identity for a lane window (docs/research.md, "Run identity").

Ids hash canonical JSON of their inputs, not file bytes, so the same evidence always yields the same
id whatever machine or serialization produced it.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

import pandas as pd

from torghut_assets.domain.evidence import sha256_hex
from torghut_assets.domain.gates import TargetMode

FEATURE_VERSION = "v1"
FEATURE_SCHEMA_VERSION = "3.0.0"
SIGNAL_SOURCE = "autonomy-signals"
RUNNER_VERSION = "torghut-assets-lane-window/1"
SKIPPED_RUNNER_VERSION = "run_autonomous_lane_no_signals"
NO_SIGNAL_SNAPSHOT_REF = "no_signal_window"
DEFAULT_PROMOTION_TARGET = TargetMode.SHADOW


class ResearchRunStatus(StrEnum):
    """`research_runs.status`: running while the window is researched, then passed or failed; skipped
    for a window without signals (no research at all)."""

    RUNNING = "running"
    PASSED = "passed"
    FAILED = "failed"
    SKIPPED = "skipped"


TERMINAL_RUN_STATUSES: tuple[ResearchRunStatus, ...] = (
    ResearchRunStatus.PASSED,
    ResearchRunStatus.FAILED,
    ResearchRunStatus.SKIPPED,
)


def strategy_config_hash(parameter_set: Mapping[str, object]) -> str:
    return sha256_hex(parameter_set)


def lane_window_run_id(
    *,
    lane: str,
    window_start: pd.Timestamp,
    window_end: pd.Timestamp,
    dataset_version: str,
    strategy_config_sha256: str,
    code_version: str,
    promotion_target: TargetMode = DEFAULT_PROMOTION_TARGET,
) -> str:
    return sha256_hex(
        {
            "lane": lane,
            "window_start": window_start,
            "window_end": window_end,
            "dataset_version": dataset_version,
            "strategy_config_sha256": strategy_config_sha256,
            "code_version": code_version,
            "promotion_target": promotion_target,
        }
    )[:24]


def skipped_run_id(
    *,
    lane: str,
    window_start: pd.Timestamp,
    window_end: pd.Timestamp,
    reason: str,
    strategy_config_sha256: str,
) -> str:
    """One skipped run per empty window and reason: re-running the window finds the same row."""
    return sha256_hex(
        {
            "lane": lane,
            "window_start": window_start,
            "window_end": window_end,
            "reason": reason,
            "strategy_config_sha256": strategy_config_sha256,
        }
    )[:24]


def candidate_hash(*, run_id: str, dataset_version: str, parameter_set: Mapping[str, object]) -> str:
    return sha256_hex({"run_id": run_id, "dataset_version": dataset_version, "parameter_set": parameter_set})[
        :32
    ]


def candidate_id(run_id: str, cand_hash: str) -> str:
    return f"cand-{run_id[:12]}-{cand_hash[:8]}"


def no_signal_artifact(
    *,
    run_id: str,
    lane: str,
    window_start: pd.Timestamp,
    window_end: pd.Timestamp,
    reason: str,
    signal_lag_seconds: float | None,
    market_session_open: bool,
    signal_continuity: Mapping[str, object] | None = None,
) -> dict[str, object]:
    """The reference's `no-signals.json`: why this window produced no research, in one document."""
    continuity = (
        dict(signal_continuity)
        if signal_continuity is not None
        else {
            "state": "not_evaluated",
            "reason": reason,
            "actionable": None,
            "alert_active": None,
            "alert_reason": None,
        }
    )
    return {
        "signal_continuity": continuity,
        "status": ResearchRunStatus.SKIPPED,
        "lane": lane,
        "dataset_snapshot_ref": NO_SIGNAL_SNAPSHOT_REF,
        "no_signal_reason": reason,
        "query_start": window_start,
        "query_end": window_end,
        "signal_lag_seconds": signal_lag_seconds,
        "market_session_open": market_session_open,
        "promotion": {
            "requested_target": DEFAULT_PROMOTION_TARGET,
            "promotion_allowed": False,
            "outcome": "skipped_no_signal",
        },
        "throughput": {"signal_count": 0, "decision_count": 0, "trade_count": 0, "no_signal_window": True},
        "research_run_id": run_id,
    }
