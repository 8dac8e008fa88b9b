"""Specification of the Alpaca paper venue against a stub of Alpaca's trading API on 127.0.0.1."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pandas as pd
import pytest
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import OrderSide, OrderStatus, TimeInForce
from alpaca.trading.models import Clock, Order, Position, TradeAccount
from alpaca.trading.requests import CancelOrderResponse, LimitOrderRequest

from torghut_assets.adapters import alpaca_trading
from torghut_assets.adapters.alpaca_trading import AlpacaPaperVenue
from torghut_assets.domain.orders import (
    AccountVenue,
    CancellingVenue,
    ExecutionVenue,
    OrderListingVenue,
    OrderLookupVenue,
    OrderRequest,
    VenueError,
)
from torghut_assets_tests.adapters.alpaca_trading_stub import KEY_ID, SECRET_KEY, AlpacaTradingStub, FakeClock

TIMEOUT = 0.3


class RecordingSleep:
    """Stands in for time.sleep: records the durations, waits for none."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


@pytest.fixture
def stub() -> Iterator[AlpacaTradingStub]:
    with AlpacaTradingStub() as running:
        yield running


@pytest.fixture
def sleep() -> RecordingSleep:
    return RecordingSleep()


@pytest.fixture
def venue(stub: AlpacaTradingStub, sleep: RecordingSleep) -> AlpacaPaperVenue:
    return AlpacaPaperVenue(
        api_key=KEY_ID, secret_key=SECRET_KEY, url_override=stub.url, timeout_seconds=TIMEOUT, sleep=sleep
    )


def make_order(
    cid: str = "a" * 64, symbol: str = "AAPL", side: str = "buy", qty: int = 10, **kwargs: object
) -> OrderRequest:
    fields: dict[str, object] = {
        "client_order_id": cid,
        "symbol": symbol,
        "side": side,
        "qty": qty,
        "order_type": "market",
        "time_in_force": "day",
        "arrival_price": 100.0,
        "submitted_at": pd.Timestamp("2026-03-03 15:00", tz="UTC"),
        "correlation_id": "corr-1",
        **kwargs,
    }
    return OrderRequest(**fields)  # type: ignore[arg-type]


def failure_of(venue: AlpacaPaperVenue, order: OrderRequest) -> VenueError:
    with pytest.raises(VenueError) as caught:
        venue.submit(order)
    return caught.value


# --- placing ----------------------------------------------------------------------------------------------


def test_the_venue_implements_the_execution_lookup_cancelling_and_account_protocols(
    venue: AlpacaPaperVenue,
) -> None:
    for protocol in (ExecutionVenue, OrderLookupVenue, OrderListingVenue, CancellingVenue, AccountVenue):
        assert isinstance(venue, protocol)
    assert venue.name == "alpaca"


def test_a_market_order_is_placed_with_the_decision_client_order_id_and_auth_headers(
    venue: AlpacaPaperVenue, stub: AlpacaTradingStub
) -> None:
    report = venue.submit(make_order())

    (post,) = stub.requests_to("/v2/orders", "POST")
    assert post.body == {
        "symbol": "AAPL",
        "qty": 10.0,
        "side": "buy",
        "type": "market",
        "time_in_force": "day",
        "client_order_id": "a" * 64,
    }
    assert post.headers["APCA-API-KEY-ID"] == KEY_ID
    assert post.headers["APCA-API-SECRET-KEY"] == SECRET_KEY
    assert (report.venue, report.client_order_id, report.symbol, report.side) == (
        "alpaca",
        "a" * 64,
        "AAPL",
        "buy",
    )
    assert report.order_id == stub.order_for("a" * 64)["id"]  # type: ignore[index]


def test_a_limit_order_carries_its_limit_price_at_the_penny_tick(
    venue: AlpacaPaperVenue, stub: AlpacaTradingStub
) -> None:
    venue.submit(make_order(order_type="limit", limit_price=100.0149))

    (post,) = stub.requests_to("/v2/orders", "POST")
    assert (post.body["type"], post.body["limit_price"]) == ("limit", 100.01)


# --- fills ------------------------------------------------------------------------------------------------


