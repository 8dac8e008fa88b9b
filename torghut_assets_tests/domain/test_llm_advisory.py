"""LLM advisory rules: policy, strict schema, resolution, circuit breaker, error budget."""

from __future__ import annotations

import dataclasses
import json

import pytest

from torghut_assets.domain.llm_advisory import (
    ERROR_BLOCKED,
    ERROR_CIRCUIT_OPEN,
    ERROR_PARSE,
    ERROR_TRANSPORT,
    ERROR_VALIDATION,
    REJECT_LLM_ERROR,
    REJECT_LLM_VETO,
    AdvisoryAction,
    AdvisoryMode,
    AdvisoryPolicy,
    CircuitBreaker,
    Resolution,
    ReviewCounts,
    ReviewedDecision,
    ReviewError,
    ReviewOutcome,
    ReviewResponse,
    RolloutStage,
    advisory_mode,
    effective_verdict,
    evaluate_error_budget,
    force_shadow,
    parse_policy,
    parse_review,
    policy_contradictions,
    token_budget_block,
    total,
)

MODEL = "gpt-test"
ACTING = AdvisoryPolicy(
    enabled=True,
    rollout_stage=RolloutStage.STAGE3,
    allowed_models=(MODEL,),
    evaluation_report="reports/llm-eval-2026-02.json",
    effective_challenge_id="challenge-7",
    shadow_completed_at="2026-02-20T00:00:00Z",
    model_version_lock="gpt-test-2026-01-15",
    adjustment_allowed=True,
    adjustment_approved=True,
)
DECISION = ReviewedDecision(symbol="AAPL", action="buy", qty=100, order_type="market")


def _answer(verdict: str = "approve", confidence: float = 0.9, **extra: object) -> ReviewResponse:
    outcome = parse_review(
        json.dumps(
            {"verdict": verdict, "confidence": confidence, "rationale": "r", "risk_flags": [], **extra}
        )
    )
    assert isinstance(outcome, ReviewResponse), outcome
    return outcome


def _mode(policy: AdvisoryPolicy, trading_mode: str = "paper") -> AdvisoryMode:
    return advisory_mode(policy, trading_mode=trading_mode, model=MODEL, prompt_version="torghut-review-v1")


def _resolve(
    outcome: ReviewOutcome, policy: AdvisoryPolicy = ACTING, trading_mode: str = "paper"
) -> Resolution:
    return effective_verdict(outcome, DECISION, policy, _mode(policy, trading_mode))


TRANSPORT_ERROR = ReviewError(ERROR_TRANSPORT, "timeout", "no answer within 20s")


# --- policy --------------------------------------------------------------------------------------------


def test_the_advisory_is_off_by_default_and_shadow_when_switched_on() -> None:
    policy, problems = parse_policy({})
    assert problems == [] and not policy.enabled
    assert _mode(dataclasses.replace(policy, enabled=True)).shadow_reasons == ("stage1_shadow_pilot",)


def test_every_policy_field_is_read_from_its_llm_variable() -> None:
    policy, problems = parse_policy(
        {
            "LLM_ENABLED": "true",
            "LLM_ROLLOUT_STAGE": "stage3",
            "LLM_FAIL_MODE": "PASS_THROUGH",
            "LLM_MIN_CONFIDENCE": "0.7",
            "LLM_MAX_TOKENS": "200",
            "LLM_ALLOWED_MODELS": "a, b",
            "LLM_MODEL_VERSION_LOCK": "a-2026",
        }
    )
    assert problems == []
    assert (policy.enabled, policy.rollout_stage, policy.fail_mode) == (
        True,
        RolloutStage.STAGE3,
        "pass_through",
    )
    assert (policy.min_confidence, policy.max_tokens, policy.allowed_models) == (0.7, 200, ("a", "b"))
    assert policy.model_version_lock == "a-2026"


def test_every_unusable_policy_value_is_reported_at_once() -> None:
    _, problems = parse_policy(
        {
            "LLM_ENABLED": "maybe",
            "LLM_ROLLOUT_STAGE": "stage9",
            "LLM_MIN_CONFIDENCE": "1.5",
            "LLM_MAX_QTY_MULTIPLIER": "0.9",
            "LLM_CIRCUIT_MAX_ERRORS": "2.5",
            "LLM_FAIL_MODE": "shrug",
        }
    )
    text = "\n".join(problems)
    for name in (
        "LLM_ENABLED",
        "LLM_ROLLOUT_STAGE",
        "LLM_MIN_CONFIDENCE",
        "LLM_MAX_QTY_MULTIPLIER",
        "LLM_CIRCUIT_MAX_ERRORS",
        "LLM_FAIL_MODE",
    ):
        assert name in text, name


