"""Record a judged promotion decision: one transaction, everything or nothing.

The decision is taken again inside the transaction against the lane as it is then (a concurrent
promotion may have moved it). Then, in order: the gate evaluation; the presented approval, spent by this
decision whether allowed or denied (single use means single presentation; one a concurrent decision
spent first turns into a replay and the decision is taken again); the `research_promotions` row with its
evidence bundle; when allowed, the rollout transition, the new champion's lifecycle and the demotion of
the one it replaces; the auto-freeze of a candidate denied too often; and last the evidence-chain
entries (the chain lock is held until commit). `services/promotion.py` judges; this module writes.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from sqlalchemy.engine import Connection

import torghut_assets
from torghut_assets.domain import approvals
from torghut_assets.domain.gate_findings import GateFinding, decision_findings, gate_findings
from torghut_assets.domain.gates import GateReport
from torghut_assets.domain.lane_rollout import LaneRollout
from torghut_assets.domain.promotion_rules import PromotionOutcome, decide_promotion
from torghut_assets.domain.stages import Stage, auto_freeze, caps_for
from torghut_assets.ledger import approval_store, promotion_records, rollout_store
from torghut_assets.ledger.artifacts import ArtifactStore
from torghut_assets.ledger.evidence_log import append_entry
from torghut_assets.services import approvals as approval_service
from torghut_assets.services.approvals import PresentedApproval, Spend
from torghut_assets.services.gate_evidence import (
    CandidateContext,
    CandidateJudgement,
    evidence_span,
    safety_state,
)

Row = dict[str, Any]


class PromotionRequest(Protocol):
    """Who asks to move which candidate to which stage, with which approval (the Launchpad's
    `PromotionConfig` is one)."""

    @property
    def candidate_id(self) -> str: ...

    @property
    def target_stage(self) -> str: ...  # a stage, or "live" for the next live stage

    @property
    def requester(self) -> str: ...

    @property
    def approval_token(self) -> str | None: ...

    @property
    def reason(self) -> str: ...


@dataclass(frozen=True)
class PromotionResult:
    outcome: PromotionOutcome
    report: GateReport
    gate_evaluation: Row
    promotion: Row
    transition: Row | None
    frozen: bool
    approval_reason: str | None
    artifacts: dict[str, str]
    # The approval this decision spent (its first presentation, whatever the outcome), and, for a
    # replay, what spent it earlier.
    approval_spent: str | None = None
    approval_spent_by: approvals.ApprovalUse | None = None
    # Each gate's figure against its limit, with cause and fix (derived for display, never stored).
    findings: tuple[GateFinding, ...] = ()


@dataclass
class JudgedPromotion:
    """The candidate as judged before the write transaction: who, for which stage, on which report."""

    request: PromotionRequest
    ctx: CandidateContext
    stage: Stage
    judgement: CandidateJudgement
    presented: PresentedApproval | None
    deny_streak: list[dt.datetime]
    now: dt.datetime
    run_id: str
    artifacts: dict[str, str] = field(default_factory=dict)

    @property
    def report(self) -> GateReport:
        return self.judgement.report

    @property
    def frozen(self) -> bool:
        return auto_freeze(self.deny_streak, self.now)

    def decide(
        self, conn: Connection, lane: LaneRollout, approval: approvals.ApprovalVerdict | None
    ) -> PromotionOutcome:
        return decide_promotion(
            candidate_id=self.ctx.candidate_id,
            requested_stage=self.stage,
            lane=lane,
            report=self.report,
            safety=safety_state(conn, self.ctx.window.lane, self.now, evidence_span(self.ctx)),
            approval=approval,
            frozen=self.frozen,
        )


def record_decision(
    conn: Connection,
    judged: JudgedPromotion,
    outcome: PromotionOutcome,
    full_report: Row,
    store: ArtifactStore,
) -> PromotionResult:
    """Inside the write transaction: decide again on the lane as it is now, then write everything."""
    ctx, now = judged.ctx, judged.now
    lane_now, seq = rollout_store.load_lane(conn, ctx.window.lane)
    verdict = None if judged.presented is None else judged.presented.verdict
    if outcome.allowed:  # a concurrent promotion may have moved the lane since the first decision
        outcome = judged.decide(conn, lane_now, verdict)
    gate_row = promotion_records.gate_evaluation_row(
        run_id=str(ctx.run["run_id"]),
        candidate_id=ctx.candidate_id,
        window=ctx.window,
        report=judged.report,
        full_report=full_report,
        evaluated_at=now,
        code_version=torghut_assets.__version__,
    )
    promotion_records.insert_gate_evaluation(conn, gate_row)
    # Single use means single presentation: spent by this decision, allowed or denied.
    spend = approval_service.spend(
        conn,
        judged.presented,
        judged.request.approval_token,
        allowed=outcome.allowed,
        gate_evaluation_id=str(gate_row["id"]),
        policy_checksum=judged.report.policy_checksum,
        now=now,
    )
    if spend.lost_race:  # a concurrent promotion presented it first
        outcome = judged.decide(conn, lane_now, spend.verdict)
    if outcome.allowed and judged.stage == Stage.PAPER:
        patch = store.write_text(
            "paper-candidate/strategy-configmap-patch", _configmap_patch(ctx), suffix=".yaml"
        )
        judged.artifacts["paper_candidate_patch"] = patch.path
    promotion = _promotion_row(judged, outcome, gate_row, spend, lane_now)
    promotion_records.insert_promotion(conn, promotion)
    transition_row, demotion = (
        _advance(conn, judged, outcome, promotion, lane_now, seq) if outcome.allowed else (None, None)
    )
    newly_frozen = _freeze_or_thaw(conn, judged, outcome)
    _chain(
        conn,
        ctx,
        gate_row,
        promotion,
        transition_row,
        newly_frozen,
        now,
        demotion=demotion,
        approval_use=_approval_use(judged, outcome, spend, promotion),
    )
    return PromotionResult(
        outcome=outcome,
        report=judged.report,
        gate_evaluation=gate_row,
        promotion=promotion,
        transition=transition_row,
        frozen=judged.frozen or newly_frozen,
        approval_reason=None if spend.verdict is None else spend.verdict.reason,
        artifacts=judged.artifacts,
        approval_spent=spend.spent,
        approval_spent_by=None if spend.verdict is None else spend.verdict.spent_by,
        findings=_findings(judged, outcome),
    )


def _findings(judged: JudgedPromotion, outcome: PromotionOutcome) -> tuple[GateFinding, ...]:
    gathered = judged.judgement.gathered
    return gate_findings(
        judged.report, gathered.evidence, judged.judgement.policy, route_parity=gathered.route_parity
    ) + decision_findings(outcome.reason_codes, judged.report)


def _promotion_row(
    judged: JudgedPromotion, outcome: PromotionOutcome, gate_row: Row, spend: Spend, lane_now: LaneRollout
) -> Row:
    ctx, request, verdict = judged.ctx, judged.request, spend.verdict
    used_approval = outcome.allowed and verdict is not None and verdict.valid
    provenance = None if verdict is None else verdict.provenance
    approver = provenance if used_approval else None
    previous = lane_now.active
    row = promotion_records.promotion_row(
        outcome=outcome,
        window=ctx.window,
        run_id=str(ctx.run["run_id"]),
        gate_evaluation=gate_row,
        requester=request.requester,
        approver=approver.approver if approver else None,
        approver_role=approver.approver_role if approver else None,
        override_id=verdict.override_id if verdict is not None else None,
        evidence_bundle=_evidence_bundle(judged, outcome, spend),
        decided_at=judged.now,
        patch_ref=judged.artifacts.get("paper_candidate_patch"),
        rollback_candidate_id=previous.candidate_id
        if previous and previous.candidate_id != ctx.candidate_id
        else None,
    )
    if spend.promotion_id is not None:  # the approval's use names this promotion
        row["id"] = spend.promotion_id
    return row


def _evidence_bundle(judged: JudgedPromotion, outcome: PromotionOutcome, spend: Spend) -> Row:
    ctx, request, verdict = judged.ctx, judged.request, spend.verdict
    provenance = None if verdict is None else verdict.provenance
    presented = judged.presented
    return {
        "fold_metrics_count": len(ctx.folds_of(ctx.candidate_id)),
        "stress_metrics_count": len(ctx.stress),
        "rationale_present": True,
        "evidence_complete": not any(r.endswith(("_missing", "_invalid")) for r in judged.report.reasons),
        "reasons": list(outcome.reason_codes),
        "approval_verdict": None if verdict is None else verdict.reason,
        # single use: whether this decision spent the approval, or what spent it earlier
        "approval_spent": spend.spent is not None,
        "approval_spent_by": None
        if verdict is None or verdict.spent_by is None
        else verdict.spent_by.as_dict(),
        # who signed, how, where it was minted, and the approvers file that judged it; set only for an
        # authenticated approval (never the token)
        "approval": None if provenance is None else provenance.as_dict(),
        "approvers_checksum": None if presented is None else presented.approvers_checksum,
        "stage_caps": asdict(caps_for(judged.stage)),
        "requester": request.requester,
        "request_reason": request.reason,
        "dagster_run_id": judged.run_id,
        "artifacts": dict(judged.artifacts),
    }


def _advance(
    conn: Connection,
    judged: JudgedPromotion,
    outcome: PromotionOutcome,
    promotion: Row,
    lane_now: LaneRollout,
    seq: int,
) -> tuple[Row, Row | None]:
    """The rollout transition, the new champion's lifecycle, and the demotion row of the one it replaces
    (None when it replaces none)."""
    ctx, request, now = judged.ctx, judged.request, judged.now
    previous = lane_now.active
    transition = lane_now.advance(
        ctx.candidate_id,
        judged.stage,
        at=now,
        reason=request.reason or "promotion_job",
        actor=request.requester,
    )
    row = rollout_store.append_transition(
        conn,
        transition,
        after_seq=seq,
        from_candidate_id=previous.candidate_id if previous else None,
        gate_results=[g.as_dict() for g in judged.report.gates],
        reason_codes=list(outcome.reason_codes),
        blocking_gate=None,
    )
    promotion_records.set_lifecycle(conn, ctx.candidate_id, role="champion", status="active")
    if previous is None or previous.candidate_id == ctx.candidate_id:
        return row, None
    demoted = promotion_records.candidate_rows(conn, [previous.candidate_id]).get(previous.candidate_id)
    if demoted is None:
        return row, None
    promotion_records.set_lifecycle(conn, previous.candidate_id, role="demoted", status="standby")
    demotion = promotion_records.demotion_row(
        demoted=demoted,
        successor_id=ctx.candidate_id,
        reason=f"replaced_by:{ctx.candidate_id}",
        at=now,
        promotion=promotion,
    )
    promotion_records.insert_promotion(conn, demotion)
    return row, demotion


def _freeze_or_thaw(conn: Connection, judged: JudgedPromotion, outcome: PromotionOutcome) -> bool:
    """Pause a candidate whose denies reach the auto-freeze streak; reactivate a frozen one promoted.
    Returns whether this decision froze it."""
    ctx, now, frozen = judged.ctx, judged.now, judged.frozen
    newly_frozen = not outcome.allowed and not frozen and auto_freeze([*judged.deny_streak, now], now)
    if newly_frozen:
        promotion_records.set_lifecycle(
            conn, ctx.candidate_id, role=str(ctx.candidate["lifecycle_role"]), status="paused"
        )
    if outcome.allowed and frozen:
        promotion_records.set_lifecycle(conn, ctx.candidate_id, role="champion", status="active")
    return newly_frozen


def _configmap_patch(ctx: CandidateContext) -> str:
    params = ctx.candidate["parameter_set"]
    lines = [
        "# Paper candidate strategy patch generated by torghut_assets promotion_job",
        "apiVersion: v1",
        "kind: ConfigMap",
        "metadata:",
        f"  name: torghut-strategy-{ctx.window.lane}",
        "data:",
        f"  candidate_id: {ctx.candidate_id}",
        f"  strategy_type: {params.get('strategy_type')}",
        f"  strategy_version: {params.get('version')}",
    ]
    lines += [f'  param.{k}: "{v}"' for k, v in sorted((params.get("params") or {}).items())]
    return "\n".join(lines) + "\n"


def _approval_use(
    judged: JudgedPromotion, outcome: PromotionOutcome, spend: Spend, promotion: Row
) -> Row | None:
    """The public, non-replayable record of the approval this decision spent, for the evidence chain:
    who approved what (the signed approval's public record and the approver's signature over it), which
    approvers file judged it, and the decision that spent it. Never the token (only its sha256)."""
    presented, token = judged.presented, judged.request.approval_token
    if spend.spent is None or presented is None or token is None:
        return None
    signed = presented.signed
    return {
        "approval_id": spend.spent,
        "scheme": approvals.SCHEME_HMAC if signed is None else approvals.SCHEME_ED25519,
        "record": None if signed is None else signed.record(),
        "record_signature": None if signed is None else signed.record_signature,
        "approvers_checksum": presented.approvers_checksum,
        "token_sha256": approval_store.token_digest(token.strip()),
        "promotion_id": promotion["id"],
        "candidate_id": judged.ctx.candidate_id,
        "target_stage": judged.stage.value,
        "outcome": approvals.ApprovalUseOutcome.ALLOWED
        if outcome.allowed
        else approvals.ApprovalUseOutcome.DENIED,
        "used_at": judged.now,
    }


def _chain(
    conn: Connection,
    ctx: CandidateContext,
    gate_row: Row,
    promotion: Row,
    transition: Row | None,
    newly_frozen: bool,
    now: dt.datetime,
    *,
    demotion: Row | None = None,
    approval_use: Row | None = None,
) -> None:
    """Evidence-chain entries, last in the transaction (the chain lock is held until commit): the gate
    evaluation, the decision, the approval it spent, the transition and the demotion it caused."""
    lane, start = ctx.window.lane, ctx.window.start.to_pydatetime()
    subjects: dict[str, str] = {}
    entries: list[tuple[str, Row]] = [
        (
            "gate_evaluation",
            {k: gate_row[k] for k in ("id", "gate_report_trace_id", "policy_checksum", "report_json")},
        ),
        ("promotion_decision", {k: v for k, v in promotion.items() if k != "created_at"}),
    ]
    if approval_use is not None:
        entries.append(("approval_use", approval_use))
        subjects["approval_use"] = str(approval_use["approval_id"])
    if transition is not None:
        entries.append(("rollout_transition", {k: v for k, v in transition.items() if k != "created_at"}))
    if demotion is not None:
        entries.append(("promotion_demotion", {k: v for k, v in demotion.items() if k != "created_at"}))
        subjects["promotion_demotion"] = str(demotion["candidate_id"])
    if newly_frozen:
        entries.append(
            ("candidate_frozen", {"candidate_id": ctx.candidate_id, "at": now, "reason": "auto_freeze"})
        )
    for kind, content in entries:
        append_entry(
            conn,
            entry_kind=kind,
            subject=subjects.get(kind, ctx.candidate_id),
            content=content,
            lane=lane,
            window_start=start,
            recorded_at=now,
        )
