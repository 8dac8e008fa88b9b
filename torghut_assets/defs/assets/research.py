"""Research ledger lane: run → candidates → fold metrics → stress metrics → promotion request.

Each asset reads its upstream rows from the ledger (not from Dagster outputs), so the stored chain is
exactly what the next stage used; the research dataset is re-derived from the signal source and its
hash checked against the run row, so a drifted source fails loudly instead of mixing datasets.
"""

from collections import defaultdict
from typing import Any

import dagster as dg
import pandas as pd

import torghut_assets
from torghut_assets.defs.metadata import markdown_table, window_metadata
from torghut_assets.defs.partitions import lane_window, lane_window_partitions
from torghut_assets.defs.resources import LedgerResource, MarketDataResource
from torghut_assets.domain import promotion as promotion_policy
from torghut_assets.domain import research
from torghut_assets.domain.backtest import CostModel, backtest, backtest_windows, regime_label
from torghut_assets.domain.continuity import ContinuityConfig, WindowObservation, continuity_summary
from torghut_assets.domain.evidence import frame_content_hash, sha256_hex
from torghut_assets.domain.lanes import LaneWindow
from torghut_assets.domain.market_calendar import previous_sessions, session_bounds
from torghut_assets.domain.signal_frame import SIGNAL_COLUMNS
from torghut_assets.domain.signal_quality import admit_signals
from torghut_assets.domain.strategies import StrategySpec, default_strategy, parameter_grid, strategy_actions
from torghut_assets.domain.stress import STRESS_CASES, run_stress
from torghut_assets.domain.walk_forward import walk_forward_folds
from torghut_assets.ledger import queries, schema
from torghut_assets.ledger.continuity_store import load_state
from torghut_assets.ledger.identity import row_id
from torghut_assets.ledger.records import LedgerIntegrityError
from torghut_assets.ledger.writes import replace_lane_window

COST_MODEL = CostModel()
LOOKBACK_SESSIONS = 1


class UpstreamMissingError(RuntimeError):
    """An upstream asset of this lane window has not been materialized; the chain would be incomplete."""


def _lookback_start(window: LaneWindow) -> pd.Timestamp:
    """Open of the previous session: the research lookback is the prior session plus today so far."""
    day = window.start.tz_convert("America/New_York").date()
    sessions = previous_sessions(day, LOOKBACK_SESSIONS)
    bounds = session_bounds(sessions[0]) if sessions else None
    return bounds[0] if bounds else window.start - pd.Timedelta(days=3)


def _lookback_signals(window: LaneWindow, market_data: MarketDataResource) -> pd.DataFrame:
    start = _lookback_start(window)
    return admit_signals(
        market_data.signals(start, window.end),
        window_start=start,
        window_end=window.end,
        universe=market_data.universe,
    ).frame


def _run_row(ledger: LedgerResource, window: LaneWindow) -> dict[str, Any]:
    with ledger.read() as conn:
        runs = queries.window_rows(conn, schema.research_runs, window.lane, window.start)
    if not runs:
        raise UpstreamMissingError(f"no research run for {window.label()}: materialize research_runs first")
    return runs[0]


def _research_dataset(ledger: LedgerResource, market_data: MarketDataResource, window: LaneWindow):  # type: ignore[no-untyped-def]
    run = _run_row(ledger, window)
    if run["status"] == "skipped":
        return run, None
    frame = _lookback_signals(window, market_data)
    digest = frame_content_hash(frame, list(SIGNAL_COLUMNS))
    if digest != run["dataset_version"]:
        raise LedgerIntegrityError(
            f"research dataset for {window.label()} drifted: run {run['run_id']} recorded "
            f"{run['dataset_version']}, source now yields {digest}; re-materialize research_runs"
        )
    return run, frame


def _candidate_specs(ledger: LedgerResource, window: LaneWindow) -> list[tuple[dict[str, Any], StrategySpec]]:
    with ledger.read() as conn:
        rows = queries.window_rows(conn, schema.research_candidates, window.lane, window.start)
    specs = []
    for row in sorted(rows, key=lambda r: r["candidate_id"]):
        stored = row["parameter_set"]
        spec = default_strategy(str(stored["strategy_type"])).with_params(**stored["params"])
        if research.strategy_config_hash(spec.parameter_set()) != research.strategy_config_hash(stored):
            raise LedgerIntegrityError(f"candidate {row['candidate_id']} parameter_set does not rebuild")
        specs.append((row, spec))
    return specs


def _common(window: LaneWindow) -> dict[str, Any]:
    return {"lane": window.lane, "window_start": window.start, "created_at": window.end}


