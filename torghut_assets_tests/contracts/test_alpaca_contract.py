"""Alpaca's trading API as it really answers (fixtures/alpaca, recorded by alpaca-py's own test suite;
sources in SOURCES.md), against `AlpacaPaperVenue`.

The stub (`adapters/alpaca_trading_stub.py`) serves those recorded payloads with values substituted and
refuses requests as Alpaca does; `stub.override` serves a recording verbatim (or a broken variant of it).
What is pinned here, each a difference between the venue before this suite and Alpaca:

- a 429 carries `X-RateLimit-Reset` (epoch seconds): the venue waits for it, within a cap, else fails
  `http_429` at once (no real sleeping: a fake clock is the venue's and the stub's time);
- a short sale's fill says `side: sell_short`, its order `position_intent: sell_to_open`: a sell;
- the order lookup reads only the order's own stretch of the fill feed, however busy the account;
- the order's `commission` is the report's fees;
- the account and its positions (signed) are read; a failed position read is an error, never flat;
- cancels: one order (204 / 404 / 422), all orders (207 multi-status);
- the orders of a time range: every page of `GET /v2/orders?status=all&after&until` up to the short one,
  and the orders the range's FILL activities name (submitted earlier, filled inside);
- a wrong shape, a missing field, an error body or a timeout is a typed reason code, never a half report.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pandas as pd
import pytest
import requests
from alpaca.trading.client import TradingClient

from torghut_assets.adapters import alpaca_trading
from torghut_assets.adapters.alpaca_trading import AlpacaPaperVenue
from torghut_assets.domain.orders import OrderRequest, VenueError
from torghut_assets_tests.adapters.alpaca_trading_stub import (
    KEY_ID,
    REMOVE,
    SECRET_KEY,
    AlpacaTradingStub,
    FakeClock,
    recorded,
)

TIMEOUT = 0.3
CID = "c" * 64
HEADERS = {"APCA-API-KEY-ID": KEY_ID, "APCA-API-SECRET-KEY": SECRET_KEY}


@pytest.fixture
def stub() -> Iterator[AlpacaTradingStub]:
    with AlpacaTradingStub() as running:
        yield running


@pytest.fixture
def clock(stub: AlpacaTradingStub) -> FakeClock:
    fake = FakeClock()
    stub.clock = fake
    return fake


@pytest.fixture
def venue(stub: AlpacaTradingStub, clock: FakeClock) -> AlpacaPaperVenue:
    return AlpacaPaperVenue(
        api_key=KEY_ID,
        secret_key=SECRET_KEY,
        url_override=stub.url,
        timeout_seconds=TIMEOUT,
        sleep=clock.sleep,
        clock=clock,
    )


def make_order(cid: str = CID, symbol: str = "AAPL", side: str = "buy", qty: int = 10) -> OrderRequest:
    return OrderRequest(
        client_order_id=cid,
        symbol=symbol,
        side=side,
        qty=qty,
        order_type="market",
        time_in_force="day",
        arrival_price=100.0,
        submitted_at=pd.Timestamp("2026-03-03 15:00", tz="UTC"),
        correlation_id="corr-1",
    )


def failure(call: Callable[[], Any]) -> VenueError:
    with pytest.raises(VenueError) as caught:
        call()
    return caught.value


def recorded_order(**values: Any) -> dict[str, Any]:
    """The recorded order answer with only these values changed."""
    order: dict[str, Any] = recorded("order.json")
    order.update(values)
    return order


# --- rate limits ------------------------------------------------------------------------------------


def test_a_429_waits_until_the_window_resets_then_places_the_order(
    venue: AlpacaPaperVenue, stub: AlpacaTradingStub, clock: FakeClock
) -> None:
    stub.rate_limit_reset_seconds = 3.0
    stub.script("http_429")

    report = venue.submit(make_order())

    assert clock.sleeps == [3.0]
    assert (report.filled_qty, stub.submissions) == (10, 1)
    (limited, placed) = stub.requests_to("/v2/orders", "POST")
    assert limited.body == placed.body


def test_a_reset_beyond_the_cap_fails_at_once_as_http_429_without_sleeping(
    venue: AlpacaPaperVenue, stub: AlpacaTradingStub, clock: FakeClock
) -> None:
    stub.rate_limit_reset_seconds = 30.0  # the venue's cap is 10 s
    stub.mode = "http_429"

    error = failure(lambda: venue.submit(make_order()))

    assert error.reason_code == "alpaca_submit_order_http_429"
    assert "resets in 30" in error.detail and "x-ratelimit-remaining=0" in error.detail
    assert clock.sleeps == []
    assert (len(stub.requests_to("/v2/orders", "POST")), stub.submissions) == (1, 0)


def test_repeated_429s_wait_until_the_waits_would_pass_the_cap(
    venue: AlpacaPaperVenue, stub: AlpacaTradingStub, clock: FakeClock
) -> None:
    stub.rate_limit_reset_seconds = 4.0
    stub.mode = "http_429"

    error = failure(lambda: venue.account())

    assert error.reason_code == "alpaca_get_account_http_429"
    assert clock.sleeps == [4.0, 4.0]  # a third 4 s wait would make 12 s > 10 s
    assert len(stub.requests_to("/v2/account")) == 3


def test_the_cap_is_configurable(stub: AlpacaTradingStub, clock: FakeClock) -> None:
    venue = AlpacaPaperVenue(
        api_key=KEY_ID,
        secret_key=SECRET_KEY,
        url_override=stub.url,
        rate_limit_max_wait_seconds=60,
        sleep=clock.sleep,
        clock=clock,
    )
    stub.rate_limit_reset_seconds = 30.0
    stub.script("http_429")

    assert venue.positions() == []
    assert clock.sleeps == [30.0]


# --- short sales --------------------------------------------------------------------------------------


def test_a_short_sales_fills_reported_as_sell_short_are_a_sell(
    venue: AlpacaPaperVenue, stub: AlpacaTradingStub
) -> None:
    report = venue.submit(make_order(side="sell"))  # nothing held: Alpaca books a short sale

    order = stub.order_for(CID)
    assert order is not None and (order["side"], order["position_intent"]) == ("sell", "sell_to_open")
    assert {f["side"] for f in stub.fills_of(report.order_id)} == {"sell_short"}
    assert (report.side, report.filled_qty, report.raw["fills_complete"]) == ("sell", 10, True)
    assert [(p.symbol, p.qty) for p in venue.positions()] == [("AAPL", -10)]


def test_buying_back_a_short_is_a_buy_to_close(venue: AlpacaPaperVenue, stub: AlpacaTradingStub) -> None:
    venue.submit(make_order(cid="open-short", side="sell"))

    report = venue.submit(make_order(cid="cover", side="buy"))

    cover = stub.order_for("cover")
    assert cover is not None and cover["position_intent"] == "buy_to_close"
    assert report.filled_qty == 10 and venue.positions() == []


def test_a_sell_short_request_is_sent_as_a_sell_opening_a_position(
    venue: AlpacaPaperVenue, stub: AlpacaTradingStub
) -> None:
    report = venue.submit(make_order(side="sell_short"))

    (post,) = stub.requests_to("/v2/orders", "POST")
    assert (post.body["side"], post.body["position_intent"]) == ("sell", "sell_to_open")
    assert report.side == "sell"


@pytest.mark.parametrize(
    ("where", "answer"),
    [
        ("order", {"side": "sideways"}),
        ("order", {"position_intent": "sell_to_open"}),  # a buy that opens a short
        ("fill", {"side": "sell_plus"}),
        ("fill", {"side": "buy"}),  # the wrong way round for a sell
    ],
)
def test_an_unknown_or_contradictory_side_is_a_contract_violation(
    venue: AlpacaPaperVenue, stub: AlpacaTradingStub, where: str, answer: dict[str, Any]
) -> None:
    side = "sell" if where == "fill" else "buy"
    placed = venue.submit(make_order(side=side))
    order = stub.order_for(CID)
    assert order is not None
    if where == "order":
        stub.override("GET", "/v2/orders:by_client_order_id", {**order, **answer})
    else:
        fills = stub.fills_of(placed.order_id)
        stub.override("GET", "/v2/account/activities/FILL", [{**fills[0], **answer}, *fills[1:]])

    error = failure(lambda: venue.find_order(make_order(side=side)))

    op = "get_order_by_client_order_id" if where == "order" else "list_fills"
    assert error.reason_code == f"alpaca_{op}_contract_violation"


def test_selling_more_than_held_is_alpacas_insufficient_qty_refusal(
    venue: AlpacaPaperVenue, stub: AlpacaTradingStub
) -> None:
    venue.submit(make_order(cid="buy-5", qty=5))

    error = failure(lambda: venue.submit(make_order(cid="sell-10", side="sell")))

    assert error.reason_code == "alpaca_submit_order_http_403"
    assert "insufficient qty available for order (requested: 10, available: 5)" in error.detail
    assert stub.submissions == 1


def test_a_short_sale_on_an_account_without_shorting_is_refused(
    venue: AlpacaPaperVenue, stub: AlpacaTradingStub
) -> None:
    stub.shorting_enabled = False

    error = failure(lambda: venue.submit(make_order(side="sell")))

    assert error.reason_code == "alpaca_submit_order_http_403"
    assert "account is not allowed to short" in error.detail


# --- order lookup on a busy account -------------------------------------------------------------------


def test_the_lookup_finds_an_order_past_a_page_of_earlier_fills_without_walking_the_later_ones(
    venue: AlpacaPaperVenue, stub: AlpacaTradingStub
) -> None:
    for _ in range(150):  # other orders' fills in the second before ours: our fills are on page two
        stub.book_fill("MSFT", "buy", 1, 400.0)
    placed = venue.submit(make_order())
    for _ in range(1_200):  # twelve pages of later fills: a busy account
        stub.book_fill("MSFT", "buy", 1, 400.0)
    stub.requests.clear()

    report = venue.find_order(make_order())

    assert report is not None and report.order_id == placed.order_id
    assert (report.filled_qty, report.avg_fill_price) == (placed.filled_qty, placed.avg_fill_price)
    reads = stub.requests_to("/v2/account/activities/FILL")
    assert len(reads) == 2 and reads[1].query["page_token"]
    assert reads[0].query["page_size"] == "100" and reads[0].query["direction"] == "asc"
    assert len(stub.requests_to("/v2/orders:by_client_order_id")) == 1


def test_an_order_alpaca_never_saw_is_none(venue: AlpacaPaperVenue) -> None:
    assert venue.find_order(make_order()) is None


def test_open_orders_are_listed_page_by_page_on_the_submission_time(
    venue: AlpacaPaperVenue, stub: AlpacaTradingStub, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(alpaca_trading, "ORDER_PAGE_LIMIT", 2)
    venue.submit(make_order(cid="filled"))
    stub.mode = "accept"
    for n in range(5):
        venue.submit(make_order(cid=f"open-{n}", symbol="MSFT", qty=n + 1))

    listed = venue.list_open_orders()

    assert [r.client_order_id for r in listed] == [f"open-{n}" for n in range(5)]
    first = listed[0]
    assert (first.symbol, first.side, first.submitted_qty, first.filled_qty, first.status) == (
        "MSFT",
        "buy",
        1,
        0,
        "accepted",
    )
    reads = stub.requests_to("/v2/orders", "GET")
    reads = [r for r in reads if r.path == "/v2/orders"]
    assert [r.query["limit"] for r in reads] == ["2"] * len(reads)
    assert {r.query["status"] for r in reads} == {"open"} and "after" in reads[-1].query


# --- listing the orders of a time range (nightly reconciliation walks the venue's side) ------------------

RANGE_START = pd.Timestamp("2026-03-03 15:00", tz="UTC")
RANGE_END = pd.Timestamp("2026-03-03 16:00", tz="UTC")


def test_an_orders_listing_is_read_from_the_recorded_shape_and_paging_stops_at_the_end_of_the_range(
    venue: AlpacaPaperVenue, stub: AlpacaTradingStub, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(alpaca_trading, "ORDER_PAGE_LIMIT", 2)
    stub.hold_order("before", "AAPL", "buy", 1, RANGE_START - pd.Timedelta(seconds=1), fill_price=190.0)
    for n in range(5):  # three pages of two: the last one short
        at = RANGE_START + pd.Timedelta(minutes=10 * n)
        stub.hold_order(f"in-range-{n}", "MSFT", "sell" if n % 2 else "buy", n + 1, at, fill_price=400.0)
    stub.hold_order("at-the-end", "AAPL", "buy", 1, RANGE_END, fill_price=190.0)  # `until` is exclusive

    listed = venue.orders_between(RANGE_START, RANGE_END)

    assert [r.client_order_id for r in listed] == [f"in-range-{n}" for n in range(5)]
    second = listed[1]
    assert (second.symbol, second.side, second.submitted_qty, second.filled_qty, second.status) == (
        "MSFT",
        "sell",
        2,
        2,
        "filled",
    )
    assert second.avg_fill_price == 400.0 and second.raw["listed_by"] == "submitted"
    pages = [r.query for r in stub.requests_to("/v2/orders", "GET") if r.path == "/v2/orders"]
    assert {(q["status"], q["direction"], q["limit"], q["until"]) for q in pages} == {
        ("all", "asc", "2", "2026-03-03T16:00:00.000000Z")
    }
    # Each page restarts a microsecond before the previous page's newest order (`after` is exclusive,
    # and orders may share an instant), so it repeats that one; the page holding only in-range-4 is
    # short, and nothing is asked after it.
    assert [q["after"] for q in pages] == [
        "2026-03-03T14:59:59.999999Z",
        "2026-03-03T15:09:59.999999Z",
        "2026-03-03T15:19:59.999999Z",
        "2026-03-03T15:29:59.999999Z",
        "2026-03-03T15:39:59.999999Z",
    ]


def test_an_order_submitted_before_the_range_but_filled_inside_it_is_listed(
    venue: AlpacaPaperVenue, stub: AlpacaTradingStub
) -> None:
    placed = stub.hold_order(
        "gtc-order",
        "AAPL",
        "buy",
        3,
        RANGE_START - pd.Timedelta(days=2),
        fill_price=191.5,
        filled_at=RANGE_START + pd.Timedelta(minutes=1),
    )

    (listed,) = venue.orders_between(RANGE_START, RANGE_END)

    assert (listed.order_id, listed.client_order_id, listed.filled_qty) == (placed["id"], "gtc-order", 3)
    assert listed.raw["listed_by"] == "fill"
    assert stub.requests_to(f"/v2/orders/{placed['id']}", "GET")


def test_the_recorded_orders_listing_is_read_verbatim(
    venue: AlpacaPaperVenue, stub: AlpacaTradingStub
) -> None:
    stub.override("GET", "/v2/orders", recorded("orders.json"))
    recorded_at = pd.Timestamp("2019-08-24T14:15:22Z")

    (listed,) = venue.orders_between(recorded_at, recorded_at + pd.Timedelta(hours=1))

    assert (listed.order_id, listed.client_order_id, listed.symbol, listed.status) == (
        "0b11f089-722d-4ced-9beb-e2eeed3637dc",
        "string",
        "SPY",
        "new",
    )
    assert (listed.submitted_qty, listed.filled_qty, listed.avg_fill_price) == (1, 0, None)


def test_an_order_outside_the_range_asked_for_is_a_contract_violation(
    venue: AlpacaPaperVenue, stub: AlpacaTradingStub
) -> None:
    stub.override("GET", "/v2/orders", recorded("orders.json"))  # submitted in 2019

    error = failure(lambda: venue.orders_between(RANGE_START, RANGE_END))

    assert error.reason_code == "alpaca_list_orders_contract_violation"
    assert "outside the range" in error.detail


@pytest.mark.parametrize(
    "query",
    [{"status": "filled"}, {"direction": "up"}, {"after": "yesterday"}, {"limit": 0}],
)
def test_the_stub_refuses_an_orders_listing_alpaca_refuses(
    stub: AlpacaTradingStub, query: dict[str, Any]
) -> None:
    answer = requests.get(f"{stub.url}/v2/orders", params=query, headers=HEADERS, timeout=5)

    assert answer.status_code == 422


# --- commission -----------------------------------------------------------------------------------------


def test_the_orders_commission_is_the_reports_fees(venue: AlpacaPaperVenue, stub: AlpacaTradingStub) -> None:
    stub.commission = 1.25

    report = venue.submit(make_order())

    assert report.fees == 1.25
    assert venue.find_order(make_order()).fees == 1.25  # type: ignore[union-attr]


def test_the_recorded_order_with_its_numeric_qty_and_commission_is_read(
    venue: AlpacaPaperVenue, stub: AlpacaTradingStub
) -> None:
    stub.override(
        "GET", "/v2/orders:by_client_order_id", recorded_order(client_order_id=CID, symbol="AAPL")
    )  # verbatim but for the two values the request decides (the recording's symbol is "AAPL`")

    report = venue.find_order(make_order(qty=1))

    assert report is not None
    assert (report.order_id, report.submitted_qty, report.filled_qty, report.status, report.fees) == (
        "61e69015-8549-4bfd-b9c3-01e75843f47d",
        1,
        0,
        "accepted",
        1.25,
    )


def test_without_a_commission_field_the_fees_are_zero(
    venue: AlpacaPaperVenue, stub: AlpacaTradingStub
) -> None:
    stub.commission = None

    assert venue.submit(make_order()).fees == 0.0


@pytest.mark.parametrize("commission", ["n/a", -1.0, True])
def test_a_commission_that_is_not_a_fee_is_a_contract_violation(
    venue: AlpacaPaperVenue, stub: AlpacaTradingStub, commission: object
) -> None:
    stub.override(
        "GET",
        "/v2/orders:by_client_order_id",
        recorded_order(client_order_id=CID, symbol="AAPL", commission=commission),
    )

    error = failure(lambda: venue.find_order(make_order(qty=1)))

    assert error.reason_code == "alpaca_get_order_by_client_order_id_contract_violation"


# --- account and positions ------------------------------------------------------------------------------


def test_the_recorded_account_is_read(
    venue: AlpacaPaperVenue, stub: AlpacaTradingStub, clock: FakeClock
) -> None:
    stub.override("GET", "/v2/account", recorded("account.json"))

    account = venue.account()

    assert (account.account_id, account.equity, account.buying_power, account.cash) == (
        "e6fe16f3-64a4-4921-8928-cadf02f92f98",
        103820.56,
        262113.632,
        -23140.2,
    )
    assert (account.currency, account.status, account.shorting_enabled, account.trading_blocked) == (
        "USD",
        "ACTIVE",
        True,
        False,
    )
    assert account.as_of == pd.Timestamp(clock.now, unit="s", tz="UTC")


def test_the_account_follows_the_book(venue: AlpacaPaperVenue, stub: AlpacaTradingStub) -> None:
    stub.prices.update(AAPL=100.0, MSFT=50.0)
    venue.submit(make_order(cid="long"))
    venue.submit(make_order(cid="short", symbol="MSFT", side="sell"))

    account = venue.account()
    positions = {p.symbol: p for p in venue.positions()}

    assert {s: p.qty for s, p in positions.items()} == {"AAPL": 10, "MSFT": -10}
    assert positions["MSFT"].market_value == -500.0 and positions["AAPL"].market_value == 1000.0
    assert account.equity == pytest.approx(stub.cash + 1000.0 - 500.0)
    assert account.buying_power == pytest.approx(2 * account.equity - 1500.0)


@pytest.mark.parametrize("blocker", ["trading_blocked", "account_blocked", "trade_suspended_by_user"])
def test_any_of_alpacas_blocks_is_trading_blocked(
    venue: AlpacaPaperVenue, stub: AlpacaTradingStub, blocker: str
) -> None:
    stub.account_overrides[blocker] = True

    assert venue.account().trading_blocked is True


@pytest.mark.parametrize(
    "change",
    [{"equity": REMOVE}, {"buying_power": "a lot"}, {"trading_blocked": "false"}, {"id": None}],
)
def test_an_account_breaking_the_contract_is_a_contract_violation(
    venue: AlpacaPaperVenue, stub: AlpacaTradingStub, change: dict[str, Any]
) -> None:
    stub.account_overrides.update(change)

    assert failure(venue.account).reason_code == "alpaca_get_account_contract_violation"


def test_the_recorded_positions_are_read(venue: AlpacaPaperVenue, stub: AlpacaTradingStub) -> None:
    stub.override("GET", "/v2/positions", recorded("positions.json"))

    (position,) = venue.positions()

    assert (position.symbol, position.qty, position.avg_entry_price, position.market_value) == (
        "AAPL",
        5,
        100.0,
        600.0,
    )


def test_a_short_position_is_negative_whichever_sign_alpaca_sends(
    venue: AlpacaPaperVenue, stub: AlpacaTradingStub
) -> None:
    long_one = recorded("positions.json")[0]
    stub.override(
        "GET",
        "/v2/positions",
        [
            {**long_one, "symbol": "MSFT", "qty": "-3", "side": "short"},
            {**long_one, "symbol": "TSLA", "qty": "4", "side": "short"},
        ],
    )

    assert [(p.symbol, p.qty) for p in venue.positions()] == [("MSFT", -3), ("TSLA", -4)]


@pytest.mark.parametrize(
    ("fault", "failure_code"),
    [
        ("http_500", "http_500"),
        ("http_403", "http_403"),
        ("timeout", "timeout"),
        ("malformed_json", "invalid_json"),
        ("empty_body", "contract_violation"),
        ("drop_connection", "network_error"),
    ],
)
def test_a_failed_position_read_is_an_error_never_flat(
    venue: AlpacaPaperVenue, stub: AlpacaTradingStub, fault: str, failure_code: str
) -> None:
    venue.submit(make_order())  # something is held
    stub.mode = fault
    stub.delay_seconds = 2 * TIMEOUT

    error = failure(venue.positions)

    assert error.reason_code == f"alpaca_list_positions_{failure_code}"


@pytest.mark.parametrize(
    "answer",
    [
        {"symbol": "AAPL", "qty": "5"},  # an object, not a list
        [{"symbol": "AAPL", "side": "long"}],  # no qty
        [{"qty": "5", "side": "long"}],  # no symbol
        [{"symbol": "AAPL", "qty": "-5", "side": "long"}],
        [{"symbol": "AAPL", "qty": "5", "side": "flat"}],
        [{"symbol": "AAPL", "qty": "5", "market_value": "lots"}],
        [{"symbol": "AAPL", "qty": "5"}, {"symbol": "AAPL", "qty": "1"}],
        [{"symbol": "AAPL", "qty": "5"}, "MSFT"],
    ],
)
def test_a_position_report_of_the_wrong_shape_is_a_contract_violation_not_a_partial_list(
    venue: AlpacaPaperVenue, stub: AlpacaTradingStub, answer: Any
) -> None:
    stub.override("GET", "/v2/positions", answer)

    assert failure(venue.positions).reason_code == "alpaca_list_positions_contract_violation"


# --- cancels --------------------------------------------------------------------------------------------


def test_cancelling_an_open_order_is_accepted(venue: AlpacaPaperVenue, stub: AlpacaTradingStub) -> None:
    stub.mode = "accept"
    placed = venue.submit(make_order())

    outcome = venue.cancel_order(placed.order_id)

    assert (outcome.accepted, outcome.status, outcome.order_id) == (True, "http_204", placed.order_id)
    assert stub.orders[placed.order_id]["status"] == "canceled"
    (delete,) = stub.requests_to("/v2/orders/", "DELETE")
    assert delete.path == f"/v2/orders/{placed.order_id}"


def test_cancelling_a_filled_order_is_alpacas_422_refusal(
    venue: AlpacaPaperVenue, stub: AlpacaTradingStub
) -> None:
    placed = venue.submit(make_order())

    outcome = venue.cancel_order(placed.order_id)

    assert (outcome.accepted, outcome.status) == (False, "http_422")
    assert stub.orders[placed.order_id]["status"] == "filled"


def test_cancelling_an_unknown_order_is_the_recorded_404(venue: AlpacaPaperVenue) -> None:
    outcome = venue.cancel_order("72249bb6-6c89-4ea7-b8cf-73f1a140812b")

    assert (outcome.accepted, outcome.status) == (False, "http_404")
    assert "order not found" in outcome.detail


def test_a_cancel_that_fails_otherwise_raises(venue: AlpacaPaperVenue, stub: AlpacaTradingStub) -> None:
    stub.mode = "http_500"

    error = failure(lambda: venue.cancel_order("72249bb6-6c89-4ea7-b8cf-73f1a140812b"))

    assert error.reason_code == "alpaca_cancel_order_http_500"


def test_cancel_all_reports_each_order_of_the_multi_status_answer(
    venue: AlpacaPaperVenue, stub: AlpacaTradingStub
) -> None:
    stub.mode = "accept"
    open_ids = [venue.submit(make_order(cid=f"open-{n}")).order_id for n in range(2)]
    vanished = "72249bb6-6c89-4ea7-b8cf-73f1a140812b"
    stub.cancel_all_not_found.append(vanished)

    outcomes = venue.cancel_all_orders()

    assert [(o.order_id, o.accepted, o.status) for o in outcomes] == [
        (open_ids[0], True, "http_200"),
        (open_ids[1], True, "http_200"),
        (vanished, False, "http_404"),
    ]
    assert "order not found" in outcomes[2].detail
    assert all(stub.orders[i]["status"] == "canceled" for i in open_ids)


def test_the_recorded_cancel_all_answer_is_read(venue: AlpacaPaperVenue, stub: AlpacaTradingStub) -> None:
    stub.override("DELETE", "/v2/orders", recorded("cancel_all_orders_207.json"))

    outcomes = venue.cancel_all_orders()

    assert [(o.order_id, o.accepted, o.status) for o in outcomes] == [
        ("497f6eca-6276-4993-bfeb-53cbbbba6f08", True, "http_200"),
        ("72249bb6-6c89-4ea7-b8cf-73f1a140812b", False, "http_404"),
    ]


@pytest.mark.parametrize(
    "answer",
    [
        {"id": "497f6eca-6276-4993-bfeb-53cbbbba6f08", "status": 200},
        [{"id": "not-a-uuid", "status": 200}],
        [{"id": "497f6eca-6276-4993-bfeb-53cbbbba6f08", "status": "200"}],
    ],
)
def test_a_cancel_all_answer_of_the_wrong_shape_is_a_contract_violation(
    venue: AlpacaPaperVenue, stub: AlpacaTradingStub, answer: Any
) -> None:
    stub.override("DELETE", "/v2/orders", answer)

    assert failure(venue.cancel_all_orders).reason_code == "alpaca_cancel_all_orders_contract_violation"


# --- bad answers are typed failures ---------------------------------------------------------------------

OPERATIONS: dict[str, tuple[str, Callable[[AlpacaPaperVenue], Any]]] = {
    "submit": ("submit_order", lambda v: v.submit(make_order())),
    "find_order": ("get_order_by_client_order_id", lambda v: v.find_order(make_order())),
    "account": ("get_account", lambda v: v.account()),
    "positions": ("list_positions", lambda v: v.positions()),
    "open_orders": ("list_open_orders", lambda v: v.list_open_orders()),
    "orders_between": ("list_orders", lambda v: v.orders_between(RANGE_START, RANGE_END)),
    "cancel_all": ("cancel_all_orders", lambda v: v.cancel_all_orders()),
}
FAULTS = {
    "http_500": "http_500",
    "http_401": "http_401",
    "timeout": "timeout",
    "malformed_json": "invalid_json",
    "wrong_shape": "contract_violation",
}
PATHS = {
    "submit": ("POST", "/v2/orders"),
    "find_order": ("GET", "/v2/orders:by_client_order_id"),
    "account": ("GET", "/v2/account"),
    "positions": ("GET", "/v2/positions"),
    "open_orders": ("GET", "/v2/orders"),
    "orders_between": ("GET", "/v2/orders"),
    "cancel_all": ("DELETE", "/v2/orders"),
}


@pytest.mark.parametrize("operation", sorted(OPERATIONS))
@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_every_operation_turns_a_bad_answer_into_its_reason_code(
    venue: AlpacaPaperVenue, stub: AlpacaTradingStub, operation: str, fault: str
) -> None:
    op, call = OPERATIONS[operation]
    if operation == "find_order":
        venue.submit(make_order())  # else the answer is a 404, which is "not found", not a fault
    if fault == "wrong_shape":  # valid JSON, not what the contract says: a list for an object or back
        listing = ("open_orders", "orders_between", "cancel_all")
        stub.override(*PATHS[operation], "nothing" if operation in listing else [1])
    else:
        stub.mode = fault
        stub.delay_seconds = 2 * TIMEOUT

    error = failure(lambda: call(venue))

    assert error.reason_code == f"alpaca_{op}_{FAULTS[fault]}"
    assert SECRET_KEY not in str(error)


# --- the stub refuses what Alpaca refuses ---------------------------------------------------------------


def _post(stub: AlpacaTradingStub, **body: Any) -> requests.Response:
    order = {"symbol": "AAPL", "qty": "1", "side": "buy", "type": "market", "time_in_force": "day", **body}
    return requests.post(f"{stub.url}/v2/orders", json=order, headers=HEADERS, timeout=5)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"side": "sell_short"}, "invalid side"),
        ({"side": "BUY"}, "invalid side"),
        ({"type": "limit_on_close"}, "invalid order type"),
        ({"time_in_force": "gtd_forever"}, "invalid time_in_force"),
        ({"notional": "100"}, "exactly one of qty or notional"),
        ({"qty": None}, "exactly one of qty or notional"),
        ({"qty": "0"}, "qty must be > 0"),
        ({"qty": "0.5", "time_in_force": "gtc"}, "market day orders"),
        ({"qty": None, "notional": "50", "type": "limit", "limit_price": "10"}, "market day orders"),
        ({"type": "limit"}, "limit_price is required"),
        ({"type": "limit", "limit_price": 290.123}, "sub-penny increment"),
        ({"client_order_id": "x" * 129}, "at most 128 characters"),
        ({"position_intent": "sell_to_open"}, "invalid position_intent"),
    ],
)
def test_the_stub_refuses_an_order_alpaca_refuses(
    stub: AlpacaTradingStub, body: dict[str, Any], message: str
) -> None:
    answer = _post(stub, **body)

    assert answer.status_code == 422 and message in answer.json()["message"]
    assert stub.submissions == 0


def test_the_stub_refuses_pages_larger_than_alpacas(stub: AlpacaTradingStub) -> None:
    orders = requests.get(f"{stub.url}/v2/orders", params={"limit": 501}, headers=HEADERS, timeout=5)
    fills = requests.get(
        f"{stub.url}/v2/account/activities/FILL", params={"page_size": 101}, headers=HEADERS, timeout=5
    )

    assert (orders.status_code, fills.status_code) == (422, 422)


def test_the_stub_answers_a_429_as_recorded_with_the_rate_limit_headers(
    stub: AlpacaTradingStub, clock: FakeClock
) -> None:
    stub.mode = "http_429"

    answer = requests.get(f"{stub.url}/v2/account", headers=HEADERS, timeout=5)

    assert (answer.status_code, answer.text) == (429, recorded("error_429_too_many_requests.txt"))
    assert answer.headers["X-RateLimit-Remaining"] == "0"
    assert int(answer.headers["X-RateLimit-Reset"]) == clock.now + 1


def test_alpaca_py_parses_every_stub_answer_into_its_models(stub: AlpacaTradingStub) -> None:
    """alpaca-py's models are the other reading of the same recordings: what the stub serves must pass."""
    from alpaca.trading.models import Order, Position, TradeAccount
    from alpaca.trading.requests import CancelOrderResponse, GetOrdersRequest, MarketOrderRequest

    client = TradingClient(api_key=KEY_ID, secret_key=SECRET_KEY, paper=True, url_override=stub.url)
    order = MarketOrderRequest(symbol="AAPL", qty=2, side="buy", time_in_force="day")
    stub.commission = 1.25

    assert isinstance(client.submit_order(order), Order)
    assert isinstance(client.get_account(), TradeAccount)
    assert all(isinstance(p, Position) for p in client.get_all_positions())
    stub.mode = "accept"
    client.submit_order(order)
    (listed,) = client.get_orders(GetOrdersRequest(status="open"))
    assert isinstance(listed, Order)
    assert all(isinstance(c, CancelOrderResponse) for c in client.cancel_orders())
