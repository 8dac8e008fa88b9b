"""Research ledger lane: run → candidates → fold metrics → stress metrics → promotion request.

Each stage is a use case of `services.research_chain` (reading its upstream rows from the ledger, not
from Dagster outputs, so the stored chain is exactly what the next stage used); these assets turn a
failing strategy into a failure of the window alone (`isolated_strategy`) and render what was stored.
"""

from collections import defaultdict
from typing import Any

import dagster as dg

from torghut_assets.defs.lane_window.partitions import lane_window, lane_window_partitions
from torghut_assets.defs.lane_window.research_inputs import ResearchResource
from torghut_assets.defs.lane_window.strategy_isolation import isolated_strategy
from torghut_assets.defs.metadata import markdown_table, window_metadata
from torghut_assets.defs.resources import LedgerResource, MarketDataResource
from torghut_assets.domain.lanes import LaneWindow
from torghut_assets.services import research_chain as chain

GROUP = "lane_window"
CODE_VERSION = "2"


@dg.asset(
    partitions_def=lane_window_partitions,
    group_name=GROUP,
    code_version=CODE_VERSION,
    deps=["signals", "trade_decisions", "executions"],
    kinds={"sql"},
    description="One research run per lane window; an empty window is a `skipped` run with its reason.",
)
def research_runs(
    context: dg.AssetExecutionContext,
    ledger: LedgerResource,
    market_data: MarketDataResource,
    research_settings: ResearchResource,
) -> dg.MaterializeResult:  # type: ignore[type-arg]
    window = lane_window(context)
    with isolated_strategy(window, research_settings.strategy_timeout_seconds):
        run = chain.record_research_run(ledger, market_data, research_settings, window)
    return dg.MaterializeResult(metadata=run_metadata(window, run))


def run_metadata(window: LaneWindow, run: chain.ResearchRun) -> dict[str, Any]:
    row, verdict = run.row, run.verdict
    summary = (
        f"Run `{row['run_id']}` for `{window.label()}`: **{row['status']}**"
        + (f" (`{row['no_signal_reason']}`)" if row["no_signal_reason"] else "")
        + f"\n\nsignals {verdict['signals_total']} · research settings `{run.settings.checksum()[:12]}`"
    )
    extra: dict[str, Any] = {
        "run_id": row["run_id"],
        "status": row["status"],
        "dataset_version": row["dataset_version"],
        "research_settings": run.settings.as_dict(),
    }
    for ref in row["artifact_refs"]:
        extra["no_signals_artifact"] = dg.MetadataValue.path(str(ref["path"]))
    return window_metadata(window, 1, summary, **extra)


@dg.asset(
    partitions_def=lane_window_partitions,
    group_name=GROUP,
    code_version=CODE_VERSION,
    deps=["research_runs"],
    kinds={"sql", "numpy"},
    description="Every parameter combination tried for the run, losers included, with its backtest summary.",
)
def research_candidates(
    context: dg.AssetExecutionContext,
    ledger: LedgerResource,
    market_data: MarketDataResource,
    research_settings: ResearchResource,
) -> dg.MaterializeResult:  # type: ignore[type-arg]
    window = lane_window(context)
    with isolated_strategy(window, research_settings.strategy_timeout_seconds):
        stored = chain.record_candidates(ledger, market_data, research_settings, window)
    run_id = stored.run["run_id"]
    net_pnl = [float(r["metadata_bundle"]["lookback_metrics"]["net_pnl"]) for r in stored.rows]
    best = sorted(zip(stored.rows, net_pnl, strict=True), key=lambda pair: -pair[1])[:10]
    summary = f"**{stored.written} candidates** for run `{run_id}`\n\n" + markdown_table(
        ["candidate_id", "params", "trades", "net_pnl"],
        [
            (r["candidate_id"], r["parameter_set"]["params"], r["trade_count"], round(pnl, 2))
            for r, pnl in best
        ],
    )
    return dg.MaterializeResult(metadata=window_metadata(window, stored.written, summary, run_id=run_id))


