"""The operator's story the UI tests walk through: one market-hours lane window, then its candidates."""

from __future__ import annotations

from dataclasses import dataclass

LANE = "macd_rsi"
WINDOW = "2026-03-03-15:00"  # Tuesday 10:00–11:00 New York: a window with market activity
PARTITION = f"{LANE}|{WINDOW}"


@dataclass(frozen=True)
class MaterializedWindow:
    """A `lane_window_job` run of PARTITION that succeeded, and the research candidates it wrote."""

    run_id: str
    candidates: list[str]
