"""Executions through real venue clients against a local LEAN runner stub: fallback, kill switch,
idempotent re-materialization. The simulated paper broker stands in as the fallback venue."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import dagster as dg
import pandas as pd
import pytest
import sqlalchemy as sa

from torghut_assets.defs.lane_window.executions import executions
from torghut_assets.defs.lane_window.partitions import lane_window_key
from torghut_assets.defs.lane_window.signals import signals
from torghut_assets.defs.lane_window.trading import trade_decisions
from torghut_assets.defs.lane_window.trading_session import TradingSessionResource
from torghut_assets.defs.resources import BrokerResource, LedgerResource, MarketDataResource
from torghut_assets.defs.routing.route_controls import set_route_control
from torghut_assets.ledger import schema
from torghut_assets.ledger.engine import create_ledger_engine
from torghut_assets_tests.adapters.lean_stub import LeanStub
from torghut_assets_tests.defs.lane_window_harness import trading_as_open_window

TEN_AM = pd.Timestamp("2026-03-03 15:00", tz="UTC")
ELEVEN_AM = pd.Timestamp("2026-03-03 16:00", tz="UTC")


@pytest.fixture
def stub() -> Any:
    with LeanStub() as running:
        yield running


def _resources(
    url: str, tmp_path: Path, stub: LeanStub | None, start: pd.Timestamp = TEN_AM
) -> dict[str, Any]:
    """A paper lane trading `start`'s window as its open window (the clock in its last second, expiry
    off), so one run routes every decision to the real (stub) venues."""
    return {
        "ledger": LedgerResource(database_url=url, artifact_root=str(tmp_path)),
        "market_data": MarketDataResource(),
        "broker": BrokerResource(lean_runner_url=stub.url if stub else None, lean_timeout_seconds=0.3),
        "trading_session": trading_as_open_window(start),
    }


def _run(assets: list[Any], url: str, tmp_path: Path, stub: LeanStub | None, start: pd.Timestamp) -> None:
    dg.materialize(
        assets,
        partition_key=lane_window_key("macd_rsi", start),
        resources=_resources(url, tmp_path, stub, start),
        instance=dg.DagsterInstance.ephemeral(),
    )


def _planned(url: str, tmp_path: Path, start: pd.Timestamp = TEN_AM) -> None:
    _run([signals, trade_decisions], url, tmp_path, None, start)


def _executions(url: str, start: pd.Timestamp = TEN_AM) -> list[dict[str, Any]]:
    table = schema.executions
    engine = create_ledger_engine(url)
    with engine.connect() as conn:
        query = (
            sa.select(table).where(table.c.window_start == start.to_pydatetime()).order_by(table.c.created_at)
        )
        rows = [dict(r) for r in conn.execute(query).mappings()]
    engine.dispose()
    assert rows, "the fixture window must produce planned decisions"
    return rows


def _routes(rows: list[dict[str, Any]]) -> set[tuple[str, str, int, str | None]]:
    return {
        (
            r["execution_expected_adapter"],
            r["execution_actual_adapter"],
            r["execution_fallback_count"],
            r["execution_fallback_reason"],
        )
        for r in rows
    }


def test_healthy_lean_places_every_order(ledger_url: str, tmp_path: Path, stub: LeanStub) -> None:
    _planned(ledger_url, tmp_path)
    _run([executions], ledger_url, tmp_path, stub, TEN_AM)
    rows = _executions(ledger_url)
    assert _routes(rows) == {("lean", "lean", 0, None)}
    assert stub.submissions == len(rows)


def test_an_open_paper_window_routes_lean_to_lean_through_the_runners_contract(
    ledger_url: str, tmp_path: Path, stub: LeanStub
) -> None:
    """Issue 18: the contract stub answers as the reference runner (422 for any body it would refuse, only
    its routes), so a lean→lean row here means the client speaks the runner's API."""
    from torghut_assets_tests.contracts.lean_runner_models import ROUTES, SubmitOrderBody

    _planned(ledger_url, tmp_path)
    session = TradingSessionResource(
        lane_modes="macd_rsi=paper",
        fixed_now=(TEN_AM + pd.Timedelta(minutes=59)).isoformat(),
        planned_decision_timeout_seconds=0,  # every planned decision of the window is still fresh
    )
    dg.materialize(
        [executions],
        partition_key=lane_window_key("macd_rsi", TEN_AM),
        resources={**_resources(ledger_url, tmp_path, stub), "trading_session": session},
        instance=dg.DagsterInstance.ephemeral(),
    )
    rows = _executions(ledger_url)
    assert _routes(rows) == {("lean", "lean", 0, None)}
    assert all(r["raw_order"]["route"]["fallback"] is False for r in rows)
    assert stub.submissions == len(rows)
    submits = stub.requests_to("/v1/orders/submit")
    assert len(submits) == len(rows)
    for sent in submits:
        body = SubmitOrderBody.model_validate(sent.body)  # extra="forbid", order_type required
        assert sent.headers["Idempotency-Key"] == body.extra_params["client_order_id"]
    by_cid = {o["client_order_id"]: o for o in stub.orders.values()}
    for row in rows:
        placed = by_cid[row["client_order_id"]]
        assert (row["alpaca_order_id"], row["filled_qty"]) == (placed["id"], float(placed["filled_qty"]))
        assert row["raw_order"]["_execution_adapter"] == "lean"
        assert row["raw_order"]["_lean_audit"]["idempotency_key"] == row["client_order_id"]
    reference = [(m, re.compile("^" + re.sub(r"\{\w+\}", "[^/]+", p) + "$")) for m, p, _ in ROUTES]
    assert all(any(m == r.method and p.match(r.path) for m, p in reference) for r in stub.requests)


