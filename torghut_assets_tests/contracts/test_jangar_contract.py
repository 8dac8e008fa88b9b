"""Jangar's symbols API as it really answers (fixtures/jangar, sources in SOURCES.md), against the client,
the ledger-backed cache and the `signals` asset's halt.

The stub serves the fixtures on Jangar's path `/api/torghut/symbols`: `format=full` gets the full
payload, anything else the compact one, unless a test switches the standing answer. Ledger tests run on
SQLite and PostgreSQL (`ledger_url`); a "run" is a fresh client with its own session and engine on that
ledger, as a new Dagster run would build it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

import dagster as dg
import pandas as pd
import pytest
import requests
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from torghut_assets.adapters.jangar_universe import JangarUniverseClient
from torghut_assets.definitions import market_data_resource
from torghut_assets.defs.lane_window.partitions import lane_window_key
from torghut_assets.defs.lane_window.signals import signals
from torghut_assets.defs.resources import MarketDataResource
from torghut_assets.domain.continuity import ContinuityConfig, ContinuityState, ContinuityTransition, step
from torghut_assets.domain.universe_policy import (
    JANGAR_CACHE_HIT,
    JANGAR_FETCH_OK,
    JANGAR_HTTP_ERROR,
    JANGAR_PAYLOAD_DECODE_FAILED,
    JANGAR_PAYLOAD_EMPTY,
    UNIVERSE_SOURCE_UNAVAILABLE,
    UniverseSnapshot,
    UniverseSource,
    UniverseStatus,
    blocks_decisions,
    cache_stale,
    unavailable_reason,
    using_stale_cache,
)
from torghut_assets.ledger import schema
from torghut_assets.ledger.continuity_store import observations_since
from torghut_assets.ledger.engine import create_ledger_engine
from torghut_assets.ledger.universe_store import LedgerUniverseStore, attempts, record_fetch
from torghut_assets.settings import load_settings
from torghut_assets_tests.adapters.stub_server import StubRequestHandler, StubServer
from torghut_assets_tests.defs.lane_window_harness import resources as lane_window_resources

FIXTURES = Path(__file__).parent / "fixtures" / "jangar"
SYMBOLS_PATH = "/api/torghut/symbols"
COMPACT, FULL = "symbols_compact.json", "symbols_full.json"
DOWN = "error_503_database_unconfigured.json"
STATUS_OF = {DOWN: 503}
TIMEOUT = 2.0
T0 = pd.Timestamp("2026-02-26 15:00", tz="UTC")
TUESDAY = pd.Timestamp("2026-03-03 15:00", tz="UTC")  # a market-open lane window
COMPACT_SYMBOLS = ("AAPL", "BF.B", "BRK-B", "MSFT", "NVDA")


def fixture_hash(name: str) -> str:
    return hashlib.sha256((FIXTURES / name).read_bytes()).hexdigest()


@dataclass(eq=False)
class FixtureJangar(StubServer[str]):
    """Jangar's `GET /api/torghut/symbols` answering with fixture files; `requests` logs each path."""

    quiet_errors: ClassVar[bool] = True
    standing: str | None = None  # the fixture every request gets; None: compact, or full for format=full
    requests: list[str] = field(default_factory=list, init=False)

    def url(self, query: str = "assetClass=equity") -> str:
        return f"{self.base_url}{SYMBOLS_PATH}?{query}"

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        stub = self

        class Handler(StubRequestHandler):
            def do_GET(self) -> None:
                stub.requests.append(self.path)
                parts = urlsplit(self.path)
                if parts.path != SYMBOLS_PATH:
                    self._send(404, b'{"error":"not found"}')
                    return
                by_query = FULL if parse_qs(parts.query).get("format") == ["full"] else COMPACT
                name = stub._next_scripted(stub.standing or by_query)
                body = (FIXTURES / name).read_bytes()
                self.send_response(STATUS_OF.get(name, 200))
                self.send_header(
                    "Content-Type", "text/html" if name.endswith(".html") else "application/json"
                )
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        return Handler


class FakeClock:
    def __init__(self, now: pd.Timestamp = T0) -> None:
        self.now = now

    def __call__(self) -> pd.Timestamp:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += pd.Timedelta(seconds=seconds)


