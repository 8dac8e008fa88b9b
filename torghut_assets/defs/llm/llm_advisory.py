"""`llm` resource: the LLM advisory's endpoint, model and policy (docs/llm-advisory.md). Disabled by default.

Built from `Settings` (every `LLM_*` variable is read and checked there); the API key arrives only as
`EnvVar("LLM_API_KEY")`, so it never appears in run config or metadata. Field names of the policy part
are exactly `AdvisoryPolicy`'s, so the Launchpad shows what the advisory runs with.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import Any

import dagster as dg
from pydantic import PrivateAttr

from torghut_assets.adapters.llm_client import GATEWAY_JANGAR, TOKEN_LIMIT_AUTO, OpenAICompatibleClient
from torghut_assets.domain.llm_advisory import PROMPT_VERSION, AdvisoryPolicy, RolloutStage, parse_stage
from torghut_assets.settings import Settings

_DEFAULT = AdvisoryPolicy()


class LLMAdvisoryResource(dg.ConfigurableResource):  # type: ignore[type-arg]
    enabled: bool = False
    base_url: str | None = None
    model: str | None = None
    api_key: str | None = None
    prompt_version: str = PROMPT_VERSION
    trading_mode: str = "paper"
    response_format: str = "json_object"
    gateway: str = GATEWAY_JANGAR
    stream: bool = True
    token_limit_field: str = TOKEN_LIMIT_AUTO
    connect_timeout_seconds: float = 5.0
    note: str | None = None
    shadow_mode: bool = _DEFAULT.shadow_mode
    rollout_stage: str = _DEFAULT.rollout_stage.value
    fail_mode: str = _DEFAULT.fail_mode
    fail_mode_enforcement: str = _DEFAULT.fail_mode_enforcement
    fail_open_live_approved: bool = _DEFAULT.fail_open_live_approved
    min_confidence: float = _DEFAULT.min_confidence
    abstain_fail_mode: str = _DEFAULT.abstain_fail_mode
    escalate_fail_mode: str = _DEFAULT.escalate_fail_mode
    quality_fail_mode: str = _DEFAULT.quality_fail_mode
    adjustment_allowed: bool = _DEFAULT.adjustment_allowed
    adjustment_approved: bool = _DEFAULT.adjustment_approved
    min_qty_multiplier: float = _DEFAULT.min_qty_multiplier
    max_qty_multiplier: float = _DEFAULT.max_qty_multiplier
    max_tokens: int = _DEFAULT.max_tokens
    token_budget_max: int = _DEFAULT.token_budget_max
    timeout_seconds: float = _DEFAULT.timeout_seconds
    circuit_max_errors: int = _DEFAULT.circuit_max_errors
    circuit_window_seconds: float = _DEFAULT.circuit_window_seconds
    circuit_cooldown_seconds: float = _DEFAULT.circuit_cooldown_seconds
    allowed_models: list[str] = []
    allowed_prompt_versions: list[str] = []
    evaluation_report: str | None = None
    effective_challenge_id: str | None = None
    shadow_completed_at: str | None = None
    model_version_lock: str | None = None
    error_budget_max_rate: float = _DEFAULT.error_budget_max_rate
    mismatch_budget_max_rate: float = _DEFAULT.mismatch_budget_max_rate
    error_budget_window_hours: float = _DEFAULT.error_budget_window_hours
    error_budget_min_reviews: int = _DEFAULT.error_budget_min_reviews

    _clock: Callable[[], float] = PrivateAttr(default=time.time)

    def policy(self) -> AdvisoryPolicy:
        """The resource's policy; refuses values no run can use (settings normally catch them first)."""
        values: dict[str, Any] = {
            f.name: getattr(self, f.name) for f in dataclasses.fields(AdvisoryPolicy) if f.name != "enabled"
        }
        stage = parse_stage(self.rollout_stage)
        if stage is None:
            raise ValueError(f"llm rollout_stage {self.rollout_stage!r} is not one of stage0..stage3")
        values.update(
            rollout_stage=stage,
            allowed_models=tuple(self.allowed_models),
            allowed_prompt_versions=tuple(self.allowed_prompt_versions),
        )
        policy = AdvisoryPolicy(enabled=self.enabled, **values)
        problems = policy.problems()
        if problems:
            raise ValueError("llm policy unusable: " + "; ".join(problems))
        return policy

    def client(self) -> OpenAICompatibleClient:
        if not self.base_url or not self.model:
            raise ValueError("llm advisory enabled without base_url and model (LLM_BASE_URL, LLM_MODEL)")
        return OpenAICompatibleClient(
            base_url=self.base_url,
            model=self.model,
            api_key=self.api_key,
            timeout_seconds=self.timeout_seconds,
            connect_timeout_seconds=self.connect_timeout_seconds,
            max_tokens=self.max_tokens,
            response_format=self.response_format,
            gateway=self.gateway,
            stream=self.stream,
            token_limit=self.token_limit_field,
        )

    def now(self) -> float:
        """Epoch seconds; review times and the circuit breaker run on this clock."""
        return self._clock()

    def describe(self) -> dict[str, Any]:
        """What the advisory runs with, for metadata; never the key."""
        return {
            "enabled": self.enabled,
            "base_url": self.base_url,
            "model": self.model,
            "gateway": self.gateway,
            "stream": self.stream,
            "token_limit_field": self.token_limit_field,
            "prompt_version": self.prompt_version,
            "rollout_stage": self.rollout_stage,
            "trading_mode": self.trading_mode,
            "api_key": "set" if self.api_key else "unset",
            "note": self.note,
        }


def llm_advisory_resource(settings: Settings) -> LLMAdvisoryResource:
    policy = settings.llm_policy
    secret: dict[str, Any] = {}
    if settings.llm_api_key_set:
        secret["api_key"] = dg.EnvVar("LLM_API_KEY")
    values: dict[str, Any] = {
        f.name: getattr(policy, f.name) for f in dataclasses.fields(AdvisoryPolicy) if f.name != "enabled"
    }
    stage: RolloutStage = policy.rollout_stage
    values.update(
        rollout_stage=stage.value,
        allowed_models=list(policy.allowed_models),
        allowed_prompt_versions=list(policy.allowed_prompt_versions),
    )
    return LLMAdvisoryResource(
        enabled=policy.enabled and settings.llm_note is None,
        base_url=settings.llm_base_url,
        model=settings.llm_model,
        gateway=settings.llm_gateway,
        stream=settings.llm_stream,
        token_limit_field=settings.llm_token_limit_field,
        trading_mode=settings.trading_mode,
        note=settings.llm_note,
        **values,
        **secret,
    )
