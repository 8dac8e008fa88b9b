"""`promotion_job`: evaluate every gate for one candidate and advance it at most one stage.

Launched from the Launchpad with a typed config. Whatever the outcome, one transaction writes the gate
evaluation, the `research_promotions` row and their evidence-chain entries, and spends a presented
approval that verified (plus, when allowed, the rollout transition and lifecycle changes). A deny then
fails the run, naming every failing gate, so it is red in the UI and cannot be mistaken for a promotion.

An approval token (`tav2.…`, signed by an approver's own Ed25519 key; or, in `dev` only, an HMAC
`wpat-…` token) is verified against the approvers file (docs/approvals.md). What is recorded is the
approval id, approver, role, source, signing key id and approvers-file checksum — never the token.

Single use means single presentation. The token sits in this job's run config, which Dagster keeps, so
an approval that verifies is spent by the promotion decision it accompanies whether that promotion is
allowed or denied (`approval_overrides.used_by_promotion_id` / `used_outcome`); presented again, it is
refused `approval_replayed`, naming that promotion and its outcome. A denied promotion needs a fresh
approval. A token that fails verification is not spent (it was never a valid approval).
"""

import datetime as dt
import uuid
from dataclasses import asdict, dataclass, replace
from typing import Any

import dagster as dg
import sqlalchemy as sa
from pydantic import Field, field_validator
from sqlalchemy.engine import Connection

import torghut_assets
from torghut_assets.defs.alerts import AlertsResource, alert_metadata
from torghut_assets.defs.governance.gate_inputs import (
    CandidateContext,
    UnknownCandidateError,
    candidate_uncertainty,
    evidence_span,
    gather_evidence,
    load_candidate,
    safety_state,
)
from torghut_assets.defs.governance.governance_resource import GovernanceConfigError, GovernanceResource
from torghut_assets.defs.lane_window.research_inputs import ResearchResource, UpstreamMissingError
from torghut_assets.defs.metadata import markdown_table
from torghut_assets.defs.pod_resources import GOVERNANCE_POD
from torghut_assets.defs.resources import LedgerResource, MarketDataResource
from torghut_assets.domain import approvals, signed_approvals
from torghut_assets.domain.alerts import Alert, promotion_denied_alert
from torghut_assets.domain.evidence import canonical_value
from torghut_assets.domain.gates import GatePolicy, GateReport, evaluate_gates
from torghut_assets.domain.lane_rollout import LaneRollout, next_stage, stage_mode
from torghut_assets.domain.promotion_rules import PromotionOutcome, decide_promotion
from torghut_assets.domain.stages import Stage, auto_freeze, caps_for
from torghut_assets.domain.uncertainty import UncertaintyEvidence
from torghut_assets.ledger import approval_store, promotion_records, rollout_store
from torghut_assets.ledger.evidence_log import append_entry
from torghut_assets.ledger.records import LedgerIntegrityError

STAGE_CHOICES = ("paper", "live", "live_l1", "live_l2", "live_l3")


class PromotionConfig(dg.Config):
    candidate_id: str = Field(description="research candidate id, e.g. cand-<run>-<hash>")
    target_stage: str = Field(
        description="paper | live_l1 | live_l2 | live_l3 ('live' = the next live stage)"
    )
    requester: str = Field(description="who asks; recorded on the promotion row")
    approval_token: str | None = Field(
        default=None,
        description="tav2.… token from `torghut-assets approve --key` (dev: also a wpat-… HMAC token)",
    )
    reason: str = Field(default="", description="why now; recorded with the transition")

    @field_validator("target_stage")
    @classmethod
    def _known_stage(cls, value: str) -> str:
        if value not in STAGE_CHOICES:
            raise ValueError(f"target_stage {value!r} is not one of {', '.join(STAGE_CHOICES)}")
        return value

    @field_validator("requester", "candidate_id")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value.strip()


class PromotionRefusedError(ValueError):
    """The request cannot even be evaluated (unknown candidate, bad stage); recorded in the evidence log."""


