"""A stub of Alpaca's paper trading API on 127.0.0.1, for tests of the Alpaca venue, the router and fallbacks.

    with AlpacaTradingStub() as stub:           # listens on an ephemeral port
        venue = AlpacaPaperVenue(api_key=KEY_ID, secret_key=SECRET_KEY, url_override=stub.url, ...)
        stub.prices["AAPL"] = 190.0             # fills at this reference ± the legs' bps (default 100.0)
        stub.mode = "http_503"                  # every trading request now answers 503
        stub.script("http_429", "http_429")     # ...except the next two, in that order
        stub.health = "down"                    # /v2/clock answers 503
        stub.requests_to("/v2/orders")[-1].headers["APCA-API-KEY-ID"]

Endpoints (JSON shaped like Alpaca's, parseable by alpaca-py's `Order` and `Clock` models):
  POST /v2/orders                          place; a known client_order_id answers 422 "client_order_id must
                                           be unique" (code 40010001), as Alpaca does, and places nothing
  GET  /v2/orders:by_client_order_id       ?client_order_id=... (alpaca-py's path); 404 when unknown
  GET  /v2/orders/{id}                     404 when unknown
  GET  /v2/account/activities/FILL         honours after, direction, page_size, page_token
  GET  /v2/clock                           follows `health`, not `mode`
Every request needs APCA-API-KEY-ID / APCA-API-SECRET-KEY equal to `key_id` / `secret_key`, else 401.

Trading modes (`stub.mode`, or one-shot via `stub.script`), consumed by every trading request:
  fill, partial, accept     POST answers "accepted" with nothing filled, as Alpaca does; the stub then
                            books all / `partial_fraction` (60 %) / none of the qty as FILL activities,
                            one per `fill_legs` entry (fraction of the filled qty, bps from the reference)
  timeout                   the order IS placed; the answer comes after `delay_seconds` (ambiguous)
  http_<status>             e.g. http_429, http_500: nothing placed, body `error_body` or Alpaca-like
  malformed_json, empty_body, drop_connection
  missing_id, wrong_symbol, wrong_client_order_id
                            the order is placed; order answers break the contract in that one way
`activity_lag_polls` hides all activities from that many activity reads (Alpaca's feed lags the order).
Health (`stub.health`): ok, down (503), slow (answers after `delay_seconds`).
"""

from __future__ import annotations

import json
import math
import re
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pandas as pd

from torghut_assets_tests.adapters.stub_server import StubRequestHandler, StubServer

KEY_ID = "stub-key-id"
SECRET_KEY = "stub-secret-key-do-not-log"
FILL_MODES = frozenset({"fill", "partial", "accept"})
CORRUPT_MODES = frozenset({"missing_id", "wrong_symbol", "wrong_client_order_id"})
OTHER_MODES = frozenset({"timeout", "malformed_json", "empty_body", "drop_connection"})
HEALTH_MODES = frozenset({"ok", "down", "slow"})
_HTTP_MODE = re.compile(r"http_([1-5]\d\d)")
_ORDER_PATH = re.compile(r"/v2/orders/([0-9a-f-]{36})")


def _valid_mode(mode: str) -> bool:
    return mode in FILL_MODES | CORRUPT_MODES | OTHER_MODES or _HTTP_MODE.fullmatch(mode) is not None


def _iso(ts: pd.Timestamp) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _decimal(value: float) -> str:
    """Alpaca sends quantities and prices as decimal strings."""
    return f"{value:.10g}"


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any


