"""The LEAN runner bridge (docs/routing.md) as an ExecutionVenue: a plain HTTP client, nothing more.

It speaks the reference runner's API exactly (proompteng/lab@18622cbe3a,
services/torghut/app/lean_runner.py; docs/routing.md "LEAN runner API"):

    GET  /healthz                                 {"status": "ok", "service": "torghut-lean-runner"}
    POST /v1/orders/submit                        {symbol, side, qty, order_type, time_in_force,
                                                   limit_price?, extra_params: {client_order_id}}
                                                   + X-Correlation-ID, Idempotency-Key
    GET  /v1/orders/{order_id}
    GET  /v1/orders/client/{client_order_id}      404 {"detail": "order_not_found"} when unknown
    GET  /v1/orders?status=open|closed|all        {"orders": [...]}
    POST /v1/orders/{order_id}/cancel             {"ok": true, "_lean_audit": {...}}
    POST /v1/orders/cancel-all                    {"orders": [{id, status, body}], "_lean_audit": {...}}

The runner forbids extra fields (422), so the submit body carries nothing else. Orders come back as
alpaca-py `Order` JSON plus `_execution_adapter` ("lean"), and on submit `_lean_contract_version` and
`_lean_audit`; all of it is kept in `OrderReport.raw`. A runner error surfaces its `detail` (FastAPI's
`{"detail": ...}`) in the `VenueError`.

Every failure leaves as a `VenueError` in the reference taxonomy, so the router can name its fallback
reason (`lean_<op>_<failure>`, op names from the reference client). Nothing is resubmitted here: after a
timeout the runner may already hold the order, and only the router knows whether a fallback exists and
how to reconcile (by client_order_id). A runner 502 whose detail says the runner's own broker call timed
out (`lean_<op>_failed:network_timeout:...`) is just as ambiguous, so it is a `timeout` too.
A response that does not faithfully echo the order back is a `contract_violation`, never trusted:
booking a fill for the wrong symbol, side or size is worse than falling back.

It is no `OrderListingVenue`: the runner's `GET /v1/orders` takes only a status and answers the broker's
default page (alpaca-py `GetOrdersRequest(status=...)`: no `after`, `until` or `limit`, so Alpaca's newest
50), which cannot list a time range completely. The nightly reconciliation says so, as a warning, instead
of reading that page as "every order the runner holds".

The runner answers a submit with the order as the broker accepted it, before any fill, so `submit`
reads the order back (`fill_poll_attempts`, the first read at once) until it is final; a failed read
back keeps the submit's answer (the order is placed: raising would make the router place it twice).
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any
from urllib.parse import quote

import pandas as pd
import requests
import urllib3.exceptions

from torghut_assets.adapters.http_session import PooledHttpClient
from torghut_assets.domain.orders import CancelOutcome, OrderReport, OrderRequest, VenueError
from torghut_assets.domain.routing import Venue

RUNNER_ADAPTER = "lean"  # the runner's `_execution_adapter` on every order it answers
REQUIRED_ORDER_FIELDS = ("id", "status", "symbol", "qty")
LIST_STATUSES = ("open", "closed", "all")  # alpaca-py QueryOrderStatus; anything else is a runner 502
# Alpaca's final order states: reading an order back stops there.
FINAL_STATUSES = frozenset({"filled", "canceled", "expired", "rejected", "replaced", "done_for_day"})
ORDER_NOT_FOUND = "order_not_found"
# `lean_<op>_failed:<taxonomy>:<broker error>`, the detail of every runner 502 (lean_runner.py 188-290).
_RUNNER_FAILURE = re.compile(r"^lean_[a-z_]+_failed:(?P<taxonomy>[a-z_]+):")
# Alpaca's refusal of a known client_order_id, relayed by the runner once its idempotency cache forgot.
_DUPLICATE_CLIENT_ORDER_ID = re.compile(r"client[\s_-]?order[\s_-]?id\b.*\bmust be unique", re.I)
_READ_CHUNK_BYTES = 8192
_EXCERPT_CHARS = 200
_DETAIL_CHARS = 500


def _absent(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _number(value: Any) -> float | None:
    """A finite number from a JSON number or numeric string (brokers send both); None if not one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        parsed = float(value)
    elif isinstance(value, str):
        try:
            parsed = float(value.strip())
        except ValueError:
            return None
    else:
        return None
    return parsed if math.isfinite(parsed) else None