@dataclass(frozen=True)
class PromotionResult:
    outcome: PromotionOutcome
    report: GateReport
    gate_evaluation: dict[str, Any]
    promotion: dict[str, Any]
    transition: dict[str, Any] | None
    frozen: bool
    approval_reason: str | None
    artifacts: dict[str, str]
    # The approval this decision spent (its first presentation, whatever the outcome), and, for a
    # replay, what spent it earlier.
    approval_spent: str | None = None
    approval_spent_by: approvals.ApprovalUse | None = None


def resolve_stage(requested: str, current: Stage) -> Stage:
    if requested != "live":
        return Stage(requested)
    following = next_stage(current)
    if following is None or stage_mode(following) != "live":
        raise PromotionRefusedError(f"'live' from {current.value}: the next stage is not a live stage")
    return following


@dataclass(frozen=True)
class PresentedApproval:
    """A presented token's verdict; for an Ed25519 approval, the verified approval and the checksum of
    the approvers file that judged it. Holds no token."""

    verdict: approvals.ApprovalVerdict
    signed: signed_approvals.SignedApproval | None = None
    approvers_checksum: str | None = None


def _check_approval(
    conn: Connection,
    token: str | None,
    *,
    governance: GovernanceResource,
    candidate_id: str,
    stage: Stage,
    policy: GatePolicy,
    now: dt.datetime,
) -> PresentedApproval | None:
    if token is None or not token.strip():
        return None
    token = token.strip()
    if token.startswith(signed_approvals.TOKEN_PREFIX):
        try:
            registry: signed_approvals.Approvers | None = governance.approvers()
        except GovernanceConfigError:
            registry = None  # every token refused: approval_approvers_file_unavailable
        claimed = signed_approvals.claimed_approval_id(token)
        used: dict[str, approvals.ApprovalUse | None] = {}
        if claimed is not None and approval_store.seen(conn, claimed):
            used[claimed] = approval_store.use_of(conn, claimed)
        check = signed_approvals.verify_signed_token(
            token,
            approvers=registry,
            candidate_id=candidate_id,
            target_stage=stage.value,
            now=now,
            used_approval_ids=used,
            policy_checksum=policy.checksum(),
        )
        return PresentedApproval(check.verdict, check.approval, check.approvers_checksum)
    parsed = approvals.parse_token(token)
    if not governance.hmac_allowed:
        reason = approvals.APPROVAL_HMAC_REFUSED if parsed else approvals.APPROVAL_TOKEN_MALFORMED
        return PresentedApproval(approvals.ApprovalVerdict(False, reason, parsed[0] if parsed else None))
    try:
        secret, _ = governance.secret()
    except GovernanceConfigError:
        secret = b""
    found = approval_store.load_record(conn, parsed[0]) if parsed else None
    used_ids: dict[str, approvals.ApprovalUse | None] = {}
    if found is not None and found[1] is not None:
        used_ids[found[0].override_id] = approval_store.use_of(conn, found[0].override_id)

    def lookup(override_id: str) -> approvals.ApprovalRecord | None:
        return found[0] if found is not None and found[0].override_id == override_id else None

    verdict = approvals.verify_token(
        token,
        secret=secret,
        record_lookup=lookup,
        candidate_id=candidate_id,
        target_mode=stage.value,
        policy_checksum=policy.checksum(),
        now=now,
        used_override_ids=used_ids,
    )
    if verdict.valid and verdict.override_id:
        provenance = approval_store.provenance_of(conn, verdict.override_id)
        verdict = replace(verdict, provenance=provenance)
    return PresentedApproval(verdict)


def _verify_approval(
    conn: Connection,
    token: str | None,
    *,
    governance: GovernanceResource,
    candidate_id: str,
    stage: Stage,
    policy: GatePolicy,
    now: dt.datetime,
) -> approvals.ApprovalVerdict | None:
    presented = _check_approval(
        conn, token, governance=governance, candidate_id=candidate_id, stage=stage, policy=policy, now=now
    )
    return None if presented is None else presented.verdict


