"""Research ledger lane: run → candidates → fold metrics → stress metrics → promotion request.

Each asset reads its upstream rows from the ledger (not from Dagster outputs), so the stored chain is
exactly what the next stage used. The computation lives in `domain/research_evaluation.py` and the
row construction in `ledger/research_records.py`, shared with replay.
"""

from collections import defaultdict
from typing import Any

import dagster as dg
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from torghut_assets.defs.lane_window.partitions import lane_window, lane_window_partitions
from torghut_assets.defs.lane_window.research_inputs import (
    ResearchResource,
    UpstreamMissingError,
    lookback_signals,
    research_dataset,
    run_row,
    stored_candidates,
)
from torghut_assets.defs.lane_window.strategy_isolation import isolated_strategy
from torghut_assets.defs.metadata import markdown_table, window_metadata
from torghut_assets.defs.resources import LedgerResource, MarketDataResource
from torghut_assets.domain import promotion as promotion_policy
from torghut_assets.domain import research
from torghut_assets.domain import research_evaluation as evaluation
from torghut_assets.domain.continuity import ContinuityConfig, WindowObservation, continuity_summary
from torghut_assets.domain.lane_catalog import lane_candidates, lane_research_settings, lane_strategy
from torghut_assets.domain.lanes import LaneWindow
from torghut_assets.domain.research_report import evaluation_markdown, evaluation_report
from torghut_assets.domain.signal_frame import dataset_version
from torghut_assets.domain.stress import STRESS_CASES
from torghut_assets.ledger import queries, research_records, schema
from torghut_assets.ledger.continuity_store import load_state
from torghut_assets.ledger.evidence_digests import record_partition
from torghut_assets.ledger.writes import replace_lane_window


def _record(conn: Connection, kind: str, subject: str, table: sa.Table, window: LaneWindow) -> None:
    """Append the stored partition's digest to the hash-chained evidence log (same transaction)."""
    record_partition(
        conn,
        entry_kind=kind,
        subject=subject,
        table=table,
        lane=window.lane,
        window_start=window.start.to_pydatetime(),
        recorded_at=pd.Timestamp.now(tz="UTC").to_pydatetime(),
    )


LANE_WINDOW_ASSET = {
    "partitions_def": lane_window_partitions,
    "group_name": "lane_window",
    "code_version": "2",
}


@dg.asset(
    **LANE_WINDOW_ASSET,
    deps=["signals", "trade_decisions", "executions"],
    kinds={"sql"},
    description="One research run per lane window; an empty window is a `skipped` run with its reason.",
)
def research_runs(
    context: dg.AssetExecutionContext,
    ledger: LedgerResource,
    market_data: MarketDataResource,
    research_settings: ResearchResource,
) -> dg.MaterializeResult:
    window = lane_window(context)
    settings = lane_research_settings(research_settings.settings(), window.config)
    with isolated_strategy(window, research_settings.strategy_timeout_seconds):
        spec = lane_strategy(window.config)
    with ledger.read() as conn:
        ingest = queries.window_rows(conn, schema.signal_ingest_windows, window.lane, window.start)
        lane_state = load_state(conn, window.lane)
    if not ingest:
        raise UpstreamMissingError(f"no signal ingest record for {window.label()}: materialize signals first")
    verdict = ingest[0]
    if verdict["signals_total"] == 0:
        reason = str(verdict["no_signal_reason"])
        row = research_records.skipped_run_row(
            window, spec, settings, reason=reason, dataset_version=verdict["dataset_version"]
        )
        observation = WindowObservation(
            window.start, 0, reason, bool(verdict["market_session_open"]), verdict["signal_lag_seconds"]
        )
        artifact = ledger.artifacts.write_json(
            "research/no-signals",
            research.no_signal_artifact(
                run_id=row["run_id"],
                lane=window.lane,
                window_start=window.start,
                window_end=window.end,
                reason=reason,
                signal_lag_seconds=verdict["signal_lag_seconds"],
                market_session_open=bool(verdict["market_session_open"]),
                signal_continuity=continuity_summary(observation, lane_state, ContinuityConfig()),
            ),
        )
        row = research_records.with_artifacts(row, [artifact.as_dict()])
    else:
        frame = lookback_signals(window, market_data, settings)
        row = research_records.with_artifacts(
            research_records.normal_run_row(
                window,
                spec,
                settings,
                dataset_version=dataset_version(frame),
                dataset_from=frame["event_ts"].min(),
                dataset_to=frame["event_ts"].max(),
                source_name=market_data.adapter().name,
            ),
            [],
        )
    with ledger.transaction() as conn:
        replace_lane_window(conn, schema.research_runs, window.lane, window.start, [row])
        _record(conn, "research_run", row["run_id"], schema.research_runs, window)
    summary = (
        f"Run `{row['run_id']}` for `{window.label()}`: **{row['status']}**"
        + (f" (`{row['no_signal_reason']}`)" if row["no_signal_reason"] else "")
        + f"\n\nsignals {verdict['signals_total']} · research settings `{settings.checksum()[:12]}`"
    )
    extra: dict[str, Any] = {
        "run_id": row["run_id"],
        "status": row["status"],
        "dataset_version": row["dataset_version"],
        "research_settings": settings.as_dict(),
    }
    for ref in row["artifact_refs"]:
        extra["no_signals_artifact"] = dg.MetadataValue.path(str(ref["path"]))
    return dg.MaterializeResult(metadata=window_metadata(window, 1, summary, **extra))


