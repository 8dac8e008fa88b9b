"""Seed a fresh laptop instance with a few materialized lane windows, so the UI is not empty.

Runs go through the real job against the instance at `$DAGSTER_HOME`, so they appear in the UI's run
list and asset catalog exactly as scheduled runs would.
"""

from __future__ import annotations

from collections.abc import Iterator

import dagster as dg
import pandas as pd

from torghut_assets.catalog_loader import configured_catalog
from torghut_assets.domain.lane_window_keys import lane_window_key_text, window_start_from_key
from torghut_assets.domain.market_calendar import market_minutes


def recent_windows(now: pd.Timestamp, windows: int, market_windows: int) -> list[pd.Timestamp]:
    """The last `windows` closed hours plus the last `market_windows` closed hours with market activity."""
    first = window_start_from_key(configured_catalog().window_start)
    latest = now.tz_convert("UTC").floor("h") - pd.Timedelta(hours=1)
    chosen = [latest - pd.Timedelta(hours=i) for i in range(windows)]
    cursor, found = latest, 0
    while found < market_windows and cursor >= first:
        if len(market_minutes(cursor, cursor + pd.Timedelta(hours=1))) > 0:
            chosen.append(cursor)
            found += 1
        cursor -= pd.Timedelta(hours=1)
    return sorted({w for w in chosen if w >= first})


def seed_recent_windows(windows: int = 2, market_windows: int = 3) -> Iterator[str]:
    from torghut_assets.definitions import defs  # the code location: the job runs as scheduled runs do

    job = defs.resolve_job_def("lane_window_job")
    instance = dg.DagsterInstance.get()
    for start in recent_windows(pd.Timestamp.now(tz="UTC"), windows, market_windows):
        for lane in sorted(configured_catalog().lanes):
            key = lane_window_key_text(lane, start)
            result = job.execute_in_process(
                partition_key=key, instance=instance, tags={"torghut/seed": "dev"}
            )
            yield f"{key}: {'ok' if result.success else 'FAILED'} (run {result.run_id[:8]})"
