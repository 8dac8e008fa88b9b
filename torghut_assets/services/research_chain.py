"""A lane window's research chain: run → candidates → fold metrics → stress metrics → promotion request.

Each stage reads its upstream rows from the ledger (not from the previous stage's return value), so the
stored chain is exactly what the next stage used; each writes its rows and appends their digest to the
hash-chained evidence log in one transaction. The computation lives in `domain/research_evaluation.py`
and the row construction in `ledger/research_records.py`, shared with replay. Strategy calls run in a
`strategy_scope` naming the window with the configured per-call budget; a strategy that fails raises
out of the stage before its transaction, so nothing of the window is written.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import StrEnum
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
from torghut_assets.domain.research_report import evaluation_markdown, evaluation_report
from torghut_assets.domain.signal_frame import dataset_version
from torghut_assets.domain.strategies import StrategySpec
from torghut_assets.domain.strategy_calls import strategy_scope
from torghut_assets.domain.stress import STRESS_CASES
from torghut_assets.domain.walk_forward import Fold
from torghut_assets.ledger import queries, research_records, research_store, schema
from torghut_assets.ledger.artifacts import ArtifactRef
from torghut_assets.ledger.continuity_store import load_state
from torghut_assets.ledger.evidence_digests import record_partition
from torghut_assets.ledger.writes import replace_lane_window
from torghut_assets.services.ports import LedgerPort, MarketDataPort, ResearchSettingsPort
from torghut_assets.services.research_inputs import (
    UpstreamMissingError,
    lookback_signals,
    research_dataset,
    run_row,
    stored_candidates,
)

Row = dict[str, Any]
REPORT_KIND = "backtest/evaluation-report"
NO_SIGNALS_KIND = "research/no-signals"


class RunStatus(StrEnum):
    """A research run's lifecycle: `skipped` (no signals), `running` (candidates under way), `passed`
    (promotion request and report recorded), `failed` (a stage raised)."""

    SKIPPED = "skipped"
    RUNNING = "running"
    PASSED = "passed"
    FAILED = "failed"


class EvidenceKind(StrEnum):
    """The evidence-log entry kind each stage appends for the partition it stored."""

    RESEARCH_RUN = "research_run"
    CANDIDATE_SET = "candidate_set"
    FOLD_BUNDLE = "fold_bundle"
    STRESS_BUNDLE = "stress_bundle"
    PROMOTION = "promotion"


@dataclass(frozen=True)
class ResearchRun:
    """The stored run row, the window's ingest verdict it was derived from, and the lane's settings."""

    row: Row
    verdict: Row
    settings: ResearchSettings


@dataclass(frozen=True)
class StageRows:
    """What one stage stored for the run: its rows (`written` of them) and, for folds, the fold plan."""

    run: Row
    rows: list[Row]
    written: int
    folds: list[Fold] = field(default_factory=list)


@dataclass(frozen=True)
class PromotionRequest:
    """The run's promotion request and evaluation report; `promotion` None when the run was skipped."""

    run: Row
    written: int
    promotion: Row | None = None
    report_markdown: str = ""
    report_json: ArtifactRef | None = None


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


# --- research_runs ----------------------------------------------------------------------------------


def record_research_run(
    ledger: LedgerPort,
    market_data: MarketDataPort,
    research_settings: ResearchSettingsPort,
    window: LaneWindow,
) -> ResearchRun:
    """One run per lane window; an empty window is a `skipped` run with its reason and an artifact."""
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
        row = _skipped_run(ledger, window, spec, settings, verdict, lane_state)
    else:
        row = _normal_run(market_data, window, spec, settings)
    with ledger.engine.begin() as conn:
        replace_lane_window(conn, schema.research_runs, window.lane, window.start, [row])
        _record(conn, EvidenceKind.RESEARCH_RUN, row["run_id"], schema.research_runs, window)
    return ResearchRun(row, verdict, settings)


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
    market_data: MarketDataPort, window: LaneWindow, spec: StrategySpec, settings: ResearchSettings
) -> Row:
    frame = lookback_signals(window, market_data, settings)
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


# --- research_candidates, research_fold_metrics, research_stress_metrics ---------------------------


def record_candidates(
    ledger: LedgerPort,
    market_data: MarketDataPort,
    research_settings: ResearchSettingsPort,
    window: LaneWindow,
) -> StageRows:
    """Every parameter combination tried for the run, losers included, with its backtest summary."""
    settings = _settings(window, research_settings)
    run, frame = research_dataset(ledger, market_data, window, settings)
    rows: list[Row] = []
    if frame is not None:
        with _strategy_calls(window, research_settings):
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
    with ledger.engine.begin() as conn:
        written = replace_lane_window(conn, schema.research_candidates, window.lane, window.start, rows)
        _record(conn, EvidenceKind.CANDIDATE_SET, run["run_id"], schema.research_candidates, window)
    return StageRows(run, rows, written)