@pytest.mark.parametrize(
    ("mode", "reason"),
    [
        ("http_503", "lean_submit_order_http_503"),
        ("malformed_json", "lean_submit_order_invalid_json"),
        ("missing_id", "lean_submit_order_contract_violation"),
    ],
)
def test_lean_failure_falls_back_and_the_row_says_why(
    ledger_url: str, tmp_path: Path, stub: LeanStub, mode: str, reason: str
) -> None:
    _planned(ledger_url, tmp_path)
    stub.mode = mode
    _run([executions], ledger_url, tmp_path, stub, TEN_AM)
    rows = _executions(ledger_url)
    assert _routes(rows) == {("lean", "simulator", 1, reason)}
    assert all(r["raw_order"]["route"]["fallback"] is True for r in rows)
    assert all(r["raw_order"]["simulated"] is True for r in rows)


def test_a_timed_out_order_that_lean_placed_is_not_doubled(
    ledger_url: str, tmp_path: Path, stub: LeanStub
) -> None:
    _planned(ledger_url, tmp_path)
    stub.mode = "fill"
    stub.mode_ops = frozenset({"submit_order", "get_order_by_client_order_id"})  # not the open-orders read
    stub.script("timeout")
    stub.delay_seconds = 1.0
    _run([executions], ledger_url, tmp_path, stub, TEN_AM)
    rows = _executions(ledger_url)
    first = rows[0]
    assert (first["execution_actual_adapter"], first["execution_fallback_count"]) == ("lean", 0)
    assert [a["outcome"] for a in first["raw_order"]["route"]["attempts"]] == [
        "failed",
        "found_after_timeout",
    ]


def test_timeouts_without_confirmation_fall_back_with_the_timeout_reason(
    ledger_url: str, tmp_path: Path, stub: LeanStub
) -> None:
    _planned(ledger_url, tmp_path)
    stub.mode = "http_503"
    stub.script(*["timeout", "http_503"] * 50)
    stub.delay_seconds = 1.0
    _run([executions], ledger_url, tmp_path, stub, TEN_AM)
    rows = _executions(ledger_url)
    assert {r["execution_fallback_reason"] for r in rows} <= {
        "lean_submit_order_timeout",
        "lean_submit_order_http_503",
    }
    assert "lean_submit_order_timeout" in {r["execution_fallback_reason"] for r in rows}


