"""Lane-window partitions: a small static `lane` dimension × an hourly UTC `window` dimension.

Both come from the lane catalog (docs/lane-catalog.md): the lanes it declares and its `windows.start_date`.
They are static partitions, rebuilt when the code location loads: editing the catalog and reloading adds
or removes a lane's partitions (a retired lane's ledger history stays under its name).

The `window` dimension leaves out the weekend hours in which no US equity session, regular or extended,
can run (`domain/window_hours.py`): the asset pages then list tradeable hours, not thousands of Saturdays.
Weekday off-hours and exchange holidays stay partitions (docs/lane-window.md, "The window dimension").
"""

from __future__ import annotations

import dagster as dg
import pandas as pd

from torghut_assets.catalog_loader import configured_catalog
from torghut_assets.domain.lane_window_keys import lane_window_from_text, window_key, window_start_from_key
from torghut_assets.domain.lanes import LaneWindow
from torghut_assets.domain.window_hours import WEEKEND_EXCLUSION_CRONS

WINDOW_START_DATE = configured_catalog().window_start
WINDOW_START = window_start_from_key(WINDOW_START_DATE)

lane_partitions = dg.StaticPartitionsDefinition(sorted(configured_catalog().lanes))
# Saturday 01:00 UTC to Monday 00:00 UTC (domain/window_hours.py says why those hours and no others).
window_partitions = dg.HourlyPartitionsDefinition(
    start_date=WINDOW_START_DATE, timezone="UTC", exclusions=list(WEEKEND_EXCLUSION_CRONS)
)
lane_window_partitions = dg.MultiPartitionsDefinition({"lane": lane_partitions, "window": window_partitions})


def lane_window_key(lane: str, window_start: pd.Timestamp) -> dg.MultiPartitionKey:
    """The partition key of a lane window; its text form is `domain.lane_window_keys`'s."""
    return dg.MultiPartitionKey({"lane": lane, "window": window_key(window_start)})


def lane_window_from_key(key: str | dg.MultiPartitionKey) -> LaneWindow:
    if not isinstance(key, dg.MultiPartitionKey):
        return lane_window_from_text(key)
    dims = key.keys_by_dimension
    return LaneWindow(lane=dims["lane"], start=window_start_from_key(dims["window"]))


def lane_window(context: dg.AssetExecutionContext) -> LaneWindow:
    return lane_window_from_key(context.partition_key)