def record_fold_metrics(
    ledger: LedgerPort,
    market_data: MarketDataPort,
    research_settings: ResearchSettingsPort,
    window: LaneWindow,
) -> StageRows:
    """Walk-forward fold metrics per stored candidate (sliding or expanding, with purge gap)."""
    settings = _settings(window, research_settings)
    run, frame = research_dataset(ledger, market_data, window, settings)
    rows: list[Row] = []
    folds: list[Fold] = []
    if frame is not None:
        folds = evaluation.fold_plan(frame, settings)
        regimes = evaluation.fold_regimes(frame, folds)
        fold_frame = evaluation.fold_frame(frame, folds)
        with _strategy_calls(window, research_settings):
            for cand, spec in stored_candidates(ledger, window):
                metrics = fold_frame.evaluate(spec, settings.cost_model)
                rows += research_records.fold_rows(
                    window, cand["candidate_id"], folds, metrics, regimes, settings.cost_model
                )
    with ledger.engine.begin() as conn:
        written = replace_lane_window(conn, schema.research_fold_metrics, window.lane, window.start, rows)
        _record(conn, EvidenceKind.FOLD_BUNDLE, run["run_id"], schema.research_fold_metrics, window)
    return StageRows(run, rows, written, folds)


def record_stress_metrics(
    ledger: LedgerPort,
    market_data: MarketDataPort,
    research_settings: ResearchSettingsPort,
    window: LaneWindow,
) -> StageRows:
    """Spread, volatility, liquidity and halt stress replays per stored candidate, with PnL deltas."""
    settings = _settings(window, research_settings)
    run, frame = research_dataset(ledger, market_data, window, settings)
    rows: list[Row] = []
    if frame is not None:
        with _strategy_calls(window, research_settings):
            for cand, spec in stored_candidates(ledger, window):
                results = evaluation.evaluate_stress(frame, spec, settings.cost_model)
                rows += research_records.stress_rows(window, cand["candidate_id"], results)
    with ledger.engine.begin() as conn:
        written = replace_lane_window(conn, schema.research_stress_metrics, window.lane, window.start, rows)
        _record(conn, EvidenceKind.STRESS_BUNDLE, run["run_id"], schema.research_stress_metrics, window)
    return StageRows(run, rows, written)


# --- research_promotions ----------------------------------------------------------------------------


def promotion_and_report(
    window: LaneWindow,
    run: Row,
    candidates: list[Row],
    folds: list[Row],
    stress: list[Row],
) -> tuple[Row, dict[str, Any]]:
    """The promotion row and the evaluation report, from stored (or replayed) research rows."""
    evidence = promotion_policy.collect_evidence(candidates, folds, stress)
    if not evidence:
        raise UpstreamMissingError(f"run {run['run_id']} has no candidates: materialize research_candidates")
    decision = promotion_policy.lane_window_promotion(evidence, STRESS_CASES)
    promotion = research_records.promotion_row(window, run["run_id"], decision)
    overfitting = evaluation.overfitting_by_candidate({e.candidate_id: e.fold_net_pnl for e in evidence})
    report = evaluation_report(run, candidates, folds, stress, promotion, overfitting)
    return promotion, report


def record_promotion_request(ledger: LedgerPort, window: LaneWindow) -> PromotionRequest:
    """The scheduler's promotion request for the run's champion and the run's evaluation report; the run
    becomes `passed` with both reports among its artifacts. A skipped run requests nothing."""
    run = run_row(ledger, window)
    if run["status"] == RunStatus.SKIPPED:
        with ledger.engine.begin() as conn:
            written = research_store.replace_scheduler_promotions(conn, window.lane, window.start, [])
        return PromotionRequest(run, written)
    with ledger.engine.connect() as conn:
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
    json_ref = ledger.artifacts.write_json(REPORT_KIND, report)
    markdown = evaluation_markdown(report)
    md_ref = ledger.artifacts.write_text(REPORT_KIND, markdown, suffix=".md")
    run_update = research_records.with_artifacts(
        {"status": RunStatus.PASSED.value}, [json_ref.as_dict(), md_ref.as_dict()]
    )
    with ledger.engine.begin() as conn:
        written = research_store.replace_scheduler_promotions(conn, window.lane, window.start, [promotion])
        research_store.update_run(conn, run["id"], run_update)
        _record(conn, EvidenceKind.PROMOTION, run["run_id"], schema.research_promotions, window)
        _record(conn, EvidenceKind.RESEARCH_RUN, run["run_id"], schema.research_runs, window)
    return PromotionRequest(run, written, promotion, markdown, json_ref)


# --- run lifecycle ------------------------------------------------------------------------------------


def fail_research_run(ledger: LedgerPort, window: LaneWindow) -> list[str]:
    """A research stage raised: the window's `running` run becomes `failed` (reference lifecycle), and
    its new digest is chained, or verification would report the change as tampering."""
    start: dt.datetime = window.start.to_pydatetime()
    with ledger.engine.begin() as conn:
        failed = research_store.fail_running_runs(conn, window.lane, start)
        for run_id in failed:
            _record(conn, EvidenceKind.RESEARCH_RUN, run_id, schema.research_runs, window)
    return failed
