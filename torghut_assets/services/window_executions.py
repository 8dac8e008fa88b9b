"""Route a lane window's planned decisions to executions, and write up everything that became of them.

Re-materializing a window never resubmits: a decision whose `client_order_id` already has an execution
row keeps it (the reference's "an existing hash reuses the row"). Applied LLM advisory reviews (never
shadow ones) act here, before routing: a veto rejects the decision (`llm_veto` / `llm_error` in its
`risk_reasons`), an adjustment sends the bounded qty / order type. While a trading stop stands, a lane
that reaches real venues first cancels their open orders. The routing itself is
`services.window_orders`; this module reads the window's state, computes TCA against the session
position and writes executions, TCA, decision verdicts, cancellations and manual-review flags in one
transaction.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import pandas as pd
from sqlalchemy.engine import Connection

from torghut_assets.adapters.paper_broker import SimulatedVenue
from torghut_assets.domain.decisions import DecisionStatus, TradeDecision
from torghut_assets.domain.lanes import LaneMode, LaneWindow
from torghut_assets.domain.llm_advisory import AdvisoryAction
from torghut_assets.domain.market_calendar import session_bounds_for
from torghut_assets.domain.order_timing import SubmissionOutcome, WindowPhase
from torghut_assets.domain.orders import CancelOutcome, ExecutionVenue, RoutedOrder
from torghut_assets.domain.routing import RoutingPolicy, symbols_for_manual_review
from torghut_assets.domain.tca import TcaInput, TcaMetrics, compute_tca
from torghut_assets.ledger import (
    decision_status,
    llm_reviews,
    order_cancellations,
    queries,
    records,
    route_controls,
    schema,
)
from torghut_assets.ledger.continuity_store import load_state
from torghut_assets.ledger.llm_reviews import AppliedAction
from torghut_assets.ledger.writes import replace_lane_window
from torghut_assets.services.ports import LedgerPort, MarketDataPort, VenuePort
from torghut_assets.services.stop_orders import StopTrigger, cancel_open_orders, standing_stop
from torghut_assets.services.window_orders import (
    RouteControls,
    WindowOrders,
    arrival_prices_at,
    route_window_decisions,
)

Row = dict[str, Any]
SOURCE = "executions"
OPERATOR = "torghut_assets"
BAR_COLUMNS = ["symbol", "ts", "open", "high", "low", "close", "volume", "vwap", "spread_bps"]


class VenueBrokerPort(VenuePort, Protocol):
    """The configured broker (`BrokerResource` is one): venues, routing policy and LEAN's health rule."""

    def policy(self) -> RoutingPolicy: ...

    def lean_usable(self, venues: Mapping[str, ExecutionVenue]) -> bool: ...


@dataclass(frozen=True)
class TradingClock:
    """The lane's mode and where the clock stands against the window, read once for the whole run."""

    mode: LaneMode
    now: pd.Timestamp
    phase: WindowPhase
    decision_timeout_seconds: int


@dataclass(frozen=True)
class StopCancels:
    """The stop that stood while the lane reached real venues, and every cancel attempt it caused."""

    trigger: StopTrigger
    reason: str
    outcomes: list[CancelOutcome]


@dataclass(frozen=True)
class WindowExecutions:
    """The window's executions and TCA as stored (`written` executions) and the run's other verdicts."""

    written: int
    execution_rows: list[Row]
    tca_rows: list[Row]
    manual_review: frozenset[str]  # symbols whose fallbacks reached the review threshold
    vetoed: int
    adjusted: int
    unsent: dict[str, SubmissionOutcome]
    sent_to_real_venues: int
    open_orders_unavailable: list[str]
    real_venues: dict[str, ExecutionVenue] = field(default_factory=dict)
    cancels: StopCancels | None = None


