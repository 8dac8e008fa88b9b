"""Specification of the LEAN runner venue against the contract stub runner on 127.0.0.1 (docs/routing.md).

The stub answers as the reference runner does (torghut_assets_tests/contracts). Every failure must
surface as `VenueError` with the reference reason code `lean_<op>_<failure>`, within a bounded time, so
the router can fall back; every answer that does not echo the order is a contract violation.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator

import pandas as pd
import pytest

from torghut_assets.adapters.lean_runner import LeanRunnerVenue
from torghut_assets.domain.orders import (
    CancellingVenue,
    CancelOutcome,
    ExecutionVenue,
    OrderListingVenue,
    OrderLookupVenue,
    OrderRequest,
    VenueError,
)
from torghut_assets_tests.adapters.lean_stub import LeanStub
from torghut_assets_tests.contracts.lean_runner_models import SubmitOrderBody

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
    with LeanStub(delay_seconds=2.0, prices={"AAPL": 200.0}) as running:
        yield running


@pytest.fixture
def venue(stub: LeanStub) -> Iterator[LeanRunnerVenue]:
    with LeanRunnerVenue(
        base_url=stub.url,
        timeout_seconds=TIMEOUT,
        healthcheck_timeout_seconds=TIMEOUT,
        fill_poll_interval_seconds=0.0,
    ) as client:
        yield client


def failure_of(call: Callable[[], object]) -> tuple[str, float]:
    started = time.monotonic()
    with pytest.raises(VenueError) as caught:
        call()
    return caught.value.reason_code, time.monotonic() - started


def error_of(call: Callable[[], object]) -> VenueError:
    with pytest.raises(VenueError) as caught:
        call()
    return caught.value


def refused_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def test_the_venue_implements_the_execution_lookup_and_cancel_protocols(venue: LeanRunnerVenue) -> None:
    assert isinstance(venue, ExecutionVenue)
    assert isinstance(venue, OrderLookupVenue)
    assert isinstance(venue, CancellingVenue)
    assert venue.name == "lean"


def test_the_venue_cannot_list_the_orders_of_a_time_range(venue: LeanRunnerVenue) -> None:
    """The runner's `GET /v1/orders` takes only a status and answers the broker's default page: no
    `OrderListingVenue`, so reconciliation says it cannot walk the runner's side."""
    assert not isinstance(venue, OrderListingVenue)


def test_a_normal_submit_reports_the_fill_read_back_after_the_accepted_answer(
    stub: LeanStub, venue: LeanRunnerVenue
) -> None:
    report = venue.submit(order())
    (placed,) = stub.orders.values()
    assert (report.venue, report.order_id, report.client_order_id) == ("lean", placed["id"], "dec-0001")
    assert (report.symbol, report.side, report.status) == ("AAPL", "buy", "filled")
    assert (report.submitted_qty, report.filled_qty) == (10.0, 10.0)
    assert report.avg_fill_price == pytest.approx(200.0 * 1.0002)
    assert report.filled_at is not None and str(report.filled_at.tz) == "UTC"
    assert report.fees == 0.0  # the runner relays Alpaca orders, which carry no fee field
    # The submit answer is the order as accepted; the fill comes from reading it back.
    assert [(r.method, r.path) for r in stub.requests] == [
        ("POST", "/v1/orders/submit"),
        ("GET", f"/v1/orders/{placed['id']}"),
    ]
    assert report.raw["_execution_adapter"] == "lean"
    assert report.raw["_lean_contract_version"] == "v2"
    assert report.raw["_lean_audit"]["idempotency_key"] == "dec-0001"
    assert report.raw["_lean_audit"]["correlation_id"] == "corr-1"
    assert {k: v for k, v in report.raw.items() if not k.startswith("_lean")} == stub.runner_view(
        placed["id"]
    )


def test_the_submit_body_is_the_runners_submit_model_and_nothing_else(
    stub: LeanStub, venue: LeanRunnerVenue
) -> None:
    venue.submit(order("dec-0001"))
    venue.submit(order("dec-0002", order_type="limit", limit_price=201.0))
    market, limit = (r.body for r in stub.requests_to("/v1/orders/submit"))
    assert market == {
        "symbol": "AAPL",
        "side": "buy",
        "qty": 10,
        "order_type": "market",
        "time_in_force": "day",
        "extra_params": {"client_order_id": "dec-0001"},
    }
    assert limit == {
        "symbol": "AAPL",
        "side": "buy",
        "qty": 10,
        "order_type": "limit",
        "time_in_force": "day",
        "limit_price": 201.0,
        "extra_params": {"client_order_id": "dec-0002"},
    }
    for body in (market, limit):
        SubmitOrderBody.model_validate(body)  # extra="forbid": the runner accepts it as is


