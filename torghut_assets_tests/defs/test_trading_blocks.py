"""No new entries while the trading kill switch, an emergency stop or a continuity alert stands."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pandas as pd
import sqlalchemy as sa

from torghut_assets.defs.lane_window.partitions import lane_window_key
from torghut_assets.defs.lane_window.signals import signals
from torghut_assets.defs.lane_window.trading import trade_decisions
from torghut_assets.defs.lane_window.trading_session import TradingSessionResource
from torghut_assets.defs.resources import BrokerResource, LedgerResource, MarketDataResource
from torghut_assets.domain.continuity import ContinuityState
from torghut_assets.ledger import schema
from torghut_assets.ledger.continuity_store import save_state
from torghut_assets.ledger.engine import create_ledger_engine
from torghut_assets.ledger.route_controls import TRADING_KILL_SWITCH, record_control

WINDOW = pd.Timestamp("2026-03-03 15:00", tz="UTC")


def _decide(url: str, tmp_path: Path) -> list[dict[str, object]]:
    ledger = LedgerResource(database_url=url, artifact_root=str(tmp_path))
    dg.materialize(
        [signals, trade_decisions],
        partition_key=lane_window_key("macd_rsi", WINDOW),
        resources={
            "ledger": ledger,
            "market_data": MarketDataResource(),
            "broker": BrokerResource(),
            "trading_session": TradingSessionResource(),
        },
        instance=dg.DagsterInstance.ephemeral(),
    )
    table = schema.trade_decisions
    engine = create_ledger_engine(url)
    with engine.connect() as conn:
        rows = [dict(r) for r in conn.execute(sa.select(table)).mappings()]
    engine.dispose()
    return rows


def _buys(rows: list[dict[str, object]]) -> list[dict[str, object]]:
    return [r for r in rows if r["decision_json"]["action"] == "buy"]  # type: ignore[index]


def test_trading_kill_switch_rejects_every_entry_after_it_was_flipped(
    ledger_url: str, tmp_path: Path
) -> None:
    engine = create_ledger_engine(ledger_url)
    with engine.begin() as conn:
        record_control(
            conn,
            control=TRADING_KILL_SWITCH,
            enabled=True,
            reason="drill",
            operator="ops",
            source="test",
            at=(WINDOW - pd.Timedelta(minutes=30)).to_pydatetime(),
        )
    engine.dispose()
    buys = _buys(_decide(ledger_url, tmp_path))
    assert buys and all(r["status"] == "rejected" for r in buys)
    assert all("kill_switch_enabled" in r["decision_json"]["risk_reasons"] for r in buys)  # type: ignore[index]


def test_a_latched_continuity_alert_rejects_entries(ledger_url: str, tmp_path: Path) -> None:
    latched = ContinuityState(
        lane="macd_rsi",
        last_window_start=WINDOW - pd.Timedelta(hours=1),
        alert_active=True,
        alert_reason="source_unavailable",
        alert_since=WINDOW - pd.Timedelta(hours=2),
    )
    engine = create_ledger_engine(ledger_url)
    with engine.begin() as conn:
        save_state(conn, latched, [], WINDOW.to_pydatetime())
    engine.dispose()
    buys = _buys(_decide(ledger_url, tmp_path))
    assert buys and all(
        "signal_continuity_alert_active" in r["decision_json"]["risk_reasons"]
        for r in buys  # type: ignore[index]
    )


def test_a_block_raised_after_the_window_does_not_rewrite_it(ledger_url: str, tmp_path: Path) -> None:
    engine = create_ledger_engine(ledger_url)
    with engine.begin() as conn:
        record_control(
            conn,
            control=TRADING_KILL_SWITCH,
            enabled=True,
            reason="later",
            operator="ops",
            source="test",
            at=(WINDOW + pd.Timedelta(days=2)).to_pydatetime(),
        )
    engine.dispose()
    rows = _decide(ledger_url, tmp_path)
    assert not any("kill_switch_enabled" in r["decision_json"]["risk_reasons"] for r in rows)
    assert all(r["status"] == "planned" for r in rows if not r["decision_json"]["risk_reasons"])
