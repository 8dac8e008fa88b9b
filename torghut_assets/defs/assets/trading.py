"""`trade_decisions` and `executions`: strategy → risk → route, one lane window at a time."""

from collections import Counter

import dagster as dg
import pandas as pd
import sqlalchemy as sa

from torghut_assets.defs.metadata import markdown_table, window_metadata
from torghut_assets.defs.partitions import lane_window, lane_window_partitions
from torghut_assets.defs.resources import BrokerResource, LedgerResource, MarketDataResource
from torghut_assets.domain.decisions import decisions_in_window, plan_session_decisions
from torghut_assets.domain.lanes import LaneWindow
from torghut_assets.domain.market_calendar import session_bounds
from torghut_assets.domain.signal_quality import admit_signals
from torghut_assets.domain.strategies import default_strategy
from torghut_assets.ledger import queries, records, schema
from torghut_assets.ledger.writes import replace_lane_window, to_native, upsert_rows


def _session(window: LaneWindow) -> tuple[pd.Timestamp, pd.Timestamp] | None:
    bounds = session_bounds(window.start.tz_convert("America/New_York").date())
    if bounds is None or bounds[1] <= window.start or bounds[0] >= window.end:
        return None
    return bounds


@dg.asset(
    partitions_def=lane_window_partitions,
    group_name="lane_window",
    deps=["signals"],
    kinds={"sql"},
    code_version="1",
    description="Deterministic strategy decisions for the window, sized and risk-checked; rejections kept.",
)
def trade_decisions(
    context: dg.AssetExecutionContext, ledger: LedgerResource, market_data: MarketDataResource
) -> dg.MaterializeResult:  # type: ignore[type-arg]
    window = lane_window(context)
    lane = window.config
    spec = default_strategy(lane.strategy_type)
    session = _session(window)
    rows = []
    with ledger.read() as conn:
        window_signals = queries.window_signals(conn, window.lane, window.start)
    if session is not None and not window_signals.empty:
        session_open, session_close = session
        prefix_end = max(session_open, window.start)
        prefix = admit_signals(
            market_data.signals(session_open, prefix_end),
            window_start=session_open,
            window_end=prefix_end,
            universe=market_data.universe,
        ).frame
        history = (
            pd.concat([prefix, window_signals], ignore_index=True) if not prefix.empty else window_signals
        )
        planned = plan_session_decisions(history, spec, lane, session_close)
        rows = [
            records.decision_row(window, d, None)
            for d in decisions_in_window(planned, window.start, window.end)
        ]
    with ledger.transaction() as conn:
        upsert_rows(conn, schema.strategies, [records.strategy_row(spec, lane.description)])
        written = replace_lane_window(conn, schema.trade_decisions, window.lane, window.start, rows)
    statuses = Counter(r["status"] for r in rows)
    reasons = Counter(code for r in rows for code in r["decision_json"]["risk_reasons"])
    summary = (
        f"**{written} decisions** by `{spec.name}@{spec.version}` for `{window.label()}`\n\n"
        + markdown_table(
            ["symbol", "action", "qty", "status", "event_ts"],
            [
                (
                    r["symbol"],
                    r["decision_json"]["action"],
                    r["decision_json"]["qty"],
                    r["status"],
                    r["signal_event_ts"].isoformat(),
                )
                for r in rows[:50]
            ],
        )
    )
    return dg.MaterializeResult(
        metadata=window_metadata(
            window,
            written,
            summary,
            status_counts=dict(statuses),
            risk_reason_counts=dict(reasons),
            strategy_id=spec.strategy_id,
            market_session=None if session is None else [session[0].isoformat(), session[1].isoformat()],
        )
    )


@dg.asset(
    partitions_def=lane_window_partitions,
    group_name="lane_window",
    deps=["trade_decisions"],
    kinds={"sql"},
    code_version="1",
    description="Orders for the window's planned decisions, with route provenance and TCA on every row.",
)
def executions(
    context: dg.AssetExecutionContext,
    ledger: LedgerResource,
    market_data: MarketDataResource,
    broker: BrokerResource,
) -> dg.MaterializeResult:  # type: ignore[type-arg]
    window = lane_window(context)
    session = _session(window)
    with ledger.read() as conn:
        decision_rows = queries.window_rows(conn, schema.trade_decisions, window.lane, window.start)
    decisions = sorted(
        (records.decision_from_row(r) for r in decision_rows if r["status"] != "rejected"),
        key=lambda d: (d.event_ts, d.symbol),
    )
    route = broker.route()
    execution_rows: list[dict[str, object]] = []
    tca_rows: list[dict[str, object]] = []
    if decisions and session is not None:
        fills = broker.submit(decisions, market_data.bars(window.start, session[1]))
        with ledger.read() as conn:
            prior = queries.session_signed_position(
                conn, window.lane, sorted({d.symbol for d in decisions}), session[0], window.start
            )
        execution_rows, tca_rows = records.execution_rows(window, fills, prior, route)
    with ledger.transaction() as conn:
        written = replace_lane_window(conn, schema.executions, window.lane, window.start, execution_rows)
        replace_lane_window(conn, schema.execution_tca_metrics, window.lane, window.start, tca_rows)
        for row in execution_rows:
            conn.execute(
                sa.update(schema.trade_decisions)
                .where(schema.trade_decisions.c.id == row["trade_decision_id"])
                .values(status=row["status"], executed_at=to_native(row["last_update_at"]))
            )
    statuses = Counter(str(r["status"]) for r in execution_rows)
    slippage = [float(r["slippage_bps"]) for r in tca_rows if r["slippage_bps"] is not None]  # type: ignore[arg-type]
    shortfall = sum(float(r["shortfall_notional"] or 0.0) for r in tca_rows)  # type: ignore[arg-type]
    summary = (
        f"**{written} executions** routed via `{route['actual_adapter']}` for `{window.label()}`\n\n"
        + (
            markdown_table(
                ["symbol", "side", "submitted", "filled", "avg_fill", "status", "slippage_bps"],
                [
                    (
                        e["symbol"],
                        e["side"],
                        e["submitted_qty"],
                        e["filled_qty"],
                        e["avg_fill_price"],
                        e["status"],
                        None if t["slippage_bps"] is None else round(float(t["slippage_bps"]), 2),
                    )  # type: ignore[arg-type]
                    for e, t in zip(execution_rows[:50], tca_rows[:50], strict=True)
                ],
            )
        )
    )
    return dg.MaterializeResult(
        metadata=window_metadata(
            window,
            written,
            summary,
            status_counts=dict(statuses),
            tca_rows=len(tca_rows),
            avg_slippage_bps=round(sum(slippage) / len(slippage), 4) if slippage else None,
            shortfall_notional_total=round(shortfall, 4),
            route=route,
        )
    )
