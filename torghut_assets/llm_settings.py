"""The LLM advisory's settings read from the environment: its policy (parsed by the domain's own
`parse_policy`) and how to reach the model.

Why the rules differ by profile: in production an advisory that is enabled but cannot run, or a policy
that contradicts the trading mode, is refused at load, since a silent fallback there would change what
reviews live decisions; in dev the same gap only switches the advisory off, with a note saying so.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from torghut_assets.config_registry import configured, read
from torghut_assets.domain.llm_advisory import AdvisoryPolicy, parse_policy, policy_contradictions
from torghut_assets.env_setting import TRUE_WORDS


@dataclass(frozen=True)
class LlmSettings:
    policy: AdvisoryPolicy
    base_url: str | None
    model: str | None
    gateway: str
    stream: bool
    token_limit_field: str
    api_key_set: bool
    note: str | None
    problems: tuple[str, ...]


def llm_settings(env: Mapping[str, str], *, production: bool, trading_mode: str) -> LlmSettings:
    policy, problems = parse_policy(env)
    base_url = configured(env, "LLM_BASE_URL")
    model = configured(env, "LLM_MODEL")
    gateway = read(env, "LLM_GATEWAY").lower()
    stream = read(env, "LLM_STREAM").lower() in TRUE_WORDS
    if gateway == "jangar" and not stream:
        problems.append("LLM_STREAM=false with LLM_GATEWAY=jangar: Jangar answers only streamed requests")
    note = None
    if production:
        problems += policy_contradictions(policy, base_url=base_url, model=model, trading_mode=trading_mode)
    elif policy.enabled and not (base_url and model):
        note = "LLM_ENABLED=true but LLM_BASE_URL or LLM_MODEL is not set: LLM advisory disabled"
    return LlmSettings(
        policy=policy,
        base_url=base_url,
        model=model,
        gateway=gateway,
        stream=stream,
        token_limit_field=read(env, "LLM_TOKEN_LIMIT_FIELD").lower(),
        api_key_set=configured(env, "LLM_API_KEY") is not None,
        note=note,
        problems=tuple(problems),
    )


__all__ = ["LlmSettings", "llm_settings"]