def test_kill_switch_routes_the_next_window_to_the_fallback_and_back(
    ledger_url: str, tmp_path: Path, stub: LeanStub
) -> None:
    resources = _resources(ledger_url, tmp_path, stub)
    control = {"control": "lean_kill_switch", "reason": "LEAN canary breach", "operator": "ops@torghut"}
    flip_on = {"ops": {"record_route_control": {"config": {**control, "enabled": True}}}}
    assert set_route_control.execute_in_process(run_config=flip_on, resources=resources).success
    _planned(ledger_url, tmp_path, TEN_AM)
    _run([executions], ledger_url, tmp_path, stub, TEN_AM)
    killed = _executions(ledger_url, TEN_AM)
    assert _routes(killed) == {("simulator", "simulator", 0, None)}
    assert {r["raw_order"]["route"]["bypass_reason"] for r in killed} == {"lean_kill_switch_enabled"}
    assert stub.submissions == 0
    flip_off = {"ops": {"record_route_control": {"config": {**control, "enabled": False}}}}
    assert set_route_control.execute_in_process(run_config=flip_off, resources=resources).success
    _planned(ledger_url, tmp_path, ELEVEN_AM)
    _run([executions], ledger_url, tmp_path, stub, ELEVEN_AM)
    assert _routes(_executions(ledger_url, ELEVEN_AM)) == {("lean", "lean", 0, None)}


def test_rematerializing_never_resubmits_or_duplicates(
    ledger_url: str, tmp_path: Path, stub: LeanStub
) -> None:
    _planned(ledger_url, tmp_path)
    _run([executions], ledger_url, tmp_path, stub, TEN_AM)
    first, placed = _executions(ledger_url), stub.submissions
    _run([signals, trade_decisions, executions], ledger_url, tmp_path, stub, TEN_AM)
    assert stub.submissions == placed
    assert _executions(ledger_url) == first


def test_route_control_job_refuses_an_unattributed_change(ledger_url: str, tmp_path: Path) -> None:
    config = {"control": "lean_kill_switch", "enabled": True, "reason": "x", "operator": "  "}
    with pytest.raises(Exception, match="must not be blank"):
        set_route_control.execute_in_process(
            run_config={"ops": {"record_route_control": {"config": config}}},
            resources=_resources(ledger_url, tmp_path, None),
        )


def test_alpaca_paper_is_the_fallback_when_configured(
    ledger_url: str, tmp_path: Path, stub: LeanStub
) -> None:
    from torghut_assets_tests.adapters.alpaca_trading_stub import KEY_ID, SECRET_KEY, AlpacaTradingStub

    _planned(ledger_url, tmp_path)
    stub.mode = "http_503"
    with AlpacaTradingStub() as alpaca:
        broker = BrokerResource(
            lean_runner_url=stub.url,
            lean_timeout_seconds=0.3,
            alpaca_api_key_id=KEY_ID,
            alpaca_secret_key=SECRET_KEY,
            alpaca_trading_url=alpaca.url,
            paper_simulator_fallback=False,
        )
        dg.materialize(
            [executions],
            partition_key=lane_window_key("macd_rsi", TEN_AM),
            resources={**_resources(ledger_url, tmp_path, stub), "broker": broker},
            instance=dg.DagsterInstance.ephemeral(),
        )
    rows = _executions(ledger_url)
    assert _routes(rows) == {("lean", "alpaca", 1, "lean_submit_order_http_503")}
    assert all(r["filled_qty"] > 0 and r["avg_fill_price"] > 0 for r in rows)
    assert SECRET_KEY not in str(rows)


def test_with_fallback_none_a_lean_failure_places_no_order_anywhere_and_the_row_says_why(
    ledger_url: str, tmp_path: Path, stub: LeanStub
) -> None:
    _planned(ledger_url, tmp_path)
    stub.mode = "http_503"
    broker = BrokerResource(lean_runner_url=stub.url, lean_timeout_seconds=0.3, fallback_adapter="none")
    dg.materialize(
        [executions],
        partition_key=lane_window_key("macd_rsi", TEN_AM),
        resources={**_resources(ledger_url, tmp_path, stub), "broker": broker},
        instance=dg.DagsterInstance.ephemeral(),
    )
    rows = _executions(ledger_url)
    assert {(r["status"], r["filled_qty"], r["execution_actual_adapter"]) for r in rows} == {
        ("rejected", 0, "lean")
    }
    assert {r["execution_audit_json"]["failure_reason"] for r in rows} == {"lean_submit_order_http_503"}
    assert all(r["alpaca_order_id"].startswith("unplaced-") for r in rows)
    assert all(not r["raw_order"].get("simulated") for r in rows)
