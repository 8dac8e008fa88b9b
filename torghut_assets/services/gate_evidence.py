"""Gather the evidence gates 0–7 judge a candidate on, and judge it: one use case for promotion and for
the live re-evaluation.

Why one: a champion must be re-judged live on exactly the figures that promoted it. The candidate's
stored research rows are the primary evidence; a replay only recomputes the per-bar PnL the ledger does
not keep (for the gate-7 conformal figures) and refuses a drifted dataset, so an evaluation is
reproducible from the ledger plus the signal source. A replay that cannot run yields missing figures
(gate 7 abstains) and says why: the evaluation fails closed rather than failing.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import pandas as pd
from sqlalchemy.engine import Connection

import torghut_assets
from torghut_assets.domain import gate_evidence as ge
from torghut_assets.domain.backtest import replay
from torghut_assets.domain.evidence import canonical_value, sha256_hex
from torghut_assets.domain.gate_findings import RouteParityFigures
from torghut_assets.domain.gates import GateEvidence, GatePolicy, GateReport, TargetMode, evaluate_gates
from torghut_assets.domain.lane_rollout import LaneRollout
from torghut_assets.domain.lanes import LaneWindow
from torghut_assets.domain.promotion_rules import SafetyState
from torghut_assets.domain.research import strategy_config_hash
from torghut_assets.domain.research_evaluation import (
    fold_plan,
    overfitting_by_candidate,
    spec_from_parameter_set,
)
from torghut_assets.domain.strategies import strategy_actions
from torghut_assets.domain.uncertainty import UncertaintyEvidence, conformal_fold_evidence
from torghut_assets.ledger import gate_inputs, queries, rehearsal_store, route_controls
from torghut_assets.ledger.continuity_store import load_state
from torghut_assets.ledger.llm_reviews import llm_error_budget_spent
from torghut_assets.ledger.records import LedgerIntegrityError
from torghut_assets.services.governance_config import Governance
from torghut_assets.services.ports import LedgerPort, MarketDataPort, ResearchSettingsPort
from torghut_assets.services.research_inputs import UpstreamMissingError, research_dataset

LLM_BUDGET_LOOKBACK = dt.timedelta(hours=24)
# What a replay of the candidate's dataset can raise; each leaves gate 7's figures missing.
REPLAY_ERRORS = (LedgerIntegrityError, UpstreamMissingError, ValueError, OSError)

Row = dict[str, Any]


class UnknownCandidateError(LookupError):
    """No research candidate with that id is in the ledger."""


@dataclass(frozen=True)
class CandidateContext:
    candidate: Row
    run: Row
    window: LaneWindow
    run_candidates: list[Row]
    run_folds: list[Row]
    stress: list[Row]

    @property
    def candidate_id(self) -> str:
        return str(self.candidate["candidate_id"])

    def folds_of(self, candidate_id: str) -> list[Row]:
        return sorted(
            (f for f in self.run_folds if f["candidate_id"] == candidate_id),
            key=lambda f: int(f["fold_order"]),
        )


@dataclass(frozen=True)
class ReplaySources:
    """Where a replay of a candidate's research dataset reads from (Dagster resources satisfy each)."""

    ledger: LedgerPort
    market_data: MarketDataPort
    research_settings: ResearchSettingsPort


@dataclass(frozen=True)
class GatheredEvidence:
    evidence: GateEvidence
    profitability: dict[str, Any]
    uncertainty: UncertaintyEvidence
    provenance: dict[str, Any]
    route_parity: RouteParityFigures | None = None  # the report gate 3 read, for explaining a failure


@dataclass(frozen=True)
class CandidateJudgement:
    """A gate report and everything it rests on; `replay_error` says why gate 7's figures are missing."""

    report: GateReport
    gathered: GatheredEvidence
    replay_error: str | None
    policy: GatePolicy  # the policy the report was judged under

    def report_json(self, now: dt.datetime, identity: Mapping[str, Any]) -> dict[str, Any]:
        """The full gate report stored with the evaluation (and as its artifact), `identity` naming who
        was judged for what."""
        return {
            **self.report.as_dict(),
            "evaluated_at": now,
            "code_version": torghut_assets.__version__,
            **identity,
            "metrics": canonical_value(evidence_dict(self.gathered.evidence)),
            "uncertainty": self.gathered.uncertainty.as_dict(),
            "uncertainty_replay_error": self.replay_error,
            "promotion_evidence": self.gathered.profitability,
            "provenance": self.gathered.provenance,
        }


def evidence_dict(evidence: GateEvidence) -> dict[str, Any]:
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(evidence).items()}


