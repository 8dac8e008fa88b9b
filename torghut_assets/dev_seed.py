"""Seed a fresh laptop instance with materialized lane windows, so the UI is not empty and the README's
promotion walk has its evidence.

Runs go through the real job against the instance at `$DAGSTER_HOME` (simulator data, dev only), so they
appear in the UI's run list and asset catalog exactly as scheduled runs would; each carries the run tag
`torghut/seed: dev`, which is how a seeded window is told apart from a scheduled one. What is seeded:
- the last closed windows (weekend hours are not windows, docs/lane-window.md) and the last closed
  market-hours windows, a contiguous run of them, so the nightly coverage finds no gap;
- then earlier market-hours windows, one at a time, until the planned decisions on the route-parity
  symbols reach the parity floor (`ParityThresholds.min_pairs`): `route_parity` can then pass on the
  seeded decisions, as the promotion walk needs. No gate or threshold is changed to get there;
- last, `signal_continuity` over the seeded windows, so every input of a promotion has been materialized.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import islice

import dagster as dg
import pandas as pd

from torghut_assets.catalog_loader import configured_catalog
from torghut_assets.defs.resources import LedgerResource
from torghut_assets.domain.lane_window_keys import lane_window_key_text, window_start_from_key
from torghut_assets.domain.market_calendar import market_minutes
from torghut_assets.domain.route_parity import DEFAULT_PARITY_SYMBOLS, ParityThresholds
from torghut_assets.domain.window_hours import is_window_hour
from torghut_assets.services.route_parity import parity_decision_count

SEED_TAGS = {"torghut/seed": "dev"}
# Two more sessions at most: enough for the parity floor on any day the simulator trades.
MAX_EXTRA_MARKET_WINDOWS = 14


def recent_windows(now: pd.Timestamp, windows: int, market_windows: int) -> list[pd.Timestamp]:
    """The last `windows` closed window hours plus the last `market_windows` closed market-hours windows
    (a weekend hour is not a window partition, so it is never chosen)."""
    first = window_start_from_key(configured_catalog().window_start)
    latest = now.tz_convert("UTC").floor("h") - pd.Timedelta(hours=1)
    chosen: list[pd.Timestamp] = []
    cursor = latest
    while len(chosen) < windows and cursor >= first:
        if is_window_hour(cursor):
            chosen.append(cursor)
        cursor -= pd.Timedelta(hours=1)
    chosen += list(islice(earlier_market_windows(latest + pd.Timedelta(hours=1), first), market_windows))
    return sorted({w for w in chosen if w >= first})


def earlier_market_windows(before: pd.Timestamp, first: pd.Timestamp) -> Iterator[pd.Timestamp]:
    """Market-hours windows (with session minutes) starting before `before`, newest first, down to `first`."""
    cursor = before.floor("h") - pd.Timedelta(hours=1)
    while cursor >= first:
        if len(market_minutes(cursor, cursor + pd.Timedelta(hours=1))) > 0:
            yield cursor
        cursor -= pd.Timedelta(hours=1)


def seed_recent_windows(
    windows: int = 2, market_windows: int = 3, max_extra_market_windows: int = MAX_EXTRA_MARKET_WINDOWS
) -> Iterator[str]:
    """Seed the recent windows, then earlier market-hours windows until route parity has its floor of
    pairs (at most `max_extra_market_windows` more), then the continuity latch over what was seeded (what
    the minute sensor would do on its first transition), so the promotion's inputs all exist; one line per
    run and a parity line."""
    from torghut_assets.definitions import defs  # the code location: the job runs as scheduled runs do

    job = defs.resolve_job_def("lane_window_job")
    instance = dg.DagsterInstance.get()
    ledger = LedgerResource()
    lanes = sorted(configured_catalog().lanes)
    first = window_start_from_key(configured_catalog().window_start)

    def seed(start: pd.Timestamp) -> Iterator[str]:
        for lane in lanes:
            key = lane_window_key_text(lane, start)
            result = job.execute_in_process(partition_key=key, instance=instance, tags=SEED_TAGS)
            yield f"{key}: {'ok' if result.success else 'FAILED'} (run {result.run_id[:8]})"

    starts = recent_windows(pd.Timestamp.now(tz="UTC"), windows, market_windows)
    for start in starts:
        yield from seed(start)
    floor = ParityThresholds().min_pairs
    earlier = earlier_market_windows(min(starts), first) if starts else iter(())
    pairs = parity_decision_count(ledger, DEFAULT_PARITY_SYMBOLS, floor)
    for start in islice(earlier, max_extra_market_windows):
        if pairs >= floor:
            break
        yield from seed(start)
        pairs = parity_decision_count(ledger, DEFAULT_PARITY_SYMBOLS, floor)
    yield f"route parity: {pairs} planned decision(s) on {', '.join(DEFAULT_PARITY_SYMBOLS)} (floor {floor})"
    continuity = defs.resolve_job_def("signal_continuity_job").execute_in_process(
        instance=instance, tags=SEED_TAGS
    )
    yield f"signal_continuity: {'ok' if continuity.success else 'FAILED'} (run {continuity.run_id[:8]})"
