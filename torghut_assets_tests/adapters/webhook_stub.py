"""A stub Slack incoming webhook on 127.0.0.1, in the style of `llm_stub` and `lean_stub`.

    with WebhookStub() as stub:          # listens on an ephemeral port; stub.url looks like Slack's
        stub.status = 500                # every post now answers 500
        stub.script(500, 200)            # ...except the next two, in that order
        stub.messages[-1]["text"]

The URL carries a secret-looking token path (as Slack's do) so tests can check it never leaks.
`slack_problems` checks a message against the Block Kit limits the alert sender must respect.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from torghut_assets_tests.adapters.stub_server import StubRequestHandler, StubServer

TOKEN_PATH = "/services/T0TORGHUT/B0ALERTS/s3cr3tW3bh00kT0k3nXyZ"
BLOCK_TYPES = frozenset({"header", "section", "context", "divider"})


@dataclass
class WebhookStub(StubServer[int]):
    status: int = 200
    messages: list[Any] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"{self.base_url}{TOKEN_PATH}"

    def script(self, *statuses: int) -> None:
        self._queue(*statuses)

    def texts(self) -> list[str]:
        return [str(m.get("text")) for m in self.messages if isinstance(m, dict)]

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        return _handler_for(self)


def _handler_for(stub: WebhookStub) -> type[BaseHTTPRequestHandler]:
    class Handler(StubRequestHandler):
        content_type = "text/plain"

        def do_POST(self) -> None:
            raw = self._body()
            status = 404 if self.path != TOKEN_PATH else stub._next_scripted(stub.status)
            if status == 200:
                try:
                    stub.messages.append(json.loads(raw))
                except ValueError:
                    status = 400
            body = b"ok" if status == 200 else b"invalid_payload" if status == 400 else b"server_error"
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self._send(status, body)

    return Handler


def slack_problems(message: Any) -> list[str]:
    """Why Slack would refuse or truncate this incoming-webhook message (empty when it is fine)."""
    if not isinstance(message, dict):
        return ["message is not a JSON object"]
    problems = []
    if not isinstance(message.get("text"), str) or not message["text"].strip():
        problems.append("`text` (the notification fallback) is missing")
    blocks = message.get("blocks")
    if not isinstance(blocks, list) or not 0 < len(blocks) <= 50:
        return [*problems, "`blocks` must be a list of 1..50 blocks"]
    for i, block in enumerate(blocks):
        kind = block.get("type")
        if kind not in BLOCK_TYPES:
            problems.append(f"block {i}: unknown type {kind!r}")
        elif kind == "header":
            text = block.get("text") or {}
            if text.get("type") != "plain_text" or not 0 < len(text.get("text", "")) <= 150:
                problems.append(f"block {i}: header needs plain_text of 1..150 characters")
        elif kind == "section":
            text, fields = block.get("text"), block.get("fields")
            if text is None and not fields:
                problems.append(f"block {i}: section without text or fields")
            if text is not None and not 0 < len(text.get("text", "")) <= 3000:
                problems.append(f"block {i}: section text must be 1..3000 characters")
            if fields is not None and (
                len(fields) > 10 or any(not 0 < len(f.get("text", "")) <= 2000 for f in fields)
            ):
                problems.append(f"block {i}: at most 10 fields of 1..2000 characters")
        elif kind == "context":
            elements = block.get("elements") or []
            if not 0 < len(elements) <= 10:
                problems.append(f"block {i}: context needs 1..10 elements")
    return problems