@dataclass
class AlpacaTradingStub(StubServer[str]):
    mode: str = "fill"
    health: str = "ok"
    key_id: str = KEY_ID
    secret_key: str = SECRET_KEY
    default_price: float = 100.0
    prices: dict[str, float] = field(default_factory=dict)
    partial_fraction: float = 0.6
    fill_legs: tuple[tuple[float, float], ...] = ((0.4, 1.0), (0.6, 3.0))
    activity_lag_polls: int = 0
    delay_seconds: float = 5.0
    error_body: dict[str, Any] | None = None
    requests: list[RecordedRequest] = field(default_factory=list)
    orders: dict[str, dict[str, Any]] = field(default_factory=dict)
    activities: list[dict[str, Any]] = field(default_factory=list)

    @property
    def url(self) -> str:
        """The base URL for `url_override` (alpaca-py appends `/v2/...`)."""
        return self.base_url

    @property
    def submissions(self) -> int:
        """Orders placed (a refused duplicate places none)."""
        return len(self.orders)

    def script(self, *modes: str) -> None:
        """Queue one-shot modes for the next trading requests; `mode` applies once the queue is empty."""
        unknown = [m for m in modes if not _valid_mode(m)]
        if unknown:
            raise ValueError(f"unknown modes {unknown}")
        self._queue(*modes)

    def requests_to(self, path_prefix: str, method: str | None = None) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path.startswith(path_prefix) and method in (None, r.method)]

    def order_for(self, client_order_id: str) -> dict[str, Any] | None:
        with self._lock:
            return next((o for o in self.orders.values() if o["client_order_id"] == client_order_id), None)

    def fills_of(self, order_id: str) -> list[dict[str, Any]]:
        with self._lock:
            return [a for a in self.activities if a["order_id"] == order_id]

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        return _handler_for(self)

    def _next_mode(self) -> str:
        mode = self._next_scripted(self.mode)
        if not _valid_mode(mode):
            raise ValueError(f"unknown AlpacaTradingStub mode {mode!r}")
        return mode

    def _place(self, body: dict[str, Any], mode: str) -> tuple[int, dict[str, Any]]:
        """(status, answer): the accepted order as POST returns it, fills booked right after."""
        with self._lock:
            cid = str(body.get("client_order_id") or uuid.uuid4())
            if any(o["client_order_id"] == cid for o in self.orders.values()):
                return 422, {"code": 40010001, "message": "client_order_id must be unique"}
            now = pd.Timestamp.now(tz="UTC")
            qty = float(body["qty"])
            order: dict[str, Any] = {
                "id": str(uuid.uuid4()),
                "client_order_id": cid,
                "created_at": _iso(now),
                "updated_at": _iso(now),
                "submitted_at": _iso(now),
                "filled_at": None,
                "expired_at": None,
                "canceled_at": None,
                "failed_at": None,
                "replaced_at": None,
                "replaced_by": None,
                "replaces": None,
                "asset_id": str(uuid.uuid5(uuid.NAMESPACE_DNS, str(body["symbol"]))),
                "symbol": str(body["symbol"]),
                "asset_class": "us_equity",
                "notional": None,
                "qty": _decimal(qty),
                "filled_qty": "0",
                "filled_avg_price": None,
                "order_class": "",
                "order_type": body.get("type", "market"),
                "type": body.get("type", "market"),
                "side": body.get("side", "buy"),
                "time_in_force": body.get("time_in_force", "day"),
                "limit_price": None if body.get("limit_price") is None else _decimal(body["limit_price"]),
                "stop_price": None,
                "status": "accepted",
                "extended_hours": bool(body.get("extended_hours", False)),
                "legs": None,
                "trail_percent": None,
                "trail_price": None,
                "hwm": None,
            }
            self.orders[order["id"]] = order
            accepted = dict(order)
            self._book_fills(order, mode, now)
            return 200, accepted

    def _book_fills(self, order: dict[str, Any], mode: str, now: pd.Timestamp) -> None:
        qty = float(order["qty"])
        target = qty if mode != "partial" else float(math.floor(qty * self.partial_fraction))
        if mode == "accept" or target <= 0:
            return
        reference = self.prices.get(order["symbol"], self.default_price)
        direction = 1 if order["side"] == "buy" else -1
        limit = order["limit_price"]
        cum, notional = 0.0, 0.0
        for i, (fraction, bps) in enumerate(self.fill_legs):
            leg = target - cum if i == len(self.fill_legs) - 1 else float(round(target * fraction))
            leg = min(leg, target - cum)
            if leg <= 0:
                continue
            price = round(reference * (1 + direction * bps / 1e4), 4)
            if limit is not None:
                price = min(price, float(limit)) if direction > 0 else max(price, float(limit))
            cum += leg
            notional += leg * price
            at = now + pd.Timedelta(milliseconds=5 * (i + 1))
            status = "filled" if cum >= qty else "partially_filled"
            self.activities.append(
                {
                    "id": f"{at.strftime('%Y%m%d%H%M%S%f')[:17]}::{uuid.uuid4()}",
                    "activity_type": "FILL",
                    "transaction_time": _iso(at),
                    "type": "fill" if cum >= qty else "partial_fill",
                    "price": _decimal(price),
                    "qty": _decimal(leg),
                    "side": order["side"],
                    "symbol": order["symbol"],
                    "leaves_qty": _decimal(qty - cum),
                    "order_id": order["id"],
                    "cum_qty": _decimal(cum),
                    "order_status": status,
                }
            )
            order.update(
                status=status,
                filled_qty=_decimal(cum),
                filled_avg_price=_decimal(round(notional / cum, 6)),
                filled_at=_iso(at) if status == "filled" else None,
                updated_at=_iso(at),
            )

    def _activities(self, query: dict[str, str]) -> list[dict[str, Any]]:
        with self._lock:
            if self.activity_lag_polls > 0:
                self.activity_lag_polls -= 1
                return []
            items = list(self.activities)
        if "after" in query:
            after = pd.Timestamp(query["after"])
            items = [a for a in items if pd.Timestamp(a["transaction_time"]) > after]
        if query.get("direction", "desc") == "desc":
            items.reverse()
        token = query.get("page_token")
        if token:
            ids = [a["id"] for a in items]
            items = items[ids.index(token) + 1 :] if token in ids else []
        return items[: int(query.get("page_size", 100))]

    def _clock(self) -> dict[str, Any]:
        now = pd.Timestamp.now(tz="America/New_York")
        return {
            "timestamp": now.isoformat(),
            "is_open": True,
            "next_open": (now.normalize() + pd.Timedelta(days=1, hours=9, minutes=30)).isoformat(),
            "next_close": (now.normalize() + pd.Timedelta(hours=16)).isoformat(),
        }