@pytest.fixture
def jangar() -> Iterator[FixtureJangar]:
    with FixtureJangar() as stub:
        yield stub


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def new_client(clock: FakeClock) -> Iterator[Callable[..., JangarUniverseClient]]:
    """A client as one run builds it: its own HTTP session (closed at teardown)."""
    sessions: list[requests.Session] = []

    def build(url: str, store: LedgerUniverseStore | None = None) -> JangarUniverseClient:
        session = requests.Session()
        session.trust_env = False  # no proxy from the environment for 127.0.0.1
        sessions.append(session)
        with_store: dict[str, Any] = {} if store is None else {"store": store}
        return JangarUniverseClient(url, timeout_seconds=TIMEOUT, clock=clock, session=session, **with_store)

    yield build
    for session in sessions:
        session.close()


@pytest.fixture
def new_store(ledger_url: str) -> Iterator[Callable[[], LedgerUniverseStore]]:
    """A ledger store on its own engine, as each run opens the ledger anew."""
    engines: list[Engine] = []

    def build() -> LedgerUniverseStore:
        engines.append(create_ledger_engine(ledger_url))
        return LedgerUniverseStore(engines[-1])

    yield build
    for engine in engines:
        engine.dispose()


def rows_of(store: LedgerUniverseStore, url: str) -> list[dict[str, Any]]:
    with store.engine.connect() as conn:
        return attempts(conn, url)


# -- payload shapes and symbol forms (no ledger) ----------------------------------------------------------


def test_the_compact_payload_keeps_class_share_symbols(
    jangar: FixtureJangar, new_client: Callable[..., JangarUniverseClient]
) -> None:
    snapshot = new_client(jangar.url()).get()
    assert (snapshot.status, snapshot.reason, snapshot.source) == (
        UniverseStatus.OK,
        JANGAR_FETCH_OK,
        UniverseSource.JANGAR,
    )
    assert snapshot.symbols == COMPACT_SYMBOLS
    assert snapshot.rejected_symbols == 0
    assert snapshot.payload_hash == fixture_hash(COMPACT)


def test_the_full_format_keeps_only_enabled_equities(
    jangar: FixtureJangar, new_client: Callable[..., JangarUniverseClient]
) -> None:
    url = jangar.url("includeDisabled=true&format=full&assetClass=equity")
    snapshot = new_client(url).get()
    assert jangar.requests == [f"{SYMBOLS_PATH}?includeDisabled=true&format=full&assetClass=equity"]
    assert (snapshot.status, snapshot.reason) == (UniverseStatus.OK, JANGAR_FETCH_OK)
    # disabled GME and the crypto BTC-USD are left out, not counted as malformed
    assert (snapshot.symbols, snapshot.rejected_symbols) == (("AAPL", "BF.B", "BRK-B", "MSFT"), 0)


def test_the_bare_list_of_the_reference_tests_is_accepted(
    jangar: FixtureJangar, new_client: Callable[..., JangarUniverseClient]
) -> None:
    jangar.standing = "symbols_list.json"
    snapshot = new_client(jangar.url()).get()
    assert (snapshot.status, snapshot.symbols, snapshot.rejected_symbols) == (
        UniverseStatus.OK,
        ("MSFT", "NVDA"),
        1,
    )


def test_malformed_symbols_are_dropped_and_counted(
    jangar: FixtureJangar, new_client: Callable[..., JangarUniverseClient]
) -> None:
    jangar.standing = "symbols_malformed.json"
    snapshot = new_client(jangar.url()).get()
    assert (snapshot.status, snapshot.reason) == (UniverseStatus.OK, JANGAR_FETCH_OK)
    assert snapshot.symbols == ("AAPL", "BF.B", "BRK-B")
    # AAPL;DROP, BTC/USD, ETH/USD, invalid!, "", the 23-character symbol, 5, null
    assert snapshot.rejected_symbols == 8


# -- the last good universe in the ledger ----------------------------------------------------------------


