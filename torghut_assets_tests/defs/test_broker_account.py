"""The broker's account in sizing and reconciliation (defs/lane_window/broker_account.py), against the
Alpaca stub:
with Alpaca keys, `trade_decisions` sizes on Alpaca's equity and buying power and says so; an account it
cannot read (or one Alpaca blocks) rejects the window's entries with the reason; without keys the lane's
simulated account sizes as before. Reconciliation compares Alpaca's positions with the ledger's fills."""

from __future__ import annotations

from collections.abc import Iterator
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
from torghut_assets.defs.reconciliation.nightly import CHECKS
from torghut_assets.defs.resources import BrokerResource, LedgerResource
from torghut_assets.domain.lanes import LANES
from torghut_assets.ledger import schema
from torghut_assets.ledger.engine import create_ledger_engine
from torghut_assets.services.broker_account import (
    BROKER_TRADING_BLOCKED,
    POSITIONS_CHECK,
    AccountBasis,
    positions_finding,
    read_account,
)
from torghut_assets_tests.adapters.alpaca_trading_stub import KEY_ID, SECRET_KEY, AlpacaTradingStub
from torghut_assets_tests.defs import lane_window_harness as harness

WINDOW = harness.OPEN_WINDOW
LANE = "macd_rsi"


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


def decide(
    url: str, root: Path, broker: BrokerResource, mode: str = "paper"
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Materialize the window's decisions with the lane in `mode`; (decision rows, trade_decisions
    metadata)."""
    result = dg.materialize(
        [signals, trade_decisions],
        partition_key=lane_window_key(LANE, WINDOW),
        resources={
            **harness.resources(url, root),
            "broker": broker,
            "trading_session": TradingSessionResource(lane_modes=f"{LANE}={mode}"),
        },
        instance=dg.DagsterInstance.ephemeral(),
    )
    (materialization,) = result.asset_materializations_for_node("trade_decisions")
    metadata = {k: v.value for k, v in materialization.metadata.items()}
    engine = create_ledger_engine(url)
    with engine.connect() as conn:
        rows = [dict(r) for r in conn.execute(sa.select(schema.trade_decisions)).mappings()]
    engine.dispose()
    return rows, metadata


def buys(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in rows if r["decision_json"]["action"] == "buy"]


def test_without_alpaca_keys_the_simulated_account_sizes(ledger_url: str, tmp_path: Path) -> None:
    rows, metadata = decide(ledger_url, tmp_path, BrokerResource())

    assert metadata["equity_source"] == "simulated"
    assert metadata["account"]["equity"] == LANES[LANE].equity
    assert any(r["status"] == "planned" for r in buys(rows))


def test_a_replay_lane_keeps_the_simulated_account_even_with_alpaca_keys(
    ledger_url: str, tmp_path: Path, alpaca: AlpacaTradingStub
) -> None:
    alpaca.mode = "http_503"  # would block every entry, were it asked

    rows, metadata = decide(ledger_url, tmp_path, alpaca_broker(alpaca), mode="replay")

    assert metadata["equity_source"] == "simulated"
    assert alpaca.requests_to("/v2/account") == []
    assert any(r["status"] == "planned" for r in buys(rows))


def test_with_alpaca_the_brokers_equity_and_buying_power_size_the_window(
    ledger_url: str, tmp_path: Path, alpaca: AlpacaTradingStub
) -> None:
    alpaca.cash = 5_000.0  # 10 % of it is 500: a ~1,000 entry is too large a position

    rows, metadata = decide(ledger_url, tmp_path, alpaca_broker(alpaca))

    assert metadata["equity_source"] == "alpaca"
    account = metadata["account"]
    assert (account["equity"], account["buying_power"], account["failure"]) == (5_000.0, 10_000.0, None)
    assert account["max_gross_notional"] == 10_000.0  # the lane's 25,000 within Alpaca's buying power
    assert account["account_id"] == "e6fe16f3-64a4-4921-8928-cadf02f92f98"
    entries = buys(rows)
    assert entries and all("max_position_pct_exceeded" in r["decision_json"]["risk_reasons"] for r in entries)
    assert alpaca.requests_to("/v2/account", "GET")


def test_an_account_alpaca_cannot_report_rejects_every_entry_with_the_reason(
    ledger_url: str, tmp_path: Path, alpaca: AlpacaTradingStub
) -> None:
    alpaca.mode = "http_503"

    rows, metadata = decide(ledger_url, tmp_path, alpaca_broker(alpaca))

    assert (metadata["equity_source"], metadata["account"]["failure"]) == (
        "alpaca",
        "alpaca_get_account_http_503",
    )
    assert metadata["entry_block"]["reason"] == "alpaca_get_account_http_503"
    entries = buys(rows)
    assert entries and all(r["status"] == "rejected" for r in entries)
    assert all("alpaca_get_account_http_503" in r["decision_json"]["risk_reasons"] for r in entries)


def test_an_account_alpaca_blocks_from_trading_rejects_every_entry(
    ledger_url: str, tmp_path: Path, alpaca: AlpacaTradingStub
) -> None:
    alpaca.account_overrides["account_blocked"] = True

    rows, _ = decide(ledger_url, tmp_path, alpaca_broker(alpaca))

    entries = buys(rows)
    assert entries and all(BROKER_TRADING_BLOCKED in r["decision_json"]["risk_reasons"] for r in entries)


def test_read_account_keeps_a_failure_as_its_reason_code_never_the_simulated_account(
    alpaca: AlpacaTradingStub,
) -> None:
    alpaca.mode = "malformed_json"

    basis = read_account(alpaca_broker(alpaca))

    assert basis == AccountBasis("alpaca", failure="alpaca_get_account_invalid_json")
    lane = LANES[LANE]
    assert basis.sized(lane) == lane
    assert basis.entry_block(WINDOW) is not None


# --- reconciliation ---------------------------------------------------------------------------------


def test_positions_match_broker_is_one_of_the_nightly_checks() -> None:
    assert POSITIONS_CHECK in dict(CHECKS)


def test_without_alpaca_the_positions_check_is_a_warning_not_a_pass(ledger_url: str, tmp_path: Path) -> None:
    ledger = LedgerResource(database_url=ledger_url, artifact_root=str(tmp_path))

    finding = positions_finding(ledger, BrokerResource())

    assert (finding.passed, finding.severity) == (False, "WARN")
    assert finding.keys == (
        "the market simulator (no broker account configured) holds no positions of its own: its account "
        "is the ledger's net fills, so there is nothing independent to compare; configure an Alpaca "
        "paper account to check positions",
    )


def test_alpacas_positions_are_reconciled_against_the_ledgers_fills(
    ledger_url: str, tmp_path: Path, alpaca: AlpacaTradingStub
) -> None:
    broker = alpaca_broker(alpaca)
    ledger = LedgerResource(database_url=ledger_url, artifact_root=str(tmp_path))
    result = dg.materialize(
        [signals, trade_decisions, executions],
        partition_key=lane_window_key(LANE, WINDOW),
        resources={
            **harness.resources(ledger_url, tmp_path),
            "broker": broker,
            "trading_session": harness.trading_as_open_window(WINDOW),
        },
        instance=dg.DagsterInstance.ephemeral(),
    )
    assert result.success and alpaca.submissions > 0
    held = {s: q for s, (q, _) in alpaca.positions.items()}

    agreed = positions_finding(ledger, broker)
    assert agreed.passed and agreed.detail["broker"] == held, agreed.keys

    alpaca.book_fill("ZZZ", "buy", 3, 10.0)  # a fill the ledger knows nothing of
    differs = positions_finding(ledger, broker)
    assert not differs.passed and differs.keys == ("ZZZ: ledger 0 vs alpaca 3",)

    alpaca.mode = "http_503"
    unknown = positions_finding(ledger, broker)
    assert not unknown.passed
    assert unknown.keys == (
        "alpaca positions unreadable (alpaca_list_positions_http_503): unknown is not flat",
    )
    assert pd.isna(unknown.detail.get("broker", float("nan")))  # nothing read is reported as held