def load_candidate(conn: Connection, candidate_id: str) -> CandidateContext:
    """The candidate, its run and its window's research rows; UnknownCandidateError when any is missing."""
    row = gate_inputs.candidate_row(conn, candidate_id)
    if row is None:
        raise UnknownCandidateError(f"no research candidate {candidate_id!r} in the ledger")
    start = queries.as_utc(row["window_start"])
    if start is None:
        raise UnknownCandidateError(f"candidate {candidate_id!r} has no lane window")
    window = LaneWindow(str(row["lane"]), start)
    window_start = window.start.to_pydatetime()
    runs = gate_inputs.window_runs(conn, window.lane, window_start)
    run = next((r for r in runs if r["run_id"] == row["run_id"]), None)
    if run is None:
        raise UnknownCandidateError(f"candidate {candidate_id!r}: its run {row['run_id']} is missing")
    stress = [
        r
        for r in gate_inputs.window_stress(conn, window.lane, window_start)
        if r["candidate_id"] == candidate_id
    ]
    return CandidateContext(
        candidate=row,
        run=run,
        window=window,
        run_candidates=gate_inputs.window_candidates(conn, window.lane, window_start),
        run_folds=gate_inputs.window_folds(conn, window.lane, window_start),
        stress=stress,
    )


def safety_state(
    conn: Connection,
    lane: str,
    now: dt.datetime | None = None,
    evidence_span: tuple[dt.datetime, dt.datetime] | None = None,
) -> SafetyState:
    """Blocks read fresh; the LLM budget counts over the last 24 h and over the candidate's evidence span."""
    state = load_state(conn, lane)
    until = now or dt.datetime.now(dt.UTC)
    spans = [(until - LLM_BUDGET_LOOKBACK, until), *([evidence_span] if evidence_span else [])]
    return SafetyState(
        kill_switch_active=route_controls.enabled_since(conn, route_controls.TRADING_KILL_SWITCH) is not None,
        emergency_stop_active=bool(state and state.emergency_stop_active),
        continuity_alert_active=bool(state and state.alert_active),
        llm_error_budget_spent=any(llm_error_budget_spent(conn, lane, *span) for span in spans),
    )


def candidate_uncertainty(
    ctx: CandidateContext, sources: ReplaySources, target_coverage: float
) -> UncertaintyEvidence:
    """Replay the candidate over its recorded dataset and score its fold-by-fold calibration."""
    settings = sources.research_settings.settings()
    _, frame = research_dataset(sources.ledger, sources.market_data, ctx.window, settings)
    if frame is None:
        return UncertaintyEvidence(target_coverage, None, None, None, 0, 0)
    spec = spec_from_parameter_set(ctx.candidate["parameter_set"])
    replayed = replay(frame, strategy_actions(frame, spec), spec, settings.cost_model)
    ts_ns = pd.DatetimeIndex(replayed["event_ts"]).tz_convert("UTC").as_unit("ns").asi8
    exposed = (replayed["exposure_notional"].to_numpy() != 0) | (replayed["traded_qty"].to_numpy() != 0)
    return conformal_fold_evidence(
        replayed["net_pnl"].to_numpy(dtype="float64"),
        ts_ns,
        exposed,
        fold_plan(frame, settings),
        target_coverage=target_coverage,
    )


def uncertainty_or_missing(
    ctx: CandidateContext, sources: ReplaySources, policy: GatePolicy
) -> tuple[UncertaintyEvidence, str | None]:
    """Fail closed: a replay that cannot run yields missing figures (gate 7 abstains) and says why."""
    coverage = policy.uncertainty_target_coverage
    try:
        return candidate_uncertainty(ctx, sources, coverage), None
    except REPLAY_ERRORS as exc:
        return UncertaintyEvidence(coverage, None, None, None, 0, 0), f"{type(exc).__name__}: {exc}"


def baseline_for(ctx: CandidateContext, lane: LaneRollout) -> tuple[str | None, list[Row] | None]:
    """The incumbent champion's configuration as evaluated in this run, or (None, None) for a flat book."""
    active = lane.active
    if active is None or active.candidate_id == ctx.candidate_id:
        return None, None
    incumbent = next((c for c in ctx.run_candidates if c["candidate_id"] == active.candidate_id), None)
    wanted = None if incumbent is None else strategy_config_hash(incumbent["parameter_set"])
    for cand in ctx.run_candidates:
        same = cand["candidate_id"] == active.candidate_id
        if same or (wanted is not None and strategy_config_hash(cand["parameter_set"]) == wanted):
            return str(cand["candidate_id"]), ctx.folds_of(str(cand["candidate_id"]))
    return None, None


def evaluation_report_hash(run: Row) -> str | None:
    for ref in run.get("artifact_refs") or []:
        if ref.get("kind") == "backtest/evaluation-report" and str(ref.get("path", "")).endswith(".json"):
            return str(ref.get("sha256"))
    return None


def _dsr(ctx: CandidateContext) -> float | None:
    nets: dict[str, list[float]] = {}
    for fold in sorted(ctx.run_folds, key=lambda f: (f["candidate_id"], int(f["fold_order"]))):
        nets.setdefault(str(fold["candidate_id"]), []).append(float(fold["net_pnl"]))
    value = overfitting_by_candidate(nets).get(ctx.candidate_id, {}).get("dsr")
    return float(value) if isinstance(value, int | float) and math.isfinite(value) else None


def evidence_span(ctx: CandidateContext) -> tuple[dt.datetime, dt.datetime]:
    """The lane windows the candidate's research covered: dataset start (to the hour) to window end."""
    start = queries.as_utc(ctx.run["dataset_from"]) or ctx.window.start
    return start.floor("h").to_pydatetime(), ctx.window.end.to_pydatetime()


