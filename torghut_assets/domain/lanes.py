"""Lanes and lane windows: the unit of work, evidence and idempotency.

A lane is one pipeline instance (account label + strategy config), declared in the lane catalog
(docs/lane-catalog.md). A lane window is one lane over one hourly UTC window; every ledger row of the
window pipeline belongs to exactly one lane window.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum

import pandas as pd

WINDOW_LENGTH = pd.Timedelta(hours=1)


class LaneMode(StrEnum):
    """How a lane may trade. `replay` only ever reaches the simulated venue (any window: backfills,
    research, re-runs); `paper` and `live` reach real venues, and only from their open window."""

    REPLAY = "replay"
    PAPER = "paper"
    LIVE = "live"

    @property
    def reaches_real_venues(self) -> bool:
        return self is not LaneMode.REPLAY


class LaneModeError(ValueError):
    pass


def parse_lane_modes(text: str, known_lanes: frozenset[str] | None = None) -> dict[str, LaneMode]:
    """`lane=mode` pairs separated by commas (`macd_rsi=paper,ema_trend=replay`); every problem is named
    at once, since a half-understood mode list could send a lane to a real venue."""
    modes: dict[str, LaneMode] = {}
    problems: list[str] = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        lane, sep, mode = (piece.strip() for piece in item.partition("="))
        if not sep or not lane or not mode:
            problems.append(f"{item!r} is not lane=mode")
        elif mode.lower() not in {m.value for m in LaneMode}:
            problems.append(f"lane {lane!r}: mode {mode!r} is not one of replay, paper, live")
        elif lane in modes:
            problems.append(f"lane {lane!r} is given a mode twice")
        elif known_lanes is not None and lane not in known_lanes:
            problems.append(f"lane {lane!r} is not a configured lane ({', '.join(sorted(known_lanes))})")
        else:
            modes[lane] = LaneMode(mode.lower())
    if problems:
        raise LaneModeError("; ".join(problems))
    return modes


def lane_mode(modes: Mapping[str, LaneMode], lane: str, default: LaneMode = LaneMode.REPLAY) -> LaneMode:
    """The lane's mode: named in `modes` (the `TORGHUT_LANE_MODES` override), else `default` (the lane
    catalog's mode, replay for a lane it does not know)."""
    return modes.get(lane, default)


class AccountBroker(StrEnum):
    """Whose account a lane catalog account label is: `alpaca` binds it to the deployment's Alpaca
    account, `none` keeps it simulated."""

    ALPACA = "alpaca"
    NONE = "none"


@dataclass(frozen=True)
class LaneConfig:
    """One lane of the lane catalog (`domain/lane_catalog.py`, docs/lane-catalog.md). Risk limits are per
    lane so one misbehaving strategy cannot consume another's budget.

    `strategy_type` is the strategy reference (a built-in name or an import path, `module:Class`);
    `params` override the strategy's defaults (the lane's `sizing.notional_per_trade` included) and
    `research_grid` replaces its default research grid. `equity` is the lane's account's simulated
    equity; `account_broker` says whether that account is the configured broker's (`alpaca`) or
    simulated only (`none`). `multi_account` puts `account_label` into the decision hash (the reference's
    TRADING_MULTI_ACCOUNT_ENABLED). `catalog_checksum` is the sha256 of the catalog file the lane came
    from, recorded on the rows it shapes.
    """

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
    mode: LaneMode = LaneMode.REPLAY
    params: tuple[tuple[str, float], ...] = ()
    research_grid: tuple[tuple[str, tuple[float, ...]], ...] | None = None
    account_broker: AccountBroker = AccountBroker.ALPACA
    multi_account: bool = True
    catalog_checksum: str | None = None

    @property
    def strategy_ref(self) -> str:
        return self.strategy_type

    def grid_mapping(self) -> dict[str, tuple[float, ...]] | None:
        return None if self.research_grid is None else dict(self.research_grid)


class _ConfiguredLanes(Mapping[str, LaneConfig]):
    """The process's lanes: those of the lane catalog (`TORGHUT_LANE_CATALOG`, else the shipped
    `policy/lane_catalog.toml`), read once on first use. Reading the file is the loader's job
    (`torghut_assets/catalog_loader.py`), imported here only when the lanes are first asked for, so
    importing the domain still reads nothing."""

    def _lanes(self) -> Mapping[str, LaneConfig]:
        from torghut_assets.catalog_loader import configured_catalog

        return configured_catalog().lanes

    def __getitem__(self, lane: str) -> LaneConfig:
        return self._lanes()[lane]

    def __iter__(self) -> Iterator[str]:
        return iter(self._lanes())

    def __len__(self) -> int:
        return len(self._lanes())

    def __repr__(self) -> str:
        return f"LANES({sorted(self._lanes())})"


LANES: Mapping[str, LaneConfig] = _ConfiguredLanes()


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
