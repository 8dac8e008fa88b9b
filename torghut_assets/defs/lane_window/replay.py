"""Replay lock, from the Launchpad: recompute one lane window's research and compare it with the ledger.

The recomputation, the comparison and the `deny` row a mismatch leaves are `services.replay`; this
module declares the job and renders the report. A mismatch fails the run (after the report and the deny
row are recorded), naming every differing `table.field`, so it is red in the UI.
"""

from typing import Any

import dagster as dg
import pandas as pd
from pydantic import Field

from torghut_assets.defs.lane_window.partitions import lane_window_from_key
from torghut_assets.defs.lane_window.research_inputs import ResearchResource
from torghut_assets.defs.lane_window.strategy_isolation import isolated_strategy
from torghut_assets.defs.resources import LedgerResource, MarketDataResource
from torghut_assets.services.replay import record_replay, replay_window


class ReplayConfig(dg.Config):
    lane: str = Field(description="lane to replay, e.g. macd_rsi")
    window: str = Field(description="window start, e.g. 2026-03-03-15:00 (UTC)")


@dg.op(description="Recompute the window's research and compare it with the ledger; fail on a mismatch.")
def replay_lane_window(
    context: dg.OpExecutionContext,
    config: ReplayConfig,
    ledger: LedgerResource,
    market_data: MarketDataResource,
    research_settings: ResearchResource,
) -> dg.Output[bool]:
    window = lane_window_from_key(f"{config.lane}|{config.window}")
    with isolated_strategy(window, research_settings.strategy_timeout_seconds):
        report = replay_window(ledger, market_data, research_settings.settings(), window)
    recorded = record_replay(ledger, report, pd.Timestamp.now(tz="UTC"))
    metadata: dict[str, Any] = {
        "matched": report.matched,
        "rows_compared": report.rows_compared,
        "differing_fields": dg.MetadataValue.json(report.fields),
        "differences": dg.MetadataValue.json([d.as_dict() for d in report.differences[:50]]),
        "replay_report": dg.MetadataValue.path(str(recorded["artifact"]["path"])),
    }
    if not report.matched:
        context.log.error(f"{report.summary()} ({len(report.differences)} difference(s))")
        lines = "\n".join(f"- {d.describe()}" for d in report.differences[:50])
        raise dg.Failure(
            description=f"{report.summary()}\n{lines}",
            metadata={**metadata, "deny_row": str(recorded["deny_row"])},
        )
    return dg.Output(report.matched, metadata=metadata)


@dg.job(description="Replay lock: recompute one lane window and compare byte for byte (Launchpad config).")
def replay_job() -> None:
    replay_lane_window()