@dataclass(frozen=True)
class _WindowState:
    decision_rows: list[Row]
    existing: dict[str, Row]  # execution rows by client order id (the decision hash)
    existing_tca: dict[Any, Row]  # TCA rows by execution id
    lean_kill_switch: bool
    stop: tuple[StopTrigger, str] | None
    manual_review: frozenset[str]
    advised: dict[str, AppliedAction]
    window_signals: pd.DataFrame | None


@dataclass(frozen=True)
class _Triage:
    routable: list[Row]
    advice: dict[str, AppliedAction]
    decisions: list[TradeDecision]
    vetoed: dict[str, str | None]
    pending: list[TradeDecision]
    kept_executions: list[Row]
    kept_tca: list[Row]


def _read_state(conn: Connection, window: LaneWindow, reaches_real_venues: bool) -> _WindowState:
    continuity = load_state(conn, window.lane)
    stop = standing_stop(
        kill_switch_on=route_controls.enabled_since(conn, route_controls.TRADING_KILL_SWITCH) is not None,
        emergency_stop_active=continuity is not None and continuity.emergency_stop_active,
        emergency_reasons=() if continuity is None else continuity.emergency_reasons,
    )
    return _WindowState(
        decision_rows=queries.window_rows(conn, schema.trade_decisions, window.lane, window.start),
        existing={
            r["client_order_id"]: r
            for r in queries.window_rows(conn, schema.executions, window.lane, window.start)
        },
        existing_tca={
            r["execution_id"]: r
            for r in queries.window_rows(conn, schema.execution_tca_metrics, window.lane, window.start)
        },
        lean_kill_switch=route_controls.lean_kill_switch_enabled(conn),
        stop=stop,
        manual_review=route_controls.symbols_in_manual_review(conn),
        advised=llm_reviews.applied_actions(conn, window.lane, window.start),
        window_signals=(
            queries.window_signals(conn, window.lane, window.start) if reaches_real_venues else None
        ),
    )


def _triage(state: _WindowState) -> _Triage:
    """Which decisions keep their execution, which an advisory veto rejects, and which are pending."""
    routable = [r for r in state.decision_rows if llm_reviews.reviewable(r)]
    advice = {
        r["decision_hash"]: state.advised[str(r["id"])] for r in routable if str(r["id"]) in state.advised
    }
    decisions = sorted((records.decision_from_row(r) for r in routable), key=lambda d: (d.event_ts, d.symbol))
    new = [d for d in decisions if d.decision_hash not in state.existing]
    vetoed = {
        d.decision_hash: advice[d.decision_hash].reject_code
        for d in new
        if d.decision_hash in advice and advice[d.decision_hash].action == AdvisoryAction.VETO
    }
    kept = [state.existing[d.decision_hash] for d in decisions if d.decision_hash in state.existing]
    return _Triage(
        routable=routable,
        advice=advice,
        decisions=decisions,
        vetoed=vetoed,
        pending=[d for d in new if d.decision_hash not in vetoed],
        kept_executions=kept,
        kept_tca=[state.existing_tca[r["id"]] for r in kept if r["id"] in state.existing_tca],
    )


def order_tca(
    routed: Sequence[tuple[TradeDecision, RoutedOrder]], prior_signed_qty: Mapping[str, float]
) -> list[TcaMetrics]:
    """TCA of each routed order in submission order, each against the session position before it (the
    churn baseline, docs/routing.md, "Transaction cost analysis")."""
    position = dict(prior_signed_qty)
    metrics: list[TcaMetrics] = []
    for decision, order in routed:
        report = order.report
        raw = dict(report.raw) if report else {}
        prior = position.get(decision.symbol, 0.0)
        tca = compute_tca(
            TcaInput(
                side=decision.action,
                arrival_price=order.request.arrival_price,
                avg_fill_price=report.avg_fill_price if report else None,
                submitted_qty=float(order.request.qty),
                filled_qty=float(report.filled_qty) if report else 0.0,
                prior_signed_qty=prior,
                expected_shortfall_bps_p50=raw.get("expected_shortfall_bps_p50"),
                expected_shortfall_bps_p95=raw.get("expected_shortfall_bps_p95"),
                market_arrival_price=raw.get("market_arrival_price"),
                fees=report.fees if report else 0.0,
            )
        )
        position[decision.symbol] = prior + tca.signed_qty
        metrics.append(tca)
    return metrics