@dg.asset(
    **LANE_WINDOW_ASSET,
    deps=["research_runs"],
    kinds={"sql", "numpy"},
    description="Every parameter combination tried for the run, losers included, with its backtest summary.",
)
def research_candidates(
    context: dg.AssetExecutionContext,
    ledger: LedgerResource,
    market_data: MarketDataResource,
    research_settings: ResearchResource,
) -> dg.MaterializeResult:
    window = lane_window(context)
    settings = lane_research_settings(research_settings.settings(), window.config)
    run, frame = research_dataset(ledger, market_data, window, settings)
    rows: list[dict[str, Any]] = []
    if frame is not None:
        with isolated_strategy(window, research_settings.strategy_timeout_seconds):
            results = evaluation.evaluate_candidates(
                frame,
                lane_candidates(window.config, settings),
                run_id=run["run_id"],
                dataset_version=run["dataset_version"],
                cost=settings.cost_model,
            )
        rows = research_records.candidate_rows(
            window,
            run["run_id"],
            results,
            symbols_covered=int(frame["symbol"].nunique()),
            universe=market_data.universe,
            cost=settings.cost_model,
        )
    with ledger.transaction() as conn:
        written = replace_lane_window(conn, schema.research_candidates, window.lane, window.start, rows)
        _record(conn, "candidate_set", run["run_id"], schema.research_candidates, window)
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
    **LANE_WINDOW_ASSET,
    deps=["research_candidates"],
    kinds={"sql", "numpy"},
    description="Walk-forward fold metrics per candidate (sliding or expanding, with purge gap).",
)
def research_fold_metrics(
    context: dg.AssetExecutionContext,
    ledger: LedgerResource,
    market_data: MarketDataResource,
    research_settings: ResearchResource,
) -> dg.MaterializeResult:
    window = lane_window(context)
    settings = lane_research_settings(research_settings.settings(), window.config)
    run, frame = research_dataset(ledger, market_data, window, settings)
    rows: list[dict[str, Any]] = []
    folds = []
    if frame is not None:
        folds = evaluation.fold_plan(frame, settings)
        regimes = evaluation.fold_regimes(frame, folds)
        fold_frame = evaluation.fold_frame(frame, folds)
        with isolated_strategy(window, research_settings.strategy_timeout_seconds):
            for cand, spec in stored_candidates(ledger, window):
                metrics = fold_frame.evaluate(spec, settings.cost_model)
                rows += research_records.fold_rows(
                    window, cand["candidate_id"], folds, metrics, regimes, settings.cost_model
                )
    with ledger.transaction() as conn:
        written = replace_lane_window(conn, schema.research_fold_metrics, window.lane, window.start, rows)
        _record(conn, "fold_bundle", run["run_id"], schema.research_fold_metrics, window)
    summary = f"**{written} fold rows** ({len(folds)} folds) for run `{run['run_id']}`\n\n" + markdown_table(
        ["fold", "test_start", "test_end"],
        [(f.fold_name, f.test_start.isoformat(), f.test_end.isoformat()) for f in folds],
    )
    return dg.MaterializeResult(metadata=window_metadata(window, written, summary, fold_count=len(folds)))


