"""Research results → ledger rows. The assets and the replay check build rows with the same functions,
so a replay difference is a difference in data or code, never in row construction."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

import torghut_assets
from torghut_assets.domain import promotion as promotion_policy
from torghut_assets.domain import research
from torghut_assets.domain.backtest import BacktestMetrics, CostModel
from torghut_assets.domain.evidence import sha256_hex
from torghut_assets.domain.lanes import LaneWindow
from torghut_assets.domain.promotion import PromotionDecision
from torghut_assets.domain.research_evaluation import CandidateResult, ResearchSettings
from torghut_assets.domain.strategies import StrategySpec
from torghut_assets.domain.stress import StressResult
from torghut_assets.domain.walk_forward import Fold
from torghut_assets.ledger.identity import row_id

Row = dict[str, Any]
RUN_KIND = "lane_window"


def _common(window: LaneWindow) -> Row:
    return {"lane": window.lane, "window_start": window.start, "created_at": window.end}


def _run_base(window: LaneWindow, spec: StrategySpec, settings: ResearchSettings) -> Row:
    return {
        **_common(window),
        "id": row_id("research_runs", window.lane, window.start, RUN_KIND),
        "run_kind": RUN_KIND,
        "strategy_id": spec.strategy_id,
        "strategy_name": spec.name,
        "strategy_type": spec.strategy_type,
        "strategy_version": spec.version,
        "code_commit": torghut_assets.__version__,
        "feature_version": research.FEATURE_VERSION,
        "feature_schema_version": research.FEATURE_SCHEMA_VERSION,
        "signal_source": research.SIGNAL_SOURCE,
        "window_end": window.end,
        "policy_checksum": promotion_policy.policy_checksum(),
        "runner_binary_hash": settings.checksum(),
        "lane_catalog_checksum": window.config.catalog_checksum,
    }


def with_artifacts(row: Row, refs: Sequence[Mapping[str, object]]) -> Row:
    return {**row, "artifact_refs": list(refs), "artifact_manifest_hash": sha256_hex(list(refs))}


def skipped_run_row(
    window: LaneWindow, spec: StrategySpec, settings: ResearchSettings, *, reason: str, dataset_version: str
) -> Row:
    run_id = research.skipped_run_id(
        lane=window.lane,
        window_start=window.start,
        window_end=window.end,
        reason=reason,
        strategy_config_sha256=research.strategy_config_hash(spec.parameter_set()),
    )
    return {
        **_run_base(window, spec, settings),
        "run_id": run_id,
        "status": research.ResearchRunStatus.SKIPPED,
        "no_signal_reason": reason,
        "dataset_version": dataset_version,
        "dataset_from": window.start,
        "dataset_to": window.end,
        "dataset_snapshot_ref": research.NO_SIGNAL_SNAPSHOT_REF,
        "runner_version": research.SKIPPED_RUNNER_VERSION,
        "feature_spec_hash": None,
    }


def normal_run_row(
    window: LaneWindow,
    spec: StrategySpec,
    settings: ResearchSettings,
    *,
    dataset_version: str,
    dataset_from: pd.Timestamp,
    dataset_to: pd.Timestamp,
    source_name: str,
) -> Row:
    config_sha = research.strategy_config_hash(spec.parameter_set())
    run_id = research.lane_window_run_id(
        lane=window.lane,
        window_start=window.start,
        window_end=window.end,
        dataset_version=dataset_version,
        strategy_config_sha256=sha256_hex({"strategy": config_sha, "research": settings.checksum()}),
        code_version=torghut_assets.__version__,
    )
    return {
        **_run_base(window, spec, settings),
        "run_id": run_id,
        "status": research.ResearchRunStatus.RUNNING,
        "no_signal_reason": None,
        "dataset_version": dataset_version,
        "dataset_from": dataset_from,
        "dataset_to": dataset_to,
        "dataset_snapshot_ref": f"{source_name}:{dataset_from.isoformat()}/{window.end.isoformat()}",
        "runner_version": research.RUNNER_VERSION,
        "feature_spec_hash": sha256_hex(
            {
                "strategy": config_sha,
                "research": settings.checksum(),
                "policy": promotion_policy.policy_checksum(),
                "dataset": dataset_version,
            }
        ),
    }


def candidate_rows(
    window: LaneWindow,
    run_id: str,
    results: Sequence[CandidateResult],
    *,
    symbols_covered: int,
    universe: Sequence[str],
    cost: CostModel,
) -> list[Row]:
    return [
        {
            **_common(window),
            "id": row_id("research_candidates", r.candidate_id),
            "run_id": run_id,
            "candidate_id": r.candidate_id,
            "candidate_hash": r.candidate_hash,
            "parameter_set": r.parameter_set,
            "decision_count": r.lookback.decision_count,
            "trade_count": r.lookback.trade_count,
            "symbols_covered": symbols_covered,
            "universe_definition": {"source": "static", "symbols": sorted(universe)},
            "promotion_target": research.DEFAULT_PROMOTION_TARGET,
            "metadata_bundle": {"lookback_metrics": r.lookback.as_dict(), "cost_model": cost.as_dict()},
        }
        for r in results
    ]


def fold_rows(
    window: LaneWindow,
    candidate_id: str,
    folds: Sequence[Fold],
    metrics: Sequence[BacktestMetrics],
    regimes: Mapping[str, str],
    cost: CostModel,
) -> list[Row]:
    return [
        {
            **_common(window),
            "id": row_id("research_fold_metrics", candidate_id, fold.fold_name),
            "candidate_id": candidate_id,
            **fold.as_dict(),
            "decision_count": m.decision_count,
            "trade_count": m.trade_count,
            "gross_pnl": m.gross_pnl,
            "net_pnl": m.net_pnl,
            "max_drawdown": m.max_drawdown,
            "turnover_ratio": m.turnover_ratio,
            "cost_bps": m.cost_bps,
            "cost_assumptions": cost.as_dict(),
            "regime_label": regimes[fold.fold_name],
        }
        for fold, m in zip(folds, metrics, strict=True)
    ]


def stress_rows(window: LaneWindow, candidate_id: str, results: Sequence[StressResult]) -> list[Row]:
    return [
        {
            **_common(window),
            "id": row_id("research_stress_metrics", candidate_id, r.stress_case),
            "candidate_id": candidate_id,
            "stress_case": r.stress_case,
            "metric_bundle": r.metric_bundle(),
            "pessimistic_pnl_delta": r.pessimistic_pnl_delta,
        }
        for r in results
    ]


def request_row_id(run_id: str, revision: int) -> str:
    """The id of the window's promotion request at `revision`: the first request of a run keeps the id it
    has always had (uuid5 of run id and run kind); a later revision adds its number, so a window that
    returns to an earlier request appends a new row rather than colliding with the old one."""
    if revision == 1:
        return row_id("research_promotions", run_id, RUN_KIND)
    return row_id("research_promotions", run_id, RUN_KIND, revision)


def promotion_row(window: LaneWindow, run_id: str, decision: PromotionDecision, revision: int = 1) -> Row:
    return {
        **_common(window),
        "id": request_row_id(run_id, revision),
        "revision": revision,
        "run_id": run_id,
        "candidate_id": decision.candidate_id,
        "requested_mode": decision.requested_mode,
        "approved_mode": decision.approved_mode,
        "approver": promotion_policy.APPROVER,
        "approver_role": promotion_policy.APPROVER_ROLE,
        "approve_reason": decision.reason_json if decision.allowed else None,
        "deny_reason": None if decision.allowed else decision.reason_json,
        "effective_time": window.end if decision.allowed else None,
        "decision_action": decision.decision_action,
        "decision_rationale": decision.rationale,
        "evidence_bundle": decision.evidence_bundle,
        "policy_checksum": promotion_policy.policy_checksum(),
    }
