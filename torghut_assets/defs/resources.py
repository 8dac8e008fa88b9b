"""Dagster resources: the only place that reads the environment or opens connections."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dagster as dg
import pandas as pd
from pydantic import PrivateAttr

from torghut_assets.adapters.market_data import (
    MarketDataOptions,
    jangar_client,
    signal_source,
    static_universe,
)
from torghut_assets.adapters.paper_broker import SIMULATOR_VERSION, SimulatedVenue
from torghut_assets.adapters.signal_source import SignalSource, SignalSourceUnavailable
from torghut_assets.defs.artifact_links import artifact_link, inline_image
from torghut_assets.domain.feature_quality import FeatureQualityLimits
from torghut_assets.domain.orders import ExecutionVenue
from torghut_assets.domain.routing import RoutingPolicy, Venue, routing_scope
from torghut_assets.domain.universe_policy import (
    DEFAULT_CACHE_TTL_SECONDS,
    DEFAULT_STALE_MAX_SECONDS,
    UniverseSnapshot,
    static_snapshot,
)
from torghut_assets.ledger.artifacts import ArtifactRef, ArtifactStore, default_artifact_root
from torghut_assets.ledger.engine import (
    LedgerConnection,
    LedgerEngine,
    create_ledger_engine,
    default_database_url,
    describe_engine,
)
from torghut_assets.ledger.migrate import current_revision, head_revision

if TYPE_CHECKING:
    from torghut_assets.adapters.alpaca_trading import AlpacaPaperVenue


class LedgerSchemaOutdatedError(RuntimeError):
    pass


class LedgerResource(dg.ConfigurableResource):  # type: ignore[type-arg]
    """The ledger database plus the artifact store its rows reference.

    Unset `database_url` means `TORGHUT_DATABASE_URL`, else a SQLite file under `$DAGSTER_HOME`.
    """

    database_url: str | None = None
    artifact_root: str | None = None
    artifact_base_url: str | None = None

    _engine: LedgerEngine | None = PrivateAttr(default=None)

    def resolved_url(self) -> str:
        return self.database_url or os.environ.get("TORGHUT_DATABASE_URL") or default_database_url()

    def resolved_artifact_root(self) -> Path:
        return default_artifact_root(self.artifact_root)

    def resolved_artifact_base_url(self) -> str | None:
        """Where a browser reaches the artifact root (`torghut-assets artifacts serve`); unset: nowhere."""
        return self.artifact_base_url or os.environ.get("TORGHUT_ARTIFACT_BASE_URL") or None

    @property
    def engine(self) -> LedgerEngine:
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
    def transaction(self) -> Iterator[LedgerConnection]:
        with self.engine.begin() as conn:
            yield conn

    @contextmanager
    def read(self) -> Iterator[LedgerConnection]:
        with self.engine.connect() as conn:
            yield conn

    @property
    def artifacts(self) -> ArtifactStore:
        return ArtifactStore(self.resolved_artifact_root())

    def artifact_link(self, ref: ArtifactRef | Mapping[str, Any]) -> dg.MetadataValue:
        """The artifact as the operator's browser can reach it (`defs/artifact_links.py`)."""
        return artifact_link(self.resolved_artifact_base_url(), self.resolved_artifact_root(), ref)

    def inline_image(self, ref: ArtifactRef | Mapping[str, Any], alt: str) -> dg.MetadataValue:
        """A PNG artifact drawn inline on the asset page when the artifact root is served."""
        return inline_image(self.resolved_artifact_base_url(), self.resolved_artifact_root(), ref, alt)

    def describe(self) -> dict[str, str]:
        return describe_engine(self.engine)


