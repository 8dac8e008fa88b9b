"""Reconciliation walks the venues' side (`venue_orders_known`): every order a venue holds from the
lookback, submitted or filled, must have an execution row, matched by client order id; an order the
ledger does not know is named. A venue that cannot be read, cannot list a time range or lists nothing,
and a lookback without executions, are warnings with their reason: never a pass.

The ledger is one lane window (macd_rsi, 2026-03-03 15:00) decided and executed on the simulated venue,
on SQLite and PostgreSQL; the venue whose side is walked is the Alpaca stub, holding orders placed at
chosen instants (`hold_order`), or the LEAN runner stub.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from torghut_assets.defs.lane_window.executions import executions
from torghut_assets.defs.lane_window.signals import signals
from torghut_assets.defs.lane_window.trading import trade_decisions
from torghut_assets.defs.resources import BrokerResource, LedgerResource, MarketDataResource
from torghut_assets.ledger import schema
from torghut_assets.ledger.engine import create_ledger_engine
from torghut_assets.services.reconciliation import (
    BROKER_CHECK,
    VENUE_ORDERS_CHECK,
    broker_finding,
    venue_orders_finding,
)
from torghut_assets_tests.adapters.alpaca_trading_stub import KEY_ID, SECRET_KEY, AlpacaTradingStub
from torghut_assets_tests.adapters.lean_stub import LeanStub
from torghut_assets_tests.defs.lane_window_harness import OPEN_WINDOW, materialize_window

SINCE, UNTIL = OPEN_WINDOW, OPEN_WINDOW + pd.Timedelta(hours=1)


@pytest.fixture(scope="module")
def executed(module_ledger_url: str, tmp_path_factory: pytest.TempPathFactory) -> LedgerResource:
    root = tmp_path_factory.mktemp("venue-orders")
    materialize_window(
        module_ledger_url, root, "macd_rsi", OPEN_WINDOW, [signals, trade_decisions, executions]
    )
    return LedgerResource(database_url=module_ledger_url, artifact_root=str(root))


@pytest.fixture
def alpaca() -> Iterator[AlpacaTradingStub]:
    with AlpacaTradingStub() as stub:
        yield stub


def alpaca_broker(stub: AlpacaTradingStub) -> BrokerResource:
    return BrokerResource(
        alpaca_api_key_id=KEY_ID,
        alpaca_secret_key=SECRET_KEY,
        alpaca_trading_url=stub.url,
        alpaca_timeout_seconds=0.5,
        paper_simulator_fallback=False,
    )


def _ledger_ids(ledger: LedgerResource) -> tuple[str, str]:
    """An executed order's client order id, and a decision hash no execution carries (a decision the
    risk checks rejected: never sent)."""
    engine = create_ledger_engine(ledger.resolved_url())
    with engine.connect() as conn:
        executed = conn.execute(sa.select(schema.executions.c.client_order_id).limit(1)).scalar_one()
        unsent = conn.execute(
            sa.select(schema.trade_decisions.c.decision_hash)
            .where(
                schema.trade_decisions.c.decision_hash.not_in(sa.select(schema.executions.c.client_order_id))
            )
            .limit(1)
        ).scalar_one()
    engine.dispose()
    return str(executed), str(unsent)


def test_an_order_at_the_venue_with_no_execution_row_is_named_by_client_order_id(
    executed: LedgerResource, alpaca: AlpacaTradingStub
) -> None:
    known, unsent = _ledger_ids(executed)
    stranger = hashlib.sha256(b"an order placed by hand on the paper account").hexdigest()
    alpaca.hold_order(known, "AAPL", "buy", 10, SINCE + pd.Timedelta(minutes=5), fill_price=190.0)
    alpaca.hold_order(unsent, "MSFT", "buy", 4, SINCE + pd.Timedelta(minutes=20), fill_price=401.0)
    alpaca.hold_order(stranger, "NVDA", "sell", 7, SINCE + pd.Timedelta(minutes=40))
    alpaca.hold_order("next-day", "AAPL", "buy", 1, UNTIL + pd.Timedelta(hours=20))  # outside the lookback

    finding = venue_orders_finding(executed, alpaca_broker(alpaca), SINCE, UNTIL)

    assert (finding.check, finding.passed, finding.severity) == (VENUE_ORDERS_CHECK, False, "ERROR")
    assert (finding.examined, finding.failing) == (3, 2)
    assert [key.split(":")[0] for key in finding.keys] == [unsent, stranger]
    assert finding.keys[0].endswith("its decision is in the ledger, its execution row is not")
    assert "(NVDA sell 7, accepted)" in finding.keys[1]
    assert not any(known in key for key in finding.keys)


def test_orders_the_ledger_knows_pass(executed: LedgerResource, alpaca: AlpacaTradingStub) -> None:
    known, _ = _ledger_ids(executed)
    alpaca.hold_order(known, "AAPL", "buy", 10, SINCE + pd.Timedelta(minutes=5), fill_price=190.0)

    finding = venue_orders_finding(executed, alpaca_broker(alpaca), SINCE, UNTIL)

    assert (finding.passed, finding.examined, finding.keys) == (True, 1, ())


def test_a_venue_that_cannot_be_read_gives_a_warning_with_the_reason_never_a_pass(
    executed: LedgerResource, alpaca: AlpacaTradingStub
) -> None:
    alpaca.mode = "http_503"

    finding = venue_orders_finding(executed, alpaca_broker(alpaca), SINCE, UNTIL)

    assert (finding.passed, finding.severity, finding.verdict) == (False, "WARN", "warn")
    assert finding.keys == (
        "alpaca: orders unreadable (alpaca_list_orders_http_503): unknown is not 'none unknown'",
    )


def test_an_empty_lookback_is_a_warning_not_a_pass(
    ledger_url: str, tmp_path: Path, alpaca: AlpacaTradingStub
) -> None:
    ledger = LedgerResource(database_url=ledger_url, artifact_root=str(tmp_path))
    broker = alpaca_broker(alpaca)

    venue_side = venue_orders_finding(ledger, broker, SINCE, UNTIL)
    ledger_side = broker_finding(ledger, MarketDataResource(), broker, SINCE, UNTIL)

    assert (venue_side.passed, venue_side.severity) == (False, "WARN")
    assert venue_side.keys == ("alpaca: lists no order submitted or filled in the lookback",)
    assert (ledger_side.check, ledger_side.passed, ledger_side.severity) == (BROKER_CHECK, False, "WARN")
    assert ledger_side.keys == ("no executions in the lookback: nothing to compare",)


def test_a_lean_runner_cannot_list_a_time_range_so_its_side_is_a_warning(executed: LedgerResource) -> None:
    with LeanStub() as stub:
        finding = venue_orders_finding(
            executed, BrokerResource(lean_runner_url=stub.url, paper_simulator_fallback=False), SINCE, UNTIL
        )

    assert (finding.passed, finding.severity) == (False, "WARN")
    (warning,) = finding.keys
    assert warning.startswith(
        "lean: cannot list its orders in a time range; its 0 execution(s) of the lookback"
    )


def test_a_simulated_venue_built_afresh_lists_nothing_which_is_a_warning(executed: LedgerResource) -> None:
    finding = venue_orders_finding(executed, BrokerResource(), SINCE, UNTIL)

    assert (finding.passed, finding.severity) == (False, "WARN")
    executions = finding.detail["executions_by_venue"]["simulator"]
    assert executions > 0
    assert finding.keys == (
        "simulator: the market simulator (no broker configured) keeps its order book only in the run that "
        f"placed the orders, so it has no record of its own to list; its {executions} execution(s) of the "
        "lookback are re-simulated by executions_match_broker instead",
    )
