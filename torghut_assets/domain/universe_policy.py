"""Universe policy: where the tradable symbol list comes from, how long it may be trusted, and when an
unusable universe must stop decisions.

Reference behaviour (proompteng/lab `services/torghut/app/trading/universe.py` at 18622cbe3a, see
docs/universe.md): `TRADING_UNIVERSE_SOURCE` is `jangar` or `static`. The Jangar list
(`JANGAR_SYMBOLS_URL`) is cached `cache_ttl_seconds` (300); when a refresh fails, the last good list is
reused while it is at most `stale_max_seconds` (900) old (`degraded`, `<cause>_using_stale_cache`);
an older one is refused (`error`, `<cause>_cache_stale`, no symbols), and with no good list at all the
universe is `error` with the bare `<cause>`. An empty (or unusable) universe blocks decisions with
`universe_source_unavailable`, and the halt reason keeps the cause:
`universe_source_unavailable:<status>:<reason>` (`unavailable_reason`).

Everything here is pure: the HTTP fetch lives in `torghut_assets.adapters.jangar_universe` and enters
`resolve_with_cache` either as its outcome or as a zero-argument callable; time comes in as `now`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from urllib.parse import urlsplit

import pandas as pd

# -- settings names (reference env vars) --------------------------------------------------------------
SETTING_SOURCE = "TRADING_UNIVERSE_SOURCE"
SETTING_JANGAR_URL = "JANGAR_SYMBOLS_URL"
SETTING_REQUIRE_NON_EMPTY = "TRADING_UNIVERSE_REQUIRE_NON_EMPTY_JANGAR"


class UniverseSource(StrEnum):
    """Where the trading universe comes from (`TRADING_UNIVERSE_SOURCE`)."""

    JANGAR = "jangar"
    STATIC = "static"


class UniverseStatus(StrEnum):
    """A universe snapshot's health: a fresh or cached list, a stale one still usable, or none."""

    OK = "ok"
    DEGRADED = "degraded"
    ERROR = "error"


class Profile(StrEnum):
    """The deployment profile (`TORGHUT_PROFILE`): a laptop with the simulator, or production."""

    DEV = "dev"
    PRODUCTION = "production"


# The accepted spellings, as plain strings for settings choices and messages.
SOURCES: tuple[str, ...] = tuple(s.value for s in UniverseSource)
STATUSES: tuple[str, ...] = tuple(s.value for s in UniverseStatus)
PROFILES: tuple[str, ...] = tuple(p.value for p in Profile)

# -- reason codes (reference) ---------------------------------------------------------------------------
JANGAR_FETCH_OK = "jangar_fetch_ok"
JANGAR_CACHE_HIT = "jangar_cache_hit"
JANGAR_URL_MISSING = "jangar_url_missing"
JANGAR_URL_INVALID_SCHEME = "jangar_url_invalid_scheme"
JANGAR_URL_INVALID_HOST = "jangar_url_invalid_host"
JANGAR_HTTP_ERROR = "jangar_http_error"
JANGAR_FETCH_FAILED = "jangar_fetch_failed"
JANGAR_PAYLOAD_DECODE_FAILED = "jangar_payload_decode_failed"
JANGAR_PAYLOAD_EMPTY = "jangar_payload_empty"
FAILURE_CAUSES: tuple[str, ...] = (
    JANGAR_URL_MISSING,
    JANGAR_URL_INVALID_SCHEME,
    JANGAR_URL_INVALID_HOST,
    JANGAR_HTTP_ERROR,
    JANGAR_FETCH_FAILED,
    JANGAR_PAYLOAD_DECODE_FAILED,
    JANGAR_PAYLOAD_EMPTY,
)
USING_STALE_CACHE_SUFFIX = "_using_stale_cache"
CACHE_STALE_SUFFIX = "_cache_stale"
# An addition: the reference has no reason code for an offline fixture list; this one labels it.
STATIC_LIST = "static_list"

