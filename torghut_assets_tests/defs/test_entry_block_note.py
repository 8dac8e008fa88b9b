"""`executions` explains a standing entry block against the window's own orders: buys decided before the
block stand (and may have filled), entries decided after it are refused, and the UI says which is which."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path
from typing import Any

import pandas as pd
import sqlalchemy as sa

from torghut_assets.defs.lane_window.executions import executions
from torghut_assets.defs.lane_window.signals import signals
from torghut_assets.defs.lane_window.trading import trade_decisions
from torghut_assets.domain.decisions import EntryBlock
from torghut_assets.domain.lanes import LaneWindow
from torghut_assets.ledger import rollout_store, schema
from torghut_assets.ledger.engine import create_ledger_engine
from torghut_assets.services.entry_block_account import account_for_block
from torghut_assets_tests.defs.lane_window_harness import materialize_window

START = pd.Timestamp("2026-03-03 15:00", tz="UTC")
NOW = dt.datetime(2026, 3, 3, 17, 0, tzinfo=dt.UTC)


def _built() -> LaneWindow:
    return LaneWindow("macd_rsi", START)


def _decision(
    action: str, minute: int, status: str = "submitted", reasons: list[str] | None = None
) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "decision_json": {"action": action, "risk_reasons": reasons or []},
        "status": status,
        "signal_event_ts": START + pd.Timedelta(minutes=minute),
    }


def _order(decision: dict[str, Any], filled: float) -> dict[str, Any]:
    return {"trade_decision_id": decision["id"], "filled_qty": filled}


def test_buys_decided_before_a_halt_are_named_as_filled_before_it_and_none_after() -> None:
    block = EntryBlock("lane_halted", START + pd.Timedelta(minutes=32))
    early = [_decision("buy", 5), _decision("buy", 10), _decision("buy", 20)]
    refused = _decision("buy", 40, status="rejected", reasons=["lane_halted"])
    exit_after = _decision("sell", 45)
    decisions = [*early, refused, exit_after]
    orders = [_order(d, 10.0) for d in early] + [_order(exit_after, 10.0)]
    account = account_for_block(block, _built(), decisions, orders, NOW)
    assert account.sentence() == (
        "entry_block lane_halted set at 2026-03-03 15:32 UTC; 3 buys filled before it; "
        "no entry after it (1 entry refused by it)"
    )


def test_a_block_set_after_the_window_says_every_order_predates_it() -> None:
    block = EntryBlock("lane_halted", START + pd.Timedelta(hours=3))
    buy = _decision("buy", 5)
    sentence = account_for_block(block, _built(), [buy], [_order(buy, 0.0)], NOW).sentence()
    assert sentence == (
        "entry_block lane_halted set at 2026-03-03 18:00 UTC, after this window ended: every order here "
        "predates it; 1 buy sent before it not filled; no entry after it"
    )


def test_an_entry_sent_after_the_block_is_reported_not_hidden() -> None:
    block = EntryBlock("kill_switch_enabled", START)
    buy = _decision("buy", 5)
    sentence = account_for_block(block, _built(), [buy], [_order(buy, 1.0)], NOW).sentence()
    assert sentence.endswith("before this window began; 1 entry sent after it")


def test_the_executions_asset_explains_a_halt_set_after_its_buys_filled(
    ledger_url: str, tmp_path: Path
) -> None:
    materialize_window(ledger_url, tmp_path, "macd_rsi", START, assets=[signals, trade_decisions, executions])
    engine = create_ledger_engine(ledger_url)
    with engine.begin() as conn:
        e, d = schema.executions, schema.trade_decisions
        buys_filled = conn.execute(
            sa.select(sa.func.count())
            .select_from(e.join(d, d.c.id == e.c.trade_decision_id))
            .where(e.c.side == "buy", e.c.filled_qty > 0)
        ).scalar_one()
        state, seq = rollout_store.load_lane(conn, "macd_rsi")
        halted_at = dt.datetime(2026, 3, 3, 16, 30, tzinfo=dt.UTC)  # after the window's decisions
        rollout_store.append_transition(
            conn,
            state.halt(at=halted_at, reason="fills diverging", actor="oncall@torghut"),
            after_seq=seq,
            from_candidate_id=None,
            gate_results=None,
            reason_codes=["test"],
            blocking_gate=None,
        )
    engine.dispose()
    assert buys_filled > 0
    result = materialize_window(ledger_url, tmp_path, "macd_rsi", START, assets=[executions])
    metadata = result.asset_materializations_for_node("executions")[0].metadata
    assert metadata["entry_block"].value == {"reason": "lane_halted", "since": halted_at.isoformat()}
    assert metadata["entry_block_note"].value == (
        "entry_block lane_halted set at 2026-03-03 16:30 UTC, after this window ended: every order here "
        f"predates it; {buys_filled} buy{'' if buys_filled == 1 else 's'} filled before it; no entry after it"
    )
    assert str(metadata["snapshot_note"].value).startswith("snapshot of ")
