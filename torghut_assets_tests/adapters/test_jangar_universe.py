"""JangarUniverseClient against a local stub Jangar (stdlib http.server on 127.0.0.1, port 0)."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from typing import Any

import pandas as pd
import pytest
import requests

from torghut_assets.adapters.jangar_universe import JangarUniverseClient
from torghut_assets.domain.universe_policy import (
    JANGAR_CACHE_HIT,
    JANGAR_FETCH_FAILED,
    JANGAR_FETCH_OK,
    JANGAR_HTTP_ERROR,
    JANGAR_PAYLOAD_DECODE_FAILED,
    JANGAR_PAYLOAD_EMPTY,
    JANGAR_URL_INVALID_HOST,
    JANGAR_URL_INVALID_SCHEME,
    JANGAR_URL_MISSING,
    UniverseStatus,
    cache_stale,
    using_stale_cache,
)
from torghut_assets_tests.adapters.stub_server import StubServer

TIMEOUT = 0.25
SLOW_SECONDS = 5.0  # how long a slow handler would stall if the client waited (it must not)


class StubJangar(StubServer[None]):
    """Switchable behaviour: `mode` is read per request; `requests` counts them."""

    quiet_errors = True  # the client hanging up on a slow handler is expected

    BODIES = {
        "ok_list": (200, b'["msft", "AAPL", "aapl", "bad/sym"]'),
        "ok_object": (200, b'{"symbols": [{"symbol": "nvda", "name": "NVIDIA"}, "AAPL", 5, {"x": 1}]}'),
        "error_500": (500, b'{"error": "boom"}'),
        "garbage": (200, b"<html>not json"),
        "wrong_shape": (200, b'{"tickers": ["AAPL"]}'),
        "empty": (200, b"[]"),
    }

    def __init__(self) -> None:
        super().__init__()
        self.mode = "ok_list"
        self.requests = 0

    @property
    def url(self) -> str:
        return f"{self.base_url}/api/symbols"

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                stub.requests += 1
                if stub.mode == "slow":
                    stub.stopping.wait(SLOW_SECONDS)
                    self._send(200, b'["AAPL"]')
                elif stub.mode == "trickle":
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.end_headers()
                    deadline = time.monotonic() + SLOW_SECONDS
                    while not stub.stopping.is_set() and time.monotonic() < deadline:
                        self.wfile.write(b" ")
                        self.wfile.flush()
                        time.sleep(0.02)
                else:
                    self._send(*stub.BODIES[stub.mode])

            def _send(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler


class FakeClock:
    def __init__(self) -> None:
        self.now = pd.Timestamp("2026-02-26 15:00", tz="UTC")

    def __call__(self) -> pd.Timestamp:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += pd.Timedelta(seconds=seconds)


class CountingSession(requests.Session):
    def __init__(self) -> None:
        super().__init__()
        self.trust_env = False  # no proxy from the environment for 127.0.0.1
        self.calls = 0

    def request(self, *args: Any, **kwargs: Any) -> requests.Response:
        self.calls += 1
        return super().request(*args, **kwargs)


@pytest.fixture
def stub() -> Iterator[StubJangar]:
    with StubJangar() as server:
        yield server


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def client_for(url: str | None, clock: FakeClock) -> JangarUniverseClient:
    return JangarUniverseClient(url, timeout_seconds=TIMEOUT, clock=clock, session=CountingSession())


def test_fetch_ok_list_is_normalized(stub: StubJangar, clock: FakeClock) -> None:
    snapshot = client_for(stub.url, clock).get()
    assert (snapshot.status, snapshot.reason, snapshot.source) == (
        UniverseStatus.OK,
        JANGAR_FETCH_OK,
        "jangar",
    )
    assert snapshot.symbols == ("AAPL", "MSFT")
    assert snapshot.rejected_symbols == 1
    assert snapshot.fetched_at == clock.now


def test_fetch_ok_object_accepts_strings_and_symbol_objects(stub: StubJangar, clock: FakeClock) -> None:
    stub.mode = "ok_object"
    snapshot = client_for(stub.url, clock).get()
    assert (snapshot.status, snapshot.symbols) == (UniverseStatus.OK, ("AAPL", "NVDA"))
    assert snapshot.rejected_symbols == 2


def test_cache_hit_within_ttl_makes_no_second_request(stub: StubJangar, clock: FakeClock) -> None:
    client = client_for(stub.url, clock)
    first = client.get()
    clock.advance(299)
    second = client.get()
    assert stub.requests == 1
    assert (second.status, second.reason, second.symbols) == (
        UniverseStatus.OK,
        JANGAR_CACHE_HIT,
        first.symbols,
    )
    assert second.age_seconds == 299


def test_outage_after_a_good_fetch_reuses_the_stale_cache_degraded(
    stub: StubJangar, clock: FakeClock
) -> None:
    client = client_for(stub.url, clock)
    good = client.get()
    stub.mode = "error_500"
    clock.advance(600)
    snapshot = client.get()
    assert stub.requests == 2
    assert (snapshot.status, snapshot.reason) == (
        UniverseStatus.DEGRADED,
        using_stale_cache(JANGAR_HTTP_ERROR),
    )
    assert snapshot.symbols == good.symbols
    assert snapshot.age_seconds == 600


def test_outage_past_900_s_is_error_cache_stale(stub: StubJangar, clock: FakeClock) -> None:
    client = client_for(stub.url, clock)
    client.get()
    stub.mode = "error_500"
    clock.advance(901)
    snapshot = client.get()
    assert (snapshot.status, snapshot.reason) == (UniverseStatus.ERROR, cache_stale(JANGAR_HTTP_ERROR))
    assert snapshot.symbols == ()


def test_recovery_after_an_outage_refreshes_the_cache(stub: StubJangar, clock: FakeClock) -> None:
    client = client_for(stub.url, clock)
    client.get()
    stub.mode = "error_500"
    clock.advance(400)
    assert client.get().status == UniverseStatus.DEGRADED
    stub.mode = "ok_object"
    clock.advance(400)
    snapshot = client.get()
    assert (snapshot.reason, snapshot.symbols, snapshot.age_seconds) == (JANGAR_FETCH_OK, ("AAPL", "NVDA"), 0)


@pytest.mark.parametrize(
    ("mode", "cause"),
    [
        ("error_500", JANGAR_HTTP_ERROR),
        ("garbage", JANGAR_PAYLOAD_DECODE_FAILED),
        ("wrong_shape", JANGAR_PAYLOAD_DECODE_FAILED),
        ("empty", JANGAR_PAYLOAD_EMPTY),
    ],
)
def test_each_bad_response_maps_to_its_cause(
    stub: StubJangar, clock: FakeClock, mode: str, cause: str
) -> None:
    stub.mode = mode
    snapshot = client_for(stub.url, clock).get()
    assert (snapshot.status, snapshot.reason, snapshot.symbols) == (UniverseStatus.ERROR, cause, ())


@pytest.mark.parametrize("mode", ["slow", "trickle"])
def test_slow_server_times_out_within_bounded_time(stub: StubJangar, clock: FakeClock, mode: str) -> None:
    stub.mode = mode
    started = time.monotonic()
    snapshot = client_for(stub.url, clock).get()
    elapsed = time.monotonic() - started
    assert snapshot.reason == JANGAR_FETCH_FAILED
    assert elapsed < 5 * TIMEOUT


def test_connection_refused_is_fetch_failed(clock: FakeClock) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    snapshot = client_for(f"http://127.0.0.1:{port}/api/symbols", clock).get()
    assert snapshot.reason == JANGAR_FETCH_FAILED


@pytest.mark.parametrize("url", [None, "", "   "])
def test_missing_url_is_jangar_url_missing_without_any_request(clock: FakeClock, url: str | None) -> None:
    session = CountingSession()
    client = JangarUniverseClient(url, timeout_seconds=TIMEOUT, clock=clock, session=session)
    snapshot = client.get()
    assert (snapshot.status, snapshot.reason) == (UniverseStatus.ERROR, JANGAR_URL_MISSING)
    assert session.calls == 0


def test_payload_over_the_size_cap_is_decode_failed(stub: StubJangar, clock: FakeClock) -> None:
    client = JangarUniverseClient(
        stub.url, timeout_seconds=TIMEOUT, clock=clock, session=CountingSession(), max_payload_bytes=16
    )
    assert client.get().reason == JANGAR_PAYLOAD_DECODE_FAILED


@pytest.mark.parametrize(
    ("url", "cause"),
    [
        ("ftp://jangar.example/api/torghut/symbols", JANGAR_URL_INVALID_SCHEME),
        ("jangar.example/api/torghut/symbols", JANGAR_URL_INVALID_SCHEME),
        ("http:///api/torghut/symbols", JANGAR_URL_INVALID_HOST),
    ],
)
def test_an_unusable_url_is_refused_with_the_reference_reason_without_any_request(
    clock: FakeClock, url: str, cause: str
) -> None:
    session = CountingSession()
    snapshot = JangarUniverseClient(url, timeout_seconds=TIMEOUT, clock=clock, session=session).get()
    assert (snapshot.status, snapshot.reason) == (UniverseStatus.ERROR, cause)
    assert session.calls == 0