UNIVERSE_SOURCE_UNAVAILABLE = "universe_source_unavailable"

DEFAULT_CACHE_TTL_SECONDS = 300.0
DEFAULT_STALE_MAX_SECONDS = 900.0

# The reference's `normalize_symbol` (services/torghut/app/trading/clickhouse.py) accepts
# `^[A-Za-z0-9][A-Za-z0-9._/-]{0,31}$`, `/` (crypto pairs) only with TRADING_UNIVERSE_CRYPTO_ENABLED.
# Here symbols are upper-cased first (Jangar stores them upper-cased), `/` is never accepted (no crypto
# lanes) and the length stops at 16, the width of the ledger's `symbol` columns. So `BRK-B`, `BF.B` and
# `1ABC` are symbols; `BTC/USD`, `AAPL;DROP` and 17-character strings are not.
SYMBOL_MAX_LENGTH = 16
SYMBOL_PATTERN = re.compile(rf"[A-Z0-9][A-Z0-9._-]{{0,{SYMBOL_MAX_LENGTH - 1}}}")


def redacted_url(url: str) -> str:
    """The URL fit to show or store: a password in it replaced by `***`."""
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return url
    if not password:
        return url
    return parts._replace(netloc=parts.netloc.replace(f":{password}@", ":***@", 1)).geturl()


def using_stale_cache(cause: str) -> str:
    return f"{cause}{USING_STALE_CACHE_SUFFIX}"


def cache_stale(cause: str) -> str:
    return f"{cause}{CACHE_STALE_SUFFIX}"


def _status_for_reason(reason: str) -> tuple[UniverseStatus, UniverseSource] | None:
    """(status, source) a reason code implies, or None for an unknown code."""
    if reason in (JANGAR_FETCH_OK, JANGAR_CACHE_HIT):
        return UniverseStatus.OK, UniverseSource.JANGAR
    if reason == STATIC_LIST:
        return UniverseStatus.OK, UniverseSource.STATIC
    if reason in FAILURE_CAUSES:  # a failure with no good list to fall back on
        return UniverseStatus.ERROR, UniverseSource.JANGAR
    for cause in FAILURE_CAUSES:
        if reason == using_stale_cache(cause):
            return UniverseStatus.DEGRADED, UniverseSource.JANGAR
        if reason == cache_stale(cause):
            return UniverseStatus.ERROR, UniverseSource.JANGAR
    return None


def normalize_symbols(raw: Iterable[object]) -> tuple[tuple[str, ...], int]:
    """(sorted unique upper-case valid symbols, number of invalid entries dropped).

    Entries are stripped and upper-cased, then must match `SYMBOL_PATTERN` (`^[A-Z0-9][A-Z0-9._-]{0,15}$`:
    `BRK-B`, `BF.B` pass); anything else (non-strings, blanks, `BRK/B`, 17+ characters) is dropped and
    counted. Duplicates are merged, not counted as rejected.
    """
    valid: set[str] = set()
    rejected = 0
    for item in raw:
        symbol = item.strip().upper() if isinstance(item, str) else None
        if symbol is not None and SYMBOL_PATTERN.fullmatch(symbol):
            valid.add(symbol)
        else:
            rejected += 1
    return tuple(sorted(valid)), rejected


def _require_utc(value: pd.Timestamp, name: str) -> None:
    if not isinstance(value, pd.Timestamp) or value.tzinfo is None:
        raise ValueError(f"{name} must be a timezone-aware pd.Timestamp, got {value!r}")