def _input_hashes(ctx: CandidateContext, policy: GatePolicy, baseline_report: str) -> dict[str, str]:
    return {
        name: value
        for name, value in {
            "signals": ctx.run.get("dataset_version"),
            "strategy_config": strategy_config_hash(ctx.candidate["parameter_set"]),
            "gate_policy": policy.checksum(),
            "candidate_report": evaluation_report_hash(ctx.run),
            "baseline_report": baseline_report,
        }.items()
        if value
    }


def gather_evidence(
    conn: Connection,
    ctx: CandidateContext,
    *,
    policy: GatePolicy,
    lane: LaneRollout,
    uncertainty: UncertaintyEvidence,
    approval_token_valid: bool | None,
    llm_enabled: bool,
    now: dt.datetime,
) -> GatheredEvidence:
    """The candidate's evidence against the lane's incumbent (a flat book when it is the incumbent)."""
    window = ctx.window
    span = evidence_span(ctx)
    baseline_id, baseline_folds, baseline_report = _baseline(ctx, lane)
    folds = ctx.folds_of(ctx.candidate_id)
    hashes = _input_hashes(ctx, policy, baseline_report)
    profitability = ge.profitability_evidence(
        candidate_id=ctx.candidate_id,
        run_id=str(ctx.run["run_id"]),
        folds=folds,
        baseline_candidate_id=baseline_id,
        baseline_folds=baseline_folds,
        hashes=hashes,
        uncertainty=uncertainty,
    )
    parity = gate_inputs.latest_route_parity(conn, now)
    safety = safety_state(conn, window.lane)
    evidence = ge.assemble_gate_evidence(
        run=ctx.run,
        candidate=ctx.candidate,
        folds=folds,
        stress_cases=[str(s["stress_case"]) for s in ctx.stress],
        dsr=_dsr(ctx),
        signal_quality=ge.signal_quality_of(
            queries.window_signals(conn, window.lane, window.start.to_pydatetime())
        ),
        tca=gate_inputs.tca_summary(conn, window.lane, *span),
        llm=gate_inputs.llm_summary(conn, window.lane, *span, enabled=llm_enabled),
        route_parity_passed=None if parity is None else bool(parity["passed"]),
        readiness=rehearsal_store.readiness(
            conn, now=now, max_age=dt.timedelta(hours=policy.max_rehearsal_age_hours)
        ),
        continuity_alert_active=safety.continuity_alert_active,
        kill_switch_active=safety.kill_switch_active,
        approval_token_valid=approval_token_valid,
        profitability=profitability,
        uncertainty=uncertainty,
    )
    provenance = {
        "run_id": ctx.run["run_id"],
        "lane": window.lane,
        "window_start": window.start,
        "evidence_span": list(span),
        "route_parity_report_id": None if parity is None else parity["report_id"],
        "baseline_candidate_id": baseline_id,
        "hashes": hashes,
    }
    return GatheredEvidence(evidence, profitability, uncertainty, provenance, parity_figures(parity))


def parity_figures(row: Mapping[str, Any] | None) -> RouteParityFigures | None:
    """What a stored route-parity report says about itself: its pairs, the floor it applied, its reasons."""
    if row is None:
        return None
    thresholds = (row.get("metrics") or {}).get("thresholds") or {}
    floor = thresholds.get("min_pairs")
    return RouteParityFigures(
        report_id=str(row["report_id"]),
        pair_count=int(row["pair_count"]),
        min_pairs=floor if isinstance(floor, int) and not isinstance(floor, bool) else None,
        reasons=tuple(str(r) for r in row.get("reasons") or ()),
    )


def _baseline(ctx: CandidateContext, lane: LaneRollout) -> tuple[str | None, list[Row] | None, str]:
    """The baseline's candidate id and folds (None for a flat book), and the hash of that baseline."""
    baseline_id, baseline_folds = baseline_for(ctx, lane)
    kind = "flat" if baseline_id is None else "incumbent"
    digest = sha256_hex({"baseline_candidate_id": baseline_id, "folds": baseline_folds or [], "kind": kind})
    return baseline_id, baseline_folds, digest


def judge_candidate(
    ctx: CandidateContext,
    lane: LaneRollout,
    *,
    sources: ReplaySources,
    governance: Governance,
    target: TargetMode,
    approval_token_valid: bool | None,
    now: dt.datetime,
) -> CandidateJudgement:
    """Replay for the uncertainty figures, gather the evidence in one read, and run gates 0–7 for `target`."""
    policy = governance.policy()
    uncertainty, replay_error = uncertainty_or_missing(ctx, sources, policy)
    with sources.ledger.engine.connect() as conn:
        gathered = gather_evidence(
            conn,
            ctx,
            policy=policy,
            lane=lane,
            uncertainty=uncertainty,
            approval_token_valid=approval_token_valid,
            llm_enabled=governance.llm_enabled,
            now=now,
        )
    return CandidateJudgement(
        evaluate_gates(gathered.evidence, policy, target), gathered, replay_error, policy
    )
