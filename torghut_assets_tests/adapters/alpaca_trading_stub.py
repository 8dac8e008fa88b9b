"""A stub of Alpaca's paper trading API on 127.0.0.1, for tests of the Alpaca venue, the router and fallbacks.

It answers in the shapes alpaca-py's own test suite recorded (`torghut_assets_tests/contracts/fixtures/
alpaca/*.json`, each named with its source in `SOURCES.md` beside them): every answer is a recorded
payload with its values substituted, never a shape written here. And it refuses requests the way Alpaca
does (sides, order types, qty / notional, sub-penny limits, client order ids, short sales, buying power,
page sizes), so a client that sends what Alpaca would refuse fails here too.

    with AlpacaTradingStub() as stub:           # listens on an ephemeral port
        venue = AlpacaPaperVenue(api_key=KEY_ID, secret_key=SECRET_KEY, url_override=stub.url, ...)
        stub.prices["AAPL"] = 190.0             # fills at this reference ± the legs' bps (default 100.0)
        stub.mode = "http_503"                  # every trading request now answers 503
        stub.script("http_429", "http_429")     # ...except the next two, in that order
        stub.health = "down"                    # /v2/clock answers 503
        stub.override("GET", "/v2/positions", [{"symbol": "AAPL"}])   # serve this body instead
        stub.requests_to("/v2/orders")[-1].headers["APCA-API-KEY-ID"]
        stub.hold_order("cid-1", "AAPL", "buy", 5, at, fill_price=190.0)  # an order placed elsewhere, at `at`

Endpoints:
  POST   /v2/orders                     validated as below; a known client_order_id answers 422 "client_
                                        order_id must be unique" (code 40010001) and places nothing
  GET    /v2/orders                     status, limit (≤ 500), after / until (exclusive, on submitted_at),
                                        direction, nested, symbols, side
  GET    /v2/orders:by_client_order_id  ?client_order_id=... (alpaca-py's path); 404 when unknown
  GET    /v2/orders/{id}                404 when unknown
  DELETE /v2/orders/{id}                204; 404 (recorded body) when unknown; 422 (no body, as recorded)
                                        when the order is no longer open
  DELETE /v2/orders                     207, one `{id, status, body}` per open order (recorded shape);
                                        ids in `cancel_all_not_found` answer the recorded 404 item
  GET    /v2/account                    the recorded account; cash, equity, market values and Reg-T buying
                                        power (2 x equity - gross) from the stub's own book
  GET    /v2/positions                  the recorded position per held symbol; a short has a negative qty
                                        and `side: short`
  GET    /v2/account/activities/FILL    after, until, direction, page_size (≤ 100), page_token; a sell that
                                        opens or adds to a short is booked with side `sell_short`
  GET    /v2/clock                      follows `health`, not `mode`
Every request needs APCA-API-KEY-ID / APCA-API-SECRET-KEY equal to `key_id` / `secret_key`, else 401.
Every trading answer carries X-RateLimit-Limit / -Remaining / -Reset (epoch seconds from `clock`).

Order validation, in Alpaca's order: side buy|sell; type market|limit|stop|stop_limit|trailing_stop;
time_in_force day|gtc|opg|cls|ioc|fok; exactly one of qty / notional, positive, notional and fractional
qty only for market day orders; a limit price at Alpaca's tick (2 decimals from $1, else 4; the
recorded 42210000 body otherwise); client_order_id ≤ 128 characters; a position_intent agreeing with the
side; then the account: trading blocked, a sell beyond the shares available (the recorded "insufficient
qty" 403), a short sale without shorting enabled (the recorded "not allowed to short" 403), a buy beyond
buying power.

Trading modes (`stub.mode`, or one-shot via `stub.script`), consumed by every trading request:
  fill, partial, accept     POST answers "accepted" with nothing filled, as Alpaca does; the stub then
                            books all / `partial_fraction` (60 %) / none of the qty as FILL activities,
                            one per `fill_legs` entry (fraction of the filled qty, bps from the reference)
  timeout                   the order IS placed; the answer comes after `delay_seconds` (ambiguous)
  http_<status>             e.g. http_429 (the recorded plain-text body, rate-limit headers with a reset
                            `rate_limit_reset_seconds` ahead), http_500: nothing placed
  malformed_json, empty_body, drop_connection
  missing_id, wrong_symbol, wrong_client_order_id
                            the order is placed; object answers break the contract in that one way
`activity_lag_polls` hides all activities from that many activity reads (Alpaca's feed lags the order).
Health (`stub.health`): ok, down (503), slow (answers after `delay_seconds`).
"""

