"""Research ledger lane: run → candidates → fold metrics → stress metrics → promotion request.

`research_runs` runs the window's whole research chain and commits it in one transaction
(`services.research_chain.record_research_chain`), so a failure anywhere in the chain leaves no part of
it; it turns a failing strategy into a failure of the window alone (`isolated_strategy`), and the job's
failure hook marks the run `failed` with the error. The four assets after it keep each table visible
in the UI: they read what `research_runs` committed (`committed_chain`) and render it, and their
contract checks judge those partitions. They are built by one factory (`_chain_view`) and differ only in
their rendering: every candidate, fold and stress case in a typed table with units in the column names,
the champion's and challengers' equity and drawdown plots (`research_plots`), and a `current_state` note
saying the metadata is a snapshot and where the present is (docs/research.md).
"""

import json
from collections import defaultdict
from collections.abc import Callable, Mapping
from typing import Any

import dagster as dg
import pandas as pd

from torghut_assets.defs.lane_window import research_plots
from torghut_assets.defs.lane_window.partitions import lane_window, lane_window_partitions
from torghut_assets.defs.lane_window.research_inputs import ResearchResource
from torghut_assets.defs.lane_window.strategy_isolation import isolated_strategy
from torghut_assets.defs.metadata import markdown_table, window_metadata
from torghut_assets.defs.resources import LedgerResource, MarketDataResource
from torghut_assets.domain.lanes import LaneWindow
from torghut_assets.domain.research_performance import (
    CHALLENGER_COUNT,
    CandidatePerformance,
    CandidateRole,
    CandidateSummary,
    summarize_candidates,
)
from torghut_assets.services import research_chain as chain

GROUP = "lane_window"
CODE_VERSION = "4"
PLOT_KIND = "research/plots"
# Each PNG costs ~0.1 s of every market-hours window; the other challengers are compared in the table.
PLOTTED_CHALLENGERS = 1


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
    status = chain.committed_run_status(ledger, window)
    return dg.MaterializeResult(metadata=run_metadata(window, committed, status, ledger))


def _snapshot_note(what: str, current: str) -> str:
    """The one line every research asset carries: its metadata is a snapshot, and where the present is."""
    at = pd.Timestamp.now(tz="UTC").isoformat(timespec="seconds")
    return f"Snapshot at {at}: {what}. For the current state see {current}."


def run_metadata(
    window: LaneWindow, committed: chain.ResearchChain, status: str, ledger: LedgerResource
) -> dict[str, Any]:
    """`status` is the run's status as the ledger holds it after the commit (read back, so it is the
    committed status, `passed` or `skipped`, never the `running` row the chain opened with)."""
    row, verdict = committed.run, committed.verdict
    counts = {table: len(rows) for table, rows in committed.rows.items()}
    summary = (
        f"Run `{row['run_id']}` for `{window.label()}`: **{status}**"
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
        "status_at_materialization": status,
        "current_state": _snapshot_note(
            f"run status `{status}` as committed by this materialization",
            "`research_leaderboard` (the lane across windows), `promotion_decision` (the current verdict) "
            f"or `torghut-assets replay --lane {window.lane} --window {window.label().split('/')[-1]}`",
        ),
        "dataset_version": row["dataset_version"],
        "research_settings": committed.settings.as_dict(),
        "chain_rows": dg.MetadataValue.json(counts),
        "promotion_request_appended": committed.request_appended,
    }
    for ref in row["artifact_refs"]:
        if ref["kind"] == chain.NO_SIGNALS_KIND:
            extra["no_signals_artifact"] = ledger.artifact_link(ref)
    return window_metadata(window, 1, summary, **extra)


# --- the four assets that show what research_runs committed ------------------------------------------

Render = Callable[[LaneWindow, chain.CommittedChain, LedgerResource], dict[str, Any]]


def _chain_view(name: str, upstream: str, description: str, render: Render) -> dg.AssetsDefinition:
    """An asset that reads the window's committed chain (`committed_chain`) and renders one table of it:
    the four research assets after `research_runs` differ only in their name, upstream and rendering."""

    @dg.asset(
        name=name,
        partitions_def=lane_window_partitions,
        group_name=GROUP,
        code_version=CODE_VERSION,
        deps=[upstream],
        kinds={"sql"},
        description=description,
    )
    def _view(context: dg.AssetExecutionContext, ledger: LedgerResource) -> dg.MaterializeResult:  # type: ignore[type-arg]
        window = lane_window(context)
        return dg.MaterializeResult(metadata=render(window, chain.committed_chain(ledger, window), ledger))

    return _view