def test_the_ttl_holds_across_two_runs_sharing_one_ledger(
    jangar: FixtureJangar,
    clock: FakeClock,
    new_client: Callable[..., JangarUniverseClient],
    new_store: Callable[[], LedgerUniverseStore],
) -> None:
    first = new_client(jangar.url(), new_store()).get()
    clock.advance(299)
    second = new_client(jangar.url(), new_store()).get()
    assert len(jangar.requests) == 1  # within the 300 s TTL the second run makes no request
    assert (second.status, second.reason, second.symbols) == (
        UniverseStatus.OK,
        JANGAR_CACHE_HIT,
        first.symbols,
    )
    assert (second.fetched_at, second.age_seconds, second.payload_hash) == (T0, 299, fixture_hash(COMPACT))
    clock.advance(1)
    third = new_client(jangar.url(), new_store()).get()
    assert (len(jangar.requests), third.reason, third.fetched_at) == (2, JANGAR_FETCH_OK, clock.now)


def test_jangar_down_within_max_stale_serves_the_persisted_list_degraded(
    jangar: FixtureJangar,
    clock: FakeClock,
    new_client: Callable[..., JangarUniverseClient],
    new_store: Callable[[], LedgerUniverseStore],
) -> None:
    new_client(jangar.url(), new_store()).get()
    jangar.standing = DOWN
    clock.advance(900)
    store = new_store()
    snapshot = new_client(jangar.url(), store).get()
    assert (snapshot.status, snapshot.reason) == (
        UniverseStatus.DEGRADED,
        using_stale_cache(JANGAR_HTTP_ERROR),
    )
    assert snapshot.reason == "jangar_http_error_using_stale_cache"
    assert (snapshot.symbols, snapshot.fetched_at, snapshot.age_seconds) == (COMPACT_SYMBOLS, T0, 900)
    assert blocks_decisions(snapshot) is None
    newest = rows_of(store, jangar.url())[0]
    assert (newest["status"], newest["reason"], newest["symbols"]) == (
        UniverseStatus.ERROR,
        JANGAR_HTTP_ERROR,
        [],
    )
    assert "HTTP 503" in newest["detail"]


def test_jangar_down_beyond_max_stale_is_error_cache_stale_and_the_halt_keeps_the_cause(
    jangar: FixtureJangar,
    clock: FakeClock,
    new_client: Callable[..., JangarUniverseClient],
    new_store: Callable[[], LedgerUniverseStore],
) -> None:
    new_client(jangar.url(), new_store()).get()
    jangar.standing = DOWN
    clock.advance(901)
    snapshot = new_client(jangar.url(), new_store()).get()
    assert (snapshot.status, snapshot.reason, snapshot.symbols) == (
        UniverseStatus.ERROR,
        "jangar_http_error_cache_stale",
        (),
    )
    assert (snapshot.fetched_at, snapshot.age_seconds) == (T0, 901)
    assert blocks_decisions(snapshot) == UNIVERSE_SOURCE_UNAVAILABLE
    assert unavailable_reason(snapshot) == "universe_source_unavailable:error:jangar_http_error_cache_stale"


def test_without_a_persisted_list_a_failure_is_error_with_the_bare_cause(
    jangar: FixtureJangar,
    new_client: Callable[..., JangarUniverseClient],
    new_store: Callable[[], LedgerUniverseStore],
) -> None:
    jangar.standing = DOWN
    snapshot = new_client(jangar.url(), new_store()).get()
    assert (snapshot.status, snapshot.reason, snapshot.fetched_at) == (
        UniverseStatus.ERROR,
        JANGAR_HTTP_ERROR,
        None,
    )
    assert unavailable_reason(snapshot) == "universe_source_unavailable:error:jangar_http_error"


def test_another_urls_list_is_never_served(
    jangar: FixtureJangar,
    clock: FakeClock,
    new_client: Callable[..., JangarUniverseClient],
    new_store: Callable[[], LedgerUniverseStore],
) -> None:
    new_client(jangar.url("assetClass=equity"), new_store()).get()
    jangar.standing = DOWN
    clock.advance(10)
    snapshot = new_client(jangar.url("assetClass=crypto"), new_store()).get()
    assert (snapshot.status, snapshot.reason) == (UniverseStatus.ERROR, JANGAR_HTTP_ERROR)


def test_a_password_in_the_url_never_reaches_the_ledger(
    jangar: FixtureJangar,
    new_client: Callable[..., JangarUniverseClient],
    new_store: Callable[[], LedgerUniverseStore],
) -> None:
    url = jangar.url().replace("http://", "http://reader:s3cret-token@")
    jangar.standing = DOWN
    store = new_store()
    snapshot = new_client(url, store).get()
    (row,) = rows_of(store, url)
    assert "s3cret-token" not in f"{snapshot.detail} {row['source_url']} {row['detail']}"
    assert row["source_url"].startswith("http://reader:***@127.0.0.1:")


