"""A contract stub of the LEAN runner on 127.0.0.1, for tests of the LEAN venue, the router and fallbacks.

It answers what the reference runner answers (proompteng/lab@18622cbe3a,
services/torghut/app/lean_runner.py; the models are transcribed in
`torghut_assets_tests/contracts/lean_runner_models.py`), over a fake Alpaca account, and adds failure
injection on top:

    with LeanStub() as stub:            # listens on an ephemeral port
        venue = LeanRunnerVenue(base_url=stub.url, timeout_seconds=0.3)
        stub.prices["AAPL"] = 200.0     # the fake broker fills at this ± slippage_bps (default 100.0)
        stub.mode = "http_503"          # every order request now answers 503
        stub.script("timeout", "fill")  # ...except the next two order requests, in that order
        stub.health = "down"            # /healthz answers 503
        stub.requests[-1].headers["Idempotency-Key"]

As the reference runner (pinned by torghut_assets_tests/contracts/test_lean_runner_contract.py):
  routes        the reference's, matched in its declaration order as Starlette does: an unknown path is
                404 {"detail": "Not Found"}, a known path with another method 405 {"detail": "Method Not
                Allowed"} (+ Allow), a path that only differs by a trailing slash a 307 redirect, and
                e.g. GET /v1/orders/cancel-all is get_order("cancel-all") (a 502: not a UUID).
  validation    bodies are validated with the transcribed pydantic models (extra="forbid"): a missing
                field, an extra field or a bad type is FastAPI's 422 {"detail": [...]}, before anything
                else happens (no mode is consumed).
  submit        idempotent for `IDEMPOTENCY_TTL_SECONDS` on Idempotency-Key (else extra_params
                .client_order_id, else a hash of the body): a repeat answers the cached answer with
                `_lean_audit.idempotent_replay` true and places nothing. Past that (`restart()`), the
                broker refuses a known client_order_id: 502 "lean_submit_failed:upstream_error:{...
                client_order_id must be unique}". An unknown side / time_in_force is an uncaught error
                in the reference (500 text/plain "Internal Server Error"); an unknown order type or a
                limit without limit_price a 502 `lean_submit_failed:contract_...`.
                The answer is the broker's order *as placed* (status "accepted", nothing filled, as
                Alpaca answers a POST); the fill (mode `fill`/`partial`) shows on later reads.
  reads         GET /v1/orders/{id} (a non-UUID or unknown id is a 502, never a 404),
                GET /v1/orders/client/{cid} (404 {"detail": "order_not_found"} when unknown),
                GET /v1/orders?status=open|closed|all (newest first, at most 50; another status is a 502).
  cancels       POST /v1/orders/{id}/cancel answers {"ok": true, "_lean_audit": ...} (no order state);
                an unknown or final order is a 502 lean_cancel_failed. POST /v1/orders/cancel-all
                answers {"orders": [{"id", "status": 200, "body": null}, ...], "_lean_audit": ...}.
  also          /healthz, /v1/observability, /v1/shadow/simulate, /v1/backtests/*,
                /v1/strategy-shadow/evaluate. Not served: FastAPI's /docs, /redoc, /openapi.json, and
                HEAD/OPTIONS (the stub answers 501 where FastAPI would answer).

Order modes (`stub.mode`, or one-shot via `stub.script`), consumed by every order-route request that
passed routing and validation (submit, get, get by client id, list, cancel, cancel-all; narrow that with
`stub.mode_ops`, e.g. frozenset({"submit_order"}): the other operations then answer normally):
  fill, partial, accept     the broker fills all / `partial_fraction` / none of a submitted order at
                            prices[symbol] ± slippage_bps (a limit caps the price); other requests as usual
  timeout                   the request IS processed (an order is placed and filled); the answer comes
                            after `delay_seconds` (an ambiguous timeout: a fallback resubmission would
                            double it)
  trickle                   headers at once, then the body one byte every `trickle_interval_seconds`
  http_<status>             nothing processed; 500 is FastAPI's text/plain "Internal Server Error", 502
                            the runner's `{"detail": "lean_<op>_failed:upstream_error:..."}`, any other
                            {"detail": "stub http_<status>"} (a gateway in front of the runner)
  broker_error              nothing placed; 502 `lean_<op>_failed:upstream_error:{"code":50010000,...}`
  broker_timeout            the broker call timed out after the broker got it (a submit IS placed and
                            filled); 502 `lean_<op>_failed:network_timeout:... Read timed out.`
  malformed_json, empty_body, drop_connection
  missing_id, wrong_symbol, wrong_client_order_id, wrong_side, negative_qty, overfill, bad_price,
  wrong_adapter             processed; each order in the answer breaks the contract in that one way
  wrong_shape               processed; the answer is `["not", "an", "order"]`
Health (`stub.health`): ok, down (503), degraded (200 status "degraded"), empty (200, no body), slow,
malformed.

`stub.orders` holds the broker's orders (Alpaca REST JSON, by id); `stub.submissions` counts them.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import re
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from typing import Any, Protocol
from urllib.parse import parse_qs, unquote, urlsplit

from alpaca.trading.enums import OrderSide, QueryOrderStatus, TimeInForce
from alpaca.trading.models import Order
from alpaca.trading.requests import (
    LimitOrderRequest,
    MarketOrderRequest,
    StopLimitOrderRequest,
    StopOrderRequest,
)
from alpaca.trading.requests import OrderRequest as AlpacaOrderRequest
from pydantic import BaseModel, ValidationError

from torghut_assets_tests.adapters.stub_server import StubRequestHandler, StubServer
from torghut_assets_tests.contracts.lean_runner_models import (
    FAILURE_PREFIX,
    IDEMPOTENCY_TTL_SECONDS,
    ORDER_NOT_FOUND,
    ROUTES,
    RUNNER_NAME,
    BacktestSubmitBody,
    ShadowSimulateBody,
    StrategyShadowBody,
    SubmitOrderBody,
)

FILL_MODES = frozenset({"fill", "partial", "accept"})
CORRUPT_MODES = frozenset(
    {
        "missing_id",
        "wrong_symbol",
        "wrong_client_order_id",
        "wrong_side",
        "negative_qty",
        "overfill",
        "bad_price",
        "wrong_adapter",
    }
)
OTHER_MODES = frozenset(
    {
        "timeout",
        "trickle",
        "malformed_json",
        "empty_body",
        "drop_connection",
        "wrong_shape",
        "broker_error",
        "broker_timeout",
    }
)
HEALTH_MODES = frozenset({"ok", "down", "degraded", "empty", "slow", "malformed"})
_HTTP_MODE = re.compile(r"http_([1-5]\d\d)")
ORDER_OPS = frozenset(FAILURE_PREFIX)
# Alpaca's final order states; every other status is "open" (QueryOrderStatus.OPEN).
CLOSED_STATUSES = frozenset({"filled", "canceled", "expired", "rejected", "replaced", "done_for_day"})
LIST_LIMIT = 50  # Alpaca's default page: the reference's GetOrdersRequest sets no limit
# Alpaca REST error bodies as alpaca-py's APIError renders them (str(exc) is the response text).
ALPACA_ORDER_NOT_FOUND = '{"code":40410000,"message":"order not found"}'
ALPACA_NOT_CANCELABLE = '{"code":42210000,"message":"order is not cancelable"}'
ALPACA_DUPLICATE_CLIENT_ORDER_ID = '{"code":40010001,"message":"client_order_id must be unique"}'
ALPACA_INTERNAL_ERROR = '{"code":50010000,"message":"internal server error"}'
ALPACA_READ_TIMEOUT = (
    "HTTPSConnectionPool(host='paper-api.alpaca.markets', port=443): Read timed out. (read timeout=10)"
)


def _valid_mode(mode: str) -> bool:
    return mode in FILL_MODES | CORRUPT_MODES | OTHER_MODES or _HTTP_MODE.fullmatch(mode) is not None


def _compile(path: str) -> re.Pattern[str]:
    """Starlette's default `str` path convertor: `{name}` matches one non-empty segment."""
    return re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", path) + "$")


