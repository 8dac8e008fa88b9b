"""A contract stub of the LLM gateway on 127.0.0.1: it refuses what the real gateway refuses and answers
in the real gateway's wire format (the transcripts in `torghut_assets_tests/contracts/fixtures/llm/`,
sources in SOURCES.md there).

    with LlmStub() as stub:               # emulates Jangar; base URL is stub.url (.../openai/v1)
        stub.mode = "malformed"           # every completion now answers with broken JSON
        stub.script("slow", "ok")         # ...except the next two, in that order
        stub.requests[-1].body["stream"]
        stub.rejections                   # the gateway error codes answered so far

    with LlmStub(gateway="openai") as stub:   # the OpenAI Chat Completions API; stub.url is .../v1

`gateway="jangar"` (default, what the reference deploys), after `services/jangar/src/server/chat.ts`:
`POST /openai/v1/chat/completions` only; the body must be JSON with a non-empty `messages` array of
`{role: string, content, name?: string}`, `stream: true` (else 400 `stream_required`), and
`stream_options` of booleans; other fields are ignored, as Effect Schema ignores excess properties.
`x-trade-execution` other than `torghut` is 400 `invalid_trade_execution_header`, the retired
`x-jangar-client-kind: trade-execution` is 400 `deprecated_trade_execution_header`, a trade request
without `model` is 400 `model_required`, a model outside `models` (Jangar's JANGAR_MODELS) is 400
`model_not_found`. Every refusal is an SSE error frame and `data: [DONE]`, with the HTTP status.
Stricter than Jangar, on purpose (`require_trade_header`): a request without `x-trade-execution` is 400
`trade_execution_header_missing` — Jangar would serve it, but as an Open WebUI chat in its shared
workspace, which is never what a trade review wants. Answers stream as Jangar's encoder writes them
(`chat-completion-encoder.ts`): role on the first delta, the first content prefixed by a newline, the
usage frame (empty `choices`) *before* the `finish_reason: stop` frame, then `data: [DONE]`. Jangar has
no refusal, length or content-filter channel: a model refusal is plain content there.

`gateway="openai"`: `POST /v1/chat/completions` with a bearer key (else 401); unknown request fields,
`stream_options` without `stream`, `max_tokens` or a `temperature` other than 1 for o-series / gpt-5
models are 400 (`unsupported_parameter`, `unsupported_value`, ...). Streamed or not as asked; the usage
chunk comes last before `[DONE]`, after the finish chunk.

Modes (`stub.mode`, or one-shot via `stub.script`):
  ok                approve, confidence 0.9
  veto, abstain, escalate
  low_confidence    approve, confidence 0.1
  adjust            adjusted_qty = 75 % of the decision's qty (within bounds), order type unchanged
  out_of_bounds     adjusted_qty = 10 x the decision's qty and order type "stop"
  malformed         the message content is not JSON
  schema_violation  valid JSON that breaks the schema (unknown verdict, confidence 7, extra key)
  slow              a correct answer after `delay_seconds` (nothing is sent before)
  trickle           headers at once, then a keep-alive comment every `trickle_seconds` for
                    `delay_seconds`, then a correct answer
  http_500          the gateway's 500 error body
  bad_envelope      a well-formed answer without any choice
  refusal           openai: the refusal fixture; jangar: the refusal as plain content
  content_filter    openai only: `finish_reason: content_filter`, no content
  length            openai only: JSON cut at the token limit, `finish_reason: length`
  garbage_stream    a stream whose data frame is not JSON
  error_frame       jangar only: Jangar's mid-stream upstream error frame
  cut_stream        a stream that ends (cleanly, at the HTTP level) before `data: [DONE]`
  rate_limits       jangar only: Jangar's rate-limit note as content, then a correct answer
The decision is read from the user message (the canonical JSON the advisory sends).
`stub.replay("jangar_stream_ok.sse")` answers the next accepted request with a fixture, verbatim.
"""

from __future__ import annotations

import contextlib
import json
import re
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

from torghut_assets_tests.adapters.stub_server import StubRequestHandler, StubServer