from __future__ import annotations

import copy
import json
import math
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pandas as pd

from torghut_assets_tests.adapters.stub_server import StubRequestHandler, StubServer

KEY_ID = "stub-key-id"
SECRET_KEY = "stub-secret-key-do-not-log"
ACCOUNT_ID = "e6fe16f3-64a4-4921-8928-cadf02f92f98"  # the recorded account's id
FIXTURES = Path(__file__).resolve().parents[1] / "contracts" / "fixtures" / "alpaca"
FILL_MODES = frozenset({"fill", "partial", "accept"})
CORRUPT_MODES = frozenset({"missing_id", "wrong_symbol", "wrong_client_order_id"})
OTHER_MODES = frozenset({"timeout", "malformed_json", "empty_body", "drop_connection"})
HEALTH_MODES = frozenset({"ok", "down", "slow"})
SIDES = frozenset({"buy", "sell"})
ORDER_TYPES = frozenset({"market", "limit", "stop", "stop_limit", "trailing_stop"})
TIMES_IN_FORCE = frozenset({"day", "gtc", "opg", "cls", "ioc", "fok"})
POSITION_INTENTS = {
    "buy_to_open": "buy",
    "buy_to_close": "buy",
    "sell_to_open": "sell",
    "sell_to_close": "sell",
}
OPEN_STATUSES = frozenset({"new", "accepted", "pending_new", "partially_filled", "accepted_for_bidding"})
MAX_CLIENT_ORDER_ID = 128
MAX_ORDER_LIMIT = 500
MAX_ACTIVITY_PAGE = 100
REMOVE = object()  # an `account_overrides` value that deletes the field
_HTTP_MODE = re.compile(r"http_([1-5]\d\d)")
_ORDER_PATH = re.compile(r"/v2/orders/([^/]+)")


@cache
def _recorded(name: str) -> Any:
    path = FIXTURES / name
    return path.read_text() if path.suffix == ".txt" else json.loads(path.read_text())


def recorded(name: str) -> Any:
    """A fresh copy of a recorded payload (`contracts/fixtures/alpaca/<name>`)."""
    return copy.deepcopy(_recorded(name))


def _valid_mode(mode: str) -> bool:
    return mode in FILL_MODES | CORRUPT_MODES | OTHER_MODES or _HTTP_MODE.fullmatch(mode) is not None


def _iso(ts: pd.Timestamp) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _decimal(value: float) -> str:
    """Alpaca sends quantities and prices as decimal strings."""
    return f"{value:.10g}"


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        parsed = float(value)
    except ValueError:
        return None
    return parsed if math.isfinite(parsed) else None


def _refusal(message: str, code: int = 40010001) -> tuple[int, dict[str, Any]]:
    return 422, {"code": code, "message": message}