def _uncertainty(
    ctx: CandidateContext,
    ledger: LedgerResource,
    market_data: MarketDataResource,
    research_settings: ResearchResource,
    policy: GatePolicy,
) -> tuple[UncertaintyEvidence, str | None]:
    """Fail closed: a replay that cannot run yields missing figures (gate 7 abstains) and says why."""
    try:
        return (
            candidate_uncertainty(
                ctx, ledger, market_data, research_settings, policy.uncertainty_target_coverage
            ),
            None,
        )
    except (LedgerIntegrityError, UpstreamMissingError, ValueError, OSError) as exc:
        return UncertaintyEvidence(
            policy.uncertainty_target_coverage, None, None, None, 0, 0
        ), f"{type(exc).__name__}: {exc}"


def record_refusal(
    ledger: LedgerResource, *, candidate_id: str, message: str, requester: str, at: dt.datetime
) -> None:
    with ledger.transaction() as conn:
        append_entry(
            conn,
            entry_kind="promotion_refused",
            subject=candidate_id[:128] or "unknown",
            content={"candidate_id": candidate_id, "error": message, "requester": requester, "at": at},
            recorded_at=at,
        )


def run_promotion(
    config: PromotionConfig,
    *,
    ledger: LedgerResource,
    market_data: MarketDataResource,
    research_settings: ResearchResource,
    governance: GovernanceResource,
    now: dt.datetime,
    run_id: str = "",
) -> PromotionResult:
    policy = governance.policy()
    try:
        with ledger.read() as conn:
            ctx = load_candidate(conn, config.candidate_id)
            lane, _ = rollout_store.load_lane(conn, ctx.window.lane)
        stage = resolve_stage(config.target_stage, lane.stage_of(ctx.candidate_id))
    except (UnknownCandidateError, PromotionRefusedError) as exc:
        record_refusal(
            ledger, candidate_id=config.candidate_id, message=str(exc), requester=config.requester, at=now
        )
        raise PromotionRefusedError(str(exc)) from exc
    mode = stage_mode(stage)
    uncertainty, replay_error = _uncertainty(ctx, ledger, market_data, research_settings, policy)
    with ledger.read() as conn:
        presented = _check_approval(
            conn,
            config.approval_token,
            governance=governance,
            candidate_id=ctx.candidate_id,
            stage=stage,
            policy=policy,
            now=now,
        )
        verdict = None if presented is None else presented.verdict
        gathered = gather_evidence(
            conn,
            ctx,
            policy=policy,
            lane=lane,
            uncertainty=uncertainty,
            approval_token_valid=None if verdict is None else verdict.valid,
            llm_enabled=governance.llm_enabled,
            now=now,
        )
        deny_streak = promotion_records.consecutive_denies(
            conn, ctx.candidate.get("candidate_hash"), ctx.candidate_id
        )
    report = evaluate_gates(gathered.evidence, policy, mode)
    frozen = auto_freeze(deny_streak, now)

    def decide(
        conn: Connection, lane_state: LaneRollout, approval: approvals.ApprovalVerdict | None
    ) -> PromotionOutcome:
        return decide_promotion(
            candidate_id=ctx.candidate_id,
            requested_stage=stage,
            lane=lane_state,
            report=report,
            safety=safety_state(conn, ctx.window.lane, now, evidence_span(ctx)),
            approval=approval,
            frozen=frozen,
        )

    with ledger.read() as conn:
        outcome = decide(conn, lane, verdict)
    full_report = {
        **report.as_dict(),
        "evaluated_at": now,
        "code_version": torghut_assets.__version__,
        "run_id": ctx.run["run_id"],
        "candidate_id": ctx.candidate_id,
        "requested_stage": stage.value,
        "metrics": canonical_value(_evidence_dict(gathered.evidence)),
        "uncertainty": uncertainty.as_dict(),
        "uncertainty_replay_error": replay_error,
        "promotion_evidence": gathered.profitability,
        "provenance": gathered.provenance,
    }
    artifacts = {
        "gate_evaluation": ledger.artifacts.write_json("gates/gate-evaluation", full_report).path,
        "profitability_evidence": ledger.artifacts.write_json(
            "gates/profitability-evidence-v4", gathered.profitability
        ).path,
    }
    try:
        with ledger.transaction() as conn:
            lane_now, seq = rollout_store.load_lane(conn, ctx.window.lane)
            if outcome.allowed:
                # Decide again against the lane as it is inside this transaction (a concurrent promotion).
                outcome = decide(conn, lane_now, verdict)
            spent_here: str | None = None
            promotion_id_for_use = None
            gate_row = promotion_records.gate_evaluation_row(
                run_id=str(ctx.run["run_id"]),
                candidate_id=ctx.candidate_id,
                window=ctx.window,
                report=report,
                full_report=full_report,
                evaluated_at=now,
                code_version=torghut_assets.__version__,
            )
            conn.execute(promotion_records.schema.gate_evaluations.insert().values(**gate_row))
            if verdict is not None and verdict.valid and verdict.override_id:
                # Single use means single presentation: spent by this decision, allowed or denied.
                assert presented is not None and config.approval_token is not None
                promotion_id_for_use = _new_id()
                used_outcome = approvals.USED_ALLOWED if outcome.allowed else approvals.USED_DENIED
                if presented.signed is not None:
                    spent_ok = approval_store.record_signed_use(
                        conn,
                        presented.signed,
                        config.approval_token.strip(),
                        promotion_id=promotion_id_for_use,
                        outcome=used_outcome,
                        gate_evaluation_id=str(gate_row["id"]),
                        policy_checksum=report.policy_checksum,
                        approvers_checksum=presented.approvers_checksum or "",
                        at=now,
                    )
                else:
                    spent_ok = approval_store.consume(
                        conn,
                        verdict.override_id,
                        promotion_id=promotion_id_for_use,
                        outcome=used_outcome,
                        at=now,
                    )
                if spent_ok:
                    spent_here = verdict.override_id
                else:  # a concurrent promotion presented it first
                    verdict = replace(
                        verdict,
                        valid=False,
                        reason=approvals.APPROVAL_REPLAYED,
                        spent_by=approval_store.use_of(conn, verdict.override_id),
                    )
                    outcome = decide(conn, lane_now, verdict)
            used_approval = outcome.allowed and verdict is not None and verdict.valid
            provenance = None if verdict is None else verdict.provenance
            approver = provenance if used_approval else None
            patch_ref = None
            if outcome.allowed and stage == Stage.PAPER:
                patch_ref = ledger.artifacts.write_text(
                    "paper-candidate/strategy-configmap-patch", _configmap_patch(ctx), suffix=".yaml"
                ).path
                artifacts["paper_candidate_patch"] = patch_ref
            previous = lane_now.active
            promotion = promotion_records.promotion_row(
                outcome=outcome,
                window=ctx.window,
                run_id=str(ctx.run["run_id"]),
                gate_evaluation=gate_row,
                requester=config.requester,
                approver=approver.approver if approver else None,
                approver_role=approver.approver_role if approver else None,
                override_id=verdict.override_id if verdict is not None else None,
                evidence_bundle={
                    "fold_metrics_count": len(ctx.folds_of(ctx.candidate_id)),
                    "stress_metrics_count": len(ctx.stress),
                    "rationale_present": True,
                    "evidence_complete": not any(
                        r.endswith(("_missing", "_invalid")) for r in report.reasons
                    ),
                    "reasons": list(outcome.reason_codes),
                    "approval_verdict": None if verdict is None else verdict.reason,
                    # single use: whether this decision spent the approval, or what spent it earlier
                    "approval_spent": spent_here is not None,
                    "approval_spent_by": None
                    if verdict is None or verdict.spent_by is None
                    else verdict.spent_by.as_dict(),
                    # who signed, how, where it was minted, and the approvers file that judged it; set
                    # only for an authenticated approval (never the token)
                    "approval": None if provenance is None else provenance.as_dict(),
                    "approvers_checksum": None if presented is None else presented.approvers_checksum,
                    "stage_caps": asdict(caps_for(stage)),
                    "requester": config.requester,
                    "request_reason": config.reason,
                    "dagster_run_id": run_id,
                    "artifacts": dict(artifacts),
                },
                decided_at=now,
                patch_ref=patch_ref,
                rollback_candidate_id=previous.candidate_id
                if previous and previous.candidate_id != ctx.candidate_id
                else None,
            )
            if promotion_id_for_use and spent_here is not None:
                promotion["id"] = promotion_id_for_use
            conn.execute(promotion_records.schema.research_promotions.insert().values(**promotion))
            transition_row = None
            if outcome.allowed:
                transition = lane_now.advance(
                    ctx.candidate_id,
                    stage,
                    at=now,
                    reason=config.reason or "promotion_job",
                    actor=config.requester,
                )
                transition_row = rollout_store.append_transition(
                    conn,
                    transition,
                    after_seq=seq,
                    from_candidate_id=previous.candidate_id if previous else None,
                    gate_results=[g.as_dict() for g in report.gates],
                    reason_codes=list(outcome.reason_codes),
                    blocking_gate=None,
                )
                promotion_records.set_lifecycle(conn, ctx.candidate_id, role="champion", status="active")
                if previous is not None and previous.candidate_id != ctx.candidate_id:
                    demoted = promotion_records.candidate_rows(conn, [previous.candidate_id]).get(
                        previous.candidate_id
                    )
                    if demoted is not None:
                        promotion_records.set_lifecycle(
                            conn, previous.candidate_id, role="demoted", status="standby"
                        )
                        conn.execute(
                            promotion_records.schema.research_promotions.insert().values(
                                **promotion_records.demotion_row(
                                    demoted=demoted,
                                    successor_id=ctx.candidate_id,
                                    reason=f"replaced_by:{ctx.candidate_id}",
                                    at=now,
                                    promotion=promotion,
                                )
                            )
                        )
            newly_frozen = not outcome.allowed and not frozen and auto_freeze([*deny_streak, now], now)
            if newly_frozen:
                promotion_records.set_lifecycle(
                    conn, ctx.candidate_id, role=str(ctx.candidate["lifecycle_role"]), status="paused"
                )
            if outcome.allowed and frozen:
                promotion_records.set_lifecycle(conn, ctx.candidate_id, role="champion", status="active")
            _chain(conn, ctx, gate_row, promotion, transition_row, newly_frozen, now)
    except sa.exc.IntegrityError as exc:
        # Another promotion moved this lane (or consumed this approval) between our read and our write.
        message = f"lane {ctx.window.lane} changed concurrently; nothing was written, re-run the promotion"
        record_refusal(
            ledger, candidate_id=ctx.candidate_id, message=message, requester=config.requester, at=now
        )
        raise PromotionRefusedError(message) from exc
    return PromotionResult(
        outcome=outcome,
        report=report,
        gate_evaluation=gate_row,
        promotion=promotion,
        transition=transition_row,
        frozen=frozen or newly_frozen,
        approval_reason=None if verdict is None else verdict.reason,
        artifacts=artifacts,
        approval_spent=spent_here,
        approval_spent_by=None if verdict is None else verdict.spent_by,
    )


