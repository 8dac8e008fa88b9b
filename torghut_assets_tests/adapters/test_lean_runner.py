"""Specification of the LEAN runner venue against a stub runner on 127.0.0.1 (domain.md §6).

Every failure must surface as `VenueError` with the reference reason code `lean_<op>_<failure>`, within a
bounded time, so the router can fall back; every answer that does not echo the order is a contract
violation.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator

import pandas as pd
import pytest

from torghut_assets.adapters.execution_venue import ExecutionVenue, OrderRequest, VenueError
from torghut_assets.adapters.lean_runner import LeanRunnerVenue
from torghut_assets_tests.adapters.lean_stub import LeanStub

TIMEOUT = 0.3
BOUND = 5 * TIMEOUT


def order(client_order_id: str = "dec-0001", **overrides: object) -> OrderRequest:
    fields: dict[str, object] = {
        "client_order_id": client_order_id,
        "symbol": "AAPL",
        "side": "buy",
        "qty": 10,
        "order_type": "market",
        "time_in_force": "day",
        "arrival_price": 200.0,
        "submitted_at": pd.Timestamp("2026-03-03 15:00", tz="UTC"),
        "correlation_id": "corr-1",
    }
    fields.update(overrides)
    return OrderRequest(**fields)  # type: ignore[arg-type]


@pytest.fixture
def stub() -> Iterator[LeanStub]:
    with LeanStub(delay_seconds=2.0) as running:
        yield running


@pytest.fixture
def venue(stub: LeanStub) -> Iterator[LeanRunnerVenue]:
    with LeanRunnerVenue(
        base_url=stub.url, timeout_seconds=TIMEOUT, healthcheck_timeout_seconds=TIMEOUT
    ) as client:
        yield client


def failure_of(call: Callable[[], object]) -> tuple[str, float]:
    started = time.monotonic()
    with pytest.raises(VenueError) as caught:
        call()
    return caught.value.reason_code, time.monotonic() - started


def refused_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def test_the_venue_implements_the_execution_venue_protocol(venue: LeanRunnerVenue) -> None:
    assert isinstance(venue, ExecutionVenue)
    assert venue.name == "lean"


def test_a_normal_submit_returns_the_runners_order_as_a_lean_report(
    stub: LeanStub, venue: LeanRunnerVenue
) -> None:
    report = venue.submit(order())
    (placed,) = stub.orders.values()
    assert (report.venue, report.order_id, report.client_order_id) == ("lean", placed["id"], "dec-0001")
    assert (report.symbol, report.side, report.status) == ("AAPL", "buy", "filled")
    assert (report.submitted_qty, report.filled_qty) == (10.0, 10.0)
    assert report.avg_fill_price == pytest.approx(200.0 * 1.0002)
    assert report.filled_at is not None and str(report.filled_at.tz) == "UTC"
    assert report.raw == placed


def test_the_submit_body_carries_the_order_fields(stub: LeanStub, venue: LeanRunnerVenue) -> None:
    venue.submit(order(order_type="limit", limit_price=201.0))
    (sent,) = stub.requests_to("/v1/orders/submit")
    assert sent.method == "POST"
    assert sent.body == {
        "client_order_id": "dec-0001",
        "symbol": "AAPL",
        "side": "buy",
        "qty": 10,
        "type": "limit",
        "time_in_force": "day",
        "limit_price": 201.0,
        "arrival_price": 200.0,
    }


def test_submit_sends_correlation_id_and_idempotency_key_headers(
    stub: LeanStub, venue: LeanRunnerVenue
) -> None:
    venue.submit(order("dec-0042", correlation_id="corr-xyz"))
    (sent,) = stub.requests_to("/v1/orders/submit")
    assert sent.headers["X-Correlation-ID"] == "corr-xyz"
    assert sent.headers["Idempotency-Key"] == "dec-0042"


def test_a_resubmitted_client_order_id_returns_the_same_order(stub: LeanStub, venue: LeanRunnerVenue) -> None:
    first = venue.submit(order("dec-0007"))
    second = venue.submit(order("dec-0007", correlation_id="corr-retry"))
    assert second.order_id == first.order_id
    assert stub.submissions == 1


def test_a_partial_fill_reports_filled_below_submitted_qty(stub: LeanStub, venue: LeanRunnerVenue) -> None:
    stub.mode = "partial"
    report = venue.submit(order(side="sell"))
    assert (report.status, report.filled_qty, report.submitted_qty) == ("partially_filled", 5.0, 10.0)
    assert report.avg_fill_price == pytest.approx(200.0 * 0.9998)


def test_a_slow_runner_is_a_timeout_within_the_bound(stub: LeanStub, venue: LeanRunnerVenue) -> None:
    stub.mode = "timeout"
    reason, elapsed = failure_of(lambda: venue.submit(order()))
    assert reason == "lean_submit_order_timeout"
    assert elapsed < BOUND


def test_a_body_trickled_past_the_deadline_is_a_timeout(stub: LeanStub, venue: LeanRunnerVenue) -> None:
    stub.mode = "trickle"
    stub.trickle_interval_seconds = TIMEOUT / 4
    reason, elapsed = failure_of(lambda: venue.submit(order()))
    assert reason == "lean_submit_order_timeout"
    assert elapsed < BOUND


def test_http_503_is_lean_submit_order_http_503(stub: LeanStub, venue: LeanRunnerVenue) -> None:
    stub.mode = "http_503"
    assert failure_of(lambda: venue.submit(order()))[0] == "lean_submit_order_http_503"


def test_http_400_is_lean_submit_order_http_400(stub: LeanStub, venue: LeanRunnerVenue) -> None:
    stub.mode = "http_400"
    assert failure_of(lambda: venue.submit(order()))[0] == "lean_submit_order_http_400"


def test_malformed_json_is_lean_submit_order_invalid_json(stub: LeanStub, venue: LeanRunnerVenue) -> None:
    stub.mode = "malformed_json"
    assert failure_of(lambda: venue.submit(order()))[0] == "lean_submit_order_invalid_json"


def test_a_dropped_connection_is_lean_submit_order_network_error(
    stub: LeanStub, venue: LeanRunnerVenue
) -> None:
    stub.mode = "drop_connection"
    assert failure_of(lambda: venue.submit(order()))[0] == "lean_submit_order_network_error"


def test_connection_refused_is_lean_submit_order_network_error() -> None:
    venue = LeanRunnerVenue(base_url=refused_url(), timeout_seconds=TIMEOUT)
    reason, elapsed = failure_of(lambda: venue.submit(order()))
    assert reason == "lean_submit_order_network_error"
    assert elapsed < BOUND


@pytest.mark.parametrize(
    "mode",
    [
        "missing_id",
        "wrong_symbol",
        "wrong_client_order_id",
        "wrong_side",
        "negative_qty",
        "overfill",
        "bad_price",
        "empty_body",
    ],
)
def test_each_contract_breach_is_lean_submit_order_contract_violation(
    stub: LeanStub, venue: LeanRunnerVenue, mode: str
) -> None:
    stub.mode = mode
    assert failure_of(lambda: venue.submit(order()))[0] == "lean_submit_order_contract_violation"


def test_the_health_probe_is_true_only_for_status_ok(stub: LeanStub, venue: LeanRunnerVenue) -> None:
    answers = {}
    for health in ("ok", "down", "degraded", "empty", "malformed", "slow"):
        stub.health = health
        answers[health] = venue.healthy()
    assert answers == {
        "ok": True,
        "down": False,
        "degraded": False,
        "empty": False,
        "malformed": False,
        "slow": False,
    }


def test_the_health_probe_never_raises_and_answers_within_its_timeout() -> None:
    venue = LeanRunnerVenue(base_url=refused_url(), healthcheck_timeout_seconds=TIMEOUT)
    started = time.monotonic()
    assert venue.healthy() is False
    assert time.monotonic() - started < BOUND


def test_get_order_returns_the_placed_order(venue: LeanRunnerVenue) -> None:
    placed = venue.submit(order())
    fetched = venue.get_order(placed.order_id)
    assert (fetched.order_id, fetched.client_order_id, fetched.filled_qty) == (
        placed.order_id,
        "dec-0001",
        10,
    )


def test_get_order_by_client_order_id_finds_the_order_or_none(venue: LeanRunnerVenue) -> None:
    placed = venue.submit(order("dec-0100"))
    found = venue.get_order_by_client_order_id("dec-0100")
    assert found is not None and found.order_id == placed.order_id
    assert venue.get_order_by_client_order_id("never-sent") is None


def test_list_orders_returns_every_order_with_the_status_filter(
    stub: LeanStub, venue: LeanRunnerVenue
) -> None:
    venue.submit(order("dec-1"))
    stub.mode = "accept"
    venue.submit(order("dec-2"))
    assert {r.client_order_id for r in venue.list_orders()} == {"dec-1", "dec-2"}
    assert [r.client_order_id for r in venue.list_orders(status="new")] == ["dec-2"]
    assert stub.requests[-1].query == {"status": "new"}


def test_cancel_order_sends_delete_and_reports_the_canceled_order(
    stub: LeanStub, venue: LeanRunnerVenue
) -> None:
    stub.mode = "accept"
    placed = venue.submit(order())
    canceled = venue.cancel_order(placed.order_id)
    assert canceled is not None and canceled.status == "canceled"
    assert stub.requests[-1].method == "DELETE"


@pytest.mark.parametrize(
    ("mode", "failure"),
    [("http_503", "http_503"), ("timeout", "timeout"), ("malformed_json", "invalid_json")],
)
def test_read_and_cancel_errors_carry_their_op_names(
    stub: LeanStub, venue: LeanRunnerVenue, mode: str, failure: str
) -> None:
    stub.mode = "accept"
    order_id = venue.submit(order()).order_id
    stub.mode = mode
    calls: dict[str, Callable[[], object]] = {
        "get_order": lambda: venue.get_order(order_id),
        "get_order_by_client_order_id": lambda: venue.get_order_by_client_order_id("dec-0001"),
        "list_orders": venue.list_orders,
        "cancel_order": lambda: venue.cancel_order(order_id),
    }
    for op, call in calls.items():
        reason, elapsed = failure_of(call)
        assert reason == f"lean_{op}_{failure}"
        assert elapsed < BOUND


def test_a_read_answer_breaking_the_contract_is_a_contract_violation(
    stub: LeanStub, venue: LeanRunnerVenue
) -> None:
    order_id = venue.submit(order()).order_id
    stub.mode = "negative_qty"
    assert failure_of(lambda: venue.get_order(order_id))[0] == "lean_get_order_contract_violation"
    assert failure_of(venue.list_orders)[0] == "lean_list_orders_contract_violation"
    stub.mode = "wrong_client_order_id"
    reason = failure_of(lambda: venue.get_order_by_client_order_id("dec-0001"))[0]
    assert reason == "lean_get_order_by_client_order_id_contract_violation"


def test_get_order_of_an_unknown_id_is_http_404(venue: LeanRunnerVenue) -> None:
    assert failure_of(lambda: venue.get_order("nope"))[0] == "lean_get_order_http_404"


def test_a_url_without_scheme_is_refused_at_construction() -> None:
    with pytest.raises(ValueError, match="http"):
        LeanRunnerVenue(base_url="lean-runner:8080")