@pytest.mark.parametrize(
    ("fixture", "cause"),
    [
        ("not_json.html", JANGAR_PAYLOAD_DECODE_FAILED),
        ("wrong_endpoint_ok.json", JANGAR_PAYLOAD_DECODE_FAILED),
        ("symbols_empty.json", JANGAR_PAYLOAD_EMPTY),
        ("symbols_full_all_disabled.json", JANGAR_PAYLOAD_EMPTY),
        (DOWN, JANGAR_HTTP_ERROR),
    ],
)
def test_a_bad_payload_is_a_typed_reason_and_never_replaces_the_last_good_list(
    jangar: FixtureJangar,
    clock: FakeClock,
    new_client: Callable[..., JangarUniverseClient],
    new_store: Callable[[], LedgerUniverseStore],
    fixture: str,
    cause: str,
) -> None:
    url = jangar.url()
    jangar.standing = fixture
    cold = new_client(url, new_store()).get()
    assert (cold.status, cold.reason, cold.symbols) == (UniverseStatus.ERROR, cause, ())
    store = new_store()
    assert store.last_good(url) is None
    jangar.standing = None
    clock.advance(1)
    new_client(url, store).get()
    good = store.last_good(url)
    assert good is not None
    jangar.standing = fixture
    clock.advance(400)
    warm = new_client(url, new_store()).get()
    assert (warm.status, warm.reason, warm.symbols) == (
        UniverseStatus.DEGRADED,
        using_stale_cache(cause),
        good.symbols,
    )
    assert store.last_good(url) == good
    statuses = [(r["status"], r["reason"], r["symbols_count"], r["symbols"]) for r in rows_of(store, url)]
    assert statuses == [
        (UniverseStatus.ERROR, cause, 0, []),
        (UniverseStatus.OK, JANGAR_FETCH_OK, len(COMPACT_SYMBOLS), list(COMPACT_SYMBOLS)),
        (UniverseStatus.ERROR, cause, 0, []),
    ]


def test_the_ledger_refuses_a_half_written_list(new_store: Callable[[], LedgerUniverseStore]) -> None:
    store = new_store()
    empty_ok = UniverseSnapshot(
        symbols=(),
        source=UniverseSource.JANGAR,
        status=UniverseStatus.OK,
        reason=JANGAR_FETCH_OK,
        fetched_at=T0,
    )
    with pytest.raises(ValueError, match="non-empty"), store.engine.begin() as conn:
        record_fetch(conn, source_url="http://jangar/x", outcome=empty_ok, attempted_at=T0)
    table = schema.universe_snapshots
    half_written = {
        "id": "00000000-0000-0000-0000-000000000001",
        "source": UniverseSource.JANGAR,
        "source_key": "k" * 64,
        "source_url": "http://jangar/x",
        "status": UniverseStatus.OK,
        "reason": JANGAR_FETCH_OK,
        "symbols": [],
        "symbols_count": 0,
        "fetched_at": T0.to_pydatetime(),
    }
    with pytest.raises(sa.exc.IntegrityError), store.engine.begin() as conn:
        conn.execute(sa.insert(table).values(**half_written))
    with store.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one() == 0


# -- configuration ----------------------------------------------------------------------------------------


def test_ttl_and_max_stale_come_from_the_reference_variables() -> None:
    defaults = market_data_resource(load_settings({}))
    assert (defaults.universe_cache_seconds, defaults.universe_max_stale_seconds) == (300, 900)
    assert defaults.universe_timeout_seconds == 5
    env = {
        "TRADING_UNIVERSE_CACHE_SECONDS": "60",
        "TRADING_UNIVERSE_MAX_STALE_SECONDS": "120",
        "TRADING_UNIVERSE_TIMEOUT_SECONDS": "2",
    }
    configured = market_data_resource(load_settings(env))
    client = configured._jangar_client(None)
    assert (client.cache_ttl_seconds, client.stale_max_seconds, client.timeout_seconds) == (60, 120, 2)


# -- the signals asset: skip, halt reason and continuity keep Jangar's cause -----------------------------


