"""The order vocabulary: sides, statuses, order types and times in force (docs/routing.md), and the
orders, reports and venue protocols that use cases, adapters and the ledger all speak.

Values are the venues' own spellings (Alpaca's order API, which the LEAN runner and the simulated
venue answer in too), so a member compares equal to, hashes like and serializes as the string the
ledger has always stored. Strings arriving from outside (a venue's answer, a ledger row) become members
at the boundary through `OrderSide(value)` and friends, or `parse_side` for a clear error.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol, runtime_checkable

import pandas as pd

from torghut_assets.domain.routing import RouteChoice, RouteRecord


class OrderSide(StrEnum):
    BUY = "buy"
    SELL = "sell"


class OrderStatus(StrEnum):
    """An order's status at its venue (Alpaca's list; `cancelled` is the British spelling some venues
    answer with, accepted as final by the order-timing rules)."""

    NEW = "new"
    ACCEPTED = "accepted"
    PENDING_NEW = "pending_new"
    ACCEPTED_FOR_BIDDING = "accepted_for_bidding"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    DONE_FOR_DAY = "done_for_day"
    CANCELED = "canceled"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    REPLACED = "replaced"
    PENDING_CANCEL = "pending_cancel"
    PENDING_REPLACE = "pending_replace"
    STOPPED = "stopped"
    REJECTED = "rejected"
    SUSPENDED = "suspended"
    CALCULATED = "calculated"
    HELD = "held"


class OrderType(StrEnum):
    MARKET = "market"
    LIMIT = "limit"
    STOP = "stop"
    STOP_LIMIT = "stop_limit"
    TRAILING_STOP = "trailing_stop"


class TimeInForce(StrEnum):
    DAY = "day"
    GTC = "gtc"
    OPG = "opg"
    CLS = "cls"
    IOC = "ioc"
    FOK = "fok"


class UnknownOrderValue(ValueError):
    pass


def parse_side(value: object) -> OrderSide:
    """A side read from outside (ledger row, venue answer), exactly as spelled; anything but buy/sell is
    refused by name."""
    if value not in tuple(OrderSide):
        raise UnknownOrderValue(f"order side {value!r} is not one of buy, sell")
    return OrderSide(str(value))


# --- Orders at a venue -------------------------------------------------------------------------------
# The interface every execution venue implements (LEAN runner, Alpaca paper, simulated twins), in the
# domain so use cases and the ledger speak it without knowing any adapter. A venue either returns an
# `OrderReport` or raises `VenueError` carrying the reference's failure taxonomy (docs/routing.md), from
# which the router derives `lean_<op>_<failure>` fallback reasons. Venues never decide routing; they only
# place and report.

FAILURES = ("timeout", "network_error", "http_error", "contract_violation", "invalid_json", "unknown_error")


@dataclass(frozen=True)
class OrderRequest:
    """`client_order_id` is the decision hash: resubmitting the same decision must be a no-op at the venue."""

    client_order_id: str
    symbol: str
    side: str
    qty: int
    order_type: str
    time_in_force: str
    arrival_price: float
    submitted_at: pd.Timestamp
    correlation_id: str
    limit_price: float | None = None


@dataclass(frozen=True)
class OrderReport:
    venue: str
    order_id: str
    client_order_id: str
    symbol: str
    side: str
    submitted_qty: float
    filled_qty: float
    avg_fill_price: float | None
    status: str
    filled_at: pd.Timestamp | None
    fees: float = 0.0
    raw: dict[str, Any] = field(default_factory=dict)


class VenueError(RuntimeError):
    """`failure` is one of FAILURES or `http_<status>`; `op` is the venue operation (e.g. `submit_order`)."""

    def __init__(self, venue: str, op: str, failure: str, detail: str) -> None:
        super().__init__(f"{venue} {op} failed ({failure}): {detail}")
        self.venue = venue
        self.op = op
        self.failure = failure
        self.detail = detail

    @property
    def reason_code(self) -> str:
        return f"{self.venue}_{self.op}_{self.failure}"


@runtime_checkable
class ExecutionVenue(Protocol):
    name: str

    def submit(self, order: OrderRequest) -> OrderReport:
        """Place the order (idempotent on `client_order_id`) and report its state after submission."""
        ...

    def healthy(self) -> bool:
        """A cheap health probe; False means do not route here now."""
        ...


@dataclass(frozen=True)
class CancelOutcome:
    """One cancel attempt as the venue answered it; `accepted` False carries the venue's reason."""

    venue: str
    order_id: str | None
    client_order_id: str | None
    accepted: bool
    status: str | None
    detail: str = ""


