"""Research ledger lane: run → candidates → fold metrics → stress metrics → promotion request.

`research_runs` runs the window's whole research chain and commits it in one transaction
(`services.research_chain.record_research_chain`), so a failure anywhere in the chain leaves no part of
it; it turns a failing strategy into a failure of the window alone (`isolated_strategy`), and the job's
failure hook marks the run `failed` with the error. The four assets after it keep each table visible
in the UI: they read what `research_runs` committed (`committed_chain`) and render it, and their
contract checks judge those partitions.
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
CODE_VERSION = "3"


@dg.asset(
    partitions_def=lane_window_partitions,
    group_name=GROUP,
    code_version=CODE_VERSION,
    deps=["signals", "trade_decisions", "executions"],
    kinds={"sql", "numpy"},
    description=(
        "One research run per lane window and its whole chain (candidates, folds, stress, promotion "
        "request), committed in one transaction; an empty window is a `skipped` run with its reason."
    ),
)
def research_runs(
    context: dg.AssetExecutionContext,
    ledger: LedgerResource,
    market_data: MarketDataResource,
    research_settings: ResearchResource,
) -> dg.MaterializeResult:  # type: ignore[type-arg]
    window = lane_window(context)
    with isolated_strategy(window, research_settings.strategy_timeout_seconds):
        committed = chain.record_research_chain(ledger, market_data, research_settings, window)
    return dg.MaterializeResult(metadata=run_metadata(window, committed))


def run_metadata(window: LaneWindow, committed: chain.ResearchChain) -> dict[str, Any]:
    row, verdict = committed.run, committed.verdict
    counts = {table: len(rows) for table, rows in committed.rows.items()}
    summary = (
        f"Run `{row['run_id']}` for `{window.label()}`: **{row['status']}**"
        + (f" (`{row['no_signal_reason']}`)" if row["no_signal_reason"] else "")
        + f"\n\nsignals {verdict['signals_total']} · research settings `{committed.settings.checksum()[:12]}`"
        + "\n\ncommitted in one transaction: "
        + " · ".join(f"{table} {n}" for table, n in counts.items())
        + (
            ""
            if committed.request is None
            else f" · promotion request revision {committed.request['revision']}"
            + (" (appended)" if committed.request_appended else " (unchanged)")
        )
    )
    extra: dict[str, Any] = {
        "run_id": row["run_id"],
        "status": row["status"],
        "dataset_version": row["dataset_version"],
        "research_settings": committed.settings.as_dict(),
        "chain_rows": dg.MetadataValue.json(counts),
        "promotion_request_appended": committed.request_appended,
    }
    for ref in row["artifact_refs"]:
        if ref["kind"] == chain.NO_SIGNALS_KIND:
            extra["no_signals_artifact"] = dg.MetadataValue.path(str(ref["path"]))
    return window_metadata(window, 1, summary, **extra)


@dg.asset(
    partitions_def=lane_window_partitions,
    group_name=GROUP,
    code_version=CODE_VERSION,
    deps=["research_runs"],
    kinds={"sql"},
    description="Every parameter combination tried for the run, losers included, with its backtest summary.",
)
def research_candidates(context: dg.AssetExecutionContext, ledger: LedgerResource) -> dg.MaterializeResult:  # type: ignore[type-arg]
    window = lane_window(context)
    committed = chain.committed_chain(ledger, window)
    rows = committed.candidates
    run_id = committed.run["run_id"]
    net_pnl = [float(r["metadata_bundle"]["lookback_metrics"]["net_pnl"]) for r in rows]
    best = sorted(zip(rows, net_pnl, strict=True), key=lambda pair: -pair[1])[:10]
    summary = f"**{len(rows)} candidates** for run `{run_id}`\n\n" + markdown_table(
        ["candidate_id", "params", "trades", "net_pnl"],
        [
            (r["candidate_id"], r["parameter_set"]["params"], r["trade_count"], round(pnl, 2))
            for r, pnl in best
        ],
    )
    return dg.MaterializeResult(metadata=window_metadata(window, len(rows), summary, run_id=run_id))


@dg.asset(
    partitions_def=lane_window_partitions,
    group_name=GROUP,
    code_version=CODE_VERSION,
    deps=["research_candidates"],
    kinds={"sql"},
    description="Walk-forward fold metrics per candidate (sliding or expanding, with purge gap).",
)
def research_fold_metrics(context: dg.AssetExecutionContext, ledger: LedgerResource) -> dg.MaterializeResult:  # type: ignore[type-arg]
    window = lane_window(context)
    committed = chain.committed_chain(ledger, window)
    written, folds = len(committed.fold_rows), committed.folds
    summary = (
        f"**{written} fold rows** ({len(folds)} folds) for run `{committed.run['run_id']}`\n\n"
        + markdown_table(
            ["fold", "test_start", "test_end"],
            [(f.fold_name, f.test_start.isoformat(), f.test_end.isoformat()) for f in folds],
        )
    )
    return dg.MaterializeResult(metadata=window_metadata(window, written, summary, fold_count=len(folds)))


@dg.asset(
    partitions_def=lane_window_partitions,
    group_name=GROUP,
    code_version=CODE_VERSION,
    deps=["research_fold_metrics"],
    kinds={"sql"},
    description="Spread, volatility, liquidity and halt stress replays per candidate, with PnL deltas.",
)
def research_stress_metrics(
    context: dg.AssetExecutionContext, ledger: LedgerResource
) -> dg.MaterializeResult:  # type: ignore[type-arg]
    window = lane_window(context)
    committed = chain.committed_chain(ledger, window)
    rows = committed.stress_rows
    by_case: dict[str, list[float]] = defaultdict(list)
    for r in rows:
        by_case[r["stress_case"]].append(float(r["pessimistic_pnl_delta"]))
    summary = f"**{len(rows)} stress rows** for run `{committed.run['run_id']}`\n\n" + markdown_table(
        ["case", "worst delta", "mean delta"],
        [(c, round(min(v), 2), round(sum(v) / len(v), 2)) for c, v in sorted(by_case.items())],
    )
    return dg.MaterializeResult(metadata=window_metadata(window, len(rows), summary))


@dg.asset(
    partitions_def=lane_window_partitions,
    group_name=GROUP,
    code_version=CODE_VERSION,
    deps=["research_stress_metrics"],
    kinds={"sql"},
    description=(
        "The scheduler's promotion request for the run's champion (appended, the latest revision is "
        "current), and the run's evaluation report."
    ),
)
def research_promotions(context: dg.AssetExecutionContext, ledger: LedgerResource) -> dg.MaterializeResult:  # type: ignore[type-arg]
    window = lane_window(context)
    return dg.MaterializeResult(metadata=promotion_metadata(window, chain.committed_chain(ledger, window)))


def promotion_metadata(window: LaneWindow, committed: chain.CommittedChain) -> dict[str, Any]:
    run_id = committed.run["run_id"]
    metadata: dict[str, Any] = {"run_id": run_id, "request_revisions": committed.request_revisions}
    request, report = committed.request, committed.report_json
    if request is None or report is None:
        summary = f"Run `{run_id}` skipped: no promotion request"
        return window_metadata(window, 0, summary, **metadata)
    summary = (
        f"`{request['candidate_id']}` requested **{request['requested_mode']}** → "
        f"**{request['decision_action']}** (approved: `{request['approved_mode']}`; request revision "
        f"{request['revision']} of the window)\n\n{committed.report_markdown}"
    )
    metadata.update(
        decision_action=request["decision_action"],
        request_revision=request["revision"],
        evaluation_report=dg.MetadataValue.path(str(report["path"])),
        evaluation_report_sha256=report["sha256"],
    )
    return window_metadata(window, 1, summary, **metadata)
