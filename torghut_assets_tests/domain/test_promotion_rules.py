"""The promotion decision: gate report + lane state + approval → promote or deny (docs/promotion.md)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from torghut_assets.domain.approvals import (
    APPROVAL_EXPIRED,
    APPROVAL_VALID,
    APPROVAL_WRONG_MODE,
    ApprovalVerdict,
)
from torghut_assets.domain.gates import GatePolicy, GateReport, evaluate_gates
from torghut_assets.domain.lane_rollout import (
    LANE_HALTED,
    STAGE_NOT_NEXT,
    LaneRollout,
)
from torghut_assets.domain.promotion import PromotionAction
from torghut_assets.domain.promotion_rules import (
    APPROVAL_REQUIRED_FOR_LIVE,
    CANDIDATE_PAUSED,
    CONTINUITY_ALERT_LATCHED,
    EMERGENCY_STOP_ACTIVE,
    KILL_SWITCH_ACTIVE,
    MANUAL_OVERRIDE_APPLIED,
    PromotionOutcome,
    SafetyState,
    decide_promotion,
    is_hard_gate_reason,
)
from torghut_assets.domain.stages import STAGE_ORDER, Stage
from torghut_assets_tests.domain.test_gates import LIVE_POLICY, REQUIRED_INPUTS, passing_evidence, with_

CANDIDATE = "cand-4f1c0a9e2b7d-a"
LANE = "macd_rsi"
T0 = dt.datetime(2026, 3, 2, 15, 0, tzinfo=dt.UTC)
CLEAR = SafetyState(kill_switch_active=False, emergency_stop_active=False, continuity_alert_active=False)
VALID = ApprovalVerdict(valid=True, reason=APPROVAL_VALID, override_id="wpao-000000000000000000000001")
EXPIRED = ApprovalVerdict(valid=False, reason=APPROVAL_EXPIRED, override_id="wpao-000000000000000000000001")
EXPECTED_REASON = {"approval_token_valid": "approval_token_missing"}


def mode_of(stage: Stage) -> str:
    return "paper" if stage is Stage.PAPER else "live"


def report_for(stage: Stage, policy: GatePolicy | None = None, **changes: Any) -> GateReport:
    mode = mode_of(stage)
    evidence = with_(passing_evidence(mode), **changes)
    return evaluate_gates(evidence, policy or (LIVE_POLICY if mode == "live" else GatePolicy()), mode)


def lane_holding(stage: Stage) -> LaneRollout:
    """A lane whose champion is the candidate at `stage`, reached one step at a time."""
    lane = LaneRollout(LANE)
    for step, target in enumerate(STAGE_ORDER[1 : STAGE_ORDER.index(stage) + 1]):
        lane.advance(CANDIDATE, target, at=T0 + dt.timedelta(days=5 * step), reason="ok", actor="alice")
    return lane


def lane_for(requested: Stage) -> LaneRollout:
    """The lane one step below the requested stage (a paper request starts from an empty lane)."""
    return lane_holding(STAGE_ORDER[STAGE_ORDER.index(requested) - 1])


def decide(
    stage: Stage,
    report: GateReport,
    *,
    lane: LaneRollout | None = None,
    safety: SafetyState = CLEAR,
    approval: ApprovalVerdict | None = None,
    frozen: bool = False,
) -> PromotionOutcome:
    return decide_promotion(
        candidate_id=CANDIDATE,
        requested_stage=stage,
        lane=lane if lane is not None else lane_for(stage),
        report=report,
        safety=safety,
        approval=approval,
        frozen=frozen,
    )


# --- clean promotions -------------------------------------------------------------------------------


def test_all_gates_passing_promotes_to_paper() -> None:
    outcome = decide(Stage.PAPER, report_for(Stage.PAPER))
    assert outcome.action == PromotionAction.PROMOTE
    assert outcome.allowed
    assert outcome.reason_codes == ("all_required_gates_passed",)
    assert (outcome.from_stage, outcome.requested_stage, outcome.approved_stage) == (
        Stage.SHADOW,
        Stage.PAPER,
        Stage.PAPER,
    )
    assert outcome.blocking_gates == ()
    assert outcome.hard_blocks == ()
    assert not outcome.override_applied


def test_a_valid_approval_on_a_clean_report_is_recorded_but_is_no_override() -> None:
    outcome = decide(Stage.PAPER, report_for(Stage.PAPER), approval=VALID)
    assert outcome.action == PromotionAction.PROMOTE
    assert outcome.reason_codes == ("all_required_gates_passed", APPROVAL_VALID)
    assert not outcome.override_applied


def test_all_gates_passing_with_approval_promotes_to_live() -> None:
    outcome = decide(Stage.LIVE_L1, report_for(Stage.LIVE_L1), approval=VALID)
    assert outcome.action == PromotionAction.PROMOTE
    assert (outcome.from_stage, outcome.approved_stage) == (Stage.PAPER, Stage.LIVE_L1)
    assert "all_required_gates_passed" in outcome.reason_codes


def test_an_invalid_approval_does_not_spoil_a_clean_paper_promotion() -> None:
    outcome = decide(Stage.PAPER, report_for(Stage.PAPER), approval=EXPIRED)
    assert outcome.action == PromotionAction.PROMOTE
    assert outcome.reason_codes == ("all_required_gates_passed",)


# --- threshold failures and the approval override ---------------------------------------------------


def test_threshold_failure_for_paper_is_denied_without_approval() -> None:
    outcome = decide(Stage.PAPER, report_for(Stage.PAPER, cost_bps=40.0))
    assert outcome.action == PromotionAction.DENY
    assert not outcome.allowed
    assert outcome.approved_stage is None
    assert "gate2_risk_capacity:cost_bps_exceeds_max" in outcome.reason_codes
    assert "gate6_profitability_evidence:cost_bps_exceeds_max" in outcome.reason_codes
    assert outcome.hard_blocks == ()


def test_threshold_failure_for_paper_is_promoted_with_a_valid_approval() -> None:
    outcome = decide(Stage.PAPER, report_for(Stage.PAPER, cost_bps=40.0), approval=VALID)
    assert outcome.action == PromotionAction.PROMOTE
    assert outcome.override_applied
    assert outcome.approved_stage is Stage.PAPER
    assert outcome.reason_codes[-1] == MANUAL_OVERRIDE_APPLIED
    assert "gate2_risk_capacity:cost_bps_exceeds_max" in outcome.reason_codes
    assert outcome.blocking_gates == ("gate2_risk_capacity", "gate6_profitability_evidence")


def test_an_invalid_approval_verdict_is_named_in_the_deny_reasons() -> None:
    outcome = decide(Stage.PAPER, report_for(Stage.PAPER, dsr=0.90), approval=EXPIRED)
    assert outcome.action == PromotionAction.DENY
    assert "gate1_statistical_robustness:dsr_below_min" in outcome.reason_codes
    assert APPROVAL_EXPIRED in outcome.reason_codes
    assert not outcome.override_applied


def test_an_invalid_approval_for_live_is_named_next_to_approval_required() -> None:
    wrong_mode = ApprovalVerdict(valid=False, reason=APPROVAL_WRONG_MODE, override_id="wpao-1")
    outcome = decide(Stage.LIVE_L1, report_for(Stage.LIVE_L1), approval=wrong_mode)
    assert outcome.action == PromotionAction.DENY
    assert APPROVAL_REQUIRED_FOR_LIVE in outcome.reason_codes
    assert APPROVAL_WRONG_MODE in outcome.reason_codes


def test_a_deny_lists_every_failing_gate() -> None:
    report = report_for(Stage.PAPER, dsr=0.90, cost_bps=40.0, llm_error_ratio=0.2)
    outcome = decide(Stage.PAPER, report)
    assert outcome.action == PromotionAction.DENY
    assert outcome.blocking_gates == (
        "gate1_statistical_robustness",
        "gate2_risk_capacity",
        "gate3_shadow_paper_quality",
        "gate6_profitability_evidence",
    )
    assert set(report.reasons) <= set(outcome.reason_codes)


def test_uncertainty_abstain_denies_a_paper_promotion() -> None:
    report = report_for(Stage.PAPER, interval_width=1.9)
    assert report.uncertainty_gate_action == "abstain"
    outcome = decide(Stage.PAPER, report)
    assert outcome.action == PromotionAction.DENY
    assert "uncertainty_action_abstain" in outcome.reason_codes
    assert outcome.blocking_gates == ("gate7_uncertainty_calibration",)


# --- auto-freeze ------------------------------------------------------------------------------------


def test_a_frozen_candidate_is_denied_as_paused_for_review() -> None:
    outcome = decide(Stage.PAPER, report_for(Stage.PAPER), frozen=True)
    assert outcome.action == PromotionAction.DENY
    assert outcome.reason_codes == (CANDIDATE_PAUSED,)
    assert outcome.blocking_gates == ()
    assert outcome.hard_blocks == ()


def test_a_valid_approval_unfreezes_a_paused_candidate() -> None:
    outcome = decide(Stage.PAPER, report_for(Stage.PAPER), frozen=True, approval=VALID)
    assert outcome.action == PromotionAction.PROMOTE
    assert outcome.override_applied
    assert outcome.reason_codes == (CANDIDATE_PAUSED, MANUAL_OVERRIDE_APPLIED)


# --- hard blocks: never lifted by an approval -------------------------------------------------------


@pytest.mark.parametrize(
    ("safety", "code"),
    [
        (SafetyState(True, False, False), KILL_SWITCH_ACTIVE),
        (SafetyState(False, True, False), EMERGENCY_STOP_ACTIVE),
        (SafetyState(False, False, True), CONTINUITY_ALERT_LATCHED),
    ],
)
@pytest.mark.parametrize("stage", [Stage.PAPER, Stage.LIVE_L1])
def test_safety_blocks_are_never_lifted_by_a_valid_approval(
    safety: SafetyState, code: str, stage: Stage
) -> None:
    outcome = decide(stage, report_for(stage), safety=safety, approval=VALID)
    assert outcome.action == PromotionAction.DENY
    assert code in outcome.hard_blocks
    assert code in outcome.reason_codes
    assert not outcome.override_applied


def test_every_active_safety_block_is_named() -> None:
    outcome = decide(Stage.PAPER, report_for(Stage.PAPER), safety=SafetyState(True, True, True))
    assert outcome.hard_blocks == (KILL_SWITCH_ACTIVE, EMERGENCY_STOP_ACTIVE, CONTINUITY_ALERT_LATCHED)


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        (
            {"required_feature_null_rate": 0.02},
            "gate0_data_integrity:required_feature_null_rate_exceeds_threshold",
        ),
        ({"feature_schema_version": "2.9.0"}, "gate0_data_integrity:feature_schema_version_mismatch"),
        ({"symbol_count": 0}, "gate0_data_integrity:symbol_count_below_min"),
        ({"forecast_calibration": None}, "gate3_shadow_paper_quality:forecast_calibration_missing"),
        ({"hash_count": None}, "gate6_profitability_evidence:hash_count_missing"),
        ({"net_pnl": float("nan")}, "gate1_statistical_robustness:net_pnl_invalid"),
        ({"kill_switch_active": True}, "gate4_operational_readiness:kill_switch_active"),
        ({"continuity_alert_active": True}, "gate4_operational_readiness:continuity_alert_active"),
    ],
)
def test_hard_gate_failures_are_never_lifted_by_a_valid_approval(
    changes: dict[str, Any], reason: str
) -> None:
    outcome = decide(Stage.PAPER, report_for(Stage.PAPER, **changes), approval=VALID)
    assert outcome.action == PromotionAction.DENY
    assert reason in outcome.hard_blocks
    assert reason.partition(":")[0] in outcome.blocking_gates


def test_live_disabled_by_policy_is_never_lifted_by_a_valid_approval() -> None:
    report = report_for(Stage.LIVE_L1, policy=GatePolicy())
    outcome = decide(Stage.LIVE_L1, report, approval=VALID)
    assert outcome.action == PromotionAction.DENY
    assert "gate5_live_ramp_readiness:live_rollout_disabled_by_policy" in outcome.hard_blocks
    assert outcome.blocking_gates == ("gate5_live_ramp_readiness",)


def test_an_invalid_live_approval_token_is_a_hard_block() -> None:
    report = report_for(Stage.LIVE_L1, approval_token_valid=False)
    outcome = decide(Stage.LIVE_L1, report, approval=VALID)
    assert outcome.action == PromotionAction.DENY
    assert "gate5_live_ramp_readiness:approval_token_invalid" in outcome.hard_blocks


@pytest.mark.parametrize(
    ("held", "requested"),
    [(Stage.SHADOW, Stage.LIVE_L1), (Stage.PAPER, Stage.LIVE_L2), (Stage.LIVE_L1, Stage.LIVE_L1)],
)
def test_a_stage_skip_is_never_lifted_by_a_valid_approval(held: Stage, requested: Stage) -> None:
    outcome = decide(requested, report_for(requested), lane=lane_holding(held), approval=VALID)
    assert outcome.action == PromotionAction.DENY
    assert STAGE_NOT_NEXT in outcome.hard_blocks
    assert outcome.from_stage is held


def test_a_halted_lane_blocks_promotion_even_with_approval() -> None:
    lane = lane_for(Stage.LIVE_L1)
    lane.halt(at=T0 + dt.timedelta(days=1), reason="incident", actor="alice")
    outcome = decide(Stage.LIVE_L1, report_for(Stage.LIVE_L1), lane=lane, approval=VALID)
    assert outcome.action == PromotionAction.DENY
    assert LANE_HALTED in outcome.hard_blocks


def test_live_without_approval_is_denied() -> None:
    outcome = decide(Stage.LIVE_L1, report_for(Stage.LIVE_L1))
    assert outcome.action == PromotionAction.DENY
    assert outcome.hard_blocks == (APPROVAL_REQUIRED_FOR_LIVE,)
    assert outcome.blocking_gates == ()


def test_a_hard_block_keeps_the_soft_reasons_in_the_deny() -> None:
    report = report_for(Stage.PAPER, required_feature_null_rate=0.05, cost_bps=40.0)
    outcome = decide(Stage.PAPER, report, safety=SafetyState(True, False, False), frozen=True)
    assert outcome.action == PromotionAction.DENY
    assert outcome.reason_codes[0] == KILL_SWITCH_ACTIVE
    assert {
        "gate0_data_integrity:required_feature_null_rate_exceeds_threshold",
        "gate2_risk_capacity:cost_bps_exceeds_max",
        CANDIDATE_PAUSED,
    } <= set(outcome.reason_codes)
    assert "gate2_risk_capacity:cost_bps_exceeds_max" not in outcome.hard_blocks


# --- request validation and classification ----------------------------------------------------------


@pytest.mark.parametrize(
    ("report_stage", "requested"),
    [(Stage.PAPER, Stage.LIVE_L1), (Stage.LIVE_L1, Stage.PAPER)],
)
def test_a_report_for_another_target_is_refused(report_stage: Stage, requested: Stage) -> None:
    with pytest.raises(ValueError, match="gate report targets"):
        decide(requested, report_for(report_stage), lane=lane_for(requested), approval=VALID)


@pytest.mark.parametrize(
    ("reason", "hard"),
    [
        ("gate0_data_integrity:symbol_count_below_min", True),
        ("gate2_risk_capacity:tca_avg_churn_ratio_missing", True),
        ("gate1_statistical_robustness:fold_net_pnls_invalid", True),
        ("gate4_operational_readiness:kill_switch_active", True),
        ("gate4_operational_readiness:continuity_alert_active", True),
        ("gate5_live_ramp_readiness:live_rollout_disabled_by_policy", True),
        ("gate2_risk_capacity:cost_bps_exceeds_max", False),
        ("gate4_operational_readiness:runbook_not_validated", False),
        ("gate7_uncertainty_calibration:uncertainty_action_degrade", False),
    ],
)
def test_hard_gate_reason_classification(reason: str, hard: bool) -> None:
    assert is_hard_gate_reason(reason) is hard


# --- fail-closed property: a missing input is never overridable ---------------------------------------


def assert_missing_input_denied(field: str, target: str) -> None:
    stage = Stage.LIVE_L1 if target == "live" else Stage.PAPER
    assert decide(stage, report_for(stage), approval=VALID).action == PromotionAction.PROMOTE
    outcome = decide(stage, report_for(stage, **{field: None}), approval=VALID)
    expected = EXPECTED_REASON.get(field, f"{field}_missing")
    assert outcome.action == PromotionAction.DENY, field
    assert not outcome.override_applied
    matches = [r for r in outcome.reason_codes if r.endswith(f":{expected}")]
    assert matches, (field, outcome.reason_codes)
    assert all(r in outcome.hard_blocks for r in matches)


@settings(max_examples=150, deadline=None)
@given(field=st.sampled_from(REQUIRED_INPUTS), target=st.sampled_from(["paper", "live"]))
def test_removing_any_required_input_denies_even_with_a_valid_approval(field: str, target: str) -> None:
    if field == "approval_token_valid" and target != "live":
        target = "live"
    assert_missing_input_denied(field, target)


@pytest.mark.parametrize("target", ["paper", "live"])
def test_removing_each_required_input_denies_exhaustively(target: str) -> None:
    """Deterministic sweep over the same property, so no field depends on hypothesis sampling."""
    for field in REQUIRED_INPUTS:
        if field == "approval_token_valid" and target != "live":
            continue
        assert_missing_input_denied(field, target)


@pytest.mark.parametrize(
    "changes, reason",
    [
        ({"hash_count": 3}, "gate6_profitability_evidence:hash_count_below_min"),
        (
            {"profitability_validator_passed": False},
            "gate6_profitability_evidence:profitability_validator_failed",
        ),
        (
            {"profitability_schema": "profitability-evidence-v3"},
            "gate6_profitability_evidence:profitability_schema_mismatch",
        ),
    ],
)
def test_invalid_profitability_evidence_is_never_lifted_by_an_approval(
    changes: dict[str, Any], reason: str
) -> None:
    outcome = decide(Stage.PAPER, report_for(Stage.PAPER, **changes), approval=VALID)
    assert outcome.action == PromotionAction.DENY and reason in outcome.hard_blocks


def test_a_gate7_abstain_is_never_lifted_by_an_approval() -> None:
    outcome = decide(Stage.PAPER, report_for(Stage.PAPER, shift_score=0.85), approval=VALID)
    assert outcome.action == PromotionAction.DENY and "uncertainty_action_abstain" in outcome.hard_blocks


def test_a_gate7_degrade_can_be_lifted_by_an_approval() -> None:
    outcome = decide(Stage.PAPER, report_for(Stage.PAPER, shift_score=0.65), approval=VALID)
    assert outcome.action == PromotionAction.PROMOTE and outcome.override_applied


def test_a_spent_llm_error_budget_blocks_live_even_with_an_approval() -> None:
    spent = SafetyState(
        kill_switch_active=False,
        emergency_stop_active=False,
        continuity_alert_active=False,
        llm_error_budget_spent=True,
    )
    outcome = decide(Stage.LIVE_L1, report_for(Stage.LIVE_L1), safety=spent, approval=VALID)
    assert outcome.action == PromotionAction.DENY and "llm_error_budget_spent" in outcome.hard_blocks


def test_a_spent_llm_error_budget_does_not_block_paper() -> None:
    spent = SafetyState(
        kill_switch_active=False,
        emergency_stop_active=False,
        continuity_alert_active=False,
        llm_error_budget_spent=True,
    )
    assert decide(Stage.PAPER, report_for(Stage.PAPER), safety=spent).action == PromotionAction.PROMOTE
