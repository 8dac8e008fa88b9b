"""A stub OpenAI-compatible endpoint on 127.0.0.1 for tests of the LLM advisory client and assets.

    with LlmStub() as stub:               # listens on an ephemeral port; base URL is stub.url
        stub.mode = "malformed"           # every completion now answers with broken JSON
        stub.script("slow", "ok")         # ...except the next two, in that order
        stub.requests[-1].body["max_tokens"]

Modes (`stub.mode`, or one-shot via `stub.script`) for `POST /chat/completions`:
  ok                approve, confidence 0.9
  veto, abstain, escalate
  low_confidence    approve, confidence 0.1
  adjust            adjusted_qty = 75 % of the decision's qty (within bounds), order type unchanged
  out_of_bounds     adjusted_qty = 10 x the decision's qty and order type "stop"
  malformed         the message content is not JSON
  schema_violation  valid JSON that breaks the schema (unknown verdict, confidence 7, extra key)
  slow              a correct answer after `delay_seconds`
  http_500          500 with an error body
  bad_envelope      200 whose body has no choices
The decision is read from the user message (the canonical JSON the advisory sends).
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from torghut_assets_tests.adapters.stub_server import StubRequestHandler, StubServer

MODES = frozenset(
    {
        "ok",
        "veto",
        "abstain",
        "escalate",
        "low_confidence",
        "adjust",
        "out_of_bounds",
        "malformed",
        "schema_violation",
        "slow",
        "http_500",
        "bad_envelope",
    }
)


@dataclass(frozen=True)
class RecordedRequest:
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class LlmStub(StubServer[str]):
    mode: str = "ok"
    delay_seconds: float = 1.0
    served_model: str = "stub-model-2026-01"
    requests: list[RecordedRequest] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"{self.base_url}/v1"

    @property
    def completions(self) -> int:
        return len([r for r in self.requests if r.path.endswith("/chat/completions")])

    def script(self, *modes: str) -> None:
        unknown = set(modes) - MODES
        if unknown:
            raise ValueError(f"unknown modes {sorted(unknown)}")
        self._queue(*modes)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        return _handler_for(self)

    def _next_mode(self) -> str:
        mode = self._next_scripted(self.mode)
        if mode not in MODES:
            raise ValueError(f"unknown LlmStub mode {mode!r}")
        return mode


def _decision(body: Any) -> dict[str, Any]:
    try:
        user = next(m["content"] for m in body["messages"] if m["role"] == "user")
        decision = json.loads(user)
    except (KeyError, TypeError, StopIteration, ValueError):
        return {}
    return decision if isinstance(decision, dict) else {}


def _answer(mode: str, decision: dict[str, Any]) -> str:
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


def _handler_for(stub: LlmStub) -> type[BaseHTTPRequestHandler]:
    class Handler(StubRequestHandler):
        def do_POST(self) -> None:
            body = self._json_body()
            stub.requests.append(RecordedRequest(self.path, dict(self.headers.items()), body))
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self._complete(body)

        def _complete(self, body: Any) -> None:
            if not self.path.endswith("/chat/completions"):
                self._send(404, b'{"error": "not found"}')
                return
            mode = stub._next_mode()
            if mode == "http_500":
                self._send(500, b'{"error": {"message": "stub http_500"}}')
                return
            if mode == "bad_envelope":
                self._send(200, b'{"object": "chat.completion"}')
                return
            if mode == "slow":
                stub.stopping.wait(stub.delay_seconds)
            content = _answer(mode, _decision(body))
            envelope = {
                "id": "chatcmpl-stub",
                "object": "chat.completion",
                "model": stub.served_model,
                "choices": [
                    {
                        "index": 0,
                        "finish_reason": "stop",
                        "message": {"role": "assistant", "content": content},
                    }
                ],
                "usage": {"prompt_tokens": 150, "completion_tokens": 40, "total_tokens": 190},
            }
            self._send(200, json.dumps(envelope).encode())

    return Handler
