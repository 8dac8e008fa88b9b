"""Specification of promotion gates 0..7 and their aggregation, fail closed (docs/promotion.md)."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from torghut_assets.domain.evidence import canonical_json, sha256_hex
from torghut_assets.domain.gates import (
    EVALUATORS,
    GATE_IDS,
    GateEvidence,
    GatePolicy,
    evaluate_gates,
    fragility_rank,
    gate0_data_integrity,
    gate1_statistical_robustness,
    gate2_risk_capacity,
    gate3_shadow_paper_quality,
    gate4_operational_readiness,
    gate5_live_ramp_readiness,
    gate6_profitability_evidence,
    gate7_uncertainty_calibration,
    uncertainty_gate_action,
)

TARGETS = ("shadow", "paper", "live")
LIVE_POLICY = GatePolicy(live_rollout_enabled=True)


def passing_evidence(target: str = "paper") -> GateEvidence:
    """Complete, healthy evidence: every gate passes for `target` (live needs LIVE_POLICY)."""
    return GateEvidence(
        feature_schema_version="3.0.0",
        required_feature_null_rate=0.002 / 3,
        null_rate_macd=0.0,
        null_rate_rsi=0.002,
        null_rate_price=0.0,
        staleness_p95_ms=45_000.0,
        symbol_count=3,
        decision_count=36,
        trade_count=18,
        net_pnl=24.45,
        fold_net_pnls=(12.40, 8.15, 3.90),
        net_pnl_cv=0.55,
        dsr=0.97,
        max_drawdown=80.0,
        turnover=3.2,
        cost_bps=12.0,
        fragility_score=0.30,
        fragility_rank=0,
        stress_case_count=4,
        tca_order_count=18,
        tca_avg_slippage_bps=6.5,
        tca_avg_shortfall_notional=4.2,
        tca_avg_churn_ratio=0.10,
        llm_error_ratio=0.02,
        forecast_fallback_ratio=0.01,
        forecast_latency_p95_ms=120.0,
        forecast_calibration=0.92,
        route_parity_passed=True,
        operational_ready=True,
        runbook_validated=True,
        kill_switch_dry_run_passed=True,
        rollback_dry_run_passed=True,
        continuity_alert_active=False,
        kill_switch_active=False,
        approval_token_valid=True if target == "live" else None,
        profitability_schema="profitability-evidence-v4",
        profitability_validator_passed=True,
        market_net_pnl_delta=3.5,
        regime_pass_ratio=0.75,
        return_over_drawdown=1.8,
        calibration_error=0.12,
        hash_count=6,
        janus_complete=True,
        coverage_error=0.01,
        shift_score=0.20,
        interval_width=0.80,
        target_coverage=0.90,
        recalibration_run_id="recal-4f1c0a9e2b7d",
        recalibration_artifact="gates/recalibration-report.json",
    )


def with_(evidence: GateEvidence, **changes: Any) -> GateEvidence:
    return dataclasses.replace(evidence, **changes)


def policy_for(target: str) -> GatePolicy:
    return LIVE_POLICY if target == "live" else GatePolicy()


# --- passing evidence -------------------------------------------------------------------------------


@pytest.mark.parametrize("target", TARGETS)
def test_every_gate_passes_on_passing_evidence(target: str) -> None:
    evidence, policy = passing_evidence(target), policy_for(target)
    for evaluate in EVALUATORS:
        result = evaluate(evidence, policy, target)
        assert result.status == "pass", (result.gate_id, result.reasons)
        assert result.reasons == ()
    report = evaluate_gates(evidence, policy, target)
    assert report.promotion_allowed
    assert report.recommended_mode == target
    assert report.reasons == ()
    assert report.uncertainty_gate_action == "pass"
    assert [g.gate_id for g in report.gates] == list(GATE_IDS)


# --- one focused failure test per gate --------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"feature_schema_version": "2.9.0"}, "feature_schema_version_mismatch"),
        ({"feature_schema_version": None}, "feature_schema_version_missing"),
        ({"required_feature_null_rate": 0.011}, "required_feature_null_rate_exceeds_threshold"),
        ({"required_feature_null_rate": 1.0}, "required_feature_null_rate_exceeds_threshold"),
        ({"required_feature_null_rate": None}, "required_feature_null_rate_missing"),
        ({"required_feature_null_rate": float("nan")}, "required_feature_null_rate_invalid"),
        ({"staleness_p95_ms": 120_001.0}, "staleness_p95_ms_exceeds_max"),
        ({"symbol_count": 0}, "symbol_count_below_min"),
    ],
)
def test_gate0_fails(changes: dict[str, Any], reason: str) -> None:
    result = gate0_data_integrity(with_(passing_evidence(), **changes), GatePolicy(), "shadow")
    assert result.status == "fail"
    assert reason in result.reasons


@pytest.mark.parametrize(("rate", "passed"), [(0.01, True), (0.010000001, False)])
def test_gate0_null_rate_equal_to_the_limit_passes(rate: float, passed: bool) -> None:
    """Strict `>` against `max_null_rate`, as the reference compares `gate0_max_null_rate`."""
    result = gate0_data_integrity(
        with_(passing_evidence(), required_feature_null_rate=rate), GatePolicy(), "paper"
    )
    assert result.passed is passed
    assert result.reasons == (() if passed else ("required_feature_null_rate_exceeds_threshold",))


def test_gate0_gates_the_pooled_rate_and_only_reports_the_per_field_rates() -> None:
    """rsi14 missing in 2 % of the rows is 0.67 % of the window's required-feature cells: gate 0 passes,
    and a per-field rate that is absent or over the limit does not fail it either."""
    sparse_rsi = with_(passing_evidence(), required_feature_null_rate=0.02 / 3, null_rate_rsi=0.02)
    assert gate0_data_integrity(sparse_rsi, GatePolicy(), "paper").passed
    unreported = with_(passing_evidence(), null_rate_macd=None, null_rate_rsi=None, null_rate_price=1.0)
    assert gate0_data_integrity(unreported, GatePolicy(), "paper").passed


@pytest.mark.parametrize(
    ("changes", "reason", "target"),
    [
        ({"decision_count": 0}, "decision_count_below_min", "shadow"),
        ({"trade_count": 0}, "trade_count_below_min", "shadow"),
        ({"net_pnl": -0.01}, "net_pnl_negative", "shadow"),
        ({"fold_net_pnls": (5.0, -1.0, -2.0)}, "negative_fold_ratio_exceeds_max", "shadow"),
        ({"fold_net_pnls": (5.0, 4.0)}, "fold_count_below_min", "paper"),
        ({"fold_net_pnls": ()}, "fold_count_below_min", "shadow"),
        ({"fold_net_pnls": None}, "fold_net_pnls_missing", "shadow"),
        ({"net_pnl_cv": 2.01}, "net_pnl_cv_exceeds_max", "shadow"),
        ({"net_pnl_cv": None}, "net_pnl_cv_missing", "shadow"),
        ({"dsr": 0.90}, "dsr_below_min", "paper"),
    ],
)
def test_gate1_fails(changes: dict[str, Any], reason: str, target: str) -> None:
    result = gate1_statistical_robustness(with_(passing_evidence(), **changes), GatePolicy(), target)
    assert result.status == "fail"
    assert reason in result.reasons


def test_gate1_half_negative_folds_is_within_ratio() -> None:
    folds = (5.0, -1.0, 4.0, -0.5)
    result = gate1_statistical_robustness(
        with_(passing_evidence(), fold_net_pnls=folds), GatePolicy(), "paper"
    )
    assert result.status == "pass"


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"max_drawdown": 250.5}, "max_drawdown_exceeds_max"),
        ({"turnover": 8.1}, "turnover_exceeds_max"),
        ({"cost_bps": 35.5}, "cost_bps_exceeds_max"),
        ({"fragility_score": 0.86}, "fragility_score_exceeds_max"),
        ({"fragility_rank": 3}, "fragility_rank_exceeds_max"),
        ({"fragility_rank": 2, "fragility_stability_mode": False}, "fragility_stress_without_stability_mode"),
        ({"fragility_rank": 2}, "fragility_stability_mode_missing"),
        ({"stress_case_count": 3}, "stress_case_count_below_min"),
        ({"tca_avg_slippage_bps": 25.1}, "tca_avg_slippage_bps_exceeds_max"),
        ({"tca_avg_shortfall_notional": 26.0}, "tca_avg_shortfall_notional_exceeds_max"),
        ({"tca_avg_churn_ratio": 0.8}, "tca_avg_churn_ratio_exceeds_max"),
        ({"tca_avg_churn_ratio": None}, "tca_avg_churn_ratio_missing"),
    ],
)
def test_gate2_fails(changes: dict[str, Any], reason: str) -> None:
    result = gate2_risk_capacity(with_(passing_evidence(), **changes), GatePolicy(), "paper")
    assert result.status == "fail"
    assert reason in result.reasons


def test_gate2_tca_limits_apply_only_with_orders_and_stability_mode_allows_stress() -> None:
    no_orders = with_(
        passing_evidence(), tca_order_count=0, tca_avg_slippage_bps=None, tca_avg_churn_ratio=9.0
    )
    assert gate2_risk_capacity(no_orders, GatePolicy(), "paper").status == "pass"
    stabilised = with_(passing_evidence(), fragility_rank=2, fragility_stability_mode=True)
    assert gate2_risk_capacity(stabilised, GatePolicy(), "paper").status == "pass"
    assert [fragility_rank(s) for s in ("normal", "elevated", "stress", "crisis", "weird", None)] == [
        0,
        1,
        2,
        3,
        1,
        1,
    ]


@pytest.mark.parametrize(
    ("changes", "reason", "target"),
    [
        ({"llm_error_ratio": 0.11}, "llm_error_ratio_exceeds_max", "shadow"),
        ({"forecast_fallback_ratio": 0.06}, "forecast_fallback_ratio_exceeds_max", "shadow"),
        ({"forecast_latency_p95_ms": 201.0}, "forecast_latency_p95_ms_exceeds_max", "shadow"),
        ({"forecast_calibration": 0.84}, "forecast_calibration_below_min", "shadow"),
        ({"forecast_calibration": None}, "forecast_calibration_missing", "shadow"),
        ({"route_parity_passed": False}, "route_parity_failed", "paper"),
        ({"route_parity_passed": None}, "route_parity_passed_missing", "live"),
    ],
)
def test_gate3_fails(changes: dict[str, Any], reason: str, target: str) -> None:
    result = gate3_shadow_paper_quality(with_(passing_evidence(), **changes), GatePolicy(), target)
    assert result.status == "fail"
    assert reason in result.reasons


def test_gate3_route_parity_not_required_for_shadow() -> None:
    evidence = with_(passing_evidence(), route_parity_passed=None)
    assert gate3_shadow_paper_quality(evidence, GatePolicy(), "shadow").status == "pass"


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"operational_ready": False}, "operational_not_ready"),
        ({"runbook_validated": False}, "runbook_not_validated"),
        ({"kill_switch_dry_run_passed": False}, "kill_switch_dry_run_failed"),
        ({"rollback_dry_run_passed": False}, "rollback_dry_run_failed"),
        ({"continuity_alert_active": True}, "continuity_alert_active"),
        ({"kill_switch_active": True}, "kill_switch_active"),
        ({"kill_switch_active": None}, "kill_switch_active_missing"),
    ],
)
def test_gate4_fails(changes: dict[str, Any], reason: str) -> None:
    result = gate4_operational_readiness(with_(passing_evidence(), **changes), GatePolicy(), "paper")
    assert result.status == "fail"
    assert reason in result.reasons


@pytest.mark.parametrize(
    ("policy", "token", "reason"),
    [
        (GatePolicy(), True, "live_rollout_disabled_by_policy"),
        (LIVE_POLICY, None, "approval_token_missing"),
        (LIVE_POLICY, False, "approval_token_invalid"),
    ],
)
def test_gate5_fails_for_live(policy: GatePolicy, token: bool | None, reason: str) -> None:
    evidence = with_(passing_evidence("live"), approval_token_valid=token)
    result = gate5_live_ramp_readiness(evidence, policy, "live")
    assert result.status == "fail"
    assert reason in result.reasons
    assert gate5_live_ramp_readiness(evidence, policy, "paper").status == "pass"


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"profitability_schema": "profitability-evidence-v3"}, "profitability_schema_mismatch"),
        ({"profitability_validator_passed": False}, "profitability_validator_failed"),
        ({"market_net_pnl_delta": -0.5}, "market_net_pnl_delta_negative"),
        ({"regime_pass_ratio": 0.49}, "regime_pass_ratio_below_min"),
        ({"return_over_drawdown": -0.1}, "return_over_drawdown_negative"),
        ({"cost_bps": 36.0}, "cost_bps_exceeds_max"),
        ({"calibration_error": 0.46}, "calibration_error_exceeds_max"),
        ({"calibration_error": None}, "calibration_error_missing"),
        ({"hash_count": 4}, "hash_count_below_min"),
        ({"janus_complete": False}, "janus_incomplete"),
    ],
)
def test_gate6_fails(changes: dict[str, Any], reason: str) -> None:
    evidence = with_(passing_evidence(), **changes)
    result = gate6_profitability_evidence(evidence, GatePolicy(), "paper")
    assert result.status == "fail"
    assert reason in result.reasons
    assert gate6_profitability_evidence(evidence, GatePolicy(), "shadow").status == "pass"


def test_gate6_accepts_benchmark_schema() -> None:
    evidence = with_(passing_evidence(), profitability_schema="profitability-benchmark-v4")
    assert gate6_profitability_evidence(evidence, GatePolicy(), "paper").status == "pass"


@pytest.mark.parametrize(
    ("changes", "action", "reason"),
    [
        ({"coverage_error": None}, "abstain", "coverage_error_missing"),
        ({"target_coverage": 0.85}, "abstain", "target_coverage_mismatch"),
        ({"coverage_error": -0.01}, "abstain", "coverage_error_out_of_range"),
        ({"shift_score": 1.5}, "abstain", "shift_score_out_of_range"),
        ({"shift_score": 0.95}, "fail", "shift_score_at_or_above_fail"),
        ({"coverage_error": 0.09}, "abstain", "coverage_error_exceeds_abstain"),
        ({"shift_score": 0.80}, "abstain", "shift_score_at_or_above_abstain"),
        ({"interval_width": 1.80}, "abstain", "interval_width_exceeds_abstain"),
        ({"coverage_error": 0.06}, "degrade", "coverage_error_exceeds_degrade"),
        ({"shift_score": 0.60}, "degrade", "shift_score_at_or_above_degrade"),
        ({"interval_width": 1.30}, "degrade", "interval_width_exceeds_degrade"),
        ({"coverage_error": 0.04}, "degrade", "coverage_error_exceeds_soft_degrade"),
        ({"coverage_error": 0.04, "recalibration_run_id": None}, "degrade", "recalibration_run_id_missing"),
        ({"shift_score": 0.99, "recalibration_artifact": ""}, "fail", "recalibration_artifact_missing"),
    ],
)
def test_gate7_ladder(changes: dict[str, Any], action: str, reason: str) -> None:
    evidence = with_(passing_evidence(), **changes)
    got_action, reasons = uncertainty_gate_action(evidence, GatePolicy())
    assert got_action == action
    assert reason in reasons
    result = gate7_uncertainty_calibration(evidence, GatePolicy(), "paper")
    assert result.status == "fail"
    assert reason in result.reasons
    assert f"uncertainty_action_{action}" in result.reasons
    assert gate7_uncertainty_calibration(evidence, GatePolicy(), "shadow").status == "pass"


def test_gate7_boundaries_pass() -> None:
    evidence = with_(passing_evidence(), coverage_error=0.03, shift_score=0.59, interval_width=1.25)
    assert uncertainty_gate_action(evidence, GatePolicy()) == ("pass", ())


# --- aggregation ------------------------------------------------------------------------------------


def test_live_needs_gate5_and_only_gate5_failing_recommends_paper() -> None:
    report = evaluate_gates(passing_evidence("live"), GatePolicy(), "live")
    assert not report.promotion_allowed
    assert report.recommended_mode == "paper"
    assert report.reasons == ("gate5_live_ramp_readiness:live_rollout_disabled_by_policy",)


def test_live_with_other_failure_recommends_shadow() -> None:
    evidence = with_(passing_evidence("live"), net_pnl=-1.0, approval_token_valid=None)
    report = evaluate_gates(evidence, LIVE_POLICY, "live")
    assert not report.promotion_allowed
    assert report.recommended_mode == "shadow"
    assert "gate1_statistical_robustness:net_pnl_negative" in report.reasons
    assert "gate5_live_ramp_readiness:approval_token_missing" in report.reasons


@pytest.mark.parametrize("target", ["paper", "live"])
@pytest.mark.parametrize("changes", [{"interval_width": 1.9}, {"shift_score": 0.97}])
def test_gate7_abstain_or_fail_denies_and_recommends_shadow(target: str, changes: dict[str, Any]) -> None:
    report = evaluate_gates(with_(passing_evidence(target), **changes), policy_for(target), target)
    assert report.uncertainty_gate_action in ("abstain", "fail")
    assert not report.promotion_allowed
    assert report.recommended_mode == "shadow"


def test_gate7_abstain_does_not_block_shadow() -> None:
    report = evaluate_gates(with_(passing_evidence(), coverage_error=None), GatePolicy(), "shadow")
    assert report.uncertainty_gate_action == "abstain"
    assert report.promotion_allowed
    assert report.recommended_mode == "shadow"


def test_paper_failure_recommends_shadow_and_reasons_are_prefixed() -> None:
    report = evaluate_gates(with_(passing_evidence(), cost_bps=40.0), GatePolicy(), "paper")
    assert not report.promotion_allowed
    assert report.recommended_mode == "shadow"
    assert set(report.reasons) == {
        "gate2_risk_capacity:cost_bps_exceeds_max",
        "gate6_profitability_evidence:cost_bps_exceeds_max",
    }


def test_shadow_failure_is_denied() -> None:
    report = evaluate_gates(with_(passing_evidence(), symbol_count=0), GatePolicy(), "shadow")
    assert not report.promotion_allowed
    assert report.recommended_mode == "shadow"


def test_unknown_target_is_refused() -> None:
    with pytest.raises(ValueError, match="canary"):
        evaluate_gates(passing_evidence(), GatePolicy(), "canary")
    with pytest.raises(ValueError):
        gate0_data_integrity(passing_evidence(), GatePolicy(), "LIVE")


def test_report_as_dict_is_json_ready() -> None:
    policy = GatePolicy()
    report = evaluate_gates(with_(passing_evidence(), coverage_error=0.04), policy, "paper")
    data = report.as_dict()
    assert json.loads(canonical_json(data)) == data
    assert data["policy_version"] == "v3-gates-1"
    assert data["policy_checksum"] == policy.checksum()
    assert data["uncertainty_gate_action"] == "degrade"
    assert data["coverage_error"] == 0.04
    assert {g["gate_id"] for g in data["gates"]} == set(GATE_IDS)
    assert all(set(g) == {"gate_id", "status", "reasons", "artifact_refs"} for g in data["gates"])


# --- policy -----------------------------------------------------------------------------------------


def test_policy_defaults_and_missing_keys() -> None:
    policy = GatePolicy.from_mapping({})
    assert policy == GatePolicy()
    assert policy.policy_version == "v3-gates-1"
    assert policy.required_feature_schema_version == "3.0.0"
    assert policy.max_staleness_p95_ms == 120000
    assert (policy.min_folds, policy.min_stress_cases, policy.min_hash_count) == (3, 4, 5)
    assert policy.min_dsr == 0.95
    assert policy.live_rollout_enabled is False


def test_policy_explicit_zero_is_kept_and_applied() -> None:
    policy = GatePolicy.from_mapping({"max_null_rate": 0, "min_hash_count": 0, "max_cost_bps": 35})
    assert policy.max_null_rate == 0.0
    assert isinstance(policy.max_null_rate, float)
    assert policy.min_hash_count == 0
    result = gate0_data_integrity(passing_evidence(), policy, "paper")
    assert result.reasons == ("required_feature_null_rate_exceeds_threshold",)


def test_policy_refuses_unknown_keys_and_wrong_types() -> None:
    with pytest.raises(ValueError, match="max_nul_rate"):
        GatePolicy.from_mapping({"max_nul_rate": 0.02, "max_cost_bps": 30.0})
    for bad in (
        {"max_cost_bps": "35"},
        {"live_rollout_enabled": 1},
        {"min_folds": 3.0},
        {"min_folds": True},
        {"max_drawdown": float("inf")},
        {"allowed_profitability_schemas": "profitability-evidence-v4"},
    ):
        with pytest.raises(ValueError):
            GatePolicy.from_mapping(bad)


def test_policy_checksum() -> None:
    policy = GatePolicy()
    assert policy.checksum() == sha256_hex(policy.as_dict())
    assert policy.checksum() == GatePolicy.from_mapping(policy.as_dict()).checksum()
    assert GatePolicy(max_cost_bps=30.0).checksum() != policy.checksum()
    assert GatePolicy(live_rollout_enabled=True).checksum() != policy.checksum()


# --- fail-closed property ---------------------------------------------------------------------------

# Inputs only required conditionally: stability mode (fragility rank ≥ 2; passing evidence has 0) and
# recalibration ids (non-pass uncertainty action). The approval token is required for live only.
CONDITIONAL = {"fragility_stability_mode", "recalibration_run_id", "recalibration_artifact"}
# Reported beside the gated pooled `required_feature_null_rate`, never gated.
REPORTED_ONLY = {"null_rate_macd", "null_rate_rsi", "null_rate_price"}
REQUIRED_INPUTS = sorted(
    f.name for f in dataclasses.fields(GateEvidence) if f.name not in CONDITIONAL | REPORTED_ONLY
)
EXPECTED_REASON = {"approval_token_valid": "approval_token_missing"}


@settings(max_examples=150, deadline=None)
@given(field=st.sampled_from(REQUIRED_INPUTS), target=st.sampled_from(["paper", "live"]))
def test_removing_any_required_input_denies_and_names_it(field: str, target: str) -> None:
    if field == "approval_token_valid" and target != "live":
        target = "live"
    evidence = passing_evidence(target)
    policy = policy_for(target)
    assert evaluate_gates(evidence, policy, target).promotion_allowed
    report = evaluate_gates(with_(evidence, **{field: None}), policy, target)
    assert not report.promotion_allowed
    assert report.recommended_mode != target
    expected = EXPECTED_REASON.get(field, f"{field}_missing")
    assert any(reason.endswith(f":{expected}") for reason in report.reasons), report.reasons


@pytest.mark.parametrize("target", ["paper", "live"])
def test_removing_each_required_input_exhaustively(target: str) -> None:
    """Deterministic sweep over the same property, so no field depends on hypothesis sampling."""
    evidence, policy = passing_evidence(target), policy_for(target)
    for field in REQUIRED_INPUTS:
        if field == "approval_token_valid" and target != "live":
            continue
        report = evaluate_gates(with_(evidence, **{field: None}), policy, target)
        expected = EXPECTED_REASON.get(field, f"{field}_missing")
        assert not report.promotion_allowed, field
        assert any(reason.endswith(f":{expected}") for reason in report.reasons), (field, report.reasons)