def _column(name: str, type_: str, description: str) -> dg.TableColumn:
    return dg.TableColumn(name, type_, description=description)


def _number(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(value, digits)


CANDIDATE_COLUMNS = dg.TableSchema(
    columns=[
        _column("candidate_id", "string", "The candidate's id (`cand-<run>-<hash>`), one per grid point."),
        _column(
            "research_role",
            "string",
            f"champion (best mean fold net PnL, the window's request), challenger (the next "
            f"{CHALLENGER_COUNT}) or candidate; not the governance lifecycle.",
        ),
        _column("params", "string", "The strategy parameters of this grid point (JSON)."),
        _column("net_pnl_usd", "float", "Net PnL of the lookback backtest after costs, USD."),
        _column("mean_fold_net_pnl_usd", "float", "Mean walk-forward fold net PnL, USD (the champion rule)."),
        _column("sharpe", "float", "Mean / sample std of the fold net PnL, per fold, not annualised."),
        _column("max_drawdown_usd", "float", "Largest fall of lookback equity below its running peak, USD."),
        _column("hit_rate_pct", "float", "Round trips that made money after costs, percent (empty: none)."),
        _column("trades", "int", "Fills in the lookback backtest (partial fills and session closes count)."),
        _column("psr", "float", "Probabilistic Sharpe ratio vs 0 over the fold net PnL (0..1)."),
        _column("dsr", "float", "Deflated Sharpe ratio against all of the run's trials (0..1)."),
    ]
)


def _candidate_record(s: CandidateSummary) -> dg.TableRecord:
    return dg.TableRecord(
        {
            "candidate_id": s.candidate_id,
            "research_role": s.role.value,
            "params": json.dumps(dict(s.params), sort_keys=True),
            "net_pnl_usd": round(s.net_pnl_usd, 2),
            "mean_fold_net_pnl_usd": round(s.mean_fold_net_pnl_usd, 2),
            "sharpe": _number(s.sharpe),
            "max_drawdown_usd": round(s.max_drawdown_usd, 2),
            "hit_rate_pct": _number(s.hit_rate_pct, 1),
            "trades": s.trades,
            "psr": _number(s.psr),
            "dsr": _number(s.dsr),
        }
    )


def _plots(
    ledger: LedgerResource, performance: CandidatePerformance | None, plotted: list[tuple[str, str]]
) -> dict[str, Any]:
    """An equity-curve and a drawdown PNG per plotted candidate (`<label>_equity_curve`,
    `<label>_drawdown`), written as artifacts and shown inline when the artifact root is served."""
    if performance is None:
        return {
            "equity_curves": "this run was recorded before the chain kept equity curves: "
            "re-materialize research_runs to plot them"
        }
    plots: dict[str, Any] = {}
    for label, cid in plotted:
        curve = performance.curves.get(cid)
        if curve is None:
            continue
        for kind, draw in (
            ("equity_curve", research_plots.equity_curve_png),
            ("drawdown", research_plots.drawdown_png),
        ):
            ref = ledger.artifacts.write_bytes(f"{PLOT_KIND}/{kind}", draw(curve, cid), ".png")
            plots[f"{label}_{kind}"] = ledger.inline_image(ref, f"{label} {cid} {kind.replace('_', ' ')}")
    return plots


def candidates_metadata(
    window: LaneWindow, committed: chain.CommittedChain, ledger: LedgerResource
) -> dict[str, Any]:
    """Every candidate in a typed table (nothing cut), the champion and challengers named, and their
    equity curves and drawdowns plotted."""
    run_id = committed.run["run_id"]
    summaries = summarize_candidates(committed.candidates, committed.fold_rows, committed.performance)
    champion = [s for s in summaries if s.role is CandidateRole.CHAMPION]
    challengers = [s for s in summaries if s.role is CandidateRole.CHALLENGER]
    shown = champion + challengers
    summary = (
        f"**{len(summaries)} candidates** for run `{run_id}`, all in the `candidates` table; "
        f"the champion and its challengers:\n\n"
        + markdown_table(
            ["role", "candidate_id", "net_pnl_usd", "sharpe", "max_dd_usd", "hit_%", "trades", "dsr"],
            [
                (
                    s.role.value,
                    s.candidate_id,
                    round(s.net_pnl_usd, 2),
                    _number(s.sharpe, 2),
                    round(s.max_drawdown_usd, 2),
                    _number(s.hit_rate_pct, 1),
                    s.trades,
                    _number(s.dsr, 3),
                )
                for s in shown
            ],
        )
    )
    plotted = [("champion", s.candidate_id) for s in champion] + [
        (f"challenger_{i}", s.candidate_id) for i, s in enumerate(challengers[:PLOTTED_CHALLENGERS], start=1)
    ]
    extra: dict[str, Any] = {
        "run_id": run_id,
        "candidates": dg.MetadataValue.table([_candidate_record(s) for s in summaries], CANDIDATE_COLUMNS),
        "champion_candidate_id": dg.MetadataValue.text(champion[0].candidate_id if champion else "none"),
        "challenger_candidate_ids": [s.candidate_id for s in challengers],
        "plotted_candidates": dg.MetadataValue.text(
            f"the champion and its best challenger (of {CHALLENGER_COUNT}, by mean fold net PnL) "
            f"are plotted; the other {max(0, len(summaries) - len(plotted))} candidates are only listed"
        ),
        **_plots(ledger, committed.performance, plotted),
        "current_state": _snapshot_note(
            f"the candidates of run `{run_id}` at research time",
            "`research_leaderboard` (ranked across windows) and `promotion_decision` "
            "(what governance decided)",
        ),
    }
    return window_metadata(window, len(summaries), summary, **extra)


FOLD_COLUMNS = dg.TableSchema(
    columns=[
        _column("candidate_id", "string", "The candidate the fold replayed."),
        _column("fold", "string", "Fold name, in walk-forward order."),
        _column("test_start", "string", "Start of the fold's test range (UTC, ISO 8601)."),
        _column("test_end", "string", "End of the fold's test range, exclusive (UTC, ISO 8601)."),
        _column("regime", "string", "Descriptive regime label of the test range."),
        _column("trades", "int", "Fills in the fold's test range."),
        _column("net_pnl_usd", "float", "Net PnL after costs over the test range, USD."),
        _column("gross_pnl_usd", "float", "PnL before costs over the test range, USD."),
        _column("max_drawdown_usd", "float", "Largest fall of fold equity below its running peak, USD."),
        _column("cost_bps", "float", "Costs per traded notional, basis points."),
        _column("turnover_ratio", "float", "Traded notional / average exposure (ratio)."),
    ]
)


def fold_metadata(
    window: LaneWindow, committed: chain.CommittedChain, ledger: LedgerResource
) -> dict[str, Any]:
    """One row per (candidate, fold) with units in the column names, and the fold spans."""
    rows = sorted(committed.fold_rows, key=lambda r: (str(r["candidate_id"]), int(r["fold_order"])))
    folds = committed.folds
    records = [
        dg.TableRecord(
            {
                "candidate_id": str(r["candidate_id"]),
                "fold": str(r["fold_name"]),
                "test_start": r["test_start"].isoformat(),
                "test_end": r["test_end"].isoformat(),
                "regime": str(r["regime_label"]),
                "trades": int(r["trade_count"]),
                "net_pnl_usd": round(float(r["net_pnl"]), 2),
                "gross_pnl_usd": round(float(r["gross_pnl"]), 2),
                "max_drawdown_usd": round(float(r["max_drawdown"]), 2),
                "cost_bps": round(float(r["cost_bps"]), 3),
                "turnover_ratio": round(float(r["turnover_ratio"]), 4),
            }
        )
        for r in rows
    ]
    summary = (
        f"**{len(rows)} fold rows** ({len(folds)} folds) for run `{committed.run['run_id']}`, all in the "
        "`folds` table\n\n"
        + markdown_table(
            ["fold", "test_start", "test_end"],
            [(f.fold_name, f.test_start.isoformat(), f.test_end.isoformat()) for f in folds],
        )
    )
    extra = {"fold_count": len(folds), "folds": dg.MetadataValue.table(records, FOLD_COLUMNS)}
    return window_metadata(window, len(rows), summary, **extra)


STRESS_COLUMNS = dg.TableSchema(
    columns=[
        _column("candidate_id", "string", "The candidate the stress case replayed."),
        _column("stress_case", "string", "spread, volatility, liquidity or halt."),
        _column("baseline_net_pnl_usd", "float", "Net PnL of the unstressed lookback backtest, USD."),
        _column("stressed_net_pnl_usd", "float", "Net PnL under the stress case, USD."),
        _column("pnl_delta_usd", "float", "Pessimistic PnL delta (stressed - baseline), USD."),
        _column("pnl_delta_pct", "float", "pnl_delta_usd / |baseline net PnL|, percent (empty when 0)."),
    ]
)


def stress_metadata(
    window: LaneWindow, committed: chain.CommittedChain, ledger: LedgerResource
) -> dict[str, Any]:
    """One row per (candidate, stress case) with the delta in USD and percent, and the worst and mean
    delta per case."""
    rows = sorted(committed.stress_rows, key=lambda r: (str(r["candidate_id"]), str(r["stress_case"])))
    baseline = {
        str(c["candidate_id"]): float(c["metadata_bundle"]["lookback_metrics"]["net_pnl"])
        for c in committed.candidates
    }
    records, by_case = [], defaultdict(list)
    for r in rows:
        cid, delta = str(r["candidate_id"]), float(r["pessimistic_pnl_delta"])
        base = baseline.get(cid, 0.0)
        by_case[str(r["stress_case"])].append(delta)
        records.append(
            dg.TableRecord(
                {
                    "candidate_id": cid,
                    "stress_case": str(r["stress_case"]),
                    "baseline_net_pnl_usd": round(base, 2),
                    "stressed_net_pnl_usd": _number(_stressed_net(r), 2),
                    "pnl_delta_usd": round(delta, 2),
                    "pnl_delta_pct": None if base == 0 else round(100.0 * delta / abs(base), 2),
                }
            )
        )
    summary = (
        f"**{len(rows)} stress rows** for run `{committed.run['run_id']}`, "
        "all in the `stress_cases` table\n\n"
        + markdown_table(
            ["case", "worst pnl_delta_usd", "mean pnl_delta_usd"],
            [(c, round(min(v), 2), round(sum(v) / len(v), 2)) for c, v in sorted(by_case.items())],
        )
    )
    extra = {"stress_cases": dg.MetadataValue.table(records, STRESS_COLUMNS)}
    return window_metadata(window, len(rows), summary, **extra)


def _stressed_net(row: Mapping[str, Any]) -> float | None:
    bundle = row.get("metric_bundle")
    net = bundle.get("net_pnl") if isinstance(bundle, Mapping) else None
    return None if net is None else float(net)


def promotion_metadata(
    window: LaneWindow, committed: chain.CommittedChain, ledger: LedgerResource
) -> dict[str, Any]:
    """The window's request as the research run made it. It is a request, not a verdict: governance
    (`promotion_job`, shown by `promotion_decision`) may later promote or deny, so the metadata says so."""
    run_id = committed.run["run_id"]
    metadata: dict[str, Any] = {"run_id": run_id, "request_revisions": committed.request_revisions}
    request, report = committed.request, committed.report_json
    if request is None or report is None:
        summary = f"Run `{run_id}` skipped: no promotion request"
        return window_metadata(window, 0, summary, **metadata)
    summary = (
        f"**Request at research time** (not the current verdict; see `promotion_decision`): "
        f"`{request['candidate_id']}` requested **{request['requested_mode']}** → "
        f"**{request['decision_action']}** (approved: `{request['approved_mode']}`; request revision "
        f"{request['revision']} of the window)\n\n{committed.report_markdown}"
    )
    metadata.update(
        requested_candidate_id=request["candidate_id"],
        request_decision_action=request["decision_action"],
        request_revision=request["revision"],
        evaluation_report=ledger.artifact_link(report),
        evaluation_report_sha256=report["sha256"],
        current_state=_snapshot_note(
            f"the lane window's own promotion request (revision {request['revision']}) as research made it",
            f"`promotion_decision` for the current verdict on `{request['candidate_id']}` "
            "(a later promote or deny by governance is not reflected here)",
        ),
    )
    return window_metadata(window, 1, summary, **metadata)


research_candidates = _chain_view(
    "research_candidates",
    "research_runs",
    "Every parameter combination tried for the run, losers included, with its backtest summary "
    "(net PnL, Sharpe, drawdown, hit rate, PSR, DSR), its role, and the champion's and challengers' "
    "equity and drawdown plots.",
    candidates_metadata,
)
research_fold_metrics = _chain_view(
    "research_fold_metrics",
    "research_candidates",
    "Walk-forward fold metrics per candidate (sliding or expanding, with purge gap), one row per fold.",
    fold_metadata,
)
research_stress_metrics = _chain_view(
    "research_stress_metrics",
    "research_fold_metrics",
    "Spread, volatility, liquidity and halt stress replays per candidate, with PnL deltas in USD and %.",
    stress_metadata,
)
research_promotions = _chain_view(
    "research_promotions",
    "research_stress_metrics",
    "The scheduler's promotion request for the run's champion at research time (appended, the latest "
    "revision is current; the current verdict is `promotion_decision`), and the run's evaluation report.",
    promotion_metadata,
)
