"""The configured market-data source (signals, bars, the symbol universe) as plain values and objects.

Why here: the Dagster resource (`MarketDataResource`) and the CLI (`torghut-assets replay`) must read the
same source the same way, or a replay would compare the ledger with data the pipeline never saw. Both build
their signal source and universe client from `MarketDataOptions` with the functions below; the resource
adds only Dagster's configuration and the ledger-backed universe cache. `torghut_assets.market_data_config`
turns the settings into these options for both.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd

from torghut_assets.adapters.market_simulator import DEFAULT_UNIVERSE, PROFILES, MarketSimulator
from torghut_assets.adapters.signal_source import SignalSource
from torghut_assets.domain.feature_quality import FeatureQualityLimits
from torghut_assets.domain.universe_policy import (
    DEFAULT_CACHE_TTL_SECONDS,
    DEFAULT_STALE_MAX_SECONDS,
    static_snapshot,
)

if TYPE_CHECKING:
    from torghut_assets.adapters.jangar_universe import JangarUniverseClient

SIMULATED_SYMBOLS = frozenset(PROFILES)
SOURCES = ("simulator", "sql", "alpaca")


@dataclass(frozen=True)
class MarketDataOptions:
    """Every setting of the market-data source; the field names are `MarketDataResource`'s.

    `sql_url` and the Alpaca keys are secrets: the code location hands them to Dagster as environment
    variables, resolved at run time; the CLI reads them from its environment.
    """

    source: str = "simulator"
    seed: int = 20260226
    symbols: tuple[str, ...] | None = None
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
    feature_max_required_null_rate: float = FeatureQualityLimits.max_required_null_rate
    feature_max_staleness_ms: int = FeatureQualityLimits.max_staleness_ms
    feature_max_duplicate_ratio: float = FeatureQualityLimits.max_duplicate_ratio
    feature_warmup_minutes: int = FeatureQualityLimits.warmup_minutes


def static_universe(options: MarketDataOptions) -> tuple[str, ...]:
    return tuple(options.symbols) if options.symbols else DEFAULT_UNIVERSE


def signal_source(options: MarketDataOptions) -> SignalSource:
    """The signal source the options name: the simulator (seeded, over the simulated symbols of the static
    universe), a `ta_signals` table, or Alpaca minute bars."""
    if options.source == "simulator":
        known = tuple(s for s in static_universe(options) if s in SIMULATED_SYMBOLS) or DEFAULT_UNIVERSE
        return MarketSimulator(seed=options.seed, universe=known)
    if options.source == "sql":
        from torghut_assets.adapters.sql_signal_source import SqlSignalSource

        return SqlSignalSource(options.sql_url or "", table=options.sql_table)
    if options.source == "alpaca":
        from torghut_assets.adapters.alpaca_market_data import AlpacaBarsSignalSource

        return AlpacaBarsSignalSource(
            api_key=options.alpaca_api_key_id or "",
            secret_key=options.alpaca_secret_key or "",
            universe=static_universe(options),
            url_override=options.alpaca_data_url,
            timeout_seconds=options.timeout_seconds,
        )
    raise ValueError(f"unknown market data source {options.source!r}; available: {', '.join(SOURCES)}")


def jangar_client(options: MarketDataOptions, store: Any) -> JangarUniverseClient:
    """A Jangar universe client with the options' timing; `store` (or None) keeps its last good list."""
    from torghut_assets.adapters.jangar_universe import JangarUniverseClient

    return JangarUniverseClient(
        options.jangar_url,
        timeout_seconds=options.universe_timeout_seconds or options.timeout_seconds,
        cache_ttl_seconds=options.universe_cache_seconds,
        stale_max_seconds=options.universe_max_stale_seconds,
        store=store,
    )


class MarketData:
    """The market-data port outside Dagster (the CLI): the options' signal source and universe, built on
    first use. Jangar's list is cached in this object only, as the resource's `universe` property does."""

    def __init__(self, options: MarketDataOptions) -> None:
        self.options = options
        self._adapter: SignalSource | None = None
        self._universe_client: JangarUniverseClient | None = None

    def adapter(self) -> SignalSource:
        if self._adapter is None:
            self._adapter = signal_source(self.options)
        return self._adapter

    def signals(self, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
        return self.adapter().fetch_window(start, end)

    def bars(self, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
        return self.adapter().bars(start, end)

    @property
    def universe(self) -> tuple[str, ...]:
        if self.options.universe_source == "jangar":
            if self._universe_client is None:
                self._universe_client = jangar_client(self.options, None)
            return self._universe_client.get().symbols
        return static_snapshot(static_universe(self.options), now=pd.Timestamp.now(tz="UTC")).symbols
