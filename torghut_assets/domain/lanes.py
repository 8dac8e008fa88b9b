"""Lanes and lane windows: the unit of work, evidence and idempotency.

A lane is one pipeline instance (account label + strategy config). A lane window is one lane over one
hourly UTC window; every ledger row of the window pipeline belongs to exactly one lane window.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

WINDOW_LENGTH = pd.Timedelta(hours=1)


@dataclass(frozen=True)
class LaneConfig:
    """Risk limits are per lane so one misbehaving strategy cannot consume another's budget."""

    lane: str
    strategy_type: str
    account_label: str = "paper"
    description: str = ""
    equity: float = 100_000.0
    max_notional_per_trade: float = 1_000.0
    max_position_pct_equity: float = 0.10
    max_gross_notional: float = 25_000.0
    max_open_positions: int = 5
    allow_shorts: bool = False
    session_close_flatten_minutes: int = 2
    session_close_entry_block_minutes: int = 10


LANES: dict[str, LaneConfig] = {
    "macd_rsi": LaneConfig(
        lane="macd_rsi",
        strategy_type="legacy_macd_rsi",
        description="Reference default strategy: MACD cross filtered by RSI extremes.",
    ),
    "ema_trend": LaneConfig(
        lane="ema_trend",
        strategy_type="ema_trend",
        description="EMA12/EMA26 trend-following crosses.",
    ),
}


class UnknownLaneError(ValueError):
    pass


def lane_config(lane: str) -> LaneConfig:
    try:
        return LANES[lane]
    except KeyError:
        raise UnknownLaneError(f"unknown lane {lane!r}; configured lanes: {sorted(LANES)}") from None


@dataclass(frozen=True)
class LaneWindow:
    lane: str
    start: pd.Timestamp

    def __post_init__(self) -> None:
        if self.start.tzinfo is None:
            raise ValueError(f"lane window start {self.start!r} must be timezone-aware (UTC)")
        utc = self.start.tz_convert("UTC")
        if utc != utc.floor("h"):
            raise ValueError(f"lane window start {self.start.isoformat()} is not on the hour")
        object.__setattr__(self, "start", utc)

    @property
    def end(self) -> pd.Timestamp:
        return self.start + WINDOW_LENGTH

    @property
    def config(self) -> LaneConfig:
        return lane_config(self.lane)

    def label(self) -> str:
        return f"{self.lane}/{self.start.strftime('%Y-%m-%dT%H:%MZ')}"