class FakeClock:
    """Stands in for both `time.time` and `time.sleep` of a venue (and the stub's rate-limit clock):
    sleeping records the duration and moves the clock on, without waiting."""

    def __init__(self, now: float = 1_767_225_600.0) -> None:  # 2026-01-01T00:00:00Z, a whole second
        self.now = now
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


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
    cash: float = 100_000.0
    shorting_enabled: bool = True
    trading_blocked: bool = False
    commission: float | None = 0.0  # the order's `commission`; None leaves the field out (older API)
    account_overrides: dict[str, Any] = field(default_factory=dict)
    rate_limit: int = 200
    rate_limit_reset_seconds: float = 1.0
    clock: Callable[[], float] = time.time  # epoch seconds, for X-RateLimit-Reset
    cancel_all_not_found: list[str] = field(default_factory=list)
    requests: list[RecordedRequest] = field(default_factory=list)
    orders: dict[str, dict[str, Any]] = field(default_factory=dict)
    activities: list[dict[str, Any]] = field(default_factory=list)
    positions: dict[str, list[float]] = field(default_factory=dict)  # symbol -> [signed qty, avg entry]
    overrides: dict[tuple[str, str], Any] = field(default_factory=dict)
    _last_time: pd.Timestamp | None = field(default=None, init=False, repr=False)

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

    def override(self, method: str, path: str, body: Any) -> None:
        """Answer `method path` with this body (status 200) instead of the stub's own answer."""
        self.overrides[(method.upper(), path)] = body

    def requests_to(self, path_prefix: str, method: str | None = None) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path.startswith(path_prefix) and method in (None, r.method)]

    def order_for(self, client_order_id: str) -> dict[str, Any] | None:
        with self._lock:
            return next((o for o in self.orders.values() if o["client_order_id"] == client_order_id), None)

    def fills_of(self, order_id: str) -> list[dict[str, Any]]:
        with self._lock:
            return [a for a in self.activities if a["order_id"] == order_id]

    def price_of(self, symbol: str) -> float:
        return self.prices.get(symbol, self.default_price)

    def book_fill(
        self, symbol: str, side: str, qty: float, price: float, order_id: str | None = None
    ) -> None:
        """A FILL activity (and its position and cash) for an order placed elsewhere on the account:
        a busy account's other traffic."""
        with self._lock:
            self._book_leg(order_id or str(uuid.uuid4()), symbol, side, qty, price, qty, qty, self._now())

    def hold_order(
        self,
        client_order_id: str,
        symbol: str,
        side: str,
        qty: float,
        submitted_at: pd.Timestamp,
        fill_price: float | None = None,
        filled_at: pd.Timestamp | None = None,
    ) -> dict[str, Any]:
        """An order the account holds, placed at `submitted_at` by someone other than the venue under
        test (another client, or a crash before the ledger wrote it): the recorded order shape with
        these values; with `fill_price`, filled whole at `filled_at` (default: 5 ms after submission)
        as one FILL activity, which moves the position and cash like any fill."""
        submitted_at = submitted_at.tz_convert("UTC")
        with self._lock:
            held = self.positions.get(symbol, [0.0, 0.0])[0]
            order = recorded("order.json")
            order.update(
                id=str(uuid.uuid4()),
                client_order_id=client_order_id,
                created_at=_iso(submitted_at),
                updated_at=_iso(submitted_at),
                submitted_at=_iso(submitted_at),
                asset_id=str(uuid.uuid5(uuid.NAMESPACE_DNS, symbol)),
                symbol=symbol,
                qty=_decimal(qty),
                filled_qty="0",
                filled_avg_price=None,
                side=side,
                status="accepted",
                position_intent=("buy_to_close" if held < 0 else "buy_to_open")
                if side == "buy"
                else ("sell_to_close" if held > 0 else "sell_to_open"),
            )
            if self.commission is None:
                order.pop("commission", None)
            else:
                order["commission"] = self.commission
            self.orders[order["id"]] = order
            if fill_price is not None:
                at = submitted_at + pd.Timedelta(milliseconds=5) if filled_at is None else filled_at
                self._book_leg(order["id"], symbol, side, qty, fill_price, qty, qty, at)
                order.update(
                    status="filled",
                    filled_qty=_decimal(qty),
                    filled_avg_price=_decimal(fill_price),
                    filled_at=_iso(at),
                    updated_at=_iso(at),
                )
            return dict(order)

    # --- internals ------------------------------------------------------------------------------------

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        return _handler_for(self)

    def _next_mode(self) -> str:
        mode = self._next_scripted(self.mode)
        if not _valid_mode(mode):
            raise ValueError(f"unknown AlpacaTradingStub mode {mode!r}")
        return mode

    def _now(self) -> pd.Timestamp:
        """Wall time, strictly increasing: each order and fill has its own instant, after every fill leg
        already booked (legs are booked a few ms after their order's acceptance)."""
        now = pd.Timestamp.now(tz="UTC")
        if self._last_time is not None and now <= self._last_time:
            now = self._last_time + pd.Timedelta(microseconds=1)
        self._last_time = now
        return now

    def _rate_limit_headers(self, limited: bool) -> dict[str, str]:
        reset = math.ceil(self.clock() + self.rate_limit_reset_seconds)
        remaining = 0 if limited else self.rate_limit - 1
        return {
            "X-RateLimit-Limit": str(self.rate_limit),
            "X-RateLimit-Remaining": str(remaining),
            "X-RateLimit-Reset": str(reset),
        }

    def _held_for_sells(self, symbol: str) -> float:
        return sum(
            float(o["qty"]) - float(o["filled_qty"])
            for o in self.orders.values()
            if o["symbol"] == symbol and o["side"] == "sell" and o["status"] in OPEN_STATUSES
        )

    def _market_values(self) -> tuple[float, float]:
        long_mv = sum(q * self.price_of(s) for s, (q, _) in self.positions.items() if q > 0)
        short_mv = sum(q * self.price_of(s) for s, (q, _) in self.positions.items() if q < 0)
        return long_mv, short_mv

    def _buying_power(self) -> tuple[float, float]:
        """(equity, Reg-T buying power): alpaca-docs' account `buying_power` for multiplier 2,
        max(equity - initial_margin, 0) x 2, initial margin being half the gross market value."""
        long_mv, short_mv = self._market_values()
        equity = self.cash + long_mv + short_mv
        gross = long_mv - short_mv
        return equity, max(0.0, (equity - gross / 2) * 2)

    def _validate(self, body: Any) -> tuple[int, dict[str, Any]] | None:
        """Alpaca's refusal of this order request, or None when Alpaca would accept it."""
        if not isinstance(body, dict):
            return _refusal("request body format is invalid")
        symbol = body.get("symbol")
        if not isinstance(symbol, str) or not symbol.strip():
            return _refusal("symbol is required")
        if body.get("side") not in SIDES:
            return _refusal(f"invalid side {body.get('side')!r}")
        order_type = body.get("type")
        if order_type not in ORDER_TYPES:
            return _refusal(f"invalid order type {order_type!r}")
        tif = body.get("time_in_force")
        if tif not in TIMES_IN_FORCE:
            return _refusal(f"invalid time_in_force {tif!r}")
        qty, notional = body.get("qty"), body.get("notional")
        if (qty is None) == (notional is None):
            return _refusal("exactly one of qty or notional is required")
        amount = _number(qty if qty is not None else notional)
        if amount is None or amount <= 0:
            return _refusal(f"{'qty' if qty is not None else 'notional'} must be > 0")
        fractional = qty is not None and amount != math.floor(amount)
        if (notional is not None or fractional) and (order_type, tif) != ("market", "day"):
            return _refusal("fractional and notional orders must be market day orders", 42210000)
        if order_type in ("limit", "stop_limit"):
            limit = _number(body.get("limit_price"))
            if limit is None or limit <= 0:
                return _refusal("limit_price is required for limit orders")
            decimals = 2 if limit >= 1 else 4
            if round(limit, decimals) != limit:
                refusal = recorded("error_422_sub_penny_limit_price.json")
                refusal["message"] = refusal["message"].replace("290.123", f"{body['limit_price']}")
                return 422, refusal
        cid = body.get("client_order_id")
        if cid is not None and (not isinstance(cid, str) or len(cid) > MAX_CLIENT_ORDER_ID):
            return _refusal(f"client_order_id must be a string of at most {MAX_CLIENT_ORDER_ID} characters")
        intent = body.get("position_intent")
        if intent is not None and POSITION_INTENTS.get(intent) != body["side"]:
            return _refusal(f"invalid position_intent {intent!r} for side {body['side']!r}")
        return None

    def _account_refusal(self, body: dict[str, Any], qty: float) -> tuple[int, dict[str, Any]] | None:
        symbol, side = str(body["symbol"]).upper(), body["side"]
        held = self.positions.get(symbol, [0.0, 0.0])[0]
        if self.trading_blocked:
            return 403, {"code": 40310000, "message": "account is not allowed to trade"}
        if side == "sell" and held > 0:
            available = held - self._held_for_sells(symbol)
            if qty > available:
                refusal = recorded("error_403_insufficient_qty.json")
                refusal.update(
                    available=_decimal(available),
                    existing_qty=_decimal(held),
                    held_for_orders=_decimal(held - available),
                    symbol=symbol,
                    message=f"insufficient qty available for order (requested: {qty:g}, available: "
                    f"{available:g})",
                )
                return 403, refusal
        if side == "sell" and held <= 0 and not self.shorting_enabled:
            return 403, recorded("error_403_not_allowed_to_short.json")
        # Alpaca's opening-order check: a buy at the price, a short sale at 3 % above it (alpaca-docs,
        # "Buying Power" in content/trading/orders.md)
        opening = qty * self.price_of(symbol) * (1.0 if side == "buy" else 1.03)
        if (held >= 0 if side == "buy" else held <= 0) and opening > self._buying_power()[1]:
            return 403, {"code": 40310000, "message": "insufficient buying power"}
        return None

    def _place(self, body: Any, mode: str) -> tuple[int, dict[str, Any]]:
        """(status, answer): the accepted order as POST returns it, fills booked right after."""
        with self._lock:
            refused = self._validate(body)
            if refused is not None:
                return refused
            cid = str(body.get("client_order_id") or uuid.uuid4())
            if any(o["client_order_id"] == cid for o in self.orders.values()):
                return 422, {"code": 40010001, "message": "client_order_id must be unique"}
            symbol = str(body["symbol"]).upper()
            qty = _number(body.get("qty"))
            if qty is None:  # a notional order: Alpaca sizes it at the price
                qty = float(body["notional"]) / self.price_of(symbol)
            refused = self._account_refusal(body, qty)
            if refused is not None:
                return refused
            held = self.positions.get(symbol, [0.0, 0.0])[0]
            side = body["side"]
            intent = body.get("position_intent") or (
                ("buy_to_close" if held < 0 else "buy_to_open")
                if side == "buy"
                else ("sell_to_close" if held > 0 else "sell_to_open")
            )
            now = self._now()
            order = recorded("order.json")
            order.update(
                id=str(uuid.uuid4()),
                client_order_id=cid,
                created_at=_iso(now),
                updated_at=_iso(now),
                submitted_at=_iso(now),
                asset_id=str(uuid.uuid5(uuid.NAMESPACE_DNS, symbol)),
                symbol=symbol,
                notional=None if body.get("notional") is None else _decimal(float(body["notional"])),
                qty=_decimal(qty),
                filled_qty="0",
                filled_avg_price=None,
                order_type=body["type"],
                type=body["type"],
                side=side,
                time_in_force=body["time_in_force"],
                limit_price=None if body.get("limit_price") is None else _decimal(float(body["limit_price"])),
                status="accepted",
                extended_hours=bool(body.get("extended_hours", False)),
                position_intent=intent,
            )
            if self.commission is None:
                order.pop("commission", None)
            else:
                order["commission"] = self.commission
            self.orders[order["id"]] = order
            accepted = dict(order)
            self._book_fills(order, mode, now)
            return 200, accepted

    def _book_fills(self, order: dict[str, Any], mode: str, now: pd.Timestamp) -> None:
        qty = float(order["qty"])
        target = qty if mode != "partial" else float(math.floor(qty * self.partial_fraction))
        if mode == "accept" or target <= 0:
            return
        reference = self.price_of(order["symbol"])
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
            # Whatever the stub books next happened after this leg, however fast the test runs.
            self._last_time = at if self._last_time is None else max(self._last_time, at)
            self._book_leg(order["id"], order["symbol"], order["side"], leg, price, qty, cum, at)
            status = "filled" if cum >= qty else "partially_filled"
            order.update(
                status=status,
                filled_qty=_decimal(cum),
                filled_avg_price=_decimal(round(notional / cum, 6)),
                filled_at=_iso(at) if status == "filled" else None,
                updated_at=_iso(at),
            )
        if cum > 0 and self.commission:
            self.cash -= self.commission

    def _book_leg(
        self,
        order_id: str,
        symbol: str,
        side: str,
        leg: float,
        price: float,
        qty: float,
        cum: float,
        at: pd.Timestamp,
    ) -> None:
        """One FILL activity in the recorded shape, and the position and cash it moves."""
        held, avg = self.positions.get(symbol, [0.0, 0.0])
        signed = leg if side == "buy" else -leg
        short_sale = side == "sell" and held <= 0
        activity = recorded("fill_activities.json")[0]
        activity.pop("account_id", None)  # the broker API's field; the trading API is one account
        activity.update(
            id=f"{at.strftime('%Y%m%d%H%M%S%f')[:17]}::{uuid.uuid4()}",
            transaction_time=_iso(at),
            type="fill" if cum >= qty else "partial_fill",
            price=_decimal(price),
            qty=_decimal(leg),
            side="sell_short" if short_sale else side,
            symbol=symbol,
            leaves_qty=_decimal(qty - cum),
            order_id=order_id,
            cum_qty=_decimal(cum),
            order_status="filled" if cum >= qty else "partially_filled",
        )
        self.activities.append(activity)
        new = held + signed
        if new == 0:
            self.positions.pop(symbol, None)
        else:
            grows = held == 0 or (held > 0) == (signed > 0)
            avg = (abs(held) * avg + leg * price) / abs(new) if grows else avg
            self.positions[symbol] = [new, avg]
        self.cash -= signed * price

    def _activities(self, query: dict[str, str]) -> tuple[int, Any]:
        try:
            size = int(query.get("page_size", MAX_ACTIVITY_PAGE))
        except ValueError:
            return _refusal(f"invalid page_size {query.get('page_size')!r}", 42210000)
        if not 1 <= size <= MAX_ACTIVITY_PAGE and "date" not in query:
            return _refusal(f"page_size must be between 1 and {MAX_ACTIVITY_PAGE}", 42210000)
        if "date" in query and ("after" in query or "until" in query):
            return _refusal("date cannot be used with after or until", 42210000)
        direction = query.get("direction", "desc")
        if direction not in ("asc", "desc"):
            return _refusal(f"invalid direction {direction!r}", 42210000)
        with self._lock:
            if self.activity_lag_polls > 0:
                self.activity_lag_polls -= 1
                return 200, []
            items = sorted(self.activities, key=lambda a: (a["transaction_time"], a["id"]))
        for bound, keep in (("after", lambda t, b: t > b), ("until", lambda t, b: t < b)):
            if bound in query:
                try:
                    limit = pd.Timestamp(query[bound])
                except ValueError:
                    return _refusal(f"invalid {bound} {query[bound]!r}", 42210000)
                limit = limit.tz_localize("UTC") if limit.tzinfo is None else limit
                items = [a for a in items if keep(pd.Timestamp(a["transaction_time"]), limit)]
        if direction == "desc":
            items.reverse()
        token = query.get("page_token")
        if token:
            ids = [a["id"] for a in items]
            items = items[ids.index(token) + 1 :] if token in ids else []
        return 200, items[:size]

    def _orders(self, query: dict[str, str]) -> tuple[int, Any]:
        status = query.get("status", "open")
        if status not in ("open", "closed", "all"):
            return _refusal(f"invalid status {status!r}", 42210000)
        try:
            limit = int(query.get("limit", 50))
        except ValueError:
            return _refusal(f"invalid limit {query.get('limit')!r}", 42210000)
        if not 1 <= limit <= MAX_ORDER_LIMIT:
            return _refusal(f"limit must be between 1 and {MAX_ORDER_LIMIT}", 42210000)
        direction = query.get("direction", "desc")
        if direction not in ("asc", "desc") or query.get("nested", "false") not in ("true", "false"):
            return _refusal("invalid direction or nested", 42210000)
        with self._lock:
            items = sorted(self.orders.values(), key=lambda o: (o["submitted_at"], o["id"]))
        if status != "all":
            items = [o for o in items if (o["status"] in OPEN_STATUSES) == (status == "open")]
        for bound, keep in (("after", lambda t, b: t > b), ("until", lambda t, b: t < b)):
            if bound in query:
                try:
                    limit_ts = pd.Timestamp(query[bound])
                except ValueError:
                    return _refusal(f"invalid {bound} {query[bound]!r}", 42210000)
                limit_ts = limit_ts.tz_localize("UTC") if limit_ts.tzinfo is None else limit_ts
                items = [o for o in items if keep(pd.Timestamp(o["submitted_at"]), limit_ts)]
        if query.get("symbols"):
            wanted = {s.strip().upper() for s in query["symbols"].split(",")}
            items = [o for o in items if o["symbol"] in wanted]
        if query.get("side"):
            items = [o for o in items if o["side"] == query["side"]]
        if direction == "desc":
            items.reverse()
        return 200, [dict(o) for o in items[:limit]]

    def _cancel(self, order_id: str) -> tuple[int, Any]:
        with self._lock:
            order = self.orders.get(order_id)
            if order is None:
                return 404, recorded("error_404_order_not_found.json")
            if order["status"] not in OPEN_STATUSES:
                return 422, None  # as recorded: the status, no body
            now = _iso(self._now())
            order.update(status="canceled", canceled_at=now, updated_at=now)
            return 204, None

    def _cancel_all(self) -> tuple[int, Any]:
        template = recorded("cancel_all_orders_207.json")
        with self._lock:
            open_ids = [o["id"] for o in self.orders.values() if o["status"] in OPEN_STATUSES]
        answer = []
        for order_id in open_ids:
            self._cancel(order_id)
            answer.append({**template[0], "id": order_id})
        answer += [{**template[1], "id": order_id} for order_id in self.cancel_all_not_found]
        return 207, answer

    def _account(self) -> dict[str, Any]:
        account = recorded("account.json")
        with self._lock:
            long_mv, short_mv = self._market_values()
            equity, buying_power = self._buying_power()
            account.update(
                id=ACCOUNT_ID,
                cash=_decimal(self.cash),
                equity=_decimal(equity),
                portfolio_value=_decimal(equity),
                long_market_value=_decimal(long_mv),
                short_market_value=_decimal(short_mv),
                initial_margin=_decimal((long_mv - short_mv) / 2),
                buying_power=_decimal(buying_power),
                regt_buying_power=_decimal(buying_power),
                daytrading_buying_power=_decimal(buying_power),
                non_marginable_buying_power=_decimal(max(0.0, self.cash)),
                options_buying_power=_decimal(buying_power),
                multiplier="2",
                shorting_enabled=self.shorting_enabled,
                trading_blocked=self.trading_blocked,
            )
        for key, value in self.account_overrides.items():
            if value is REMOVE:
                account.pop(key, None)
            else:
                account[key] = value
        return account

    def _positions(self) -> list[dict[str, Any]]:
        template = recorded("positions.json")[0]
        answer = []
        with self._lock:
            held = sorted(self.positions.items())
        for symbol, (qty, avg) in held:
            price = self.price_of(symbol)
            market_value, cost_basis = qty * price, qty * avg
            values = {
                "avg_entry_price": _decimal(avg),
                "market_value": _decimal(market_value),
                "cost_basis": _decimal(cost_basis),
                "unrealized_pl": _decimal(market_value - cost_basis),
                "unrealized_plpc": _decimal((market_value - cost_basis) / abs(cost_basis)),
                "unrealized_intraday_pl": _decimal(market_value - cost_basis),
                "unrealized_intraday_plpc": _decimal((market_value - cost_basis) / abs(cost_basis)),
                "current_price": _decimal(price),
                "lastday_price": _decimal(price),
                "change_today": "0",
            }
            position = copy.deepcopy(template)
            position.update(
                values,
                asset_id=str(uuid.uuid5(uuid.NAMESPACE_DNS, symbol)),
                symbol=symbol,
                qty=_decimal(qty),
                side="long" if qty > 0 else "short",
                usd=values,
            )
            answer.append(position)
        return answer

    def _clock(self) -> dict[str, Any]:
        now = pd.Timestamp.now(tz="America/New_York")
        return {
            "timestamp": now.isoformat(),
            "is_open": True,
            "next_open": (now.normalize() + pd.Timedelta(days=1, hours=9, minutes=30)).isoformat(),
            "next_close": (now.normalize() + pd.Timedelta(hours=16)).isoformat(),
        }


