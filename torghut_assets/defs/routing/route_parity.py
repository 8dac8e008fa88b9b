"""`route_parity`: replay recent decisions on a fixed symbol subset through both routes and compare.

With real venues configured this places paired *paper* orders on LEAN and Alpaca (materialize it on
purpose); on a laptop it compares simulator twins of the two routes, and says so in the report.
"""

import dagster as dg
import pandas as pd
import sqlalchemy as sa
from pydantic import Field

from torghut_assets.adapters.execution_venue import ExecutionVenue, OrderReport, OrderRequest, VenueError
from torghut_assets.adapters.paper_broker import FillModel, SimulatedVenue
from torghut_assets.defs.metadata import markdown_table
from torghut_assets.defs.resources import BrokerResource, LedgerResource, MarketDataResource
from torghut_assets.domain.evidence import sha256_hex
from torghut_assets.domain.lanes import LaneWindow
from torghut_assets.domain.route_parity import (
    DEFAULT_PARITY_SYMBOLS,
    ParityPair,
    ParityThresholds,
    VenueFill,
    evaluate_parity,
)
from torghut_assets.domain.routing import ALPACA, LEAN
from torghut_assets.ledger import records, schema
from torghut_assets.ledger.identity import row_id
from torghut_assets.ledger.queries import as_utc
from torghut_assets.ledger.writes import upsert_rows
from torghut_assets.services.window_orders import order_request


class RouteParityConfig(dg.Config):
    symbols: list[str] = Field(default=list(DEFAULT_PARITY_SYMBOLS), description="fixed parity subset")
    max_pairs: int = Field(default=40, description="most recent planned decisions replayed on both routes")
    twin_secondary_delay_bars: int = Field(default=0, description="dev twins only: Alpaca twin fills later")
    twin_secondary_extra_cost_bps: float = Field(
        default=0.0, description="dev twins only: extra cost the Alpaca twin pays per fill"
    )


def _fill(venue: ExecutionVenue, request: OrderRequest) -> VenueFill:
    adapter = venue.name
    try:
        report: OrderReport = venue.submit(request)
    except VenueError as exc:
        return VenueFill(adapter=adapter, accepted=False, failure=exc.reason_code)
    return VenueFill(
        adapter=adapter,
        accepted=report.status not in ("rejected", "expired", "canceled"),
        client_order_id=report.client_order_id,
        symbol=report.symbol,
        side=report.side,
        qty=report.submitted_qty,
        filled_qty=report.filled_qty,
        avg_fill_price=report.avg_fill_price,
        failure=None,
    )


def _recent_decision_rows(ledger: LedgerResource, symbols: list[str], limit: int) -> list[dict[str, object]]:
    table = schema.trade_decisions
    query = (
        sa.select(table)
        .where(table.c.symbol.in_(symbols), table.c.status != "rejected")
        .order_by(table.c.signal_event_ts.desc(), table.c.id)
        .limit(limit)
    )
    with ledger.read() as conn:
        return [dict(r) for r in conn.execute(query).mappings()]


@dg.asset(
    group_name="governance",
    kinds={"sql"},
    description="LEAN vs Alpaca parity on a fixed symbol subset; allocation increases need it to pass.",
    check_specs=[
        dg.AssetCheckSpec(
            "route_parity_passes",
            asset="route_parity",
            description="Allocation increases need a passing report.",
        )
    ],
)
def route_parity(
    context: dg.AssetExecutionContext,
    config: RouteParityConfig,
    ledger: LedgerResource,
    market_data: MarketDataResource,
    broker: BrokerResource,
) -> dg.MaterializeResult:
    rows = _recent_decision_rows(ledger, config.symbols, config.max_pairs)
    decisions = [(records.decision_from_row(r), r) for r in rows]
    live = bool(broker.lean_runner_url and broker.alpaca_api_key_id and broker.alpaca_secret_key)
    real = broker.venues(pd.DataFrame()) if live else {}
    pairs = []
    for decision, row in decisions:
        window = LaneWindow(lane=str(row["lane"]), start=as_utc(row["window_start"]))
        request = order_request(window, decision)
        if live:
            primary, secondary = real[LEAN], real[ALPACA]
        else:
            bars = market_data.bars(decision.event_ts, decision.event_ts + pd.Timedelta(minutes=15))
            primary = SimulatedVenue(bars, name="lean-sim")
            secondary = SimulatedVenue(
                bars,
                name="alpaca-sim",
                delay_bars=config.twin_secondary_delay_bars,
                model=FillModel(extra_cost_bps=config.twin_secondary_extra_cost_bps),
            )
        pairs.append(
            ParityPair(
                client_order_id=request.client_order_id,
                symbol=decision.symbol,
                side=decision.action,
                qty=float(decision.qty),
                arrival_price=decision.price,
                primary=_fill(primary, request),
                secondary=_fill(secondary, request),
            )
        )
    result = evaluate_parity(pairs, ParityThresholds())
    evaluated_at = pd.Timestamp.now(tz="UTC")
    mode = "live_paper" if live else "simulated_twins"
    report = {
        "schema_version": "torghut.route-parity.v1",
        "mode": mode,
        "symbols": config.symbols,
        "passed": result.passed,
        "reasons": list(result.reasons),
        "metrics": result.metrics,
        "pairs": [
            {
                "client_order_id": p.client_order_id,
                "symbol": p.symbol,
                "side": p.side,
                "qty": p.qty,
                "primary": p.primary.__dict__,
                "secondary": p.secondary.__dict__,
            }
            for p in pairs
        ],
        "evaluated_at": evaluated_at,
    }
    artifact = ledger.artifacts.write_json("gates/route-parity", report)
    report_id = sha256_hex({"pairs": report["pairs"], "mode": mode, "symbols": config.symbols})[:24]
    with ledger.transaction() as conn:
        upsert_rows(
            conn,
            schema.route_parity_reports,
            [
                {
                    "id": row_id("route_parity_reports", report_id, evaluated_at.isoformat()),
                    "report_id": f"parity-{report_id}-{evaluated_at.strftime('%Y%m%dT%H%M%S')}",
                    "mode": mode,
                    "primary_adapter": LEAN,
                    "secondary_adapter": ALPACA,
                    "symbols": config.symbols,
                    "pair_count": len(pairs),
                    "passed": result.passed,
                    "reasons": list(result.reasons),
                    "metrics": result.metrics,
                    "artifact_ref": artifact.as_dict(),
                    "evaluated_at": evaluated_at,
                    "created_at": evaluated_at,
                }
            ],
        )
    summary = (
        f"Parity **{'PASSED' if result.passed else 'FAILED'}** ({mode}, {len(pairs)} pairs)\n\n"
        + markdown_table(
            ["metric", "value"], [(k, v) for k, v in result.metrics.items() if k != "thresholds"]
        )
    )
    if result.reasons:
        summary += "\n\nReasons: " + ", ".join(f"`{r}`" for r in result.reasons)
    return dg.MaterializeResult(
        metadata={
            "summary": dg.MetadataValue.md(summary),
            "passed": result.passed,
            "mode": mode,
            "reasons": dg.MetadataValue.json(list(result.reasons)),
            "report": dg.MetadataValue.path(artifact.path),
            "dagster/row_count": len(pairs),
        },
        check_results=[
            dg.AssetCheckResult(
                check_name="route_parity_passes",
                passed=result.passed,
                metadata={"reasons": dg.MetadataValue.json(list(result.reasons))},
            )
        ],
    )
