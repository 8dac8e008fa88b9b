"""The LLM advisory's settings: how to reach the model (endpoint, model, key, wire dialect) and its
policy (rollout stage, fail modes, budgets, circuit breaker).

Why the policy variables are derived, not written out: `AdvisoryPolicy`'s fields are the policy, and
`parse_policy` reads `LLM_<FIELD>` for each. Deriving the names, defaults, kinds and choices from the
fields means a field added, renamed or re-defaulted there cannot drift from what the registry declares
and `config check` shows; only the one-line descriptions are written here.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from enum import Enum

from torghut_assets.domain.llm_advisory import (
    ENFORCEMENTS,
    FAIL_MODES,
    AdvisoryPolicy,
    RolloutStage,
    env_name,
)
from torghut_assets.env_setting import HTTP, EnvSetting

LLM_CONNECTION: tuple[EnvSetting, ...] = (
    EnvSetting("LLM_BASE_URL", "url", "OpenAI-compatible endpoint of the LLM advisory", schemes=HTTP),
    EnvSetting("LLM_MODEL", "str", "model the LLM advisory asks"),
    EnvSetting("LLM_API_KEY", "str", "bearer key of the LLM endpoint", secret=True),
    EnvSetting(
        "LLM_GATEWAY",
        "choice",
        "wire dialect of LLM_BASE_URL: jangar (streams only, sends x-trade-execution: torghut) or openai",
        default="jangar",
        choices=("jangar", "openai"),
    ),
    EnvSetting(
        "LLM_STREAM",
        "bool",
        "ask for a server-sent-event stream; false sends one JSON request (refused with LLM_GATEWAY=jangar)",
        default="true",
    ),
    EnvSetting(
        "LLM_TOKEN_LIMIT_FIELD",
        "choice",
        "request field for LLM_MAX_TOKENS; auto: max_completion_tokens for o-series/gpt-5, else max_tokens",
        default="auto",
        choices=("auto", "max_tokens", "max_completion_tokens"),
    ),
)


def _policy_default(field: dataclasses.Field[object]) -> str:
    """The policy's own default as the text an operator would set, so `config check` shows the real one."""
    value = getattr(AdvisoryPolicy(), field.name)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, tuple):
        return ",".join(value)
    return "" if value is None else str(value)


def _policy_kind(field: dataclasses.Field[object]) -> tuple[str, tuple[str, ...]]:
    """The kind follows the default's type, and the choices the policy's own constants, so the registry
    cannot accept a value `parse_policy` would refuse."""
    value = getattr(AdvisoryPolicy(), field.name)
    if isinstance(value, bool):
        return "bool", ()
    if isinstance(value, int):
        return "int", ()
    if isinstance(value, float):
        return "float", ()
    if isinstance(value, tuple):
        return "csv", ()
    if isinstance(value, RolloutStage):
        return "choice", tuple(stage.value for stage in RolloutStage)
    if field.name.endswith("fail_mode"):
        return "choice", FAIL_MODES
    if field.name == "fail_mode_enforcement":
        return "choice", ENFORCEMENTS
    return "str", ()


_LLM_POLICY_DESCRIPTIONS: Mapping[str, str] = {
    "enabled": "turn the LLM advisory on; it reviews decisions and never places orders",
    "shadow_mode": "force shadow at any stage: reviews are recorded and change nothing",
    "rollout_stage": "stage0..stage3, short or full name (stage2 acts in paper only, stage3 also live)",
    "fail_mode": "what a transport/parse/validation error does: veto or pass_through",
    "fail_mode_enforcement": "strict_veto makes every error a veto; configured honours LLM_FAIL_MODE",
    "fail_open_live_approved": "approval for pass_through on errors while TRADING_MODE=live",
    "min_confidence": "answers below this confidence take LLM_QUALITY_FAIL_MODE",
    "abstain_fail_mode": "what an abstain does: veto or pass_through",
    "escalate_fail_mode": "what an escalate does: veto or pass_through",
    "quality_fail_mode": "what a low-confidence answer does: veto or pass_through",
    "adjustment_allowed": "the policy allows quantity/order-type adjustments",
    "adjustment_approved": "adjustments were approved (needs LLM_ADJUSTMENT_ALLOWED too)",
    "min_qty_multiplier": "lowest adjusted quantity, as a multiple of the planned quantity",
    "max_qty_multiplier": "highest adjusted quantity, as a multiple of the planned quantity",
    "max_tokens": "completion tokens asked for per review",
    "token_budget_max": "prompt + completion token ceiling; larger requests are blocked, not sent",
    "timeout_seconds": "end-to-end time limit of one call",
    "circuit_max_errors": "errors within the circuit window that open the circuit",
    "circuit_window_seconds": "window over which circuit errors are counted",
    "circuit_cooldown_seconds": "how long an open circuit skips calls",
    "allowed_models": "model inventory (comma-separated); stage 2-3 need LLM_MODEL in it",
    "allowed_prompt_versions": "prompt versions allowed (comma-separated; empty = any)",
    "evaluation_report": "reference of the model evaluation report (stage 2-3 prerequisite)",
    "effective_challenge_id": "id of the effective-challenge review (stage 2-3 prerequisite)",
    "shadow_completed_at": "when the shadow pilot completed (stage 2-3 prerequisite)",
    "model_version_lock": "pinned model version (stage 2-3 prerequisite)",
    "error_budget_max_rate": "error rate that spends the error budget and blocks live promotion",
    "mismatch_budget_max_rate": "guardrail-mismatch rate that spends the error budget",
    "error_budget_window_hours": "hours of lane windows the error budget looks back over",
    "error_budget_min_reviews": "floor on the review count the error rates divide by",
}


def _llm_policy_settings() -> tuple[EnvSetting, ...]:
    """One setting per `AdvisoryPolicy` field, so a field added to the policy is declared (and fails here
    without a description) rather than read undeclared."""
    declared = []
    for field in dataclasses.fields(AdvisoryPolicy):
        kind, choices = _policy_kind(field)
        declared.append(
            EnvSetting(
                env_name(field.name),
                kind,
                _LLM_POLICY_DESCRIPTIONS[field.name],
                default=_policy_default(field),
                choices=choices,
            )
        )
    return tuple(declared)


LLM_POLICY_SETTINGS = _llm_policy_settings()

__all__ = ["LLM_CONNECTION", "LLM_POLICY_SETTINGS"]