FIXTURES = Path(__file__).resolve().parents[1] / "contracts" / "fixtures" / "llm"
JANGAR = "jangar"
OPENAI = "openai"
ANSWER_MODES = frozenset(
    {"ok", "veto", "abstain", "escalate", "low_confidence", "adjust", "out_of_bounds", "malformed"}
    | {"schema_violation", "slow", "trickle"}
)
COMMON_MODES = ANSWER_MODES | {"http_500", "bad_envelope", "refusal", "garbage_stream", "cut_stream"}
GATEWAY_MODES = {
    JANGAR: frozenset(COMMON_MODES | {"rate_limits", "error_frame"}),
    OPENAI: frozenset(COMMON_MODES | {"content_filter", "length"}),
}
MODES = GATEWAY_MODES[JANGAR] | GATEWAY_MODES[OPENAI]
REPLAY = "replay:"
REASONING_MODEL = re.compile(r"^(o\d|gpt-5)")
JANGAR_REFUSAL_TEXT = "I'm sorry, but I can't help with reviewing this trade."
CREATED = 1767268800
# Fields the Chat Completions API accepts (openai-python `completion_create_params.py`); others are 400.
OPENAI_FIELDS = frozenset(
    {
        "messages",
        "model",
        "audio",
        "frequency_penalty",
        "function_call",
        "functions",
        "logit_bias",
        "logprobs",
        "max_completion_tokens",
        "max_tokens",
        "metadata",
        "modalities",
        "n",
        "parallel_tool_calls",
        "prediction",
        "presence_penalty",
        "prompt_cache_key",
        "reasoning_effort",
        "response_format",
        "safety_identifier",
        "seed",
        "service_tier",
        "stop",
        "store",
        "stream",
        "stream_options",
        "temperature",
        "tool_choice",
        "tools",
        "top_logprobs",
        "top_p",
        "user",
        "verbosity",
        "web_search_options",
    }
)
OPENAI_STREAM_OPTIONS = frozenset({"include_usage", "include_obfuscation"})
USAGE = {"prompt_tokens": 150, "completion_tokens": 40, "total_tokens": 190}


@dataclass(frozen=True)
class RecordedRequest:
    path: str
    headers: dict[str, str]
    body: Any

    def header(self, name: str) -> str | None:
        """A request header by case-insensitive name."""
        return next((v for k, v in self.headers.items() if k.lower() == name.lower()), None)


@dataclass
class LlmStub(StubServer[str]):
    mode: str = "ok"
    delay_seconds: float = 1.0
    served_model: str = "stub-model-2026-01"
    gateway: str = JANGAR
    models: tuple[str, ...] = ("stub-model",)
    require_trade_header: bool = True
    trickle_seconds: float = 0.05
    requests: list[RecordedRequest] = field(default_factory=list)
    rejections: list[str] = field(default_factory=list)

    quiet_errors = True  # clients hang up mid-stream on timeouts and at [DONE]

    def __post_init__(self) -> None:
        if self.gateway not in GATEWAY_MODES:
            raise ValueError(f"unknown gateway {self.gateway!r}")
        self._check(self.mode)

    @property
    def url(self) -> str:
        return f"{self.base_url}/openai/v1" if self.gateway == JANGAR else f"{self.base_url}/v1"

    @property
    def completions(self) -> int:
        return len([r for r in self.requests if r.path.endswith("/chat/completions")])

    def script(self, *modes: str) -> None:
        for mode in modes:
            self._check(mode)
        self._queue(*modes)

    def replay(self, name: str, status: int = 200) -> None:
        """Answer the next accepted request with fixture `name`, verbatim, with `status`."""
        if not (FIXTURES / name).is_file():
            raise ValueError(f"no fixture {name!r}")
        self._queue(f"{REPLAY}{status}:{name}")

    def _check(self, mode: str) -> None:
        if mode.startswith(REPLAY):
            return
        if mode not in GATEWAY_MODES[self.gateway]:
            raise ValueError(f"mode {mode!r} is not one the {self.gateway} gateway can produce")

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        return _handler_for(self)

    def _next_mode(self) -> str:
        mode = self._next_scripted(self.mode)
        self._check(mode)
        return mode


# --- answers ------------------------------------------------------------------------------------------


def decision_of(body: Any) -> dict[str, Any]:
    try:
        user = next(m["content"] for m in body["messages"] if m["role"] == "user")
        decision = json.loads(user)
    except (KeyError, TypeError, StopIteration, ValueError):
        return {}
    return decision if isinstance(decision, dict) else {}


