"""LLM advisory settings: off by default, checked at load, the key only ever an EnvVar."""

from __future__ import annotations

import dataclasses

import dagster as dg
import pytest

from torghut_assets.defs.llm.llm_advisory import LLMAdvisoryResource, llm_advisory_resource
from torghut_assets.domain.llm_advisory import AdvisoryPolicy, RolloutStage
from torghut_assets.settings import SettingsError, load_settings
from torghut_assets_tests.test_settings import PRODUCTION_OK

LLM_ON = {"LLM_ENABLED": "true", "LLM_BASE_URL": "https://llm.internal/v1", "LLM_MODEL": "gpt-test"}


def test_the_advisory_is_disabled_without_any_llm_variable() -> None:
    resource = llm_advisory_resource(load_settings({}))
    assert not resource.enabled and resource.api_key is None


def test_enabling_without_an_endpoint_in_dev_disables_it_and_says_so() -> None:
    settings = load_settings({"LLM_ENABLED": "true"})
    resource = llm_advisory_resource(settings)
    assert not resource.enabled and "LLM_BASE_URL" in (resource.note or "")


def test_production_refuses_an_enabled_advisory_without_endpoint_and_model() -> None:
    with pytest.raises(SettingsError) as raised:
        load_settings({**PRODUCTION_OK, "LLM_ENABLED": "true"})
    text = str(raised.value)
    assert "LLM_BASE_URL" in text and "LLM_MODEL" in text


def test_production_refuses_an_acting_stage_without_its_prerequisites() -> None:
    with pytest.raises(SettingsError, match="stage3_controlled_live is missing"):
        load_settings({**PRODUCTION_OK, **LLM_ON, "LLM_ROLLOUT_STAGE": "stage3"})


def test_production_accepts_a_shadow_advisory() -> None:
    settings = load_settings({**PRODUCTION_OK, **LLM_ON})
    assert settings.llm_policy.enabled and settings.llm_policy.rollout_stage is RolloutStage.STAGE1


def test_malformed_llm_values_are_listed_with_the_other_problems() -> None:
    with pytest.raises(SettingsError) as raised:
        load_settings({"LLM_MIN_CONFIDENCE": "high", "LLM_BASE_URL": "llm.internal"})
    assert len(raised.value.problems) == 2


def test_the_api_key_reaches_the_resource_only_as_an_env_var() -> None:
    resource = llm_advisory_resource(load_settings({**LLM_ON, "LLM_API_KEY": "sk-secret"}))
    assert isinstance(resource.api_key, dg.EnvVar) and resource.api_key.env_var_name == "LLM_API_KEY"


def test_the_resource_runs_exactly_the_settings_policy() -> None:
    env = {**LLM_ON, "LLM_ROLLOUT_STAGE": "stage2", "LLM_ALLOWED_MODELS": "gpt-test", "LLM_MAX_TOKENS": "200"}
    settings = load_settings(env)
    assert llm_advisory_resource(settings).policy() == settings.llm_policy


def test_every_policy_field_is_a_resource_field() -> None:
    fields = {f.name for f in dataclasses.fields(AdvisoryPolicy)}
    assert fields <= set(LLMAdvisoryResource.model_fields)
