"""Dagster resources: the only place that reads the environment or opens connections."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dagster as dg
import pandas as pd
from pydantic import PrivateAttr
from sqlalchemy.engine import Connection, Engine

from torghut_assets.adapters.market_simulator import DEFAULT_UNIVERSE, MarketSimulator
from torghut_assets.adapters.paper_broker import (
    SIMULATOR_ADAPTER,
    SIMULATOR_VERSION,
    PaperFill,
    simulate_fills,
)
from torghut_assets.domain.decisions import TradeDecision
from torghut_assets.ledger.artifacts import ArtifactStore
from torghut_assets.ledger.engine import create_ledger_engine, default_database_url
from torghut_assets.ledger.migrate import current_revision, head_revision


class LedgerSchemaOutdatedError(RuntimeError):
    pass


class LedgerResource(dg.ConfigurableResource):  # type: ignore[type-arg]
    """The ledger database plus the artifact store its rows reference.

    Unset `database_url` means `TORGHUT_DATABASE_URL`, else a SQLite file under `$DAGSTER_HOME`.
    """

    database_url: str | None = None
    artifact_root: str | None = None

    _engine: Engine | None = PrivateAttr(default=None)

    def resolved_url(self) -> str:
        return self.database_url or os.environ.get("TORGHUT_DATABASE_URL") or default_database_url()

    def resolved_artifact_root(self) -> Path:
        root = self.artifact_root or os.environ.get("TORGHUT_ARTIFACT_ROOT")
        if root:
            return Path(root)
        home = Path(os.environ.get("DAGSTER_HOME") or Path.cwd() / ".dagster_home")
        return home / "artifacts"

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = create_ledger_engine(self.resolved_url())
        return self._engine

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        """Refuse to run against a ledger whose schema is not at the migration head."""
        current, head = current_revision(self.engine), head_revision()
        if current != head:
            raise LedgerSchemaOutdatedError(
                f"ledger {self.describe()['database']} is at migration {current or 'none'}, code expects "
                f"{head}: run `torghut-assets db upgrade` first"
            )

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        with self.engine.begin() as conn:
            yield conn

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self.engine.connect() as conn:
            yield conn

    @property
    def artifacts(self) -> ArtifactStore:
        return ArtifactStore(self.resolved_artifact_root())

    def describe(self) -> dict[str, str]:
        url = self.engine.url
        return {"backend": url.get_backend_name(), "database": url.render_as_string(hide_password=True)}


class MarketDataResource(dg.ConfigurableResource):  # type: ignore[type-arg]
    """Where signals and bars come from. The embedded simulator needs no credentials and no network."""

    source: str = "simulator"
    seed: int = 20260226
    symbols: list[str] | None = None

    def _simulator(self) -> MarketSimulator:
        if self.source != "simulator":
            raise ValueError(f"unknown market data source {self.source!r}; available: ['simulator']")
        universe = tuple(self.symbols) if self.symbols else DEFAULT_UNIVERSE
        return MarketSimulator(seed=self.seed, universe=universe)

    @property
    def universe(self) -> tuple[str, ...]:
        return self._simulator().universe

    def signals(self, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
        return self._simulator().signals(start, end)

    def bars(self, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
        return self._simulator().bars(start, end)

    def newest_signal_ts(self, as_of: pd.Timestamp) -> pd.Timestamp | None:
        return self._simulator().newest_signal_ts(as_of)

    def provenance(self) -> dict[str, Any]:
        return {
            "signal_source": "simulator",
            "simulator_seed": self.seed,
            "universe": list(self.universe),
            "note": "embedded deterministic market simulator (no market-data credentials configured)",
        }


class BrokerResource(dg.ConfigurableResource):  # type: ignore[type-arg]
    """Order routing. Only the simulated paper broker exists so far; it never touches a real account."""

    mode: str = "simulator"

    def route(self) -> dict[str, Any]:
        if self.mode != "simulator":
            raise ValueError(f"unknown broker mode {self.mode!r}; available: ['simulator']")
        return {
            "expected_adapter": SIMULATOR_ADAPTER,
            "actual_adapter": SIMULATOR_ADAPTER,
            "simulator_version": SIMULATOR_VERSION,
            "note": "simulated paper broker (no APCA_API_KEY_ID / TRADING_LEAN_RUNNER_URL configured)",
        }

    def submit(self, decisions: list[TradeDecision], bars: pd.DataFrame) -> list[PaperFill]:
        self.route()
        return simulate_fills(decisions, bars)
