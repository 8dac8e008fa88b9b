"""The interface every execution venue implements (LEAN runner, Alpaca paper, simulated twins).

A venue either returns an `OrderReport` or raises `VenueError` carrying the reference's failure taxonomy
(docs/routing.md), from which the router derives `lean_<op>_<failure>` fallback reasons. Venues never
decide routing; they only place and report.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import pandas as pd

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
