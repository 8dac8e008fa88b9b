"""The OpenAI-compatible client against the contract stub: request shape per gateway, streamed and
one-body answers, refusals as answers, bounded time, typed failures."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest

from torghut_assets.adapters.llm_client import (
    LLMTransportError,
    OpenAICompatibleClient,
    token_limit_field,
)
from torghut_assets.domain.llm_advisory import RESPONSE_JSON_SCHEMA
from torghut_assets_tests.adapters.llm_stub import LlmStub

KEY = "sk-test-not-a-real-key"


@pytest.fixture
def stub() -> Iterator[LlmStub]:
    with LlmStub(delay_seconds=1.0) as running:
        yield running


@pytest.fixture
def openai() -> Iterator[LlmStub]:
    with LlmStub(gateway="openai", delay_seconds=1.0) as running:
        yield running


def _client(url: str, **overrides: object) -> OpenAICompatibleClient:
    settings: dict[str, object] = {"model": "stub-model", "api_key": KEY, "timeout_seconds": 0.3}
    return OpenAICompatibleClient(base_url=url, **{**settings, **overrides})  # type: ignore[arg-type]


def _openai(url: str, **overrides: object) -> OpenAICompatibleClient:
    return _client(url, gateway="openai", **overrides)


def _failure(client: OpenAICompatibleClient) -> LLMTransportError:
    with pytest.raises(LLMTransportError) as raised:
        client.complete("system", '{"qty": 10}')
    return raised.value


# --- what goes out ---------------------------------------------------------------------------------------


def test_a_jangar_request_streams_with_the_trade_execution_header_usage_and_no_plan(stub: LlmStub) -> None:
    with _client(stub.url, max_tokens=123) as client:
        client.complete("system text", '{"qty": 10}')
    (request,) = stub.requests
    assert request.path == "/openai/v1/chat/completions" and stub.rejections == []
    assert request.header("x-trade-execution") == "torghut"
    assert request.header("Authorization") == f"Bearer {KEY}"
    assert request.header("Accept") == "text/event-stream"
    body = request.body
    assert (body["model"], body["max_tokens"], body["temperature"]) == ("stub-model", 123, 0)
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True, "include_plan": False}
    assert body["response_format"] == {"type": "json_object"}
    assert [m["role"] for m in body["messages"]] == ["system", "user"]


def test_the_json_schema_format_sends_the_strict_response_schema(stub: LlmStub) -> None:
    with _client(stub.url, response_format="json_schema") as client:
        client.complete("s", "{}")
    sent = stub.requests[0].body["response_format"]
    assert sent["type"] == "json_schema" and sent["json_schema"]["schema"] == RESPONSE_JSON_SCHEMA


def test_jangar_cannot_be_asked_for_a_one_body_answer() -> None:
    with pytest.raises(ValueError, match="streamed"):
        OpenAICompatibleClient(base_url="http://jangar/openai/v1", model="m", stream=False)


@pytest.mark.parametrize(
    ("model", "setting", "field"),
    [
        ("gpt-5.3-codex-spark", "auto", "max_completion_tokens"),
        ("o3-mini", "auto", "max_completion_tokens"),
        ("openai/gpt-5-mini", "auto", "max_completion_tokens"),
        ("gpt-4.1-mini", "auto", "max_tokens"),
        ("stub-model", "auto", "max_tokens"),
        ("gpt-4.1-mini", "max_completion_tokens", "max_completion_tokens"),
        ("gpt-5-mini", "max_tokens", "max_tokens"),
    ],
)
def test_the_token_limit_field_follows_the_model_unless_set(model: str, setting: str, field: str) -> None:
    assert token_limit_field(setting, model) == field


def test_a_reasoning_model_gets_max_completion_tokens_and_no_temperature(openai: LlmStub) -> None:
    with _openai(openai.url, model="gpt-5-mini", max_tokens=200) as client:
        client.complete("s", '{"qty": 10}')
    body = openai.requests[0].body
    assert body["max_completion_tokens"] == 200
    assert "max_tokens" not in body and "temperature" not in body and openai.rejections == []


def test_openai_refuses_max_tokens_for_a_reasoning_model_as_its_fixture_says(openai: LlmStub) -> None:
    with _openai(openai.url, model="gpt-5-mini", token_limit="max_tokens") as client:
        error = _failure(client)
    assert error.code == "http_400" and error.gateway_code == "unsupported_parameter"


def test_an_openai_request_carries_no_jangar_only_field_or_header(openai: LlmStub) -> None:
    with _openai(openai.url) as client:
        client.complete("s", '{"qty": 10}')
    (request,) = openai.requests
    assert request.header("x-trade-execution") is None and openai.rejections == []
    assert request.body["stream_options"] == {"include_usage": True}


# --- what comes back ----------------------------------------------------------------------------------


def test_a_streamed_answer_comes_back_as_raw_text_with_usage_and_latency(stub: LlmStub) -> None:
    with _client(stub.url) as client:
        completion = client.complete("s", '{"qty": 10}')
    assert completion.streamed and completion.finish_reason == "stop" and completion.refusal is None
    assert completion.text.strip().startswith("{") and '"approve"' in completion.text
    assert (completion.prompt_tokens, completion.completion_tokens) == (150, 40)
    assert completion.served_model == "stub-model" and completion.latency_ms > 0


@pytest.mark.parametrize("stream", [True, False])
def test_an_openai_answer_parses_streamed_or_not(openai: LlmStub, stream: bool) -> None:
    with _openai(openai.url, stream=stream) as client:
        completion = client.complete("s", '{"qty": 10}')
    assert completion.streamed is stream and openai.requests[0].body.get("stream", False) is stream
    assert '"approve"' in completion.text and completion.finish_reason == "stop"
    assert (completion.prompt_tokens, completion.completion_tokens) == (150, 40)
    assert completion.served_model == "stub-model-2026-01"


@pytest.mark.parametrize("stream", [True, False])
def test_a_refusal_is_an_answer_not_an_error(openai: LlmStub, stream: bool) -> None:
    openai.mode = "refusal"
    with _openai(openai.url, stream=stream) as client:
        completion = client.complete("s", '{"qty": 10}')
    assert completion.refused and completion.text == ""
    assert completion.refusal == "I'm sorry, but I can't help with that request."


@pytest.mark.parametrize("stream", [True, False])
def test_a_content_filter_stop_is_a_refusal(openai: LlmStub, stream: bool) -> None:
    openai.mode = "content_filter"
    with _openai(openai.url, stream=stream) as client:
        completion = client.complete("s", '{"qty": 10}')
    assert completion.refused and completion.refusal is None and completion.finish_reason == "content_filter"


@pytest.mark.parametrize("stream", [True, False])
def test_an_answer_cut_at_the_token_limit_says_so(openai: LlmStub, stream: bool) -> None:
    openai.mode = "length"
    with _openai(openai.url, stream=stream) as client:
        completion = client.complete("s", '{"qty": 10}')
    assert completion.truncated and not completion.refused and completion.text.endswith("fit the str")


def test_jangar_rate_limit_notes_are_set_aside_not_parsed_as_the_answer(stub: LlmStub) -> None:
    stub.mode = "rate_limits"
    with _client(stub.url) as client:
        completion = client.complete("s", '{"qty": 10}')
    assert completion.text.lstrip().startswith('{"verdict"')
    assert completion.gateway_notes and completion.gateway_notes[0].startswith("> **Rate limits**")


def test_malformed_content_is_returned_for_the_domain_to_judge(stub: LlmStub) -> None:
    stub.mode = "malformed"
    with _client(stub.url) as client:
        assert "cut off" in client.complete("s", "{}").text


# --- what fails, and how ------------------------------------------------------------------------------


def test_a_slow_answer_is_a_timeout_within_the_time_budget(stub: LlmStub) -> None:
    stub.mode = "slow"
    started = time.monotonic()
    with _client(stub.url) as client:
        error = _failure(client)
    assert error.code == "timeout" and time.monotonic() - started < 0.9


def test_a_stream_trickling_keepalives_cannot_outlast_the_timeout(stub: LlmStub) -> None:
    stub.mode = "trickle"
    started = time.monotonic()
    with _client(stub.url, timeout_seconds=0.4) as client:
        error = _failure(client)
    elapsed = time.monotonic() - started
    assert error.code == "timeout" and 0.4 <= elapsed < 0.6
    assert error.latency_ms >= 400


@pytest.mark.parametrize(
    ("mode", "code", "gateway_code"),
    [
        ("garbage_stream", "invalid_stream", None),
        ("error_frame", "gateway_error", "upstream_error"),
        ("cut_stream", "stream_incomplete", None),
        ("bad_envelope", "invalid_stream", None),
        ("http_500", "http_500", "internal_error"),
    ],
)
def test_stream_faults_are_typed_transport_errors_and_are_not_retried(
    stub: LlmStub, mode: str, code: str, gateway_code: str | None
) -> None:
    stub.mode = mode
    with _client(stub.url) as client:
        error = _failure(client)
    assert (error.code, error.gateway_code) == (code, gateway_code) and stub.completions == 1


def test_a_one_body_envelope_without_choices_is_invalid(openai: LlmStub) -> None:
    openai.mode = "bad_envelope"
    with _openai(openai.url, stream=False) as client:
        assert _failure(client).code == "invalid_envelope"


def test_jangar_refusing_a_request_is_an_http_error_with_its_code(stub: LlmStub) -> None:
    with _client(stub.url, model="not-served") as client:
        error = _failure(client)
    assert error.code == "http_400" and error.gateway_code == "model_not_found"
    assert stub.rejections == ["model_not_found"]


def test_an_unreachable_endpoint_is_a_network_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with _client(f"http://127.0.0.1:{port}/v1") as client:
        assert _failure(client).code in ("network_error", "timeout")


def test_the_key_never_appears_in_repr_or_errors(stub: LlmStub) -> None:
    stub.mode = "http_500"
    with _client(stub.url) as client:
        error = _failure(client)
        assert KEY not in repr(client) and KEY not in str(error)


def test_a_non_http_base_url_is_refused() -> None:
    with pytest.raises(ValueError, match="http"):
        OpenAICompatibleClient(base_url="ftp://llm", model="m")
