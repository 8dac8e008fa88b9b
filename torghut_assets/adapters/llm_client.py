"""An OpenAI-compatible chat-completions client for the LLM advisory (domain.md §12): HTTP, nothing more.

`POST {base_url}/chat/completions` with the model, the two messages, `max_tokens`, temperature 0 and a
JSON `response_format`. It returns the raw answer text with token usage and latency; judging the
answer is `domain.llm_advisory`'s job. Every failure leaves as an `LLMTransportError` with a stable
code (`timeout`, `network_error`, `http_<status>`, `invalid_envelope`, ...). Nothing is retried: the
circuit breaker and the fail mode decide what an error means, and a retry loop would only spend the
token and time budgets twice.

The API key travels in the Authorization header only; it is never logged, repr'd or put in an error.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import requests
import urllib3.exceptions

from torghut_assets.adapters.http_session import PooledHttpClient
from torghut_assets.domain.llm_advisory import RESPONSE_JSON_SCHEMA

RESPONSE_FORMATS = ("json_object", "json_schema")
_READ_CHUNK_BYTES = 8192
_EXCERPT_CHARS = 200


class LLMTransportError(RuntimeError):
    """The endpoint gave no usable envelope. `latency_ms` is how long the attempt took."""

    def __init__(self, code: str, detail: str, latency_ms: float) -> None:
        super().__init__(f"llm {code}: {detail}")
        self.code = code
        self.detail = detail
        self.latency_ms = latency_ms


@dataclass(frozen=True)
class Completion:
    text: str
    served_model: str | None
    prompt_tokens: int | None
    completion_tokens: int | None
    latency_ms: float
    finish_reason: str | None


class OpenAICompatibleClient(PooledHttpClient):
    """One endpoint and model. `timeout_seconds` bounds the whole call (connect, headers and a body
    trickled byte by byte); `connect_timeout_seconds` (at most the total) bounds the connect alone."""

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
        self.url = f"{base_url.strip().rstrip('/')}/chat/completions"
        self.model = model
        self.timeout_seconds = float(timeout_seconds)
        self.connect_timeout_seconds = min(float(connect_timeout_seconds), self.timeout_seconds)
        self.max_tokens = max_tokens
        self.response_format = response_format
        self._api_key = api_key or None
        self._clock = clock
        super().__init__(session)

    def __repr__(self) -> str:
        return f"OpenAICompatibleClient(url={self.url!r}, model={self.model!r})"

    def request_body(self, system: str, user: str) -> dict[str, Any]:
        response_format: dict[str, Any] = {"type": "json_object"}
        if self.response_format == "json_schema":
            response_format = {
                "type": "json_schema",
                "json_schema": {"name": "trade_review", "strict": True, "schema": RESPONSE_JSON_SCHEMA},
            }
        return {
            "model": self.model,
            "messages": [{"role": "system", "content": system}, {"role": "user", "content": user}],
            "max_tokens": self.max_tokens,
            "temperature": 0,
            "response_format": response_format,
        }

    def complete(self, system: str, user: str) -> Completion:
        started = self._clock()
        deadline = started + self.timeout_seconds
        headers = {"Accept": "application/json", "Content-Type": "application/json"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        try:
            with self._session.post(
                self.url,
                data=json.dumps(self.request_body(system, user)),
                headers=headers,
                timeout=(self.connect_timeout_seconds, self.timeout_seconds),
                stream=True,
                allow_redirects=False,
            ) as response:
                status = response.status_code
                content = self._read_body(response, deadline, started)
        except LLMTransportError:
            raise
        except (requests.Timeout, urllib3.exceptions.TimeoutError) as exc:
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
        latency_ms = self._elapsed_ms(started)
        text = content.decode("utf-8", errors="replace")
        if not 200 <= status < 300:
            raise LLMTransportError(f"http_{status}", text[:_EXCERPT_CHARS], latency_ms)
        return self._completion(text, latency_ms)

    def _completion(self, text: str, latency_ms: float) -> Completion:
        try:
            envelope = json.loads(text)
        except ValueError as exc:
            raise LLMTransportError("invalid_envelope", text[:_EXCERPT_CHARS], latency_ms) from exc
        choices = envelope.get("choices") if isinstance(envelope, Mapping) else None
        first = choices[0] if isinstance(choices, list) and choices else None
        message = first.get("message") if isinstance(first, Mapping) else None
        content = message.get("content") if isinstance(message, Mapping) else None
        if not isinstance(content, str):
            raise LLMTransportError("invalid_envelope", "no choices[0].message.content string", latency_ms)
        usage = envelope.get("usage")
        usage = usage if isinstance(usage, Mapping) else {}
        served = envelope.get("model")
        finish = first.get("finish_reason") if isinstance(first, Mapping) else None
        return Completion(
            text=content,
            served_model=served if isinstance(served, str) else None,
            prompt_tokens=_count(usage.get("prompt_tokens")),
            completion_tokens=_count(usage.get("completion_tokens")),
            latency_ms=latency_ms,
            finish_reason=finish if isinstance(finish, str) else None,
        )

    def _read_body(self, response: requests.Response, deadline: float, started: float) -> bytes:
        """Single socket reads with the deadline checked between them (see `lean_runner._read_body`)."""
        raw = response.raw
        if not hasattr(raw, "read1"):
            return response.content
        chunks: list[bytes] = []
        while True:
            if self._clock() > deadline:
                raise self._error("timeout", f"answer not complete within {self.timeout_seconds:g}s", started)
            chunk = raw.read1(_READ_CHUNK_BYTES, decode_content=True)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)

    def _elapsed_ms(self, started: float) -> float:
        return round((self._clock() - started) * 1000.0, 3)

    def _error(self, code: str, detail: str, started: float) -> LLMTransportError:
        return LLMTransportError(code, detail, self._elapsed_ms(started))


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None
