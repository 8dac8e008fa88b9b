"""The promotion decision: gate report + lane state + approval → promote or deny (docs/promotion.md).

Rules, in order of authority:

1. Hard blocks no approval lifts (docs/promotion.md, "Deny vs override"): the trading kill switch, an
   emergency stop, a latched continuity alert, a halted lane, any gate-0 failure, the gate-5 policy
   switch for live, invalid profitability evidence or hashes, a gate-7 abstain/fail, and any reason that
   says evidence is missing or invalid (`*_missing`, `*_invalid`).
2. The stage ladder: exactly one step up (lane_rollout decides).
3. Live needs a valid approval, always.
4. Otherwise all required gates pass ⇒ promote; remaining (threshold) failures and an auto-freeze can
   be lifted only by a valid approval scoped to this candidate and stage, recorded as
   `manual_override_applied`.

Every failing gate reason is in the outcome, so a deny names all of them, not just the first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from torghut_assets.domain.approvals import APPROVAL_VALID, ApprovalVerdict
from torghut_assets.domain.gates import GateReport, TargetMode, UncertaintyAction
from torghut_assets.domain.lane_rollout import LaneRollout, TransitionRefused, stage_mode
from torghut_assets.domain.promotion import PromotionAction
from torghut_assets.domain.stages import Stage

MANUAL_OVERRIDE_APPLIED = "manual_override_applied"
CANDIDATE_PAUSED = "candidate_paused_for_review"
APPROVAL_REQUIRED_FOR_LIVE = "approval_required_for_live"
KILL_SWITCH_ACTIVE = "kill_switch_active"
EMERGENCY_STOP_ACTIVE = "emergency_stop_active"
CONTINUITY_ALERT_LATCHED = "signal_continuity_alert_latched"
CANDIDATE_NOT_IN_LANE = "candidate_not_found"
LLM_ERROR_BUDGET_SPENT = "llm_error_budget_spent"

_HARD_GATE_CODES = {
    "gate4_operational_readiness:continuity_alert_active",
    "gate4_operational_readiness:kill_switch_active",
    "gate5_live_ramp_readiness:live_rollout_disabled_by_policy",
    # invalid evidence or hashes (a hard block, docs/promotion.md)
    "gate6_profitability_evidence:profitability_validator_failed",
    "gate6_profitability_evidence:profitability_schema_mismatch",
    "gate6_profitability_evidence:hash_count_below_min",
    "gate6_profitability_evidence:janus_incomplete",
    # gate-7 abstain/fail deny (docs/promotion.md, "Gate aggregation"); only a degrade is a judgement call
    "gate7_uncertainty_calibration:uncertainty_action_abstain",
    "gate7_uncertainty_calibration:uncertainty_action_fail",
}


@dataclass(frozen=True)
class SafetyState:
    kill_switch_active: bool
    emergency_stop_active: bool
    continuity_alert_active: bool
    llm_error_budget_spent: bool = False


@dataclass(frozen=True)
class PromotionOutcome:
    action: PromotionAction
    candidate_id: str
    from_stage: Stage
    requested_stage: Stage
    approved_stage: Stage | None
    reason_codes: tuple[str, ...]
    blocking_gates: tuple[str, ...]
    hard_blocks: tuple[str, ...]
    override_applied: bool

    @property
    def allowed(self) -> bool:
        return self.action == PromotionAction.PROMOTE


def is_hard_gate_reason(reason: str) -> bool:
    """`gate_id:code` reasons no approval may lift."""
    gate_id, _, code = reason.partition(":")
    return (
        gate_id == "gate0_data_integrity"
        or reason in _HARD_GATE_CODES
        or code.endswith("_missing")
        or code.endswith("_invalid")
    )


def _safety_blocks(safety: SafetyState) -> list[str]:
    blocks = []
    if safety.kill_switch_active:
        blocks.append(KILL_SWITCH_ACTIVE)
    if safety.emergency_stop_active:
        blocks.append(EMERGENCY_STOP_ACTIVE)
    if safety.continuity_alert_active:
        blocks.append(CONTINUITY_ALERT_LATCHED)
    return blocks


def decide_promotion(
    *,
    candidate_id: str,
    requested_stage: Stage,
    lane: LaneRollout,
    report: GateReport,
    safety: SafetyState,
    approval: ApprovalVerdict | None,
    frozen: bool,
) -> PromotionOutcome:
    if report.promotion_target != stage_mode(requested_stage):
        raise ValueError(
            f"gate report targets {str(report.promotion_target)!r} "
            f"but the request is for {requested_stage.value}"
        )
    from_stage = lane.stage_of(candidate_id)
    hard: list[str] = _safety_blocks(safety)
    try:
        lane.check_advance(candidate_id, requested_stage)
    except TransitionRefused as refused:
        hard.append(refused.code)
    gate_reasons = list(report.reasons)
    hard += [r for r in gate_reasons if is_hard_gate_reason(r) and r not in hard]
    soft = [r for r in gate_reasons if not is_hard_gate_reason(r)]
    if (
        report.uncertainty_gate_action in (UncertaintyAction.ABSTAIN, UncertaintyAction.FAIL)
        and requested_stage != Stage.SHADOW
    ):
        hard.append(f"uncertainty_action_{report.uncertainty_gate_action}")
    if frozen:
        soft.append(CANDIDATE_PAUSED)
    approved = approval is not None and approval.valid
    approval_codes: list[str] = []
    if approval is not None and not approval.valid:
        approval_codes.append(approval.reason)
    is_live = stage_mode(requested_stage) == TargetMode.LIVE
    if is_live and not approved:
        hard.append(APPROVAL_REQUIRED_FOR_LIVE)
    if is_live and safety.llm_error_budget_spent:
        hard.append(LLM_ERROR_BUDGET_SPENT)
    blocking = _blocking_gates(report, [*hard, *soft])
    if hard or (soft and not approved):
        reasons = _unique([*hard, *soft, *approval_codes])
        return PromotionOutcome(
            PromotionAction.DENY,
            candidate_id,
            from_stage,
            requested_stage,
            None,
            reasons,
            blocking,
            tuple(_unique(hard)),
            False,
        )
    override = bool(soft) and approved
    reasons = _unique([*soft, MANUAL_OVERRIDE_APPLIED] if override else ["all_required_gates_passed"])
    if approved and not override:
        reasons = _unique([*reasons, APPROVAL_VALID])
    return PromotionOutcome(
        PromotionAction.PROMOTE,
        candidate_id,
        from_stage,
        requested_stage,
        requested_stage,
        reasons,
        blocking,
        (),
        override,
    )


def _blocking_gates(report: GateReport, reasons: Sequence[str]) -> tuple[str, ...]:
    failing = {r.partition(":")[0] for r in reasons if ":" in r}
    return tuple(g.gate_id for g in report.gates if g.gate_id in failing)


def _unique(values: Sequence[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(values))