@dg.asset(
    partitions_def=lane_window_partitions,
    group_name="lane_window",
    deps=["signals", "trade_decisions", "executions"],
    kinds={"sql"},
    code_version="1",
    description="One research run per lane window; an empty window is a `skipped` run with its reason.",
)
def research_runs(
    context: dg.AssetExecutionContext, ledger: LedgerResource, market_data: MarketDataResource
) -> dg.MaterializeResult:  # type: ignore[type-arg]
    window = lane_window(context)
    spec = default_strategy(window.config.strategy_type)
    config_sha = research.strategy_config_hash(spec.parameter_set())
    with ledger.read() as conn:
        ingest = queries.window_rows(conn, schema.signal_ingest_windows, window.lane, window.start)
        decision_count = queries.window_count(conn, schema.trade_decisions, window.lane, window.start)
        execution_count = queries.window_count(conn, schema.executions, window.lane, window.start)
    if not ingest:
        raise UpstreamMissingError(f"no signal ingest record for {window.label()}: materialize signals first")
    verdict = ingest[0]
    base = {
        **_common(window),
        "run_kind": "lane_window",
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
    }
    artifact_refs: list[dict[str, object]] = []
    if verdict["signals_total"] == 0:
        reason = str(verdict["no_signal_reason"])
        run_id = research.skipped_run_id(
            lane=window.lane,
            window_start=window.start,
            window_end=window.end,
            reason=reason,
            strategy_config_sha256=config_sha,
        )
        observation = WindowObservation(
            window.start, 0, reason, bool(verdict["market_session_open"]), verdict["signal_lag_seconds"]
        )
        with ledger.read() as conn:
            lane_state = load_state(conn, window.lane)
        artifact = ledger.artifacts.write_json(
            "research/no-signals",
            research.no_signal_artifact(
                run_id=run_id,
                lane=window.lane,
                window_start=window.start,
                window_end=window.end,
                reason=reason,
                signal_lag_seconds=verdict["signal_lag_seconds"],
                market_session_open=bool(verdict["market_session_open"]),
                signal_continuity=continuity_summary(observation, lane_state, ContinuityConfig()),
            ),
        )
        artifact_refs.append(artifact.as_dict())
        row = {
            **base,
            "run_id": run_id,
            "status": "skipped",
            "no_signal_reason": reason,
            "dataset_version": verdict["dataset_version"],
            "dataset_from": window.start,
            "dataset_to": window.end,
            "dataset_snapshot_ref": research.NO_SIGNAL_SNAPSHOT_REF,
            "runner_version": research.SKIPPED_RUNNER_VERSION,
        }
    else:
        frame = _lookback_signals(window, market_data)
        dataset_version = frame_content_hash(frame, list(SIGNAL_COLUMNS))
        run_id = research.lane_window_run_id(
            lane=window.lane,
            window_start=window.start,
            window_end=window.end,
            dataset_version=dataset_version,
            strategy_config_sha256=config_sha,
            code_version=torghut_assets.__version__,
        )
        dataset_from, dataset_to = frame["event_ts"].min(), frame["event_ts"].max()
        snapshot_ref = f"{market_data.source}:{dataset_from.isoformat()}/{window.end.isoformat()}"
        row = {
            **base,
            "run_id": run_id,
            "status": "running",
            "no_signal_reason": None,
            "dataset_version": dataset_version,
            "dataset_from": dataset_from,
            "dataset_to": dataset_to,
            "dataset_snapshot_ref": snapshot_ref,
            "runner_version": research.RUNNER_VERSION,
            "feature_spec_hash": sha256_hex(
                {
                    "strategy": config_sha,
                    "policy": promotion_policy.policy_checksum(),
                    "dataset": dataset_version,
                }
            ),
        }
    row["id"] = row_id("research_runs", window.lane, window.start, "lane_window")
    row["artifact_refs"] = artifact_refs
    row["artifact_manifest_hash"] = sha256_hex(artifact_refs)
    with ledger.transaction() as conn:
        replace_lane_window(conn, schema.research_runs, window.lane, window.start, [row])
    summary = (
        f"Run `{row['run_id']}` for `{window.label()}`: **{row['status']}**"
        + (f" (`{row['no_signal_reason']}`)" if row["no_signal_reason"] else "")
        + f"\n\nsignals {verdict['signals_total']} · decisions {decision_count}"
        + f" · executions {execution_count}"
    )
    extra: dict[str, Any] = {
        "run_id": row["run_id"],
        "status": row["status"],
        "dataset_version": row["dataset_version"],
    }
    for ref in artifact_refs:
        extra["no_signals_artifact"] = dg.MetadataValue.path(str(ref["path"]))
    return dg.MaterializeResult(metadata=window_metadata(window, 1, summary, **extra))


