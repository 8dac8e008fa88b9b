"""An OpenAI-compatible chat-completions client for the LLM advisory: HTTP, nothing more.

`POST {base_url}/chat/completions` with the model, the two messages, a token limit and a JSON
`response_format`, answered either as one JSON body or as a server-sent-event stream. Two wire dialects
(`gateway`), after the reference (`services/torghut/app/trading/llm/client.py`, proompteng/lab):

- `jangar` (default: what the reference deploys, `LLM_PROVIDER=jangar`): Jangar's
  `/openai/v1/chat/completions` answers **only** `stream: true` (`stream_required` otherwise) and routes a
  request sent with `x-trade-execution: torghut` to its stateless trade-execution workspace. The body
  also asks for usage (`stream_options.include_usage`) and no plan markdown (`include_plan: false`);
  a rate-limit note Jangar writes into the content is set aside (`gateway_notes`), not parsed as the
  answer.
- `openai`: the plain Chat Completions API, streamed or not (`stream`).

The token limit goes out as `max_completion_tokens` for models that refuse `max_tokens` (the o-series
and gpt-5 reasoning families, which also take no `temperature`), else as `max_tokens`;
`token_limit_field` overrides the choice.

It returns the raw answer text with the refusal (`message.refusal` / `delta.refusal`), the finish
reason, token usage and latency; judging the answer (a refusal, a truncated or malformed one) is
`domain.llm_advisory`'s job. A refusal is an answer, not an error. Every failure leaves as an
`LLMTransportError` with a stable code (`timeout`, `network_error`, `http_<status>`, `invalid_envelope`,
`invalid_stream`, `stream_incomplete`, `gateway_error`, `response_too_large`, ...). Nothing is retried:
the circuit breaker and the fail mode decide what an error means, and a retry would only spend the
token and time budgets twice. `timeout_seconds` bounds the whole call: each socket read waits at most
for what is left of it, so a stream trickling keep-alives (Jangar sends one every 5 s) cannot outlast it.

The API key travels in the Authorization header only; it is never logged, repr'd or put in an error.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import requests
import urllib3.exceptions

from torghut_assets.adapters.http_session import PooledHttpClient
from torghut_assets.domain.llm_advisory import FINISH_CONTENT_FILTER, FINISH_LENGTH, RESPONSE_JSON_SCHEMA

RESPONSE_FORMATS = ("json_object", "json_schema")
GATEWAY_JANGAR = "jangar"
GATEWAY_OPENAI = "openai"
GATEWAYS = (GATEWAY_JANGAR, GATEWAY_OPENAI)
TOKEN_LIMIT_AUTO = "auto"
TOKEN_LIMIT_FIELDS = (TOKEN_LIMIT_AUTO, "max_tokens", "max_completion_tokens")
TRADE_EXECUTION_HEADER = "x-trade-execution"
TRADE_EXECUTION_CLIENT = "torghut"
REASONING_MODEL = re.compile(r"^(o\d|gpt-5)")
"""Model names (after any `provider/` prefix) whose API refuses `max_tokens` and `temperature`."""
MAX_BODY_BYTES = 1 << 20
_READ_CHUNK_BYTES = 8192
_EXCERPT_CHARS = 200
_JANGAR_RATE_LIMIT_NOTE = re.compile(r"^\s*> \*\*Rate limits\*\*")


class LLMTransportError(RuntimeError):
    """The endpoint gave no usable envelope. `latency_ms` is how long the attempt took;
    `gateway_code` is the endpoint's own error code when its error body or frame named one."""

    def __init__(self, code: str, detail: str, latency_ms: float, gateway_code: str | None = None) -> None:
        super().__init__(f"llm {code}: {detail}")
        self.code = code
        self.detail = detail
        self.latency_ms = latency_ms
        self.gateway_code = gateway_code


