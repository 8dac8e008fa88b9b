"""Lane-window partitions: a small static `lane` dimension × an hourly UTC `window` dimension."""

from __future__ import annotations

import dagster as dg
import pandas as pd

from torghut_assets.domain.lanes import LANES, LaneWindow

WINDOW_START_DATE = "2026-01-05-00:00"

lane_partitions = dg.StaticPartitionsDefinition(sorted(LANES))
window_partitions = dg.HourlyPartitionsDefinition(start_date=WINDOW_START_DATE, timezone="UTC")
lane_window_partitions = dg.MultiPartitionsDefinition({"lane": lane_partitions, "window": window_partitions})


def lane_window_key(lane: str, window_start: pd.Timestamp) -> dg.MultiPartitionKey:
    return dg.MultiPartitionKey({"lane": lane, "window": window_start.strftime("%Y-%m-%d-%H:%M")})


def lane_window_from_key(key: str | dg.MultiPartitionKey) -> LaneWindow:
    if not isinstance(key, dg.MultiPartitionKey):
        key = lane_window_partitions.get_partition_key_from_str(key)
    dims = key.keys_by_dimension
    start = pd.to_datetime(dims["window"], format="%Y-%m-%d-%H:%M").tz_localize("UTC")
    return LaneWindow(lane=dims["lane"], start=start)


def lane_window(context: dg.AssetExecutionContext) -> LaneWindow:
    return lane_window_from_key(context.partition_key)
