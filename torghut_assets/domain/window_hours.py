"""Which UTC hours are lane windows: every hour except the weekend hours no US equity session can reach.

No regular or extended-hours session runs from Saturday 01:00 UTC to Monday 00:00 UTC: Friday's last
post-market minute is 20:00 New York (Saturday 00:00 UTC in summer, 01:00 UTC in winter) and Monday's
pre-market opens at 04:00 New York. Those hours are not windows: the Dagster `window` dimension excludes
them (`defs/lane_window/partitions.py`, with the cron strings below), the hourly schedule never targets
them and the nightly reconciliation does not expect a run for them. Weekday off-hours and exchange
holidays stay windows (docs/lane-window.md, "The window dimension").
"""

from __future__ import annotations

import pandas as pd

SATURDAY, SUNDAY = 5, 6
# The same rule as cron strings in UTC, for Dagster's `exclusions`: Saturday 01:00-23:00 and all Sunday.
WEEKEND_EXCLUSION_CRONS = ("0 1-23 * * 6", "0 * * * 0")


def is_window_hour(window_start: pd.Timestamp) -> bool:
    """Whether the hour starting at `window_start` is a lane window (not a weekend exclusion)."""
    start = window_start.tz_convert("UTC")
    if start.dayofweek == SUNDAY:
        return False
    return not (start.dayofweek == SATURDAY and start.hour >= 1)
