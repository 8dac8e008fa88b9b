"""A stub venue on this machine for the latency bench: accepts and fills every order at once and
records the wall time of acceptance, keyed by client order id."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pandas as pd

from torghut_assets.defs.resources import BrokerResource
from torghut_assets.domain.orders import CancelOutcome, ExecutionVenue, OrderReport, OrderRequest
from torghut_assets.domain.routing import Venue

_VENUES: dict[str, RecordingVenue] = {}


class RecordingVenue:
    name: str = Venue.ALPACA

    def __init__(self) -> None:
        self.accepted_at: dict[str, float] = {}

    def healthy(self) -> bool:
        return True

    def submit(self, order: OrderRequest) -> OrderReport:
        self.accepted_at.setdefault(order.client_order_id, time.monotonic())
        return OrderReport(
            venue=self.name,
            order_id=f"bench-{order.client_order_id[:24]}",
            client_order_id=order.client_order_id,
            symbol=order.symbol,
            side=order.side,
            submitted_qty=float(order.qty),
            filled_qty=float(order.qty),
            avg_fill_price=order.arrival_price,
            status="filled",
            filled_at=order.submitted_at,
        )

    def list_open_orders(self) -> list[OrderReport]:
        return []

    def cancel_order(self, order_id: str) -> CancelOutcome:
        return CancelOutcome(self.name, order_id, None, True, "canceled")

    def cancel_all_orders(self) -> list[CancelOutcome]:
        return []


class RecordingBroker(BrokerResource):
    recorder_key: str = ""

    def __init__(self, **config: Any) -> None:
        super().__init__(**{"recorder_key": uuid.uuid4().hex, **config})
        _VENUES.setdefault(self.recorder_key, RecordingVenue())

    def venues(self, bars: pd.DataFrame) -> dict[str, ExecutionVenue]:
        return {Venue.ALPACA: self.recorder}

    @property
    def recorder(self) -> RecordingVenue:
        return _VENUES[self.recorder_key]
