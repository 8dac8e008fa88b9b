"""A lane window's research chain, all or nothing: run → candidates → fold metrics → stress metrics →
promotion request.

`record_research_chain` computes the whole chain of the window in memory and writes it, with the
evidence-log entry of every partition, in ONE transaction, so the ledger never holds part of a chain.
Before computing it opens the run: the run row is committed `running` (the reference's lifecycle), and
the candidates, folds and stress rows an earlier run left in the window are removed with it (a window
whose run already passed with this very run id keeps its chain until the new one replaces it). A step
that raises leaves only that `running` row, which the failure hook turns `failed` with the error
(`fail_research_run`); a re-run opens the run again and commits the complete chain.

The window's promotion request is appended, never rewritten (`ledger/research_store.append_request`):
a re-run that requests the same appends nothing, one that requests something else appends the next
revision, and the latest revision is the current request. `committed_chain` reads back what the window
holds, for the assets that render it. The computation lives in `domain/research_evaluation.py` and the
row construction in `ledger/research_records.py`, shared with replay. Strategy calls run in a
`strategy_scope` naming the window with the configured per-call budget.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from torghut_assets.domain import promotion as promotion_policy
from torghut_assets.domain import research
from torghut_assets.domain import research_evaluation as evaluation
from torghut_assets.domain.continuity import ContinuityConfig, WindowObservation, continuity_summary
from torghut_assets.domain.lane_catalog import lane_candidates, lane_research_settings, lane_strategy
from torghut_assets.domain.lanes import LaneWindow
from torghut_assets.domain.research_evaluation import ResearchSettings
from torghut_assets.domain.research_performance import (
    CandidatePerformance,
    candidate_performance,
    fold_net_pnl_by_candidate,
)
from torghut_assets.domain.research_report import evaluation_markdown, evaluation_report
from torghut_assets.domain.signal_frame import dataset_version
from torghut_assets.domain.strategies import StrategySpec
from torghut_assets.domain.strategy_calls import strategy_scope
from torghut_assets.domain.stress import STRESS_CASES
from torghut_assets.ledger import queries, research_records, research_store, schema
from torghut_assets.ledger.audit_rules import require_auditable
from torghut_assets.ledger.continuity_store import load_state
from torghut_assets.ledger.evidence_digests import record_partition
from torghut_assets.ledger.writes import replace_lane_window
from torghut_assets.services.ports import LedgerPort, MarketDataPort, ResearchSettingsPort
from torghut_assets.services.research_inputs import UpstreamMissingError, lookback_signals, run_row

Row = dict[str, Any]
REPORT_KIND = "backtest/evaluation-report"
NO_SIGNALS_KIND = "research/no-signals"
PERFORMANCE_KIND = "research/candidate-performance"


class RunStatus(StrEnum):
    """A research run's lifecycle: `skipped` (no signals), `running` (opened, its chain not committed),
    `passed` (its whole chain committed), `failed` (a step raised; the run row carries the error)."""

    SKIPPED = "skipped"
    RUNNING = "running"
    PASSED = "passed"
    FAILED = "failed"


class EvidenceKind(StrEnum):
    """The evidence-log entry kind appended for each partition of the chain."""

    RESEARCH_RUN = "research_run"
    CANDIDATE_SET = "candidate_set"
    FOLD_BUNDLE = "fold_bundle"
    STRESS_BUNDLE = "stress_bundle"
    PROMOTION = "promotion"


# The chain's partitions below the run row, with the evidence kind each one's digest is chained under.
CHAIN_PARTITIONS: tuple[tuple[sa.Table, EvidenceKind], ...] = (
    (schema.research_candidates, EvidenceKind.CANDIDATE_SET),
    (schema.research_fold_metrics, EvidenceKind.FOLD_BUNDLE),
    (schema.research_stress_metrics, EvidenceKind.STRESS_BUNDLE),
)
CHAIN_TABLES: tuple[sa.Table, ...] = tuple(table for table, _ in CHAIN_PARTITIONS)


@dataclass(frozen=True)
class ResearchChain:
    """The window's chain as its one transaction committed it: the run row (`passed`, or `skipped` with
    no chain), the ingest verdict and settings it was derived from, its rows per chain table, the
    window's current promotion request (None when skipped) and whether this run appended it."""

    run: Row
    verdict: Row
    settings: ResearchSettings
    rows: dict[str, list[Row]]
    request: Row | None = None
    request_appended: bool = False


@dataclass(frozen=True)
class FoldSpan:
    fold_name: str
    test_start: dt.datetime
    test_end: dt.datetime


