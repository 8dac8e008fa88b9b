"""The ports the operations use cases are written against: the ledger, market data, the broker, lane modes.

Why protocols: the same use case runs under Dagster (where a resource is the port: `LedgerResource`,
`MarketDataResource`, `BrokerResource`, `TradingSessionResource` satisfy these structurally) and from
the CLI (where `Ledger` below is built from a URL and an artifact folder), so the services import
neither Dagster nor the resources.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import pandas as pd
from sqlalchemy.engine import Engine

from torghut_assets.adapters.signal_source import SignalSource
from torghut_assets.domain.lanes import LaneMode
from torghut_assets.domain.orders import ExecutionVenue
from torghut_assets.domain.research_evaluation import ResearchSettings
from torghut_assets.ledger.artifacts import ArtifactStore


class LedgerPort(Protocol):
    """The ledger database plus the artifact store its rows reference."""

    @property
    def engine(self) -> Engine: ...

    @property
    def artifacts(self) -> ArtifactStore: ...


@dataclass(frozen=True)
class Ledger:
    """A `LedgerPort` outside Dagster (the CLI): an engine and an artifact folder."""

    engine: Engine
    artifacts: ArtifactStore


class MarketDataPort(Protocol):
    """Signals, bars and the symbol universe of the configured source."""

    def adapter(self) -> SignalSource: ...

    def signals(self, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame: ...

    def bars(self, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame: ...

    @property
    def universe(self) -> tuple[str, ...]: ...


class VenuePort(Protocol):
    """The execution venues of the configured broker, simulated fills drawn from `bars`."""

    def venues(self, bars: pd.DataFrame) -> dict[str, ExecutionVenue]: ...


class LaneModePort(Protocol):
    """How each lane may trade right now (replay, paper or live)."""

    def mode(self, lane: str) -> LaneMode: ...


class ResearchSettingsPort(Protocol):
    """The research settings (their checksum is part of every run id) and the per-call strategy timeout."""

    @property
    def strategy_timeout_seconds(self) -> float: ...

    def settings(self) -> ResearchSettings: ...