def test_production_refuses_an_enabled_advisory_without_endpoint_or_stage_prerequisites() -> None:
    policy = AdvisoryPolicy(enabled=True, rollout_stage=RolloutStage.STAGE3)
    found = policy_contradictions(policy, base_url=None, model=None, trading_mode="live")
    text = "\n".join(found)
    assert "LLM_BASE_URL" in text and "LLM_MODEL" in text
    assert "evaluation_report_missing" in text and "model_version_lock_missing" in text


def test_production_refuses_live_pass_through_without_fail_open_approval() -> None:
    policy = dataclasses.replace(ACTING, fail_mode="pass_through", fail_mode_enforcement="configured")
    found = policy_contradictions(policy, base_url="https://llm", model=MODEL, trading_mode="live")
    assert found == ["LLM_FAIL_MODE=pass_through while live needs LLM_FAIL_OPEN_LIVE_APPROVED=true"]


def test_a_disabled_advisory_contradicts_nothing() -> None:
    assert policy_contradictions(AdvisoryPolicy(), base_url=None, model=None, trading_mode="live") == []


# --- response schema ------------------------------------------------------------------------------------


def test_a_well_formed_answer_parses() -> None:
    answer = _answer("adjust", 0.8, adjusted_qty=80, adjusted_order_type="LIMIT")
    assert (answer.verdict, answer.adjusted_qty, answer.adjusted_order_type) == ("adjust", 80.0, "limit")


@pytest.mark.parametrize(
    "text",
    ['{"verdict": "approve"', "approve", '{"verdict": NaN}', '{"verdict": "approve", "verdict": "veto"}'],
)
def test_text_that_is_not_one_strict_json_object_is_a_parse_error(text: str) -> None:
    outcome = parse_review(text)
    assert isinstance(outcome, ReviewError) and (outcome.kind, outcome.code) == (
        ERROR_PARSE,
        "malformed_json",
    )


@pytest.mark.parametrize(
    ("patch", "problem"),
    [
        ({"verdict": "maybe"}, "verdict:invalid"),
        ({"confidence": 1.5}, "confidence:not_in_0_1"),
        ({"confidence": True}, "confidence:not_in_0_1"),
        ({"risk_flags": "none"}, "risk_flags:invalid"),
        ({"rationale": ""}, "rationale:invalid"),
        ({"mood": "sunny"}, "mood:unknown_field"),
        ({"adjusted_qty": 5}, "adjusted_qty:only_for_adjust"),
        ({"verdict": "adjust"}, "adjust:no_adjustment"),
        ({"verdict": "adjust", "adjusted_qty": -3}, "adjusted_qty:not_positive"),
    ],
)
def test_schema_violations_are_validation_errors_naming_the_field(
    patch: dict[str, object], problem: str
) -> None:
    base = {"verdict": "approve", "confidence": 0.9, "rationale": "r", "risk_flags": []}
    outcome = parse_review(json.dumps({**base, **patch}))
    assert isinstance(outcome, ReviewError) and outcome.kind == ERROR_VALIDATION
    assert problem in outcome.problems


def test_a_missing_required_field_is_a_validation_error() -> None:
    outcome = parse_review('{"verdict": "approve", "confidence": 0.9}')
    assert isinstance(outcome, ReviewError) and {"rationale:missing", "risk_flags:missing"} <= set(
        outcome.problems
    )


# --- resolution -----------------------------------------------------------------------------------------

SHADOW_OUTCOMES: list[ReviewOutcome] = [
    _answer("veto"),
    _answer("adjust", adjusted_qty=60),
    _answer("adjust", adjusted_qty=1000, adjusted_order_type="stop"),
    _answer("abstain"),
    _answer("escalate"),
    _answer("approve", 0.1),
    TRANSPORT_ERROR,
    ReviewError(ERROR_PARSE, "malformed_json"),
    ReviewError(ERROR_VALIDATION, "schema_violation"),
    ReviewError(ERROR_CIRCUIT_OPEN, "circuit_open"),
]


