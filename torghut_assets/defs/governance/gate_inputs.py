"""Everything a gate evaluation reads, gathered from the ledger (and one replay of the candidate).

The candidate's stored research rows are the primary evidence; the replay only recomputes the per-bar
PnL the ledger does not keep (for the gate-7 conformal figures) and refuses a drifted dataset, so the
evaluation is reproducible from the ledger plus the signal source.
"""

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from torghut_assets.defs.lane_window.research_inputs import ResearchResource, research_dataset
from torghut_assets.defs.resources import LedgerResource, MarketDataResource
from torghut_assets.domain import gate_evidence as ge
from torghut_assets.domain.backtest import replay
from torghut_assets.domain.evidence import sha256_hex
from torghut_assets.domain.gates import GateEvidence, GatePolicy
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
from torghut_assets.ledger import queries, rehearsal_store, route_controls, schema
from torghut_assets.ledger.continuity_store import load_state
from torghut_assets.ledger.llm_reviews import llm_error_budget_spent

LLM_ERROR_KINDS = ("parse", "validation", "transport")  # skipped/blocked calls are not answers


LLM_BUDGET_LOOKBACK = dt.timedelta(hours=24)


class UnknownCandidateError(LookupError):
    """No research candidate with that id is in the ledger."""


@dataclass(frozen=True)
class CandidateContext:
    candidate: dict[str, Any]
    run: dict[str, Any]
    window: LaneWindow
    run_candidates: list[dict[str, Any]]
    run_folds: list[dict[str, Any]]
    stress: list[dict[str, Any]]

    @property
    def candidate_id(self) -> str:
        return str(self.candidate["candidate_id"])

    def folds_of(self, candidate_id: str) -> list[dict[str, Any]]:
        return sorted(
            (f for f in self.run_folds if f["candidate_id"] == candidate_id),
            key=lambda f: int(f["fold_order"]),
        )


def load_candidate(conn: Connection, candidate_id: str) -> CandidateContext:
    cand_table = schema.research_candidates
    row = (
        conn.execute(sa.select(cand_table).where(cand_table.c.candidate_id == candidate_id))
        .mappings()
        .first()
    )
    if row is None:
        raise UnknownCandidateError(f"no research candidate {candidate_id!r} in the ledger")
    candidate = dict(row)
    start = queries.as_utc(candidate["window_start"])
    if start is None:
        raise UnknownCandidateError(f"candidate {candidate_id!r} has no lane window")
    window = LaneWindow(str(candidate["lane"]), start)
    window_start = window.start.to_pydatetime()
    runs = queries.window_rows(conn, schema.research_runs, window.lane, window_start)
    run = next((r for r in runs if r["run_id"] == candidate["run_id"]), None)
    if run is None:
        raise UnknownCandidateError(f"candidate {candidate_id!r}: its run {candidate['run_id']} is missing")
    stress = [
        r
        for r in queries.window_rows(conn, schema.research_stress_metrics, window.lane, window_start)
        if r["candidate_id"] == candidate_id
    ]
    return CandidateContext(
        candidate=candidate,
        run=run,
        window=window,
        run_candidates=queries.window_rows(conn, schema.research_candidates, window.lane, window_start),
        run_folds=queries.window_rows(conn, schema.research_fold_metrics, window.lane, window_start),
        stress=stress,
    )


def signal_quality(conn: Connection, window: LaneWindow) -> ge.SignalQuality:
    """Gate-0 figures of the window's stored signals (pooled required-feature null rate, staleness)."""
    return ge.signal_quality_of(queries.window_signals(conn, window.lane, window.start.to_pydatetime()))


def tca_summary(conn: Connection, lane: str, start: dt.datetime, end: dt.datetime) -> ge.TcaSummary:
    t = schema.execution_tca_metrics
    row = conn.execute(
        sa.select(
            sa.func.count(),
            sa.func.avg(t.c.slippage_bps),
            sa.func.avg(t.c.shortfall_notional),
            sa.func.avg(t.c.churn_ratio),
        ).where(t.c.lane == lane, t.c.window_start >= start, t.c.window_start < end)
    ).one()
    return ge.TcaSummary(
        int(row[0]),
        *(None if v is None else float(v) for v in row[1:]),  # type: ignore[arg-type]
    )