def test_submit_sends_correlation_id_and_idempotency_key_headers(
    stub: LeanStub, venue: LeanRunnerVenue
) -> None:
    venue.submit(order("dec-0042", correlation_id="corr-xyz"))
    (sent,) = stub.requests_to("/v1/orders/submit")
    assert sent.headers["X-Correlation-ID"] == "corr-xyz"
    assert sent.headers["Idempotency-Key"] == "dec-0042"


def test_a_resubmitted_client_order_id_is_the_runners_idempotent_replay(
    stub: LeanStub, venue: LeanRunnerVenue
) -> None:
    first = venue.submit(order("dec-0007"))
    second = venue.submit(order("dec-0007", correlation_id="corr-retry"))
    assert second.order_id == first.order_id
    assert stub.submissions == 1
    assert (
        first.raw["_lean_audit"]["idempotent_replay"],
        second.raw["_lean_audit"]["idempotent_replay"],
    ) == (
        False,
        True,
    )


def test_a_resubmission_the_runner_forgot_reports_the_order_the_broker_holds(
    stub: LeanStub, venue: LeanRunnerVenue
) -> None:
    """Past the runner's 300 s idempotency cache (or after a restart) the broker refuses the known
    client_order_id with a 502; the venue reports the order it already holds and places nothing."""
    first = venue.submit(order("dec-0008"))
    stub.restart()
    second = venue.submit(order("dec-0008"))
    assert second.order_id == first.order_id
    assert (second.status, second.filled_qty) == ("filled", 10.0)
    assert second.raw["_lean_duplicate_refused"] is True
    assert stub.submissions == 1


def test_a_partial_fill_reports_filled_below_submitted_qty_after_every_read_back(
    stub: LeanStub, venue: LeanRunnerVenue
) -> None:
    stub.mode = "partial"
    report = venue.submit(order(side="sell"))
    assert (report.status, report.filled_qty, report.submitted_qty) == ("partially_filled", 5.0, 10.0)
    assert report.avg_fill_price == pytest.approx(200.0 * 0.9998)
    assert len(stub.requests_to("/v1/orders/", "GET")) == venue.fill_poll_attempts


def test_an_unfilled_order_is_reported_as_the_runner_last_saw_it(
    stub: LeanStub, venue: LeanRunnerVenue
) -> None:
    stub.mode = "accept"
    report = venue.submit(order())
    assert (report.status, report.filled_qty, report.avg_fill_price) == ("new", 0.0, None)


def test_a_failed_read_back_keeps_the_placed_order_instead_of_failing_the_submit(
    stub: LeanStub, venue: LeanRunnerVenue
) -> None:
    stub.script("fill", "http_503")
    report = venue.submit(order())
    assert (report.status, report.filled_qty) == ("accepted", 0.0)
    assert report.raw["_lean_read_back_error"] == "lean_get_order_http_503"


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


def test_the_runners_own_broker_timeout_is_an_ambiguous_timeout(
    stub: LeanStub, venue: LeanRunnerVenue
) -> None:
    """502 `lean_submit_failed:network_timeout:...`: the broker may hold the order, as after our own
    timeout, so the router must look it up before falling back."""
    stub.mode = "broker_timeout"
    error = error_of(lambda: venue.submit(order()))
    assert error.reason_code == "lean_submit_order_timeout"
    assert error.detail.startswith("lean_submit_failed:network_timeout:")
    stub.mode = "fill"
    found = venue.find_order(order())
    assert found is not None and stub.submissions == 1


@pytest.mark.parametrize(
    ("mode", "reason", "detail"),
    [
        ("http_503", "lean_submit_order_http_503", "stub http_503"),
        ("http_500", "lean_submit_order_http_500", "Internal Server Error"),
        ("http_502", "lean_submit_order_http_502", "lean_submit_failed:upstream_error:stub http_502"),
        ("broker_error", "lean_submit_order_http_502", "lean_submit_failed:upstream_error:"),
    ],
)
def test_http_errors_carry_the_status_and_the_runners_detail(
    stub: LeanStub, venue: LeanRunnerVenue, mode: str, reason: str, detail: str
) -> None:
    stub.mode = mode
    error = error_of(lambda: venue.submit(order()))
    assert error.reason_code == reason
    assert error.detail.startswith(detail)


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
        "wrong_adapter",
        "wrong_shape",
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
    assert fetched.raw["_execution_adapter"] == "lean"


@pytest.mark.parametrize(
    ("order_id", "detail"),
    [
        ("7c9e6679-7425-40de-944b-e07fc1f90ae7", 'lean_get_order_failed:upstream_error:{"code":40410000'),
        ("nope", "lean_get_order_failed:upstream_error:badly formed hexadecimal UUID string"),
    ],
)
def test_get_order_of_an_unknown_id_is_the_runners_502(
    venue: LeanRunnerVenue, order_id: str, detail: str
) -> None:
    error = error_of(lambda: venue.get_order(order_id))
    assert error.reason_code == "lean_get_order_http_502"
    assert error.detail.startswith(detail)


