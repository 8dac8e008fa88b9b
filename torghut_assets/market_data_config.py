"""The market-data source the settings configure, in one place for both front doors.

Why: the code location's `market_data` resource and `torghut-assets replay` must read the same source; a
replay against other data than the pipeline's is a false verdict. `market_data_config(settings)` is the
one function both build from. Its secrets (the SQL URL, the Alpaca keys) are named by their environment
variables, never copied into it: the code location hands them to Dagster as `EnvVar`s (resolved at run
time, never shown in the UI), and the CLI, which runs outside Dagster, reads them from its environment
with `MarketDataConfig.options`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from torghut_assets.adapters.market_data import MarketDataOptions
from torghut_assets.config_registry import configured
from torghut_assets.settings import Settings

SQL_SECRETS = {"sql_url": "TORGHUT_SIGNAL_SOURCE_URL"}
ALPACA_SECRETS = {"alpaca_api_key_id": "APCA_API_KEY_ID", "alpaca_secret_key": "APCA_API_SECRET_KEY"}


@dataclass(frozen=True)
class MarketDataConfig:
    """`values`: every non-secret option; `secrets`: option name → the environment variable holding it."""

    values: Mapping[str, Any]
    secrets: Mapping[str, str]

    def options(self, env: Mapping[str, str]) -> MarketDataOptions:
        """The options with each secret read from `env` (the CLI passes `os.environ`)."""
        secrets: dict[str, Any] = {name: configured(env, variable) for name, variable in self.secrets.items()}
        return MarketDataOptions(**self.values, **secrets)


def market_data_config(settings: Settings) -> MarketDataConfig:
    """The source in effect (the simulator when a dev profile lacks the named source's credentials), the
    universe and its Jangar timing, and the window's feature quality limits."""
    source = settings.effective_signal_source
    secrets = SQL_SECRETS if source == "sql" else ALPACA_SECRETS if source == "alpaca" else {}
    limits = settings.feature_quality_limits
    values: dict[str, Any] = {
        "source": source,
        "symbols": tuple(settings.static_symbols),
        "universe_source": settings.universe_source,
        "jangar_url": settings.jangar_url,
        "universe_cache_seconds": settings.universe_cache_seconds,
        "universe_max_stale_seconds": settings.universe_max_stale_seconds,
        "universe_timeout_seconds": settings.universe_timeout_seconds,
        "sql_table": settings.signal_table,
        "alpaca_data_url": settings.alpaca_data_url,
        "fallback_note": settings.fallback_note,
        "feature_max_required_null_rate": limits.max_required_null_rate,
        "feature_max_staleness_ms": limits.max_staleness_ms,
        "feature_max_duplicate_ratio": limits.max_duplicate_ratio,
        "feature_warmup_minutes": limits.warmup_minutes,
    }
    return MarketDataConfig(values=values, secrets=dict(secrets))
