"""Where the lane windows' inputs come from: the signal source, the Alpaca keys it shares with the
execution venue, and the universe of tradable symbols with its Jangar cache and staleness limits.

Why grouped: these are the settings a production profile checks against each other (no simulator, no
static universe, no source without its credentials), so an operator reviewing one sees the others beside it.
"""

from __future__ import annotations

from torghut_assets.adapters.market_simulator import DEFAULT_UNIVERSE
from torghut_assets.domain.universe_policy import SOURCES, UniverseSource
from torghut_assets.env_setting import HTTP, EnvSetting

DATA_SOURCES: tuple[EnvSetting, ...] = (
    EnvSetting(
        "TORGHUT_SIGNAL_SOURCE",
        "choice",
        "where lane-window signals come from; simulator is dev only",
        default="simulator",
        choices=("simulator", "sql", "alpaca"),
        production_required=True,
    ),
    EnvSetting(
        "TORGHUT_SIGNAL_SOURCE_URL",
        "url",
        "SQLAlchemy URL of the TA signal database (source sql), e.g. clickhousedb://user:pass@host:8123/torghut"
        " for ClickHouse; may hold a password",
        secret=True,
    ),
    EnvSetting("TRADING_SIGNAL_TABLE", "str", "signal table of the sql source", default="ta_signals"),
    EnvSetting(
        "APCA_API_KEY_ID", "str", "Alpaca key id (alpaca source and Alpaca execution venue)", secret=True
    ),
    EnvSetting(
        "APCA_API_SECRET_KEY", "str", "Alpaca secret key (alpaca source and Alpaca venue)", secret=True
    ),
    EnvSetting(
        "APCA_API_DATA_URL",
        "url",
        "Alpaca market-data endpoint override",
        when_unset="alpaca-py default",
        schemes=HTTP,
    ),
    EnvSetting(
        "APCA_API_BASE_URL",
        "url",
        "Alpaca trading endpoint override (paper)",
        when_unset="alpaca-py default",
        schemes=HTTP,
    ),
    EnvSetting(
        "TRADING_UNIVERSE_SOURCE",
        "choice",
        "where the tradable symbols come from; static is dev only",
        default=UniverseSource.STATIC.value,
        choices=SOURCES,
        production_required=True,
    ),
    EnvSetting(
        "TRADING_UNIVERSE_STATIC_SYMBOLS",
        "csv-symbols",
        "symbols of the static universe (dev)",
        when_unset=f"the simulator universe: {','.join(DEFAULT_UNIVERSE)}",
    ),
    EnvSetting(
        "JANGAR_SYMBOLS_URL",
        "url",
        "Jangar endpoint serving the symbol universe",
        schemes=HTTP,
        production_required=True,
    ),
    EnvSetting(
        "TRADING_UNIVERSE_CACHE_SECONDS",
        "int",
        "the last good Jangar universe (kept in the ledger) is served without a request while younger "
        "than this; at least 1 and at most TRADING_UNIVERSE_MAX_STALE_SECONDS",
        default="300",
    ),
    EnvSetting(
        "TRADING_UNIVERSE_MAX_STALE_SECONDS",
        "int",
        "when Jangar fails, the last good universe is still served (degraded) up to this age; older, "
        "decisions stop with universe_source_unavailable",
        default="900",
    ),
    EnvSetting(
        "TRADING_UNIVERSE_TIMEOUT_SECONDS",
        "int",
        "connect and read timeout of one Jangar symbols request (at least 1)",
        default="5",
    ),
)

__all__ = ["DATA_SOURCES"]
