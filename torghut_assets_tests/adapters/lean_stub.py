"""A stub LEAN runner on 127.0.0.1 for tests of the LEAN venue, the router and fallbacks.

    with LeanStub() as stub:            # listens on an ephemeral port
        venue = LeanRunnerVenue(base_url=stub.url, timeout_seconds=0.3)
        stub.mode = "http_503"          # every order endpoint now answers 503
        stub.script("timeout", "fill")  # ...except the next two order requests, in that order
        stub.health = "down"            # /healthz answers 503
        stub.requests[-1].headers["Idempotency-Key"]

Order modes (`stub.mode`, or one-shot via `stub.script`), applied to submit/get/list/cancel alike:
  fill, partial             accept; fill all / `partial_fraction` of qty at arrival_price ± slippage_bps
  accept                    accept without any fill (status "new")
  timeout                   the order IS placed, the answer comes after `delay_seconds` (an ambiguous
                            timeout, as in production: a fallback resubmission would double it)
  trickle                   headers at once, then the body one byte every `trickle_interval_seconds`
  http_503, http_400, http_404, http_500
  malformed_json, empty_body, drop_connection
  missing_id, wrong_symbol, wrong_client_order_id, wrong_side, negative_qty, overfill, bad_price
                            the order is placed; the answer breaks the contract in that one way
Health (`stub.health`): ok, down (503), degraded (200 status "degraded"), empty (200, no body), slow,
malformed.

Submissions honour `Idempotency-Key`: the same key returns the stored order, unchanged, and places
nothing new (`stub.orders` holds what was placed, `stub.submissions` counts distinct placements).
"""

from __future__ import annotations

import json
import math
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pandas as pd

from torghut_assets_tests.adapters.stub_server import StubRequestHandler, StubServer

ORDER_MODES = frozenset(
    {
        "fill",
        "partial",
        "accept",
        "timeout",
        "trickle",
        "http_400",
        "http_404",
        "http_500",
        "http_503",
        "malformed_json",
        "empty_body",
        "drop_connection",
        "missing_id",
        "wrong_symbol",
        "wrong_client_order_id",
        "wrong_side",
        "negative_qty",
        "overfill",
        "bad_price",
    }
)
HEALTH_MODES = frozenset({"ok", "down", "degraded", "empty", "slow", "malformed"})


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any