def answer(mode: str, decision: dict[str, Any]) -> str:
    qty = int(decision.get("qty") or 10)
    review: dict[str, Any] = {"verdict": "approve", "confidence": 0.9, "rationale": "fine", "risk_flags": []}
    if mode in ("veto", "abstain", "escalate"):
        review.update(verdict=mode, rationale=f"stub {mode}", risk_flags=["stub_flag"])
    elif mode == "low_confidence":
        review.update(confidence=0.1)
    elif mode == "adjust":
        review.update(verdict="adjust", adjusted_qty=max(1, round(qty * 0.75)), risk_flags=["size"])
    elif mode == "out_of_bounds":
        review.update(verdict="adjust", adjusted_qty=qty * 10, adjusted_order_type="stop")
    elif mode == "schema_violation":
        review.update(verdict="maybe", confidence=7, mood="sunny")
    elif mode == "malformed":
        return '{"verdict": "approve", "confidence": 0.9, "rationale": "cut off'
    return json.dumps(review)


def pieces(text: str, size: int = 16) -> list[str]:
    """Text in token-like pieces, as a model streams it."""
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def sse(frames: Iterable[Any]) -> bytes:
    """`data: <json>` events and a closing `data: [DONE]`."""
    return b"".join(f"data: {_json(f)}\n\n".encode() for f in frames) + b"data: [DONE]\n\n"


def jangar_frames(
    content: Iterable[str], *, model: str, usage: dict[str, int] | None = USAGE, notes: Iterable[str] = ()
) -> list[dict[str, Any]]:
    """Jangar's encoder for a turn with message deltas (and rate-limit notes, which it writes as
    content before the message): role on the first delta, a newline before the first message text,
    thread_id on every chunk, the usage chunk before the stop chunk."""
    head = {"id": "chatcmpl-stub", "object": "chat.completion.chunk", "created": CREATED, "model": model}
    frames: list[dict[str, Any]] = []
    role_sent = False

    def chunk(text: str) -> None:
        nonlocal role_sent
        delta: dict[str, Any] = {"content": text}
        if not role_sent:
            delta["role"] = "assistant"
            role_sent = True
        frames.append(
            {
                **head,
                "choices": [{"delta": delta, "index": 0, "finish_reason": None}],
                "thread_id": "thread-stub",
            }
        )

    for note in notes:
        chunk(note)
    for i, text in enumerate(content):
        chunk(("\n" + text) if i == 0 and not text.startswith("\n") else text)
    if usage is not None:
        frames.append({**head, "choices": [], "usage": usage, "thread_id": "thread-stub"})
    frames.append(
        {
            **head,
            "choices": [{"delta": {}, "index": 0, "finish_reason": "stop"}],
            "thread_id": "thread-stub",
        }
    )
    return frames


def openai_frames(
    content: Iterable[str],
    *,
    model: str,
    finish_reason: str = "stop",
    usage: dict[str, int] | None = USAGE,
    refusal: Iterable[str] = (),
) -> list[dict[str, Any]]:
    """OpenAI's chunks: a role chunk, content (or refusal) deltas, the finish chunk, then - with
    `include_usage` - a chunk with empty `choices` and the usage (every earlier chunk has `usage: null`).
    Each carries an `obfuscation` pad (on unless `stream_options.include_obfuscation` is false)."""
    head = {
        "id": "chatcmpl-stub",
        "object": "chat.completion.chunk",
        "created": CREATED,
        "model": model,
        "service_tier": "default",
        "system_fingerprint": "fp_stub",
    }
    tail = {"usage": None} if usage is not None else {}
    refusing = list(refusal)

    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        return {**head, "choices": [choice], **tail, "obfuscation": "stub"}

    first = {"role": "assistant", "content": None if refusing else "", "refusal": "" if refusing else None}
    frames = [chunk(first)]
    frames += [chunk({"refusal": text}) for text in refusing]
    frames += [chunk({"content": text}) for text in content if not refusing]
    frames.append(chunk({}, finish_reason))
    if usage is not None:
        frames.append({**head, "choices": [], "usage": usage, "obfuscation": "stub"})
    return frames


def openai_body(
    content: str | None, *, model: str, finish_reason: str = "stop", refusal: str | None = None
) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": content, "refusal": refusal, "annotations": []}
    return {
        "id": "chatcmpl-stub",
        "object": "chat.completion",
        "created": CREATED,
        "model": model,
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish_reason}],
        "usage": USAGE,
        "service_tier": "default",
        "system_fingerprint": "fp_stub",
    }


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


# --- the gateways' refusals -----------------------------------------------------------------------------


class Rejected(Exception):
    def __init__(self, status: int, code: str, message: str, param: str | None = None) -> None:
        super().__init__(code)
        self.status, self.code, self.message, self.param = status, code, message, param