@pytest.mark.parametrize("outcome", SHADOW_OUTCOMES)
def test_in_shadow_no_outcome_changes_the_decision(outcome: ReviewOutcome) -> None:
    policy = dataclasses.replace(ACTING, rollout_stage=RolloutStage.STAGE1)
    resolution = _resolve(outcome, policy)
    assert resolution.shadow and not resolution.applied


def test_llm_shadow_mode_keeps_an_acting_stage_in_shadow() -> None:
    policy = dataclasses.replace(ACTING, shadow_mode=True)
    assert not _resolve(_answer("veto"), policy).applied


def test_a_veto_at_an_acting_stage_rejects_with_llm_veto() -> None:
    resolution = _resolve(_answer("veto"))
    assert (resolution.action, resolution.applied, resolution.reject_code) == (
        AdvisoryAction.VETO,
        True,
        REJECT_LLM_VETO,
    )


def test_an_approval_changes_nothing() -> None:
    resolution = _resolve(_answer("approve"))
    assert (resolution.action, resolution.applied, resolution.qty) == (AdvisoryAction.NONE, False, 100)


def test_an_error_takes_the_fail_mode_and_strict_veto_enforcement_forces_veto() -> None:
    policy = dataclasses.replace(ACTING, fail_mode="pass_through")
    resolution = _resolve(TRANSPORT_ERROR, policy)
    assert (resolution.verdict, resolution.action, resolution.reject_code) == (
        "error",
        AdvisoryAction.VETO,
        REJECT_LLM_ERROR,
    )
    assert resolution.fallback == "fail_mode:veto"


def test_a_configured_pass_through_fail_mode_lets_the_decision_proceed_in_paper() -> None:
    policy = dataclasses.replace(ACTING, fail_mode="pass_through", fail_mode_enforcement="configured")
    resolution = _resolve(TRANSPORT_ERROR, policy)
    assert (resolution.effective_verdict, resolution.action) == ("pass_through", AdvisoryAction.NONE)


def test_pass_through_while_live_needs_fail_open_approval() -> None:
    policy = dataclasses.replace(ACTING, fail_mode="pass_through", fail_mode_enforcement="configured")
    assert _resolve(TRANSPORT_ERROR, policy, "live").action == AdvisoryAction.VETO
    approved = dataclasses.replace(policy, fail_open_live_approved=True)
    assert _resolve(TRANSPORT_ERROR, approved, "live").action == AdvisoryAction.NONE


def test_abstain_passes_through_and_escalate_vetoes_by_default() -> None:
    assert _resolve(_answer("abstain")).action == AdvisoryAction.NONE
    escalated = _resolve(_answer("escalate"))
    assert (escalated.action, escalated.reject_code) == (AdvisoryAction.VETO, REJECT_LLM_ERROR)


def test_a_low_confidence_answer_takes_the_quality_fail_mode() -> None:
    resolution = _resolve(_answer("approve", 0.2))
    assert (resolution.action, resolution.fallback) == (AdvisoryAction.VETO, "quality_fail_mode:veto")


def test_an_adjustment_within_bounds_changes_qty_and_order_type() -> None:
    resolution = _resolve(_answer("adjust", adjusted_qty=80, adjusted_order_type="limit"))
    assert (resolution.action, resolution.applied, resolution.qty, resolution.order_type) == (
        AdvisoryAction.ADJUST,
        True,
        80,
        "limit",
    )
    assert resolution.mismatches == ()


@pytest.mark.parametrize(("proposed", "clamped"), [(1000, 125), (10, 50)])
def test_an_out_of_bounds_qty_is_clamped_and_counted_as_a_guardrail_mismatch(
    proposed: int, clamped: int
) -> None:
    resolution = _resolve(_answer("adjust", adjusted_qty=proposed))
    assert resolution.qty == clamped and resolution.mismatches == ("adjusted_qty_out_of_bounds",)


def test_order_types_change_only_between_market_and_limit() -> None:
    resolution = _resolve(_answer("adjust", adjusted_qty=90, adjusted_order_type="stop"))
    assert (resolution.qty, resolution.order_type) == (90, "market")
    assert resolution.mismatches == ("order_type_not_allowed",)


def test_an_adjustment_needs_it_allowed_and_approved() -> None:
    policy = dataclasses.replace(ACTING, adjustment_approved=False)
    resolution = _resolve(_answer("adjust", adjusted_qty=80), policy)
    assert (resolution.action, resolution.qty, resolution.notes) == (
        AdvisoryAction.NONE,
        100,
        ("adjustment_not_allowed",),
    )