def _new_id() -> str:
    return str(uuid.uuid4())


def _evidence_dict(evidence: Any) -> dict[str, Any]:
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(evidence).items()}


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


def _chain(
    conn: Connection,
    ctx: CandidateContext,
    gate_row: dict[str, Any],
    promotion: dict[str, Any],
    transition: dict[str, Any] | None,
    newly_frozen: bool,
    now: dt.datetime,
) -> None:
    """Evidence-chain entries, last in the transaction (the chain lock is held until commit)."""
    lane, start = ctx.window.lane, ctx.window.start.to_pydatetime()
    entries: list[tuple[str, dict[str, Any]]] = [
        (
            "gate_evaluation",
            {k: gate_row[k] for k in ("id", "gate_report_trace_id", "policy_checksum", "report_json")},
        ),
        ("promotion_decision", {k: v for k, v in promotion.items() if k != "created_at"}),
    ]
    if transition is not None:
        entries.append(("rollout_transition", {k: v for k, v in transition.items() if k != "created_at"}))
    if newly_frozen:
        entries.append(
            ("candidate_frozen", {"candidate_id": ctx.candidate_id, "at": now, "reason": "auto_freeze"})
        )
    for kind, content in entries:
        append_entry(
            conn,
            entry_kind=kind,
            subject=ctx.candidate_id,
            content=content,
            lane=lane,
            window_start=start,
            recorded_at=now,
        )