def test_get_order_by_client_order_id_finds_the_order_or_none(stub: LeanStub, venue: LeanRunnerVenue) -> None:
    placed = venue.submit(order("dec-0100"))
    found = venue.get_order_by_client_order_id("dec-0100")
    assert found is not None and found.order_id == placed.order_id
    assert venue.get_order_by_client_order_id("never-sent") is None
    assert stub.requests[-1].path == "/v1/orders/client/never-sent"


def test_find_order_is_none_only_for_order_not_found(stub: LeanStub) -> None:
    """A 404 from a route the runner does not have ("Not Found") is not "never placed"."""
    with LeanRunnerVenue(base_url=f"{stub.url}/v0", timeout_seconds=TIMEOUT) as misrouted:
        error = error_of(lambda: misrouted.find_order(order()))
    assert (error.reason_code, error.detail) == ("lean_get_order_by_client_order_id_http_404", "Not Found")


def test_find_order_checks_the_order_is_the_one_asked_for(stub: LeanStub, venue: LeanRunnerVenue) -> None:
    venue.submit(order("dec-0200"))
    assert venue.find_order(order("dec-0200")) is not None
    reason = failure_of(lambda: venue.find_order(order("dec-0200", qty=11)))[0]
    assert reason == "lean_get_order_by_client_order_id_contract_violation"


def test_list_orders_returns_every_order_with_the_status_filter(
    stub: LeanStub, venue: LeanRunnerVenue
) -> None:
    venue.submit(order("dec-1"))
    stub.mode = "accept"
    venue.submit(order("dec-2"))
    assert {r.client_order_id for r in venue.list_orders()} == {"dec-1", "dec-2"}
    assert [r.client_order_id for r in venue.list_open_orders()] == ["dec-2"]
    assert stub.requests[-1].query == {"status": "open"}
    assert [r.client_order_id for r in venue.list_orders("closed")] == ["dec-1"]
    with pytest.raises(ValueError, match="status"):
        venue.list_orders("new")


def test_cancel_order_posts_to_the_cancel_route_and_reports_the_outcome(
    stub: LeanStub, venue: LeanRunnerVenue
) -> None:
    stub.mode = "accept"
    placed = venue.submit(order())
    outcome = venue.cancel_order(placed.order_id, correlation_id="corr-cancel")
    assert outcome == CancelOutcome("lean", placed.order_id, None, accepted=True, status=None)
    (sent,) = stub.requests_to(f"/v1/orders/{placed.order_id}/cancel")
    assert (sent.method, sent.body, sent.headers["X-Correlation-ID"]) == ("POST", None, "corr-cancel")
    assert stub.orders[placed.order_id]["status"] == "canceled"
    again = venue.cancel_order(placed.order_id)
    assert not again.accepted and "order is not cancelable" in again.detail


def test_cancel_all_orders_reports_one_outcome_per_open_order(stub: LeanStub, venue: LeanRunnerVenue) -> None:
    venue.submit(order("dec-1"))
    stub.mode = "accept"
    open_ids = {venue.submit(order(f"dec-{i}")).order_id for i in (2, 3)}
    outcomes = venue.cancel_all_orders()
    assert {o.order_id for o in outcomes} == open_ids
    assert all(o.accepted and o.venue == "lean" for o in outcomes)
    assert venue.list_open_orders() == []
    assert stub.requests_to("/v1/orders/cancel-all")[-1].method == "POST"


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
        "cancel_all_orders": venue.cancel_all_orders,
    }
    for op, call in calls.items():
        reason, elapsed = failure_of(call)
        assert reason == f"lean_{op}_{failure}"
        assert elapsed < BOUND


def test_a_read_answer_breaking_the_contract_is_a_contract_violation(
    stub: LeanStub, venue: LeanRunnerVenue
) -> None:
    stub.mode = "accept"  # an open order, so the runner can cancel it
    order_id = venue.submit(order()).order_id
    stub.mode = "negative_qty"
    assert failure_of(lambda: venue.get_order(order_id))[0] == "lean_get_order_contract_violation"
    assert failure_of(venue.list_orders)[0] == "lean_list_orders_contract_violation"
    stub.mode = "wrong_client_order_id"
    reason = failure_of(lambda: venue.get_order_by_client_order_id("dec-0001"))[0]
    assert reason == "lean_get_order_by_client_order_id_contract_violation"
    stub.mode = "wrong_shape"
    assert failure_of(lambda: venue.cancel_order(order_id))[0] == "lean_cancel_order_contract_violation"
    assert failure_of(venue.cancel_all_orders)[0] == "lean_cancel_all_orders_contract_violation"


def test_a_url_without_scheme_is_refused_at_construction() -> None:
    with pytest.raises(ValueError, match="http"):
        LeanRunnerVenue(base_url="lean-runner:8080")
