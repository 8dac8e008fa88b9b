"""Executing a route: the expected venue first, the fallback once, and nothing else."""

from __future__ import annotations

import pandas as pd

from torghut_assets.adapters.order_router import route_order
from torghut_assets.domain.orders import OrderReport, OrderRequest, VenueError
from torghut_assets.domain.routing import RouteChoice

ORDER = OrderRequest(
    client_order_id="a" * 64,
    symbol="AAPL",
    side="buy",
    qty=10,
    order_type="market",
    time_in_force="day",
    arrival_price=190.0,
    submitted_at=pd.Timestamp("2026-03-03 15:12", tz="UTC"),
    correlation_id="macd_rsi/2026-03-03T15:00Z:aaaa",
)


class Venue:
    def __init__(self, name: str, fail: str | None = None) -> None:
        self.name = name
        self.fail = fail
        self.calls = 0

    def healthy(self) -> bool:
        return self.fail is None

    def submit(self, order: OrderRequest) -> OrderReport:
        self.calls += 1
        if self.fail:
            raise VenueError(self.name, "submit_order", self.fail, "injected")
        return OrderReport(
            self.name,
            "o-1",
            order.client_order_id,
            order.symbol,
            order.side,
            10.0,
            10.0,
            190.0,
            "filled",
            None,
        )


def test_with_fallback_none_a_lean_failure_places_no_order_anywhere_and_keeps_the_lean_reason() -> None:
    lean, alpaca = Venue("lean", fail="http_503"), Venue("alpaca")
    routed = route_order(ORDER, RouteChoice("lean", None), {"lean": lean, "alpaca": alpaca})
    assert routed.report is None
    assert alpaca.calls == 0
    assert routed.failure_reason == "lean_submit_order_http_503"
    assert (routed.route.expected_adapter, routed.route.actual_adapter) == ("lean", "lean")


def test_an_unavailable_lean_is_not_called_and_counts_as_a_fallback_with_its_reason() -> None:
    lean, alpaca = Venue("lean"), Venue("alpaca")
    choice = RouteChoice("lean", "alpaca", primary_unavailable="lean_runner_unhealthy")
    routed = route_order(ORDER, choice, {"lean": lean, "alpaca": alpaca})
    assert lean.calls == 0 and alpaca.calls == 1
    assert (routed.route.expected_adapter, routed.route.actual_adapter, routed.route.fallback_count) == (
        "lean",
        "alpaca",
        1,
    )
    assert routed.route.fallback_reason == "lean_runner_unhealthy"
    assert routed.raw_route_payload()["primary_unavailable"] == "lean_runner_unhealthy"


def test_an_unavailable_lean_without_fallback_is_an_unplaced_order_with_the_reason() -> None:
    choice = RouteChoice("lean", None, primary_unavailable="lean_runner_unhealthy")
    routed = route_order(ORDER, choice, {"lean": Venue("lean"), "alpaca": Venue("alpaca")})
    assert routed.report is None and routed.failure_reason == "lean_runner_unhealthy"