@dataclass(frozen=True)
class CommittedChain:
    """What the window holds, read back from the ledger for the assets that render it: the run row, its
    rows per chain table, the current promotion request and how many revisions the window's requests
    have, the run's evaluation report (its markdown, and the JSON artifact's reference) and its folds."""

    run: Row
    rows: dict[str, list[Row]]
    request: Row | None = None
    request_revisions: int = 0
    report_markdown: str = ""
    report_json: Mapping[str, Any] | None = None
    folds: list[FoldSpan] = field(default_factory=list)
    performance: CandidatePerformance | None = None

    @property
    def candidates(self) -> list[Row]:
        return self.rows[schema.research_candidates.name]

    @property
    def fold_rows(self) -> list[Row]:
        return self.rows[schema.research_fold_metrics.name]

    @property
    def stress_rows(self) -> list[Row]:
        return self.rows[schema.research_stress_metrics.name]


def _record(conn: Connection, kind: EvidenceKind, subject: str, table: sa.Table, window: LaneWindow) -> None:
    """Append the stored partition's digest to the hash-chained evidence log (same transaction)."""
    record_partition(
        conn,
        entry_kind=kind.value,
        subject=subject,
        table=table,
        lane=window.lane,
        window_start=window.start.to_pydatetime(),
        recorded_at=pd.Timestamp.now(tz="UTC").to_pydatetime(),
    )


@contextmanager
def _strategy_calls(window: LaneWindow, research_settings: ResearchSettingsPort) -> Iterator[None]:
    with strategy_scope(window=window.label(), timeout_seconds=research_settings.strategy_timeout_seconds):
        yield


def _settings(window: LaneWindow, research_settings: ResearchSettingsPort) -> ResearchSettings:
    return lane_research_settings(research_settings.settings(), window.config)


# --- the chain, computed whole and committed in one transaction -------------------------------------


def record_research_chain(
    ledger: LedgerPort,
    market_data: MarketDataPort,
    research_settings: ResearchSettingsPort,
    window: LaneWindow,
) -> ResearchChain:
    """One run per lane window and its whole chain: an empty window is a `skipped` run with its reason
    and an artifact (and no chain); otherwise the run is opened, the chain computed, and everything
    committed in one transaction."""
    settings = _settings(window, research_settings)
    with _strategy_calls(window, research_settings):
        spec = lane_strategy(window.config)
    with ledger.engine.connect() as conn:
        ingest = queries.window_rows(conn, schema.signal_ingest_windows, window.lane, window.start)
        lane_state = load_state(conn, window.lane)
    if not ingest:
        raise UpstreamMissingError(f"no signal ingest record for {window.label()}: materialize signals first")
    verdict = ingest[0]
    if verdict["signals_total"] == 0:
        run = _skipped_run(ledger, window, spec, settings, verdict, lane_state)
        empty: dict[str, list[Row]] = {table.name: [] for table in CHAIN_TABLES}
        return _commit(ledger, window, ResearchChain(run, verdict, settings, empty), promotion=None)
    frame = lookback_signals(window, market_data, settings)
    run = _normal_run(market_data, window, spec, settings, frame)
    _open_run(ledger, window, run)
    with _strategy_calls(window, research_settings):
        rows = chain_rows(market_data, window, settings, run, frame)
        performance = _performance(frame, settings, run, rows)
    promotion, report = promotion_and_report(
        window,
        run,
        rows[schema.research_candidates.name],
        rows[schema.research_fold_metrics.name],
        rows[schema.research_stress_metrics.name],
    )
    json_ref = ledger.artifacts.write_json(REPORT_KIND, report)
    md_ref = ledger.artifacts.write_text(REPORT_KIND, evaluation_markdown(report), suffix=".md")
    performance_ref = ledger.artifacts.write_json(PERFORMANCE_KIND, performance.as_dict())
    passed = research_records.with_artifacts(
        {**run, "status": RunStatus.PASSED.value},
        [json_ref.as_dict(), md_ref.as_dict(), performance_ref.as_dict()],
    )
    return _commit(ledger, window, ResearchChain(passed, verdict, settings, rows), promotion=promotion)