@dg.asset(
    **LANE_WINDOW_ASSET,
    deps=["research_fold_metrics"],
    kinds={"sql", "numpy"},
    description="Spread, volatility, liquidity and halt stress replays per candidate, with PnL deltas.",
)
def research_stress_metrics(
    context: dg.AssetExecutionContext,
    ledger: LedgerResource,
    market_data: MarketDataResource,
    research_settings: ResearchResource,
) -> dg.MaterializeResult:
    window = lane_window(context)
    settings = lane_research_settings(research_settings.settings(), window.config)
    run, frame = research_dataset(ledger, market_data, window, settings)
    rows: list[dict[str, Any]] = []
    if frame is not None:
        with isolated_strategy(window, research_settings.strategy_timeout_seconds):
            for cand, spec in stored_candidates(ledger, window):
                results = evaluation.evaluate_stress(frame, spec, settings.cost_model)
                rows += research_records.stress_rows(window, cand["candidate_id"], results)
    with ledger.transaction() as conn:
        written = replace_lane_window(conn, schema.research_stress_metrics, window.lane, window.start, rows)
        _record(conn, "stress_bundle", run["run_id"], schema.research_stress_metrics, window)
    by_case: dict[str, list[float]] = defaultdict(list)
    for r in rows:
        by_case[r["stress_case"]].append(float(r["pessimistic_pnl_delta"]))
    summary = f"**{written} stress rows** for run `{run['run_id']}`\n\n" + markdown_table(
        ["case", "worst delta", "mean delta"],
        [(c, round(min(v), 2), round(sum(v) / len(v), 2)) for c, v in sorted(by_case.items())],
    )
    return dg.MaterializeResult(metadata=window_metadata(window, written, summary))


def promotion_and_report(
    window: LaneWindow,
    run: dict[str, Any],
    candidates: list[dict[str, Any]],
    folds: list[dict[str, Any]],
    stress: list[dict[str, Any]],
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The promotion row and the evaluation report, from stored (or replayed) research rows."""
    evidence = promotion_policy.collect_evidence(candidates, folds, stress)
    if not evidence:
        raise UpstreamMissingError(f"run {run['run_id']} has no candidates: materialize research_candidates")
    decision = promotion_policy.lane_window_promotion(evidence, STRESS_CASES)
    promotion = research_records.promotion_row(window, run["run_id"], decision)
    overfitting = evaluation.overfitting_by_candidate({e.candidate_id: e.fold_net_pnl for e in evidence})
    report = evaluation_report(run, candidates, folds, stress, promotion, overfitting)
    return promotion, report


@dg.asset(
    **LANE_WINDOW_ASSET,
    deps=["research_stress_metrics"],
    kinds={"sql"},
    description="The scheduler's promotion request for the run's champion, and the run's evaluation report.",
)
def research_promotions(context: dg.AssetExecutionContext, ledger: LedgerResource) -> dg.MaterializeResult:
    window = lane_window(context)
    run = run_row(ledger, window)
    rows: list[dict[str, Any]] = []
    metadata: dict[str, Any] = {"run_id": run["run_id"]}
    summary = f"Run `{run['run_id']}` skipped: no promotion request"
    run_update: dict[str, Any] = {}
    if run["status"] != "skipped":
        with ledger.read() as conn:
            stored = {
                t.name: queries.window_rows(conn, t, window.lane, window.start)
                for t in (
                    schema.research_candidates,
                    schema.research_fold_metrics,
                    schema.research_stress_metrics,
                )
            }
        promotion, report = promotion_and_report(
            window,
            run,
            stored["research_candidates"],
            stored["research_fold_metrics"],
            stored["research_stress_metrics"],
        )
        rows = [promotion]
        json_ref = ledger.artifacts.write_json("backtest/evaluation-report", report)
        markdown = evaluation_markdown(report)
        md_ref = ledger.artifacts.write_text("backtest/evaluation-report", markdown, suffix=".md")
        run_update = research_records.with_artifacts(
            {"status": "passed"}, [json_ref.as_dict(), md_ref.as_dict()]
        )
        summary = (
            f"`{promotion['candidate_id']}` requested **{promotion['requested_mode']}** → "
            f"**{promotion['decision_action']}** (approved: `{promotion['approved_mode']}`)\n\n{markdown}"
        )
        metadata.update(
            decision_action=promotion["decision_action"],
            evaluation_report=dg.MetadataValue.path(json_ref.path),
            evaluation_report_sha256=json_ref.sha256,
        )
    with ledger.transaction() as conn:
        written = replace_lane_window(
            conn,
            schema.research_promotions,
            window.lane,
            window.start,
            rows,
            scope=schema.research_promotions.c.approver_role == promotion_policy.APPROVER_ROLE,
        )
        if run_update:
            conn.execute(
                schema.research_runs.update()
                .where(schema.research_runs.c.id == run["id"])
                .values(**run_update)
            )
            _record(conn, "promotion", run["run_id"], schema.research_promotions, window)
            _record(conn, "research_run", run["run_id"], schema.research_runs, window)
    return dg.MaterializeResult(metadata=window_metadata(window, written, summary, **metadata))
