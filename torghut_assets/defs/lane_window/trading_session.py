"""The lane's trading mode and the clock it trades by.

Why one resource: whether an order may reach a real venue depends on exactly two things, the lane's
configured mode and where the wall clock stands against the lane window. Keeping both here means the
open-window loop can pin the clock of each tick, and a test can pin a session, without any asset
reading the time on its own.
"""

from __future__ import annotations

import dagster as dg
import pandas as pd

from torghut_assets.domain.lanes import LANES, LaneMode, LaneWindow, lane_mode, parse_lane_modes
from torghut_assets.domain.order_timing import (
    DEFAULT_PLANNED_DECISION_TIMEOUT_SECONDS,
    WindowPhase,
    window_phase,
)
from torghut_assets.domain.strategy_interface import DEFAULT_TIMEOUT_SECONDS


class TradingSessionResource(dg.ConfigurableResource):  # type: ignore[type-arg]
    """`lane_modes` is `TORGHUT_LANE_MODES` (`lane=mode,...`; unnamed lanes keep the lane catalog's mode,
    docs/lane-catalog.md); `fixed_now` pins the clock (ISO-8601, UTC assumed when naive) for a loop tick
    or a test."""

    lane_modes: str = ""
    planned_decision_timeout_seconds: int = DEFAULT_PLANNED_DECISION_TIMEOUT_SECONDS
    fixed_now: str | None = None
    strategy_timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS  # TORGHUT_STRATEGY_TIMEOUT_SECONDS, per call

    def mode(self, lane: str) -> LaneMode:
        """`lane_modes` (the ops override) first, else the lane catalog's mode (replay for a lane the
        catalog does not declare, e.g. a retired one)."""
        configured = LANES[lane].mode if lane in LANES else LaneMode.REPLAY
        return lane_mode(parse_lane_modes(self.lane_modes), lane, configured)

    def now(self) -> pd.Timestamp:
        if self.fixed_now:
            moment = pd.Timestamp(self.fixed_now)
            return moment.tz_localize("UTC") if moment.tzinfo is None else moment.tz_convert("UTC")
        return pd.Timestamp.now(tz="UTC")

    def phase(self, window: LaneWindow) -> WindowPhase:
        return window_phase(window.start, window.end, self.now())

    def at(self, now: pd.Timestamp) -> TradingSessionResource:
        """The same configuration with the clock pinned to `now` (one loop tick)."""
        return TradingSessionResource(
            lane_modes=self.lane_modes,
            planned_decision_timeout_seconds=self.planned_decision_timeout_seconds,
            fixed_now=now.isoformat(),
            strategy_timeout_seconds=self.strategy_timeout_seconds,
        )

    def describe(self, window: LaneWindow) -> dict[str, object]:
        mode = self.mode(window.lane)
        return {
            "mode": mode.value,
            "window_phase": self.phase(window).value,
            "real_venues": mode.reaches_real_venues,
            "planned_decision_timeout_seconds": self.planned_decision_timeout_seconds,
            "clock": self.now().isoformat(),
            "clock_pinned": self.fixed_now is not None,
        }