def outcome_markdown(result: PromotionResult) -> str:
    o = result.outcome
    head = f"**{o.action.upper()}** `{o.candidate_id}` {o.from_stage.value} → {o.requested_stage.value}" + (
        " (manual override applied)" if o.override_applied else ""
    )
    gates = markdown_table(
        ["gate", "status", "reasons"],
        [(g.gate_id, g.status, ", ".join(g.reasons) or "—") for g in result.report.gates],
    )
    reasons = "\n".join(f"- `{r}`" for r in o.reason_codes)
    return f"{head}\n\npolicy `{result.report.policy_checksum[:16]}…`\n\n{gates}\n\n**Reasons**\n{reasons}\n"


def approval_note(result: PromotionResult) -> str:
    """What a denied run tells its operator about the approval it carried (single use)."""
    if result.approval_spent is not None:
        return (
            f". Approval {result.approval_spent} is spent by this denied promotion (single use means "
            "single presentation): promoting again needs a fresh approval"
        )
    if result.approval_spent_by is not None:
        return f". The approval was {result.approval_spent_by.describe()}: promoting needs a fresh approval"
    return ""


def denial_alerts(result: PromotionResult, requester: str) -> list[Alert]:
    """A page for a denied live promotion; paper denials are routine and stay in the run."""
    outcome = result.outcome
    if outcome.allowed or stage_mode(outcome.requested_stage) != "live":
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