def jangar_check(body: Any, headers: dict[str, str], models: tuple[str, ...], require_header: bool) -> None:
    """Jangar's `parseRequest`, `resolveChatClientKind` and model checks, in its order."""
    if not isinstance(body, dict):
        raise Rejected(400, "invalid_json", "Invalid JSON body")
    messages = body.get("messages")
    shape_ok = (
        isinstance(messages, list)
        and all(
            isinstance(m, dict) and isinstance(m.get("role"), str) and isinstance(m.get("name", ""), str)
            for m in messages
        )
        and isinstance(body.get("model", ""), str)
        and isinstance(body.get("stream", False), bool)
        and _jangar_stream_options_ok(body.get("stream_options"))
    )
    if not shape_ok:
        raise Rejected(400, "invalid_request_error", "Expected ChatRequest, actual body does not match")
    if not messages:
        raise Rejected(400, "messages_required", "`messages` must be a non-empty array")
    if body.get("stream") is not True:
        raise Rejected(400, "stream_required", "`stream` must be true for streaming responses")
    lowered = {k.lower(): v for k, v in headers.items()}
    trade = lowered.get("x-trade-execution")
    if trade is not None and trade.strip().lower() != "torghut":
        raise Rejected(
            400, "invalid_trade_execution_header", "`x-trade-execution` must be 'torghut' when provided"
        )
    if trade is None and lowered.get("x-jangar-client-kind", "").strip().lower() == "trade-execution":
        raise Rejected(
            400,
            "deprecated_trade_execution_header",
            "`x-jangar-client-kind: trade-execution` is no longer supported; "
            "use `x-trade-execution: torghut`",
        )
    if trade is None and require_header:
        raise Rejected(400, "trade_execution_header_missing", "stub: send `x-trade-execution: torghut`")
    if trade is not None and not body.get("model"):
        raise Rejected(400, "model_required", "`model` is required when using `x-trade-execution: torghut`")
    model = body.get("model") or models[0]
    if model not in models:
        raise Rejected(400, "model_not_found", f"Unknown model '{model}'. See /openai/v1/models.")


def _jangar_stream_options_ok(options: Any) -> bool:
    if options is None:
        return True
    return isinstance(options, dict) and all(
        isinstance(options.get(k, False), bool) for k in ("include_usage", "include_plan")
    )


def openai_check(body: Any, headers: dict[str, str]) -> None:
    lowered = {k.lower(): v for k, v in headers.items()}
    if not lowered.get("authorization", "").startswith("Bearer "):
        raise Rejected(401, "missing_api_key", "You didn't provide an API key.")
    if not isinstance(body, dict):
        raise Rejected(400, "invalid_json", "We could not parse the JSON body of your request.")
    for name in sorted(set(body) - OPENAI_FIELDS):
        raise Rejected(400, "unknown_parameter", f"Unknown parameter: '{name}'.", name)
    options = body.get("stream_options")
    if options is not None:
        if body.get("stream") is not True:
            raise Rejected(
                400,
                "invalid_value",
                "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
                "stream_options",
            )
        for name in sorted(set(options) - OPENAI_STREAM_OPTIONS):
            param = f"stream_options.{name}"
            raise Rejected(400, "unknown_parameter", f"Unknown parameter: '{param}'.", param)
    if not isinstance(body.get("messages"), list) or not body["messages"] or not body.get("model"):
        raise Rejected(400, "invalid_request_error", "'messages' and 'model' are required.")
    if REASONING_MODEL.match(str(body["model"])):
        if "max_tokens" in body:
            raise Rejected(
                400,
                "unsupported_parameter",
                "Unsupported parameter: 'max_tokens' is not supported with this model. "
                "Use 'max_completion_tokens' instead.",
                "max_tokens",
            )
        if "temperature" in body and body["temperature"] != 1:
            raise Rejected(
                400,
                "unsupported_value",
                f"Unsupported value: 'temperature' does not support {body['temperature']} with this "
                "model. Only the default (1) value is supported.",
                "temperature",
            )


# --- the server -------------------------------------------------------------------------------------