def submit_body(order: OrderRequest) -> dict[str, Any]:
    """The runner's `SubmitOrderBody`: its fields only (it forbids others), the client order id inside
    `extra_params` (the runner passes those to alpaca-py's order request)."""
    body: dict[str, Any] = {
        "symbol": order.symbol,
        "side": order.side,
        "qty": order.qty,
        "order_type": order.order_type,
        "time_in_force": order.time_in_force,
    }
    if order.limit_price is not None:
        body["limit_price"] = order.limit_price
    body["extra_params"] = {"client_order_id": order.client_order_id}
    return body


def runner_detail(text: str) -> str:
    """The runner's own words from an error body: FastAPI's `detail` string, a 422's errors as
    `loc: msg` pairs, else an excerpt of the body."""
    try:
        decoded = json.loads(text)
    except ValueError:
        return text[:_EXCERPT_CHARS]
    detail = decoded.get("detail") if isinstance(decoded, Mapping) else None
    if isinstance(detail, str):
        return detail[:_DETAIL_CHARS]
    if isinstance(detail, list) and detail:
        parts = []
        for item in detail:
            if isinstance(item, Mapping):
                loc = ".".join(str(p) for p in item.get("loc") or ())
                parts.append(f"{loc}: {item.get('msg')}")
            else:
                parts.append(str(item))
        return "; ".join(parts)[:_DETAIL_CHARS]
    return text[:_EXCERPT_CHARS]


