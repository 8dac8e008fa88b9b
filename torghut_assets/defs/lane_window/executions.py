"""`executions`: route each planned decision (LEAN first, fallback once), record route and TCA per row.

Re-materializing a window never resubmits: a decision whose `client_order_id` already has an execution
row keeps it (the reference's "an existing hash reuses the row"). Applied LLM advisory reviews (never
shadow ones) act here, before routing: a veto rejects the decision (`llm_veto` / `llm_error` in its
`risk_reasons`), an adjustment sends the bounded qty / order type.
"""

from collections import Counter
from collections.abc import Mapping

import dagster as dg
import pandas as pd
import sqlalchemy as sa

from torghut_assets.adapters.execution_venue import CancelOutcome, ExecutionVenue
from torghut_assets.adapters.paper_broker import SIMULATOR_ADAPTER, SIMULATOR_VERSION, SimulatedVenue
from torghut_assets.defs.lane_window.partitions import lane_window, lane_window_partitions
from torghut_assets.defs.lane_window.trading import session_bounds_for
from torghut_assets.defs.lane_window.trading_session import TradingSessionResource
from torghut_assets.defs.metadata import markdown_table, window_metadata
from torghut_assets.defs.resources import BrokerResource, LedgerResource, MarketDataResource
from torghut_assets.domain.evidence import canonical_value
from torghut_assets.domain.lanes import LaneMode, LaneWindow
from torghut_assets.domain.llm_advisory import ACTION_VETO
from torghut_assets.domain.order_timing import SubmissionOutcome
from torghut_assets.domain.routing import symbols_for_manual_review
from torghut_assets.ledger import llm_reviews, order_cancellations, queries, records, route_controls, schema
from torghut_assets.ledger.continuity_store import load_state
from torghut_assets.ledger.writes import replace_lane_window, to_native
from torghut_assets.services.stop_orders import StopTrigger, cancel_open_orders, standing_stop
from torghut_assets.services.window_orders import RouteControls, arrival_prices_at, route_window_decisions


