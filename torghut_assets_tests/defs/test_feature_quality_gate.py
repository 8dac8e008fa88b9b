"""A window whose signals fail a feature quality gate fails closed through the real assets: the ingest
verdict records why, `trade_decisions` decides nothing and `executions` sends nothing (docs/signal-sources.md,
"Quality gates"). A paper lane in its open window, fed from a SQL `ta_signals` copy, with a recording broker
in place of the real venue; the same window with an on-time feed is the control that trades."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dagster as dg
import pandas as pd
import pytest
import sqlalchemy as sa

from torghut_assets.adapters.market_simulator import MarketSimulator
from torghut_assets.adapters.sql_signal_source import create_ta_signals_table, write_ta_signals
from torghut_assets.defs.lane_window.executions import executions
from torghut_assets.defs.lane_window.partitions import lane_window_key
from torghut_assets.defs.lane_window.signals import signals
from torghut_assets.defs.lane_window.trading import trade_decisions
from torghut_assets.defs.lane_window.trading_session import TradingSessionResource
from torghut_assets.defs.llm.llm_reviews import llm_decision_reviews
from torghut_assets.defs.resources import MarketDataResource
from torghut_assets.ledger import schema
from torghut_assets.ledger.engine import create_ledger_engine
from torghut_assets_tests.defs.lane_window_harness import OPEN_WINDOW, resources
from torghut_assets_tests.defs.test_trading_in_the_present import RecordingBroker

SESSION_OPEN = pd.Timestamp("2026-03-03 14:30", tz="UTC")
WINDOW_END = OPEN_WINDOW + pd.Timedelta(hours=1)
ON_TIME = pd.Timedelta(seconds=1)
BACKED_UP = pd.Timedelta(minutes=3)  # 180 000 ms of lag against the 120 000 ms budget
LAST_SECOND = WINDOW_END - pd.Timedelta(seconds=1)


def _feed(
    tmp_path: Path, lag: pd.Timedelta, start: pd.Timestamp = SESSION_OPEN, end: pd.Timestamp = WINDOW_END
) -> str:
    """Signals with `event_ts` in [start, end) added to a SQL `ta_signals` copy, each landing `lag` after
    its event."""
    url = f"sqlite:///{tmp_path / 'ta_signals.db'}"
    rows = MarketSimulator().signals(SESSION_OPEN, WINDOW_END)
    rows = rows[(rows["event_ts"] >= start) & (rows["event_ts"] < end)]
    engine = sa.create_engine(url)
    create_ta_signals_table(engine)
    write_ta_signals(engine, rows.assign(ingest_ts=rows["event_ts"] + lag))
    engine.dispose()
    return url


def _run_window(
    ledger_url: str,
    tmp_path: Path,
    feed_url: str,
    broker: RecordingBroker | None = None,
    now: pd.Timestamp = LAST_SECOND,
) -> tuple[dg.ExecuteInProcessResult, Any]:
    """The open-window steps for the paper lane with the clock at `now` and decision expiry off."""
    broker = broker or RecordingBroker()
    result = dg.materialize(
        [signals, trade_decisions, llm_decision_reviews, executions],
        partition_key=lane_window_key("macd_rsi", OPEN_WINDOW),
        resources={
            **resources(ledger_url, tmp_path),
            "market_data": MarketDataResource(source="sql", sql_url=feed_url),
            "broker": broker,
            "trading_session": TradingSessionResource(
                lane_modes="macd_rsi=paper", planned_decision_timeout_seconds=0, fixed_now=now.isoformat()
            ),
        },
        instance=dg.DagsterInstance.ephemeral(),
    )
    return result, broker.recorder


def _rows(url: str, table: sa.Table) -> list[dict[str, Any]]:
    engine = create_ledger_engine(url)
    try:
        with engine.connect() as conn:
            return [
                dict(r) for r in conn.execute(sa.select(table).where(table.c.lane == "macd_rsi")).mappings()
            ]
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    ("lag", "trades"), [(ON_TIME, True), (BACKED_UP, False)], ids=["on_time_feed", "backed_up_feed"]
)
def test_a_window_past_the_staleness_budget_decides_nothing_and_sends_nothing(
    ledger_url: str, tmp_path: Path, lag: pd.Timedelta, trades: bool
) -> None:
    _, venue = _run_window(ledger_url, tmp_path, _feed(tmp_path, lag))
    decisions = _rows(ledger_url, schema.trade_decisions)
    sent = _rows(ledger_url, schema.executions)
    assert bool(decisions) is trades and bool(sent) is trades
    assert bool(venue.submitted) is trades


def test_the_failed_gate_is_the_window_verdict_and_the_batch_is_kept_as_evidence(
    ledger_url: str, tmp_path: Path
) -> None:
    result, _ = _run_window(ledger_url, tmp_path, _feed(tmp_path, BACKED_UP))
    (verdict,) = _rows(ledger_url, schema.signal_ingest_windows)
    assert verdict["no_signal_reason"] == "feature_quality_gate_failed"
    assert verdict["no_signal_detail"] == "feature_staleness_exceeds_budget"
    assert verdict["signals_total"] == len(_rows(ledger_url, schema.signals)) > 0
    quality = result.asset_materializations_for_node("signals")[0].metadata["feature_quality"].value
    assert quality["accepted"] is False
    assert quality["reasons"] == ["feature_staleness_exceeds_budget"]
    assert (quality["staleness_ms_p95"], quality["limits"]["max_staleness_ms"]) == (180_000, 120_000)
    assert quality["duplicate_ratio"] == 0.0 and quality["limits"]["max_duplicate_ratio"] == 0.02
    assert quality["null_rate_by_field"] == {"price": 0.0, "macd": 0.0, "macd_signal": 0.0, "rsi14": 0.0}
    decided = result.asset_materializations_for_node("trade_decisions")[0].metadata
    assert decided["feature_quality_gate_failed"].value == "feature_staleness_exceeds_budget"


def test_a_configured_budget_is_the_one_the_window_is_judged_by(ledger_url: str, tmp_path: Path) -> None:
    """The same backed-up feed passes when TRADING_FEATURE_MAX_STALENESS_MS allows its 3 minutes."""
    result = dg.materialize(
        [signals],
        partition_key=lane_window_key("macd_rsi", OPEN_WINDOW),
        resources={
            **resources(ledger_url, tmp_path),
            "market_data": MarketDataResource(
                source="sql", sql_url=_feed(tmp_path, BACKED_UP), feature_max_staleness_ms=180_000
            ),
        },
        instance=dg.DagsterInstance.ephemeral(),
    )
    quality = result.asset_materializations_for_node("signals")[0].metadata["feature_quality"].value
    assert quality["accepted"] is True and quality["staleness_ms_p95"] == 180_000
    (verdict,) = _rows(ledger_url, schema.signal_ingest_windows)
    assert verdict["no_signal_reason"] is None


def test_orders_sent_while_the_batch_passed_keep_their_rows_when_a_later_run_fails_the_gate(
    ledger_url: str, tmp_path: Path
) -> None:
    """The feed is on time until 15:30, when a tick sends the decisions so far; then it backs up, so the
    run at the window's end fails the gate. It sends nothing more, and the orders already at the broker
    keep their decision and execution rows."""
    half = OPEN_WINDOW + pd.Timedelta(minutes=30)
    broker = RecordingBroker()
    _run_window(ledger_url, tmp_path, _feed(tmp_path, ON_TIME, end=half), broker, now=half)
    sent_before = list(broker.recorder.submitted)
    executed_before = {r["client_order_id"] for r in _rows(ledger_url, schema.executions)}
    assert sent_before and executed_before == {o.client_order_id for o in sent_before}
    _run_window(ledger_url, tmp_path, _feed(tmp_path, BACKED_UP, start=half), broker)
    (verdict,) = _rows(ledger_url, schema.signal_ingest_windows)
    assert verdict["no_signal_detail"] == "feature_staleness_exceeds_budget"
    assert broker.recorder.submitted == sent_before
    assert {r["client_order_id"] for r in _rows(ledger_url, schema.executions)} == executed_before
    assert {d["decision_hash"] for d in _rows(ledger_url, schema.trade_decisions)} == executed_before