@dg.asset(
    partitions_def=lane_window_partitions,
    group_name="lane_window",
    deps=["research_runs"],
    kinds={"sql", "numpy"},
    code_version="1",
    description="Every parameter combination tried for the run, losers included, with its backtest summary.",
)
def research_candidates(
    context: dg.AssetExecutionContext, ledger: LedgerResource, market_data: MarketDataResource
) -> dg.MaterializeResult:  # type: ignore[type-arg]
    window = lane_window(context)
    run, frame = _research_dataset(ledger, market_data, window)
    rows: list[dict[str, Any]] = []
    if frame is not None:
        for spec in parameter_grid(default_strategy(window.config.strategy_type)):
            metrics = backtest(frame, strategy_actions(frame, spec), spec, COST_MODEL)
            parameter_set = spec.parameter_set()
            cand_hash = research.candidate_hash(
                run_id=run["run_id"], dataset_version=run["dataset_version"], parameter_set=parameter_set
            )
            cand_id = research.candidate_id(run["run_id"], cand_hash)
            rows.append(
                {
                    **_common(window),
                    "id": row_id("research_candidates", cand_id),
                    "run_id": run["run_id"],
                    "candidate_id": cand_id,
                    "candidate_hash": cand_hash,
                    "parameter_set": parameter_set,
                    "decision_count": metrics.decision_count,
                    "trade_count": metrics.trade_count,
                    "symbols_covered": int(frame["symbol"].nunique()),
                    "universe_definition": {"source": "static", "symbols": sorted(market_data.universe)},
                    "promotion_target": research.DEFAULT_PROMOTION_TARGET,
                    "metadata_bundle": {
                        "lookback_metrics": metrics.as_dict(),
                        "cost_model": COST_MODEL.as_dict(),
                    },
                }
            )
    with ledger.transaction() as conn:
        written = replace_lane_window(conn, schema.research_candidates, window.lane, window.start, rows)
    best = sorted(rows, key=lambda r: -float(r["metadata_bundle"]["lookback_metrics"]["net_pnl"]))[:10]
    summary = f"**{written} candidates** for run `{run['run_id']}`\n\n" + markdown_table(
        ["candidate_id", "params", "trades", "net_pnl"],
        [
            (
                r["candidate_id"],
                r["parameter_set"]["params"],
                r["trade_count"],
                round(float(r["metadata_bundle"]["lookback_metrics"]["net_pnl"]), 2),
            )
            for r in best
        ],
    )
    return dg.MaterializeResult(metadata=window_metadata(window, written, summary, run_id=run["run_id"]))


@dg.asset(
    partitions_def=lane_window_partitions,
    group_name="lane_window",
    deps=["research_candidates"],
    kinds={"sql", "numpy"},
    code_version="1",
    description="Walk-forward fold metrics per candidate (sliding 60/30 bars, 5-bar purge) over the lookback",
)
def research_fold_metrics(
    context: dg.AssetExecutionContext, ledger: LedgerResource, market_data: MarketDataResource
) -> dg.MaterializeResult:  # type: ignore[type-arg]
    window = lane_window(context)
    run, frame = _research_dataset(ledger, market_data, window)
    rows: list[dict[str, Any]] = []
    folds = []
    if frame is not None:
        folds = walk_forward_folds(pd.DatetimeIndex(frame["event_ts"].drop_duplicates().sort_values()))
        regimes = {f.fold_name: regime_label(frame, f.test_start, f.test_end) for f in folds}
        test_ranges = [(f.test_start, f.test_end) for f in folds]
        for cand, spec in _candidate_specs(ledger, window):
            metrics = backtest_windows(frame, strategy_actions(frame, spec), spec, COST_MODEL, test_ranges)
            for fold, m in zip(folds, metrics, strict=True):
                rows.append(
                    {
                        **_common(window),
                        "id": row_id("research_fold_metrics", cand["candidate_id"], fold.fold_name),
                        "candidate_id": cand["candidate_id"],
                        **fold.as_dict(),
                        "decision_count": m.decision_count,
                        "trade_count": m.trade_count,
                        "gross_pnl": m.gross_pnl,
                        "net_pnl": m.net_pnl,
                        "max_drawdown": m.max_drawdown,
                        "turnover_ratio": m.turnover_ratio,
                        "cost_bps": m.cost_bps,
                        "cost_assumptions": COST_MODEL.as_dict(),
                        "regime_label": regimes[fold.fold_name],
                    }
                )
    with ledger.transaction() as conn:
        written = replace_lane_window(conn, schema.research_fold_metrics, window.lane, window.start, rows)
    summary = f"**{written} fold rows** ({len(folds)} folds) for run `{run['run_id']}`\n\n" + markdown_table(
        ["fold", "test_start", "test_end"],
        [(f.fold_name, f.test_start.isoformat(), f.test_end.isoformat()) for f in folds],
    )
    return dg.MaterializeResult(metadata=window_metadata(window, written, summary, fold_count=len(folds)))