@dg.asset(
    partitions_def=lane_window_partitions,
    group_name="lane_window",
    deps=["trade_decisions", "llm_decision_reviews"],
    kinds={"sql"},
    code_version="4",
    description=(
        "Orders for the planned decisions: replay lanes on the simulated venue; paper/live lanes only "
        "from their open window (LEAN first, fallback on failure); stale or closed-window decisions expire."
    ),
)
def executions(
    context: dg.AssetExecutionContext,
    ledger: LedgerResource,
    market_data: MarketDataResource,
    broker: BrokerResource,
    trading_session: TradingSessionResource,
) -> dg.MaterializeResult:
    window = lane_window(context)
    session = session_bounds_for(window)
    mode = trading_session.mode(window.lane)
    now = trading_session.now()
    phase = trading_session.phase(window)
    with ledger.read() as conn:
        decision_rows = queries.window_rows(conn, schema.trade_decisions, window.lane, window.start)
        existing = {
            r["client_order_id"]: r
            for r in queries.window_rows(conn, schema.executions, window.lane, window.start)
        }
        existing_tca = {
            r["execution_id"]: r
            for r in queries.window_rows(conn, schema.execution_tca_metrics, window.lane, window.start)
        }
        kill_switch = route_controls.lean_kill_switch_enabled(conn)
        continuity = load_state(conn, window.lane)
        stop = standing_stop(
            kill_switch_on=route_controls.enabled_since(conn, route_controls.TRADING_KILL_SWITCH) is not None,
            emergency_stop_active=continuity is not None and continuity.emergency_stop_active,
            emergency_reasons=() if continuity is None else continuity.emergency_reasons,
        )
        manual_review = route_controls.symbols_in_manual_review(conn)
        advised = llm_reviews.applied_actions(conn, window.lane, window.start)
        window_signals = (
            queries.window_signals(conn, window.lane, window.start) if mode.reaches_real_venues else None
        )
    routable = [r for r in decision_rows if llm_reviews.reviewable(r)]
    advice = {r["decision_hash"]: advised[str(r["id"])] for r in routable if str(r["id"]) in advised}
    decisions = sorted(
        (records.decision_from_row(r) for r in routable),
        key=lambda d: (d.event_ts, d.symbol),
    )
    kept = [d for d in decisions if d.decision_hash in existing]
    vetoed = {
        d.decision_hash: advice[d.decision_hash].reject_code
        for d in decisions
        if d.decision_hash not in existing
        and d.decision_hash in advice
        and advice[d.decision_hash].action == ACTION_VETO
    }
    pending = [d for d in decisions if d.decision_hash not in existing and d.decision_hash not in vetoed]
    execution_rows: list[dict[str, object]] = [existing[d.decision_hash] for d in kept]
    tca_rows: list[dict[str, object]] = [
        existing_tca[r["id"]]
        for r in execution_rows
        if r["id"] in existing_tca  # type: ignore[index]
    ]
    policy = broker.policy()
    bars = market_data.bars(window.start, session[1]) if session and pending else _no_bars()
    stopping = stop is not None and mode.reaches_real_venues
    real_venues = broker.venues(bars) if mode.reaches_real_venues and (pending or stopping) else {}
    cancelled = cancel_open_orders(real_venues) if stopping else []
    orders = route_window_decisions(
        window,
        pending,
        advice=advice,
        reaches_real_venues=mode.reaches_real_venues,
        phase=phase,
        now=now,
        timeout_seconds=trading_session.planned_decision_timeout_seconds,
        real_venues=real_venues,
        simulated_venue=None if mode.reaches_real_venues else SimulatedVenue(bars),
        controls=RouteControls(
            policy=policy,
            lean_kill_switch=kill_switch,
            lean_healthy=_lean_healthy(broker, real_venues, orders_possible=bool(pending)),
            manual_review=manual_review,
            live=mode is LaneMode.LIVE,
        ),
        arrival_prices=arrival_prices_at(window_signals, now) if window_signals is not None else {},
    )
    if orders.routed and session is not None:
        with ledger.read() as conn:
            prior = queries.session_signed_position(
                conn, window.lane, sorted({d.symbol for d in decisions}), session[0], window.start
            )
        for row in tca_rows:
            symbol = str(row["symbol"])
            prior[symbol] = prior.get(symbol, 0.0) + float(row["signed_qty"] or 0.0)  # type: ignore[arg-type]
        new_executions, new_tca = records.execution_rows(window, orders.routed, prior)
        execution_rows += new_executions
        tca_rows += new_tca
    unsent = {
        **{h: SubmissionOutcome.expired(reason, now) for h, reason in orders.expired.items()},
        **{h: SubmissionOutcome.refused(r.code, now, r.detail) for h, r in orders.refused.items()},
    }
    fallbacks = Counter(str(r["symbol"]) for r in execution_rows if int(r["execution_fallback_count"]) > 0)  # type: ignore[call-overload]
    review = symbols_for_manual_review(fallbacks, policy.manual_review_fallback_threshold)
    with ledger.transaction() as conn:
        for row in routable:
            marked = llm_reviews.with_advisory_rejection(
                row["decision_json"], vetoed.get(row["decision_hash"])
            )
            outcome = unsent.get(row["decision_hash"])
            if outcome is not None:
                marked = outcome.marked(marked)
            if marked != row["decision_json"]:
                rejected = row["decision_hash"] in vetoed or outcome is not None
                conn.execute(
                    sa.update(schema.trade_decisions)
                    .where(schema.trade_decisions.c.id == row["id"])
                    .values(
                        decision_json=canonical_value(marked), status="rejected" if rejected else "planned"
                    )
                )
        if stop is not None and stopping:
            order_cancellations.record_cancellations(
                conn,
                cancelled,
                trigger=stop[0].value,
                trigger_reason=stop[1],
                trigger_source="executions",
                attempted_at=now.to_pydatetime(),
                lane=window.lane,
                window_start=window.start.to_pydatetime(),
            )
        written = replace_lane_window(conn, schema.executions, window.lane, window.start, execution_rows)
        replace_lane_window(conn, schema.execution_tca_metrics, window.lane, window.start, tca_rows)
        for row in execution_rows:
            conn.execute(
                sa.update(schema.trade_decisions)
                .where(schema.trade_decisions.c.id == row["trade_decision_id"])
                .values(status=row["status"], executed_at=to_native(row["last_update_at"]))
            )
        for symbol in sorted(review - manual_review):
            route_controls.record_control(
                conn,
                control=f"{route_controls.MANUAL_REVIEW_PREFIX}{symbol}",
                enabled=True,
                reason=f"{fallbacks[symbol]} fallbacks in {window.label()}",
                operator="torghut_assets",
                source="executions",
                at=window.end.to_pydatetime(),
                event_key=window.label(),
            )
    venues_used: dict[str, object] = (
        dict(real_venues) if mode.reaches_real_venues else {SIMULATOR_ADAPTER: "simulated"}
    )
    return dg.MaterializeResult(
        metadata=execution_metadata(
            window,
            written,
            execution_rows,
            tca_rows,
            broker.provenance(venues_used) if mode.reaches_real_venues else replay_provenance(),
            review,
            llm_applied={
                "vetoed": len(vetoed),
                "adjusted": sum(1 for d in pending if d.decision_hash in advice),
            },
            trading=trading_session.describe(window),
            unsent=unsent,
            sent_now=orders.sent_to_real_venues,
            open_orders_unavailable=orders.open_orders_unavailable,
            cancels=_cancel_summary(stop, cancelled) if stopping else None,
        )
    )


