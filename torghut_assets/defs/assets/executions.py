"""`executions`: route each planned decision (LEAN first, fallback once), record route and TCA per row.

Re-materializing a window never resubmits: a decision whose `client_order_id` already has an execution
row keeps it (the reference's "an existing hash reuses the row"). Applied LLM advisory reviews (never
shadow ones) act here, before routing: a veto rejects the decision (`llm_veto` / `llm_error` in its
`risk_reasons`), an adjustment sends the bounded qty / order type.
"""

from collections import Counter

import dagster as dg
import pandas as pd
import sqlalchemy as sa

from torghut_assets.adapters.execution_venue import OrderRequest
from torghut_assets.adapters.order_router import route_order
from torghut_assets.defs.assets.trading import session_bounds_for
from torghut_assets.defs.metadata import markdown_table, window_metadata
from torghut_assets.defs.partitions import lane_window, lane_window_partitions
from torghut_assets.defs.resources import BrokerResource, LedgerResource, MarketDataResource
from torghut_assets.domain.decisions import TradeDecision
from torghut_assets.domain.evidence import canonical_value
from torghut_assets.domain.lanes import LaneWindow
from torghut_assets.domain.llm_advisory import ACTION_VETO
from torghut_assets.domain.routing import LEAN, select_route, symbols_for_manual_review
from torghut_assets.ledger import llm_reviews, queries, records, route_controls, schema
from torghut_assets.ledger.llm_reviews import AppliedAction
from torghut_assets.ledger.writes import replace_lane_window, to_native


@dg.asset(
    partitions_def=lane_window_partitions,
    group_name="lane_window",
    deps=["trade_decisions", "llm_decision_reviews"],
    kinds={"sql"},
    code_version="3",
    description="Orders for the planned decisions: LEAN first, fallback on failure, route and TCA per row.",
)
def executions(
    context: dg.AssetExecutionContext,
    ledger: LedgerResource,
    market_data: MarketDataResource,
    broker: BrokerResource,
) -> dg.MaterializeResult:
    window = lane_window(context)
    session = session_bounds_for(window)
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
        manual_review = route_controls.symbols_in_manual_review(conn)
        advised = llm_reviews.applied_actions(conn, window.lane, window.start)
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
    venues = broker.venues(market_data.bars(window.start, session[1]) if session and pending else _no_bars())
    policy = broker.policy()
    lean_healthy = bool(pending) and LEAN in venues and venues[LEAN].healthy()
    routed = []
    for decision in pending:
        choice = select_route(
            decision.symbol,
            policy,
            available=frozenset(venues),
            lean_kill_switch=kill_switch,
            lean_healthy=lean_healthy,
            manual_review=manual_review,
        )
        request = order_request(window, decision, advice.get(decision.decision_hash))
        routed.append((decision, route_order(request, choice, venues)))
    if routed and session is not None:
        with ledger.read() as conn:
            prior = queries.session_signed_position(
                conn, window.lane, sorted({d.symbol for d in decisions}), session[0], window.start
            )
        new_executions, new_tca = records.execution_rows(window, routed, prior)
        execution_rows += new_executions
        tca_rows += new_tca
    fallbacks = Counter(str(r["symbol"]) for r in execution_rows if int(r["execution_fallback_count"]) > 0)  # type: ignore[call-overload]
    review = symbols_for_manual_review(fallbacks, policy.manual_review_fallback_threshold)
    with ledger.transaction() as conn:
        for row in routable:
            marked = llm_reviews.with_advisory_rejection(
                row["decision_json"], vetoed.get(row["decision_hash"])
            )
            if marked != row["decision_json"]:
                conn.execute(
                    sa.update(schema.trade_decisions)
                    .where(schema.trade_decisions.c.id == row["id"])
                    .values(
                        decision_json=canonical_value(marked),
                        status="rejected" if row["decision_hash"] in vetoed else "planned",
                    )
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
    return dg.MaterializeResult(
        metadata=execution_metadata(
            window,
            written,
            execution_rows,
            tca_rows,
            broker.provenance(venues),
            review,
            llm_applied={
                "vetoed": len(vetoed),
                "adjusted": sum(1 for d in pending if d.decision_hash in advice),
            },
        )
    )


def _no_bars() -> pd.DataFrame:
    return pd.DataFrame(
        columns=["symbol", "ts", "open", "high", "low", "close", "volume", "vwap", "spread_bps"]
    )


def order_request(
    window: LaneWindow, decision: TradeDecision, advice: AppliedAction | None = None
) -> OrderRequest:
    """The decision's order; an applied LLM adjustment sets qty / order type (limit at the arrival price)."""
    digest = decision.decision_hash
    order_type = advice.order_type if advice is not None else "market"
    return OrderRequest(
        client_order_id=digest,
        symbol=decision.symbol,
        side=decision.action,
        qty=advice.qty if advice is not None else decision.qty,
        order_type=order_type,
        time_in_force="day",
        arrival_price=decision.price,
        submitted_at=decision.event_ts,
        correlation_id=f"{window.label()}:{digest[:16]}",
        limit_price=decision.price if order_type == "limit" else None,
    )


def execution_metadata(
    window: LaneWindow,
    written: int,
    execution_rows: list[dict[str, object]],
    tca_rows: list[dict[str, object]],
    provenance: dict[str, object],
    review: frozenset[str],
    llm_applied: dict[str, int] | None = None,
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
    summary = (
        f"**{written} executions** for `{window.label()}` via {provenance['venues']}\n\n"
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
    )
