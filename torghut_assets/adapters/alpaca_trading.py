"""Alpaca paper trading (alpaca-py `TradingClient`) as an ExecutionVenue (domain.md §6).

Idempotency rests on the decision hash sent as `client_order_id`: Alpaca refuses a second order with the
same id (HTTP 422 "client_order_id must be unique"), so a resubmission after an ambiguous timeout, or a
router fallback onto Alpaca for an order Alpaca already holds, reports the existing order and places
nothing. That is also why only HTTP 429 is retried here: a 429 means the request was not processed,
whereas after a timeout or a 5xx the order may exist, and the caller (who knows about fallbacks) decides.

Fills come from the account activities feed (`/v2/account/activities/FILL`), not from the order's
`filled_avg_price`: TCA (§7) wants each execution's quantity and price, and the feed is what Alpaca books.
alpaca-py has no wrapper for it, so it goes through the client's own `get` (same session, auth headers,
timeout). Fees are 0.0: Alpaca equities are commission-free and FILL activities carry no fee; regulatory
pass-through fees (SEC/TAF) are posted later as separate FEE activities, which are not attributed to
orders here. A fee field on an activity, should one appear, is summed.

alpaca-py is used with `raw_data=True`: its pydantic models reject an enum value they do not know (a new
order status would become a crash), while the checks below are exactly the contract of §6.
"""

from __future__ import annotations

import math
import re
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any

import pandas as pd
import requests
from alpaca.common.enums import BaseURL
from alpaca.common.exceptions import APIError
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import OrderSide, TimeInForce
from alpaca.trading.requests import LimitOrderRequest, MarketOrderRequest
from alpaca.trading.requests import OrderRequest as AlpacaOrderRequest
from urllib3.exceptions import ReadTimeoutError

# The market-data adapter's session wrapper: alpaca-py never passes a timeout to requests.
from torghut_assets.adapters.alpaca_market_data import _TimeoutSession
from torghut_assets.adapters.execution_venue import OrderReport, OrderRequest, VenueError

VENUE = "alpaca"
REQUIRED_ORDER_FIELDS = ("id", "status", "symbol", "qty")
MAX_BACKOFF_SECONDS = 2.0
ACTIVITY_PAGE_SIZE = 100  # Alpaca's maximum without a `date` filter
MAX_ACTIVITY_PAGES = 10
FEE_FIELDS = ("fee", "fees", "commission")
# Alpaca has worded the duplicate refusal both with underscores and with spaces across API revisions.
_DUPLICATE_STATUSES = frozenset({409, 422})
_DUPLICATE_MESSAGE = re.compile(r"client[\s_-]?order[\s_-]?id\b.*\b(must be unique|already exists)", re.I)
_EXCERPT_CHARS = 200


class _DuplicateClientOrderId(Exception):
    """Alpaca already holds an order with this client_order_id."""


