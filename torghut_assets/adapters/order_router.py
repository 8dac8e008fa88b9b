"""Submit one order along its chosen route: the expected venue first, the fallback once on failure.

Policy (which venue, why) lives in `domain/routing.py`; this module only executes it and records every
attempt in a `domain.orders.RoutedOrder`, so the ledger can show exactly which venue placed an order and
why another did not.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from torghut_assets.domain.orders import (
    ExecutionVenue,
    OrderLookupVenue,
    OrderReport,
    OrderRequest,
    RoutedOrder,
    VenueError,
)
from torghut_assets.domain.routing import RouteChoice, normalize_route


def _placed_despite_timeout(venue: ExecutionVenue, order: OrderRequest) -> OrderReport | None:
    """A timed-out submit may still have been placed; resubmitting elsewhere would double the position.

    Venues that can look an order up by `client_order_id` are asked first; any doubt falls through to the
    reference's fallback behaviour.
    """
    if not isinstance(venue, OrderLookupVenue):
        return None
    try:
        found = venue.find_order(order)
    except VenueError:
        return None
    return found if isinstance(found, OrderReport) else None


def route_order(
    order: OrderRequest, choice: RouteChoice, venues: Mapping[str, ExecutionVenue]
) -> RoutedOrder:
    attempts: list[dict[str, Any]] = []
    expected = choice.expected_adapter
    if choice.primary_unavailable is not None:
        attempts.append({"venue": expected, "outcome": "unavailable", "reason": choice.primary_unavailable})
        return _fall_back(order, choice, venues, choice.primary_unavailable, attempts)
    try:
        report = venues[expected].submit(order)
        attempts.append({"venue": expected, "outcome": "accepted", "reason": None})
        return RoutedOrder(
            order, choice, normalize_route(expected, expected, 0, None), report, tuple(attempts)
        )
    except VenueError as primary:
        attempts.append({"venue": expected, "outcome": "failed", "reason": primary.reason_code})
        if primary.failure == "timeout":
            recovered = _placed_despite_timeout(venues[expected], order)
            if recovered is not None:
                attempts.append({"venue": expected, "outcome": "found_after_timeout", "reason": None})
                route = normalize_route(expected, expected, 0, None)
                return RoutedOrder(order, choice, route, recovered, tuple(attempts))
        return _fall_back(order, choice, venues, primary.reason_code, attempts)


def _fall_back(
    order: OrderRequest,
    choice: RouteChoice,
    venues: Mapping[str, ExecutionVenue],
    reason: str,
    attempts: list[dict[str, Any]],
) -> RoutedOrder:
    """The one retry on the fallback venue; without one the order is unplaced and the row keeps the
    expected venue's reason (fallback `none` never reaches a second venue)."""
    expected = choice.expected_adapter
    fallback = choice.fallback_adapter
    if fallback is None or fallback not in venues:
        route = normalize_route(expected, expected, 0, None)
        return RoutedOrder(order, choice, route, None, tuple(attempts))
    route = normalize_route(expected, fallback, 1, reason)
    try:
        report = venues[fallback].submit(order)
        attempts.append({"venue": fallback, "outcome": "accepted", "reason": None})
        return RoutedOrder(order, choice, route, report, tuple(attempts))
    except VenueError as secondary:
        attempts.append({"venue": fallback, "outcome": "failed", "reason": secondary.reason_code})
        return RoutedOrder(order, choice, route, None, tuple(attempts))
