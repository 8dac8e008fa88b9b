"""The LLM gateway contract: the stub refuses and answers as the real gateway does (the fixtures,
transcribed from Jangar's and OpenAI's sources, see fixtures/llm/SOURCES.md), and the client and the
domain read every fixture into the outcome it stands for.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from torghut_assets.adapters.llm_client import LLMTransportError, OpenAICompatibleClient
from torghut_assets.defs.llm.llm_advisory import llm_advisory_resource
from torghut_assets.domain.llm_advisory import (
    ERROR_PARSE,
    ERROR_TRUNCATED,
    AdvisoryMode,
    AdvisoryPolicy,
    ReviewCounts,
    ReviewedDecision,
    ReviewError,
    ReviewOutcome,
    ReviewRefusal,
    ReviewResponse,
    RolloutStage,
    effective_verdict,
    evaluate_error_budget,
    judge_answer,
    total,
)
from torghut_assets.settings import SettingsError, load_settings
from torghut_assets_tests.adapters.llm_stub import FIXTURES, LlmStub, answer, fixture

REVIEW = {"qty": 10, "symbol": "AAPL"}


@pytest.fixture
def jangar() -> Iterator[LlmStub]:
    with LlmStub() as running:
        yield running


@pytest.fixture
def openai() -> Iterator[LlmStub]:
    with LlmStub(gateway="openai") as running:
        yield running


def events(raw: bytes) -> list[Any]:
    """The data events of an SSE body, JSON-decoded (`[DONE]` as the string)."""
    found = []
    for block in raw.decode().split("\n\n"):
        data = [line[5:].lstrip() for line in block.split("\n") if line.startswith("data:")]
        if data:
            text = "\n".join(data)
            found.append(text if text == "[DONE]" else json.loads(text))
    return found


def shape(raw: bytes) -> list[Any]:
    """What a stream looks like, without the values that differ per answer: each event's keys, each
    choice's delta keys and finish reason, the usage counts (not the optional `*_details`), consecutive
    content deltas collapsed into one."""
    shapes: list[Any] = []
    for event in events(raw):
        if event == "[DONE]":
            item: Any = "[DONE]"
        else:
            choices = [(sorted(c["delta"]), c["finish_reason"]) for c in event.get("choices", [])]
            usage = sorted(k for k in event.get("usage") or {} if not k.endswith("_details"))  # optional
            item = (sorted(event), choices, usage)
        if not (shapes and item == shapes[-1]):
            shapes.append(item)
    return shapes


def content(raw: bytes) -> str:
    return "".join(
        c["delta"].get("content") or ""
        for e in events(raw)
        if isinstance(e, dict)
        for c in e.get("choices", [])
    )


def post(stub: LlmStub, body: dict[str, Any], **headers: str) -> requests.Response:
    sent = {"Content-Type": "application/json", "Authorization": "Bearer k", **headers}
    return requests.post(f"{stub.url}/chat/completions", json=body, headers=sent, timeout=5)


def reference_request(**changes: Any) -> dict[str, Any]:
    """The body the reference client sends Jangar (`_request_review_via_jangar`)."""
    body = {
        "model": "stub-model",
        "messages": [{"role": "system", "content": "s"}, {"role": "user", "content": json.dumps(REVIEW)}],
        "stream": True,
        "temperature": 0.2,
        "max_tokens": 300,
        "response_format": {"type": "json_object"},
        "stream_options": {"include_usage": True, "include_plan": False},
    }
    return {**body, **changes}


TRADE = {"x-trade-execution": "torghut"}


# --- the stub refuses what Jangar refuses, with Jangar's bytes ---------------------------------------------


@pytest.mark.parametrize(
    ("body", "headers", "name"),
    [
        (reference_request(stream=False), TRADE, "jangar_400_stream_required.sse"),
        (
            {k: v for k, v in reference_request().items() if k != "stream"},
            TRADE,
            "jangar_400_stream_required.sse",
        ),
        (
            reference_request(),
            {"x-trade-execution": "not-torghut"},
            "jangar_400_invalid_trade_execution_header.sse",
        ),
        (
            {k: v for k, v in reference_request().items() if k != "model"},
            TRADE,
            "jangar_400_model_required.sse",
        ),
    ],
)
def test_jangar_refusals_are_its_sse_error_bodies(
    jangar: LlmStub, body: dict[str, Any], headers: dict[str, str], name: str
) -> None:
    response = post(jangar, body, **headers)
    assert response.status_code == 400
    assert response.headers["Content-Type"] == "text/event-stream"
    assert response.content == fixture(name)


def test_jangar_refuses_the_retired_client_kind_header_and_an_unknown_model(jangar: LlmStub) -> None:
    assert post(jangar, reference_request(), **{"x-jangar-client-kind": "trade-execution"}).status_code == 400
    assert post(jangar, reference_request(model="gpt-9"), **TRADE).status_code == 400
    assert jangar.rejections == ["deprecated_trade_execution_header", "model_not_found"]


def test_jangar_accepts_the_reference_request_and_ignores_fields_it_does_not_know(jangar: LlmStub) -> None:
    response = post(jangar, reference_request(seed=7, max_completion_tokens=9), **TRADE)
    assert response.status_code == 200 and jangar.rejections == []


def test_the_request_this_client_used_to_send_is_refused(jangar: LlmStub) -> None:
    """No `stream` and no trade header: what `OpenAICompatibleClient` sent before it spoke Jangar."""
    body = {k: v for k, v in reference_request().items() if k not in ("stream", "stream_options")}
    assert post(jangar, body).status_code == 400
    assert jangar.rejections == ["stream_required"]


def test_an_internal_failure_is_jangars_500_body(jangar: LlmStub) -> None:
    jangar.mode = "http_500"
    response = post(jangar, reference_request(), **TRADE)
    assert response.status_code == 500 and response.content == fixture("jangar_500_internal_error.sse")


# --- the stub streams what the gateways stream ----------------------------------------------------------


def test_the_stub_streams_the_shape_of_jangars_stream(jangar: LlmStub) -> None:
    streamed = post(jangar, reference_request(), **TRADE).content
    recorded = fixture("jangar_stream_ok.sse")
    assert shape(streamed) == shape(recorded)
    assert content(streamed) == "\n" + answer("ok", REVIEW)
    assert content(recorded).startswith("\n{")
    first, *_ = events(streamed)
    assert first["choices"][0]["delta"]["role"] == "assistant" and "thread_id" in first


def test_the_stub_streams_the_shape_of_openais_stream(openai: LlmStub) -> None:
    body = reference_request(stream_options={"include_usage": True})
    assert shape(post(openai, body).content) == shape(fixture("openai_stream_ok.sse"))


def test_the_stub_answers_one_body_in_the_shape_of_openais(openai: LlmStub) -> None:
    body = {k: v for k, v in reference_request().items() if k not in ("stream", "stream_options")}
    sent = post(openai, body).json()
    recorded = json.loads(fixture("openai_json_ok.json"))
    assert sorted(sent) == sorted(recorded)
    assert sorted(sent["choices"][0]["message"]) == sorted(recorded["choices"][0]["message"])


def test_openai_refuses_jangar_only_fields_and_reasoning_model_parameters(openai: LlmStub) -> None:
    assert post(openai, reference_request()).status_code == 400  # stream_options.include_plan
    without_stream = reference_request(stream=False, stream_options={"include_usage": True})
    assert post(openai, without_stream).status_code == 400
    rejected = post(
        openai,
        {
            k: v
            for k, v in reference_request(model="gpt-5-mini").items()
            if k not in ("stream", "stream_options")
        },
    )
    assert rejected.json() == json.loads(fixture("openai_400_unsupported_max_tokens.json"))
    assert openai.rejections == ["unknown_parameter", "invalid_value", "unsupported_parameter"]


# --- every fixture, through the client and the domain ---------------------------------------------------


def _read(stub: LlmStub, name: str, status: int = 200, **client: Any) -> ReviewOutcome | LLMTransportError:
    stub.replay(name, status)
    settings = {"model": "stub-model", "api_key": "k", "timeout_seconds": 2.0, "gateway": stub.gateway}
    with OpenAICompatibleClient(base_url=stub.url, **{**settings, **client}) as llm:
        try:
            completion = llm.complete("s", json.dumps(REVIEW))
        except LLMTransportError as exc:
            return exc
    return judge_answer(completion.text, refusal=completion.refusal, finish_reason=completion.finish_reason)


@pytest.mark.parametrize(
    "name", ["jangar_stream_ok.sse", "jangar_stream_reasoning.sse", "jangar_stream_rate_limits.sse"]
)
def test_jangar_answers_read_as_the_review_they_carry(jangar: LlmStub, name: str) -> None:
    outcome = _read(jangar, name)
    assert isinstance(outcome, ReviewResponse) and (outcome.verdict, outcome.confidence) == ("approve", 0.82)


@pytest.mark.parametrize(
    ("name", "status", "code", "gateway_code"),
    [
        ("jangar_stream_error_frame.sse", 200, "gateway_error", "upstream_error"),
        ("jangar_stream_cut.sse", 200, "stream_incomplete", None),
        ("garbage.sse", 200, "invalid_stream", None),
        ("jangar_400_stream_required.sse", 400, "http_400", "stream_required"),
        ("jangar_400_model_required.sse", 400, "http_400", "model_required"),
        ("jangar_400_invalid_trade_execution_header.sse", 400, "http_400", "invalid_trade_execution_header"),
        ("jangar_500_internal_error.sse", 500, "http_500", "internal_error"),
    ],
)
def test_jangar_faults_read_as_typed_transport_errors(
    jangar: LlmStub, name: str, status: int, code: str, gateway_code: str | None
) -> None:
    error = _read(jangar, name, status)
    assert isinstance(error, LLMTransportError) and (error.code, error.gateway_code) == (code, gateway_code)


@pytest.mark.parametrize(
    ("name", "stream", "expected"),
    [
        ("openai_stream_ok.sse", True, ReviewResponse),
        ("openai_json_ok.json", False, ReviewResponse),
        ("openai_stream_refusal.sse", True, ReviewRefusal("model_refusal")),
        ("openai_json_refusal.json", False, ReviewRefusal("model_refusal")),
        ("openai_stream_content_filter.sse", True, ReviewRefusal("content_filter")),
        ("openai_stream_length.sse", True, ReviewError(ERROR_PARSE, ERROR_TRUNCATED)),
        ("openai_json_length.json", False, ReviewError(ERROR_PARSE, ERROR_TRUNCATED)),
    ],
)
def test_openai_answers_read_as_review_refusal_or_truncation(
    openai: LlmStub, name: str, stream: bool, expected: Any
) -> None:
    outcome = _read(openai, name, stream=stream)
    if expected is ReviewResponse:
        assert isinstance(outcome, ReviewResponse) and outcome.verdict == "approve"
    else:
        assert type(outcome) is type(expected)
        assert (outcome.kind, outcome.code) == (expected.kind, expected.code)  # type: ignore[union-attr]


def test_openai_errors_read_with_openais_code(openai: LlmStub) -> None:
    error = _read(openai, "openai_400_unsupported_max_tokens.json", 400, stream=False)
    assert isinstance(error, LLMTransportError) and error.gateway_code == "unsupported_parameter"


def test_usage_is_read_from_the_stream(jangar: LlmStub, openai: LlmStub) -> None:
    for stub, name, tokens in (
        (jangar, "jangar_stream_ok.sse", (1843, 96)),
        (openai, "openai_stream_ok.sse", (412, 41)),
    ):
        stub.replay(name)
        with OpenAICompatibleClient(
            base_url=stub.url, model="stub-model", api_key="k", gateway=stub.gateway
        ) as c:
            completion = c.complete("s", "{}")
        assert (completion.prompt_tokens, completion.completion_tokens) == tokens


def test_every_fixture_names_its_source() -> None:
    sources = (FIXTURES / "SOURCES.md").read_text()
    names = sorted(p.name for p in FIXTURES.iterdir() if p.name != "SOURCES.md")
    assert names and [n for n in names if f"`{n}`" not in sources] == []


# --- what a refusal means -------------------------------------------------------------------------------

ACTING = AdvisoryPolicy(enabled=True, rollout_stage=RolloutStage.STAGE3)
MODE = AdvisoryMode(RolloutStage.STAGE3, "paper")
DECISION = ReviewedDecision("AAPL", "buy", 10)


def test_a_refusal_resolves_like_abstain_and_never_as_an_error() -> None:
    refusal = judge_answer("", refusal="I can't help with that.")
    resolved = effective_verdict(refusal, DECISION, ACTING, MODE)
    assert (resolved.verdict, resolved.effective_verdict, resolved.action) == (
        "refusal",
        "pass_through",
        "none",
    )
    assert resolved.reject_code is None and resolved.notes == ("refusal:model_refusal",)
    error = effective_verdict(judge_answer("not json"), DECISION, ACTING, MODE)
    assert (error.action, error.reject_code) == ("veto", "llm_error")  # strict_veto: errors do reject


def test_a_refusal_honours_a_vetoing_abstain_fail_mode() -> None:
    policy = AdvisoryPolicy(enabled=True, rollout_stage=RolloutStage.STAGE3, abstain_fail_mode="veto")
    resolved = effective_verdict(ReviewRefusal("content_filter"), DECISION, policy, MODE)
    assert (resolved.action, resolved.fallback) == ("veto", "abstain_fail_mode:veto")


def test_refusals_are_counted_and_spend_no_error_budget() -> None:
    counts = total([ReviewCounts.of("refusal", False)] * 50)
    assert (counts.refusals, counts.attempted, counts.errors) == (50, 50, 0)
    assert not evaluate_error_budget(counts, ACTING).spent
    assert evaluate_error_budget(total([ReviewCounts.of("parse", False)] * 2), ACTING).spent


def test_a_complete_answer_is_taken_whatever_the_finish_reason_and_a_cut_one_is_truncated() -> None:
    whole = answer("ok", REVIEW)
    assert isinstance(judge_answer(whole, finish_reason="length"), ReviewResponse)
    cut = judge_answer(whole[:30], finish_reason="length")
    assert isinstance(cut, ReviewError) and (cut.kind, cut.code) == (ERROR_PARSE, ERROR_TRUNCATED)
    plain = judge_answer(whole[:30])
    assert isinstance(plain, ReviewError) and plain.code == "malformed_json"


# --- settings -------------------------------------------------------------------------------------------


def test_the_gateway_settings_reach_the_client() -> None:
    env = {"LLM_ENABLED": "true", "LLM_BASE_URL": "https://llm.internal/v1", "LLM_MODEL": "gpt-5-mini"}
    default = llm_advisory_resource(load_settings(env)).client()
    assert (default.gateway, default.stream, default.token_limit_field) == (
        "jangar",
        True,
        "max_completion_tokens",
    )
    plain = llm_advisory_resource(
        load_settings(
            {**env, "LLM_GATEWAY": "openai", "LLM_STREAM": "false", "LLM_TOKEN_LIMIT_FIELD": "max_tokens"}
        )
    ).client()
    assert (plain.gateway, plain.stream, plain.token_limit_field) == ("openai", False, "max_tokens")
    assert "x-trade-execution" not in plain.request_headers() and "stream" not in plain.request_body("s", "u")


def test_a_one_body_jangar_is_refused_at_load() -> None:
    with pytest.raises(SettingsError, match="Jangar answers only streamed"):
        load_settings({"LLM_STREAM": "false"})