class AlpacaPaperVenue:
    """Alpaca's paper trading API. One instance per account; safe to reuse across orders.

    Each HTTP request is bounded by `timeout_seconds` (per connect and per read: alpaca-py owns the
    session, so a server trickling bytes is not cut off at a total deadline as the LEAN client does).
    alpaca-py's own 429/504 retry (3 x a fixed, non-injectable 3 s sleep) is switched off; this class
    retries 429 alone, `max_rate_limit_retries` times with a doubling backoff capped at 2 s.
    """

    name = VENUE

    def __init__(
        self,
        *,
        api_key: str,
        secret_key: str,
        url_override: str | None = None,
        timeout_seconds: float = 10.0,
        max_rate_limit_retries: int = 3,
        backoff_seconds: float = 0.25,
        fill_poll_attempts: int = 3,
        fill_poll_interval_seconds: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not api_key or not api_key.strip():
            raise ValueError("Alpaca API key missing: set APCA_API_KEY_ID")
        if not secret_key or not secret_key.strip():
            raise ValueError("Alpaca secret key missing: set APCA_API_SECRET_KEY")
        if timeout_seconds <= 0:
            raise ValueError(f"timeout_seconds must be positive, got {timeout_seconds}")
        if max_rate_limit_retries < 0 or backoff_seconds < 0 or fill_poll_interval_seconds < 0:
            raise ValueError("retry counts, backoff and poll interval must not be negative")
        if fill_poll_attempts < 1:
            raise ValueError(f"fill_poll_attempts must be at least 1, got {fill_poll_attempts}")
        self.base_url = (url_override or BaseURL.TRADING_PAPER.value).strip().rstrip("/")
        self.timeout_seconds = float(timeout_seconds)
        self.max_rate_limit_retries = int(max_rate_limit_retries)
        self.backoff_seconds = float(backoff_seconds)
        self.fill_poll_attempts = int(fill_poll_attempts)
        self.fill_poll_interval_seconds = float(fill_poll_interval_seconds)
        self._sleep = sleep
        self._secret_key = secret_key
        self._api_key = api_key
        self._client = TradingClient(
            api_key=api_key, secret_key=secret_key, paper=True, raw_data=True, url_override=self.base_url
        )
        # Private attributes of alpaca's RESTClient: TradingClient exposes neither the session nor the
        # retry settings, and RESTClient ignores a retry count of 0 passed to its constructor.
        self._client._session.close()
        self._client._session = _TimeoutSession(self.timeout_seconds)
        self._client._retry = 0

    def __repr__(self) -> str:
        return f"AlpacaPaperVenue(base_url={self.base_url!r}, timeout_seconds={self.timeout_seconds})"

    def healthy(self) -> bool:
        """One unretried `GET /v2/clock`: a rate-limited account is as unroutable as a dead one."""
        try:
            clock = self._client.get("/clock")
        except Exception:
            return False
        return isinstance(clock, Mapping)

    def submit(self, order: OrderRequest) -> OrderReport:
        """Place the order (or find the one Alpaca already holds), then read its fills; the order is read
        again last because the POST answer predates every fill ("accepted", nothing filled)."""
        request = _alpaca_request(order)
        op = "submit_order"
        try:
            placed = self._call(op, lambda: self._client.submit_order(request))
            replayed = False
        except _DuplicateClientOrderId:
            op = "get_order_by_client_order_id"
            placed = self._call(op, lambda: self._client.get_order_by_client_id(order.client_order_id))
            replayed = True
        placed = self._checked_order(op, placed, order)
        order_id = str(placed["id"])
        fills = self._poll_fills(order_id, order, float(placed["qty"]), placed.get("created_at"))
        latest = self._checked_order(
            "get_order", self._call("get_order", lambda: self._client.get_order_by_id(order_id)), order
        )
        if str(latest["id"]) != order_id:
            raise self._violation("get_order", f"asked for order {order_id!r}, got {latest['id']!r}")
        return self._report(order, latest, fills, replayed=replayed)

    def find_order(self, order: OrderRequest) -> OrderReport | None:
        """Alpaca's record of an order, by client_order_id, with its fills; None if Alpaca never saw it.

        Used by nightly reconciliation and by the router after an ambiguous timeout.
        """
        op = "get_order_by_client_order_id"
        try:
            placed = self._call(op, lambda: self._client.get_order_by_client_id(order.client_order_id))
        except VenueError as exc:
            if exc.failure == "http_404":
                return None
            raise
        placed = self._checked_order(op, placed, order)
        fills = self._list_fills(str(placed["id"]), order, placed.get("created_at"))
        return self._report(order, placed, fills, replayed=True)

    def _call(self, op: str, request: Callable[[], Any]) -> Any:
        """Run one alpaca-py call, retrying HTTP 429 with backoff; every other failure is a VenueError."""
        for attempt in range(self.max_rate_limit_retries + 1):
            try:
                return request()
            except APIError as exc:
                status = exc.status_code
                if status == 429 and attempt < self.max_rate_limit_retries:
                    self._sleep(min(self.backoff_seconds * 2**attempt, MAX_BACKOFF_SECONDS))
                    continue
                body = str(exc)
                if op == "submit_order" and status in _DUPLICATE_STATUSES and _DUPLICATE_MESSAGE.search(body):
                    raise _DuplicateClientOrderId(body) from None
                failure = f"http_{status}" if status else "http_error"
                raise self._error(op, failure, f"HTTP {status}: {body[:_EXCERPT_CHARS]}") from None
            except requests.Timeout:
                raise self._timeout(op) from None
            except requests.ConnectionError as exc:
                if any(isinstance(arg, ReadTimeoutError) for arg in exc.args):
                    raise self._timeout(op) from None
                raise self._error(op, "network_error", f"cannot reach {self.base_url}: {exc}") from None
            except requests.JSONDecodeError:
                raise self._error(op, "invalid_json", f"{self.base_url} answered non-JSON") from None
            except requests.RequestException as exc:
                raise self._error(op, "unknown_error", f"{type(exc).__name__}: {exc}") from None
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _poll_fills(
        self, order_id: str, order: OrderRequest, qty: float, created_at: Any
    ) -> list[dict[str, Any]]:
        """FILL activities of the order, polled until they add up to its qty or the attempts run out."""
        fills: list[dict[str, Any]] = []
        for attempt in range(self.fill_poll_attempts):
            if attempt:
                self._sleep(self.fill_poll_interval_seconds)
            fills = self._list_fills(order_id, order, created_at)
            if sum(float(f["qty"]) for f in fills) >= qty:
                break
        return fills

    def _list_fills(self, order_id: str, order: OrderRequest, created_at: Any) -> list[dict[str, Any]]:
        """The feed cannot be filtered by order: read it from just before the order's creation, page by
        page, and keep this order's activities (each once: ids are unique)."""
        op = "list_fills"
        params: dict[str, Any] = {"direction": "asc", "page_size": ACTIVITY_PAGE_SIZE}
        after = _activity_floor(created_at)
        if after is not None:
            params["after"] = after
        fills: dict[str, dict[str, Any]] = {}
        for _ in range(MAX_ACTIVITY_PAGES):
            page = self._call(op, lambda: self._client.get("/account/activities/FILL", dict(params)))
            if not isinstance(page, list) or not all(isinstance(a, Mapping) for a in page):
                raise self._violation(op, f"expected a list of activities, got {type(page).__name__}")
            for activity in page:
                if str(activity.get("order_id")) == order_id:
                    fills.setdefault(str(activity.get("id")), self._checked_fill(activity, order))
            if len(page) < ACTIVITY_PAGE_SIZE:
                return list(fills.values())
            params["page_token"] = page[-1].get("id")
        raise self._error(op, "unknown_error", f"more than {MAX_ACTIVITY_PAGES} pages of fills since {after}")

    def _checked_fill(self, activity: Mapping[str, Any], order: OrderRequest) -> dict[str, Any]:
        op = "list_fills"
        if _absent(activity.get("id")):
            raise self._violation(op, f"a fill of order {activity.get('order_id')!r} has no id")
        qty, price = _number(activity.get("qty")), _number(activity.get("price"))
        if qty is None or qty <= 0 or price is None or price <= 0:
            raise self._violation(op, f"fill {activity.get('id')!r} has qty {qty!r} and price {price!r}")
        if str(activity.get("symbol", order.symbol)).upper() != order.symbol.upper():
            raise self._violation(op, f"fill {activity.get('id')!r} is for {activity.get('symbol')!r}")
        if str(activity.get("side", order.side)).lower() != order.side.lower():
            raise self._violation(op, f"fill {activity.get('id')!r} is a {activity.get('side')!r}")
        return dict(activity)

    def _checked_order(self, op: str, payload: Any, order: OrderRequest) -> dict[str, Any]:
        """The §6 contract, plus side and qty: booking a fill of the wrong side or size is worse than
        falling back."""
        if not isinstance(payload, Mapping):
            raise self._violation(op, f"expected an order object, got {type(payload).__name__}")
        missing = [key for key in REQUIRED_ORDER_FIELDS if _absent(payload.get(key))]
        if missing:
            raise self._violation(op, f"missing {', '.join(missing)}")
        try:
            uuid.UUID(str(payload["id"]))
        except ValueError:
            raise self._violation(op, f"order id {payload['id']!r} is not a UUID") from None
        if str(payload["symbol"]).strip().upper() != order.symbol.strip().upper():
            raise self._violation(op, f"symbol {payload['symbol']!r} != {order.symbol!r}")
        if str(payload.get("client_order_id")) != order.client_order_id:
            raise self._violation(
                op, f"client_order_id {payload.get('client_order_id')!r} != {order.client_order_id!r}"
            )
        side = payload.get("side")
        if not _absent(side) and str(side).lower() != order.side.lower():
            raise self._violation(op, f"side {side!r} != {order.side!r}")
        qty = _number(payload["qty"])
        if qty is None or qty <= 0:
            raise self._violation(op, f"qty must be a positive number, got {payload['qty']!r}")
        if qty != float(order.qty):
            raise self._violation(op, f"qty {qty:g} != submitted {order.qty}")
        return dict(payload)

    def _report(
        self, order: OrderRequest, latest: dict[str, Any], fills: list[dict[str, Any]], *, replayed: bool
    ) -> OrderReport:
        submitted = float(latest["qty"])
        filled = sum(float(f["qty"]) for f in fills)
        if filled > submitted:
            raise self._violation("list_fills", f"fills add up to {filled:g} > order qty {submitted:g}")
        notional = sum(float(f["qty"]) * float(f["price"]) for f in fills)
        fees = sum(_number(f.get(key)) or 0.0 for f in fills for key in FEE_FIELDS)
        return OrderReport(
            venue=VENUE,
            order_id=str(latest["id"]),
            client_order_id=order.client_order_id,
            symbol=order.symbol,
            side=order.side.lower(),
            submitted_qty=submitted,
            filled_qty=filled,
            avg_fill_price=notional / filled if filled > 0 else None,
            status=str(latest["status"]),
            filled_at=_last_fill_time(fills),
            fees=fees,
            raw={"order": latest, "fills": fills, "idempotent_replay": replayed},
        )

    def _timeout(self, op: str) -> VenueError:
        return self._error(op, "timeout", f"no answer from {self.base_url} within {self.timeout_seconds:g} s")

    def _violation(self, op: str, detail: str) -> VenueError:
        return self._error(op, "contract_violation", detail)

    def _error(self, op: str, failure: str, detail: str) -> VenueError:
        redacted = detail.replace(self._secret_key, "***").replace(self._api_key, "***")  # echoed keys
        return VenueError(venue=VENUE, op=op, failure=failure, detail=redacted)


def _alpaca_request(order: OrderRequest) -> AlpacaOrderRequest:
    """Limit prices go at Alpaca's tick (cents from $1, else 1/100 cent): it refuses sub-penny limits."""
    common: dict[str, Any] = {
        "symbol": order.symbol.strip().upper(),
        "qty": order.qty,
        "side": OrderSide(order.side.lower()),
        "time_in_force": TimeInForce(order.time_in_force.lower()),
        "client_order_id": order.client_order_id,
    }
    order_type = order.order_type.lower()
    if order_type == "market":
        return MarketOrderRequest(**common)
    if order_type != "limit":
        raise ValueError(f"unsupported order_type {order.order_type!r}: market or limit")
    if order.limit_price is None or not order.limit_price > 0:
        raise ValueError(f"a limit order needs a positive limit_price, got {order.limit_price!r}")
    tick_digits = 2 if order.limit_price >= 1 else 4
    return LimitOrderRequest(**common, limit_price=round(order.limit_price, tick_digits))


def _absent(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _number(value: Any) -> float | None:
    """A finite number from a JSON number or numeric string (Alpaca sends decimals as strings)."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        parsed = float(value)
    except ValueError:
        return None
    return parsed if math.isfinite(parsed) else None


def _timestamp(value: Any) -> pd.Timestamp | None:
    if _absent(value) or not isinstance(value, str):
        return None
    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError):
        return None
    if pd.isna(ts):
        return None
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def _activity_floor(created_at: Any) -> str | None:
    """A second before the order's creation: fills cannot precede it, and the margin absorbs rounding."""
    ts = _timestamp(created_at)
    return None if ts is None else (ts - pd.Timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _last_fill_time(fills: list[dict[str, Any]]) -> pd.Timestamp | None:
    times = [ts for ts in (_timestamp(f.get("transaction_time")) for f in fills) if ts is not None]
    return max(times) if times else None
