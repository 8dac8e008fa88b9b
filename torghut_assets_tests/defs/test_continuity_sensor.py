"""The continuity sensor: evaluates closed windows from the ledger, persists the latch, never double-fires."""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from torghut_assets.defs.alerts import AlertsResource
from torghut_assets.defs.continuity.signal_continuity import signal_continuity_sensor
from torghut_assets.defs.continuity.thresholds import ContinuityThresholdsResource
from torghut_assets.defs.lane_window.trading_session import TradingSessionResource
from torghut_assets.defs.resources import BrokerResource, LedgerResource
from torghut_assets.domain.continuity import ContinuityConfig, live_promotion_block
from torghut_assets.ledger.continuity_store import load_state
from torghut_assets.ledger.engine import create_ledger_engine
from torghut_assets.services.continuity import evaluate_lane

MONDAY = pd.Timestamp("2026-03-02 00:00", tz="UTC")


def _ledger(url: str, tmp_path: Path) -> LedgerResource:
    return LedgerResource(database_url=url, artifact_root=str(tmp_path / "artifacts"))


def _state(url: str, lane: str):
    engine = create_ledger_engine(url)
    with engine.connect() as conn:
        state = load_state(conn, lane)
    engine.dispose()
    return state


def test_unmaterialized_open_market_windows_latch_the_alert(ledger_url: str, tmp_path: Path) -> None:
    now = MONDAY + pd.Timedelta(hours=18, minutes=30)  # 13:30 New York, nothing materialized
    state, events = evaluate_lane(_ledger(ledger_url, tmp_path), "macd_rsi", now, ContinuityConfig())
    assert state.alert_active and state.alert_reason == "lane_window_missing"
    assert [e["transition"] for e in events][:1] == ["latched"]
    stored = _state(ledger_url, "macd_rsi")
    assert stored == state
    assert stored.emergency_stop_active  # three missing open-market windows: critical staleness streak
    assert live_promotion_block(stored) == "emergency_stop_active"


def test_evaluation_resumes_where_it_stopped(ledger_url: str, tmp_path: Path) -> None:
    ledger = _ledger(ledger_url, tmp_path)
    first, _ = evaluate_lane(
        ledger, "macd_rsi", MONDAY + pd.Timedelta(hours=16, minutes=30), ContinuityConfig()
    )
    again, events = evaluate_lane(
        ledger, "macd_rsi", MONDAY + pd.Timedelta(hours=16, minutes=30), ContinuityConfig()
    )
    assert events == [] and again == first
    later, _ = evaluate_lane(
        ledger, "macd_rsi", MONDAY + pd.Timedelta(hours=18, minutes=30), ContinuityConfig()
    )
    assert later.last_window_start == first.last_window_start + pd.Timedelta(hours=2)


@pytest.mark.parametrize("ledger_url", ["sqlite"], indirect=True)
def test_second_tick_without_new_windows_skips_and_keeps_the_cursor(ledger_url: str, tmp_path: Path) -> None:
    instance = dg.DagsterInstance.ephemeral()
    resources = {
        "ledger": _ledger(ledger_url, tmp_path),
        "alerts": AlertsResource(),
        "broker": BrokerResource(),
        "trading_session": TradingSessionResource(),
        "continuity": ContinuityThresholdsResource(),
    }
    with dg.build_sensor_context(instance=instance, resources=resources) as context:
        first = signal_continuity_sensor(context)
        cursor = first.cursor if isinstance(first, dg.SensorResult) else context.cursor
    with dg.build_sensor_context(instance=instance, resources=resources, cursor=cursor) as context:
        second = signal_continuity_sensor(context)
        progress = json.loads(context.cursor)
    assert isinstance(second, dg.SkipReason)
    assert set(progress) == {"ema_trend", "macd_rsi"}
    assert json.loads(cursor) == progress


@pytest.mark.parametrize("ledger_url", ["sqlite"], indirect=True)
def test_transitions_request_one_refresh_run_with_a_unique_run_key(ledger_url: str, tmp_path: Path) -> None:
    ledger = _ledger(ledger_url, tmp_path)
    with dg.build_sensor_context(
        instance=dg.DagsterInstance.ephemeral(),
        resources={
            "ledger": ledger,
            "alerts": AlertsResource(),
            "broker": BrokerResource(),
            "trading_session": TradingSessionResource(),
            "continuity": ContinuityThresholdsResource(),
        },
    ) as ctx:
        result = signal_continuity_sensor(ctx)
    if isinstance(result, dg.SkipReason):
        pytest.skip("no open-market window in the last 24 h of wall-clock time (weekend run)")
    assert len(result.run_requests) == 1
    assert result.run_requests[0].run_key.startswith("continuity:")
