"""Alpaca paper trading (alpaca-py `TradingClient`) as an execution venue (docs/routing.md): it places and
looks up orders (`ExecutionVenue`, `OrderLookupVenue`), lists those of a time range (`OrderListingVenue`),
cancels them (`CancellingVenue`) and reports the account and its positions as Alpaca holds them
(`AccountVenue`).

Idempotency rests on the decision hash sent as `client_order_id`: Alpaca refuses a second order with the
same id (HTTP 422 "client_order_id must be unique"), so a resubmission after an ambiguous timeout, or a
router fallback onto Alpaca for an order Alpaca already holds, reports the existing order and places
nothing. That is also why only HTTP 429 is retried here: a 429 means the request was not processed,
whereas after a timeout or a 5xx the order may exist, and the caller (who knows about fallbacks) decides.

Rate limits: Alpaca answers a 429 with `X-RateLimit-Reset` (epoch seconds when the window reopens),
`X-RateLimit-Limit` and `X-RateLimit-Remaining`. A 429 is retried after the reset (at least the doubling
backoff), as long as the waits of one call stay within `rate_limit_max_wait_seconds`; a reset further away
fails at once as `http_429`, naming the reset, instead of sleeping on it. alpaca-py's own retry (3 x a
fixed, non-injectable 3 s sleep that ignores the headers) is switched off; its `APIError` carries the
`requests` response, which is where the headers are read.

Fills come from the account activities feed (`/v2/account/activities/FILL`), the order's own
`filled_qty` saying how much there is to find: the feed cannot be filtered by order, so it is read between
the order's creation and its last update, page by page, and only until the order's fills are all found
(a busy account's later fills are never walked). Should the bounded walk not find them all (the feed lags,
or more than `MAX_ACTIVITY_PAGES` pages of other orders' fills), the report falls back to the order's own
aggregate (`filled_qty`, `filled_avg_price`) and says so in `raw["fills_complete"]`.

Sides: Alpaca reports a short sale as `sell_short` (or `sell_short_exempt`) on fills, and orders carry a
`position_intent` (`sell_to_open` for a short); both are the `sell` of our vocabulary (`SIDES`). alpaca-py's
`OrderSide` knows only buy and sell, one reason the client runs with `raw_data=True`: its pydantic models
reject any enum value they do not know (a new order status would become a crash), while the checks below
are exactly the contract in docs/routing.md, "Alpaca (as implemented)".

Fees: the order's `commission` (sent by recent API versions; 0 or absent for commission-free equities) is
`OrderReport.fees`; without it, a fee field on the FILL activities, should one appear, is summed.
Regulatory pass-through fees (SEC/TAF) are posted later as separate FEE activities, not attributed here.

Every answer is checked whole before anything is returned: a wrong shape, a missing field, an error body
or a timeout is a `VenueError` with a reason code, never a partly read report. A position read that fails
raises: a missing position report is never "flat".
"""

from __future__ import annotations

import math
import re
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

import pandas as pd
import requests
from alpaca.common.enums import BaseURL
from alpaca.common.exceptions import APIError
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import OrderSide, PositionIntent, TimeInForce
from alpaca.trading.requests import LimitOrderRequest, MarketOrderRequest
from alpaca.trading.requests import OrderRequest as AlpacaOrderRequest
from urllib3.exceptions import ReadTimeoutError

# The market-data adapter's session wrapper: alpaca-py never passes a timeout to requests.
from torghut_assets.adapters.alpaca_market_data import _TimeoutSession
from torghut_assets.domain.orders import (
    AccountSnapshot,
    CancelOutcome,
    OrderReport,
    OrderRequest,
    PositionReport,
    VenueError,
)
from torghut_assets.domain.routing import Venue