def _corrupt(answer: dict[str, Any], mode: str) -> dict[str, Any]:
    out = dict(answer)
    if mode == "missing_id":
        out.pop("id", None)
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

        def do_DELETE(self) -> None:
            self._handle("DELETE")

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
                    self._json(401, recorded("error_401_not_authorized.json"))
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
                if status == 429 and stub.error_body is None:
                    text = recorded("error_429_too_many_requests.txt").encode()
                    self._reply(429, text, "text/plain; charset=utf-8", stub._rate_limit_headers(True))
                    return
                default = {"code": status * 100000, "message": f"stub {mode}"}
                self._json(status, stub.error_body if stub.error_body is not None else default)
                return
            if mode == "drop_connection":
                self.close_connection = True
                self.connection.close()
                return
            status, answer = self._resolve(method, path, query, body, mode)
            if (method.upper(), path) in stub.overrides:
                status, answer = 200, stub.overrides[(method.upper(), path)]
            elif status == 200 and isinstance(answer, dict) and mode in CORRUPT_MODES:
                answer = _corrupt(answer, mode)
            payload = b"" if answer is None else json.dumps(answer).encode()
            if mode == "timeout":
                stub.stopping.wait(stub.delay_seconds)
            elif mode == "malformed_json":
                payload = payload[: max(1, len(payload) // 2)]
            elif mode == "empty_body":
                payload = b""
            self._reply(status, payload)

        def _resolve(
            self, method: str, path: str, query: dict[str, str], body: Any, mode: str
        ) -> tuple[int, Any]:
            not_found = (404, recorded("error_404_order_not_found.json"))
            endpoint_missing = (404, {"code": 40400000, "message": "endpoint not found"})
            order_match = _ORDER_PATH.fullmatch(path)
            if path == "/v2/orders":
                if method == "POST":
                    return stub._place(body, mode)
                if method == "DELETE":
                    return stub._cancel_all()
                return stub._orders(query)
            if method == "DELETE":
                return stub._cancel(order_match.group(1)) if order_match else endpoint_missing
            if method != "GET":
                return 405, {"code": 40500000, "message": "method not allowed"}
            if path == "/v2/orders:by_client_order_id":
                order = stub.order_for(query.get("client_order_id", ""))
                return (200, dict(order)) if order is not None else not_found
            if order_match is not None:
                with stub._lock:
                    order = stub.orders.get(order_match.group(1))
                    return (200, dict(order)) if order is not None else not_found
            if path == "/v2/account":
                return 200, stub._account()
            if path == "/v2/positions":
                return 200, stub._positions()
            if path == "/v2/account/activities/FILL":
                return stub._activities(query)
            return endpoint_missing

        def _json(self, status: int, answer: Any) -> None:
            self._reply(status, json.dumps(answer).encode())

        def _reply(
            self,
            status: int,
            payload: bytes,
            content_type: str | None = None,
            headers: dict[str, str] | None = None,
        ) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type or self.content_type)
            self.send_header("Content-Length", str(len(payload)))
            for name, value in (headers or stub._rate_limit_headers(False)).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)

    return Handler