def test_acting_stages_without_their_prerequisites_are_forced_to_shadow() -> None:
    policy = dataclasses.replace(ACTING, evaluation_report=None, allowed_models=())
    assert _mode(policy).shadow_reasons == ("model_inventory_missing", "evaluation_report_missing")


def test_stage2_acts_on_paper_only() -> None:
    policy = dataclasses.replace(ACTING, rollout_stage=RolloutStage.STAGE2)
    assert not _mode(policy, "paper").shadow
    assert _mode(policy, "live").shadow_reasons == ("stage2_paper_only",)


def test_a_spent_budget_forces_shadow_once() -> None:
    mode = force_shadow(force_shadow(_mode(ACTING), "error_budget_spent"), "error_budget_spent")
    assert mode.shadow_reasons == ("error_budget_spent",)


def test_a_prompt_outside_the_allowlist_is_blocked() -> None:
    policy = dataclasses.replace(ACTING, allowed_prompt_versions=("torghut-review-v2",))
    assert _mode(policy).blocked_reason == "prompt_not_allowlisted"


def test_a_request_over_the_token_budget_is_blocked_and_blocked_requests_are_shadow() -> None:
    blocked = token_budget_block(ACTING, "x" * 4000)
    assert blocked is not None and (blocked.kind, blocked.code) == (ERROR_BLOCKED, "token_budget_exceeded")
    assert token_budget_block(ACTING, "x" * 400) is None
    assert not _resolve(blocked).applied


# --- circuit breaker --------------------------------------------------------------------------------------

BREAKER = CircuitBreaker(max_errors=3, window_seconds=300, cooldown_seconds=600)


def test_the_circuit_opens_after_max_errors_within_the_window() -> None:
    state = BREAKER.record_error(0).record_error(10).record_error(20)
    assert state.state(21) == "open" and not state.allows(21)


def test_errors_further_apart_than_the_window_do_not_open_the_circuit() -> None:
    state = BREAKER.record_error(0).record_error(200).record_error(400)
    assert state.allows(401) and state.telemetry(401)["recent_error_count"] == 2


def test_an_open_circuit_half_opens_after_the_cooldown() -> None:
    state = BREAKER.record_error(0).record_error(1).record_error(2)
    assert not state.allows(601) and state.state(602) == "half_open" and state.allows(602)
    assert state.telemetry(302)["cooldown_remaining_seconds"] == 300.0


def test_a_half_open_success_closes_and_a_half_open_failure_reopens() -> None:
    opened = BREAKER.record_error(0).record_error(1).record_error(2)
    assert opened.record_success(700).state(700) == "closed"
    assert opened.record_error(700).state(701) == "open"


def test_replaying_recorded_calls_rebuilds_the_circuit() -> None:
    state = BREAKER.replay([(20.0, True), (0.0, True), (10.0, True), (5.0, False)])
    assert state.opened_at == 20.0


# --- error budget ----------------------------------------------------------------------------------------


def _counts(ok: int, **errors: int) -> ReviewCounts:
    kinds = [ReviewCounts.of(None, False)] * ok
    kinds += [ReviewCounts.of(kind, False) for kind, n in errors.items() for _ in range(n)]
    return total(kinds)


def test_the_budget_is_spent_above_ten_percent_errors() -> None:
    assert not evaluate_error_budget(_counts(18, parse=2), ACTING).spent
    spent = evaluate_error_budget(_counts(17, parse=1, validation=1, transport=1), ACTING)
    assert spent.spent and spent.reasons == ("llm_error_rate_exceeded",) and spent.error_rate == 0.15


def test_small_samples_are_judged_against_a_floor_of_ten_reviews() -> None:
    assert not evaluate_error_budget(_counts(0, transport=1), ACTING).spent
    assert evaluate_error_budget(_counts(0, transport=2), ACTING).spent


def test_calls_never_made_are_not_attempts_and_not_errors() -> None:
    counts = total([ReviewCounts.of(ERROR_CIRCUIT_OPEN, False), ReviewCounts.of(ERROR_BLOCKED, False)])
    assert (counts.reviews, counts.attempted, counts.errors) == (2, 0, 0)


def test_guardrail_mismatches_spend_the_budget_too() -> None:
    counts = total([ReviewCounts.of(None, True)] * 2 + [ReviewCounts.of(None, False)] * 8)
    assert evaluate_error_budget(counts, ACTING).reasons == ("llm_guardrail_mismatch_rate_exceeded",)
