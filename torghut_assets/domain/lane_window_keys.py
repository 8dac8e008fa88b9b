"""Lane-window keys as text: `macd_rsi|2026-03-03-15:00` (lane, then the window's UTC start).

The same spelling is the Dagster partition key of a lane window (its two dimensions, `lane` and
`window`, joined in name order), the CLI's `--lane`/`--window` pair and the window start in the lane
catalog. Formatting and parsing are pure, so the CLI and the services read a key without Dagster; the
partition definitions themselves live in `defs/lane_window/partitions.py`.
"""

from __future__ import annotations

import pandas as pd

from torghut_assets.domain.lanes import LaneWindow

WINDOW_KEY_FORMAT = "%Y-%m-%d-%H:%M"
KEY_DELIMITER = "|"


class LaneWindowKeyError(ValueError):
    pass


def window_key(window_start: pd.Timestamp) -> str:
    """The window dimension of the key: `2026-03-03-15:00` (the start is given in UTC)."""
    return window_start.strftime(WINDOW_KEY_FORMAT)


def window_start_from_key(text: str) -> pd.Timestamp:
    """The window start a `YYYY-MM-DD-HH:MM` key names, in UTC."""
    return pd.to_datetime(text, format=WINDOW_KEY_FORMAT).tz_localize("UTC")


def lane_window_key_text(lane: str, window_start: pd.Timestamp) -> str:
    return f"{lane}{KEY_DELIMITER}{window_key(window_start)}"


def lane_window_from_text(key: str) -> LaneWindow:
    """The lane window of a `lane|YYYY-MM-DD-HH:MM` key."""
    parts = key.split(KEY_DELIMITER)
    if len(parts) != 2:
        raise LaneWindowKeyError(f"lane window key {key!r} is not lane|YYYY-MM-DD-HH:MM")
    lane, window = parts
    return LaneWindow(lane=lane, start=window_start_from_key(window))