def _cancel_summary(
    stop: tuple[StopTrigger, str] | None, cancelled: list[CancelOutcome]
) -> dict[str, object]:
    return {
        "trigger": None if stop is None else stop[0].value,
        "reason": None if stop is None else stop[1],
        "attempted": len(cancelled),
        "accepted": sum(1 for c in cancelled if c.accepted),
        "refused": [f"{c.venue}:{c.order_id}:{c.detail}" for c in cancelled if not c.accepted],
    }


def _lean_healthy(
    broker: BrokerResource, venues: Mapping[str, ExecutionVenue], *, orders_possible: bool
) -> bool:
    return orders_possible and broker.lean_usable(venues)


def replay_provenance() -> dict[str, object]:
    return {
        "venues": [SIMULATOR_ADAPTER],
        "policy": "replay",
        "fallback_adapter": None,
        "simulator_version": SIMULATOR_VERSION,
        "note": "replay lane: simulated venue only, at each decision's own time; nothing reaches a broker",
    }


def _no_bars() -> pd.DataFrame:
    return pd.DataFrame(
        columns=["symbol", "ts", "open", "high", "low", "close", "volume", "vwap", "spread_bps"]
    )


def execution_metadata(
    window: LaneWindow,
    written: int,
    execution_rows: list[dict[str, object]],
    tca_rows: list[dict[str, object]],
    provenance: dict[str, object],
    review: frozenset[str],
    llm_applied: dict[str, int] | None = None,
    trading: dict[str, object] | None = None,
    unsent: Mapping[str, SubmissionOutcome] | None = None,
    sent_now: int = 0,
    open_orders_unavailable: list[str] | None = None,
    cancels: dict[str, object] | None = None,
) -> dict[str, object]:
    statuses = Counter(str(r["status"]) for r in execution_rows)
    by_adapter = Counter(
        f"{r['execution_expected_adapter']}→{r['execution_actual_adapter']}" for r in execution_rows
    )
    fallback_reasons = Counter(
        str(r["execution_fallback_reason"]) for r in execution_rows if r["execution_fallback_reason"]
    )
    slippage = [float(r["slippage_bps"]) for r in tca_rows if r["slippage_bps"] is not None]  # type: ignore[arg-type]
    shortfall = sum(float(r["shortfall_notional"] or 0.0) for r in tca_rows)  # type: ignore[arg-type]
    unsent = unsent or {}
    unsent_reasons = Counter(o.reason.split(":")[0] for o in unsent.values())
    mode_line = (
        f"mode `{trading['mode']}`, window {trading['window_phase']}"
        if trading is not None
        else "mode unknown"
    )
    summary = (
        f"**{written} executions** for `{window.label()}` via {provenance['venues']} ({mode_line})"
        + (f"; {len(unsent)} decisions never sent: {dict(unsent_reasons)}" if unsent else "")
        + "\n\n"
        + markdown_table(
            ["symbol", "side", "submitted", "filled", "avg_fill", "status", "route", "fallback reason"],
            [
                (
                    e["symbol"],
                    e["side"],
                    e["submitted_qty"],
                    e["filled_qty"],
                    e["avg_fill_price"],
                    e["status"],
                    f"{e['execution_expected_adapter']}→{e['execution_actual_adapter']}",
                    e["execution_fallback_reason"],
                )
                for e in execution_rows[:50]
            ],
        )
    )
    return window_metadata(
        window,
        written,
        summary,
        status_counts=dict(statuses),
        requests_by_route=dict(by_adapter),
        fallbacks_by_reason=dict(fallback_reasons),
        manual_review_symbols=sorted(review),
        tca_rows=len(tca_rows),
        avg_slippage_bps=round(sum(slippage) / len(slippage), 4) if slippage else None,
        shortfall_notional_total=round(shortfall, 4),
        route=provenance,
        llm_applied=llm_applied or {"vetoed": 0, "adjusted": 0},
        trading=trading or {},
        sent_to_real_venues_now=sent_now,
        unsent_by_reason=dict(unsent_reasons),
        open_orders_unavailable=open_orders_unavailable or [],
        cancels_on_stop=cancels or {"trigger": None, "attempted": 0},
    )
