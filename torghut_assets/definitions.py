"""The code location: `torghut_assets.definitions:defs`. Nothing here connects to anything at import."""

from __future__ import annotations

import dagster as dg

from torghut_assets.defs.assets.research import (
    research_candidates,
    research_fold_metrics,
    research_promotions,
    research_runs,
    research_stress_metrics,
)
from torghut_assets.defs.assets.signals import signals
from torghut_assets.defs.assets.trading import executions, trade_decisions
from torghut_assets.defs.checks import signals_landed_before_deadline, signals_match_ingest_verdict
from torghut_assets.defs.continuity import signal_continuity, signal_continuity_job, signal_continuity_sensor
from torghut_assets.defs.jobs import lane_window_job
from torghut_assets.defs.resources import BrokerResource, LedgerResource, MarketDataResource
from torghut_assets.defs.schedules import lane_window_schedule

LANE_WINDOW_ASSETS = [
    signals,
    trade_decisions,
    executions,
    research_runs,
    research_candidates,
    research_fold_metrics,
    research_stress_metrics,
    research_promotions,
]


def default_resources() -> dict[str, object]:
    return {"ledger": LedgerResource(), "market_data": MarketDataResource(), "broker": BrokerResource()}


defs = dg.Definitions(
    assets=[*LANE_WINDOW_ASSETS, signal_continuity],
    asset_checks=[signals_match_ingest_verdict, signals_landed_before_deadline],
    jobs=[lane_window_job, signal_continuity_job],
    schedules=[lane_window_schedule],
    sensors=[signal_continuity_sensor],
    resources=default_resources(),
)
