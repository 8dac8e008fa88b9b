"""Where a lane window's inputs come from and where its orders go, read from the environment and checked
against each other: the signal source and its credentials, the symbol universe and its Jangar timing, and
the execution venue.

Why together: these are the settings a production profile must never get wrong in combination (the
simulator as a source, a source without its keys, a static universe, no venue at all), and each rule
needs values from more than one of them. Every function returns its values with the problems it found, so
`load_settings` can report every problem of the configuration at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from torghut_assets.adapters.market_simulator import DEFAULT_UNIVERSE
from torghut_assets.config_registry import configured, read, whole
from torghut_assets.domain.universe_policy import UniverseSource, check_universe_policy, normalize_symbols


@dataclass(frozen=True)
class SignalSourceSettings:
    """`fallback_note` is set when a dev profile names a source without its credentials: the simulator
    runs instead, and the note says so (`config check`, the code location's log)."""

    source: str
    url_set: bool
    table: str
    alpaca_credentials_set: bool
    alpaca_data_url: str | None
    alpaca_trading_url: str | None
    fallback_note: str | None
    problems: tuple[str, ...]


@dataclass(frozen=True)
class UniverseSettings:
    source: str
    static_symbols: tuple[str, ...]
    jangar_url: str | None
    cache_seconds: int
    max_stale_seconds: int
    timeout_seconds: int
    problems: tuple[str, ...]


@dataclass(frozen=True)
class ExecutionSettings:
    lean_runner_url: str | None
    policy: str
    symbols: tuple[str, ...]
    fallback_adapter: str
    problems: tuple[str, ...]


def signal_source_settings(env: Mapping[str, str], *, production: bool) -> SignalSourceSettings:
    """A source without its credentials is refused in production and replaced by the simulator in dev,
    where a developer without keys should still get a working code location."""
    source = read(env, "TORGHUT_SIGNAL_SOURCE").lower()
    url_set = configured(env, "TORGHUT_SIGNAL_SOURCE_URL") is not None
    alpaca_set = bool(configured(env, "APCA_API_KEY_ID") and configured(env, "APCA_API_SECRET_KEY"))
    missing_credentials = None
    if source == "sql" and not url_set:
        missing_credentials = "TORGHUT_SIGNAL_SOURCE_URL"
    if source == "alpaca" and not alpaca_set:
        missing_credentials = "APCA_API_KEY_ID and APCA_API_SECRET_KEY"
    problems = []
    fallback_note = None
    if missing_credentials and production:
        problems.append(f"TORGHUT_SIGNAL_SOURCE={source!r} needs {missing_credentials} in production")
    elif missing_credentials:
        fallback_note = (
            f"TORGHUT_SIGNAL_SOURCE={source} but {missing_credentials} is not set: embedded simulator used"
        )
    if production and source == "simulator":
        problems.append("TORGHUT_SIGNAL_SOURCE=simulator is refused in production: use 'sql' or 'alpaca'")
    return SignalSourceSettings(
        source=source,
        url_set=url_set,
        table=read(env, "TRADING_SIGNAL_TABLE"),
        alpaca_credentials_set=alpaca_set,
        alpaca_data_url=configured(env, "APCA_API_DATA_URL"),
        alpaca_trading_url=configured(env, "APCA_API_BASE_URL"),
        fallback_note=fallback_note,
        problems=tuple(problems),
    )


def universe_settings(
    env: Mapping[str, str], bad: Mapping[str, str], *, profile: str, trading_mode: str
) -> UniverseSettings:
    """The universe source with the domain's universe policy applied (which sources a profile and a live
    trading mode allow), then the Jangar cache timing. An unknown profile (in `bad`) was reported
    already, so the policy, which would only restate it, is not asked."""
    source = read(env, "TRADING_UNIVERSE_SOURCE").lower()
    listed = _listed(configured(env, "TRADING_UNIVERSE_STATIC_SYMBOLS"))
    static_symbols = normalize_symbols(listed)[0] if listed else DEFAULT_UNIVERSE
    jangar_url = configured(env, "JANGAR_SYMBOLS_URL")
    problems: list[str] = []
    if "TORGHUT_ENV" not in bad:
        problems += check_universe_policy(
            profile=profile,
            source=source,
            static_symbols=static_symbols if source == UniverseSource.STATIC else None,
            trading_enabled=True,
            live_enabled=trading_mode == "live",
            jangar_url=jangar_url if source == UniverseSource.JANGAR else None,
        )
    cache, max_stale, timeout = (
        whole(env, bad, name)
        for name in (
            "TRADING_UNIVERSE_CACHE_SECONDS",
            "TRADING_UNIVERSE_MAX_STALE_SECONDS",
            "TRADING_UNIVERSE_TIMEOUT_SECONDS",
        )
    )
    problems += _universe_timing_problems(cache, max_stale, timeout)
    return UniverseSettings(
        source, tuple(static_symbols), jangar_url, cache, max_stale, timeout, tuple(problems)
    )


def _universe_timing_problems(cache: int, max_stale: int, timeout: int) -> list[str]:
    """1 <= cache <= max-stale, timeout >= 1 (the reference's rules): a cache kept longer than the
    stale limit would serve a universe the stale limit already refused."""
    problems = []
    if cache < 1:
        problems.append(f"TRADING_UNIVERSE_CACHE_SECONDS={cache} must be at least 1")
    elif cache > max_stale:
        problems.append(
            f"TRADING_UNIVERSE_CACHE_SECONDS={cache} exceeds TRADING_UNIVERSE_MAX_STALE_SECONDS={max_stale}"
        )
    if timeout < 1:
        problems.append(f"TRADING_UNIVERSE_TIMEOUT_SECONDS={timeout} must be at least 1")
    return problems


def execution_settings(env: Mapping[str, str], *, production: bool, alpaca_set: bool) -> ExecutionSettings:
    """The venue routing; in production it must route somewhere real, and an allowlist must list symbols
    (an empty one would silently send every order to the fallback)."""
    lean_url = configured(env, "TRADING_LEAN_RUNNER_URL")
    policy = read(env, "TRADING_EXECUTION_ADAPTER_POLICY").lower()
    symbols = tuple(normalize_symbols(_listed(configured(env, "TRADING_EXECUTION_ADAPTER_SYMBOLS")))[0])
    fallback = read(env, "TRADING_EXECUTION_FALLBACK_ADAPTER").lower()
    problems = []
    if production:
        if policy == "allowlist" and not symbols:
            problems.append(
                "TRADING_EXECUTION_ADAPTER_POLICY=allowlist with an empty TRADING_EXECUTION_ADAPTER_SYMBOLS"
            )
        if not alpaca_set and not lean_url:
            problems.append("production needs an execution venue: TRADING_LEAN_RUNNER_URL or Alpaca keys")
        if fallback == "alpaca" and not alpaca_set:
            problems.append(
                "TRADING_EXECUTION_FALLBACK_ADAPTER=alpaca needs APCA_API_KEY_ID/APCA_API_SECRET_KEY"
            )
    return ExecutionSettings(lean_url, policy, symbols, fallback, tuple(problems))


def _listed(value: str | None) -> list[str]:
    return [s for s in (value or "").split(",") if s.strip()]


__all__ = [
    "ExecutionSettings",
    "SignalSourceSettings",
    "UniverseSettings",
    "execution_settings",
    "signal_source_settings",
    "universe_settings",
]
