"""Contract of the LEAN runner (issue 18): the stub runner, the fixtures and the client all agree with the
reference runner (proompteng/lab@18622cbe3a, services/torghut/app/lean_runner.py).

Three legs, so that a drift anywhere fails here:
- the fixtures (fixtures/lean/, sources in its README) validate against the transcribed models;
- the contract stub refuses what the reference refuses (the body this repo's client used to send is a
  422) and answers with the fixtures' shapes;
- `LeanRunnerVenue` parses the fixtures as served verbatim, and round-trips with the stub: submit → fill,
  ambiguous timeout → lookup by client order id, cancel, cancel-all, typed reason codes, and a garbage
  answer is a `contract_violation` that leaves no LEAN data in the routed order.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import requests
from pydantic import BaseModel, ValidationError

from torghut_assets.adapters.lean_runner import LeanRunnerVenue, submit_body
from torghut_assets.adapters.market_simulator import MarketSimulator
from torghut_assets.adapters.order_router import route_order
from torghut_assets.adapters.paper_broker import SimulatedVenue
from torghut_assets.domain.orders import OrderRequest, VenueError
from torghut_assets.domain.routing import RouteChoice, Venue
from torghut_assets_tests.adapters.lean_stub import LeanStub
from torghut_assets_tests.adapters.stub_server import StubRequestHandler, StubServer
from torghut_assets_tests.contracts import lean_runner_models as m

FIXTURES = Path(__file__).parent / "fixtures" / "lean"
TIMEOUT = 0.3
TEN_AM = pd.Timestamp("2026-03-03 15:00", tz="UTC")
FIXTURE_CID = hashlib.sha256(b"contract-fixture-decision").hexdigest()
FIXTURE_ORDER_ID = "7c9e6679-7425-40de-944b-e07fc1f90ae7"

FIXTURE_MODELS: dict[str, type[BaseModel]] = {
    "healthz_200.json": m.HealthAnswer,
    "submit_order_200.json": m.SubmittedOrder,
    "submit_order_200_replay.json": m.SubmittedOrder,
    "get_order_200.json": m.RunnerOrder,
    "list_orders_200.json": m.OrderList,
    "cancel_order_200.json": m.CancelAnswer,
    "cancel_all_orders_200.json": m.CancelAllAnswer,
    "get_order_by_client_id_404.json": m.HttpErrorBody,
    "get_order_502_order_not_found.json": m.HttpErrorBody,
    "get_order_502_not_a_uuid.json": m.HttpErrorBody,
    "list_orders_502_bad_status.json": m.HttpErrorBody,
    "cancel_order_502_not_cancelable.json": m.HttpErrorBody,
    "submit_order_422_old_client_body.json": m.ValidationErrorBody,
    "submit_order_422_no_body.json": m.ValidationErrorBody,
    "submit_order_502_limit_without_price.json": m.HttpErrorBody,
    "submit_order_502_unsupported_order_type.json": m.HttpErrorBody,
    "submit_order_502_duplicate_client_order_id.json": m.HttpErrorBody,
    "submit_order_502_broker_timeout.json": m.HttpErrorBody,
    "route_404.json": m.HttpErrorBody,
    "route_405.json": m.HttpErrorBody,
}


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def order(client_order_id: str = "dec-0001", **overrides: object) -> OrderRequest:
    fields: dict[str, object] = {
        "client_order_id": client_order_id,
        "symbol": "AAPL",
        "side": "buy",
        "qty": 10,
        "order_type": "market",
        "time_in_force": "day",
        "arrival_price": 200.0,
        "submitted_at": TEN_AM + pd.Timedelta(minutes=5),
        "correlation_id": "corr-contract",
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
        base_url=stub.url, timeout_seconds=TIMEOUT, fill_poll_interval_seconds=0.0
    ) as client:
        yield client


def error_of(call: Any) -> VenueError:
    with pytest.raises(VenueError) as caught:
        call()
    return caught.value


# --- the fixtures and the models ------------------------------------------------------------------


def test_every_fixture_is_covered_and_validates_against_its_reference_model() -> None:
    on_disk = {p.name for p in FIXTURES.glob("*.json")}
    assert on_disk == set(FIXTURE_MODELS)
    for name, model in FIXTURE_MODELS.items():
        model.model_validate(fixture(name))
    readme = (FIXTURES / "README.md").read_text()
    assert all(f"`{name}`" in readme for name in [*on_disk, "submit_order_500_unknown_side.txt"])


def test_the_submit_model_requires_order_type_and_forbids_every_other_field() -> None:
    valid = submit_body(order())
    m.SubmitOrderBody.model_validate(valid)
    without_type = {k: v for k, v in valid.items() if k != "order_type"}
    for body, error_type in (
        (without_type, "missing"),
        ({**valid, "client_order_id": "dec-0001"}, "extra_forbidden"),
        ({**valid, "type": "market"}, "extra_forbidden"),
        ({**valid, "arrival_price": 200.0}, "extra_forbidden"),
    ):
        with pytest.raises(ValidationError) as caught:
            m.SubmitOrderBody.model_validate(body)
        assert error_type in str(caught.value)


# --- the stub refuses what the reference refuses --------------------------------------------------


def test_the_body_the_old_client_sent_is_a_422_exactly_as_the_reference_answers_it(stub: LeanStub) -> None:
    expected = fixture("submit_order_422_old_client_body.json")
    old_body = expected["detail"][0]["input"]  # the whole body, as the missing-field error echoes it
    answer = requests.post(f"{stub.url}/v1/orders/submit", json=old_body, timeout=5)
    assert (answer.status_code, answer.json()) == (422, expected)
    assert stub.submissions == 0


def test_a_submit_without_a_body_is_fastapis_missing_body_422(stub: LeanStub) -> None:
    answer = requests.post(f"{stub.url}/v1/orders/submit", timeout=5)
    assert (answer.status_code, answer.json()) == (422, fixture("submit_order_422_no_body.json"))


@pytest.mark.parametrize(
    ("method", "path", "status", "body"),
    [
        ("GET", "/v1/positions", 404, fixture("route_404.json")),
        ("DELETE", "/v1/orders/7c9e6679-7425-40de-944b-e07fc1f90ae7", 405, fixture("route_405.json")),
        ("POST", "/v1/orders", 405, fixture("route_405.json")),
        ("GET", "/v1/orders/cancel-all", 502, fixture("get_order_502_not_a_uuid.json")),
        (
            "GET",
            "/v1/orders/7c9e6679-7425-40de-944b-e07fc1f90ae7",
            502,
            fixture("get_order_502_order_not_found.json"),
        ),
        ("GET", "/v1/orders/client/never-sent", 404, fixture("get_order_by_client_id_404.json")),
        ("GET", "/v1/orders?status=new", 502, fixture("list_orders_502_bad_status.json")),
    ],
)
def test_the_stub_answers_routes_and_unknown_ids_as_the_reference_does(
    stub: LeanStub, method: str, path: str, status: int, body: Any
) -> None:
    answer = requests.request(method, f"{stub.url}{path}", timeout=5)
    assert (answer.status_code, answer.json()) == (status, body)
    if status == 405:  # both paths only exist as GET routes
        assert answer.headers["Allow"] == "GET, HEAD"


@pytest.mark.parametrize(
    ("overrides", "status", "expected"),
    [
        ({"order_type": "limit"}, 502, fixture("submit_order_502_limit_without_price.json")),
        ({"order_type": "trailing_stop"}, 502, fixture("submit_order_502_unsupported_order_type.json")),
        ({"side": "long"}, 500, "Internal Server Error"),
    ],
)
def test_the_stub_fails_a_submit_the_reference_cannot_place_as_the_reference_does(
    stub: LeanStub, overrides: dict[str, Any], status: int, expected: Any
) -> None:
    body = {**submit_body(order()), **overrides}
    answer = requests.post(f"{stub.url}/v1/orders/submit", json=body, timeout=5)
    assert answer.status_code == status
    assert (answer.json() if status != 500 else answer.text) == expected
    assert stub.submissions == 0


def _keys(value: Any) -> Any:
    """The key structure of a JSON value (values of leaves are not compared)."""
    if isinstance(value, dict):
        return {k: _keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_keys(value[0])] if value else []
    return None


def test_the_stubs_answers_have_the_reference_shapes(stub: LeanStub, venue: LeanRunnerVenue) -> None:
    base = stub.url
    submitted = requests.post(
        f"{base}/v1/orders/submit",
        json=submit_body(order(FIXTURE_CID)),
        headers={"Idempotency-Key": FIXTURE_CID, "X-Correlation-ID": "corr"},
        timeout=5,
    ).json()
    replayed = requests.post(
        f"{base}/v1/orders/submit",
        json=submit_body(order(FIXTURE_CID)),
        headers={"Idempotency-Key": FIXTURE_CID},
        timeout=5,
    ).json()
    order_id = submitted["id"]
    answers = {
        "healthz_200.json": requests.get(f"{base}/healthz", timeout=5).json(),
        "submit_order_200.json": submitted,
        "submit_order_200_replay.json": replayed,
        "get_order_200.json": requests.get(f"{base}/v1/orders/{order_id}", timeout=5).json(),
        "list_orders_200.json": requests.get(f"{base}/v1/orders", timeout=5).json(),
    }
    stub.mode = "accept"
    venue.submit(order("dec-open"))
    stub.mode = "fill"
    answers["cancel_all_orders_200.json"] = requests.post(f"{base}/v1/orders/cancel-all", timeout=5).json()
    stub.mode = "accept"
    open_id = venue.submit(order("dec-open-3")).order_id
    answers["cancel_order_200.json"] = requests.post(f"{base}/v1/orders/{open_id}/cancel", timeout=5).json()
    for name, answer in answers.items():
        FIXTURE_MODELS[name].model_validate(answer)
        assert _keys(answer) == _keys(fixture(name)), name
    assert submitted["_lean_audit"]["idempotent_replay"] is False
    assert replayed["_lean_audit"]["idempotent_replay"] is True
    assert {k: v for k, v in replayed.items() if k != "_lean_audit"} == {
        k: v for k, v in submitted.items() if k != "_lean_audit"
    }


# --- the client against the fixtures, served verbatim ---------------------------------------------


@dataclass
class FixtureRunner(StubServer[None]):
    """Serves fixture files verbatim: `routes[(method, path)] = (status, fixture name)`."""

    routes: dict[tuple[str, str], tuple[int, str]] = field(default_factory=dict)
    seen: list[tuple[str, str, Any]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.base_url

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(StubRequestHandler):
            def _serve(self) -> None:
                body = self._json_body()
                server.seen.append((self.command, self.path, body))
                status, name = server.routes.get((self.command, self.path), (404, "route_404.json"))
                payload = (FIXTURES / name).read_bytes()
                if name.endswith(".txt"):
                    self.content_type = "text/plain; charset=utf-8"
                self._send(status, payload)

            do_GET = do_POST = _serve

        return Handler


def fixture_order() -> OrderRequest:
    return order(FIXTURE_CID, correlation_id=f"macd_rsi:2026-03-03T15:00:00+00:00:{FIXTURE_CID[:16]}")


def test_the_client_parses_the_reference_answers_of_a_submit_and_its_read_back() -> None:
    with FixtureRunner(
        routes={
            ("POST", "/v1/orders/submit"): (200, "submit_order_200.json"),
            ("GET", f"/v1/orders/{FIXTURE_ORDER_ID}"): (200, "get_order_200.json"),
        }
    ) as runner:
        venue = LeanRunnerVenue(base_url=runner.url, timeout_seconds=TIMEOUT, fill_poll_interval_seconds=0.0)
        report = venue.submit(fixture_order())
    assert (report.order_id, report.client_order_id, report.status) == (
        FIXTURE_ORDER_ID,
        FIXTURE_CID,
        "filled",
    )
    assert (report.submitted_qty, report.filled_qty, report.avg_fill_price) == (10.0, 10.0, 200.04)
    assert report.filled_at == pd.Timestamp("2026-03-03T15:05:00.412000Z")
    assert report.raw["_execution_adapter"] == "lean"
    assert report.raw["_lean_audit"] == fixture("submit_order_200.json")["_lean_audit"]
    assert [(method, path) for method, path, _ in runner.seen] == [
        ("POST", "/v1/orders/submit"),
        ("GET", f"/v1/orders/{FIXTURE_ORDER_ID}"),
    ]


def test_the_client_parses_the_reference_answers_of_lookups_lists_and_cancels() -> None:
    with FixtureRunner(
        routes={
            ("GET", f"/v1/orders/client/{FIXTURE_CID}"): (200, "get_order_200.json"),
            ("GET", "/v1/orders/client/never-sent"): (404, "get_order_by_client_id_404.json"),
            ("GET", "/v1/orders?status=all"): (200, "list_orders_200.json"),
            ("POST", f"/v1/orders/{FIXTURE_ORDER_ID}/cancel"): (200, "cancel_order_200.json"),
            ("POST", "/v1/orders/cancel-all"): (200, "cancel_all_orders_200.json"),
        }
    ) as runner:
        venue = LeanRunnerVenue(base_url=runner.url, timeout_seconds=TIMEOUT)
        found = venue.find_order(fixture_order())
        never = venue.find_order(order("never-sent"))
        listed = venue.list_orders()
        canceled = venue.cancel_order(FIXTURE_ORDER_ID)
        outcomes = venue.cancel_all_orders()
    assert found is not None and (found.order_id, found.filled_qty) == (FIXTURE_ORDER_ID, 10.0)
    assert never is None
    assert [r.order_id for r in listed] == [FIXTURE_ORDER_ID]
    assert (canceled.accepted, canceled.order_id, canceled.status) == (True, FIXTURE_ORDER_ID, None)
    assert [(o.order_id, o.accepted, o.detail) for o in outcomes] == [
        (FIXTURE_ORDER_ID, True, ""),
        ("72249bb6-6c89-4ea7-b8cf-73f1a140812b", False, "HTTP 404: order not found"),
    ]


@pytest.mark.parametrize(
    ("name", "status", "reason", "detail"),
    [
        (
            "submit_order_422_old_client_body.json",
            422,
            "lean_submit_order_http_422",
            "body.order_type: Field required; body.client_order_id: Extra inputs are not permitted; "
            "body.type: Extra inputs are not permitted; body.arrival_price: Extra inputs are not permitted",
        ),
        (
            "submit_order_502_limit_without_price.json",
            502,
            "lean_submit_order_http_502",
            "lean_submit_failed:contract_missing_required_field:limit_price is required for limit orders",
        ),
        (
            "submit_order_502_broker_timeout.json",
            502,
            "lean_submit_order_timeout",
            fixture("submit_order_502_broker_timeout.json")["detail"],
        ),
        ("submit_order_500_unknown_side.txt", 500, "lean_submit_order_http_500", "Internal Server Error"),
        ("route_404.json", 404, "lean_submit_order_http_404", "Not Found"),
    ],
)
def test_the_reference_error_bodies_map_to_typed_reason_codes_with_the_runners_detail(
    name: str, status: int, reason: str, detail: str
) -> None:
    with FixtureRunner(routes={("POST", "/v1/orders/submit"): (status, name)}) as runner:
        venue = LeanRunnerVenue(base_url=runner.url, timeout_seconds=TIMEOUT)
        error = error_of(lambda: venue.submit(fixture_order()))
    assert (error.reason_code, error.detail) == (reason, detail)


def test_a_cancel_the_broker_refuses_is_an_outcome_not_an_error() -> None:
    with FixtureRunner(
        routes={
            ("POST", f"/v1/orders/{FIXTURE_ORDER_ID}/cancel"): (502, "cancel_order_502_not_cancelable.json")
        }
    ) as runner:
        outcome = LeanRunnerVenue(base_url=runner.url, timeout_seconds=TIMEOUT).cancel_order(FIXTURE_ORDER_ID)
    assert (outcome.accepted, outcome.detail) == (
        False,
        fixture("cancel_order_502_not_cancelable.json")["detail"],
    )


# --- the client against the contract stub ---------------------------------------------------------


def test_submit_then_fill_round_trip(stub: LeanStub, venue: LeanRunnerVenue) -> None:
    report = venue.submit(order())
    (placed,) = stub.orders.values()
    assert (report.order_id, report.status, report.filled_qty) == (placed["id"], "filled", 10.0)
    assert report.avg_fill_price == pytest.approx(200.04)
    fetched = venue.get_order(report.order_id)
    assert (fetched.status, fetched.filled_qty, fetched.avg_fill_price) == (
        "filled",
        10.0,
        report.avg_fill_price,
    )


def test_after_an_ambiguous_timeout_the_client_id_lookup_finds_the_order(
    stub: LeanStub, venue: LeanRunnerVenue
) -> None:
    stub.script("timeout")
    error = error_of(lambda: venue.submit(order("dec-amb")))
    assert error.reason_code == "lean_submit_order_timeout"
    found = venue.find_order(order("dec-amb"))
    assert found is not None and found.order_id == next(iter(stub.orders))
    assert stub.requests[-1].path == "/v1/orders/client/dec-amb"


def test_the_router_recovers_a_timed_out_order_instead_of_doubling_it(
    stub: LeanStub, venue: LeanRunnerVenue
) -> None:
    stub.script("timeout")
    bars = MarketSimulator().bars(TEN_AM, TEN_AM + pd.Timedelta(hours=1))
    routed = route_order(
        order("dec-rt"),
        RouteChoice(Venue.LEAN, Venue.SIMULATOR),
        {Venue.LEAN: venue, Venue.SIMULATOR: SimulatedVenue(bars)},
    )
    assert [a["outcome"] for a in routed.attempts] == ["failed", "found_after_timeout"]
    assert routed.report is not None and routed.report.venue == "lean"
    assert stub.submissions == 1


def test_an_unknown_client_order_id_is_order_not_found_and_find_order_is_none(
    stub: LeanStub, venue: LeanRunnerVenue
) -> None:
    assert venue.find_order(order("never-sent")) is None
    answer = requests.get(f"{stub.url}/v1/orders/client/never-sent", timeout=5)
    assert (answer.status_code, answer.json()) == (404, {"detail": "order_not_found"})


def test_cancel_and_cancel_all_work_against_the_runner(stub: LeanStub, venue: LeanRunnerVenue) -> None:
    stub.mode = "accept"
    first, second, third = (venue.submit(order(f"dec-c{i}")).order_id for i in range(3))
    assert venue.cancel_order(first).accepted
    assert {o.order_id for o in venue.cancel_all_orders()} == {second, third}
    assert {stub.orders[i]["status"] for i in (first, second, third)} == {"canceled"}
    refused = venue.cancel_order(first)
    assert not refused.accepted and refused.detail.startswith("lean_cancel_failed:upstream_error:")


@pytest.mark.parametrize("mode", ["wrong_symbol", "wrong_side", "overfill", "wrong_shape", "wrong_adapter"])
def test_a_garbage_answer_is_a_contract_violation_and_no_lean_data_reaches_the_row(
    stub: LeanStub, venue: LeanRunnerVenue, mode: str
) -> None:
    stub.mode = mode
    bars = MarketSimulator().bars(TEN_AM, TEN_AM + pd.Timedelta(hours=1))
    with_fallback = route_order(
        order("dec-g1"),
        RouteChoice(Venue.LEAN, Venue.SIMULATOR),
        {Venue.LEAN: venue, Venue.SIMULATOR: SimulatedVenue(bars)},
    )
    assert with_fallback.route.fallback_reason == "lean_submit_order_contract_violation"
    assert with_fallback.report is not None and with_fallback.report.venue == Venue.SIMULATOR
    assert "_execution_adapter" not in with_fallback.report.raw and "ZZZZ" not in str(
        with_fallback.report.raw
    )
    alone = route_order(order("dec-g2"), RouteChoice(Venue.LEAN, None), {Venue.LEAN: venue})
    assert alone.report is None  # stored as a rejected, unplaced row: nothing half-parsed from LEAN
    assert alone.failure_reason == "lean_submit_order_contract_violation"
