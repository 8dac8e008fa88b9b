"""AlpacaBarsSignalSource against a local imitation of Alpaca's `/v2/stocks/bars` serving simulator bars."""

from __future__ import annotations

import datetime as dt
import json
import math
import socket
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pandas as pd
import pytest

from torghut_assets.adapters.alpaca_market_data import INGEST_LATENCY_MS, AlpacaBarsSignalSource
from torghut_assets.adapters.market_simulator import DEFAULT_UNIVERSE, MarketSimulator
from torghut_assets.adapters.signal_source import BAR_COLUMNS, SignalSourceUnavailable
from torghut_assets.domain.signal_frame import INDICATOR_COLUMNS, SIGNAL_COLUMNS, SIGNAL_SCHEMA
from torghut_assets_tests.adapters.stub_server import StubServer

SIM = MarketSimulator()
DAY = dt.date(2026, 2, 24)
OPEN = pd.Timestamp("2026-02-24 14:30", tz="UTC")
CLOSE = pd.Timestamp("2026-02-24 21:00", tz="UTC")
MINUTE = pd.Timedelta(minutes=1)
KEY = "PKTESTKEY0000000001"
SECRET = "sEcReT-do-not-leak-8f3a1c"
FAST_TIMEOUT = 0.3


@lru_cache(maxsize=1)
def session_bars() -> pd.DataFrame:
    return SIM.bars(OPEN, CLOSE)