@dataclass(frozen=True)
class Completion:
    """One answer. `text` is the content (empty when the model only refused); `refusal` the refusal
    message when there was one; `finish_reason` as the endpoint reported it (`stop`, `length`,
    `content_filter`, ...). Token counts are None when the endpoint sent no usage."""

    text: str
    served_model: str | None
    prompt_tokens: int | None
    completion_tokens: int | None
    latency_ms: float
    finish_reason: str | None
    refusal: str | None = None
    streamed: bool = False
    gateway_notes: tuple[str, ...] = ()

    @property
    def refused(self) -> bool:
        return self.refusal is not None or self.finish_reason == FINISH_CONTENT_FILTER

    @property
    def truncated(self) -> bool:
        return self.finish_reason == FINISH_LENGTH


def is_reasoning_model(model: str) -> bool:
    return bool(REASONING_MODEL.match(model.rsplit("/", 1)[-1].strip().lower()))


def token_limit_field(setting: str, model: str) -> str:
    """`max_completion_tokens` or `max_tokens` for `model` under `LLM_TOKEN_LIMIT_FIELD=setting`."""
    if setting != TOKEN_LIMIT_AUTO:
        return setting
    return "max_completion_tokens" if is_reasoning_model(model) else "max_tokens"


class OpenAICompatibleClient(PooledHttpClient):
    """One endpoint and model. `timeout_seconds` bounds the whole call (connect, headers and a body or
    stream trickled byte by byte); `connect_timeout_seconds` (at most the total) bounds the connect."""

    def __init__(
        self,
        *,
        base_url: str,
        model: str,
        api_key: str | None = None,
        timeout_seconds: float = 20.0,
        connect_timeout_seconds: float = 5.0,
        max_tokens: int = 300,
        response_format: str = "json_object",
        gateway: str = GATEWAY_JANGAR,
        stream: bool = True,
        token_limit: str = TOKEN_LIMIT_AUTO,
        session: requests.Session | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not base_url or not base_url.strip().lower().startswith(("http://", "https://")):
            raise ValueError(f"LLM base URL must be http(s)://..., got {base_url!r}")
        if not model:
            raise ValueError("LLM model is required")
        if timeout_seconds <= 0 or connect_timeout_seconds <= 0:
            raise ValueError("LLM timeouts must be positive")
        if max_tokens < 1:
            raise ValueError("max_tokens must be >= 1")
        if response_format not in RESPONSE_FORMATS:
            raise ValueError(f"response_format must be one of {RESPONSE_FORMATS}, got {response_format!r}")
        if gateway not in GATEWAYS:
            raise ValueError(f"gateway must be one of {GATEWAYS}, got {gateway!r}")
        if token_limit not in TOKEN_LIMIT_FIELDS:
            raise ValueError(f"token_limit must be one of {TOKEN_LIMIT_FIELDS}, got {token_limit!r}")
        if gateway == GATEWAY_JANGAR and not stream:
            raise ValueError("the jangar gateway answers only streamed requests (stream must be true)")
        self.url = f"{base_url.strip().rstrip('/')}/chat/completions"
        self.model = model
        self.timeout_seconds = float(timeout_seconds)
        self.connect_timeout_seconds = min(float(connect_timeout_seconds), self.timeout_seconds)
        self.max_tokens = max_tokens
        self.response_format = response_format
        self.gateway = gateway
        self.stream = stream
        self.token_limit_field = token_limit_field(token_limit, model)
        self._api_key = api_key or None
        self._clock = clock
        super().__init__(session)

    def __repr__(self) -> str:
        return (
            f"OpenAICompatibleClient(url={self.url!r}, model={self.model!r}, gateway={self.gateway!r}, "
            f"stream={self.stream!r})"
        )

    def request_body(self, system: str, user: str) -> dict[str, Any]:
        response_format: dict[str, Any] = {"type": "json_object"}
        if self.response_format == "json_schema":
            response_format = {
                "type": "json_schema",
                "json_schema": {"name": "trade_review", "strict": True, "schema": RESPONSE_JSON_SCHEMA},
            }
        body: dict[str, Any] = {
            "model": self.model,
            "messages": [{"role": "system", "content": system}, {"role": "user", "content": user}],
            self.token_limit_field: self.max_tokens,
            "response_format": response_format,
        }
        if not is_reasoning_model(self.model):
            body["temperature"] = 0
        if self.stream:
            body["stream"] = True
            body["stream_options"] = {"include_usage": True}
            if self.gateway == GATEWAY_JANGAR:
                body["stream_options"]["include_plan"] = False
        return body

    def request_headers(self) -> dict[str, str]:
        headers = {
            "Accept": "text/event-stream" if self.stream else "application/json",
            "Content-Type": "application/json",
        }
        if self.gateway == GATEWAY_JANGAR:
            headers[TRADE_EXECUTION_HEADER] = TRADE_EXECUTION_CLIENT
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        return headers

    def complete(self, system: str, user: str) -> Completion:
        started = self._clock()
        deadline = started + self.timeout_seconds
        try:
            with self._session.post(
                self.url,
                data=json.dumps(self.request_body(system, user)),
                headers=self.request_headers(),
                timeout=(self.connect_timeout_seconds, self.timeout_seconds),
                stream=True,
                allow_redirects=False,
            ) as response:
                chunks = self._chunks(response, deadline, started)
                if not 200 <= response.status_code < 300:
                    raise _http_error(response.status_code, b"".join(chunks), self._elapsed_ms(started))
                if _is_event_stream(response):
                    return self._streamed(chunks, started)
                return self._enveloped(b"".join(chunks), started)
        except LLMTransportError:
            raise
        except (requests.Timeout, urllib3.exceptions.TimeoutError, TimeoutError) as exc:
            raise self._error("timeout", f"no answer within {self.timeout_seconds:g}s", started) from exc
        except (
            requests.ConnectionError,
            requests.exceptions.ChunkedEncodingError,
            urllib3.exceptions.ProtocolError,
        ) as exc:
            if isinstance(exc, requests.ConnectionError) and any(
                isinstance(arg, urllib3.exceptions.TimeoutError) for arg in exc.args
            ):
                raise self._error("timeout", f"no answer within {self.timeout_seconds:g}s", started) from exc
            raise self._error("network_error", type(exc).__name__, started) from exc
        except (requests.RequestException, urllib3.exceptions.HTTPError) as exc:
            raise self._error("http_error", type(exc).__name__, started) from exc

    # --- one JSON body -----------------------------------------------------------------------------

    def _enveloped(self, content: bytes, started: float) -> Completion:
        latency_ms = self._elapsed_ms(started)
        text = content.decode("utf-8", errors="replace")
        try:
            envelope = json.loads(text)
        except ValueError as exc:
            raise LLMTransportError("invalid_envelope", text[:_EXCERPT_CHARS], latency_ms) from exc
        if isinstance(envelope, Mapping) and envelope.get("error") is not None:
            code, detail = _error_of(envelope["error"])
            raise LLMTransportError("gateway_error", detail, latency_ms, code)
        choices = envelope.get("choices") if isinstance(envelope, Mapping) else None
        first = choices[0] if isinstance(choices, list) and choices else None
        message = first.get("message") if isinstance(first, Mapping) else None
        if not isinstance(first, Mapping) or not isinstance(message, Mapping):
            raise LLMTransportError("invalid_envelope", "no choices[0].message object", latency_ms)
        content_text, refusal = message.get("content"), message.get("refusal")
        finish = first.get("finish_reason")
        finish = finish if isinstance(finish, str) else None
        refusal = refusal if isinstance(refusal, str) else None
        if not isinstance(content_text, str) and refusal is None and finish != FINISH_CONTENT_FILTER:
            raise LLMTransportError(
                "invalid_envelope", "choices[0].message has neither content nor refusal", latency_ms
            )
        usage = envelope.get("usage")
        served = envelope.get("model")
        return Completion(
            text=content_text if isinstance(content_text, str) else "",
            served_model=served if isinstance(served, str) else None,
            prompt_tokens=_count(usage, "prompt_tokens"),
            completion_tokens=_count(usage, "completion_tokens"),
            latency_ms=latency_ms,
            finish_reason=finish,
            refusal=refusal,
        )

    # --- a server-sent-event stream ----------------------------------------------------------------

    def _streamed(self, chunks: Iterator[bytes], started: float) -> Completion:
        stream = _StreamState(drop_rate_limit_notes=self.gateway == GATEWAY_JANGAR)
        decoder = _EventDecoder()
        try:
            for chunk in chunks:
                for data in decoder.feed(chunk):
                    if stream.take(data):
                        return stream.completion(self._elapsed_ms(started))
        except _StreamError as exc:
            raise self._error(exc.code, exc.detail, started, exc.gateway_code) from exc
        raise self._error("stream_incomplete", "stream ended before data: [DONE]", started)

    # --- reading ---------------------------------------------------------------------------------------

    def _chunks(self, response: requests.Response, deadline: float, started: float) -> Iterator[bytes]:
        """The body in single socket reads, each allowed only what is left of the deadline: requests'
        own read timeout bounds one read, which a server trickling bytes or keep-alives never trips."""
        raw = response.raw
        if not hasattr(raw, "read1"):
            yield response.content
            return
        sock = getattr(getattr(raw, "connection", None), "sock", None)
        received = 0
        while True:
            remaining = deadline - self._clock()
            if remaining <= 0:
                raise self._error("timeout", f"answer not complete within {self.timeout_seconds:g}s", started)
            if sock is not None and hasattr(sock, "settimeout"):
                sock.settimeout(remaining)
            chunk = raw.read1(_READ_CHUNK_BYTES, decode_content=True)
            if not chunk:
                return
            received += len(chunk)
            if received > MAX_BODY_BYTES:
                raise self._error("response_too_large", f"more than {MAX_BODY_BYTES} bytes", started)
            yield chunk

    def _elapsed_ms(self, started: float) -> float:
        return round((self._clock() - started) * 1000.0, 3)

    def _error(
        self, code: str, detail: str, started: float, gateway_code: str | None = None
    ) -> LLMTransportError:
        return LLMTransportError(code, detail, self._elapsed_ms(started), gateway_code)


class _EventDecoder:
    """Server-sent events (the WHATWG HTML Living Standard's "Server-sent events"): lines end in LF, CR
    or CRLF; `data:` lines accumulate, a blank line dispatches them joined by LF; comments (`: keepalive`)
    and other fields are ignored."""

    def __init__(self) -> None:
        self._pending = b""
        self._data: list[str] = []

    def feed(self, chunk: bytes) -> Iterator[str]:
        self._pending += chunk
        while True:
            match = re.search(rb"\r\n|\r|\n", self._pending)
            if match is None or (match.group() == b"\r" and match.end() == len(self._pending)):
                return  # a lone CR at the end may be the first half of CRLF
            line = self._pending[: match.start()].decode("utf-8", errors="replace")
            self._pending = self._pending[match.end() :]
            if not line:
                if self._data:
                    yield "\n".join(self._data)
                    self._data = []
                continue
            name, _, value = line.partition(":")
            if name == "data":
                self._data.append(value[1:] if value.startswith(" ") else value)


class _StreamError(Exception):
    def __init__(self, code: str, detail: str, gateway_code: str | None = None) -> None:
        super().__init__(code)
        self.code = code
        self.detail = detail
        self.gateway_code = gateway_code


@dataclass
class _StreamState:
    """What the frames of one stream add up to (choice 0 only: one completion is asked for)."""

    drop_rate_limit_notes: bool
    content: list[str] = field(default_factory=list)
    refusal: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    finish_reason: str | None = None
    served_model: str | None = None
    usage: Mapping[str, Any] | None = None
    saw_choice: bool = False

    def take(self, data: str) -> bool:
        """Fold one event's data in; True at `[DONE]`. A frame that is not a JSON object, or an error
        frame, ends the stream as an error (the OpenAI SDK's stream decoder does the same)."""
        if data.strip() == "[DONE]":
            if not self.saw_choice:
                raise _StreamError("invalid_stream", "stream ended without a choice")
            return True
        try:
            frame = json.loads(data)
        except ValueError as exc:
            raise _StreamError("invalid_stream", f"frame is not JSON: {data[:_EXCERPT_CHARS]!r}") from exc
        if not isinstance(frame, Mapping):
            raise _StreamError("invalid_stream", f"frame is not an object: {data[:_EXCERPT_CHARS]!r}")
        if frame.get("error") is not None:
            code, detail = _error_of(frame["error"])
            raise _StreamError("gateway_error", detail, code)
        if isinstance(frame.get("model"), str):
            self.served_model = frame["model"]
        if isinstance(frame.get("usage"), Mapping):
            self.usage = frame["usage"]
        choices = frame.get("choices")
        if choices is None:
            return False
        if not isinstance(choices, list):
            raise _StreamError("invalid_stream", "frame's choices is not a list")
        for choice in choices:
            if isinstance(choice, Mapping) and choice.get("index", 0) == 0:
                self._choice(choice)
        return False

    def _choice(self, choice: Mapping[str, Any]) -> None:
        self.saw_choice = True
        for key in ("delta", "message"):
            part = choice.get(key)
            if not isinstance(part, Mapping):
                continue
            text = part.get("content")
            if isinstance(text, str) and text:
                if self.drop_rate_limit_notes and _JANGAR_RATE_LIMIT_NOTE.match(text):
                    self.notes.append(text.strip())
                else:
                    self.content.append(text)
            refusal = part.get("refusal")
            if isinstance(refusal, str):
                self.refusal.append(refusal)
        if isinstance(choice.get("finish_reason"), str):
            self.finish_reason = choice["finish_reason"]

    def completion(self, latency_ms: float) -> Completion:
        refusal = "".join(self.refusal)
        return Completion(
            text="".join(self.content),
            served_model=self.served_model,
            prompt_tokens=_count(self.usage, "prompt_tokens"),
            completion_tokens=_count(self.usage, "completion_tokens"),
            latency_ms=latency_ms,
            finish_reason=self.finish_reason,
            refusal=refusal if refusal.strip() else None,
            streamed=True,
            gateway_notes=tuple(self.notes),
        )


def _is_event_stream(response: requests.Response) -> bool:
    return "text/event-stream" in response.headers.get("Content-Type", "").lower()


def _error_of(error: Any) -> tuple[str | None, str]:
    """(code, "code: message") of an OpenAI-style `error` member (an object, or a bare string)."""
    if isinstance(error, Mapping):
        code = error.get("code") or error.get("type")
        message = error.get("message")
        code_text = str(code) if code is not None else None
        text = ": ".join(str(part) for part in (code_text, message) if part)
        return code_text, (text or json.dumps(error, default=str))[:_EXCERPT_CHARS]
    return None, str(error)[:_EXCERPT_CHARS]


def _http_error(status: int, content: bytes, latency_ms: float) -> LLMTransportError:
    """`http_<status>`, with the gateway's error code when its body (JSON, or Jangar's SSE error frame
    followed by `[DONE]`) names one."""
    text = content.decode("utf-8", errors="replace")
    candidates = [text]
    decoder = _EventDecoder()
    candidates += list(decoder.feed(content + b"\n\n"))
    for candidate in candidates:
        try:
            body = json.loads(candidate)
        except ValueError:
            continue
        if isinstance(body, Mapping) and body.get("error") is not None:
            code, detail = _error_of(body["error"])
            return LLMTransportError(f"http_{status}", detail, latency_ms, code)
    return LLMTransportError(f"http_{status}", text[:_EXCERPT_CHARS], latency_ms)


def _count(usage: Any, key: str) -> int | None:
    value = usage.get(key) if isinstance(usage, Mapping) else None
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None