REQUIRED_ORDER_FIELDS = ("id", "status", "symbol", "qty", "filled_qty")
REQUIRED_ACCOUNT_FIELDS = ("id", "status", "currency", "equity", "buying_power", "cash", "trading_blocked")
MAX_BACKOFF_SECONDS = 2.0
DEFAULT_RATE_LIMIT_MAX_WAIT_SECONDS = 10.0
ACTIVITY_PAGE_SIZE = 100  # Alpaca's maximum without a `date` filter
MAX_ACTIVITY_PAGES = 10
ORDER_PAGE_LIMIT = 500  # Alpaca's maximum for GET /v2/orders
MAX_ORDER_PAGES = 20
MAX_LISTING_FILL_PAGES = 50  # a day's FILL activities, 100 a page, when listing a range
FEE_FIELDS = ("fee", "fees", "commission")  # on FILL activities
# Alpaca's order sides (its OrderSide schema also has buy_minus, sell_plus, cross... for other desks) as
# the buy / sell of our vocabulary; anything else is a contract violation.
SIDES = {"buy": "buy", "sell": "sell", "sell_short": "sell", "sell_short_exempt": "sell"}
POSITION_INTENTS = {
    "buy_to_open": "buy",
    "buy_to_close": "buy",
    "sell_to_open": "sell",
    "sell_to_close": "sell",
}
POSITION_SIDES = frozenset({"long", "short"})
# After these no further fill can arrive, so the fill walk may stop at the order's last update.
FINAL_ORDER_STATUSES = frozenset({"filled", "canceled", "expired", "rejected", "replaced", "done_for_day"})
# Alpaca has worded the duplicate refusal both with underscores and with spaces across API revisions.
_DUPLICATE_STATUSES = frozenset({409, 422})
_DUPLICATE_MESSAGE = re.compile(r"client[\s_-]?order[\s_-]?id\b.*\b(must be unique|already exists)", re.I)
_REFUSED_CANCELS = frozenset({"http_404", "http_422"})  # unknown, or no longer cancelable
_EXCERPT_CHARS = 200
_LAST_UPDATE_FIELDS = ("filled_at", "canceled_at", "expired_at", "failed_at", "replaced_at", "updated_at")


class _DuplicateClientOrderId(Exception):
    """Alpaca already holds an order with this client_order_id."""