class MarketDataResource(dg.ConfigurableResource):  # type: ignore[type-arg]
    """Where signals, bars and the symbol universe come from, chosen by configuration.

    `simulator` (default) needs no credentials and no network; `sql` reads a `ta_signals`-shaped table;
    `alpaca` computes the same signals from Alpaca minute bars. Credentials arrive through `EnvVar`.
    """

    source: str = "simulator"
    seed: int = 20260226
    symbols: list[str] | None = None
    universe_source: str = "static"
    jangar_url: str | None = None
    universe_cache_seconds: float = DEFAULT_CACHE_TTL_SECONDS
    universe_max_stale_seconds: float = DEFAULT_STALE_MAX_SECONDS
    universe_timeout_seconds: float | None = None  # None: `timeout_seconds`
    sql_url: str | None = None
    sql_table: str = "ta_signals"
    alpaca_api_key_id: str | None = None
    alpaca_secret_key: str | None = None
    alpaca_data_url: str | None = None
    timeout_seconds: float = 10.0
    fallback_note: str | None = None
    # The window's feature quality gates (TRADING_FEATURE_MAX_*; docs/signal-sources.md, "Quality gates")
    feature_max_required_null_rate: float = FeatureQualityLimits.max_required_null_rate
    feature_max_staleness_ms: int = FeatureQualityLimits.max_staleness_ms
    feature_max_duplicate_ratio: float = FeatureQualityLimits.max_duplicate_ratio
    feature_warmup_minutes: int = FeatureQualityLimits.warmup_minutes  # TRADING_FEATURE_WARMUP_MINUTES

    _adapter: Any = PrivateAttr(default=None)
    _universe_client: Any = PrivateAttr(default=None)
    _ledger_universe_client: Any = PrivateAttr(default=None)

    def options(self) -> MarketDataOptions:
        """This resource's settings as the plain options the CLI builds the same source from."""
        values = {f.name: getattr(self, f.name) for f in fields(MarketDataOptions)}
        return MarketDataOptions(**{**values, "symbols": tuple(self.symbols) if self.symbols else None})

    def _static_universe(self) -> tuple[str, ...]:
        return static_universe(self.options())

    def adapter(self) -> SignalSource:
        if self._adapter is None:
            self._adapter = self._build_adapter()
        return self._adapter  # type: ignore[no-any-return]

    def _build_adapter(self) -> SignalSource:
        return signal_source(self.options())

    def universe_snapshot(self, now: pd.Timestamp, ledger: LedgerResource | None = None) -> UniverseSnapshot:
        """The authoritative universe for this run: Jangar in production, the static list in dev.

        With `ledger`, Jangar's last good list is kept in the ledger (`universe_snapshots`), so every run
        shares one cache TTL and a Jangar outage is bridged by the list an earlier run fetched, up to the
        max-stale age; later calls without `ledger` on this instance (the `universe` property) use the
        same client. Without any ledger the cache lives in this resource instance only (cold per run).
        """
        if self.universe_source == "jangar":
            if ledger is not None and self._ledger_universe_client is None:
                from torghut_assets.ledger.universe_store import LedgerUniverseStore

                self._ledger_universe_client = self._jangar_client(LedgerUniverseStore(ledger.engine))
            if self._ledger_universe_client is not None:
                return self._ledger_universe_client.get()  # type: ignore[no-any-return]
            if self._universe_client is None:
                self._universe_client = self._jangar_client(None)
            return self._universe_client.get()  # type: ignore[no-any-return]
        return static_snapshot(self._static_universe(), now=now)

    def _jangar_client(self, store: Any) -> Any:
        return jangar_client(self.options(), store)

    @property
    def universe(self) -> tuple[str, ...]:
        return self.universe_snapshot(pd.Timestamp.now(tz="UTC")).symbols

    def feature_quality_limits(self) -> FeatureQualityLimits:
        return FeatureQualityLimits(
            max_required_null_rate=self.feature_max_required_null_rate,
            max_staleness_ms=self.feature_max_staleness_ms,
            max_duplicate_ratio=self.feature_max_duplicate_ratio,
            warmup_minutes=self.feature_warmup_minutes,
        )

    def fetch_window(self, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
        return self.adapter().fetch_window(start, end)

    def signals(self, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
        return self.adapter().fetch_window(start, end)

    def bars(self, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
        return self.adapter().bars(start, end)

    def newest_signal_ts(self, as_of: pd.Timestamp) -> pd.Timestamp | None:
        try:
            return self.adapter().newest_signal_ts(as_of)
        except SignalSourceUnavailable:
            return None

    def provenance(self) -> dict[str, Any]:
        info: dict[str, Any] = {"signal_source": self.source, "universe_source": self.universe_source}
        if self.source == "simulator":
            info["simulator_seed"] = self.seed
            info["note"] = self.fallback_note or "embedded deterministic market simulator"
        elif self.source == "sql":
            info["table"] = self.sql_table
        elif self.source == "alpaca":
            info["data_url"] = self.alpaca_data_url or "alpaca default"
        return info


class BrokerResource(dg.ConfigurableResource):  # type: ignore[type-arg]
    """Execution venues and the routing policy (docs/routing.md): LEAN first, Alpaca as fallback.

    With neither a LEAN runner URL nor Alpaca keys (a laptop), orders go to the simulated paper broker,
    and every execution row and materialization says `simulator`. Without Alpaca keys the simulator is
    also LEAN's fallback (`paper_simulator_fallback`, off in production).
    """

    lean_runner_url: str | None = None
    lean_timeout_seconds: float = 5.0
    lean_healthcheck_enabled: bool = True
    lean_healthcheck_timeout_seconds: float = 2.0
    lean_require_healthy: bool = True
    alpaca_api_key_id: str | None = None
    alpaca_secret_key: str | None = None
    alpaca_trading_url: str | None = None
    alpaca_timeout_seconds: float = 10.0
    alpaca_rate_limit_max_wait_seconds: float = 10.0  # a 429's reset further away fails at once
    adapter_policy: str = "all"
    adapter_symbols: list[str] = []
    fallback_adapter: str = "alpaca"
    manual_review_fallback_threshold: int = 3
    paper_simulator_fallback: bool = True

    def policy(self) -> RoutingPolicy:
        return RoutingPolicy(
            primary_adapter=Venue.LEAN,
            fallback_adapter=None if self.fallback_adapter == "none" else Venue(self.fallback_adapter),
            policy=routing_scope(self.adapter_policy),
            allowlist_symbols=frozenset(self.adapter_symbols),
            manual_review_fallback_threshold=self.manual_review_fallback_threshold,
        )

    def lean_usable(self, venues: Mapping[str, ExecutionVenue]) -> bool:
        """The reference's adapter build: LEAN is used unless the health check is on, health is required
        and the runner does not answer healthy (then orders take the fallback, `lean_runner_unhealthy`)."""
        if Venue.LEAN not in venues:
            return False
        if not (self.lean_healthcheck_enabled and self.lean_require_healthy):
            return True
        return venues[Venue.LEAN].healthy()

    def venues(self, bars: pd.DataFrame) -> dict[str, ExecutionVenue]:
        venues: dict[str, ExecutionVenue] = {}
        if self.lean_runner_url:
            from torghut_assets.adapters.lean_runner import LeanRunnerVenue

            venues[Venue.LEAN] = LeanRunnerVenue(
                base_url=self.lean_runner_url,
                timeout_seconds=self.lean_timeout_seconds,
                healthcheck_timeout_seconds=self.lean_healthcheck_timeout_seconds,
            )
        alpaca = self.alpaca_venue()
        if alpaca is not None:
            venues[Venue.ALPACA] = alpaca
        if Venue.ALPACA not in venues and self.paper_simulator_fallback:
            venues[Venue.SIMULATOR] = SimulatedVenue(bars)
        return venues

    def alpaca_venue(self) -> AlpacaPaperVenue | None:
        """The Alpaca venue when its keys are configured: the broker whose account and positions sizing
        and reconciliation trust (`services/broker_account.py`); None means the simulated account."""
        if not (self.alpaca_api_key_id and self.alpaca_secret_key):
            return None
        from torghut_assets.adapters.alpaca_trading import AlpacaPaperVenue

        return AlpacaPaperVenue(
            api_key=self.alpaca_api_key_id,
            secret_key=self.alpaca_secret_key,
            url_override=self.alpaca_trading_url,
            timeout_seconds=self.alpaca_timeout_seconds,
            rate_limit_max_wait_seconds=self.alpaca_rate_limit_max_wait_seconds,
        )

    def provenance(self, venues: dict[str, ExecutionVenue]) -> dict[str, Any]:
        simulated = list(venues) == [Venue.SIMULATOR]
        return {
            "venues": sorted(str(v) for v in venues),
            "policy": self.adapter_policy,
            "fallback_adapter": self.fallback_adapter,
            "simulator_version": SIMULATOR_VERSION if simulated else None,
            "note": (
                "simulated paper broker (no TRADING_LEAN_RUNNER_URL / APCA_API_KEY_ID configured)"
                if simulated
                else "real venues"
            ),
        }