def _seed_last_good(ledger_url: str, url: str, age: pd.Timedelta) -> pd.Timestamp:
    fetched_at = pd.Timestamp.now(tz="UTC") - age
    engine = create_ledger_engine(ledger_url)
    try:
        good = UniverseSnapshot(
            symbols=COMPACT_SYMBOLS,
            source=UniverseSource.JANGAR,
            status=UniverseStatus.OK,
            reason=JANGAR_FETCH_OK,
            fetched_at=fetched_at,
            payload_hash=fixture_hash(COMPACT),
        )
        LedgerUniverseStore(engine).record(url, good, fetched_at)
    finally:
        engine.dispose()
    return fetched_at


def _signals_window(
    ledger_url: str, tmp_path: Path, url: str
) -> tuple[dg.ExecuteInProcessResult, dict[str, Any]]:
    run_resources = lane_window_resources(ledger_url, tmp_path)
    run_resources["market_data"] = MarketDataResource(universe_source="jangar", jangar_url=url)
    result = dg.materialize(
        [signals],
        partition_key=lane_window_key("macd_rsi", TUESDAY),
        resources=run_resources,
        instance=dg.DagsterInstance.ephemeral(),
        selection=[signals],
    )
    table = schema.signal_ingest_windows
    engine = create_ledger_engine(ledger_url)
    try:
        with engine.connect() as conn:
            query = sa.select(table).where(table.c.lane == "macd_rsi", table.c.window_start == TUESDAY)
            (verdict,) = conn.execute(query).mappings().all()
    finally:
        engine.dispose()
    return result, dict(verdict)


def test_a_halt_beyond_max_stale_keeps_jangars_cause_through_continuity(
    jangar: FixtureJangar, ledger_url: str, tmp_path: Path
) -> None:
    url = jangar.url()
    _seed_last_good(ledger_url, url, pd.Timedelta(minutes=20))
    jangar.standing = DOWN
    result, verdict = _signals_window(ledger_url, tmp_path, url)
    assert result.success
    halt = "universe_source_unavailable:error:jangar_http_error_cache_stale"
    assert (verdict["signals_total"], verdict["no_signal_reason"]) == (0, UNIVERSE_SOURCE_UNAVAILABLE)
    assert verdict["no_signal_detail"] == halt
    metadata = result.asset_materializations_for_node("signals")[0].metadata
    assert metadata["no_signal_detail"].value == halt
    universe = metadata["universe"].value
    assert isinstance(universe, dict)
    assert (universe["status"], universe["reason"]) == (UniverseStatus.ERROR, cache_stale(JANGAR_HTTP_ERROR))
    assert universe["age_seconds"] >= 1200
    engine = create_ledger_engine(ledger_url)
    try:
        with engine.connect() as conn:
            window = TUESDAY.to_pydatetime()
            observed = observations_since(conn, "macd_rsi", window - pd.Timedelta(hours=1), window)
    finally:
        engine.dispose()
    state, events = step(ContinuityState(lane="macd_rsi"), observed[TUESDAY], ContinuityConfig())
    assert state.emergency_reasons == (halt,)
    assert {e.transition: e.detail for e in events} == {
        ContinuityTransition.LATCHED: (halt,),
        ContinuityTransition.EMERGENCY_TRIGGERED: (halt,),
    }


def test_within_max_stale_the_window_runs_on_the_persisted_list(
    jangar: FixtureJangar, ledger_url: str, tmp_path: Path
) -> None:
    url = jangar.url()
    fetched_at = _seed_last_good(ledger_url, url, pd.Timedelta(minutes=10))
    jangar.standing = DOWN
    result, verdict = _signals_window(ledger_url, tmp_path, url)
    assert result.success
    assert verdict["no_signal_reason"] != UNIVERSE_SOURCE_UNAVAILABLE
    assert verdict["no_signal_detail"] is None
    universe = result.asset_materializations_for_node("signals")[0].metadata["universe"].value
    assert isinstance(universe, dict)
    assert (universe["status"], universe["reason"]) == (
        UniverseStatus.DEGRADED,
        using_stale_cache(JANGAR_HTTP_ERROR),
    )
    assert (universe["symbols"], universe["fetched_at"]) == (len(COMPACT_SYMBOLS), fetched_at.isoformat())
    assert universe["payload_hash"] == fixture_hash(COMPACT)
