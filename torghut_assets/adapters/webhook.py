"""POST a JSON message to an incoming-webhook URL (Slack or compatible): HTTP, nothing more.

A webhook URL is a bearer credential (whoever holds it can post to the channel), so it never leaves
this module: failures carry a stable code (`timeout`, `network_error`, `http_<status>`, `redirect`) and
the start of the response body with the URL scrubbed, never the exception text of the HTTP library,
which quotes the URL. Nothing is retried here; the alert ledger decides when to try again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import requests

_EXCERPT_CHARS = 120


class WebhookError(RuntimeError):
    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(f"webhook {code}" + (f": {detail}" if detail else ""))
        self.code = code
        self.detail = detail


@dataclass(frozen=True)
class WebhookClient:
    url: str
    timeout_seconds: float = 5.0
    connect_timeout_seconds: float = 3.0

    def __post_init__(self) -> None:
        if not self.url.strip().lower().startswith(("http://", "https://")):
            raise ValueError("alert webhook URL must be http(s)://...")
        if self.timeout_seconds <= 0 or self.connect_timeout_seconds <= 0:
            raise ValueError("webhook timeouts must be positive")

    def __repr__(self) -> str:
        return f"WebhookClient(url=<redacted>, timeout_seconds={self.timeout_seconds})"

    def post(self, payload: dict[str, Any]) -> None:
        """Deliver or raise `WebhookError`; any 2xx is delivered."""
        try:
            response = requests.post(
                self.url.strip(),
                json=payload,
                timeout=(min(self.connect_timeout_seconds, self.timeout_seconds), self.timeout_seconds),
                allow_redirects=False,
            )
        except requests.Timeout:
            raise WebhookError("timeout") from None
        except requests.RequestException:
            raise WebhookError("network_error") from None
        if 300 <= response.status_code < 400:
            raise WebhookError("redirect", str(response.status_code))
        if not 200 <= response.status_code < 300:
            excerpt = response.text[:_EXCERPT_CHARS].replace(self.url.strip(), "<webhook>")
            raise WebhookError(f"http_{response.status_code}", excerpt)