def llm_summary(
    conn: Connection, lane: str, start: dt.datetime, end: dt.datetime, enabled: bool
) -> ge.LlmSummary:
    reviews, decisions = schema.llm_decision_reviews, schema.trade_decisions
    row = conn.execute(
        sa.select(
            sa.func.count(),
            sa.func.coalesce(
                sa.func.sum(sa.case((reviews.c.error_kind.in_(LLM_ERROR_KINDS), 1), else_=0)), 0
            ),
        )
        .select_from(reviews.join(decisions, reviews.c.trade_decision_id == decisions.c.id))
        .where(decisions.c.lane == lane, decisions.c.window_start >= start, decisions.c.window_start < end)
    ).one()
    return ge.LlmSummary(enabled=enabled, reviews=int(row[0]), errors=int(row[1]))


def latest_route_parity(conn: Connection, now: dt.datetime) -> dict[str, Any] | None:
    t = schema.route_parity_reports
    row = (
        conn.execute(sa.select(t).where(t.c.evaluated_at <= now).order_by(t.c.evaluated_at.desc()).limit(1))
        .mappings()
        .first()
    )
    return None if row is None else dict(row)


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
    ctx: CandidateContext,
    ledger: LedgerResource,
    market_data: MarketDataResource,
    research_settings: ResearchResource,
    target_coverage: float,
) -> UncertaintyEvidence:
    """Replay the candidate over its recorded dataset and score its fold-by-fold calibration."""
    settings = research_settings.settings()
    _, frame = research_dataset(ledger, market_data, ctx.window, settings)
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


def baseline_for(ctx: CandidateContext, lane: LaneRollout) -> tuple[str | None, list[dict[str, Any]] | None]:
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


def evaluation_report_hash(run: dict[str, Any]) -> str | None:
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


@dataclass(frozen=True)
class GatheredEvidence:
    evidence: GateEvidence
    profitability: dict[str, Any]
    uncertainty: UncertaintyEvidence
    provenance: dict[str, Any]


def evidence_span(ctx: CandidateContext) -> tuple[dt.datetime, dt.datetime]:
    """The lane windows the candidate's research covered: dataset start (to the hour) to window end."""
    start = queries.as_utc(ctx.run["dataset_from"]) or ctx.window.start
    return start.floor("h").to_pydatetime(), ctx.window.end.to_pydatetime()


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
    window = ctx.window
    span = evidence_span(ctx)
    baseline_id, baseline_folds = baseline_for(ctx, lane)
    folds = ctx.folds_of(ctx.candidate_id)
    baseline_report = sha256_hex(
        {
            "baseline_candidate_id": baseline_id,
            "folds": baseline_folds or [],
            "kind": "flat" if baseline_id is None else "incumbent",
        }
    )
    hashes = {
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
    profitability = ge.profitability_evidence(
        candidate_id=ctx.candidate_id,
        run_id=str(ctx.run["run_id"]),
        folds=folds,
        baseline_candidate_id=baseline_id,
        baseline_folds=baseline_folds,
        hashes=hashes,
        uncertainty=uncertainty,
    )
    parity = latest_route_parity(conn, now)
    safety = safety_state(conn, window.lane)
    readiness = rehearsal_store.readiness(
        conn, now=now, max_age=dt.timedelta(hours=policy.max_rehearsal_age_hours)
    )
    evidence = ge.assemble_gate_evidence(
        run=ctx.run,
        candidate=ctx.candidate,
        folds=folds,
        stress_cases=[str(s["stress_case"]) for s in ctx.stress],
        dsr=_dsr(ctx),
        signal_quality=signal_quality(conn, window),
        tca=tca_summary(conn, window.lane, *span),
        llm=llm_summary(conn, window.lane, *span, enabled=llm_enabled),
        route_parity_passed=None if parity is None else bool(parity["passed"]),
        readiness=readiness,
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
    return GatheredEvidence(evidence, profitability, uncertainty, provenance)