_ROUTES = tuple((method, _compile(path), op) for method, path, op in ROUTES)


def _iso(ts: datetime) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _decimal(value: float) -> str:
    """Alpaca sends quantities and prices as decimal strings."""
    return f"{value:.10g}"


def _json(payload: Any) -> bytes:
    """FastAPI's JSONResponse rendering."""
    return json.dumps(payload, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode("utf-8")


def _canonical_json(payload: Any) -> str:
    """lean_runner.py `_canonical_json`, lines 654-656."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)


def _classify_error_taxonomy(exc: Exception) -> str:
    """lean_runner.py `_classify_error_taxonomy`, lines 617-627, verbatim."""
    message = str(exc).lower().strip()
    if "unsupported_order_type" in message:
        return "contract_invalid_order_type"
    if "required for" in message and "order" in message:
        return "contract_missing_required_field"
    if "timed out" in message:
        return "network_timeout"
    if "forbidden" in message or "unauthorized" in message:
        return "upstream_auth"
    return "upstream_error"


def fastapi_validation_errors(model: type[BaseModel], body: Any) -> list[dict[str, Any]] | None:
    """What FastAPI answers (as `detail`) for a request body validated against `model`; None if valid."""
    if body is None:
        return [{"type": "missing", "loc": ["body"], "msg": "Field required", "input": None}]
    try:
        model.model_validate(body, from_attributes=True)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        return [
            json.loads(json.dumps({**error, "loc": ["body", *error["loc"]]}, default=str))  # tuples → lists
            for error in errors
        ]
    return None


class _Headers(Protocol):
    """Request headers, looked up case-insensitively (http.server's `Message`)."""

    def get(self, name: str, /) -> str | None: ...


class _BrokerRefused(Exception):
    """The fake Alpaca refused the call; `str()` is what alpaca-py's APIError renders."""


class _Uncaught(Exception):
    """An exception the reference handler does not catch (FastAPI answers 500 text/plain)."""


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any


@dataclass(frozen=True)
class _Answer:
    status: int
    payload: Any = None  # JSON; None with `raw`
    raw: bytes | None = None
    content_type: str = "application/json"
    headers: tuple[tuple[str, str], ...] = ()
    op: str | None = None  # the order operation, when the request reached one


@dataclass
class LeanStub(StubServer[str]):
    mode: str = "fill"
    health: str = "ok"
    slippage_bps: float = 2.0
    partial_fraction: float = 0.5
    delay_seconds: float = 1.0
    trickle_interval_seconds: float = 0.1
    default_price: float = 100.0
    idempotency_ttl_seconds: float = float(IDEMPOTENCY_TTL_SECONDS)
    prices: dict[str, float] = field(default_factory=dict)
    mode_ops: frozenset[str] = ORDER_OPS
    requests: list[RecordedRequest] = field(default_factory=list)
    orders: dict[str, dict[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._idempotency: dict[str, tuple[float, dict[str, Any]]] = {}
        self._backtests: dict[str, dict[str, Any]] = {}
        self._metrics: dict[str, dict[str, Any]] = {
            "requests_total": {},
            "failures_total": {},
            "latency_ms_last": {},
            "latency_ms_avg": {},
        }

    @property
    def url(self) -> str:
        return self.base_url

    @property
    def submissions(self) -> int:
        return len(self.orders)

    def script(self, *modes: str) -> None:
        """Queue one-shot modes for the next order requests; `mode` applies once the queue is empty."""
        unknown = sorted(m for m in modes if not _valid_mode(m))
        if unknown:
            raise ValueError(f"unknown modes {unknown}")
        self._queue(*modes)

    def requests_to(self, path_prefix: str, method: str | None = None) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path.startswith(path_prefix) and method in (None, r.method)]

    def restart(self) -> None:
        """The runner restarts (or its 300 s idempotency TTL passes): the cache is gone, the broker is not."""
        with self._lock:
            self._idempotency.clear()

    def order_by_client_id(self, client_order_id: str) -> dict[str, Any] | None:
        with self._lock:
            return next((o for o in self.orders.values() if o["client_order_id"] == client_order_id), None)

    def runner_view(self, order_id: str) -> dict[str, Any]:
        """The order as GET /v1/orders/{id} answers it."""
        with self._lock:
            return {**_order_json(self.orders[order_id]), "_execution_adapter": "lean"}

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        return _handler_for(self)

    def _next_mode(self) -> str:
        mode = self._next_scripted(self.mode)
        if not _valid_mode(mode):
            raise ValueError(f"unknown LeanStub mode {mode!r}")
        return mode

    # --- the reference runner's handlers, over the fake broker ----------------------------------

    def _audit(
        self,
        operation: str,
        correlation_header: str | None,
        idempotency_key: str | None = None,
        idempotent_replay: bool = False,
    ) -> dict[str, Any]:
        """`_audit_payload` (lines 600-614) with `_resolve_correlation_id` (lines 556-558)."""
        correlation_id = (correlation_header or "").strip() or f"lean-{uuid.uuid4().hex[:20]}"
        return {
            "runner": RUNNER_NAME,
            "operation": operation,
            "request_ts": datetime.now(UTC).isoformat(),
            "correlation_id": correlation_id,
            "idempotency_key": idempotency_key,
            "idempotent_replay": idempotent_replay,
        }

    def _record(self, operation: str, failure: str | None = None) -> None:
        with self._lock:
            totals = self._metrics["requests_total"]
            totals[operation] = totals.get(operation, 0) + 1
            self._metrics["latency_ms_last"][operation] = 0.1
            self._metrics["latency_ms_avg"][operation] = 0.1
            if failure:
                key = f"{operation}:{failure}"
                failures = self._metrics["failures_total"]
                failures[key] = failures.get(key, 0) + 1

    def _broker_failure(self, op: str, exc: Exception) -> _Answer:
        taxonomy = _classify_error_taxonomy(exc)
        self._record(op, taxonomy)
        return _Answer(502, {"detail": f"{FAILURE_PREFIX[op]}:{taxonomy}:{exc}"}, op=op)

    def _submit(self, body: dict[str, Any], headers: _Headers, mode: str) -> _Answer:
        """`submit_order`, lines 160-201."""
        op = "submit_order"
        parsed = SubmitOrderBody.model_validate(body)
        key = _resolve_idempotency_key(headers.get("Idempotency-Key"), parsed)
        now = time.monotonic()
        with self._lock:
            cached = self._idempotency.get(key)
            if cached is not None and cached[0] < now:
                del self._idempotency[key]
                cached = None
        if cached is not None:
            replay = dict(cached[1])
            replay["_lean_audit"] = self._audit(op, headers.get("X-Correlation-ID"), key, True)
            self._record(op)
            return _Answer(200, replay, op=op)
        request = _alpaca_request(parsed)  # may raise _Uncaught, as the reference does outside its try
        try:
            if isinstance(request, Exception):
                raise request
            placed = self._place(request, mode)
        except Exception as exc:
            return self._broker_failure(op, exc)
        result = {
            **_order_json(placed),
            "_execution_adapter": "lean",
            "_lean_contract_version": "v2",
            "_lean_audit": self._audit(op, headers.get("X-Correlation-ID"), key, False),
        }
        with self._lock:
            self._idempotency[key] = (time.monotonic() + self.idempotency_ttl_seconds, dict(result))
        self._record(op)
        return _Answer(200, result, op=op)

    def _place(self, request: AlpacaOrderRequest, mode: str) -> dict[str, Any]:
        """The fake Alpaca's POST /v2/orders: returns the order as placed ("accepted", nothing filled) and
        books the fill the mode asks for, which later reads show."""
        qty = float(request.qty or 0)
        if qty <= 0:
            raise _BrokerRefused('{"code":40010001,"message":"qty must be > 0"}')
        client_order_id = request.client_order_id or str(uuid.uuid4())
        if self.order_by_client_id(client_order_id) is not None:
            raise _BrokerRefused(ALPACA_DUPLICATE_CLIENT_ORDER_ID)
        if mode == "broker_error":
            raise _BrokerRefused(ALPACA_INTERNAL_ERROR)
        now = _iso(datetime.now(UTC))
        symbol = str(request.symbol)
        order_type = str(request.type.value if request.type else "market")
        side = str(request.side.value if request.side else "buy")
        limit = getattr(request, "limit_price", None)
        stop = getattr(request, "stop_price", None)
        placed: dict[str, Any] = {
            "id": str(uuid.uuid4()),
            "client_order_id": client_order_id,
            "created_at": now,
            "updated_at": now,
            "submitted_at": now,
            "filled_at": None,
            "expired_at": None,
            "canceled_at": None,
            "failed_at": None,
            "replaced_at": None,
            "replaced_by": None,
            "replaces": None,
            "asset_id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"asset:{symbol}")),
            "symbol": symbol,
            "asset_class": "crypto" if "/" in symbol else "us_equity",
            "notional": None,
            "qty": _decimal(qty),
            "filled_qty": "0",
            "filled_avg_price": None,
            "order_class": "",
            "order_type": order_type,
            "type": order_type,
            "side": side,
            "time_in_force": str(request.time_in_force.value),
            "limit_price": None if limit is None else _decimal(float(limit)),
            "stop_price": None if stop is None else _decimal(float(stop)),
            "status": "accepted",
            "extended_hours": False,
            "legs": None,
            "trail_percent": None,
            "trail_price": None,
            "hwm": None,
            "position_intent": "buy_to_open" if side == "buy" else "sell_to_close",
        }
        answer = dict(placed)
        if mode == "accept":
            placed["status"] = "new"
        else:
            filled = qty
            if mode == "partial":
                filled = max(1.0, math.floor(qty * self.partial_fraction)) if qty > 1 else 0.0
            reference = self.prices.get(symbol.upper(), self.default_price)
            direction = 1 if side == "buy" else -1
            price = round(reference * (1 + direction * self.slippage_bps / 1e4), 4)
            if limit is not None:
                price = min(price, float(limit)) if side == "buy" else max(price, float(limit))
            if filled > 0:
                placed.update(
                    filled_qty=_decimal(filled),
                    filled_avg_price=_decimal(price),
                    filled_at=now,
                    status="filled" if filled >= qty else "partially_filled",
                )
            else:
                placed["status"] = "new"
        with self._lock:
            self.orders[placed["id"]] = placed
        if mode == "broker_timeout":
            raise TimeoutError(ALPACA_READ_TIMEOUT)
        return answer

    def _get_order(self, order_id: str) -> _Answer:
        """`get_order`, lines 245-258: alpaca-py validates the id as a UUID before asking Alpaca."""
        op = "get_order"
        try:
            found = self._broker_order(order_id)
        except Exception as exc:
            return self._broker_failure(op, exc)
        self._record(op)
        return _Answer(200, {**_order_json(found), "_execution_adapter": "lean"}, op=op)

    def _get_by_client_id(self, client_order_id: str) -> _Answer:
        """`get_order_by_client_id`, lines 261-277 (with `_lookup_order_by_client_id`, lines 480-499)."""
        op = "get_order_by_client_order_id"
        found = self.order_by_client_id(client_order_id)
        if found is None:
            self._record(op, ORDER_NOT_FOUND)
            return _Answer(404, {"detail": ORDER_NOT_FOUND}, op=op)
        self._record(op)
        return _Answer(200, {**_order_json(found), "_execution_adapter": "lean"}, op=op)

    def _list(self, status: str) -> _Answer:
        """`list_orders`, lines 280-295."""
        op = "list_orders"
        try:
            wanted = QueryOrderStatus(status.lower())
        except Exception as exc:
            return self._broker_failure(op, exc)
        with self._lock:
            orders = sorted(self.orders.values(), key=lambda o: o["submitted_at"], reverse=True)
        if wanted == QueryOrderStatus.OPEN:
            orders = [o for o in orders if o["status"] not in CLOSED_STATUSES]
        elif wanted == QueryOrderStatus.CLOSED:
            orders = [o for o in orders if o["status"] in CLOSED_STATUSES]
        self._record(op)
        return _Answer(
            200,
            {"orders": [{**_order_json(o), "_execution_adapter": "lean"} for o in orders[:LIST_LIMIT]]},
            op=op,
        )

    def _cancel(self, order_id: str, headers: _Headers) -> _Answer:
        """`cancel_order`, lines 204-222."""
        op = "cancel_order"
        try:
            found = self._broker_order(order_id)
            if found["status"] in CLOSED_STATUSES:
                raise _BrokerRefused(ALPACA_NOT_CANCELABLE)
            self._cancel_at_broker(found)
        except Exception as exc:
            return self._broker_failure(op, exc)
        self._record(op)
        return _Answer(
            200, {"ok": True, "_lean_audit": self._audit(op, headers.get("X-Correlation-ID"))}, op=op
        )

    def _cancel_all(self, headers: _Headers) -> _Answer:
        """`cancel_all_orders`, lines 225-242: alpaca-py's CancelOrderResponse per open order."""
        op = "cancel_all_orders"
        with self._lock:
            open_orders = [o for o in self.orders.values() if o["status"] not in CLOSED_STATUSES]
        for found in open_orders:
            self._cancel_at_broker(found)
        self._record(op)
        return _Answer(
            200,
            {
                "orders": [{"id": o["id"], "status": 200, "body": None} for o in open_orders],
                "_lean_audit": self._audit(op, headers.get("X-Correlation-ID")),
            },
            op=op,
        )

    def _broker_order(self, order_id: str) -> dict[str, Any]:
        uuid.UUID(order_id)  # alpaca-py validate_uuid_id_param: "badly formed hexadecimal UUID string"
        with self._lock:
            found = self.orders.get(order_id)
        if found is None:
            raise _BrokerRefused(ALPACA_ORDER_NOT_FOUND)
        return found

    def _cancel_at_broker(self, found: dict[str, Any]) -> None:
        now = _iso(datetime.now(UTC))
        with self._lock:
            found.update(status="canceled", canceled_at=now, updated_at=now)

    def _shadow(self, body: dict[str, Any], headers: _Headers) -> _Answer:
        """`shadow_simulate`, lines 357-381, verbatim arithmetic."""
        parsed = ShadowSimulateBody.model_validate(body)
        seed = hashlib.sha256(
            f"{parsed.symbol}:{parsed.side}:{parsed.qty}:{parsed.order_type}".encode()
        ).hexdigest()
        slippage_bps = ((int(seed[:8], 16) % 29) - 14) / 10.0
        base_price = parsed.intent_price or parsed.limit_price or max(parsed.qty, 1.0)
        simulated_fill = base_price * (1.0 + (slippage_bps / 10000.0))
        parity_status = "pass" if abs(slippage_bps) <= 3.0 else "drift"
        self._record("shadow_simulate")
        return _Answer(
            200,
            {
                "symbol": parsed.symbol,
                "side": parsed.side,
                "qty": parsed.qty,
                "simulated_fill_price": round(simulated_fill, 8),
                "simulated_slippage_bps": round(slippage_bps, 4),
                "parity_status": parity_status,
                "failure_taxonomy": None if parity_status == "pass" else "execution_quality_drift",
                "_lean_audit": self._audit("shadow_simulate", headers.get("X-Correlation-ID")),
            },
        )

    def _submit_backtest(self, body: dict[str, Any], headers: _Headers) -> _Answer:
        """`submit_backtest`, lines 298-328 (the result is `_deterministic_backtest_result`, abridged)."""
        parsed = BacktestSubmitBody.model_validate(body)
        reproducibility_hash = hashlib.sha256(_canonical_json(parsed.config).encode()).hexdigest()
        backtest_id = hashlib.sha256(f"{parsed.lane}:{reproducibility_hash}".encode()).hexdigest()[:20]
        with self._lock:
            self._backtests.setdefault(
                backtest_id,
                {
                    "backtest_id": backtest_id,
                    "lane": parsed.lane,
                    "status": "queued",
                    "reproducibility_hash": reproducibility_hash,
                    "result": None,
                    "due_at": time.time() + 1.0,
                },
            )
            status = self._backtests[backtest_id]["status"]
        self._record("submit_backtest")
        return _Answer(
            200,
            {
                "backtest_id": backtest_id,
                "status": status,
                "reproducibility_hash": reproducibility_hash,
                "_lean_audit": self._audit("submit_backtest", headers.get("X-Correlation-ID")),
            },
        )

    def _get_backtest(self, backtest_id: str) -> _Answer:
        """`get_backtest`, lines 331-354."""
        with self._lock:
            record = self._backtests.get(backtest_id)
            if record is None:
                self._metrics["failures_total"]["get_backtest:backtest_not_found"] = 1
                return _Answer(404, {"detail": "backtest_not_found"})
            if record["status"] in {"queued", "running"} and time.time() >= record["due_at"]:
                record["status"] = "completed"
                record["result"] = {
                    "deterministic_replay_passed": True,
                    "replay_hash": record["reproducibility_hash"],
                }
            elif record["status"] == "queued":
                record["status"] = "running"
            payload = {
                k: record[k] for k in ("backtest_id", "lane", "status", "reproducibility_hash", "result")
            }
        return _Answer(200, payload)

    def _strategy_shadow(self, body: dict[str, Any], headers: _Headers) -> _Answer:
        """`evaluate_strategy_shadow`, lines 384-413."""
        parsed = StrategyShadowBody.model_validate(body)
        signature = hashlib.sha256(
            f"{parsed.strategy_id}:{parsed.symbol}:{_canonical_json(parsed.intent)}".encode()
        ).hexdigest()
        score = (int(signature[:8], 16) % 1000) / 1000.0
        return _Answer(
            200,
            {
                "run_id": signature[:24],
                "strategy_id": parsed.strategy_id,
                "symbol": parsed.symbol,
                "parity_status": "pass" if score >= 0.6 else "drift",
                "governance": {
                    "parity_score": score,
                    "promotion_ready": score >= 0.75,
                    "checks": {"parity_minimum": score >= 0.6, "governance_minimum": score >= 0.75},
                },
                "_lean_audit": self._audit("strategy_shadow", headers.get("X-Correlation-ID")),
            },
        )

    def _observability(self) -> _Answer:
        with self._lock:
            metrics = {k: dict(v) for k, v in self._metrics.items()}
        return _Answer(200, {"service": RUNNER_NAME, "contract_version": "lean-v2", "metrics": metrics})


def _order_json(placed: Mapping[str, Any]) -> dict[str, Any]:
    """The runner's `_model_to_dict(order)`: alpaca-py's `Order` model dumped in JSON mode."""
    dumped: dict[str, Any] = Order(**placed).model_dump(mode="json")
    return dumped


def _resolve_idempotency_key(header: str | None, body: SubmitOrderBody) -> str:
    """`_resolve_idempotency_key`, lines 561-578."""
    normalized = (header or "").strip()
    if normalized:
        return normalized
    candidate = str(body.extra_params.get("client_order_id") or "").strip()
    if candidate:
        return candidate
    fallback = {
        "symbol": body.symbol,
        "side": body.side,
        "qty": body.qty,
        "order_type": body.order_type,
        "time_in_force": body.time_in_force,
        "limit_price": body.limit_price,
        "stop_price": body.stop_price,
        "extra_params": body.extra_params,
    }
    return hashlib.sha256(_canonical_json(fallback).encode("utf-8")).hexdigest()[:64]


def _alpaca_request(body: SubmitOrderBody) -> AlpacaOrderRequest | Exception:
    """`_build_submit_order_payload` + `_build_submit_order_request`, lines 426-458. The payload is built
    outside the reference's try (an unknown side / time_in_force escapes as a 500); the request inside it
    (returned here as the exception the handler turns into a 502)."""
    try:
        payload: dict[str, Any] = {
            "symbol": body.symbol,
            "qty": body.qty,
            "side": OrderSide(body.side.lower()),
            "time_in_force": TimeInForce(body.time_in_force.lower()),
        }
    except ValueError as exc:
        raise _Uncaught(str(exc)) from exc
    if body.extra_params:
        payload.update(body.extra_params)
    try:
        order_type = body.order_type.lower()
        if order_type == "market":
            return MarketOrderRequest(**payload)
        if order_type == "limit":
            if body.limit_price is None:
                raise ValueError("limit_price is required for limit orders")
            return LimitOrderRequest(limit_price=body.limit_price, **payload)
        if order_type == "stop":
            if body.stop_price is None:
                raise ValueError("stop_price is required for stop orders")
            return StopOrderRequest(stop_price=body.stop_price, **payload)
        if order_type == "stop_limit":
            if body.limit_price is None or body.stop_price is None:
                raise ValueError("stop_limit orders require both stop_price and limit_price")
            return StopLimitOrderRequest(limit_price=body.limit_price, stop_price=body.stop_price, **payload)
        raise ValueError(f"unsupported_order_type:{body.order_type}")
    except Exception as exc:
        return exc


def _corrupt(order: dict[str, Any], mode: str) -> dict[str, Any]:
    out = dict(order)
    if mode == "missing_id":
        out.pop("id", None)
    elif mode == "wrong_symbol":
        out["symbol"] = "ZZZZ"
    elif mode == "wrong_client_order_id":
        out["client_order_id"] = "someone-else"
    elif mode == "wrong_side":
        out["side"] = "sell" if out.get("side") == "buy" else "buy"
    elif mode == "negative_qty":
        out["qty"] = f"-{out.get('qty')}"
    elif mode == "overfill":
        out["filled_qty"] = _decimal(float(out.get("qty") or 0) + 1)
    elif mode == "bad_price":
        out["filled_avg_price"] = "n/a"
    elif mode == "wrong_adapter":
        out["_execution_adapter"] = "alpaca"
    return out


def _corrupt_answer(payload: Any, mode: str) -> Any:
    """Apply a corruption mode to every order in an answer (the answer itself for wrong_shape)."""
    if mode == "wrong_shape":
        return ["not", "an", "order"]
    if mode not in CORRUPT_MODES or not isinstance(payload, dict):
        return payload
    if isinstance(payload.get("orders"), list) and "symbol" not in payload:
        return {**payload, "orders": [_corrupt(o, mode) if "symbol" in o else o for o in payload["orders"]]}
    return _corrupt(payload, mode) if "symbol" in payload else payload


def _match(method: str, path: str) -> tuple[str | None, dict[str, str], str | None]:
    """Starlette's routing: (op of the full match, its path params, Allow of the first partial match)."""
    allow: str | None = None
    for route_method, pattern, op in _ROUTES:
        found = pattern.match(path)
        if found is None:
            continue
        if route_method == method:
            return op, found.groupdict(), None
        if allow is None:
            allow = "GET, HEAD" if route_method == "GET" else route_method
    return None, {}, allow


_BODY_MODELS: dict[str, type[BaseModel]] = {
    "submit_order": SubmitOrderBody,
    "submit_backtest": BacktestSubmitBody,
    "shadow_simulate": ShadowSimulateBody,
    "strategy_shadow": StrategyShadowBody,
}


def _handler_for(stub: LeanStub) -> type[BaseHTTPRequestHandler]:
    class Handler(StubRequestHandler):
        def do_GET(self) -> None:
            self._handle("GET")

        def do_POST(self) -> None:
            self._handle("POST")

        def do_DELETE(self) -> None:
            self._handle("DELETE")

        def do_PUT(self) -> None:
            self._handle("PUT")

        def do_PATCH(self) -> None:
            self._handle("PATCH")

        def _handle(self, method: str) -> None:
            split = urlsplit(self.path)
            raw = self._body()
            body, json_error = _parse_body(raw, self.headers.get("Content-Type"))
            query = {k: v[-1] for k, v in parse_qs(split.query).items()}
            headers = dict(self.headers.items())
            stub.requests.append(RecordedRequest(method, split.path, query, headers, body))
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self._route(method, unquote(split.path), split.query, query, body, json_error)

        def _route(
            self,
            method: str,
            path: str,
            raw_query: str,
            query: dict[str, str],
            body: Any,
            json_error: dict[str, Any] | None,
        ) -> None:
            op, params, allow = _match(method, path)
            if op is None:
                if allow is not None:
                    self._answer(_Answer(405, {"detail": "Method Not Allowed"}, headers=(("Allow", allow),)))
                    return
                toggled = path[:-1] if path.endswith("/") and path != "/" else f"{path}/"
                if any(pattern.match(toggled) for _, pattern, _ in _ROUTES):
                    location = f"{stub.url}{toggled}" + (f"?{raw_query}" if raw_query else "")
                    self._answer(_Answer(307, raw=b"", headers=(("Location", location),)))
                    return
                self._answer(_Answer(404, {"detail": "Not Found"}))
                return
            if op == "healthz":
                self._health()
                return
            model = _BODY_MODELS.get(op)
            if model is not None:
                errors = [json_error] if json_error is not None else fastapi_validation_errors(model, body)
                if errors:
                    self._answer(_Answer(422, {"detail": errors}))
                    return
            if op not in ORDER_OPS:
                self._answer(self._other(op, params, body))
                return
            self._order_route(op, params, query, body)

        def _other(self, op: str, params: dict[str, str], body: Any) -> _Answer:
            if op == "observability":
                return stub._observability()
            if op == "shadow_simulate":
                return stub._shadow(body, self.headers)
            if op == "submit_backtest":
                return stub._submit_backtest(body, self.headers)
            if op == "get_backtest":
                return stub._get_backtest(params["backtest_id"])
            return stub._strategy_shadow(body, self.headers)

        def _order_route(self, op: str, params: dict[str, str], query: dict[str, str], body: Any) -> None:
            mode = stub._next_mode() if op in stub.mode_ops else "fill"
            http = _HTTP_MODE.fullmatch(mode)
            if http is not None:
                status = int(http.group(1))
                if status == 500:
                    self._answer(
                        _Answer(500, raw=b"Internal Server Error", content_type="text/plain; charset=utf-8")
                    )
                elif status == 502:
                    self._answer(_Answer(502, {"detail": f"{FAILURE_PREFIX[op]}:upstream_error:stub {mode}"}))
                else:
                    self._answer(_Answer(status, {"detail": f"stub {mode}"}))
                return
            if mode == "drop_connection":
                self.close_connection = True
                self.wfile.flush()
                self.connection.close()
                return
            handlers: dict[str, Callable[[], _Answer]] = {
                "submit_order": lambda: stub._submit(body, self.headers, mode),
                "get_order": lambda: stub._get_order(params.get("order_id", "")),
                "get_order_by_client_order_id": lambda: stub._get_by_client_id(
                    params.get("client_order_id", "")
                ),
                "list_orders": lambda: stub._list(query.get("status", "all")),
                "cancel_order": lambda: stub._cancel(params.get("order_id", ""), self.headers),
                "cancel_all_orders": lambda: stub._cancel_all(self.headers),
            }
            if mode in ("broker_error", "broker_timeout") and op != "submit_order":
                cause: Exception = (
                    TimeoutError(ALPACA_READ_TIMEOUT)
                    if mode == "broker_timeout"
                    else _BrokerRefused(ALPACA_INTERNAL_ERROR)
                )
                self._answer(stub._broker_failure(op, cause))
                return
            try:
                answer = handlers[op]()
            except _Uncaught:
                answer = _Answer(500, raw=b"Internal Server Error", content_type="text/plain; charset=utf-8")
            if answer.status == 200:
                answer = _Answer(200, _corrupt_answer(answer.payload, mode), op=op)
            self._deliver(answer, mode)

        def _deliver(self, answer: _Answer, mode: str) -> None:
            payload = answer.raw if answer.raw is not None else _json(answer.payload)
            if mode == "malformed_json":
                payload = payload[: max(1, len(payload) // 2)]
            elif mode == "empty_body":
                payload = b""
            elif mode == "timeout":
                stub.stopping.wait(stub.delay_seconds)
            elif mode == "trickle":
                self._trickle(answer.status, payload)
                return
            self._answer(_Answer(answer.status, raw=payload, content_type=answer.content_type))

        def _health(self) -> None:
            mode = stub.health
            if mode not in HEALTH_MODES:
                raise ValueError(f"unknown LeanStub health {mode!r}")
            if mode == "slow":
                stub.stopping.wait(stub.delay_seconds)
            if mode == "down":
                self._answer(_Answer(503, {"status": "down"}))
            elif mode == "degraded":
                self._answer(_Answer(200, {"status": "degraded", "service": RUNNER_NAME}))
            elif mode == "empty":
                self._answer(_Answer(200, raw=b""))
            elif mode == "malformed":
                self._answer(_Answer(200, raw=b"ok"))
            else:
                self._answer(_Answer(200, {"status": "ok", "service": RUNNER_NAME}))

        def _answer(self, answer: _Answer) -> None:
            payload = answer.raw if answer.raw is not None else _json(answer.payload)
            self.send_response(answer.status)
            if answer.status != 307:  # Starlette's RedirectResponse has no content type
                self.send_header("Content-Type", answer.content_type)
            self.send_header("Content-Length", str(len(payload)))
            for name, value in answer.headers:
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)

        def _trickle(self, status: int, payload: bytes) -> None:
            self.send_response(status)
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


def _parse_body(raw: bytes, content_type: str | None) -> tuple[Any, dict[str, Any] | None]:
    """FastAPI's body reading (fastapi/routing.py `get_request_handler`): JSON when the content type is
    absent or JSON; a decode error is a 422 `json_invalid`; no body is None."""
    if not raw:
        return None, None
    kind = (content_type or "application/json").split(";")[0].strip().lower()
    if kind != "application/json" and not kind.endswith("+json"):
        return raw.decode("utf-8", "replace"), None
    try:
        return json.loads(raw), None
    except ValueError as exc:
        pos = exc.pos if isinstance(exc, json.JSONDecodeError) else 0
        msg = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
        error = {
            "type": "json_invalid",
            "loc": ["body", pos],
            "msg": "JSON decode error",
            "input": {},
            "ctx": {"error": msg},
        }
        return raw.decode("utf-8", "replace"), error