def _handler_for(stub: LlmStub) -> type[BaseHTTPRequestHandler]:
    class Handler(StubRequestHandler):
        def do_POST(self) -> None:
            body = self._json_body()
            stub.requests.append(RecordedRequest(self.path, dict(self.headers.items()), body))
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self._complete(body)

        def _complete(self, body: Any) -> None:
            path = "/openai/v1/chat/completions" if stub.gateway == JANGAR else "/v1/chat/completions"
            if self.path != path:
                self._reply(404, "application/json", b'{"error": {"message": "not found"}}')
                return
            try:
                if stub.gateway == JANGAR:
                    jangar_check(body, dict(self.headers.items()), stub.models, stub.require_trade_header)
                else:
                    openai_check(body, dict(self.headers.items()))
            except Rejected as exc:
                stub.rejections.append(exc.code)
                self._reject(exc.status, exc.code, exc.message, exc.param)
                return
            mode = stub._next_mode()
            if mode.startswith(REPLAY):
                status, _, name = mode.removeprefix(REPLAY).partition(":")
                kind = "text/event-stream" if name.endswith(".sse") else "application/json"
                self._reply(int(status), kind, fixture(name))
                return
            streamed = body.get("stream") is True
            model = str(body["model"]) if stub.gateway == JANGAR else stub.served_model
            if mode == "slow":
                stub.stopping.wait(stub.delay_seconds)
            if mode == "http_500":
                stub.rejections.append("internal_error")
                self._reject(500, "internal_error", "Unknown error", None)
            elif not streamed:
                self._reply(200, "application/json", _json(self._body_for(mode, body, model)).encode())
            else:
                self._stream(self._events(mode, body, model), trickle=mode == "trickle")

        def _events(self, mode: str, body: Any, model: str) -> list[bytes]:
            jangar = stub.gateway == JANGAR
            fixed = {
                "garbage_stream": "garbage.sse",
                "error_frame": "jangar_stream_error_frame.sse",
                "content_filter": "openai_stream_content_filter.sse",
                "length": "openai_stream_length.sse",
            }
            if mode in fixed:
                return [fixture(fixed[mode])]
            if mode == "refusal" and not jangar:
                return [fixture("openai_stream_refusal.sse")]
            if mode == "bad_envelope":
                return [sse([{"id": "chatcmpl-stub", "object": "chat.completion.chunk", "usage": USAGE}])]
            text = JANGAR_REFUSAL_TEXT if mode == "refusal" else answer(mode, decision_of(body))
            if jangar:
                notes = [_rate_limit_note()] if mode == "rate_limits" else []
                frames = jangar_frames(pieces(text), model=model, notes=notes)
            else:
                frames = openai_frames(pieces(text), model=model)
            events = [f"data: {_json(f)}\n\n".encode() for f in frames]
            return events if mode == "cut_stream" else [*events, b"data: [DONE]\n\n"]

        def _body_for(self, mode: str, body: Any, model: str) -> dict[str, Any]:
            if mode == "bad_envelope":
                return {"object": "chat.completion", "model": model}
            if mode == "refusal":
                return json.loads(fixture("openai_json_refusal.json"))  # type: ignore[no-any-return]
            if mode == "length":
                return json.loads(fixture("openai_json_length.json"))  # type: ignore[no-any-return]
            if mode == "content_filter":
                return openai_body(None, model=model, finish_reason="content_filter")
            if mode in ("garbage_stream", "cut_stream"):
                return {"error": {"message": "stub: no such non-streamed answer", "type": "server_error"}}
            return openai_body(answer(mode, decision_of(body)), model=model)

        def _reject(self, status: int, code: str, message: str, param: str | None) -> None:
            if stub.gateway == JANGAR:
                kind = "internal" if status >= 500 else "invalid_request_error"
                frame = {"error": {"message": message, "type": kind, "code": code}}
                self._reply(status, "text/event-stream", sse([frame]))
            else:
                kind = "server_error" if status >= 500 else "invalid_request_error"
                error = {"message": message, "type": kind, "param": param, "code": code}
                self._reply(status, "application/json", _json({"error": error}).encode())

        def _reply(self, status: int, content_type: str, payload: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def _stream(self, events: list[bytes], *, trickle: bool) -> None:
            """Chunked transfer encoding, one event per chunk, as Jangar (Bun) and OpenAI send it."""
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for event in self._with_keepalives(events, trickle):
                self._chunk(event)
            self._chunk(b"")

        def _with_keepalives(self, events: list[bytes], trickle: bool) -> Iterator[bytes]:
            if trickle:
                until = time.monotonic() + stub.delay_seconds
                while time.monotonic() < until and not stub.stopping.is_set():
                    yield b": keepalive\n\n"
                    stub.stopping.wait(stub.trickle_seconds)
            yield from events

        def _chunk(self, data: bytes) -> None:
            self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            self.wfile.flush()

    return Handler


def _rate_limit_note() -> str:
    """Jangar's `toRateLimitMarkdown` block as it streams it (`\\n\\n{markdown}\\n\\n`)."""
    return "\n\n> **Rate limits**\n> Plan: pro\n> Primary: 88% left · 5h window\n\n"
