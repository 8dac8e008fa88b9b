"""Turn a lane window's planned decisions into orders, or into evidence of why they never became one.

Three paths (`domain.order_timing.submission_path`): a replay lane sends every decision to the simulated
venue at the decision's own time; the open window of a paper/live lane sends fresh decisions to the real
venues now, at the price observed now; everything else expires unsent. Nothing in this module decides a
route (that is `domain.routing`) or writes the ledger (that is the caller, in one transaction).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pandas as pd

from torghut_assets.adapters.order_router import route_order
from torghut_assets.domain.decisions import TradeDecision
from torghut_assets.domain.lanes import LaneWindow
from torghut_assets.domain.order_timing import (
    OpenOrderView,
    PreSubmitRejection,
    SubmissionPath,
    WindowPhase,
    pre_submit_rejection,
    submission_path,
)
from torghut_assets.domain.orders import (
    CancellingVenue,
    ExecutionVenue,
    OrderRequest,
    RoutedOrder,
    VenueError,
)
from torghut_assets.domain.routing import RouteChoice, RoutingPolicy, Venue, select_route
from torghut_assets.ledger.llm_reviews import AppliedAction

REPLAY_BYPASS_REASON = "lane_mode_replay"


def order_request(
    window: LaneWindow,
    decision: TradeDecision,
    advice: AppliedAction | None = None,
    *,
    submitted_at: pd.Timestamp | None = None,
    arrival_price: float | None = None,
) -> OrderRequest:
    """The decision's order; an applied LLM adjustment sets qty / order type (limit at the arrival price).

    `submitted_at` / `arrival_price` default to the decision's own time and price (a replay); a real-time
    submission passes the wall clock and the price observed at that moment, so TCA measures the order
    against the market it actually met.
    """
    digest = decision.decision_hash
    order_type = advice.order_type if advice is not None else "market"
    arrival = decision.price if arrival_price is None else arrival_price
    return OrderRequest(
        client_order_id=digest,
        symbol=decision.symbol,
        side=decision.action,
        qty=advice.qty if advice is not None else decision.qty,
        order_type=order_type,
        time_in_force="day",
        arrival_price=arrival,
        submitted_at=decision.event_ts if submitted_at is None else submitted_at,
        correlation_id=f"{window.label()}:{digest[:16]}",
        limit_price=arrival if order_type == "limit" else None,
    )


@dataclass(frozen=True)
class RouteControls:
    policy: RoutingPolicy
    lean_kill_switch: bool
    lean_healthy: bool
    manual_review: frozenset[str]
    live: bool = False


@dataclass
class WindowOrders:
    """What became of each pending decision; `routed` keeps submission order."""

    routed: list[tuple[TradeDecision, RoutedOrder]] = field(default_factory=list)
    expired: dict[str, str] = field(default_factory=dict)
    refused: dict[str, PreSubmitRejection] = field(default_factory=dict)
    open_orders_unavailable: list[str] = field(default_factory=list)

    @property
    def sent_to_real_venues(self) -> int:
        return sum(1 for _, order in self.routed if order.choice.expected_adapter != Venue.SIMULATOR)


def open_orders(venues: Mapping[str, ExecutionVenue]) -> tuple[list[OpenOrderView], list[str]]:
    """Open orders at every venue that can list them. A venue that cannot be read is named and skipped,
    as in the reference: the venue itself still refuses a truly crossing order."""
    views: list[OpenOrderView] = []
    failed: list[str] = []
    for venue in (venues[name] for name in sorted(venues)):
        if not isinstance(venue, CancellingVenue):
            continue
        try:
            reports = venue.list_open_orders()
        except VenueError as exc:
            failed.append(exc.reason_code)
            continue
        views += [
            OpenOrderView(
                order_id=r.order_id,
                symbol=r.symbol,
                side=r.side,
                order_type=str(r.raw.get("order_type") or r.raw.get("type") or "market"),
                status=r.status,
            )
            for r in reports
        ]
    return views, failed


def route_window_decisions(
    window: LaneWindow,
    pending: Sequence[TradeDecision],
    *,
    advice: Mapping[str, AppliedAction],
    reaches_real_venues: bool,
    phase: WindowPhase,
    now: pd.Timestamp,
    timeout_seconds: int,
    real_venues: Mapping[str, ExecutionVenue],
    simulated_venue: ExecutionVenue | None,
    controls: RouteControls,
    arrival_prices: Mapping[str, float],
) -> WindowOrders:
    """Route, expire or refuse every pending decision; only the REAL_TIME path touches a real venue."""
    result = WindowOrders()
    paths = {
        d.decision_hash: submission_path(
            reaches_real_venues=reaches_real_venues,
            phase=phase,
            decision_ts=d.event_ts,
            now=now,
            timeout_seconds=timeout_seconds,
        )
        for d in pending
    }
    live = [d for d in pending if paths[d.decision_hash][0] is SubmissionPath.REAL_TIME]
    views: list[OpenOrderView] = []
    if live:
        readable = {
            name: venue
            for name, venue in real_venues.items()
            if name != Venue.LEAN or (controls.lean_healthy and not controls.lean_kill_switch)
        }
        views, result.open_orders_unavailable = open_orders(readable)
    for decision in pending:
        path, reason = paths[decision.decision_hash]
        applied = advice.get(decision.decision_hash)
        if path is SubmissionPath.EXPIRED:
            result.expired[decision.decision_hash] = str(reason)
        elif path is SubmissionPath.SIMULATED:
            if simulated_venue is None:
                raise RuntimeError("a replay lane needs the simulated venue")
            choice = RouteChoice(Venue.SIMULATOR, None, REPLAY_BYPASS_REASON)
            request = order_request(window, decision, applied)
            result.routed.append((decision, route_order(request, choice, {Venue.SIMULATOR: simulated_venue})))
        else:
            request = order_request(
                window,
                decision,
                applied,
                submitted_at=now,
                arrival_price=arrival_prices.get(decision.symbol, decision.price),
            )
            refused = pre_submit_rejection(request.symbol, request.side, request.qty, views)
            if refused is not None:
                result.refused[decision.decision_hash] = refused
                continue
            choice = select_route(
                decision.symbol,
                controls.policy,
                available=frozenset(real_venues),
                lean_kill_switch=controls.lean_kill_switch,
                lean_healthy=controls.lean_healthy,
                manual_review=controls.manual_review,
                live=controls.live,
            )
            result.routed.append((decision, route_order(request, choice, real_venues)))
    return result


def arrival_prices_at(signals: pd.DataFrame, now: pd.Timestamp) -> dict[str, float]:
    """The last observed price per symbol at or before `now`: what the market showed at submission."""
    if signals.empty:
        return {}
    seen = signals[(signals["event_ts"] <= now) & signals["price"].notna()]
    if seen.empty:
        return {}
    latest = seen.sort_values(["event_ts", "seq"], kind="mergesort").groupby("symbol").tail(1)
    return {str(s): float(p) for s, p in zip(latest["symbol"], latest["price"], strict=True)}
