"""The OpenAI-compatible client against a local stub: request shape, bounded time, typed failures."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest

from torghut_assets.adapters.llm_client import LLMTransportError, OpenAICompatibleClient
from torghut_assets.domain.llm_advisory import RESPONSE_JSON_SCHEMA
from torghut_assets_tests.adapters.llm_stub import LlmStub

KEY = "sk-test-not-a-real-key"


@pytest.fixture
def stub() -> Iterator[LlmStub]:
    with LlmStub(delay_seconds=1.0) as running:
        yield running


def _client(url: str, **overrides: object) -> OpenAICompatibleClient:
    settings: dict[str, object] = {"model": "stub-model", "api_key": KEY, "timeout_seconds": 0.3}
    return OpenAICompatibleClient(base_url=url, **{**settings, **overrides})  # type: ignore[arg-type]


def _failure(client: OpenAICompatibleClient) -> LLMTransportError:
    with pytest.raises(LLMTransportError) as raised:
        client.complete("system", '{"qty": 10}')
    return raised.value


def test_requests_are_openai_chat_completions_with_json_format_max_tokens_and_bearer_key(
    stub: LlmStub,
) -> None:
    with _client(stub.url, max_tokens=123) as client:
        client.complete("system text", '{"qty": 10}')
    (request,) = stub.requests
    assert request.path == "/v1/chat/completions"
    assert request.headers["Authorization"] == f"Bearer {KEY}"
    body = request.body
    assert (body["model"], body["max_tokens"], body["temperature"]) == ("stub-model", 123, 0)
    assert body["response_format"] == {"type": "json_object"}
    assert [m["role"] for m in body["messages"]] == ["system", "user"]


def test_the_json_schema_format_sends_the_strict_response_schema(stub: LlmStub) -> None:
    with _client(stub.url, response_format="json_schema") as client:
        client.complete("s", "{}")
    sent = stub.requests[0].body["response_format"]
    assert sent["type"] == "json_schema" and sent["json_schema"]["schema"] == RESPONSE_JSON_SCHEMA


def test_an_answer_comes_back_as_raw_text_with_usage_and_latency(stub: LlmStub) -> None:
    with _client(stub.url) as client:
        completion = client.complete("s", '{"qty": 10}')
    assert completion.text.startswith("{") and '"approve"' in completion.text
    assert (completion.prompt_tokens, completion.completion_tokens) == (150, 40)
    assert completion.served_model == "stub-model-2026-01" and completion.latency_ms > 0


def test_a_slow_answer_is_a_timeout_within_the_time_budget(stub: LlmStub) -> None:
    stub.mode = "slow"
    started = time.monotonic()
    with _client(stub.url) as client:
        error = _failure(client)
    assert error.code == "timeout" and time.monotonic() - started < 0.9


def test_an_http_error_is_a_typed_transport_error_and_is_not_retried(stub: LlmStub) -> None:
    stub.mode = "http_500"
    with _client(stub.url) as client:
        error = _failure(client)
    assert error.code == "http_500" and stub.completions == 1


def test_an_envelope_without_choices_is_invalid(stub: LlmStub) -> None:
    stub.mode = "bad_envelope"
    with _client(stub.url) as client:
        assert _failure(client).code == "invalid_envelope"


def test_malformed_content_is_returned_for_the_domain_to_judge(stub: LlmStub) -> None:
    stub.mode = "malformed"
    with _client(stub.url) as client:
        assert "cut off" in client.complete("s", "{}").text


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
