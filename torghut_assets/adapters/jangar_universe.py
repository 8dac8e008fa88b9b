"""Jangar symbol-list client: one bounded HTTP GET, plus the reference's TTL cache and stale reuse.

Payloads accepted from `JANGAR_SYMBOLS_URL` (HTTP 2xx, JSON, UTF-8, at most `max_payload_bytes`); the
shapes are Jangar's `GET /api/torghut/symbols` (services/jangar/src/routes/api/torghut/symbols.ts) and
the reference client's (services/torghut/app/trading/universe.py), see docs/universe.md:

    {"symbols": ["AAPL", "MSFT"]}                      Jangar's default (`format=compact`): enabled only
    {"items": [{"symbol": "AAPL", "enabled": true,     Jangar's `format=full`: only items with
                "assetClass": "equity", ...}]}         `enabled: true` and assetClass `equity` are kept
    ["AAPL", "MSFT"]                                   a bare list (the reference client accepts it)
    {"symbols": [{"symbol": "AAPL"}, ...]}             symbol objects in `symbols` (kept from before)

Entries without a string symbol, or whose symbol fails `SYMBOL_PATTERN` (e.g. `BTC/USD`, `AAPL;DROP`),
are dropped and counted in `rejected_symbols`; `format=full` items that are disabled or of another asset
class are left out without being counted. Symbols are upper-cased, de-duplicated and sorted
(`normalize_symbols`); class shares such as `BRK-B` and `BF.B` are symbols.

Failure causes: `jangar_url_missing` (no URL; no request is made), `jangar_url_invalid_scheme` /
`jangar_url_invalid_host` (not http(s), no host; no request is made), `jangar_http_error` (non-2xx
status, including redirects, which are not followed: configure the final URL), `jangar_fetch_failed`
(connection refused/reset, timeout, body not read in time), `jangar_payload_decode_failed` (not JSON,
not UTF-8, too large, or none of the shapes above), `jangar_payload_empty` (no valid symbol). What the
caller gets for a failure — stale reuse or error — is decided by `resolve_with_cache`.

Cache: with a `store` (the ledger's `universe_snapshots`, `LedgerUniverseStore`) the last good list is
read from and every fetch attempt written to the store, so it outlives the run and is shared by every
process on the same ledger; without one it lives in this instance only.

Bounded time: every request has `(connect, read) = (timeout, timeout)`, and the body is read against a
wall-clock deadline of `timeout` from the start of the request, so a slow or trickling server costs at
most about twice `timeout` (plus a slow trickle of *headers*, which requests bounds per read only).
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable
from typing import Protocol
from urllib.parse import urlsplit

import pandas as pd
import requests
import urllib3

from torghut_assets.adapters.http_session import PooledHttpClient
from torghut_assets.domain.universe_policy import (
    DEFAULT_CACHE_TTL_SECONDS,
    DEFAULT_STALE_MAX_SECONDS,
    JANGAR_FETCH_FAILED,
    JANGAR_FETCH_OK,
    JANGAR_HTTP_ERROR,
    JANGAR_PAYLOAD_DECODE_FAILED,
    JANGAR_PAYLOAD_EMPTY,
    JANGAR_URL_INVALID_HOST,
    JANGAR_URL_INVALID_SCHEME,
    JANGAR_URL_MISSING,
    FetchFailure,
    FetchOutcome,
    UniverseSnapshot,
    UniverseSource,
    UniverseStatus,
    redacted_url,
    resolve_with_cache,
)

DEFAULT_TIMEOUT_SECONDS = 5.0
DEFAULT_MAX_PAYLOAD_BYTES = 1 << 20
_CHUNK_BYTES = 16 * 1024


def utc_now() -> pd.Timestamp:
    return pd.Timestamp.now(tz="UTC")


class _PayloadError(ValueError):
    pass


class _FetchFailureError(Exception):
    """Carries a classified failure out of the request code."""

    def __init__(self, cause: str, detail: str) -> None:
        super().__init__(f"{cause}: {detail}")
        self.failure = FetchFailure(cause, detail)


FULL_FORMAT_ASSET_CLASS = "equity"


class UniverseStore(Protocol):
    """Where the last good list outlives one client (torghut_assets.ledger.universe_store)."""

    def last_good(self, source_url: str) -> UniverseSnapshot | None: ...

    def record(self, source_url: str, outcome: FetchOutcome, attempted_at: pd.Timestamp) -> None: ...


def _full_format_items(items: list[object]) -> tuple[list[str], int]:
    symbols: list[str] = []
    dropped = 0
    for item in items:
        fields = item if isinstance(item, dict) else {}
        symbol, enabled = fields.get("symbol"), fields.get("enabled")
        if not isinstance(symbol, str) or not isinstance(enabled, bool):
            dropped += 1
        elif enabled and fields.get("assetClass", FULL_FORMAT_ASSET_CLASS) == FULL_FORMAT_ASSET_CLASS:
            symbols.append(symbol)
    return symbols, dropped


def parse_symbols_payload(payload: object) -> tuple[list[str], int]:
    """(symbol strings, entries dropped for carrying no string symbol), from any shape in the module doc.

    Raises `_PayloadError` for anything else: an object with neither a `symbols` nor an `items` list,
    or a scalar.
    """
    if isinstance(payload, dict):
        if isinstance(payload.get("symbols"), list):
            payload = payload["symbols"]
        elif isinstance(payload.get("items"), list):
            return _full_format_items(payload["items"])
        else:
            raise _PayloadError(
                f"object payload has no 'symbols' or 'items' list (keys: {sorted(payload)[:5]})"
            )
    if not isinstance(payload, list):
        raise _PayloadError(f"expected a JSON list of symbols, got {type(payload).__name__}")
    symbols: list[str] = []
    dropped = 0
    for item in payload:
        if isinstance(item, dict):
            item = item.get("symbol")
        if isinstance(item, str):
            symbols.append(item)
        else:
            dropped += 1
    return symbols, dropped


def _url_problem(url: str) -> FetchFailure | None:
    """The reference's URL checks (`urlopen` in universe.py), made before any request."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError as exc:
        return FetchFailure(JANGAR_URL_INVALID_HOST, f"JANGAR_SYMBOLS_URL does not parse: {exc}"[:300])
    if parts.scheme.lower() not in ("http", "https"):
        return FetchFailure(JANGAR_URL_INVALID_SCHEME, f"unsupported_url_scheme:{parts.scheme or 'missing'}")
    if not host:
        return FetchFailure(JANGAR_URL_INVALID_HOST, "missing_url_host")
    return None