def test_fills_come_from_the_activities_feed_qty_weighted_over_partial_fill_activities(
    venue: AlpacaPaperVenue, stub: AlpacaTradingStub
) -> None:
    venue.submit(make_order(cid="other-order", qty=7))  # its fills share the feed and must not count
    report = venue.submit(make_order())

    fills = stub.fills_of(report.order_id)
    assert [(f["type"], f["qty"], f["price"]) for f in fills] == [
        ("partial_fill", "4", "100.01"),
        ("fill", "6", "100.03"),
    ]
    assert report.filled_qty == 10
    assert report.avg_fill_price == pytest.approx((4 * 100.01 + 6 * 100.03) / 10)
    assert report.status == "filled"
    assert report.filled_at == pd.Timestamp(fills[-1]["transaction_time"])
    assert report.fees == 0.0
    assert [f["id"] for f in report.raw["fills"]] == [f["id"] for f in fills]
    assert report.raw["order"]["id"] == report.order_id
    activity_reads = stub.requests_to("/v2/account/activities/FILL")
    assert activity_reads[-1].query["direction"] == "asc"


def test_fills_are_read_across_pages_of_the_activities_feed_and_no_further_than_the_orders_own(
    venue: AlpacaPaperVenue, stub: AlpacaTradingStub, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(alpaca_trading, "ACTIVITY_PAGE_SIZE", 2)
    for n in range(2):
        venue.submit(make_order(cid=f"earlier-{n}"))
    for _ in range(5):  # later fills of other orders on the account: never read
        stub.book_fill("MSFT", "buy", 1, 400.0)
    placed = venue.submit(make_order())
    for _ in range(5):
        stub.book_fill("MSFT", "buy", 1, 400.0)
    stub.requests.clear()

    report = venue.find_order(make_order())

    assert report is not None and (report.filled_qty, report.raw["fills_complete"]) == (10, True)
    assert report.avg_fill_price == placed.avg_fill_price
    reads = stub.requests_to("/v2/account/activities/FILL")
    # from a second before the order's creation: at most 4 earlier fills (fewer when the machine is slow
    # and they fall outside that second), 5 other ones, then the order's 2 — 6 pages of 2 at most; the
    # walk stops on the page that completes the order's filled_qty, never reaching the 5 later fills
    tokens = [r.query.get("page_token") is not None for r in reads]
    assert tokens[0] is False and all(tokens[1:]) and 4 <= len(reads) <= 6
    assert {"after", "until"} <= reads[0].query.keys()  # the order is final: bounded on both sides


def test_a_partial_fill_reports_60_percent_after_polling_every_attempt(
    venue: AlpacaPaperVenue, stub: AlpacaTradingStub, sleep: RecordingSleep
) -> None:
    stub.mode = "partial"

    report = venue.submit(make_order())

    assert (report.filled_qty, report.submitted_qty, report.status) == (6, 10, "partially_filled")
    assert len(stub.requests_to("/v2/account/activities/FILL")) == 3
    assert len([r for r in stub.requests_to("/v2/orders/", "GET")]) == 3  # the order, each attempt
    assert sleep.calls == [0.5, 0.5]


def test_an_order_still_open_with_nothing_filled_reads_no_fills(
    venue: AlpacaPaperVenue, stub: AlpacaTradingStub, sleep: RecordingSleep
) -> None:
    stub.mode = "accept"

    report = venue.submit(make_order())

    assert (report.filled_qty, report.avg_fill_price, report.status) == (0, None, "accepted")
    assert stub.requests_to("/v2/account/activities/FILL") == []
    assert sleep.calls == [0.5, 0.5]


def test_fills_the_feed_never_shows_fall_back_to_the_orders_own_aggregate(
    venue: AlpacaPaperVenue, stub: AlpacaTradingStub
) -> None:
    stub.activity_lag_polls = 3  # longer than the venue polls

    report = venue.submit(make_order())

    order = stub.order_for("a" * 64)
    assert order is not None
    assert (report.filled_qty, report.raw["fills_complete"], report.raw["fills"]) == (10, False, [])
    assert report.avg_fill_price == pytest.approx(float(order["filled_avg_price"]))
    assert report.filled_at == pd.Timestamp(order["filled_at"])


def test_fills_lagging_the_order_are_picked_up_by_a_later_poll(
    venue: AlpacaPaperVenue, stub: AlpacaTradingStub, sleep: RecordingSleep
) -> None:
    stub.activity_lag_polls = 1

    report = venue.submit(make_order())

    assert report.filled_qty == 10
    assert sleep.calls == [0.5]


def test_a_failure_reading_fills_names_the_list_fills_operation(
    venue: AlpacaPaperVenue, stub: AlpacaTradingStub
) -> None:
    stub.script("fill", "fill", "http_500")  # the POST, the order read, then the fills

    error = failure_of(venue, make_order())

    assert error.reason_code == "alpaca_list_fills_http_500"
    assert stub.submissions == 1


# --- idempotency and rate limits ----------------------------------------------------------------------


def test_a_duplicate_client_order_id_reports_the_existing_order_and_places_nothing(
    venue: AlpacaPaperVenue, stub: AlpacaTradingStub
) -> None:
    first = venue.submit(make_order())
    again = venue.submit(make_order())

    assert stub.submissions == 1
    assert len(stub.requests_to("/v2/orders", "POST")) == 2
    (lookup,) = stub.requests_to("/v2/orders:by_client_order_id")
    assert lookup.query == {"client_order_id": "a" * 64}
    assert (again.order_id, again.filled_qty, again.avg_fill_price) == (
        first.order_id,
        first.filled_qty,
        first.avg_fill_price,
    )
    assert again.raw["idempotent_replay"] is True


def clocked_venue(stub: AlpacaTradingStub, clock: FakeClock, **kwargs: object) -> AlpacaPaperVenue:
    stub.clock = clock
    return AlpacaPaperVenue(
        api_key=KEY_ID,
        secret_key=SECRET_KEY,
        url_override=stub.url,
        timeout_seconds=TIMEOUT,
        sleep=clock.sleep,
        clock=clock,
        **kwargs,  # type: ignore[arg-type]
    )


def test_http_429_twice_is_retried_each_time_the_window_resets(stub: AlpacaTradingStub) -> None:
    clock = FakeClock()
    venue = clocked_venue(stub, clock)
    stub.rate_limit_reset_seconds = 1.0
    stub.script("http_429", "http_429")

    started = time.monotonic()
    report = venue.submit(make_order())

    assert report.filled_qty == 10
    assert len(stub.requests_to("/v2/orders", "POST")) == 3
    assert stub.submissions == 1
    assert clock.sleeps == [1.0, 1.0]  # X-RateLimit-Reset, one second ahead each time
    assert time.monotonic() - started < 1.0  # and alpaca-py's own 3 s sleeps are off


def test_a_reset_sooner_than_the_backoff_still_waits_the_backoff(stub: AlpacaTradingStub) -> None:
    clock = FakeClock()
    venue = clocked_venue(stub, clock)
    stub.rate_limit_reset_seconds = 0.0  # a reset "now": retrying at once would only hammer
    stub.script("http_429", "http_429")

    venue.submit(make_order())

    # the first reset is "now" (the 0.25 s backoff); after it the window resets at the next whole second
    assert clock.sleeps == [0.25, 0.75]


def test_http_429_forever_fails_after_max_retries(stub: AlpacaTradingStub) -> None:
    clock = FakeClock()
    venue = clocked_venue(stub, clock, max_rate_limit_retries=2)
    stub.mode = "http_429"

    error = failure_of(venue, make_order())

    assert error.reason_code == "alpaca_submit_order_http_429"
    assert len(stub.requests_to("/v2/orders", "POST")) == 3
    assert clock.sleeps == [1.0, 1.0]


# --- failure taxonomy -------------------------------------------------------------------------------------


def test_http_500_fails_at_once_as_http_500(venue: AlpacaPaperVenue, stub: AlpacaTradingStub) -> None:
    stub.mode = "http_500"

    error = failure_of(venue, make_order())

    assert error.reason_code == "alpaca_submit_order_http_500"
    assert len(stub.requests_to("/v2/orders", "POST")) == 1


def test_a_slow_server_is_a_timeout_within_a_few_timeouts(
    venue: AlpacaPaperVenue, stub: AlpacaTradingStub
) -> None:
    stub.mode = "timeout"

    started = time.monotonic()
    error = failure_of(venue, make_order())

    assert error.reason_code == "alpaca_submit_order_timeout"
    assert time.monotonic() - started < 5 * TIMEOUT


def test_connection_refused_is_a_network_error(sleep: RecordingSleep) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    venue = AlpacaPaperVenue(
        api_key=KEY_ID, secret_key=SECRET_KEY, url_override=f"http://127.0.0.1:{port}", sleep=sleep
    )

    assert failure_of(venue, make_order()).reason_code == "alpaca_submit_order_network_error"


def test_an_undecodable_answer_is_invalid_json(venue: AlpacaPaperVenue, stub: AlpacaTradingStub) -> None:
    stub.mode = "malformed_json"

    assert failure_of(venue, make_order()).reason_code == "alpaca_submit_order_invalid_json"


@pytest.mark.parametrize("mode", ["missing_id", "wrong_symbol", "wrong_client_order_id", "empty_body"])
def test_an_order_answer_breaking_the_contract_is_a_contract_violation(
    venue: AlpacaPaperVenue, stub: AlpacaTradingStub, mode: str
) -> None:
    stub.mode = mode

    assert failure_of(venue, make_order()).reason_code == "alpaca_submit_order_contract_violation"


# --- credentials ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("api_key", "secret_key", "env_var"),
    [("", SECRET_KEY, "APCA_API_KEY_ID"), (KEY_ID, "", "APCA_API_SECRET_KEY"), ("  ", "", "APCA_API_KEY_ID")],
)
def test_missing_keys_are_a_value_error_naming_the_env_var(
    api_key: str, secret_key: str, env_var: str
) -> None:
    with pytest.raises(ValueError, match=env_var):
        AlpacaPaperVenue(api_key=api_key, secret_key=secret_key)