@dg.asset(
    partitions_def=lane_window_partitions,
    group_name="lane_window",
    deps=["research_fold_metrics"],
    kinds={"sql", "numpy"},
    code_version="1",
    description="Spread, volatility, liquidity and halt stress replays per candidate, with PnL deltas.",
)
def research_stress_metrics(
    context: dg.AssetExecutionContext, ledger: LedgerResource, market_data: MarketDataResource
) -> dg.MaterializeResult:  # type: ignore[type-arg]
    window = lane_window(context)
    run, frame = _research_dataset(ledger, market_data, window)
    rows: list[dict[str, Any]] = []
    if frame is not None:
        for cand, spec in _candidate_specs(ledger, window):
            baseline = backtest(frame, strategy_actions(frame, spec), spec, COST_MODEL)
            for case in STRESS_CASES:
                result = run_stress(case, frame, spec, COST_MODEL, baseline=baseline)
                rows.append(
                    {
                        **_common(window),
                        "id": row_id("research_stress_metrics", cand["candidate_id"], case),
                        "candidate_id": cand["candidate_id"],
                        "stress_case": case,
                        "metric_bundle": result.metric_bundle(),
                        "pessimistic_pnl_delta": result.pessimistic_pnl_delta,
                    }
                )
    with ledger.transaction() as conn:
        written = replace_lane_window(conn, schema.research_stress_metrics, window.lane, window.start, rows)
    by_case: dict[str, list[float]] = defaultdict(list)
    for r in rows:
        by_case[r["stress_case"]].append(float(r["pessimistic_pnl_delta"]))
    summary = f"**{written} stress rows** for run `{run['run_id']}`\n\n" + markdown_table(
        ["case", "worst delta", "mean delta"],
        [(c, round(min(v), 2), round(sum(v) / len(v), 2)) for c, v in sorted(by_case.items())],
    )
    return dg.MaterializeResult(metadata=window_metadata(window, written, summary))


@dg.asset(
    partitions_def=lane_window_partitions,
    group_name="lane_window",
    deps=["research_stress_metrics"],
    kinds={"sql"},
    code_version="1",
    description="The scheduler's promotion request for the run's champion; nothing passes `shadow` yet.",
)
def research_promotions(context: dg.AssetExecutionContext, ledger: LedgerResource) -> dg.MaterializeResult:  # type: ignore[type-arg]
    window = lane_window(context)
    run = _run_row(ledger, window)
    rows: list[dict[str, Any]] = []
    decision = None
    if run["status"] != "skipped":
        with ledger.read() as conn:
            candidates = queries.window_rows(conn, schema.research_candidates, window.lane, window.start)
            folds = queries.window_rows(conn, schema.research_fold_metrics, window.lane, window.start)
            stress = queries.window_rows(conn, schema.research_stress_metrics, window.lane, window.start)
        evidence = promotion_policy.collect_evidence(candidates, folds, stress)
        if not evidence:
            raise UpstreamMissingError(
                f"run {run['run_id']} has no candidates: materialize research_candidates"
            )
        decision = promotion_policy.lane_window_promotion(evidence, STRESS_CASES)
        rows.append(
            {
                **_common(window),
                "id": row_id("research_promotions", run["run_id"], "lane_window"),
                "run_id": run["run_id"],
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
        )
    with ledger.transaction() as conn:
        written = replace_lane_window(conn, schema.research_promotions, window.lane, window.start, rows)
        if run["status"] != "skipped":
            conn.execute(
                schema.research_runs.update()
                .where(schema.research_runs.c.id == run["id"])
                .values(status="passed")
            )
    summary = (
        f"Run `{run['run_id']}` skipped: no promotion request"
        if decision is None
        else f"`{decision.candidate_id}` requested **{decision.requested_mode}** → "
        f"**{decision.decision_action}** (approved: `{decision.approved_mode}`)\n\nreasons: "
        + ", ".join(decision.reason_codes)
    )
    return dg.MaterializeResult(
        metadata=window_metadata(
            window,
            written,
            summary,
            run_id=run["run_id"],
            decision_action=None if decision is None else decision.decision_action,
        )
    )
