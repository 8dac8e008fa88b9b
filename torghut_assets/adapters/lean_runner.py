"""The LEAN runner bridge (domain.md §6) as an ExecutionVenue: a plain HTTP client, nothing more.

Every failure leaves as a `VenueError` in the reference taxonomy, so the router can name its fallback
reason (`lean_<op>_<failure>`). Nothing is retried here: after a timeout the runner may already hold the
order, and only the router knows whether a fallback exists and how to reconcile (by client_order_id).
A response that does not faithfully echo the order back is a `contract_violation`, never trusted:
booking a fill for the wrong symbol, side or size is worse than falling back.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import pandas as pd
import requests
import urllib3.exceptions

from torghut_assets.adapters.execution_venue import OrderReport, OrderRequest, VenueError
from torghut_assets.adapters.http_session import PooledHttpClient

VENUE = "lean"
REQUIRED_ORDER_FIELDS = ("id", "status", "symbol", "qty")
_READ_CHUNK_BYTES = 8192
_EXCERPT_CHARS = 200


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


class LeanRunnerVenue(PooledHttpClient):
    """HTTP client for the LEAN runner. One instance per runner URL; safe to reuse across orders.

    Every call is bounded: `timeout_seconds` caps the connect, the wait for the response headers and the
    whole body download (a runner trickling bytes cannot stretch a call), so a call returns within about
    2-3 x the timeout in the worst case. `healthy()` uses its own, shorter budget.
    """

    name = VENUE

    def __init__(
        self,
        *,
        base_url: str,
        timeout_seconds: float = 5.0,
        healthcheck_timeout_seconds: float = 2.0,
        session: requests.Session | None = None,
    ) -> None:
        if not base_url or not base_url.strip().lower().startswith(("http://", "https://")):
            raise ValueError(f"LEAN runner URL must be http(s)://..., got {base_url!r}")
        if timeout_seconds <= 0 or healthcheck_timeout_seconds <= 0:
            raise ValueError("LEAN runner timeouts must be positive")
        self.base_url = base_url.strip().rstrip("/")
        self.timeout_seconds = float(timeout_seconds)
        self.healthcheck_timeout_seconds = float(healthcheck_timeout_seconds)
        super().__init__(session)

    def healthy(self) -> bool:
        """True only for 2xx with `{"status": "ok"}`: an empty 2xx may come from a proxy in front of a dead
        runner, and a false "unhealthy" only costs a route to Alpaca while a false "healthy" costs orders."""
        try:
            payload = self._call("healthcheck", "GET", "/healthz", timeout=self.healthcheck_timeout_seconds)
        except Exception:
            return False
        return isinstance(payload, Mapping) and payload.get("status") == "ok"

    def submit(self, order: OrderRequest) -> OrderReport:
        op = "submit_order"
        body = {
            "client_order_id": order.client_order_id,
            "symbol": order.symbol,
            "side": order.side,
            "qty": order.qty,
            "type": order.order_type,
            "time_in_force": order.time_in_force,
            "limit_price": order.limit_price,
            "arrival_price": order.arrival_price,
        }
        headers = {"X-Correlation-ID": order.correlation_id, "Idempotency-Key": order.client_order_id}
        payload = self._call(op, "POST", "/v1/orders/submit", json_body=body, headers=headers)
        return self._report(
            op,
            payload,
            symbol=order.symbol,
            side=order.side,
            qty=float(order.qty),
            client_order_id=order.client_order_id,
        )

    def get_order(self, order_id: str) -> OrderReport:
        op = "get_order"
        payload = self._call(op, "GET", f"/v1/orders/{quote(order_id, safe='')}")
        return self._report(op, payload, order_id=order_id)

    def find_order(self, order: OrderRequest) -> OrderReport | None:
        """The runner's record of an order (reconciliation, ambiguous timeouts); None if never placed."""
        return self.get_order_by_client_order_id(order.client_order_id)

    def get_order_by_client_order_id(self, client_order_id: str) -> OrderReport | None:
        """None when the runner has never seen this client_order_id (404 or an empty result): that is the
        answer a reconciliation after an ambiguous timeout is asking for, not a failure."""
        op = "get_order_by_client_order_id"
        try:
            payload = self._call(op, "GET", "/v1/orders", params={"client_order_id": client_order_id})
        except VenueError as exc:
            if exc.failure == "http_404":
                return None
            raise
        items = [payload] if isinstance(payload, Mapping) and "orders" not in payload else None
        orders = items if items is not None else self._order_list(op, payload)
        if not orders:
            return None
        if len(orders) > 1:
            raise self._violation(op, f"{len(orders)} orders share client_order_id {client_order_id!r}")
        if _absent(orders[0].get("client_order_id")):
            raise self._violation(op, "order looked up by client_order_id does not carry one")
        return self._report(op, orders[0], client_order_id=client_order_id)

    def list_orders(self, status: str | None = None) -> list[OrderReport]:
        """Every listed order must pass the contract: silently dropping one would hide a live position."""
        op = "list_orders"
        params = {"status": status} if status else None
        payload = self._call(op, "GET", "/v1/orders", params=params)
        return [self._report(op, item) for item in self._order_list(op, payload)]

    def cancel_order(self, order_id: str) -> OrderReport | None:
        """The order's state after the cancel when the runner reports it (it may have partly filled first),
        None when it answers 2xx with no body."""
        op = "cancel_order"
        payload = self._call(op, "DELETE", f"/v1/orders/{quote(order_id, safe='')}")
        if payload is None:
            return None
        return self._report(op, payload, order_id=order_id)

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
            raise self._error(op, f"http_{status}", text[:_EXCERPT_CHARS])
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

    def _order_list(self, op: str, payload: Any) -> list[Mapping[str, Any]]:
        items = payload.get("orders") if isinstance(payload, Mapping) else payload
        if not isinstance(items, list):
            raise self._violation(op, f"expected a list of orders, got {type(payload).__name__}")
        for item in items:
            if not isinstance(item, Mapping):
                raise self._violation(op, f"order entry is not an object: {item!r:.80}")
        return items

    def _report(
        self,
        op: str,
        payload: Any,
        *,
        symbol: str | None = None,
        side: str | None = None,
        qty: float | None = None,
        client_order_id: str | None = None,
        order_id: str | None = None,
    ) -> OrderReport:
        """Validate a runner order against what was asked (keyword arguments, when known) and convert it."""
        if not isinstance(payload, Mapping):
            raise self._violation(op, f"expected an order object, got {type(payload).__name__}")
        missing = [key for key in REQUIRED_ORDER_FIELDS if _absent(payload.get(key))]
        if missing:
            raise self._violation(op, f"missing {', '.join(missing)}")

        got_id = str(payload["id"])
        if order_id is not None and got_id != order_id:
            raise self._violation(op, f"asked for order {order_id!r}, got {got_id!r}")
        got_symbol = str(payload["symbol"]).strip().upper()
        if symbol is not None and got_symbol != symbol.strip().upper():
            raise self._violation(op, f"symbol {got_symbol!r} != {symbol!r}")
        got_cid = payload.get("client_order_id")
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
            venue=VENUE,
            order_id=got_id,
            client_order_id=client_order_id or ("" if _absent(got_cid) else str(got_cid)),
            symbol=symbol if symbol is not None else got_symbol,
            side=side if side is not None else ("" if _absent(got_side) else str(got_side).strip().lower()),
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
        return VenueError(venue=VENUE, op=op, failure=failure, detail=detail)

    def _violation(self, op: str, detail: str) -> VenueError:
        return self._error(op, "contract_violation", detail)