def _route(
    window: LaneWindow,
    clock: TradingClock,
    state: _WindowState,
    triage: _Triage,
    *,
    broker: VenueBrokerPort,
    policy: RoutingPolicy,
    real_venues: Mapping[str, ExecutionVenue],
    bars: pd.DataFrame,
) -> WindowOrders:
    reaches_real_venues = clock.mode.reaches_real_venues
    return route_window_decisions(
        window,
        triage.pending,
        advice=triage.advice,
        reaches_real_venues=reaches_real_venues,
        phase=clock.phase,
        now=clock.now,
        timeout_seconds=clock.decision_timeout_seconds,
        real_venues=real_venues,
        simulated_venue=None if reaches_real_venues else SimulatedVenue(bars),
        controls=RouteControls(
            policy=policy,
            lean_kill_switch=state.lean_kill_switch,
            lean_healthy=bool(triage.pending) and broker.lean_usable(real_venues),
            manual_review=state.manual_review,
            live=clock.mode is LaneMode.LIVE,
        ),
        arrival_prices=(
            arrival_prices_at(state.window_signals, clock.now) if state.window_signals is not None else {}
        ),
    )


def _window_rows(
    ledger: LedgerPort,
    window: LaneWindow,
    session: tuple[pd.Timestamp, pd.Timestamp] | None,
    triage: _Triage,
    orders: WindowOrders,
) -> tuple[list[Row], list[Row]]:
    """The executions and TCA rows kept from earlier runs plus those of the orders routed now."""
    execution_rows, tca_rows = list(triage.kept_executions), list(triage.kept_tca)
    if not orders.routed or session is None:
        return execution_rows, tca_rows
    with ledger.engine.connect() as conn:
        symbols = sorted({d.symbol for d in triage.decisions})
        prior = queries.session_signed_position(conn, window.lane, symbols, session[0], window.start)
    for row in tca_rows:
        symbol = str(row["symbol"])
        prior[symbol] = prior.get(symbol, 0.0) + float(row["signed_qty"] or 0.0)
    tca = order_tca(orders.routed, prior)
    new_executions, new_tca = records.execution_rows(
        window, [(d, order, t) for (d, order), t in zip(orders.routed, tca, strict=True)]
    )
    return execution_rows + new_executions, tca_rows + new_tca


def _mark_verdicts(conn: Connection, triage: _Triage, unsent: Mapping[str, SubmissionOutcome]) -> None:
    """Advisory rejections and unsent outcomes go into the decision rows they concern."""
    for row in triage.routable:
        marked = llm_reviews.with_advisory_rejection(
            row["decision_json"], triage.vetoed.get(row["decision_hash"])
        )
        outcome = unsent.get(row["decision_hash"])
        if outcome is not None:
            marked = outcome.marked(marked)
        if marked != row["decision_json"]:
            rejected = row["decision_hash"] in triage.vetoed or outcome is not None
            status = DecisionStatus.REJECTED if rejected else DecisionStatus.PLANNED
            decision_status.mark_verdict(conn, row["id"], marked, status.value)


def _flag_manual_review(
    conn: Connection, window: LaneWindow, symbols: frozenset[str], fallbacks: Counter[str]
) -> None:
    for symbol in sorted(symbols):
        route_controls.record_control(
            conn,
            control=f"{route_controls.MANUAL_REVIEW_PREFIX}{symbol}",
            enabled=True,
            reason=f"{fallbacks[symbol]} fallbacks in {window.label()}",
            operator=OPERATOR,
            source=SOURCE,
            at=window.end.to_pydatetime(),
            event_key=window.label(),
        )


