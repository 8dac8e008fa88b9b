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
    assets=LANE_WINDOW_ASSETS,
    jobs=[lane_window_job],
    schedules=[lane_window_schedule],
    resources=default_resources(),
)