class AlpacaPaperVenue:
    """Alpaca's paper trading API. One instance per account; safe to reuse across orders.

    Each HTTP request is bounded by `timeout_seconds` (per connect and per read: alpaca-py owns the
    session, so a server trickling bytes is not cut off at a total deadline as the LEAN client does).
    A 429 is retried at most `max_rate_limit_retries` times, each after the window's reset (at least
    `backoff_seconds` doubling up to 2 s), while the waits of one call add up to no more than
    `rate_limit_max_wait_seconds`. `sleep` and `clock` (epoch seconds) are injectable for tests.
    """

    name: str = Venue.ALPACA

    def __init__(
        self,
        *,
        api_key: str,
        secret_key: str,
        url_override: str | None = None,
        timeout_seconds: float = 10.0,
        max_rate_limit_retries: int = 3,
        backoff_seconds: float = 0.25,
        rate_limit_max_wait_seconds: float = DEFAULT_RATE_LIMIT_MAX_WAIT_SECONDS,
        fill_poll_attempts: int = 3,
        fill_poll_interval_seconds: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not api_key or not api_key.strip():
            raise ValueError("Alpaca API key missing: set APCA_API_KEY_ID")
        if not secret_key or not secret_key.strip():
            raise ValueError("Alpaca secret key missing: set APCA_API_SECRET_KEY")
        if timeout_seconds <= 0:
            raise ValueError(f"timeout_seconds must be positive, got {timeout_seconds}")
        if min(max_rate_limit_retries, backoff_seconds, fill_poll_interval_seconds) < 0:
            raise ValueError("retry counts, backoff and poll interval must not be negative")
        if not rate_limit_max_wait_seconds >= 0:
            raise ValueError(f"rate_limit_max_wait_seconds must be ≥ 0, got {rate_limit_max_wait_seconds}")
        if fill_poll_attempts < 1:
            raise ValueError(f"fill_poll_attempts must be at least 1, got {fill_poll_attempts}")
        self.base_url = (url_override or BaseURL.TRADING_PAPER.value).strip().rstrip("/")
        self.timeout_seconds = float(timeout_seconds)
        self.max_rate_limit_retries = int(max_rate_limit_retries)
        self.backoff_seconds = float(backoff_seconds)
        self.rate_limit_max_wait_seconds = float(rate_limit_max_wait_seconds)
        self.fill_poll_attempts = int(fill_poll_attempts)
        self.fill_poll_interval_seconds = float(fill_poll_interval_seconds)
        self._sleep = sleep
        self._clock = clock
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

    # --- orders ---------------------------------------------------------------------------------------

    def submit(self, order: OrderRequest) -> OrderReport:
        """Place the order (or find the one Alpaca already holds), then poll it and its fills: the POST
        answer predates every fill ("accepted", nothing filled)."""
        request = _alpaca_request(order)
        op = "submit_order"
        try:
            placed = self._call(op, lambda: self._client.submit_order(request))
            replayed = False
        except _DuplicateClientOrderId:
            op = "get_order_by_client_order_id"
            placed = self._call(op, lambda: self._client.get_order_by_client_id(order.client_order_id))
            replayed = True
        order_id = str(self._checked_order(op, placed, order)["id"])
        latest: dict[str, Any] = {}
        fills: list[dict[str, Any]] = []
        complete = False
        for attempt in range(self.fill_poll_attempts):
            if attempt:
                self._sleep(self.fill_poll_interval_seconds)
            answer = self._call("get_order", lambda: self._client.get_order_by_id(order_id))
            latest = self._checked_order("get_order", answer, order)
            if str(latest["id"]) != order_id:
                raise self._violation("get_order", f"asked for order {order_id!r}, got {latest['id']!r}")
            fills, complete = self._order_fills(latest, order)
            if complete and _settled(latest):
                break
        return self._report(order, latest, fills, complete=complete, replayed=replayed)

    def find_order(self, order: OrderRequest) -> OrderReport | None:
        """Alpaca's record of an order, by client_order_id, with its fills; None if Alpaca never saw it.

        One `GET /v2/orders:by_client_order_id` (no scan of the order list, however busy the account),
        then the bounded fill walk. Used by nightly reconciliation and by the router after an ambiguous
        timeout.
        """
        op = "get_order_by_client_order_id"
        try:
            placed = self._call(op, lambda: self._client.get_order_by_client_id(order.client_order_id))
        except VenueError as exc:
            if exc.failure == "http_404":
                return None
            raise
        checked = self._checked_order(op, placed, order)
        fills, complete = self._order_fills(checked, order)
        return self._report(order, checked, fills, complete=complete, replayed=True)

    def list_open_orders(self) -> list[OrderReport]:
        """Every open order, oldest first: `GET /v2/orders?status=open`, `limit` 500 per page, paged on
        the submission time (Alpaca's `after` is exclusive, so each page restarts a microsecond before
        the last one's newest order and repeats are dropped by id)."""
        op = "list_open_orders"
        params: dict[str, Any] = {
            "status": "open",
            "limit": ORDER_PAGE_LIMIT,
            "direction": "asc",
            "nested": "false",
        }
        found: dict[str, OrderReport] = {}
        for _ in range(MAX_ORDER_PAGES):
            page = self._call(op, lambda: self._client.get("/orders", dict(params)))
            if not isinstance(page, list):
                raise self._violation(op, f"expected a list of orders, got {type(page).__name__}")
            parsed = [self._parsed_order(op, item) for item in page]
            fresh = [o for o in parsed if str(o["id"]) not in found]
            for item in fresh:
                found[str(item["id"])] = self._open_order_report(op, item)
            if len(page) < ORDER_PAGE_LIMIT:
                return list(found.values())
            if not fresh:
                raise self._violation(op, f"page after {params.get('after')} repeats the previous one")
            newest = max(self._submission_time(op, o) for o in parsed)
            params["after"] = _iso(newest - pd.Timedelta(microseconds=1))
        raise self._error(op, "unknown_error", f"more than {MAX_ORDER_PAGES} pages of open orders")

    def orders_between(self, since: pd.Timestamp, until: pd.Timestamp) -> list[OrderReport]:
        """Every order the account holds that was submitted in [`since`, `until`), or has a fill in that
        span (submitted earlier, filled inside), whoever placed it, oldest first (`OrderListingVenue`).

        Orders: `GET /v2/orders?status=all&after=…&until=…&limit=500&direction=asc`. Both bounds are
        exclusive and on the submission time, so the first page starts a microsecond before `since` and
        each next page a microsecond before the previous page's newest order (repeats dropped by id);
        the listing ends at the first page shorter than the limit. An order outside the range asked for
        is a contract violation. Fills: the FILL activities of the span (`after` / `until` to the second,
        widened by one, then cut to the span), paged by `page_token`; an order they name that the
        listing does not hold is read by id. More pages than `MAX_ORDER_PAGES` /
        `MAX_LISTING_FILL_PAGES` is a `VenueError`, never a shorter list. `raw["listed_by"]` says which
        walk found the order (`submitted` or `fill`).
        """
        start, end = _utc(since), _utc(until)
        if not start < end:
            raise ValueError(f"an empty range: since {start.isoformat()} is not before {end.isoformat()}")
        orders = self._orders_submitted(start, end)
        listed_by = dict.fromkeys(orders, "submitted")
        for order_id in self._orders_filled(start, end):
            if order_id in orders:
                continue
            orders[order_id] = self._order_by_id(order_id)
            listed_by[order_id] = "fill"
        ordered = sorted(
            orders.values(), key=lambda o: (self._submission_time("list_orders", o), str(o["id"]))
        )
        reports = []
        for payload in ordered:
            report = self._open_order_report("list_orders", payload)
            reports.append(replace(report, raw={**report.raw, "listed_by": listed_by[str(payload["id"])]}))
        return reports

    def _orders_submitted(self, start: pd.Timestamp, end: pd.Timestamp) -> dict[str, dict[str, Any]]:
        op = "list_orders"
        params: dict[str, Any] = {
            "status": "all",
            "limit": ORDER_PAGE_LIMIT,
            "direction": "asc",
            "nested": "false",
            "after": _iso(start - pd.Timedelta(microseconds=1)),
            "until": _iso(end),
        }
        found: dict[str, dict[str, Any]] = {}
        for _ in range(MAX_ORDER_PAGES):
            page = self._call(op, lambda: self._client.get("/orders", dict(params)))
            if not isinstance(page, list):
                raise self._violation(op, f"expected a list of orders, got {type(page).__name__}")
            parsed = [self._parsed_order(op, item) for item in page]
            for item in parsed:
                submitted = self._submission_time(op, item)
                if not start <= submitted < end:
                    raise self._violation(
                        op,
                        f"order {item['id']} was submitted at {submitted.isoformat()}, outside the range "
                        f"asked for [{start.isoformat()}, {end.isoformat()})",
                    )
            fresh = [o for o in parsed if str(o["id"]) not in found]
            found.update((str(o["id"]), o) for o in fresh)
            if len(page) < ORDER_PAGE_LIMIT:
                return found
            if not fresh:
                raise self._violation(op, f"page after {params['after']} repeats the previous one")
            newest = max(self._submission_time(op, o) for o in parsed)
            params["after"] = _iso(newest - pd.Timedelta(microseconds=1))
        raise self._error(op, "unknown_error", f"more than {MAX_ORDER_PAGES} pages of orders in the range")

    def _orders_filled(self, start: pd.Timestamp, end: pd.Timestamp) -> list[str]:
        """The ids of the orders with a FILL activity in [start, end), in the feed's order."""
        op = "list_fills"
        params: dict[str, Any] = {
            "direction": "asc",
            "page_size": ACTIVITY_PAGE_SIZE,
            "after": _iso_seconds(start.floor("s") - pd.Timedelta(seconds=1)),
            "until": _iso_seconds(end.ceil("s") + pd.Timedelta(seconds=1)),
        }
        order_ids: dict[str, None] = {}
        for _ in range(MAX_LISTING_FILL_PAGES):
            page = self._call(op, lambda: self._client.get("/account/activities/FILL", dict(params)))
            if not isinstance(page, list) or not all(isinstance(a, Mapping) for a in page):
                raise self._violation(op, f"expected a list of activities, got {type(page).__name__}")
            for activity in page:
                at = _timestamp(activity.get("transaction_time"))
                order_id = activity.get("order_id")
                if at is None or not _is_uuid(order_id):
                    raise self._violation(
                        op,
                        f"fill {activity.get('id')!r} has transaction_time "
                        f"{activity.get('transaction_time')!r} and order_id {order_id!r}",
                    )
                if start <= at < end:
                    order_ids[str(order_id)] = None
            if len(page) < ACTIVITY_PAGE_SIZE:
                return list(order_ids)
            token = page[-1].get("id")
            if _absent(token):
                raise self._violation(op, "an activity without an id ends a full page")
            params["page_token"] = token
        raise self._error(
            op, "unknown_error", f"more than {MAX_LISTING_FILL_PAGES} pages of fills in the range"
        )

    def _order_by_id(self, order_id: str) -> dict[str, Any]:
        op = "get_order"
        payload = self._parsed_order(op, self._call(op, lambda: self._client.get_order_by_id(order_id)))
        if str(payload["id"]) != order_id:
            raise self._violation(op, f"asked for order {order_id!r}, got {payload['id']!r}")
        return payload

    def cancel_order(self, order_id: str) -> CancelOutcome:
        """`DELETE /v2/orders/{id}`: 204 is an accepted cancel request; 404 (unknown) and 422 (no longer
        cancelable) are refusals reported as such; anything else raises."""
        try:
            uuid.UUID(order_id)
        except ValueError:
            raise ValueError(f"Alpaca order ids are UUIDs, got {order_id!r}") from None
        op = "cancel_order"
        try:
            self._call(op, lambda: self._client.cancel_order_by_id(order_id))
        except VenueError as exc:
            if exc.failure in _REFUSED_CANCELS:
                return CancelOutcome(Venue.ALPACA, order_id, None, False, exc.failure, exc.detail)
            raise
        return CancelOutcome(Venue.ALPACA, order_id, None, True, "http_204", "cancel requested")

    def cancel_all_orders(self) -> list[CancelOutcome]:
        """`DELETE /v2/orders`: Alpaca answers 207 with one `{id, status, body}` per open order; each is
        an outcome (`status` `http_200` accepted, else refused with the body's message)."""
        op = "cancel_all_orders"
        answer = self._call(op, lambda: self._client.cancel_orders())
        if answer is None:  # an empty body: nothing was open
            return []
        if not isinstance(answer, list) or not all(isinstance(item, Mapping) for item in answer):
            raise self._violation(op, f"expected a list of per-order results, got {type(answer).__name__}")
        outcomes = []
        for item in answer:
            order_id, status = item.get("id"), item.get("status")
            if not _is_uuid(order_id):
                raise self._violation(op, f"a cancel result has order id {order_id!r}")
            if isinstance(status, bool) or not isinstance(status, int):
                raise self._violation(op, f"order {order_id}: status {status!r} is not an HTTP status")
            body = item.get("body")
            message = body.get("message") if isinstance(body, Mapping) else None
            accepted = 200 <= status < 300
            detail = "cancel requested" if accepted else f"HTTP {status}: {message or body}"[:_EXCERPT_CHARS]
            outcomes.append(
                CancelOutcome(Venue.ALPACA, str(order_id), None, accepted, f"http_{status}", detail)
            )
        return outcomes

    # --- account --------------------------------------------------------------------------------------

    def account(self) -> AccountSnapshot:
        """`GET /v2/account`. `trading_blocked` also folds in `account_blocked` and
        `trade_suspended_by_user`: either one refuses orders as surely."""
        op = "get_account"
        payload = self._call(op, lambda: self._client.get_account())
        if not isinstance(payload, Mapping):
            raise self._violation(op, f"expected an account object, got {type(payload).__name__}")
        missing = [key for key in REQUIRED_ACCOUNT_FIELDS if _absent(payload.get(key))]
        if missing:
            raise self._violation(op, f"missing {', '.join(missing)}")
        equity, buying_power, cash = (_number(payload[key]) for key in ("equity", "buying_power", "cash"))
        if equity is None or buying_power is None or cash is None:
            shown = {key: payload[key] for key in ("equity", "buying_power", "cash")}
            raise self._violation(op, f"not all numbers: {shown}")
        blocks = ("trading_blocked", "account_blocked", "trade_suspended_by_user")
        flags = {key: payload.get(key) for key in (*blocks, "shorting_enabled")}
        not_bool = {
            key: value for key, value in flags.items() if value is not None and not isinstance(value, bool)
        }
        if not_bool:
            raise self._violation(op, f"not booleans: {not_bool}")
        return AccountSnapshot(
            venue=Venue.ALPACA,
            account_id=str(payload["id"]),
            equity=equity,
            buying_power=buying_power,
            cash=cash,
            currency=str(payload["currency"]),
            status=str(payload["status"]),
            shorting_enabled=flags["shorting_enabled"] is True,
            trading_blocked=any(flags[key] is True for key in blocks),
            as_of=pd.Timestamp(self._clock(), unit="s", tz="UTC"),
        )

    def positions(self) -> list[PositionReport]:
        """`GET /v2/positions`, with signed quantities: Alpaca sends a short as `side: short` and a
        negative `qty`; a positive qty on a short is negated, a negative one on a long is a violation.
        All positions or a `VenueError`: never a partial list."""
        op = "list_positions"
        payload = self._call(op, lambda: self._client.get_all_positions())
        if not isinstance(payload, list) or not all(isinstance(item, Mapping) for item in payload):
            raise self._violation(op, f"expected a list of positions, got {type(payload).__name__}")
        reports: dict[str, PositionReport] = {}
        for item in payload:
            symbol = item.get("symbol")
            if _absent(symbol) or not isinstance(symbol, str):
                raise self._violation(op, f"a position has symbol {symbol!r}")
            qty, side = _number(item.get("qty")), item.get("side")
            if qty is None:
                raise self._violation(op, f"{symbol}: qty {item.get('qty')!r} is not a number")
            if side is not None and side not in POSITION_SIDES:
                raise self._violation(op, f"{symbol}: unknown position side {side!r}")
            if side == "long" and qty < 0:
                raise self._violation(op, f"{symbol}: a long position with qty {qty:g}")
            signed = -abs(qty) if side == "short" else qty
            prices: dict[str, float | None] = {}
            for key in ("avg_entry_price", "market_value"):
                raw = item.get(key)
                prices[key] = None if raw is None else _number(raw)
                if raw is not None and prices[key] is None:
                    raise self._violation(op, f"{symbol}: {key} {raw!r} is not a number")
            symbol = symbol.strip().upper()
            if symbol in reports:
                raise self._violation(op, f"{symbol} is reported twice")
            reports[symbol] = PositionReport(
                Venue.ALPACA, symbol, signed, prices["avg_entry_price"], prices["market_value"]
            )
        return list(reports.values())

    # --- the HTTP call --------------------------------------------------------------------------------

    def _call(self, op: str, request: Callable[[], Any]) -> Any:
        """Run one alpaca-py call; a 429 waits for the window's reset (bounded), every other failure is a
        VenueError."""
        waited = 0.0
        for attempt in range(self.max_rate_limit_retries + 1):
            try:
                return request()
            except APIError as exc:
                status = exc.status_code
                body = str(exc)
                if status == 429:
                    wait, detail = self._rate_limit_wait(exc, attempt)
                    cap = self.rate_limit_max_wait_seconds
                    if attempt < self.max_rate_limit_retries and waited + wait <= cap:
                        self._sleep(wait)
                        waited += wait
                        continue
                    raise self._error(op, "http_429", f"{detail}; waited {waited:g} s of {cap:g} s") from None
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

    def _rate_limit_wait(self, exc: APIError, attempt: int) -> tuple[float, str]:
        """Seconds until the window reopens (`X-RateLimit-Reset`, epoch seconds), never less than the
        doubling backoff; and the headers, for the error."""
        backoff = min(self.backoff_seconds * 2**attempt, MAX_BACKOFF_SECONDS)
        response = exc.response
        headers: Mapping[str, str] = getattr(response, "headers", None) or {}
        reset = _number(headers.get("X-RateLimit-Reset"))
        limits = ", ".join(
            f"{name.lower()}={headers[name]}"
            for name in ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset")
            if name in headers
        )
        if reset is None:
            return backoff, f"rate limited (HTTP 429, no reset header{': ' + limits if limits else ''})"
        until_reset = reset - self._clock()
        return max(until_reset, backoff), f"rate limited; the window resets in {until_reset:.3g} s ({limits})"

    # --- fills ----------------------------------------------------------------------------------------

    def _order_fills(
        self, placed: Mapping[str, Any], order: OrderRequest
    ) -> tuple[list[dict[str, Any]], bool]:
        """The order's FILL activities and whether they add up to its `filled_qty`.

        Read ascending from a second before the order's creation (`after`), up to a second past its last
        update once it is final (`until`), and only until its filled qty is found: the feed interleaves
        every order's fills, and a busy account must not be walked to its end.
        """
        op = "list_fills"
        target = float(placed["filled_qty"])
        if target <= 0:
            return [], True
        order_id = str(placed["id"])
        params: dict[str, Any] = {"direction": "asc", "page_size": ACTIVITY_PAGE_SIZE}
        after = _timestamp(placed.get("created_at")) or _timestamp(placed.get("submitted_at"))
        if after is not None:
            params["after"] = _iso_seconds(after - pd.Timedelta(seconds=1))
        if str(placed["status"]) in FINAL_ORDER_STATUSES:
            times = [_timestamp(placed.get(key)) for key in _LAST_UPDATE_FIELDS]
            last = max((ts for ts in times if ts is not None), default=None)
            if last is not None:
                params["until"] = _iso_seconds(last + pd.Timedelta(seconds=1))
        fills: dict[str, dict[str, Any]] = {}
        for _ in range(MAX_ACTIVITY_PAGES):
            page = self._call(op, lambda: self._client.get("/account/activities/FILL", dict(params)))
            if not isinstance(page, list) or not all(isinstance(a, Mapping) for a in page):
                raise self._violation(op, f"expected a list of activities, got {type(page).__name__}")
            for activity in page:
                if str(activity.get("order_id")) == order_id:
                    fills.setdefault(str(activity.get("id")), self._checked_fill(activity, order))
            found = sum(float(f["qty"]) for f in fills.values())
            if found >= target or len(page) < ACTIVITY_PAGE_SIZE:
                return list(fills.values()), found >= target
            token = page[-1].get("id")
            if _absent(token):
                raise self._violation(op, "an activity without an id ends a full page")
            params["page_token"] = token
        return list(fills.values()), False

    def _checked_fill(self, activity: Mapping[str, Any], order: OrderRequest) -> dict[str, Any]:
        op = "list_fills"
        if _absent(activity.get("id")):
            raise self._violation(op, f"a fill of order {activity.get('order_id')!r} has no id")
        qty, price = _number(activity.get("qty")), _number(activity.get("price"))
        if qty is None or qty <= 0 or price is None or price <= 0:
            raise self._violation(op, f"fill {activity.get('id')!r} has qty {qty!r} and price {price!r}")
        if str(activity.get("symbol", order.symbol)).strip().upper() != order.symbol.strip().upper():
            raise self._violation(op, f"fill {activity.get('id')!r} is for {activity.get('symbol')!r}")
        side = activity.get("side")
        if not _absent(side):
            if str(side).lower() not in SIDES:
                raise self._violation(op, f"fill {activity.get('id')!r} has unknown side {side!r}")
            if SIDES[str(side).lower()] != _side(order.side):
                raise self._violation(op, f"fill {activity.get('id')!r} is a {side!r}, not a {order.side!r}")
        return dict(activity)

    # --- checking answers -----------------------------------------------------------------------------

    def _parsed_order(self, op: str, payload: Any) -> dict[str, Any]:
        """An order answer in the contract (docs/routing.md, "Order answers"), whoever placed it."""
        if not isinstance(payload, Mapping):
            raise self._violation(op, f"expected an order object, got {type(payload).__name__}")
        required = REQUIRED_ORDER_FIELDS if _absent(payload.get("notional")) else ("id", "status", "symbol")
        missing = [key for key in required if _absent(payload.get(key))]
        if missing:
            raise self._violation(op, f"missing {', '.join(missing)}")
        if not _is_uuid(payload["id"]):
            raise self._violation(op, f"order id {payload['id']!r} is not a UUID")
        side = payload.get("side")
        if not _absent(side) and str(side).lower() not in SIDES:
            raise self._violation(op, f"order {payload['id']}: unknown side {side!r}")
        intent = payload.get("position_intent")
        if not _absent(intent):
            if str(intent).lower() not in POSITION_INTENTS:
                raise self._violation(op, f"order {payload['id']}: unknown position_intent {intent!r}")
            if not _absent(side) and POSITION_INTENTS[str(intent).lower()] != SIDES[str(side).lower()]:
                raise self._violation(op, f"order {payload['id']}: side {side!r}, position_intent {intent!r}")
        qty = _number(payload.get("qty")) if not _absent(payload.get("qty")) else None
        if "qty" in required and (qty is None or qty <= 0):
            raise self._violation(op, f"qty must be a positive number, got {payload['qty']!r}")
        filled = _number(payload.get("filled_qty", 0)) if not _absent(payload.get("filled_qty")) else 0.0
        if filled is None or filled < 0 or (qty is not None and filled > qty):
            raise self._violation(
                op, f"filled_qty {payload.get('filled_qty')!r} of qty {payload.get('qty')!r}"
            )
        self._commission(op, payload)
        return dict(payload)

    def _checked_order(self, op: str, payload: Any, order: OrderRequest) -> dict[str, Any]:
        """The order-answer contract, plus symbol, client order id, side and qty: booking a fill of the
        wrong side or size is worse than falling back."""
        if isinstance(payload, Mapping) and _absent(payload.get("qty")):
            raise self._violation(op, "missing qty (an order placed by qty)")
        parsed = self._parsed_order(op, payload)
        if str(parsed["symbol"]).strip().upper() != order.symbol.strip().upper():
            raise self._violation(op, f"symbol {parsed['symbol']!r} != {order.symbol!r}")
        if str(parsed.get("client_order_id")) != order.client_order_id:
            raise self._violation(
                op, f"client_order_id {parsed.get('client_order_id')!r} != {order.client_order_id!r}"
            )
        side = parsed.get("side")
        if not _absent(side) and SIDES[str(side).lower()] != _side(order.side):
            raise self._violation(op, f"side {side!r} != {order.side!r}")
        qty = float(parsed["qty"])
        if qty != float(order.qty):
            raise self._violation(op, f"qty {qty:g} != submitted {order.qty}")
        return parsed

    def _commission(self, op: str, payload: Mapping[str, Any]) -> float | None:
        """The order's `commission` (None when Alpaca does not send one); it must be a number ≥ 0."""
        raw = payload.get("commission")
        if raw is None:
            return None
        value = _number(raw)
        if value is None or value < 0:
            raise self._violation(op, f"order {payload.get('id')}: commission {raw!r}")
        return value

    def _report(
        self,
        order: OrderRequest,
        latest: dict[str, Any],
        fills: list[dict[str, Any]],
        *,
        complete: bool,
        replayed: bool,
    ) -> OrderReport:
        submitted = float(latest["qty"])
        if complete:
            filled = sum(float(f["qty"]) for f in fills)
            if filled > submitted:
                raise self._violation("list_fills", f"fills add up to {filled:g} > order qty {submitted:g}")
            notional = sum(float(f["qty"]) * float(f["price"]) for f in fills)
            avg_price = notional / filled if filled > 0 else None
            filled_at = _last_fill_time(fills)
        else:  # the bounded walk did not find every fill: Alpaca's own aggregate of the order
            filled, avg_price = self._aggregate(latest)
            filled_at = _timestamp(latest.get("filled_at")) or _timestamp(latest.get("updated_at"))
        commission = self._commission("get_order", latest)
        if commission is None:
            commission = sum(_number(f.get(key)) or 0.0 for f in fills for key in FEE_FIELDS)
        return OrderReport(
            venue=Venue.ALPACA,
            order_id=str(latest["id"]),
            client_order_id=order.client_order_id,
            symbol=order.symbol,
            side=_side(order.side),
            submitted_qty=submitted,
            filled_qty=filled,
            avg_fill_price=avg_price,
            status=str(latest["status"]),
            filled_at=filled_at,
            fees=commission,
            raw={"order": latest, "fills": fills, "fills_complete": complete, "idempotent_replay": replayed},
        )

    def _aggregate(self, payload: Mapping[str, Any]) -> tuple[float, float | None]:
        filled = float(payload["filled_qty"]) if not _absent(payload.get("filled_qty")) else 0.0
        if filled <= 0:
            return 0.0, None
        price = _number(payload.get("filled_avg_price"))
        if price is None or price <= 0:
            shown = payload.get("filled_avg_price")
            raise self._violation("get_order", f"filled {filled:g} at filled_avg_price {shown!r}")
        return filled, price

    def _submission_time(self, op: str, order: Mapping[str, Any]) -> pd.Timestamp:
        ts = _timestamp(order.get("submitted_at")) or _timestamp(order.get("created_at"))
        if ts is None:
            raise self._violation(op, f"order {order.get('id')} has no submission time to page on")
        return ts

    def _open_order_report(self, op: str, payload: dict[str, Any]) -> OrderReport:
        filled, price = self._aggregate(payload)
        side = payload.get("side")
        return OrderReport(
            venue=Venue.ALPACA,
            order_id=str(payload["id"]),
            client_order_id=str(payload.get("client_order_id") or ""),
            symbol=str(payload["symbol"]).strip().upper(),
            side=SIDES[str(side).lower()] if not _absent(side) else "",
            submitted_qty=_number(payload.get("qty")) or 0.0,
            filled_qty=filled,
            avg_fill_price=price,
            status=str(payload["status"]),
            filled_at=_timestamp(payload.get("filled_at")),
            fees=self._commission(op, payload) or 0.0,
            raw={"order": payload},
        )

    # --- errors ---------------------------------------------------------------------------------------

    def _timeout(self, op: str) -> VenueError:
        return self._error(op, "timeout", f"no answer from {self.base_url} within {self.timeout_seconds:g} s")

    def _violation(self, op: str, detail: str) -> VenueError:
        return self._error(op, "contract_violation", detail)

    def _error(self, op: str, failure: str, detail: str) -> VenueError:
        redacted = detail.replace(self._secret_key, "***").replace(self._api_key, "***")  # echoed keys
        return VenueError(venue=Venue.ALPACA, op=op, failure=failure, detail=redacted)


def _side(side: str) -> str:
    """Our side vocabulary (buy / sell) for a side in Alpaca's; ValueError for anything else."""
    try:
        return SIDES[side.strip().lower()]
    except KeyError:
        raise ValueError(f"unsupported side {side!r}: one of {', '.join(SIDES)}") from None


def _settled(order: Mapping[str, Any]) -> bool:
    """No more fills to wait for: the order is final, or fully filled."""
    return str(order["status"]) in FINAL_ORDER_STATUSES or float(order["filled_qty"]) >= float(order["qty"])


def _alpaca_request(order: OrderRequest) -> AlpacaOrderRequest:
    """Limit prices go at Alpaca's tick (cents from $1, else 1/100 cent): it refuses sub-penny limits.
    A `sell_short` is sent as a sell that opens a position (`position_intent: sell_to_open`)."""
    side = _side(order.side)
    common: dict[str, Any] = {
        "symbol": order.symbol.strip().upper(),
        "qty": order.qty,
        "side": OrderSide(side),
        "time_in_force": TimeInForce(order.time_in_force.lower()),
        "client_order_id": order.client_order_id,
    }
    if order.side.strip().lower().startswith("sell_short"):
        common["position_intent"] = PositionIntent.SELL_TO_OPEN
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


def _is_uuid(value: Any) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return value is not None


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


def _utc(ts: pd.Timestamp) -> pd.Timestamp:
    if ts.tzinfo is None:
        raise ValueError(f"a range bound must carry its time zone, got {ts.isoformat()}")
    return ts.tz_convert("UTC")


def _iso_seconds(ts: pd.Timestamp) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%SZ")


def _iso(ts: pd.Timestamp) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _last_fill_time(fills: list[dict[str, Any]]) -> pd.Timestamp | None:
    times = [ts for ts in (_timestamp(f.get("transaction_time")) for f in fills) if ts is not None]
    return max(times) if times else None
