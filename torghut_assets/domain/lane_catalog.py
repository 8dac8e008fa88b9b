"""The lane catalog: the desk's lanes, strategies, accounts and limits, declared in one versioned file.

A desk adds a lane, tries its own strategy, sizes to its account or runs a second account by editing the
catalog (TOML, docs/lane-catalog.md), not the package. This module is the catalog as the rest of the
system sees it: the typed `LaneCatalog`, its accounts, and what a lane trades and researches. Turning the
file's bytes into one is `lane_catalog_parse` (top level) and `lane_catalog_lanes` (each lane), which
report every problem at once in a `CatalogError`; reading the file, and which file, is
`torghut_assets/catalog_loader.py`.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from torghut_assets.domain.config_problems import ConfigProblems
from torghut_assets.domain.lanes import AccountBroker, LaneConfig
from torghut_assets.domain.research_evaluation import ResearchSettings
from torghut_assets.domain.strategies import StrategySpec, default_strategy, parameter_grid

DEFAULT_WINDOW_START = "2026-01-05-00:00"
WINDOW_START_FORMAT = "%Y-%m-%d-%H:%M"
BROKERS: tuple[AccountBroker, ...] = tuple(AccountBroker)
SESSION_MINUTES = 390  # a regular NYSE session
# Lane names become partition keys, run tags and `lane` column values (64 characters).
LANE_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
ACCOUNT_LABEL = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


class CatalogError(ConfigProblems):
    """The catalog is unusable; `problems` lists every problem found, one line each."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("lane catalog", problems)


@dataclass(frozen=True)
class AccountConfig:
    """A trading account label. `equity` is its simulated account's; `broker` `alpaca` binds the label to
    the deployment's Alpaca account (equity, buying power and positions come from there whenever Alpaca
    keys are configured), `none` keeps it simulated."""

    label: str
    equity: float
    broker: AccountBroker = AccountBroker.NONE
    description: str = ""


@dataclass(frozen=True)
class LaneCatalog:
    """A validated catalog. Read-only mappings: the lanes are partition keys and ledger identities for the
    life of the process, so nothing may change them after the file was checked."""

    source: str
    version: str
    checksum: str
    window_start: str  # the first hourly window, `YYYY-MM-DD-HH:MM` UTC (the partition start)
    multi_account: bool
    accounts: Mapping[str, AccountConfig]
    lanes: Mapping[str, LaneConfig]
    retired: tuple[str, ...] = ()

    @property
    def broker_account(self) -> str | None:
        """The label bound to the configured Alpaca account, if any."""
        bound = [a.label for a in self.accounts.values() if a.broker == AccountBroker.ALPACA]
        return bound[0] if bound else None


def lane_strategy(lane: LaneConfig) -> StrategySpec:
    """The strategy the lane trades by default: its strategy's defaults with the lane's params over them."""
    return default_strategy(lane.strategy_type, dict(lane.params) or None)


def lane_research_settings(settings: ResearchSettings, lane: LaneConfig) -> ResearchSettings:
    """The research settings of the lane's windows: a grid given to the research resource (run config)
    wins, else the lane's `research.grid`, else (grid None) the strategy's default grid. The grid is
    part of the settings' checksum, so it is part of the run id and of `runner_binary_hash`."""
    if settings.grid is not None or lane.research_grid is None:
        return settings
    return dataclasses.replace(settings, grid=lane.research_grid)


def lane_candidates(lane: LaneConfig, settings: ResearchSettings) -> list[StrategySpec]:
    """Every candidate the lane's research tries: the lane's strategy (its params over the defaults)
    varied over the lane's grid; losers included, deflated Sharpe needs all trials."""
    return parameter_grid(lane_strategy(lane), lane_research_settings(settings, lane).grid_mapping())


__all__ = [
    "ACCOUNT_LABEL",
    "BROKERS",
    "DEFAULT_WINDOW_START",
    "LANE_NAME",
    "SESSION_MINUTES",
    "WINDOW_START_FORMAT",
    "AccountConfig",
    "CatalogError",
    "LaneCatalog",
    "lane_candidates",
    "lane_research_settings",
    "lane_strategy",
]
