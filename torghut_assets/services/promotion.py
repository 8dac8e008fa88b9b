"""Promote one research candidate at most one stage: judge it on gates 0–7, decide, record, chain evidence.

Whatever the outcome, one transaction writes the gate evaluation, the `research_promotions` row and
their evidence-chain entries, and spends a presented approval that verified (plus, when allowed, the
rollout transition and the lifecycle changes): `services/promotion_recording.py`. The decision is taken
again inside that transaction against the lane as it is then, so two concurrent promotions cannot both
advance a lane from the same stale read; one that loses the race at the database is refused and
recorded, and nothing of it is written.

An approval token (`tav2.…`, signed by an approver's own Ed25519 key; or, in `dev` only, an HMAC
`wpat-…` token) is verified against the approvers file (docs/approvals.md). What is recorded is the
approval id, approver, role, source, signing key id and approvers-file checksum — never the token.

Single use means single presentation: an approval that verifies is spent by the promotion decision it
accompanies whether that promotion is allowed or denied (an appended `approval_uses` row:
`used_by_promotion_id`, `used_outcome`); presented again, it is refused `approval_replayed`, naming that
promotion and its outcome. A denied promotion needs a fresh approval. A token that fails verification is
not spent.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa

from torghut_assets.domain.alerts import Alert, promotion_denied_alert
from torghut_assets.domain.gates import TargetMode
from torghut_assets.domain.lane_rollout import LaneRollout, next_stage, stage_mode
from torghut_assets.domain.stages import Stage
from torghut_assets.ledger import promotion_records, rollout_store
from torghut_assets.ledger.artifacts import ArtifactStore
from torghut_assets.ledger.evidence_log import append_entry
from torghut_assets.services import approvals as approval_service
from torghut_assets.services.gate_evidence import (
    CandidateContext,
    ReplaySources,
    UnknownCandidateError,
    judge_candidate,
    load_candidate,
)
from torghut_assets.services.governance_config import Governance
from torghut_assets.services.ports import LedgerPort, MarketDataPort, ResearchSettingsPort
from torghut_assets.services.promotion_recording import (
    JudgedPromotion,
    PromotionRequest,
    PromotionResult,
    record_decision,
)

__all__ = [
    "PromotionRefusedError",
    "PromotionRequest",
    "PromotionResult",
    "denial_alerts",
    "record_refusal",
    "resolve_stage",
    "run_promotion",
]

Row = dict[str, Any]


class PromotionRefusedError(ValueError):
    """The request cannot even be evaluated (unknown candidate, bad stage); recorded in the evidence log."""


def resolve_stage(requested: str, current: Stage) -> Stage:
    if requested != "live":
        return Stage(requested)
    following = next_stage(current)
    if following is None or stage_mode(following) != TargetMode.LIVE:
        raise PromotionRefusedError(f"'live' from {current.value}: the next stage is not a live stage")
    return following


def record_refusal(
    ledger: LedgerPort, *, candidate_id: str, message: str, requester: str, at: dt.datetime
) -> None:
    with ledger.engine.begin() as conn:
        append_entry(
            conn,
            entry_kind="promotion_refused",
            subject=candidate_id[:128] or "unknown",
            content={"candidate_id": candidate_id, "error": message, "requester": requester, "at": at},
            recorded_at=at,
        )


def run_promotion(
    request: PromotionRequest,
    *,
    ledger: LedgerPort,
    market_data: MarketDataPort,
    research_settings: ResearchSettingsPort,
    governance: Governance,
    now: dt.datetime,
    run_id: str = "",
) -> PromotionResult:
    """Judge, decide and record; raises PromotionRefusedError (recorded) when the request cannot be
    evaluated or the lane changed under it."""
    governance.policy()  # an unusable policy fails the run before anything is read or recorded
    ctx, lane, stage = _load(request, ledger, now)
    judged = _judge(
        request,
        ctx,
        lane,
        stage,
        ReplaySources(ledger, market_data, research_settings),
        governance,
        now,
        run_id,
    )
    with ledger.engine.connect() as conn:
        outcome = judged.decide(conn, lane, None if judged.presented is None else judged.presented.verdict)
    full_report = judged.judgement.report_json(
        now, {"run_id": ctx.run["run_id"], "candidate_id": ctx.candidate_id, "requested_stage": stage.value}
    )
    judged.artifacts.update(
        _write_reports(ledger.artifacts, full_report, judged.judgement.gathered.profitability)
    )
    try:
        with ledger.engine.begin() as conn:
            return record_decision(conn, judged, outcome, full_report, ledger.artifacts)
    except sa.exc.IntegrityError as exc:
        # Another promotion moved this lane (or consumed this approval) between our read and our write.
        message = f"lane {ctx.window.lane} changed concurrently; nothing was written, re-run the promotion"
        record_refusal(
            ledger, candidate_id=ctx.candidate_id, message=message, requester=request.requester, at=now
        )
        raise PromotionRefusedError(message) from exc


def _load(
    request: PromotionRequest, ledger: LedgerPort, now: dt.datetime
) -> tuple[CandidateContext, LaneRollout, Stage]:
    try:
        with ledger.engine.connect() as conn:
            ctx = load_candidate(conn, request.candidate_id)
            lane, _ = rollout_store.load_lane(conn, ctx.window.lane)
        return ctx, lane, resolve_stage(request.target_stage, lane.stage_of(ctx.candidate_id))
    except (UnknownCandidateError, PromotionRefusedError) as exc:
        record_refusal(
            ledger, candidate_id=request.candidate_id, message=str(exc), requester=request.requester, at=now
        )
        raise PromotionRefusedError(str(exc)) from exc


def _judge(
    request: PromotionRequest,
    ctx: CandidateContext,
    lane: LaneRollout,
    stage: Stage,
    sources: ReplaySources,
    governance: Governance,
    now: dt.datetime,
    run_id: str,
) -> JudgedPromotion:
    """Verify the presented approval, then judge the candidate for the stage's mode."""
    with sources.ledger.engine.connect() as conn:
        presented = approval_service.check_approval(
            conn,
            request.approval_token,
            governance=governance,
            candidate_id=ctx.candidate_id,
            stage=stage,
            policy=governance.policy(),
            now=now,
        )
        deny_streak = promotion_records.consecutive_denies(
            conn, ctx.candidate.get("candidate_hash"), ctx.candidate_id
        )
    judgement = judge_candidate(
        ctx,
        lane,
        sources=sources,
        governance=governance,
        target=stage_mode(stage),
        approval_token_valid=None if presented is None else presented.verdict.valid,
        now=now,
    )
    return JudgedPromotion(request, ctx, stage, judgement, presented, deny_streak, now, run_id)


def _write_reports(store: ArtifactStore, full_report: Row, profitability: Row) -> dict[str, str]:
    return {
        "gate_evaluation": store.write_json("gates/gate-evaluation", full_report).path,
        "profitability_evidence": store.write_json("gates/profitability-evidence-v4", profitability).path,
    }


def denial_alerts(result: PromotionResult, requester: str) -> list[Alert]:
    """A page for a denied live promotion; paper denials are routine and stay in the run."""
    outcome = result.outcome
    if outcome.allowed or stage_mode(outcome.requested_stage) != TargetMode.LIVE:
        return []
    return [
        promotion_denied_alert(
            candidate_id=outcome.candidate_id,
            lane=str(result.promotion["lane"]),
            from_stage=outcome.from_stage.value,
            requested_stage=outcome.requested_stage.value,
            reason_codes=outcome.reason_codes,
            blocking_gates=outcome.blocking_gates,
            requester=requester,
            promotion_id=str(result.promotion["id"]),
        )
    ]