class LeanRunnerVenue(PooledHttpClient):
    """HTTP client for the LEAN runner. One instance per runner URL; safe to reuse across orders.

    Every call is bounded: `timeout_seconds` caps the connect, the wait for the response headers and the
    whole body download (a runner trickling bytes cannot stretch a call), so a call returns within about
    2-3 x the timeout in the worst case. `healthy()` uses its own, shorter budget. Reading a submitted
    order back adds at most `fill_poll_attempts` such calls and the sleeps between them.
    """

    name: str = Venue.LEAN

    def __init__(
        self,
        *,
        base_url: str,
        timeout_seconds: float = 5.0,
        healthcheck_timeout_seconds: float = 2.0,
        fill_poll_attempts: int = 3,
        fill_poll_interval_seconds: float = 0.5,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not base_url or not base_url.strip().lower().startswith(("http://", "https://")):
            raise ValueError(f"LEAN runner URL must be http(s)://..., got {base_url!r}")
        if timeout_seconds <= 0 or healthcheck_timeout_seconds <= 0:
            raise ValueError("LEAN runner timeouts must be positive")
        if fill_poll_attempts < 0 or fill_poll_interval_seconds < 0:
            raise ValueError("fill_poll_attempts and fill_poll_interval_seconds must not be negative")
        self.base_url = base_url.strip().rstrip("/")
        self.timeout_seconds = float(timeout_seconds)
        self.healthcheck_timeout_seconds = float(healthcheck_timeout_seconds)
        self.fill_poll_attempts = int(fill_poll_attempts)
        self.fill_poll_interval_seconds = float(fill_poll_interval_seconds)
        self._sleep = sleep
        super().__init__(session)

    def __repr__(self) -> str:
        return f"LeanRunnerVenue(base_url={self.base_url!r}, timeout_seconds={self.timeout_seconds})"

    def healthy(self) -> bool:
        """True only for 2xx with `{"status": "ok"}`: an empty 2xx may come from a proxy in front of a dead
        runner, and a false "unhealthy" only costs a route to Alpaca while a false "healthy" costs orders."""
        try:
            payload = self._call("healthcheck", "GET", "/healthz", timeout=self.healthcheck_timeout_seconds)
        except Exception:
            return False
        return isinstance(payload, Mapping) and payload.get("status") == "ok"

    # --- ExecutionVenue -----------------------------------------------------------------------------

    def submit(self, order: OrderRequest) -> OrderReport:
        """Place the order (idempotent on client_order_id: the runner replays its answer for a repeated
        Idempotency-Key, and once it has forgotten the key the broker refuses the id, whereupon the
        order it holds is reported) and read it back until it is final or the attempts run out."""
        op = "submit_order"
        headers = {"X-Correlation-ID": order.correlation_id, "Idempotency-Key": order.client_order_id}
        try:
            payload = self._call(
                op, "POST", "/v1/orders/submit", json_body=submit_body(order), headers=headers
            )
        except VenueError as exc:
            if exc.failure == "http_502" and _DUPLICATE_CLIENT_ORDER_ID.search(exc.detail):
                try:
                    held = self.find_order(order)
                except VenueError:
                    raise exc from None
                if held is not None:
                    return replace(held, raw={**held.raw, "_lean_duplicate_refused": True})
            raise
        report = self._report(op, payload, order=order)
        self._check_audit(op, payload, idempotency_key=order.client_order_id)
        return self._read_back(order, report)

    # --- OrderLookupVenue -----------------------------------------------------------------------------

    def find_order(self, order: OrderRequest) -> OrderReport | None:
        """The runner's record of an order (reconciliation, ambiguous timeouts); None only when the runner
        answers `order_not_found`. It must be this order: same client_order_id, symbol, side and qty."""
        op = "get_order_by_client_order_id"
        payload = self._lookup(order.client_order_id)
        if payload is None:
            return None
        return self._report(op, payload, order=order, require_client_order_id=True)

    def get_order_by_client_order_id(self, client_order_id: str) -> OrderReport | None:
        """The order with this client_order_id; None when the runner answers 404 `order_not_found` (any
        other 404, e.g. a runner without this route, is an error: "unknown" is not "never placed")."""
        payload = self._lookup(client_order_id)
        if payload is None:
            return None
        return self._report(
            "get_order_by_client_order_id",
            payload,
            client_order_id=client_order_id,
            require_client_order_id=True,
        )

    def get_order(self, order_id: str) -> OrderReport:
        """An unknown or malformed id is a runner 502 (`lean_get_order_failed:...`), never None."""
        op = "get_order"
        payload = self._call(op, "GET", f"/v1/orders/{quote(order_id, safe='')}")
        return self._report(op, payload, order_id=order_id)

    def list_orders(self, status: str = "all") -> list[OrderReport]:
        """Every listed order must pass the contract: silently dropping one would hide a live position.
        The runner lists at most the broker's default page (Alpaca: the newest 50)."""
        op = "list_orders"
        if status not in LIST_STATUSES:
            raise ValueError(f"status must be one of {LIST_STATUSES}, got {status!r}")
        payload = self._call(op, "GET", "/v1/orders", params={"status": status})
        items = payload.get("orders") if isinstance(payload, Mapping) else None
        if not isinstance(items, list):
            raise self._violation(op, f'expected {{"orders": [...]}}, got {_shape(payload)}')
        return [self._report(op, item) for item in items]

    # --- CancellingVenue ------------------------------------------------------------------------------

    def list_open_orders(self) -> list[OrderReport]:
        return self.list_orders("open")

    def cancel_order(self, order_id: str, *, correlation_id: str | None = None) -> CancelOutcome:
        """The runner's answer carries no order state (`status` is None). A runner 502 relaying the
        broker's refusal (unknown order, not cancelable, a malformed id) is `accepted=False` with the
        runner's detail; a timeout, an unreachable runner or a broken answer raise VenueError."""
        op = "cancel_order"
        headers = {"X-Correlation-ID": correlation_id} if correlation_id else None
        try:
            payload = self._call(op, "POST", f"/v1/orders/{quote(order_id, safe='')}/cancel", headers=headers)
        except VenueError as exc:
            if exc.failure == "http_502" and _RUNNER_FAILURE.match(exc.detail):
                return CancelOutcome(
                    Venue.LEAN, order_id, None, accepted=False, status=None, detail=exc.detail
                )
            raise
        ok = payload.get("ok") if isinstance(payload, Mapping) else None
        if not isinstance(ok, bool):
            raise self._violation(op, f'expected {{"ok": true|false, ...}}, got {_shape(payload)}')
        self._check_audit(op, payload)
        detail = "" if ok else "the runner answered ok=false"
        return CancelOutcome(Venue.LEAN, order_id, None, accepted=ok, status=None, detail=detail)

    def cancel_all_orders(self, *, correlation_id: str | None = None) -> list[CancelOutcome]:
        """One outcome per open order the broker tried to cancel, from its per-order HTTP status; a
        runner 502 (the broker call itself failed) raises VenueError."""
        op = "cancel_all_orders"
        headers = {"X-Correlation-ID": correlation_id} if correlation_id else None
        payload = self._call(op, "POST", "/v1/orders/cancel-all", headers=headers)
        items = payload.get("orders") if isinstance(payload, Mapping) else None
        if not isinstance(items, list):
            raise self._violation(op, f'expected {{"orders": [...], ...}}, got {_shape(payload)}')
        self._check_audit(op, payload)
        return [self._cancel_outcome(op, item) for item in items]

    # --- internals ------------------------------------------------------------------------------------

    def _lookup(self, client_order_id: str) -> Any:
        op = "get_order_by_client_order_id"
        try:
            return self._call(op, "GET", f"/v1/orders/client/{quote(client_order_id, safe='')}")
        except VenueError as exc:
            if exc.failure == "http_404" and exc.detail == ORDER_NOT_FOUND:
                return None
            raise

    def _read_back(self, order: OrderRequest, submitted: OrderReport) -> OrderReport:
        latest = submitted
        for attempt in range(self.fill_poll_attempts):
            if latest.status in FINAL_STATUSES:
                break
            if attempt:
                self._sleep(self.fill_poll_interval_seconds)
            try:
                payload = self._call("get_order", "GET", f"/v1/orders/{quote(submitted.order_id, safe='')}")
                polled = self._report("get_order", payload, order=order, order_id=submitted.order_id)
            except VenueError as exc:
                return replace(latest, raw={**latest.raw, "_lean_read_back_error": exc.reason_code})
            # The submit answer's own keys (`_lean_audit`, `_lean_contract_version`) stay.
            latest = replace(polled, raw={**submitted.raw, **polled.raw})
        return latest

    def _call(
        self,
        op: str,
        method: str,
        path: str,
        *,
        json_body: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
        timeout: float | None = None,
    ) -> Any:
        """One request, no retries; returns the decoded JSON (None for an empty body) or raises VenueError."""
        budget = self.timeout_seconds if timeout is None else timeout
        deadline = time.monotonic() + budget
        try:
            with self._session.request(
                method,
                f"{self.base_url}{path}",
                json=json_body,
                headers={"Accept": "application/json", **(headers or {})},
                params=params,
                timeout=(budget, budget),
                stream=True,
                allow_redirects=False,
            ) as response:
                status = response.status_code
                content = self._read_body(op, response, deadline, budget)
        except VenueError:
            raise
        except (requests.Timeout, urllib3.exceptions.TimeoutError) as exc:
            raise self._error(op, "timeout", f"no answer within {budget:g}s: {exc}") from exc
        except (
            requests.ConnectionError,
            requests.exceptions.ChunkedEncodingError,
            urllib3.exceptions.ProtocolError,
        ) as exc:
            if isinstance(exc, requests.ConnectionError) and any(
                isinstance(arg, urllib3.exceptions.TimeoutError) for arg in exc.args
            ):
                raise self._error(op, "timeout", f"no answer within {budget:g}s: {exc}") from exc
            raise self._error(op, "network_error", str(exc)) from exc
        except (requests.RequestException, urllib3.exceptions.HTTPError) as exc:
            raise self._error(op, "http_error", f"{type(exc).__name__}: {exc}") from exc
        except Exception as exc:
            raise self._error(op, "unknown_error", f"{type(exc).__name__}: {exc}") from exc

        text = content.decode("utf-8", errors="replace")
        if not 200 <= status < 300:
            detail = runner_detail(text)
            failure = f"http_{status}"
            runner_failure = _RUNNER_FAILURE.match(detail)
            if status == 502 and runner_failure and runner_failure.group("taxonomy") == "network_timeout":
                failure = "timeout"  # the runner's broker call timed out: the order may exist
            raise self._error(op, failure, detail)
        if not text.strip():
            return None
        try:
            return json.loads(text)
        except ValueError as exc:
            raise self._error(op, "invalid_json", text[:_EXCERPT_CHARS]) from exc

    def _read_body(self, op: str, response: requests.Response, deadline: float, budget: float) -> bytes:
        """Read in single socket reads so the deadline is checked between them; requests' own timeout
        only bounds each read, which a server dribbling one byte at a time never trips."""
        raw = response.raw
        if not hasattr(raw, "read1"):
            return response.content
        chunks: list[bytes] = []
        while True:
            if time.monotonic() > deadline:
                raise self._error(op, "timeout", f"response body not complete within {budget:g}s")
            chunk = raw.read1(_READ_CHUNK_BYTES, decode_content=True)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)

    def _check_audit(
        self, op: str, payload: Mapping[str, Any], *, idempotency_key: str | None = None
    ) -> None:
        """`_lean_audit` comes with every submit and cancel answer; a submit's names the key we sent."""
        audit = payload.get("_lean_audit")
        if not isinstance(audit, Mapping):
            raise self._violation(op, f"_lean_audit must be an object, got {_shape(audit)}")
        if idempotency_key is not None and audit.get("idempotency_key") != idempotency_key:
            raise self._violation(
                op, f"_lean_audit.idempotency_key {audit.get('idempotency_key')!r} != {idempotency_key!r}"
            )

    def _cancel_outcome(self, op: str, item: Any) -> CancelOutcome:
        """alpaca-py's `CancelOrderResponse` as the runner dumps it: `{id, status: <HTTP>, body}`."""
        if not isinstance(item, Mapping) or _absent(item.get("id")):
            raise self._violation(op, f"cancel entry without an id: {item!r:.80}")
        status, body = item.get("status"), item.get("body")
        if isinstance(status, bool) or not isinstance(status, int):
            raise self._violation(op, f"cancel entry status must be an HTTP status, got {status!r}")
        if body is not None and not isinstance(body, Mapping):
            raise self._violation(op, f"cancel entry body must be an object or null, got {_shape(body)}")
        accepted = 200 <= status < 300
        order_status = body.get("status") if body is not None else None
        client_order_id = body.get("client_order_id") if body is not None else None
        detail = ""
        if not accepted:
            message = body.get("message") if body is not None else None
            detail = f"HTTP {status}" + (f": {message}" if message else "")
        return CancelOutcome(
            Venue.LEAN,
            str(item["id"]),
            str(client_order_id) if not _absent(client_order_id) else None,
            accepted=accepted,
            status=str(order_status) if isinstance(order_status, str) else None,
            detail=detail,
        )

    def _report(
        self,
        op: str,
        payload: Any,
        *,
        order: OrderRequest | None = None,
        client_order_id: str | None = None,
        order_id: str | None = None,
        require_client_order_id: bool = False,
    ) -> OrderReport:
        """Validate a runner order against what was asked (when known) and convert it."""
        if not isinstance(payload, Mapping):
            raise self._violation(op, f"expected an order object, got {_shape(payload)}")
        missing = [key for key in REQUIRED_ORDER_FIELDS if _absent(payload.get(key))]
        if missing:
            raise self._violation(op, f"missing {', '.join(missing)}")
        adapter = payload.get("_execution_adapter")
        if adapter != RUNNER_ADAPTER:
            raise self._violation(op, f"_execution_adapter {adapter!r} != {RUNNER_ADAPTER!r}")

        symbol = order.symbol if order is not None else None
        side = order.side if order is not None else None
        qty = float(order.qty) if order is not None else None
        if order is not None:
            client_order_id = order.client_order_id
        got_id = str(payload["id"])
        if order_id is not None and got_id != order_id:
            raise self._violation(op, f"asked for order {order_id!r}, got {got_id!r}")
        got_symbol = str(payload["symbol"]).strip().upper()
        if symbol is not None and got_symbol != symbol.strip().upper():
            raise self._violation(op, f"symbol {got_symbol!r} != {symbol!r}")
        got_cid = payload.get("client_order_id")
        if require_client_order_id and _absent(got_cid):
            raise self._violation(op, "order looked up by client_order_id does not carry one")
        if client_order_id is not None and not _absent(got_cid) and str(got_cid) != client_order_id:
            raise self._violation(op, f"client_order_id {got_cid!r} != {client_order_id!r}")
        got_side = payload.get("side")
        if side is not None and not _absent(got_side) and str(got_side).strip().lower() != side.lower():
            raise self._violation(op, f"side {got_side!r} != {side!r}")

        got_qty = _number(payload["qty"])
        if got_qty is None or got_qty <= 0:
            raise self._violation(op, f"qty must be a positive number, got {payload['qty']!r}")
        if qty is not None and got_qty != qty:
            raise self._violation(op, f"qty {got_qty:g} != submitted {qty:g}")
        filled_qty = self._optional_number(op, payload, "filled_qty", default=0.0)
        if filled_qty is None or not 0 <= filled_qty <= got_qty:
            raise self._violation(op, f"filled_qty must be within [0, {got_qty:g}], got {filled_qty!r}")
        price = self._optional_number(op, payload, "filled_avg_price", default=None)
        if price is not None and price <= 0:
            raise self._violation(op, f"filled_avg_price must be positive, got {price:g}")
        if filled_qty > 0 and price is None:
            raise self._violation(op, f"{filled_qty:g} filled without a filled_avg_price")
        fees = self._optional_number(op, payload, "fees", default=0.0)

        return OrderReport(
            venue=Venue.LEAN,
            order_id=got_id,
            client_order_id=client_order_id or ("" if _absent(got_cid) else str(got_cid)),
            symbol=symbol if symbol is not None else got_symbol,
            side=side.lower()
            if side is not None
            else ("" if _absent(got_side) else str(got_side).strip().lower()),
            submitted_qty=got_qty,
            filled_qty=filled_qty,
            avg_fill_price=price,
            status=str(payload["status"]),
            filled_at=self._filled_at(op, payload.get("filled_at")),
            fees=fees if fees is not None else 0.0,
            raw=dict(payload),
        )

    def _optional_number(
        self, op: str, payload: Mapping[str, Any], key: str, *, default: float | None
    ) -> float | None:
        value = payload.get(key)
        if _absent(value):
            return default
        parsed = _number(value)
        if parsed is None:
            raise self._violation(op, f"{key} is not a number: {value!r}")
        return parsed

    def _filled_at(self, op: str, value: Any) -> pd.Timestamp | None:
        if _absent(value):
            return None
        if not isinstance(value, str):
            raise self._violation(op, f"filled_at must be an ISO-8601 string, got {value!r}")
        try:
            ts = pd.Timestamp(value)
        except (ValueError, TypeError) as exc:
            raise self._violation(op, f"filled_at is not a timestamp: {value!r}") from exc
        if pd.isna(ts):
            raise self._violation(op, f"filled_at is not a timestamp: {value!r}")
        return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")

    @staticmethod
    def _error(op: str, failure: str, detail: str) -> VenueError:
        return VenueError(venue=Venue.LEAN, op=op, failure=failure, detail=detail)

    def _violation(self, op: str, detail: str) -> VenueError:
        return self._error(op, "contract_violation", detail)


def _shape(value: Any) -> str:
    if isinstance(value, Mapping):
        return f"an object with keys {sorted(str(k) for k in value)[:8]}"
    return type(value).__name__
