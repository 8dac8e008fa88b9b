"""Route parity: replay recent decisions on a fixed symbol subset through both routes and compare.

Why a use case: allocation increases need a passing report, so what was paired, how each route filled
and the verdict are stored together (an artifact plus a `route_parity_reports` row). With real venues
this places paired *paper* orders on LEAN and Alpaca; on a laptop it compares simulator twins of the two
routes, and the report says which.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import pandas as pd

from torghut_assets.adapters.paper_broker import FillModel, SimulatedVenue
from torghut_assets.domain.decisions import TradeDecision
from torghut_assets.domain.evidence import sha256_hex
from torghut_assets.domain.lanes import LaneWindow
from torghut_assets.domain.orders import ExecutionVenue, OrderReport, OrderRequest, VenueError
from torghut_assets.domain.route_parity import (
    ParityPair,
    ParityResult,
    ParityThresholds,
    VenueFill,
    evaluate_parity,
)
from torghut_assets.domain.routing import Venue
from torghut_assets.ledger import records
from torghut_assets.ledger import route_parity as parity_store
from torghut_assets.ledger.artifacts import ArtifactRef
from torghut_assets.ledger.queries import as_utc
from torghut_assets.services.ports import LedgerPort, MarketDataPort
from torghut_assets.services.window_orders import order_request

REPORT_KIND = "gates/route-parity"
SCHEMA_VERSION = "torghut.route-parity.v1"
TWIN_BARS = pd.Timedelta(minutes=15)


class ParityMode(StrEnum):
    LIVE_PAPER = "live_paper"
    SIMULATED_TWINS = "simulated_twins"


@dataclass(frozen=True)
class ParityRequest:
    symbols: Sequence[str]
    max_pairs: int
    twin_secondary_delay_bars: int = 0  # dev twins only: the Alpaca twin fills later
    twin_secondary_extra_cost_bps: float = 0.0  # dev twins only: extra cost per Alpaca twin fill


@dataclass(frozen=True)
class ParityRun:
    mode: ParityMode
    pairs: list[ParityPair]
    result: ParityResult
    artifact: ArtifactRef
    report_id: str


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


def _route_pair(
    decision: TradeDecision, market_data: MarketDataPort, request: ParityRequest
) -> tuple[ExecutionVenue, ExecutionVenue]:
    """Simulator twins of LEAN and Alpaca over the bars after the decision."""
    bars = market_data.bars(decision.event_ts, decision.event_ts + TWIN_BARS)
    return SimulatedVenue(bars, name="lean-sim"), SimulatedVenue(
        bars,
        name="alpaca-sim",
        delay_bars=request.twin_secondary_delay_bars,
        model=FillModel(extra_cost_bps=request.twin_secondary_extra_cost_bps),
    )


def _pair(
    decision: TradeDecision,
    row: dict[str, Any],
    market_data: MarketDataPort,
    real_venues: Mapping[str, ExecutionVenue] | None,
    request: ParityRequest,
) -> ParityPair:
    start = as_utc(row["window_start"])
    assert start is not None
    order = order_request(LaneWindow(lane=str(row["lane"]), start=start), decision)
    if real_venues is not None:
        primary, secondary = real_venues[Venue.LEAN], real_venues[Venue.ALPACA]
    else:
        primary, secondary = _route_pair(decision, market_data, request)
    return ParityPair(
        client_order_id=order.client_order_id,
        symbol=decision.symbol,
        side=decision.action,
        qty=float(decision.qty),
        arrival_price=decision.price,
        primary=_fill(primary, order),
        secondary=_fill(secondary, order),
    )


def _report(
    mode: ParityMode,
    request: ParityRequest,
    result: ParityResult,
    pairs: Sequence[ParityPair],
    at: pd.Timestamp,
) -> dict[str, Any]:
    return {
        "schema_version": SCHEMA_VERSION,
        "mode": mode.value,
        "symbols": list(request.symbols),
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
        "evaluated_at": at,
    }


def parity_decision_count(ledger: LedgerPort, symbols: Sequence[str], limit: int) -> int:
    """How many recent planned decisions a parity run over `symbols` would pair now (at most `limit`):
    what `dev-seed` reads to know when the seeded windows give parity its floor of pairs."""
    with ledger.engine.connect() as conn:
        return len(parity_store.recent_decision_rows(conn, symbols, limit))


def run_route_parity(
    ledger: LedgerPort,
    market_data: MarketDataPort,
    request: ParityRequest,
    real_venues: Mapping[str, ExecutionVenue] | None = None,
) -> ParityRun:
    """Pair the recent decisions on both routes (`real_venues`: LEAN and Alpaca paper; None: simulator
    twins), judge the pairs, and store the report as an artifact and a row."""
    with ledger.engine.connect() as conn:
        rows = parity_store.recent_decision_rows(conn, request.symbols, request.max_pairs)
    decisions = [(records.decision_from_row(row), row) for row in rows]  # all verified before any order
    pairs = [_pair(decision, row, market_data, real_venues, request) for decision, row in decisions]
    result = evaluate_parity(pairs, ParityThresholds())
    evaluated_at = pd.Timestamp.now(tz="UTC")
    mode = ParityMode.SIMULATED_TWINS if real_venues is None else ParityMode.LIVE_PAPER
    report = _report(mode, request, result, pairs, evaluated_at)
    artifact = ledger.artifacts.write_json(REPORT_KIND, report)
    digest = sha256_hex({"pairs": report["pairs"], "mode": mode.value, "symbols": list(request.symbols)})[:24]
    with ledger.engine.begin() as conn:
        report_id = parity_store.record_report(
            conn,
            report_id=digest,
            mode=mode.value,
            primary_adapter=Venue.LEAN.value,
            secondary_adapter=Venue.ALPACA.value,
            symbols=request.symbols,
            pair_count=len(pairs),
            passed=result.passed,
            reasons=result.reasons,
            metrics=result.metrics,
            artifact_ref=artifact.as_dict(),
            evaluated_at=evaluated_at,
        )
    return ParityRun(mode, pairs, result, artifact, report_id)
