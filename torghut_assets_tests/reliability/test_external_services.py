"""External services failing (issue 11, part 7): the LEAN runner, Alpaca trading, Alpaca market data and
the Jangar universe, each timing out and each answering garbage (not JSON, JSON of the wrong shape,
HTTP 500), against a local hostile server on 127.0.0.1.

Rules under test (docs/routing.md, docs/continuity.md):

- Every client call returns or raises a typed error within 3x its configured timeout (a wall-clock
  guard runs it in a thread; a call still running after the guard is a hang and fails the test).
  Whole Dagster runs against hostile servers are bounded by pytest-timeout.
- LEAN failing → one resubmission to the fallback venue (Alpaca, or the simulator on a laptop) with the
  reason `lean_<op>_<failure>`; a runner that does not answer `/healthz` gets no order, and each order
  counts as a LEAN attempt that fell back (`lean_runner_unhealthy`); when no venue accepts, the order is a row
  (`rejected`, `unplaced-<hash>`) carrying both failures.
- Market data failing → a classified empty window (`source_timeout`, `source_payload_invalid`,
  `source_http_500`); the Jangar universe failing → `universe_source_unavailable` (fail closed: no
  signal is admitted against a universe nobody vouches for).

LLM gateway faults are exercised in torghut_assets_tests/contracts/test_llm_gateway_contract.py.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any, Generic, TypeVar

import dagster as dg
import pandas as pd
import pytest
import sqlalchemy as sa

from torghut_assets.adapters.alpaca_market_data import AlpacaBarsSignalSource
from torghut_assets.adapters.alpaca_trading import AlpacaPaperVenue
from torghut_assets.adapters.jangar_universe import JangarUniverseClient
from torghut_assets.adapters.lean_runner import LeanRunnerVenue
from torghut_assets.adapters.market_simulator import MarketSimulator
from torghut_assets.adapters.order_router import route_order
from torghut_assets.adapters.paper_broker import SimulatedVenue
from torghut_assets.adapters.signal_source import SignalSourceUnavailable
from torghut_assets.defs.lane_window.executions import executions
from torghut_assets.defs.lane_window.partitions import lane_window_key
from torghut_assets.defs.lane_window.signals import signals
from torghut_assets.defs.lane_window.trading import trade_decisions
from torghut_assets.defs.lane_window.trading_session import TradingSessionResource
from torghut_assets.defs.resources import BrokerResource, LedgerResource, MarketDataResource
from torghut_assets.domain.orders import OrderRequest, VenueError
from torghut_assets.domain.routing import RouteChoice, RoutingPolicy, Venue, select_route
from torghut_assets.domain.universe_policy import (
    UNIVERSE_SOURCE_UNAVAILABLE,
    UniverseStatus,
    blocks_decisions,
)
from torghut_assets.ledger import schema
from torghut_assets.ledger.engine import create_ledger_engine
from torghut_assets_tests.adapters.alpaca_trading_stub import KEY_ID, SECRET_KEY, AlpacaTradingStub
from torghut_assets_tests.adapters.stub_server import StubServer
from torghut_assets_tests.defs.lane_window_harness import trading_as_open_window

TIMEOUT = 0.4  # the timeout every client under test is configured with
GUARD = 3 * TIMEOUT  # "never a hang": a call must be over by then
SLOW_SECONDS = 10.0  # how long a timing-out server would keep the caller waiting
# A whole Dagster run is guarded by pytest-timeout instead (SIGALRM in the main thread): a run in a
# worker thread would leave SQLite connections to be finalized in the wrong thread.
ASSET_GUARD = 60
pytestmark = pytest.mark.timeout(4 * ASSET_GUARD)  # backstop; the first ingest test sets up eight runs

TEN_AM = pd.Timestamp("2026-03-03 15:00", tz="UTC")  # Tuesday 10:00-11:00 New York
T = TypeVar("T")


# --- a hostile server -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes
    delay: float = 0.0
    content_type: str = "application/json"


@dataclass
class HostileServer(StubServer[None]):
    """Answers every request with `reply`, or with `routes[prefix]` for paths starting with a prefix."""

    quiet_errors = True  # a client hanging up on a slow answer is the point

    reply: Reply = field(default_factory=lambda: Reply(200, b"{}"))
    routes: dict[str, Reply] = field(default_factory=dict)
    paths: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.base_url

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                server.paths.append(self.path)
                reply = next((r for p, r in server.routes.items() if self.path.startswith(p)), server.reply)
                if reply.delay:
                    server.stopping.wait(reply.delay)
                self.send_response(reply.status)
                self.send_header("Content-Type", reply.content_type)
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)

            do_GET = do_POST = do_DELETE = _answer

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler


FAULTS = ("timeout", "non_json", "wrong_shape", "http_500")
# What each service sends for `wrong_shape`: valid JSON, but not what the contract says.
WRONG_SHAPES = {
    "lean": b'["not", "an", "order"]',
    "alpaca": b'["not", "an", "order"]',
    "alpaca_data": b'{"bars": "none", "next_page_token": 7}',
    "jangar": b'{"tickers": ["AAPL", "MSFT"]}',
}


def fault_reply(fault: str, service: str) -> Reply:
    return {
        "timeout": Reply(200, b"{}", delay=SLOW_SECONDS),
        "non_json": Reply(200, b"<html><body>502 Bad Gateway</body></html>", content_type="text/html"),
        "wrong_shape": Reply(200, WRONG_SHAPES[service]),
        "http_500": Reply(500, b'{"code": 50010000, "message": "internal server error"}'),
    }[fault]


@pytest.fixture
def hostile() -> Iterator[HostileServer]:
    with HostileServer() as server:
        yield server


# --- the wall-clock guard -------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome(Generic[T]):
    value: T | None
    error: BaseException | None
    elapsed: float


def guarded(call: Callable[[], T], limit: float = GUARD) -> Outcome[T]:
    """Run `call` in a thread; fail the test if it has not returned or raised within `limit` seconds."""
    box: dict[str, Any] = {}

    def run() -> None:
        started = time.monotonic()
        try:
            box["value"] = call()
        except BaseException as exc:  # handed to the test, which decides whether it was expected
            box["error"] = exc
        box["elapsed"] = time.monotonic() - started

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(limit)
    assert not worker.is_alive(), f"still waiting after {limit:.1f} s: the call hangs"
    return Outcome(box.get("value"), box.get("error"), box["elapsed"])


def raised(outcome: Outcome[Any], kind: type[BaseException]) -> Any:
    assert isinstance(outcome.error, kind), f"expected {kind.__name__}, got {outcome.error!r}"
    return outcome.error


# --- orders ---------------------------------------------------------------------------------------

BARS = MarketSimulator().bars(TEN_AM, TEN_AM + pd.Timedelta(hours=1))
FAILURE_OF = {"timeout": "timeout", "non_json": "invalid_json", "wrong_shape": "contract_violation"}


def failure_code(fault: str) -> str:
    return FAILURE_OF.get(fault, "http_500")


def order(client_order_id: str = "d" * 64) -> OrderRequest:
    return OrderRequest(
        client_order_id=client_order_id,
        symbol="AAPL",
        side="buy",
        qty=10,
        order_type="market",
        time_in_force="day",
        arrival_price=float(BARS.loc[BARS["symbol"] == "AAPL", "open"].iloc[5]),
        submitted_at=TEN_AM + pd.Timedelta(minutes=5),
        correlation_id="corr-reliability",
    )


def lean_at(url: str) -> LeanRunnerVenue:
    return LeanRunnerVenue(base_url=url, timeout_seconds=TIMEOUT, healthcheck_timeout_seconds=TIMEOUT)


def alpaca_at(url: str) -> AlpacaPaperVenue:
    return AlpacaPaperVenue(
        api_key=KEY_ID, secret_key=SECRET_KEY, url_override=url, timeout_seconds=TIMEOUT, sleep=lambda s: None
    )


def lean_first(fallback: str) -> RouteChoice:
    return RouteChoice(expected_adapter=Venue.LEAN, fallback_adapter=fallback)


# --- LEAN runner ----------------------------------------------------------------------------------


@pytest.mark.parametrize("fault", FAULTS)
def test_a_failing_lean_submit_is_a_typed_venue_error_within_the_guard(
    hostile: HostileServer, fault: str
) -> None:
    hostile.reply = fault_reply(fault, "lean")
    error = raised(guarded(lambda: lean_at(hostile.url).submit(order())), VenueError)
    assert error.reason_code == f"lean_submit_order_{failure_code(fault)}"


@pytest.mark.parametrize("fault", FAULTS)
def test_a_failing_lean_runner_falls_back_to_the_simulator_with_the_reason_recorded(
    hostile: HostileServer, fault: str
) -> None:
    hostile.reply = fault_reply(fault, "lean")
    venues = {Venue.LEAN: lean_at(hostile.url), Venue.SIMULATOR: SimulatedVenue(BARS)}
    routed = guarded(lambda: route_order(order(), lean_first(Venue.SIMULATOR), venues)).value
    reason = f"lean_submit_order_{failure_code(fault)}"
    assert routed is not None
    assert (routed.route.actual_adapter, routed.route.fallback_count, routed.route.fallback_reason) == (
        Venue.SIMULATOR,
        1,
        reason,
    )
    assert routed.report is not None and routed.report.venue == Venue.SIMULATOR
    assert routed.raw_route_payload()["attempts"][0] == {
        "venue": Venue.LEAN,
        "outcome": "failed",
        "reason": reason,
    }


def test_a_timed_out_lean_order_is_looked_up_before_falling_back(hostile: HostileServer) -> None:
    """The order may exist after a timeout: the router asks LEAN by client_order_id (which also times out
    here) before resubmitting, and both calls together still fit the guard."""
    hostile.reply = fault_reply("timeout", "lean")
    venues = {Venue.LEAN: lean_at(hostile.url), Venue.SIMULATOR: SimulatedVenue(BARS)}
    outcome = guarded(lambda: route_order(order(), lean_first(Venue.SIMULATOR), venues))
    assert outcome.value is not None and outcome.value.route.actual_adapter == Venue.SIMULATOR
    assert hostile.paths == ["/v1/orders/submit", f"/v1/orders/client/{order().client_order_id}"]


@pytest.mark.parametrize("fault", FAULTS)
def test_a_failing_lean_runner_falls_back_to_alpaca_paper_when_configured(
    hostile: HostileServer, fault: str
) -> None:
    hostile.reply = fault_reply(fault, "lean")
    with AlpacaTradingStub() as alpaca_stub:
        venues = {Venue.LEAN: lean_at(hostile.url), Venue.ALPACA: alpaca_at(alpaca_stub.url)}
        outcome = guarded(lambda: route_order(order(), lean_first(Venue.ALPACA), venues))
    routed = outcome.value
    assert routed is not None and routed.report is not None
    assert (routed.route.actual_adapter, routed.route.fallback_reason) == (
        Venue.ALPACA,
        f"lean_submit_order_{failure_code(fault)}",
    )
    assert alpaca_stub.submissions == 1


@pytest.mark.parametrize("fault", FAULTS)
def test_a_lean_runner_failing_its_health_check_gets_no_order_and_counts_as_a_fallback(
    hostile: HostileServer, fault: str
) -> None:
    hostile.reply = fault_reply(fault, "lean")
    healthy = guarded(lambda: lean_at(hostile.url).healthy())
    assert healthy.value is False
    choice = select_route(
        "AAPL",
        RoutingPolicy(),
        available=frozenset({Venue.LEAN, Venue.SIMULATOR}),
        lean_kill_switch=False,
        lean_healthy=bool(healthy.value),
        manual_review=frozenset(),
    )
    assert (choice.expected_adapter, choice.fallback_adapter, choice.primary_unavailable) == (
        Venue.LEAN,
        Venue.SIMULATOR,
        "lean_runner_unhealthy",
    )
    assert hostile.paths == ["/healthz"]


# --- Alpaca trading -------------------------------------------------------------------------------


@pytest.mark.parametrize("fault", FAULTS)
def test_a_failing_alpaca_submit_is_a_typed_venue_error_within_the_guard(
    hostile: HostileServer, fault: str
) -> None:
    hostile.reply = fault_reply(fault, "alpaca")
    error = raised(guarded(lambda: alpaca_at(hostile.url).submit(order())), VenueError)
    assert error.reason_code == f"alpaca_submit_order_{failure_code(fault)}"
    assert SECRET_KEY not in str(error)


@pytest.mark.parametrize("fault", FAULTS)
def test_a_failing_alpaca_api_reads_as_unhealthy_without_raising(hostile: HostileServer, fault: str) -> None:
    hostile.reply = fault_reply(fault, "alpaca")
    assert guarded(lambda: alpaca_at(hostile.url).healthy()).value is False


@pytest.mark.parametrize("fault", FAULTS)
def test_when_lean_and_alpaca_both_fail_the_order_is_unplaced_with_both_reasons(fault: str) -> None:
    with HostileServer(reply=fault_reply("http_500", "lean")) as lean, HostileServer() as alpaca:
        alpaca.reply = fault_reply(fault, "alpaca")
        venues = {Venue.LEAN: lean_at(lean.url), Venue.ALPACA: alpaca_at(alpaca.url)}
        routed = guarded(lambda: route_order(order(), lean_first(Venue.ALPACA), venues)).value
    assert routed is not None and routed.report is None
    assert routed.failure_reason == f"alpaca_submit_order_{failure_code(fault)}"
    assert [a["reason"] for a in routed.attempts] == [
        "lean_submit_order_http_500",
        f"alpaca_submit_order_{failure_code(fault)}",
    ]


# --- the executions asset, on both backends -------------------------------------------------------


def _run(assets: list[Any], url: str, tmp_path: Path, broker: BrokerResource) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        assets,
        partition_key=lane_window_key("macd_rsi", TEN_AM),
        resources={
            "ledger": LedgerResource(database_url=url, artifact_root=str(tmp_path)),
            "market_data": MarketDataResource(),
            "broker": broker,
            "trading_session": trading_as_open_window(TEN_AM),
        },
        instance=dg.DagsterInstance.ephemeral(),
    )


def _execution_rows(url: str) -> list[dict[str, Any]]:
    engine = create_ledger_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.select(schema.executions).where(schema.executions.c.lane == "macd_rsi"))
            found = [dict(r) for r in rows.mappings()]
    finally:
        engine.dispose()
    assert found, "the 10:00 window must plan orders"
    return found


@pytest.mark.timeout(ASSET_GUARD)
def test_a_lean_runner_that_never_answers_its_health_check_gets_no_order_and_every_row_says_so(
    ledger_url: str, tmp_path: Path, hostile: HostileServer
) -> None:
    _run([signals, trade_decisions], ledger_url, tmp_path, BrokerResource())
    hostile.reply = fault_reply("timeout", "lean")
    broker = BrokerResource(lean_runner_url=hostile.url, lean_timeout_seconds=TIMEOUT)
    assert _run([executions], ledger_url, tmp_path, broker).success
    rows = _execution_rows(ledger_url)
    assert {
        (r["execution_expected_adapter"], r["execution_actual_adapter"], r["execution_fallback_reason"])
        for r in rows
    } == {(Venue.LEAN, Venue.SIMULATOR, "lean_runner_unhealthy")}
    assert {r["raw_order"]["route"]["primary_unavailable"] for r in rows} == {"lean_runner_unhealthy"}
    assert hostile.paths == ["/healthz"], "one health probe, no order sent to an unhealthy runner"


@pytest.mark.timeout(ASSET_GUARD)
def test_orders_no_venue_accepts_are_stored_as_rejected_unplaced_rows(
    ledger_url: str, tmp_path: Path
) -> None:
    _run([signals, trade_decisions], ledger_url, tmp_path, BrokerResource())
    healthy = Reply(200, b'{"status": "ok"}')
    with (
        HostileServer(reply=fault_reply("http_500", "lean"), routes={"/healthz": healthy}) as lean,
        HostileServer(reply=fault_reply("non_json", "alpaca")) as alpaca,
    ):
        broker = BrokerResource(
            lean_runner_url=lean.url,
            lean_timeout_seconds=TIMEOUT,
            alpaca_api_key_id=KEY_ID,
            alpaca_secret_key=SECRET_KEY,
            alpaca_trading_url=alpaca.url,
            alpaca_timeout_seconds=TIMEOUT,
            paper_simulator_fallback=False,
        )
        assert _run([executions], ledger_url, tmp_path, broker).success
    for row in _execution_rows(ledger_url):
        assert (row["status"], row["filled_qty"]) == ("rejected", 0)
        assert row["alpaca_order_id"] == f"unplaced-{row['client_order_id'][:32]}"
        assert (row["execution_actual_adapter"], row["execution_fallback_reason"]) == (
            Venue.ALPACA,
            "lean_submit_order_http_500",
        )
        assert row["execution_audit_json"]["failure_reason"] == "alpaca_submit_order_invalid_json"


# --- Alpaca market data ---------------------------------------------------------------------------

DATA_REASON = {
    "timeout": "source_timeout",
    "non_json": "source_payload_invalid",
    "wrong_shape": "source_payload_invalid",
    "http_500": "source_http_500",
}


def alpaca_data_at(url: str) -> AlpacaBarsSignalSource:
    return AlpacaBarsSignalSource(
        api_key=KEY_ID,
        secret_key=SECRET_KEY,
        universe=("AAPL", "MSFT"),
        url_override=url,
        timeout_seconds=TIMEOUT,
    )


@pytest.mark.parametrize("fault", FAULTS)
def test_failing_alpaca_market_data_is_a_classified_source_error_within_the_guard(
    hostile: HostileServer, fault: str
) -> None:
    hostile.reply = fault_reply(fault, "alpaca_data")
    window = (TEN_AM, TEN_AM + pd.Timedelta(hours=1))
    error = raised(
        guarded(lambda: alpaca_data_at(hostile.url).fetch_window(*window)), SignalSourceUnavailable
    )
    assert error.reason == DATA_REASON[fault]
    assert SECRET_KEY not in error.detail


# --- Jangar universe ------------------------------------------------------------------------------

JANGAR_CAUSE = {
    "timeout": "jangar_fetch_failed",
    "non_json": "jangar_payload_decode_failed",
    "wrong_shape": "jangar_payload_decode_failed",
    "http_500": "jangar_http_error",
}


@pytest.mark.parametrize("fault", FAULTS)
def test_a_failing_jangar_is_an_error_universe_that_blocks_decisions(
    hostile: HostileServer, fault: str
) -> None:
    hostile.reply = fault_reply(fault, "jangar")
    client = JangarUniverseClient(f"{hostile.url}/api/symbols", timeout_seconds=TIMEOUT)
    snapshot = guarded(client.get).value
    assert snapshot is not None
    assert (snapshot.status, snapshot.reason, snapshot.symbols) == (
        UniverseStatus.ERROR,
        JANGAR_CAUSE[fault],  # no good list ever fetched: the bare cause (reference universe.py)
        (),
    )
    assert blocks_decisions(snapshot) == UNIVERSE_SOURCE_UNAVAILABLE


# --- the signals asset, on both backends ----------------------------------------------------------


@dataclass
class IngestRun:
    url: str
    windows: dict[tuple[str, str], tuple[str, pd.Timestamp]] = field(default_factory=dict)
    results: dict[tuple[str, str], dg.ExecuteInProcessResult] = field(default_factory=dict)


def _materialize_signals(
    resources: dict[str, Any], lane: str, start: pd.Timestamp
) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [signals],
        partition_key=lane_window_key(lane, start),
        resources=resources,
        instance=dg.DagsterInstance.ephemeral(),
    )


@pytest.fixture(scope="module")
def ingest_runs(module_ledger_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[IngestRun]:
    """The `signals` asset once per (service, fault): market data faults on one lane, universe faults on
    the other, each fault in its own market-open window."""
    root = tmp_path_factory.mktemp("ingest")
    runs = IngestRun(url=module_ledger_url)
    for lane, service in (("macd_rsi", "alpaca_data"), ("ema_trend", "jangar")):
        for hour, fault in enumerate(FAULTS, start=15):
            start = pd.Timestamp(f"2026-03-03 {hour:02d}:00", tz="UTC")
            with HostileServer(reply=fault_reply(fault, service)) as server:
                if service == "alpaca_data":
                    market_data = MarketDataResource(
                        source="alpaca",
                        symbols=["AAPL", "MSFT"],
                        alpaca_api_key_id=KEY_ID,
                        alpaca_secret_key=SECRET_KEY,
                        alpaca_data_url=server.url,
                        timeout_seconds=TIMEOUT,
                    )
                else:
                    market_data = MarketDataResource(
                        universe_source="jangar",
                        jangar_url=f"{server.url}/api/symbols",
                        timeout_seconds=TIMEOUT,
                    )
                resources = {
                    "ledger": LedgerResource(database_url=module_ledger_url, artifact_root=str(root)),
                    "market_data": market_data,
                    "broker": BrokerResource(),
                    "trading_session": TradingSessionResource(),
                }
                runs.windows[service, fault] = (lane, start)
                runs.results[service, fault] = _materialize_signals(resources, lane, start)
    yield runs


def _verdict(runs: IngestRun, service: str, fault: str) -> dict[str, Any]:
    table = schema.signal_ingest_windows
    engine = create_ledger_engine(runs.url)
    try:
        with engine.connect() as conn:
            lane, start = runs.windows[service, fault]
            query = sa.select(table).where(
                table.c.lane == lane, table.c.window_start == start.to_pydatetime()
            )
            (row,) = conn.execute(query).mappings().all()
    finally:
        engine.dispose()
    return dict(row)


@pytest.mark.parametrize("fault", FAULTS)
def test_a_market_data_outage_is_a_classified_empty_window(ingest_runs: IngestRun, fault: str) -> None:
    assert ingest_runs.results["alpaca_data", fault].success
    verdict = _verdict(ingest_runs, "alpaca_data", fault)
    assert (verdict["signals_total"], verdict["no_signal_reason"]) == (0, DATA_REASON[fault])


@pytest.mark.parametrize("fault", FAULTS)
def test_a_universe_outage_fails_the_window_closed(ingest_runs: IngestRun, fault: str) -> None:
    result = ingest_runs.results["jangar", fault]
    assert result.success
    verdict = _verdict(ingest_runs, "jangar", fault)
    assert (verdict["signals_total"], verdict["no_signal_reason"]) == (0, UNIVERSE_SOURCE_UNAVAILABLE)
    metadata = result.asset_materializations_for_node("signals")[0].metadata
    assert metadata["universe"].value["reason"] == JANGAR_CAUSE[fault]  # type: ignore[index]
    assert verdict["no_signal_detail"] == f"{UNIVERSE_SOURCE_UNAVAILABLE}:error:{JANGAR_CAUSE[fault]}"