@dataclass
class LeanStub(StubServer[str]):
    mode: str = "fill"
    health: str = "ok"
    slippage_bps: float = 2.0
    partial_fraction: float = 0.5
    fees_per_share: float = 0.0
    delay_seconds: float = 1.0
    trickle_interval_seconds: float = 0.1
    requests: list[RecordedRequest] = field(default_factory=list)
    orders: dict[str, dict[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._by_key: dict[str, str] = {}

    @property
    def url(self) -> str:
        return self.base_url

    @property
    def submissions(self) -> int:
        return len(self.orders)

    def script(self, *modes: str) -> None:
        """Queue one-shot modes for the next order requests; `mode` applies once the queue is empty."""
        unknown = set(modes) - ORDER_MODES
        if unknown:
            raise ValueError(f"unknown modes {sorted(unknown)}")
        self._queue(*modes)

    def requests_to(self, path_prefix: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path.startswith(path_prefix)]

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        return _handler_for(self)

    def _next_mode(self) -> str:
        mode = self._next_scripted(self.mode)
        if mode not in ORDER_MODES:
            raise ValueError(f"unknown LeanStub mode {mode!r}")
        return mode

    def _fill(self, body: dict[str, Any], mode: str) -> dict[str, Any]:
        qty = int(body["qty"])
        side = str(body.get("side", "buy")).lower()
        if mode == "accept":
            filled = 0
        elif mode == "partial":
            filled = max(1, math.floor(qty * self.partial_fraction)) if qty > 1 else 0
        else:
            filled = qty
        arrival = float(body.get("arrival_price") or 100.0)
        direction = 1 if side == "buy" else -1
        price = round(arrival * (1 + direction * self.slippage_bps / 1e4), 4)
        limit = body.get("limit_price")
        if limit is not None:
            price = min(price, float(limit)) if side == "buy" else max(price, float(limit))
        status = "filled" if filled == qty else ("partially_filled" if filled else "new")
        return {
            "id": f"lean-{uuid.uuid4().hex[:16]}",
            "client_order_id": body.get("client_order_id"),
            "symbol": body.get("symbol"),
            "side": side,
            "qty": qty,
            "type": body.get("type", "market"),
            "time_in_force": body.get("time_in_force", "day"),
            "status": status,
            "filled_qty": filled,
            "filled_avg_price": price if filled else None,
            "filled_at": pd.Timestamp.now(tz="UTC").isoformat() if filled else None,
            "fees": round(self.fees_per_share * filled, 6),
        }

    def _submit(self, body: dict[str, Any], key: str | None, mode: str) -> dict[str, Any]:
        with self._lock:
            if key is not None and key in self._by_key:
                return self.orders[self._by_key[key]]
            order = self._fill(body, mode)
            self.orders[order["id"]] = order
            if key is not None:
                self._by_key[key] = order["id"]
            return order


def _corrupt(order: dict[str, Any], mode: str) -> dict[str, Any]:
    out = dict(order)
    if mode == "missing_id":
        out.pop("id")
    elif mode == "wrong_symbol":
        out["symbol"] = "ZZZZ"
    elif mode == "wrong_client_order_id":
        out["client_order_id"] = "someone-else"
    elif mode == "wrong_side":
        out["side"] = "sell" if out.get("side") == "buy" else "buy"
    elif mode == "negative_qty":
        out["qty"] = -abs(int(out["qty"]))
    elif mode == "overfill":
        out["filled_qty"] = int(out["qty"]) + 1
    elif mode == "bad_price":
        out["filled_avg_price"] = "n/a"
    return out


def _handler_for(stub: LeanStub) -> type[BaseHTTPRequestHandler]:
    class Handler(StubRequestHandler):
        def do_GET(self) -> None:
            self._handle("GET")

        def do_POST(self) -> None:
            self._handle("POST")

        def do_DELETE(self) -> None:
            self._handle("DELETE")

        def _handle(self, method: str) -> None:
            split = urlsplit(self.path)
            body = self._json_body()
            query = {k: v[-1] for k, v in parse_qs(split.query).items()}
            stub.requests.append(RecordedRequest(method, split.path, query, dict(self.headers.items()), body))
            try:
                if split.path == "/healthz":
                    self._health()
                else:
                    self._orders(method, split.path, query, body)
            except (BrokenPipeError, ConnectionResetError):
                pass

        def _health(self) -> None:
            mode = stub.health
            if mode not in HEALTH_MODES:
                raise ValueError(f"unknown LeanStub health {mode!r}")
            if mode == "slow":
                stub.stopping.wait(stub.delay_seconds)
            if mode == "down":
                self._send(503, b'{"status": "down"}')
            elif mode == "degraded":
                self._send(200, b'{"status": "degraded"}')
            elif mode == "empty":
                self._send(200, b"")
            elif mode == "malformed":
                self._send(200, b"ok")
            else:
                self._send(200, b'{"status": "ok"}')

        def _orders(self, method: str, path: str, query: dict[str, str], body: Any) -> None:
            mode = stub._next_mode()
            if mode.startswith("http_"):
                status = int(mode.removeprefix("http_"))
                self._send(status, json.dumps({"error": f"stub {mode}"}).encode())
                return
            if mode == "drop_connection":
                self.close_connection = True
                self.wfile.flush()
                self.connection.close()
                return
            result = self._resolve(method, path, query, body, mode)
            if result is None:
                self._send(404, b'{"error": "not found"}')
                return
            if isinstance(result, list):
                result = [_corrupt(o, mode) for o in result]
            elif isinstance(result, dict):
                result = _corrupt(result, mode)
            payload = json.dumps(result).encode()
            if mode == "malformed_json":
                payload = payload[: max(1, len(payload) // 2)]
            elif mode == "empty_body":
                payload = b""
            elif mode == "timeout":
                stub.stopping.wait(stub.delay_seconds)
            elif mode == "trickle":
                self._trickle(payload)
                return
            self._send(200, payload)

        def _resolve(self, method: str, path: str, query: dict[str, str], body: Any, mode: str) -> Any:
            if method == "POST" and path == "/v1/orders/submit" and isinstance(body, dict):
                return stub._submit(body, self.headers.get("Idempotency-Key"), mode)
            if method == "GET" and path == "/v1/orders":
                with stub._lock:
                    orders = list(stub.orders.values())
                if "client_order_id" in query:
                    orders = [o for o in orders if o.get("client_order_id") == query["client_order_id"]]
                if "status" in query:
                    orders = [o for o in orders if o.get("status") == query["status"]]
                return orders
            if path.startswith("/v1/orders/"):
                order = stub.orders.get(path.removeprefix("/v1/orders/"))
                if order is not None and method == "DELETE" and order["status"] != "filled":
                    order["status"] = "canceled"
                return order if method in ("GET", "DELETE") else None
            return None

        def _trickle(self, payload: bytes) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.flush()
            for i in range(len(payload)):
                if stub.stopping.wait(stub.trickle_interval_seconds):
                    return
                self.wfile.write(payload[i : i + 1])
                self.wfile.flush()

    return Handler