@dg.asset(
    partitions_def=lane_window_partitions,
    group_name=GROUP,
    code_version=CODE_VERSION,
    deps=["research_candidates"],
    kinds={"sql", "numpy"},
    description="Walk-forward fold metrics per candidate (sliding or expanding, with purge gap).",
)
def research_fold_metrics(
    context: dg.AssetExecutionContext,
    ledger: LedgerResource,
    market_data: MarketDataResource,
    research_settings: ResearchResource,
) -> dg.MaterializeResult:  # type: ignore[type-arg]
    window = lane_window(context)
    with isolated_strategy(window, research_settings.strategy_timeout_seconds):
        stored = chain.record_fold_metrics(ledger, market_data, research_settings, window)
    folds = stored.folds
    summary = (
        f"**{stored.written} fold rows** ({len(folds)} folds) for run `{stored.run['run_id']}`\n\n"
        + markdown_table(
            ["fold", "test_start", "test_end"],
            [(f.fold_name, f.test_start.isoformat(), f.test_end.isoformat()) for f in folds],
        )
    )
    return dg.MaterializeResult(
        metadata=window_metadata(window, stored.written, summary, fold_count=len(folds))
    )


@dg.asset(
    partitions_def=lane_window_partitions,
    group_name=GROUP,
    code_version=CODE_VERSION,
    deps=["research_fold_metrics"],
    kinds={"sql", "numpy"},
    description="Spread, volatility, liquidity and halt stress replays per candidate, with PnL deltas.",
)
def research_stress_metrics(
    context: dg.AssetExecutionContext,
    ledger: LedgerResource,
    market_data: MarketDataResource,
    research_settings: ResearchResource,
) -> dg.MaterializeResult:  # type: ignore[type-arg]
    window = lane_window(context)
    with isolated_strategy(window, research_settings.strategy_timeout_seconds):
        stored = chain.record_stress_metrics(ledger, market_data, research_settings, window)
    by_case: dict[str, list[float]] = defaultdict(list)
    for r in stored.rows:
        by_case[r["stress_case"]].append(float(r["pessimistic_pnl_delta"]))
    summary = f"**{stored.written} stress rows** for run `{stored.run['run_id']}`\n\n" + markdown_table(
        ["case", "worst delta", "mean delta"],
        [(c, round(min(v), 2), round(sum(v) / len(v), 2)) for c, v in sorted(by_case.items())],
    )
    return dg.MaterializeResult(metadata=window_metadata(window, stored.written, summary))


@dg.asset(
    partitions_def=lane_window_partitions,
    group_name=GROUP,
    code_version=CODE_VERSION,
    deps=["research_stress_metrics"],
    kinds={"sql"},
    description="The scheduler's promotion request for the run's champion, and the run's evaluation report.",
)
def research_promotions(context: dg.AssetExecutionContext, ledger: LedgerResource) -> dg.MaterializeResult:  # type: ignore[type-arg]
    window = lane_window(context)
    request = chain.record_promotion_request(ledger, window)
    return dg.MaterializeResult(metadata=promotion_metadata(window, request))


def promotion_metadata(window: LaneWindow, request: chain.PromotionRequest) -> dict[str, Any]:
    run_id = request.run["run_id"]
    metadata: dict[str, Any] = {"run_id": run_id}
    promotion, report = request.promotion, request.report_json
    if promotion is None or report is None:
        summary = f"Run `{run_id}` skipped: no promotion request"
        return window_metadata(window, request.written, summary, **metadata)
    summary = (
        f"`{promotion['candidate_id']}` requested **{promotion['requested_mode']}** → "
        f"**{promotion['decision_action']}** (approved: `{promotion['approved_mode']}`)\n\n"
        f"{request.report_markdown}"
    )
    metadata.update(
        decision_action=promotion["decision_action"],
        evaluation_report=dg.MetadataValue.path(report.path),
        evaluation_report_sha256=report.sha256,
    )
    return window_metadata(window, request.written, summary, **metadata)