@dg.op(description="Evaluate gates 0–7 for the candidate and advance it at most one stage (fail closed).")
def evaluate_and_promote(
    context: dg.OpExecutionContext,
    config: PromotionConfig,
    ledger: LedgerResource,
    market_data: MarketDataResource,
    research_settings: ResearchResource,
    governance: GovernanceResource,
    alerts: AlertsResource,
) -> dg.Output[str]:
    now = dt.datetime.now(dt.UTC)
    try:
        result = run_promotion(
            config,
            ledger=ledger,
            market_data=market_data,
            research_settings=research_settings,
            governance=governance,
            now=now,
            run_id=context.run_id,
        )
    except PromotionRefusedError as exc:
        raise dg.Failure(description=f"promotion refused: {exc}") from exc
    sent = alerts.send(ledger, denial_alerts(result, config.requester), context.log)
    metadata: dict[str, Any] = {
        "decision": result.outcome.action,
        "candidate_id": result.outcome.candidate_id,
        "from_stage": result.outcome.from_stage.value,
        "requested_stage": result.outcome.requested_stage.value,
        "reason_codes": dg.MetadataValue.json(list(result.outcome.reason_codes)),
        "blocking_gates": dg.MetadataValue.json(list(result.outcome.blocking_gates)),
        "gate_evaluation_id": result.gate_evaluation["id"],
        "promotion_row_id": result.promotion["id"],
        "policy_checksum": result.report.policy_checksum,
        "approval": result.approval_reason or "none presented",
        **({"approval_spent": result.approval_spent} if result.approval_spent else {}),
        **(
            {"approval_spent_by": dg.MetadataValue.json(result.approval_spent_by.as_dict())}
            if result.approval_spent_by is not None
            else {}
        ),
        **(
            {"approval_signed_by": dg.MetadataValue.json(signed_by)}
            if (signed_by := (result.promotion.get("evidence_bundle") or {}).get("approval"))
            else {}
        ),
        "auto_frozen": result.frozen,
        "summary": dg.MetadataValue.md(outcome_markdown(result)),
        **{f"artifact_{k}": dg.MetadataValue.path(v) for k, v in result.artifacts.items()},
        **alert_metadata(sent),
    }
    if not result.outcome.allowed:
        raise dg.Failure(
            description=f"promotion denied for {result.outcome.candidate_id} → "
            f"{result.outcome.requested_stage.value}: {', '.join(result.outcome.reason_codes)}"
            + approval_note(result),
            metadata=metadata,
        )
    return dg.Output(result.promotion["id"], metadata=metadata)


@dg.job(
    description="Promote one research candidate one stage, with gates, caps and an optional signed approval.",
    tags={"torghut/pipeline": "promotion", "torghut/ledger_heavy": "governance", **GOVERNANCE_POD.tag()},
)
def promotion_job() -> None:
    evaluate_and_promote()


__all__ = ["PromotionConfig", "PromotionRefusedError", "PromotionResult", "promotion_job", "run_promotion"]