class JangarUniverseClient(PooledHttpClient):
    """The Jangar universe with the reference's cache rules (`resolve_with_cache`).

    `get()` returns the cached list while it is younger than `cache_ttl_seconds` (no request), otherwise
    fetches; a failed fetch reuses the last good list up to `stale_max_seconds` old (`degraded`), then
    reports `error` (`<cause>_cache_stale`, or the bare `<cause>` when there never was a good list).
    Only successful fetches become the cache. With a `store` the cache is the store's last good list
    for this URL and every fetch attempt is recorded there; two clients (two runs) on the same store
    share one TTL. `clock` returns an aware UTC timestamp and is injectable for tests. Thread-safe:
    concurrent `get()` calls on one instance make at most one request.
    """

    def __init__(
        self,
        url: str | None,
        timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
        cache_ttl_seconds: float = DEFAULT_CACHE_TTL_SECONDS,
        stale_max_seconds: float = DEFAULT_STALE_MAX_SECONDS,
        clock: Callable[[], pd.Timestamp] = utc_now,
        *,
        session: requests.Session | None = None,
        max_payload_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES,
        store: UniverseStore | None = None,
    ) -> None:
        if not timeout_seconds > 0:
            raise ValueError(f"timeout_seconds must be > 0, got {timeout_seconds}")
        if not 0 < cache_ttl_seconds <= stale_max_seconds:
            raise ValueError("need 0 < cache_ttl_seconds <= stale_max_seconds")
        self.url = url.strip() if url and url.strip() else None
        self.timeout_seconds = float(timeout_seconds)
        self.cache_ttl_seconds = float(cache_ttl_seconds)
        self.stale_max_seconds = float(stale_max_seconds)
        self.max_payload_bytes = max_payload_bytes
        self._clock = clock
        self.store = store
        super().__init__(session)
        self._cache: UniverseSnapshot | None = None
        self._lock = threading.Lock()

    @property
    def cached(self) -> UniverseSnapshot | None:
        """The last good fetch (`jangar_fetch_ok`) of this URL, or None."""
        if self.url is None:
            return None
        return self.store.last_good(self.url) if self.store is not None else self._cache

    def get(self) -> UniverseSnapshot:
        with self._lock:
            now = self._clock()
            attempted: list[FetchOutcome] = []

            def fetch() -> FetchOutcome:
                attempted.append(self.fetch(now))
                return attempted[0]

            snapshot = resolve_with_cache(
                fetch,
                self.cached,
                now,
                cache_ttl_seconds=self.cache_ttl_seconds,
                stale_max_seconds=self.stale_max_seconds,
            )
            if attempted and self.url is not None:
                if self.store is not None:
                    self.store.record(self.url, attempted[0], now)
                elif snapshot.reason == JANGAR_FETCH_OK:
                    self._cache = snapshot
            return snapshot

    def fetch(self, now: pd.Timestamp) -> FetchOutcome:
        """One request, no cache: the list as an `ok` snapshot stamped `now`, or a classified failure."""
        if self.url is None:
            return FetchFailure(JANGAR_URL_MISSING, "JANGAR_SYMBOLS_URL is not set")
        invalid = _url_problem(self.url)
        if invalid is not None:
            return invalid
        try:
            body = self._get_body(self.url)
        except _FetchFailureError as exc:
            return exc.failure
        try:
            payload = json.loads(body.decode("utf-8"))
            symbols, dropped = parse_symbols_payload(payload)
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:
            return FetchFailure(JANGAR_PAYLOAD_DECODE_FAILED, f"{type(exc).__name__}: {exc}"[:300])
        snapshot = UniverseSnapshot(
            symbols=tuple(symbols),
            source=UniverseSource.JANGAR,
            status=UniverseStatus.OK,
            reason=JANGAR_FETCH_OK,
            fetched_at=now,
            age_seconds=0.0,
            rejected_symbols=dropped,
            payload_hash=hashlib.sha256(body).hexdigest(),
        )
        if not snapshot.symbols:
            return FetchFailure(
                JANGAR_PAYLOAD_EMPTY, f"no valid symbol in the payload ({snapshot.rejected_symbols} rejected)"
            )
        return snapshot

    def _get_body(self, url: str) -> bytes:
        deadline = time.monotonic() + self.timeout_seconds
        try:
            with self._session.get(
                url,
                timeout=(self.timeout_seconds, self.timeout_seconds),
                headers={"Accept": "application/json", "Accept-Encoding": "identity"},
                stream=True,
                allow_redirects=False,
            ) as response:
                if not 200 <= response.status_code < 300:
                    raise _FetchFailureError(
                        JANGAR_HTTP_ERROR, f"HTTP {response.status_code} from {redacted_url(url)}"
                    )
                chunks: list[bytes] = []
                size = 0
                while True:
                    # read1: whatever has arrived (one socket read, bounded by the read timeout), so the
                    # deadline is checked between reads even when a server trickles bytes.
                    chunk = response.raw.read1(_CHUNK_BYTES, decode_content=True)
                    if not chunk:
                        break
                    size += len(chunk)
                    if size > self.max_payload_bytes:
                        raise _FetchFailureError(
                            JANGAR_PAYLOAD_DECODE_FAILED, f"payload exceeds {self.max_payload_bytes} bytes"
                        )
                    if time.monotonic() > deadline:
                        raise _FetchFailureError(
                            JANGAR_FETCH_FAILED, f"body not read within {self.timeout_seconds} s"
                        )
                    chunks.append(chunk)
                return b"".join(chunks)
        except requests.Timeout as exc:
            raise _FetchFailureError(
                JANGAR_FETCH_FAILED, f"timeout after {self.timeout_seconds} s: {type(exc).__name__}"
            ) from exc
        except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
            raise _FetchFailureError(JANGAR_FETCH_FAILED, f"{type(exc).__name__}: {exc}"[:300]) from exc
