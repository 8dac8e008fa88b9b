"""Replay lock: recompute a lane window's research from its recorded inputs and compare with the ledger.

Why: a research run is evidence for a promotion only if it can be reproduced. Hashes (run id, dataset
version, candidate hashes, evaluation report) must match exactly; metrics must match to 1e-9 (the stored
numeric(28,10) is the only rounding). Any difference is recorded as a `deny` row in
`research_promotions` (approver role `replay_verifier`) naming the differing fields. The Dagster replay
job, the nightly reconciliation's sample and `torghut-assets replay` all run this.

Only what the window's research chain wrote is compared: its run, candidates, folds and stress rows, and
its own promotion request (approver role `autonomous_scheduler`, for the run's id). Rows other jobs add
to the window later (the promotion job's decisions and denials, rollback demotions, replay's own deny
rows, a candidate's lifecycle columns) are not the window's output, so they never make a mismatch.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from typing import Any, TypedDict

import pandas as pd

from torghut_assets.domain import research_evaluation as evaluation
from torghut_assets.domain.evidence import canonical_json, canonical_value
from torghut_assets.domain.lane_catalog import lane_candidates, lane_research_settings, lane_strategy
from torghut_assets.domain.lanes import LaneWindow
from torghut_assets.domain.promotion import APPROVER_ROLE as SCHEDULER_ROLE
from torghut_assets.domain.research_evaluation import ResearchSettings
from torghut_assets.domain.signal_frame import dataset_version
from torghut_assets.domain.strategies import StrategySpec
from torghut_assets.domain.strategy_calls import strategy_scope
from torghut_assets.ledger import replay_store, research_records
from torghut_assets.ledger.artifacts import ArtifactStore
from torghut_assets.ledger.identity import row_id
from torghut_assets.services.ports import LedgerPort, MarketDataPort
from torghut_assets.services.research_chain import promotion_and_report
from torghut_assets.services.research_inputs import (
    RESEARCH_TABLES,
    UpstreamMissingError,
    lookback_signals,
    stored_research_rows,
)

REPLAY_ROLE = "replay_verifier"
REPLAY_APPROVER = "torghut_assets.replay"
REPORT_KIND = "backtest/evaluation-report"
VERIFICATION_KIND = "replay/verification"
# `lane_catalog_checksum` is provenance (which catalog file was loaded); what the catalog decides for the
# lane (strategy, params, grid) is in the run id and the candidates, which are compared.
_SKIPPED_FIELDS = {
    "research_runs": {"status", "artifact_refs", "artifact_manifest_hash", "lane_catalog_checksum"}
}
_REQUEST_BOOKKEEPING = frozenset({"id", "revision"})
_TOLERANCE = 1e-9

Row = dict[str, Any]
Tables = dict[str, list[Row]]


@dataclass(frozen=True)
class ReplayDifference:
    table: str
    row: str
    field: str
    stored: Any
    replayed: Any

    def as_dict(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "row": self.row,
            "field": self.field,
            "stored": canonical_value(_plain(self.stored)),
            "replayed": canonical_value(_plain(self.replayed)),
        }

    @property
    def name(self) -> str:
        """`table.field`, e.g. `research_candidates.trade_count`."""
        return f"{self.table}.{self.field}"

    def describe(self) -> str:
        """`table.field [row]: stored=… replayed=…`, as the CLI prints it and the replay job's failure
        lists it."""
        values = self.as_dict()
        return f"{self.name} [{self.row}]: stored={values['stored']!r} replayed={values['replayed']!r}"


@dataclass(frozen=True)
class ReplayReport:
    lane: str
    window_start: pd.Timestamp
    run_id: str
    rows_compared: int
    differences: list[ReplayDifference] = field(default_factory=list)

    @property
    def matched(self) -> bool:
        return not self.differences

    @property
    def fields(self) -> list[str]:
        """Every differing `table.field`, once each, sorted."""
        return sorted({d.name for d in self.differences})

    def summary(self) -> str:
        verdict = "MATCH" if self.matched else f"MISMATCH in {', '.join(self.fields)}"
        window = LaneWindow(self.lane, self.window_start).label()
        return f"replay of {window} run {self.run_id}: {verdict}"


class RecordedReplay(TypedDict):
    """Where the replay report went: its artifact, and the deny row of a mismatch (None on a match)."""

    artifact: dict[str, object]
    deny_row: str | None


def _plain(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _same(stored: Any, replayed: Any) -> bool:
    if isinstance(stored, int | float) and isinstance(replayed, int | float) and not isinstance(stored, bool):
        return math.isclose(float(stored), float(replayed), rel_tol=_TOLERANCE, abs_tol=_TOLERANCE)
    if isinstance(stored, dict) and isinstance(replayed, dict):
        return stored.keys() == replayed.keys() and all(_same(stored[k], replayed[k]) for k in stored)
    if isinstance(stored, list) and isinstance(replayed, list):
        return len(stored) == len(replayed) and all(
            _same(a, b) for a, b in zip(stored, replayed, strict=True)
        )
    return bool(stored == replayed)


def _normalized(row: Row) -> Row:
    return {k: canonical_value(_plain(v)) for k, v in row.items()}


def compare_rows(table: str, stored: list[Row], replayed: list[Row]) -> list[ReplayDifference]:
    skipped = _SKIPPED_FIELDS.get(table, set())
    by_id = {str(r["id"]): _normalized(r) for r in stored}
    again = {str(r["id"]): _normalized(r) for r in replayed}
    differences = [
        ReplayDifference(table, rid, "<row>", "present", "missing")
        for rid in sorted(by_id.keys() - again.keys())
    ]
    differences += [
        ReplayDifference(table, rid, "<row>", "missing", "present")
        for rid in sorted(again.keys() - by_id.keys())
    ]
    for rid in sorted(by_id.keys() & again.keys()):
        for name, value in sorted(again[rid].items()):
            if name in skipped:
                continue
            if not _same(by_id[rid].get(name), value):
                differences.append(ReplayDifference(table, rid, name, by_id[rid].get(name), value))
    return differences


def replay_window(
    ledger: LedgerPort, market_data: MarketDataPort, settings: ResearchSettings, window: LaneWindow
) -> ReplayReport:
    """Recompute the window's research (or its skip) and compare every row the window's research chain
    wrote with the one recomputed now."""
    stored = stored_research_rows(ledger, window)
    if not stored["research_runs"]:
        raise UpstreamMissingError(f"nothing to replay: no research run for {window.label()}")
    run = stored["research_runs"][0]
    settings = lane_research_settings(settings, window.config)
    spec = lane_strategy(window.config)
    report_differences: list[ReplayDifference] = []
    if run["status"] == "skipped":
        replayed = _replay_skipped(ledger, window, spec, settings)
    else:
        replayed, report_differences = _replay_normal(market_data, window, spec, settings, run)
    own = window_output(stored)
    replayed = _as_stored_revision(replayed, own["research_promotions"])
    differences = [d for name in own for d in compare_rows(name, own[name], replayed[name])]
    differences += report_differences + _artifact_integrity(run)
    return ReplayReport(window.lane, window.start, run["run_id"], sum(map(len, own.values())), differences)


def window_output(stored: Tables) -> Tables:
    """What the window's research chain wrote, out of the rows stored under the window: the run, its
    candidates, folds and stress rows, and its own promotion request.

    The request is the scheduler's (`autonomous_scheduler`) row for the run's id. Requests are appended,
    never rewritten (the latest revision is the window's current request); the one compared is the first
    revision written for this run, which is what the run itself requested. Every other
    `research_promotions` row of the window (the promotion job's decisions and denials, the approvals it
    spent, rollback demotions, replay's own deny rows) was written by another job, later, and is not
    compared.
    """
    run_id = stored["research_runs"][0]["run_id"]
    requests = [
        p
        for p in stored["research_promotions"]
        if p["approver_role"] == SCHEDULER_ROLE and p["run_id"] == run_id
    ]
    first = sorted(requests, key=lambda p: (int(p.get("revision") or 1), p["created_at"], str(p["id"])))
    return {**stored, "research_promotions": first[:1]}


def _as_stored_revision(replayed: Tables, stored_requests: list[Row]) -> Tables:
    """The recomputed request with the stored request's id and revision number: those say where the
    request sits among the window's revisions (ledger bookkeeping), not what was requested."""
    if not stored_requests or not replayed["research_promotions"]:
        return replayed
    bookkeeping = {k: v for k, v in stored_requests[0].items() if k in _REQUEST_BOOKKEEPING}
    requests = [{**request, **bookkeeping} for request in replayed["research_promotions"]]
    return {**replayed, "research_promotions": requests}


def replay_in_scope(
    ledger: LedgerPort,
    market_data: MarketDataPort,
    settings: ResearchSettings,
    window: LaneWindow,
    timeout_seconds: float,
) -> ReplayReport:
    """`replay_window` with the window's strategy calls named and given `timeout_seconds` each; a strategy
    that fails raises `StrategyRunError` / `StrategyLoadError` to the caller."""
    with strategy_scope(window=window.label(), timeout_seconds=timeout_seconds):
        return replay_window(ledger, market_data, settings, window)


def _replay_skipped(
    ledger: LedgerPort, window: LaneWindow, spec: StrategySpec, settings: ResearchSettings
) -> Tables:
    """A skipped run is re-derived from the window's ingest verdict; no other research row may exist."""
    with ledger.engine.connect() as conn:
        verdict = replay_store.ingest_verdict(conn, window.lane, window.start)
    expected_run = research_records.skipped_run_row(
        window,
        spec,
        settings,
        reason=str(verdict["no_signal_reason"]),
        dataset_version=verdict["dataset_version"],
    )
    replayed: Tables = {t.name: [] for t in RESEARCH_TABLES}
    replayed["research_runs"] = [expected_run]
    return replayed


def _replay_normal(
    market_data: MarketDataPort,
    window: LaneWindow,
    spec: StrategySpec,
    settings: ResearchSettings,
    run: Row,
) -> tuple[Tables, list[ReplayDifference]]:
    """A normal run is recomputed from the lookback signals: its rows, and the evaluation report's hash
    compared with the stored one."""
    frame = lookback_signals(window, market_data, settings)
    expected_run = research_records.normal_run_row(
        window,
        spec,
        settings,
        dataset_version=dataset_version(frame),
        dataset_from=frame["event_ts"].min(),
        dataset_to=frame["event_ts"].max(),
        source_name=market_data.adapter().name,
    )
    replayed, report = _recompute_research(frame, market_data, window, settings, expected_run)
    return replayed, _report_difference(run, report)


def _recompute_research(
    frame: pd.DataFrame,
    market_data: MarketDataPort,
    window: LaneWindow,
    settings: ResearchSettings,
    expected_run: Row,
) -> tuple[Tables, dict[str, Any]]:
    """Candidates, folds, stress and the promotion request as the research chain would record them now,
    and the evaluation report."""
    run_id = expected_run["run_id"]
    results = evaluation.evaluate_candidates(
        frame,
        lane_candidates(window.config, settings),
        run_id=run_id,
        dataset_version=expected_run["dataset_version"],
        cost=settings.cost_model,
    )
    candidates = research_records.candidate_rows(
        window,
        run_id,
        results,
        symbols_covered=int(frame["symbol"].nunique()),
        universe=market_data.universe,
        cost=settings.cost_model,
    )
    folds_plan = evaluation.fold_plan(frame, settings)
    regimes = evaluation.fold_regimes(frame, folds_plan)
    folds: list[Row] = []
    stress: list[Row] = []
    fold_frame = evaluation.fold_frame(frame, folds_plan)
    for result in results:
        metrics = fold_frame.evaluate(result.spec, settings.cost_model)
        folds += research_records.fold_rows(
            window, result.candidate_id, folds_plan, metrics, regimes, settings.cost_model
        )
        stress += research_records.stress_rows(
            window, result.candidate_id, evaluation.evaluate_stress(frame, result.spec, settings.cost_model)
        )
    promotion, report = promotion_and_report(window, expected_run, candidates, folds, stress)
    replayed = {
        "research_runs": [expected_run],
        "research_candidates": candidates,
        "research_fold_metrics": folds,
        "research_stress_metrics": stress,
        "research_promotions": [promotion],
    }
    return replayed, report


def _report_difference(run: Row, report: dict[str, Any]) -> list[ReplayDifference]:
    stored_refs = [
        r
        for r in run.get("artifact_refs") or []
        if r.get("kind") == REPORT_KIND and r["path"].endswith(".json")
    ]
    replayed_hash = hashlib.sha256(canonical_json(report).encode("utf-8")).hexdigest()
    stored_hash = stored_refs[0]["sha256"] if stored_refs else None
    if stored_hash == replayed_hash:
        return []
    return [
        ReplayDifference(
            "research_runs", str(run["id"]), "evaluation_report_sha256", stored_hash, replayed_hash
        )
    ]


def _artifact_integrity(run: Row) -> list[ReplayDifference]:
    return [
        ReplayDifference(
            "research_runs", str(run["id"]), f"artifact:{ref['kind']}", ref["sha256"], "unreadable_or_altered"
        )
        for ref in run.get("artifact_refs") or []
        if not ArtifactStore.verify(ref)
    ]


def _deny_row(report: ReplayReport, artifact: dict[str, object], at: pd.Timestamp) -> Row:
    fields = report.fields
    return {
        "id": row_id("research_promotions", report.run_id, "replay", at.isoformat()),
        "lane": report.lane,
        "window_start": report.window_start,
        "run_id": report.run_id,
        "candidate_id": report.run_id,
        "requested_mode": None,
        "approved_mode": None,
        "approver": REPLAY_APPROVER,
        "approver_role": REPLAY_ROLE,
        "approve_reason": None,
        "deny_reason": canonical_json({"reason_codes": ["replay_mismatch"], "fields": fields}),
        "decision_action": "deny",
        "decision_rationale": "replay_mismatch:" + ",".join(fields)[:900],
        "evidence_bundle": {"replay_artifact": artifact, "difference_count": len(report.differences)},
        "created_at": at,
    }


def record_replay(ledger: LedgerPort, report: ReplayReport, at: pd.Timestamp) -> RecordedReplay:
    """Store the replay report as an artifact; a mismatch also becomes a `deny` promotion row."""
    payload = {
        "schema_version": "torghut.replay-verification.v1",
        "lane": report.lane,
        "window_start": report.window_start,
        "run_id": report.run_id,
        "matched": report.matched,
        "rows_compared": report.rows_compared,
        "differences": [d.as_dict() for d in report.differences],
        "replayed_at": at,
    }
    artifact = ledger.artifacts.write_json(VERIFICATION_KIND, payload).as_dict()
    if report.matched:
        return RecordedReplay(artifact=artifact, deny_row=None)
    deny = _deny_row(report, artifact, at)
    with ledger.engine.begin() as conn:
        replay_store.record_deny(conn, deny)
    return RecordedReplay(artifact=artifact, deny_row=str(deny["id"]))
