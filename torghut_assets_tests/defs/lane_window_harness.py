"""Materialize lane windows in-process against a test ledger, and dump the ledger for comparison."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dagster as dg
import pandas as pd
import sqlalchemy as sa

from torghut_assets.definitions import LANE_WINDOW_ASSETS
from torghut_assets.defs.alerts import AlertsResource
from torghut_assets.defs.lane_window.partitions import lane_window_key
from torghut_assets.defs.lane_window.research_inputs import ResearchResource
from torghut_assets.defs.lane_window.trading_session import TradingSessionResource
from torghut_assets.defs.llm.llm_advisory import LLMAdvisoryResource
from torghut_assets.defs.resources import BrokerResource, LedgerResource, MarketDataResource
from torghut_assets.ledger import schema
from torghut_assets.ledger.engine import create_ledger_engine

OPEN_WINDOW = pd.Timestamp("2026-03-03 15:00", tz="UTC")  # Tuesday 10:00–11:00 New York
CLOSED_WINDOW = pd.Timestamp("2026-03-04 02:00", tz="UTC")  # Tuesday 21:00 New York, after the close

PIPELINE_TABLES = (
    "signals",
    "trade_decisions",
    "executions",
    "research_runs",
    "research_candidates",
    "research_fold_metrics",
    "research_stress_metrics",
    "research_promotions",
)


def resources(ledger_url: str, artifact_root: Path) -> dict[str, Any]:
    return {
        "ledger": LedgerResource(database_url=ledger_url, artifact_root=str(artifact_root)),
        "market_data": MarketDataResource(),
        "broker": BrokerResource(),
        "trading_session": TradingSessionResource(),
        "research_settings": ResearchResource(),
        "llm": LLMAdvisoryResource(),
        "alerts": AlertsResource(),  # no webhook: alerts are recorded, never posted
    }


def trading_as_open_window(
    window_start: pd.Timestamp, lanes: tuple[str, ...] = ("macd_rsi", "ema_trend")
) -> TradingSessionResource:
    """Paper lanes with the clock pinned in the window's last second and expiry off: one run then sends
    every decision of the window to the real (stub) venues, as a burst of open-window ticks would."""
    return TradingSessionResource(
        lane_modes=",".join(f"{lane}=paper" for lane in lanes),
        planned_decision_timeout_seconds=0,
        fixed_now=(window_start + pd.Timedelta(hours=1) - pd.Timedelta(seconds=1)).isoformat(),
    )


def materialize_window(
    ledger_url: str, artifact_root: Path, lane: str, start: pd.Timestamp, assets: list[Any] | None = None
) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        assets or LANE_WINDOW_ASSETS,
        partition_key=lane_window_key(lane, start),
        resources=resources(ledger_url, artifact_root),
        instance=dg.DagsterInstance.ephemeral(),
        raise_on_error=True,
    )


def dump_tables(
    ledger_url: str, tables: tuple[str, ...] = PIPELINE_TABLES
) -> dict[str, list[tuple[Any, ...]]]:
    engine = create_ledger_engine(ledger_url)
    try:
        with engine.connect() as conn:
            return {
                name: [
                    tuple(row) for row in conn.execute(sa.select(schema.metadata.tables[name]).order_by("id"))
                ]
                for name in tables
            }
    finally:
        engine.dispose()


def counts(ledger_url: str) -> dict[str, int]:
    return {name: len(rows) for name, rows in dump_tables(ledger_url).items()}