@dataclass(frozen=True)
class AccountSnapshot:
    """The broker's own view of the account: sizing and reconciliation trust this over a simulated one."""

    venue: str
    account_id: str
    equity: float
    buying_power: float
    cash: float
    currency: str
    status: str
    shorting_enabled: bool
    trading_blocked: bool
    as_of: pd.Timestamp


@dataclass(frozen=True)
class PositionReport:
    """A broker position; `qty` is signed (short < 0)."""

    venue: str
    symbol: str
    qty: float
    avg_entry_price: float | None
    market_value: float | None


@runtime_checkable
class OrderLookupVenue(Protocol):
    """A venue that can find an order by its client order id (the decision hash) after an ambiguous
    submit; None means the venue positively does not hold it."""

    def find_order(self, order: OrderRequest) -> OrderReport | None: ...


@runtime_checkable
class OrderListingVenue(Protocol):
    """A venue that lists, from its own record, every order it holds that was submitted in
    [`since`, `until`) or has a fill in that span, whoever placed it (the nightly reconciliation walks
    the venue's side with it, to find orders the ledger does not know). All of them or a `VenueError`:
    a listing cut short is never returned as if it were complete.

    The method is not called `list_orders`: the LEAN runner client has a `list_orders(status)` that
    cannot bound a time range, and a runtime protocol check looks at names only."""

    def orders_between(self, since: pd.Timestamp, until: pd.Timestamp) -> list[OrderReport]: ...


@runtime_checkable
class CancellingVenue(Protocol):
    """A venue that can cancel: one order by its venue id, or every open order (kill switch, stop)."""

    def list_open_orders(self) -> list[OrderReport]: ...

    def cancel_order(self, order_id: str) -> CancelOutcome: ...

    def cancel_all_orders(self) -> list[CancelOutcome]: ...


@runtime_checkable
class AccountVenue(Protocol):
    """A venue that reports the account and positions as the broker holds them. A failure raises
    `VenueError`: a missing position report is never read as flat."""

    def account(self) -> AccountSnapshot: ...

    def positions(self) -> list[PositionReport]: ...


@dataclass(frozen=True)
class RoutedOrder:
    """One order after its route ran: the venue's report (None when no venue accepted it) and every
    attempt, so the ledger can show exactly which venue placed it and why another did not."""

    request: OrderRequest
    choice: RouteChoice
    route: RouteRecord
    report: OrderReport | None
    attempts: tuple[dict[str, Any], ...] = field(default=())

    @property
    def failure_reason(self) -> str | None:
        """Why no venue accepted the order (None when one did)."""
        if self.report is not None:
            return None
        return str(self.attempts[-1]["reason"]) if self.attempts else "no_venue_attempted"

    def raw_route_payload(self) -> dict[str, Any]:
        """The route marker stored with the order: every attempt, and whether a fallback placed it."""
        return {
            "expected_adapter": self.route.expected_adapter,
            "actual_adapter": self.route.actual_adapter,
            "fallback": self.route.fallback_count > 0,
            "fallback_reason": self.route.fallback_reason,
            "bypass_reason": self.choice.bypass_reason,
            "primary_unavailable": self.choice.primary_unavailable,
            "attempts": list(self.attempts),
        }