def _write_up(
    ledger: LedgerPort,
    window: LaneWindow,
    clock: TradingClock,
    *,
    triage: _Triage,
    unsent: Mapping[str, SubmissionOutcome],
    rows: tuple[list[Row], list[Row]],
    cancels: StopCancels | None,
    new_review: frozenset[str],
    fallbacks: Counter[str],
) -> int:
    """One transaction: decision verdicts, cancellations, executions and TCA, decision statuses, and the
    symbols newly flagged for manual review."""
    execution_rows, tca_rows = rows
    with ledger.engine.begin() as conn:
        _mark_verdicts(conn, triage, unsent)
        if cancels is not None:
            order_cancellations.record_cancellations(
                conn,
                cancels.outcomes,
                trigger=cancels.trigger.value,
                trigger_reason=cancels.reason,
                trigger_source=SOURCE,
                attempted_at=clock.now.to_pydatetime(),
                lane=window.lane,
                window_start=window.start.to_pydatetime(),
            )
        written = replace_lane_window(conn, schema.executions, window.lane, window.start, execution_rows)
        replace_lane_window(conn, schema.execution_tca_metrics, window.lane, window.start, tca_rows)
        for row in execution_rows:
            decision_status.mark_executed(
                conn, row["trade_decision_id"], row["status"], row["last_update_at"]
            )
        _flag_manual_review(conn, window, new_review, fallbacks)
    return written


def execute_window(
    ledger: LedgerPort,
    market_data: MarketDataPort,
    broker: VenueBrokerPort,
    window: LaneWindow,
    clock: TradingClock,
) -> WindowExecutions:
    """Replay lanes on the simulated venue; paper/live lanes only from their open window (LEAN first,
    fallback on failure); stale or closed-window decisions expire unsent."""
    session = session_bounds_for(window)
    reaches_real_venues = clock.mode.reaches_real_venues
    with ledger.engine.connect() as conn:
        state = _read_state(conn, window, reaches_real_venues)
    triage = _triage(state)
    policy = broker.policy()
    bars = market_data.bars(window.start, session[1]) if session and triage.pending else _no_bars()
    stop = state.stop if reaches_real_venues else None
    real_venues = broker.venues(bars) if reaches_real_venues and (triage.pending or stop) else {}
    cancels = None if stop is None else StopCancels(stop[0], stop[1], cancel_open_orders(real_venues))
    orders = _route(
        window, clock, state, triage, broker=broker, policy=policy, real_venues=real_venues, bars=bars
    )
    rows = _window_rows(ledger, window, session, triage, orders)
    unsent = {
        **{h: SubmissionOutcome.expired(reason, clock.now) for h, reason in orders.expired.items()},
        **{h: SubmissionOutcome.refused(r.code, clock.now, r.detail) for h, r in orders.refused.items()},
    }
    fallbacks = Counter(str(r["symbol"]) for r in rows[0] if int(r["execution_fallback_count"]) > 0)
    review = symbols_for_manual_review(fallbacks, policy.manual_review_fallback_threshold)
    written = _write_up(
        ledger,
        window,
        clock,
        triage=triage,
        unsent=unsent,
        rows=rows,
        cancels=cancels,
        new_review=review - state.manual_review,
        fallbacks=fallbacks,
    )
    return WindowExecutions(
        written=written,
        execution_rows=rows[0],
        tca_rows=rows[1],
        manual_review=review,
        vetoed=len(triage.vetoed),
        adjusted=sum(1 for d in triage.pending if d.decision_hash in triage.advice),
        unsent=unsent,
        sent_to_real_venues=orders.sent_to_real_venues,
        open_orders_unavailable=orders.open_orders_unavailable,
        real_venues=dict(real_venues),
        cancels=cancels,
    )


def _no_bars() -> pd.DataFrame:
    return pd.DataFrame(columns=BAR_COLUMNS)