def _corrupt(order: dict[str, Any], mode: str) -> dict[str, Any]:
    out = dict(order)
    if mode == "missing_id":
        out.pop("id")
    elif mode == "wrong_symbol":
        out["symbol"] = "ZZZZ"
    elif mode == "wrong_client_order_id":
        out["client_order_id"] = "someone-else"
    return out


def _handler_for(stub: AlpacaTradingStub) -> type[BaseHTTPRequestHandler]:
    class Handler(StubRequestHandler):
        content_type = "application/json; charset=UTF-8"

        def do_GET(self) -> None:
            self._handle("GET")

        def do_POST(self) -> None:
            self._handle("POST")

        def _handle(self, method: str) -> None:
            split = urlsplit(self.path)
            body = self._json_body()
            query = {k: v[-1] for k, v in parse_qs(split.query).items()}
            stub.requests.append(RecordedRequest(method, split.path, query, dict(self.headers.items()), body))
            try:
                if (
                    self.headers.get("APCA-API-KEY-ID") != stub.key_id
                    or self.headers.get("APCA-API-SECRET-KEY") != stub.secret_key
                ):
                    self._json(401, {"code": 40110000, "message": "request is not authorized"})
                elif split.path == "/v2/clock":
                    self._health()
                else:
                    self._trading(method, split.path, query, body)
            except (BrokenPipeError, ConnectionResetError):
                pass

        def _health(self) -> None:
            if stub.health not in HEALTH_MODES:
                raise ValueError(f"unknown AlpacaTradingStub health {stub.health!r}")
            if stub.health == "slow":
                stub.stopping.wait(stub.delay_seconds)
            if stub.health == "down":
                self._json(503, {"code": 50300000, "message": "service unavailable"})
            else:
                self._json(200, stub._clock())

        def _trading(self, method: str, path: str, query: dict[str, str], body: Any) -> None:
            mode = stub._next_mode()
            http = _HTTP_MODE.fullmatch(mode)
            if http is not None:
                status = int(http.group(1))
                default = {"code": status * 100000, "message": f"stub {mode}"}
                if status == 429:
                    default = {"code": 42910000, "message": "rate limit exceeded"}
                self._json(status, stub.error_body if stub.error_body is not None else default)
                return
            if mode == "drop_connection":
                self.close_connection = True
                self.connection.close()
                return
            status, answer = self._resolve(method, path, query, body, mode)
            if status == 200 and isinstance(answer, dict) and mode in CORRUPT_MODES:
                answer = _corrupt(answer, mode)
            payload = json.dumps(answer).encode()
            if mode == "timeout":
                stub.stopping.wait(stub.delay_seconds)
            elif mode == "malformed_json":
                payload = payload[: max(1, len(payload) // 2)]
            elif mode == "empty_body":
                payload = b""
            self._send(status, payload)

        def _resolve(
            self, method: str, path: str, query: dict[str, str], body: Any, mode: str
        ) -> tuple[int, Any]:
            not_found = (404, {"code": 40410000, "message": "order not found"})
            if method == "POST" and path == "/v2/orders" and isinstance(body, dict):
                return stub._place(body, mode)
            if method != "GET":
                return 405, {"code": 40500000, "message": "method not allowed"}
            if path == "/v2/orders:by_client_order_id":
                order = stub.order_for(query.get("client_order_id", ""))
                return (200, dict(order)) if order is not None else not_found
            match = _ORDER_PATH.fullmatch(path)
            if match is not None:
                with stub._lock:
                    order = stub.orders.get(match.group(1))
                    return (200, dict(order)) if order is not None else not_found
            if path == "/v2/account/activities/FILL":
                return 200, stub._activities(query)
            return 404, {"code": 40400000, "message": "endpoint not found"}

        def _json(self, status: int, answer: Any) -> None:
            self._send(status, json.dumps(answer).encode())

    return Handler