@dataclass(frozen=True)
class UniverseSnapshot:
    """The universe as resolved at one moment.

    `symbols` is normalized on construction (see `normalize_symbols`); entries dropped there are added to
    `rejected_symbols`, so re-constructing (e.g. `dataclasses.replace`) never double counts.
    `fetched_at` is when the list was obtained from its source (for a stale reuse: the original fetch;
    for `error`: the last good fetch, or None if there never was one); `age_seconds` is its age at
    resolution time (None without `fetched_at`). `status`/`source` must agree with `reason`, and an
    `error` snapshot never carries symbols. `payload_hash` is the sha256 of the Jangar response body the
    symbols came from (None for a static list).
    """

    symbols: tuple[str, ...]
    source: UniverseSource
    status: UniverseStatus
    reason: str
    fetched_at: pd.Timestamp | None = None
    age_seconds: float | None = None
    rejected_symbols: int = 0
    detail: str = ""
    payload_hash: str | None = None

    def __post_init__(self) -> None:
        if isinstance(self.symbols, str):
            raise ValueError("symbols must be a sequence of symbols, not a single string")
        symbols, rejected = normalize_symbols(self.symbols)
        object.__setattr__(self, "symbols", symbols)
        object.__setattr__(self, "rejected_symbols", self.rejected_symbols + rejected)
        if self.source not in SOURCES:
            raise ValueError(f"source must be one of {SOURCES}, got {self.source!r}")
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, got {self.status!r}")
        object.__setattr__(self, "source", UniverseSource(self.source))  # a stored row's plain string
        object.__setattr__(self, "status", UniverseStatus(self.status))
        implied = _status_for_reason(self.reason)
        if implied is None:
            raise ValueError(f"unknown universe reason code {self.reason!r}")
        if implied != (self.status, self.source):
            raise ValueError(
                f"reason {self.reason!r} implies status/source {(implied[0].value, implied[1].value)}, "
                f"got {(self.status.value, self.source.value)}"
            )
        if self.status == UniverseStatus.ERROR and self.symbols:
            raise ValueError("an error snapshot carries no symbols")
        if self.fetched_at is not None:
            _require_utc(self.fetched_at, "fetched_at")
        if self.age_seconds is not None and not (math.isfinite(self.age_seconds) and self.age_seconds >= 0):
            raise ValueError(f"age_seconds must be finite and >= 0, got {self.age_seconds!r}")
        if self.rejected_symbols < 0:
            raise ValueError("rejected_symbols must be >= 0")


@dataclass(frozen=True)
class FetchFailure:
    """A Jangar fetch that produced no usable list; `cause` is one of FAILURE_CAUSES."""

    cause: str
    detail: str = ""

    def __post_init__(self) -> None:
        if self.cause not in FAILURE_CAUSES:
            raise ValueError(f"cause must be one of {FAILURE_CAUSES}, got {self.cause!r}")


FetchOutcome = UniverseSnapshot | FetchFailure


def static_snapshot(symbols: Iterable[str], *, now: pd.Timestamp) -> UniverseSnapshot:
    """The offline fixture list, labelled `static` (see `check_universe_policy` for where it is allowed)."""
    _require_utc(now, "now")
    return UniverseSnapshot(
        symbols=tuple(symbols),
        source=UniverseSource.STATIC,
        status=UniverseStatus.OK,
        reason=STATIC_LIST,
        fetched_at=now,
        age_seconds=0.0,
    )


def _age_seconds(fetched_at: pd.Timestamp | None, now: pd.Timestamp) -> float | None:
    # A fetch time in the future (clock skew) counts as age 0 rather than as an invalid cache.
    return None if fetched_at is None else max(0.0, (now - fetched_at).total_seconds())


def _usable_cache(cached: UniverseSnapshot | None) -> UniverseSnapshot | None:
    if cached is None or cached.source != UniverseSource.JANGAR or cached.status == UniverseStatus.ERROR:
        return None
    if not cached.symbols or cached.fetched_at is None:
        return None
    return cached