def _skipped_run(
    ledger: LedgerPort,
    window: LaneWindow,
    spec: StrategySpec,
    settings: ResearchSettings,
    verdict: Row,
    lane_state: Any,
) -> Row:
    reason = str(verdict["no_signal_reason"])
    row = research_records.skipped_run_row(
        window, spec, settings, reason=reason, dataset_version=verdict["dataset_version"]
    )
    observation = WindowObservation(
        window.start, 0, reason, bool(verdict["market_session_open"]), verdict["signal_lag_seconds"]
    )
    artifact = ledger.artifacts.write_json(
        NO_SIGNALS_KIND,
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
    return research_records.with_artifacts(row, [artifact.as_dict()])


def _normal_run(
    market_data: MarketDataPort,
    window: LaneWindow,
    spec: StrategySpec,
    settings: ResearchSettings,
    frame: pd.DataFrame,
) -> Row:
    return research_records.with_artifacts(
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


def _open_run(ledger: LedgerPort, window: LaneWindow, run: Row) -> None:
    """Commit the run `running`, removing the chain rows an earlier run left in the window, unless the
    window already holds this run passed (its complete chain stays until the new one replaces it)."""
    require_auditable(schema.research_runs.name, [run])
    with ledger.engine.begin() as conn:
        stored = research_store.window_run(conn, window.lane, window.start.to_pydatetime(), lock=True)
        if stored is not None and (stored["run_id"], stored["status"]) == (run["run_id"], RunStatus.PASSED):
            return
        replace_lane_window(conn, schema.research_runs, window.lane, window.start, [run])
        cleared = {
            table.name
            for table in research_store.clear_partitions(
                conn, window.lane, window.start.to_pydatetime(), CHAIN_TABLES
            )
        }
        for table, kind in CHAIN_PARTITIONS:
            if table.name in cleared:
                _record(conn, kind, run["run_id"], table, window)
        _record(conn, EvidenceKind.RESEARCH_RUN, run["run_id"], schema.research_runs, window)


def chain_rows(
    market_data: MarketDataPort, window: LaneWindow, settings: ResearchSettings, run: Row, frame: pd.DataFrame
) -> dict[str, list[Row]]:
    """The chain's rows per table: every parameter combination tried (losers included) with its
    backtest summary, its walk-forward fold metrics (sliding or expanding, with purge gap), then its
    spread, volatility, liquidity and halt stress replays with PnL deltas. Replay recomputes the same
    rows (one computation, two callers)."""
    results = evaluation.evaluate_candidates(
        frame,
        lane_candidates(window.config, settings),
        run_id=run["run_id"],
        dataset_version=run["dataset_version"],
        cost=settings.cost_model,
    )
    candidates = research_records.candidate_rows(
        window,
        run["run_id"],
        results,
        symbols_covered=int(frame["symbol"].nunique()),
        universe=market_data.universe,
        cost=settings.cost_model,
    )
    plan = evaluation.fold_plan(frame, settings)
    regimes = evaluation.fold_regimes(frame, plan)
    fold_frame = evaluation.fold_frame(frame, plan)
    ordered = sorted(results, key=lambda r: r.candidate_id)
    folds: list[Row] = []
    for result in ordered:
        metrics = fold_frame.evaluate(result.spec, settings.cost_model)
        folds += research_records.fold_rows(
            window, result.candidate_id, plan, metrics, regimes, settings.cost_model
        )
    stress: list[Row] = []
    for result in ordered:
        stressed = evaluation.evaluate_stress(frame, result.spec, settings.cost_model)
        stress += research_records.stress_rows(window, result.candidate_id, stressed)
    return {
        schema.research_candidates.name: candidates,
        schema.research_fold_metrics.name: folds,
        schema.research_stress_metrics.name: stress,
    }


def _performance(
    frame: pd.DataFrame, settings: ResearchSettings, run: Row, rows: dict[str, list[Row]]
) -> CandidatePerformance:
    """Every candidate's round trips and the champion's and challengers' equity curves, from the same
    lookback backtest its candidate row summarises (kept as an artifact: the rows hold only totals)."""
    candidates = rows[schema.research_candidates.name]
    specs = {
        str(c["candidate_id"]): evaluation.spec_from_parameter_set(c["parameter_set"]) for c in candidates
    }
    fold_net = fold_net_pnl_by_candidate(candidates, rows[schema.research_fold_metrics.name])
    return candidate_performance(frame, specs, fold_net, run_id=run["run_id"], cost=settings.cost_model)


def promotion_and_report(
    window: LaneWindow,
    run: Row,
    candidates: list[Row],
    folds: list[Row],
    stress: list[Row],
    revision: int = 1,
) -> tuple[Row, dict[str, Any]]:
    """The promotion request (at `revision` of the window's requests) and the evaluation report, from
    computed (or replayed) research rows."""
    evidence = promotion_policy.collect_evidence(candidates, folds, stress)
    if not evidence:
        raise UpstreamMissingError(f"run {run['run_id']} has no candidates: nothing to request")
    decision = promotion_policy.lane_window_promotion(evidence, STRESS_CASES)
    promotion = research_records.promotion_row(window, run["run_id"], decision, revision)
    overfitting = evaluation.overfitting_by_candidate({e.candidate_id: e.fold_net_pnl for e in evidence})
    report = evaluation_report(run, candidates, folds, stress, promotion, overfitting)
    return promotion, report


def _commit(
    ledger: LedgerPort, window: LaneWindow, chain: ResearchChain, *, promotion: Row | None
) -> ResearchChain:
    """The run row, every chain partition, the promotion request (appended unless the window's current
    request says the same) and the evidence entries of all of them: one transaction."""
    run_id = chain.run["run_id"]
    require_auditable(schema.research_runs.name, [chain.run])
    with ledger.engine.begin() as conn:
        # The run row first: its row lock orders two commits of one window one after the other.
        replace_lane_window(conn, schema.research_runs, window.lane, window.start, [chain.run])
        for table in CHAIN_TABLES:
            replace_lane_window(conn, table, window.lane, window.start, chain.rows[table.name])
        request, appended = (None, False)
        if promotion is not None:
            request, appended = research_store.append_request(conn, promotion)
        for table, kind in CHAIN_PARTITIONS:
            _record(conn, kind, run_id, table, window)
        if request is not None:
            _record(conn, EvidenceKind.PROMOTION, run_id, schema.research_promotions, window)
        _record(conn, EvidenceKind.RESEARCH_RUN, run_id, schema.research_runs, window)
    return ResearchChain(chain.run, chain.verdict, chain.settings, chain.rows, request, appended)


# --- what the window holds ----------------------------------------------------------------------------


def committed_chain(ledger: LedgerPort, window: LaneWindow) -> CommittedChain:
    """The window's committed chain, read back from the ledger. A run that has not committed its chain
    (`running`) or failed has nothing to show: that raises, naming the run (and its error)."""
    run = run_row(ledger, window)
    if run["status"] == RunStatus.FAILED:
        raise UpstreamMissingError(
            f"research run {run['run_id']} for {window.label()} failed ({run.get('error')}): "
            "re-materialize research_runs"
        )
    if run["status"] == RunStatus.RUNNING:
        raise UpstreamMissingError(
            f"research run {run['run_id']} for {window.label()} has not committed its chain: "
            "materialize research_runs"
        )
    with ledger.engine.connect() as conn:
        rows = {t.name: queries.window_rows(conn, t, window.lane, window.start) for t in CHAIN_TABLES}
        requests = research_store.window_requests(conn, window.lane, window.start.to_pydatetime())
    if run["status"] == RunStatus.SKIPPED:
        return CommittedChain(run, rows, request_revisions=len(requests))
    refs = [r for r in run.get("artifact_refs") or [] if r.get("kind") == REPORT_KIND]
    report_json = next((r for r in refs if str(r["path"]).endswith(".json")), None)
    markdown = next((r for r in refs if str(r["path"]).endswith(".md")), None)
    current = requests[-1] if requests and requests[-1]["run_id"] == run["run_id"] else None
    performance_ref = next(
        (r for r in run.get("artifact_refs") or [] if r.get("kind") == PERFORMANCE_KIND), None
    )
    return CommittedChain(
        run,
        rows,
        request=current,
        request_revisions=len(requests),
        report_markdown="" if markdown is None else Path(str(markdown["path"])).read_text(encoding="utf-8"),
        report_json=report_json,
        folds=_fold_spans(rows[schema.research_fold_metrics.name]),
        performance=None if performance_ref is None else _read_performance(performance_ref),
    )


def _read_performance(ref: Mapping[str, Any]) -> CandidatePerformance:
    payload = json.loads(Path(str(ref["path"])).read_text(encoding="utf-8"))
    return CandidatePerformance.from_dict(payload)


def committed_run_status(ledger: LedgerPort, window: LaneWindow) -> str:
    """The window's run status as the ledger holds it now (what a materialization reports as final)."""
    return str(run_row(ledger, window)["status"])


def _fold_spans(folds: list[Row]) -> list[FoldSpan]:
    spans = {int(r["fold_order"]): FoldSpan(r["fold_name"], r["test_start"], r["test_end"]) for r in folds}
    return [spans[order] for order in sorted(spans)]


# --- run lifecycle ------------------------------------------------------------------------------------


def failure_text(exc: BaseException | None) -> str:
    """What the run row keeps of the exception that failed it: its type and message."""
    if exc is None:
        return "the research step failed without an exception"
    message = str(exc).strip()
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


def fail_research_run(ledger: LedgerPort, window: LaneWindow, error: str) -> list[str]:
    """The research step raised: the window's `running` run becomes `failed` with `error` (the reference
    lifecycle). Its chain was never committed, so the run row is all the run leaves; the row's new digest
    is chained, or verification would report the change as tampering."""
    start: dt.datetime = window.start.to_pydatetime()
    with ledger.engine.begin() as conn:
        failed = research_store.fail_running_runs(conn, window.lane, start, error)
        for run_id in failed:
            _record(conn, EvidenceKind.RESEARCH_RUN, run_id, schema.research_runs, window)
    return failed
