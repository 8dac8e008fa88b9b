"""The interface every execution venue implements (LEAN runner, Alpaca paper, simulated twins).

A venue either returns an `OrderReport` or raises `VenueError` carrying the reference's failure taxonomy
(domain.md §6), from which the router derives `lean_<op>_<failure>` fallback reasons. Venues never
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