def resolve_with_cache(
    fresh: FetchOutcome | Callable[[], FetchOutcome],
    cached: UniverseSnapshot | None,
    now: pd.Timestamp,
    cache_ttl_seconds: float = DEFAULT_CACHE_TTL_SECONDS,
    stale_max_seconds: float = DEFAULT_STALE_MAX_SECONDS,
) -> UniverseSnapshot:
    """The reference's Jangar cache rules.

    `fresh` is the outcome of a fetch already made, or a zero-argument callable making it. `cached` is
    the last good Jangar list (a `jangar_fetch_ok` snapshot; anything without symbols or in `error` is
    ignored). The age of the cache is always measured from its original `fetched_at`, so reusing it never
    extends its life.

    1. `fresh` is a callable and the cache is younger than `cache_ttl_seconds` → `ok`/`jangar_cache_hit`,
       the callable is not called (no fetch).
    2. The fetch returned a non-empty list → `ok`/`jangar_fetch_ok` (this is the new cache).
    3. The fetch failed, or returned no valid symbol (`jangar_payload_empty`), and the cache is at most
       `stale_max_seconds` old → `degraded`/`<cause>_using_stale_cache` with the cached symbols.
    4. A cache older than that → `error`/`<cause>_cache_stale`, no symbols.
    5. No cache at all → `error`/`<cause>` (the bare cause, as the reference's `_fallback_from_cache`).

    A failed fetch therefore never yields `ok`.
    """
    _require_utc(now, "now")
    if not (0 < cache_ttl_seconds <= stale_max_seconds):
        raise ValueError(
            f"need 0 < cache_ttl_seconds <= stale_max_seconds, got {cache_ttl_seconds}, {stale_max_seconds}"
        )
    cache = _usable_cache(cached)
    cache_age = _age_seconds(cache.fetched_at, now) if cache is not None else None
    if callable(fresh):
        if cache is not None and cache_age is not None and cache_age < cache_ttl_seconds:
            return replace(
                cache, status=UniverseStatus.OK, reason=JANGAR_CACHE_HIT, age_seconds=cache_age, detail=""
            )
        fresh = fresh()
    if isinstance(fresh, UniverseSnapshot):
        if fresh.symbols:
            fetched_at = fresh.fetched_at if fresh.fetched_at is not None else now
            return replace(
                fresh,
                source=UniverseSource.JANGAR,
                status=UniverseStatus.OK,
                reason=JANGAR_FETCH_OK,
                fetched_at=fetched_at,
                age_seconds=_age_seconds(fetched_at, now),
            )
        failure = FetchFailure(
            JANGAR_PAYLOAD_EMPTY,
            f"no valid symbol in the payload ({fresh.rejected_symbols} rejected)",
        )
    elif isinstance(fresh, FetchFailure):
        failure = fresh
    else:
        raise TypeError(f"fresh must be a UniverseSnapshot or FetchFailure, got {type(fresh).__name__}")
    if cache is not None and cache_age is not None and cache_age <= stale_max_seconds:
        return replace(
            cache,
            status=UniverseStatus.DEGRADED,
            reason=using_stale_cache(failure.cause),
            age_seconds=cache_age,
            detail=failure.detail,
        )
    return UniverseSnapshot(
        symbols=(),
        source=UniverseSource.JANGAR,
        status=UniverseStatus.ERROR,
        reason=failure.cause if cache is None else cache_stale(failure.cause),
        fetched_at=cache.fetched_at if cache is not None else None,
        age_seconds=cache_age,
        detail=failure.detail,
    )


