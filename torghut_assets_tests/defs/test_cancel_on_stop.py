"""A stop that stands cancels: the trading kill switch on its flip and on every following window, and an
emergency stop when it fires; each cancel attempt and its outcome is a ledger row and an evidence entry."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import sqlalchemy as sa

from torghut_assets.defs.lane_window.trading_session import TradingSessionResource
from torghut_assets.defs.routing.route_controls import set_route_control
from torghut_assets.ledger import evidence_log, order_cancellations
from torghut_assets.ledger.engine import create_ledger_engine
from torghut_assets.ledger.route_controls import TRADING_KILL_SWITCH, record_control
from torghut_assets.services.continuity import cancel_on_emergency_stop
from torghut_assets_tests.defs.lane_window_harness import resources
from torghut_assets_tests.defs.test_trading_in_the_present import (
    PAPER,
    RecordingBroker,
    _live_session,
    _resting,
)

NOW = pd.Timestamp("2026-03-03 15:20", tz="UTC")


def _cancellations(url: str) -> list[dict[str, Any]]:
    engine = create_ledger_engine(url)
    try:
        with engine.connect() as conn:
            return order_cancellations.cancellations(conn)
    finally:
        engine.dispose()


def _evidence_kinds(url: str) -> list[str]:
    engine = create_ledger_engine(url)
    try:
        with engine.connect() as conn:
            table = evidence_log.evidence_log
            return [r[0] for r in conn.execute(sa.select(table.c.entry_kind).order_by(table.c.seq))]
    finally:
        engine.dispose()


def _broker_with_open_orders() -> RecordingBroker:
    broker = RecordingBroker()
    broker.recorder.open_orders = [_resting("AAPL", "buy"), _resting("MSFT", "sell")]
    return broker


def _flip_kill_switch(url: str, root: Path, broker: RecordingBroker) -> None:
    config = {
        "control": TRADING_KILL_SWITCH,
        "enabled": True,
        "reason": "desk halt",
        "operator": "ops@torghut",
    }
    result = set_route_control.execute_in_process(
        run_config={"ops": {"record_route_control": {"config": config}}},
        resources={**resources(url, root), "broker": broker},
    )
    assert result.success


def test_flipping_the_trading_kill_switch_cancels_every_open_order_at_once(
    ledger_url: str, tmp_path: Path
) -> None:
    broker = _broker_with_open_orders()
    _flip_kill_switch(ledger_url, tmp_path, broker)
    assert broker.recorder.cancel_all_calls == 1 and broker.recorder.open_orders == []
    rows = _cancellations(ledger_url)
    assert {(r["order_id"], r["accepted"], r["trigger"], r["trigger_source"]) for r in rows} == {
        ("resting-AAPL-buy", True, "trading_kill_switch", "set_route_control"),
        ("resting-MSFT-sell", True, "trading_kill_switch", "set_route_control"),
    }
    assert "order_cancellation" in _evidence_kinds(ledger_url)


def test_while_the_kill_switch_stands_every_window_of_a_paper_lane_cancels_again(
    ledger_url: str, tmp_path: Path
) -> None:
    engine = create_ledger_engine(ledger_url)
    with engine.begin() as conn:
        record_control(
            conn,
            control=TRADING_KILL_SWITCH,
            enabled=True,
            reason="desk halt",
            operator="ops@torghut",
            source="test",
            at=(NOW - pd.Timedelta(hours=1)).to_pydatetime(),
        )
    engine.dispose()
    broker = _broker_with_open_orders()
    _live_session(ledger_url, tmp_path, broker, [NOW])
    broker.recorder.open_orders = [_resting("NVDA", "buy")]
    _live_session(ledger_url, tmp_path, broker, [NOW + pd.Timedelta(minutes=1)])
    assert broker.recorder.cancel_all_calls == 2
    assert broker.recorder.submitted == []
    rows = _cancellations(ledger_url)
    by_tick = sorted((r["attempted_at"], r["order_id"]) for r in rows)
    assert [order for _, order in by_tick] == ["resting-AAPL-buy", "resting-MSFT-sell", "resting-NVDA-buy"]
    assert {(r["lane"], r["trigger_source"], r["trigger_reason"]) for r in rows} == {
        ("macd_rsi", "executions", "kill_switch_enabled")
    }


def test_an_emergency_stop_firing_on_a_paper_lane_cancels_open_orders(
    ledger_url: str, tmp_path: Path
) -> None:
    broker = _broker_with_open_orders()
    fired = {
        "lane": "macd_rsi",
        "window_start": NOW.floor("h").isoformat(),
        "transition": "emergency_stop",
        "reason": "no_signals_in_window",
        "latched_window": NOW.floor("h").isoformat(),
        "detail": ["signal_lag_exceeded:900"],
    }
    session = TradingSessionResource(lane_modes=PAPER)
    attempts = cancel_on_emergency_stop(
        resources(ledger_url, tmp_path)["ledger"], broker, session, [fired], NOW
    )
    assert attempts == 1 and broker.recorder.cancel_all_calls == 1
    rows = _cancellations(ledger_url)
    assert {(r["trigger"], r["trigger_reason"], r["accepted"]) for r in rows} == {
        ("emergency_stop", "signal_lag_exceeded:900", True)
    }


def test_an_emergency_stop_on_a_replay_lane_reaches_no_broker(ledger_url: str, tmp_path: Path) -> None:
    broker = _broker_with_open_orders()
    fired = {"lane": "macd_rsi", "transition": "emergency_stop", "reason": "x", "detail": ["y"]}
    replay = TradingSessionResource()
    assert (
        cancel_on_emergency_stop(resources(ledger_url, tmp_path)["ledger"], broker, replay, [fired], NOW) == 0
    )
    assert broker.recorder.cancel_all_calls == 0


def test_a_venue_that_cannot_cancel_leaves_a_refused_row_with_its_reason(
    ledger_url: str, tmp_path: Path
) -> None:
    broker = _broker_with_open_orders()
    broker.recorder.cancel_fails = "http_503"
    _flip_kill_switch(ledger_url, tmp_path, broker)
    (row,) = _cancellations(ledger_url)
    assert (row["venue"], row["order_id"], row["accepted"], row["detail"]) == (
        "alpaca",
        None,
        False,
        "alpaca_cancel_all_orders_http_503",
    )