def alpaca_json(bars: pd.DataFrame) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for row in bars.sort_values(["symbol", "ts"]).itertuples(index=False):
        out.setdefault(row.symbol, []).append(
            {
                "t": row.ts.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "o": row.open,
                "h": row.high,
                "l": row.low,
                "c": row.close,
                "v": int(row.volume),
                "n": max(1, int(row.volume) // 150),
                "vw": row.vwap,
            }
        )
    return out


@lru_cache(maxsize=1)
def served_bars() -> dict[str, list[dict[str, Any]]]:
    """The session, plus extended-hours prints (which the real endpoint also returns for 1Min bars)."""
    regular = session_bars()
    first = regular[regular["ts"] < OPEN + 3 * MINUTE]
    extended = pd.concat(
        [
            first.assign(ts=first["ts"] - pd.Timedelta(minutes=30)),
            first.assign(ts=first["ts"] + (CLOSE - OPEN)),
        ]
    )
    return alpaca_json(pd.concat([regular, extended]))


@dataclass
class Recorded:
    path: str
    params: dict[str, str]
    headers: dict[str, str]


@dataclass
class Stub(StubServer[None]):
    bars: dict[str, list[dict[str, Any]]] = field(default_factory=served_bars)
    page_size: int = 10_000
    delay: float = 0.0
    status: int = 200
    body: str | None = None
    script: list[tuple[int, str]] = field(default_factory=list)
    echo_headers: bool = False
    requests: list[Recorded] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.base_url

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        return _handler(self)

    def answer(self, request: Recorded) -> tuple[int, str]:
        if self.script:
            return self.script.pop(0)
        if self.echo_headers:
            return self.status, json.dumps({"message": "forbidden", "you_sent": request.headers})
        if self.body is not None:
            return self.status, self.body
        if request.path != "/v2/stocks/bars":
            return 404, '{"message": "not found"}'
        return 200, json.dumps(self.page(request.params))

    def page(self, params: dict[str, str]) -> dict[str, Any]:
        start, end = pd.Timestamp(params["start"]), pd.Timestamp(params["end"])
        items = [
            (symbol, bar)
            for symbol in sorted(params["symbols"].split(","))
            for bar in self.bars.get(symbol, [])
            if start <= pd.Timestamp(bar["t"]) <= end
        ]
        offset = int(params.get("page_token", "0"))
        size = min(self.page_size, int(params.get("limit", self.page_size)))
        chosen = items[offset : offset + size]
        grouped: dict[str, list[dict[str, Any]]] = {}
        for symbol, bar in chosen:
            grouped.setdefault(symbol, []).append(bar)
        more = offset + len(chosen) < len(items)
        return {"bars": grouped, "next_page_token": str(offset + len(chosen)) if more else None}


def _handler(stub: Stub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            request = Recorded(
                path=parts.path,
                params={k: v[-1] for k, v in parse_qs(parts.query).items()},
                headers=dict(self.headers.items()),
            )
            stub.requests.append(request)
            if stub.delay:
                stub.stopping.wait(stub.delay)
            status, body = stub.answer(request)
            payload = body.encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except OSError:
                pass

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture
def stub() -> Iterator[Stub]:
    with Stub() as served:
        yield served


def source(stub: Stub, **overrides: Any) -> AlpacaBarsSignalSource:
    settings: dict[str, Any] = {
        "api_key": KEY,
        "secret_key": SECRET,
        "universe": DEFAULT_UNIVERSE,
        "url_override": stub.url,
        "timeout_seconds": 2.0,
    }
    return AlpacaBarsSignalSource(**(settings | overrides))


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def failure(call: Any) -> tuple[SignalSourceUnavailable, float]:
    began = time.monotonic()
    with pytest.raises(SignalSourceUnavailable) as caught:
        call()
    return caught.value, time.monotonic() - began


WINDOW = (OPEN + pd.Timedelta(minutes=45), OPEN + pd.Timedelta(minutes=105))


def test_bars_become_schema_valid_signals(stub: Stub) -> None:
    signals = source(stub).fetch_window(*WINDOW)

    SIGNAL_SCHEMA.validate(signals)
    assert list(signals.columns) == list(SIGNAL_COLUMNS)
    assert set(signals["source"]) == {"alpaca"}
    assert set(signals["symbol"]) == set(DEFAULT_UNIVERSE)
    assert signals["event_ts"].between(WINDOW[0], WINDOW[1], inclusive="left").all()
    assert (signals["ingest_ts"] - signals["event_ts"] == pd.Timedelta(milliseconds=INGEST_LATENCY_MS)).all()
    (request,) = stub.requests
    assert request.path == "/v2/stocks/bars"
    assert request.params["timeframe"] == "1Min"
    assert request.params["feed"] == "iex"
    assert request.params["adjustment"] == "raw"
    assert pd.Timestamp(request.params["start"]) == OPEN


def test_signals_equal_the_simulators_for_the_same_bars_apart_from_the_assumed_spread(stub: Stub) -> None:
    ours = source(stub).fetch_window(*WINDOW)
    theirs = SIM.signals(*WINDOW)

    same = ["symbol", "event_ts", "seq", "price", "close", "vwap", "volume"]
    same += [c for c in INDICATOR_COLUMNS if not c.startswith("imbalance")]
    pd.testing.assert_frame_equal(ours[same], theirs[same])
    assert (ours["imbalance_spread"] / ours["close"] * 1e4).round(9).eq(2.0).all()


def test_window_slice_equals_the_same_rows_of_a_whole_session_computation(stub: Stub) -> None:
    alpaca = source(stub)
    whole = alpaca.fetch_window(OPEN, CLOSE + MINUTE)
    window = alpaca.fetch_window(*WINDOW)

    expected = whole[whole["event_ts"].between(*WINDOW, inclusive="left")].reset_index(drop=True)
    assert len(whole) == len(session_bars())
    pd.testing.assert_frame_equal(window, expected)


def test_a_two_page_answer_is_stitched_and_extended_hours_are_dropped(stub: Stub) -> None:
    stub.page_size = math.ceil(len(session_bars()) / 2) + 12

    bars = source(stub).bars(pd.Timestamp("2026-02-24 05:00", tz="UTC"), pd.Timestamp("2026-02-25", tz="UTC"))

    assert len(stub.requests) == 2
    assert "page_token" not in stub.requests[0].params
    assert stub.requests[1].params["page_token"] == str(stub.page_size)
    expected = session_bars().assign(spread_bps=2.0)
    pd.testing.assert_frame_equal(bars, expected[list(BAR_COLUMNS)])


def test_symbols_the_api_does_not_return_have_no_rows(stub: Stub) -> None:
    stub.bars = {s: bars for s, bars in served_bars().items() if s != "MSFT"}

    signals = source(stub).fetch_window(*WINDOW)

    assert set(signals["symbol"]) == set(DEFAULT_UNIVERSE) - {"MSFT"}


@pytest.mark.parametrize(
    ("start", "end"),
    [
        ("2026-02-28 14:00", "2026-02-28 20:00"),  # Saturday
        ("2026-02-24 21:01", "2026-02-25 14:30"),  # overnight
        ("2026-02-16 15:00", "2026-02-16 16:00"),  # Washington's Birthday
    ],
)
def test_a_closed_market_window_makes_no_request(stub: Stub, start: str, end: str) -> None:
    alpaca = source(stub)
    window = (pd.Timestamp(start, tz="UTC"), pd.Timestamp(end, tz="UTC"))

    signals = alpaca.fetch_window(*window)
    bars = alpaca.bars(*window)

    assert signals.empty and list(signals.columns) == list(SIGNAL_COLUMNS)
    assert bars.empty and list(bars.columns) == list(BAR_COLUMNS)
    assert stub.requests == []


def test_a_slow_source_times_out_as_source_timeout_within_bounded_time(stub: Stub) -> None:
    stub.delay = 5.0

    error, elapsed = failure(lambda: source(stub, timeout_seconds=FAST_TIMEOUT).fetch_window(*WINDOW))

    assert error.reason == "source_timeout"
    assert elapsed < 5 * FAST_TIMEOUT


@pytest.mark.parametrize("status", [401, 403])
def test_rejected_credentials_are_source_auth_failed(stub: Stub, status: int) -> None:
    stub.status, stub.body = status, '{"message": "forbidden."}'

    error, _ = failure(lambda: source(stub).fetch_window(*WINDOW))

    assert error.reason == "source_auth_failed"


def test_a_server_error_is_source_http_500_without_retry_sleeps(stub: Stub) -> None:
    stub.status, stub.body = 500, '{"code": 50010000, "message": "internal server error"}'

    error, elapsed = failure(lambda: source(stub).fetch_window(*WINDOW))

    assert error.reason == "source_http_500"
    assert len(stub.requests) == 1
    assert elapsed < 1.0


def test_a_rate_limit_is_retried_once_after_a_short_wait(stub: Stub) -> None:
    stub.script = [(429, '{"message": "too many requests."}')]
    began = time.monotonic()

    signals = source(stub).fetch_window(*WINDOW)

    assert len(stub.requests) == 2
    assert not signals.empty
    assert time.monotonic() - began < 2.0


def test_a_persistent_rate_limit_gives_up_after_one_retry(stub: Stub) -> None:
    stub.status, stub.body = 429, '{"message": "too many requests."}'

    error, elapsed = failure(lambda: source(stub).fetch_window(*WINDOW))

    assert error.reason == "source_http_429"
    assert len(stub.requests) == 2
    assert elapsed < 2.0


_BAR = '{"t": "2026-02-24T15:00:00Z", "o": 1.0, "h": 1.0, "l": 1.0, "c": 1.0, "v": 10, "n": 1, "vw": 1.0}'


@pytest.mark.parametrize(
    "body",
    [
        "<html>bad gateway</html>",
        '{"bars": {"AAPL": [',
        "null",
        "[]",
        '{"unexpected": {}}',
        '{"bars": {}, "quotes": {}}',
        '{"bars": null, "next_page_token": null}',
        '{"bars": {"AAPL": [{"t": "soon", "o": 1, "h": 1, "l": 1, "c": 1, "v": 1}]}}',
        '{"bars": {"AAPL": [{"t": "2026-02-24T15:00:00Z", "o": 1, "h": 1, "l": 1, "v": 1}]}}',
        '{"bars": {"AAPL": [' + _BAR.replace('"o": 1.0', '"o": "NaN"') + "]}}",
        '{"bars": {"AAPL": [' + _BAR.replace('"v": 10', '"v": -10') + "]}}",
    ],
)
def test_an_undecodable_or_misshapen_payload_is_source_payload_invalid(stub: Stub, body: str) -> None:
    stub.body = body

    error, _ = failure(lambda: source(stub).fetch_window(*WINDOW))

    assert error.reason == "source_payload_invalid"


def test_a_refused_connection_is_source_unavailable() -> None:
    alpaca = AlpacaBarsSignalSource(
        api_key=KEY, secret_key=SECRET, universe=("AAPL",), url_override=f"http://127.0.0.1:{closed_port()}"
    )

    error, elapsed = failure(lambda: alpaca.fetch_window(*WINDOW))

    assert error.reason == "source_unavailable"
    assert elapsed < 2.0


@pytest.mark.parametrize(
    ("api_key", "secret_key", "setting"),
    [("", SECRET, "APCA_API_KEY_ID"), (KEY, "", "APCA_API_SECRET_KEY"), ("  ", "  ", "APCA_API_KEY_ID")],
)
def test_missing_keys_raise_value_error_naming_the_env_var(
    api_key: str, secret_key: str, setting: str
) -> None:
    with pytest.raises(ValueError, match=setting):
        AlpacaBarsSignalSource(api_key=api_key, secret_key=secret_key, universe=("AAPL",))


def test_the_secret_never_appears_in_error_text_or_repr(stub: Stub) -> None:
    stub.status, stub.echo_headers = 401, True
    errors = [failure(lambda: source(stub).fetch_window(*WINDOW))[0]]
    stub.echo_headers, stub.status, stub.delay = False, 200, 5.0
    errors.append(failure(lambda: source(stub, timeout_seconds=FAST_TIMEOUT).fetch_window(*WINDOW))[0])
    refused = source(stub, url_override=f"http://127.0.0.1:{closed_port()}")
    errors.append(failure(lambda: refused.fetch_window(*WINDOW))[0])

    assert SECRET in stub.requests[0].headers["APCA-API-SECRET-KEY"]
    assert [e.reason for e in errors] == ["source_auth_failed", "source_timeout", "source_unavailable"]
    for error in errors:
        text = "".join(traceback.format_exception(error)) + repr(error) + error.detail
        assert SECRET not in text
    assert SECRET not in repr(refused) and SECRET not in str(refused)


def test_every_request_carries_the_auth_headers(stub: Stub) -> None:
    source(stub).fetch_window(*WINDOW)

    (request,) = stub.requests
    assert request.headers["APCA-API-KEY-ID"] == KEY
    assert request.headers["APCA-API-SECRET-KEY"] == SECRET


@pytest.mark.parametrize(
    "as_of",
    [
        "2026-02-24 16:07:30",  # mid-session: the bar that started 16:06 closed at 16:07
        "2026-02-24 22:30:00",  # after the close, past the after-hours prints
        "2026-02-25 13:00:00",  # next morning before the open: the previous session's last bar
    ],
)
def test_newest_signal_ts_is_the_close_of_the_newest_closed_regular_bar(stub: Stub, as_of: str) -> None:
    at = pd.Timestamp(as_of, tz="UTC")

    newest = source(stub).newest_signal_ts(at)

    assert newest == SIM.newest_signal_ts(at)
    (request,) = stub.requests
    assert pd.Timestamp(request.params["start"]) == OPEN
    assert pd.Timestamp(request.params["end"]) <= at - MINUTE


def test_newest_signal_ts_is_none_when_the_session_printed_nothing(stub: Stub) -> None:
    stub.bars = {}

    assert source(stub).newest_signal_ts(pd.Timestamp("2026-02-24 18:00", tz="UTC")) is None
    assert len(stub.requests) == 1