def check_universe_policy(
    *,
    profile: str,
    source: str,
    static_symbols: tuple[str, ...] | None,
    trading_enabled: bool,
    live_enabled: bool,
    jangar_url: str | None = None,
) -> list[str]:
    """Every universe rule the configuration violates, as messages naming the setting; [] means OK.

    - `profile` must be `dev` (simulator) or `production`; `source` must be `jangar` or `static`.
    - `production` takes its universe from `jangar` only.
    - A `static` list is accepted only in `dev`, never with live trading on (trading disabled, or
      trading against the paper simulator), and must hold at least one valid symbol.
    - `jangar` needs `JANGAR_SYMBOLS_URL` (`jangar_url`; omitted counts as missing).
    """
    problems: list[str] = []
    if profile not in PROFILES:
        problems.append(f"unknown profile {profile!r}: expected one of {', '.join(PROFILES)}")
    if source not in SOURCES:
        problems.append(f"{SETTING_SOURCE}={source!r} is not supported: expected one of {', '.join(SOURCES)}")
    if profile == Profile.PRODUCTION and source != UniverseSource.JANGAR:
        problems.append(
            f"{SETTING_SOURCE}={source!r} is refused in profile {Profile.PRODUCTION.value!r}: "
            f"production takes its universe from {SETTING_SOURCE}={UniverseSource.JANGAR.value!r} only "
            f"(a static list is accepted only in profile {Profile.DEV.value!r})"
        )
    if source == UniverseSource.STATIC:
        if profile not in (Profile.DEV, Profile.PRODUCTION):
            problems.append(
                f"{SETTING_SOURCE}='static' is refused in profile {profile!r}: a static list is accepted "
                f"only in profile {Profile.DEV.value!r} (simulator)"
            )
        if live_enabled:
            problems.append(
                f"{SETTING_SOURCE}=static is refused with live trading enabled "
                f"(trading_enabled={trading_enabled}, live_enabled=True): a static list is allowed only "
                f"with trading disabled or against the paper simulator"
            )
        valid, rejected = normalize_symbols(static_symbols or ())
        if not valid:
            problems.append(f"{SETTING_SOURCE}=static needs a non-empty list of valid symbols")
        elif rejected:
            problems.append(
                f"{SETTING_SOURCE}=static list has {rejected} invalid symbol(s) "
                f"(expected {SYMBOL_PATTERN.pattern})"
            )
    if source == UniverseSource.JANGAR and not (jangar_url and jangar_url.strip()):
        problems.append(f"{SETTING_SOURCE}=jangar requires {SETTING_JANGAR_URL} to be set")
    return problems


class UniversePolicyError(ValueError):
    """The universe configuration violates one or more rules; the message lists all of them."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = tuple(problems)
        listed = "; ".join(f"({i}) {p}" for i, p in enumerate(self.problems, start=1))
        super().__init__(f"universe policy violated ({len(self.problems)} problem(s)): {listed}")


def require_universe_policy(
    *,
    profile: str,
    source: str,
    static_symbols: tuple[str, ...] | None,
    trading_enabled: bool,
    live_enabled: bool,
    jangar_url: str | None = None,
) -> None:
    """`check_universe_policy`, raising `UniversePolicyError` with every problem at once."""
    problems = check_universe_policy(
        profile=profile,
        source=source,
        static_symbols=static_symbols,
        trading_enabled=trading_enabled,
        live_enabled=live_enabled,
        jangar_url=jangar_url,
    )
    if problems:
        raise UniversePolicyError(problems)


def blocks_decisions(snapshot: UniverseSnapshot, require_non_empty: bool = True) -> str | None:
    """`universe_source_unavailable` when the universe must stop decisions, else None.

    Blocks on status `error`, and — with `require_non_empty` (`TRADING_UNIVERSE_REQUIRE_NON_EMPTY_JANGAR`,
    default true) — on an empty symbol list. A `degraded` (stale but ≤ 900 s) list does not block.
    """
    if snapshot.status == UniverseStatus.ERROR:
        return UNIVERSE_SOURCE_UNAVAILABLE
    if require_non_empty and not snapshot.symbols:
        return UNIVERSE_SOURCE_UNAVAILABLE
    return None


def unavailable_reason(snapshot: UniverseSnapshot) -> str:
    """The halt reason that keeps the universe's own cause: `universe_source_unavailable:<status>:<reason>`.

    The reference's emergency-stop reason format (scheduler.py), e.g.
    `universe_source_unavailable:error:jangar_http_error_cache_stale`. At most 34 + 47 characters.
    """
    return f"{UNIVERSE_SOURCE_UNAVAILABLE}:{snapshot.status}:{snapshot.reason}"