def test_the_secret_never_appears_in_errors_or_repr(venue: AlpacaPaperVenue, stub: AlpacaTradingStub) -> None:
    stub.mode = "http_403"
    stub.error_body = {"message": f"forbidden for secret {SECRET_KEY}"}  # a server echoing it back

    error = failure_of(venue, make_order())

    assert error.reason_code == "alpaca_submit_order_http_403"
    for text in (str(error), error.detail, repr(error), repr(venue)):
        assert SECRET_KEY not in text


# --- health -----------------------------------------------------------------------------------------------


def test_healthy_when_the_clock_answers(venue: AlpacaPaperVenue) -> None:
    assert venue.healthy() is True


@pytest.mark.parametrize("health", ["down", "slow"])
def test_unhealthy_when_the_clock_fails_or_stalls_and_never_raises(
    venue: AlpacaPaperVenue, stub: AlpacaTradingStub, health: str
) -> None:
    stub.health = health

    started = time.monotonic()
    assert venue.healthy() is False
    assert time.monotonic() - started < 5 * TIMEOUT


# --- the stub itself --------------------------------------------------------------------------------------


def test_stub_answers_parse_with_alpaca_py_models(stub: AlpacaTradingStub) -> None:
    client = TradingClient(api_key=KEY_ID, secret_key=SECRET_KEY, paper=True, url_override=stub.url)
    request = LimitOrderRequest(
        symbol="MSFT", qty=3, side=OrderSide.SELL, time_in_force=TimeInForce.DAY, limit_price=99.5
    )

    placed = client.submit_order(request)
    fetched = client.get_order_by_id(placed.id)

    assert isinstance(placed, Order) and placed.status == OrderStatus.ACCEPTED
    assert isinstance(fetched, Order) and fetched.status == OrderStatus.FILLED
    assert client.get_order_by_client_id(placed.client_order_id).id == placed.id
    assert isinstance(client.get_clock(), Clock)
    assert isinstance(client.get_account(), TradeAccount)
    positions = client.get_all_positions()
    assert [(p.symbol, p.qty, p.side) for p in positions if isinstance(p, Position)] == [
        ("MSFT", "-3", "short")
    ]
    client.submit_order(
        LimitOrderRequest(
            symbol="AAPL", qty=1, side=OrderSide.BUY, time_in_force=TimeInForce.DAY, limit_price=1
        )
    )
    stub.mode = "accept"
    client.submit_order(
        LimitOrderRequest(
            symbol="AAPL", qty=1, side=OrderSide.BUY, time_in_force=TimeInForce.DAY, limit_price=1
        )
    )
    cancelled = client.cancel_orders()
    assert [type(c) for c in cancelled] == [CancelOrderResponse] and cancelled[0].status == 200
