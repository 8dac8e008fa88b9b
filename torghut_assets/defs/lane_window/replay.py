"""Replay lock, from the Launchpad: recompute one lane window's research and compare it with the ledger.

The recomputation, the comparison and the `deny` row a mismatch leaves are `services.replay`; this
module declares the job and renders the report. A mismatch fails the run (after the report and the deny
row are recorded), naming every differing `table.field`, so it is red in the UI.
"""

from typing import Any

import dagster as dg
import pandas as pd
from pydantic import Field

from torghut_assets.defs.lane_window.research_inputs import ResearchResource
from torghut_assets.defs.lane_window.strategy_isolation import isolated_strategy
from torghut_assets.defs.launchpad import (
    WINDOW_KEY_EXAMPLE,
    WINDOW_KEY_FORM,
    Lane,
    closed_window_start,
    lane_name,
)
from torghut_assets.defs.metadata import json_artifact_content
from torghut_assets.defs.resources import LedgerResource, MarketDataResource
from torghut_assets.domain.lanes import LaneWindow
from torghut_assets.services.replay import record_replay, replay_window


class ReplayConfig(dg.Config):
    """The Launchpad form of a replay: the lane is an enum Dagster checks at launch; the window's form
    and range are checked by `lane_window()`, the step's first act."""

    lane: Lane = Field(description="lane to replay: one of the catalog's lanes, e.g. macd_rsi")  # type: ignore[valid-type]
    window: str = Field(
        description=f"{WINDOW_KEY_FORM}, e.g. {WINDOW_KEY_EXAMPLE}: a closed window, not before the "
        "catalog's first"
    )

    def lane_window(self, now: pd.Timestamp) -> LaneWindow:
        """The window to replay; a malformed key, a window before the catalog's first or one not yet
        closed is refused with one sentence showing the accepted form."""
        return LaneWindow(lane_name(self.lane), closed_window_start("window", self.window, now))


@dg.op(description="Recompute the window's research and compare it with the ledger; fail on a mismatch.")
def replay_lane_window(
    context: dg.OpExecutionContext,
    config: ReplayConfig,
    ledger: LedgerResource,
    market_data: MarketDataResource,
    research_settings: ResearchResource,
) -> dg.Output[bool]:
    window = config.lane_window(pd.Timestamp.now(tz="UTC"))
    with isolated_strategy(window, research_settings.strategy_timeout_seconds):
        report = replay_window(ledger, market_data, research_settings.settings(), window)
    recorded = record_replay(ledger, report, pd.Timestamp.now(tz="UTC"))
    metadata: dict[str, Any] = {
        "matched": report.matched,
        "rows_compared": report.rows_compared,
        "differing_fields": dg.MetadataValue.json(report.fields),
        "differences": dg.MetadataValue.json([d.as_dict() for d in report.differences[:50]]),
        "replay_report": ledger.artifact_link(recorded["artifact"]),
        **json_artifact_content("replay_report_content", recorded["artifact"]),
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
