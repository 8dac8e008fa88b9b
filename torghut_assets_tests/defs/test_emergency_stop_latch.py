"""Trading-risk emergency stops latch until a person clears them (docs/continuity.md, emergency stop).

Driven through the continuity sensor's evaluation on a real ledger: a paper lane's fallback ratio or its
research failures reach the reference's limits, the stop latches and stays through clean windows, and
`clear_emergency_stop_job` (a named person, a reason) is the only way out; the clearance is evidence.
"""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa

from torghut_assets.cli import main
from torghut_assets.defs.continuity.signal_continuity import clear_emergency_stop_job
from torghut_assets.defs.resources import LedgerResource
from torghut_assets.domain.continuity import ContinuityConfig, ContinuityState
from torghut_assets.domain.stages import Stage
from torghut_assets.ledger import schema
from torghut_assets.ledger.continuity_store import load_state, save_state
from torghut_assets.services.continuity import evaluate_lane
from torghut_assets_tests.defs.test_governance_assets import (
    _advance,
    _connect,
    _evidence_kinds,
    _execution,
    _insert_executions,
    _record,
    _rows,
)

LANE = "macd_rsi"
CONFIG = ContinuityConfig()
PROMOTED_AT = dt.datetime(2026, 3, 2, 14, 30, tzinfo=dt.UTC)
W14, W15, W16, W17 = (dt.datetime(2026, 3, 2, h, 0, tzinfo=dt.UTC) for h in (14, 15, 16, 17))


def _ledger(url: str, root: Path) -> LedgerResource:
    return LedgerResource(database_url=url, artifact_root=str(root / "artifacts"))


def _ingest(url: str, *starts: dt.datetime, **overrides: Any) -> None:
    rows = [
        {
            "id": str(uuid.uuid4()),
            "lane": LANE,
            "window_start": start,
            "window_end": start + dt.timedelta(hours=1),
            "source": "simulated",
            "source_mode": "bounded_window",
            "signals_total": 480,
            "market_session_open": True,
            "newest_signal_ts": start + dt.timedelta(minutes=59),
            "dataset_version": "v",
            **overrides,
        }
        for start in starts
    ]
    with _connect(url) as conn:
        conn.execute(schema.signal_ingest_windows.insert(), rows)


def _evaluated_through(url: str, window_start: dt.datetime) -> None:
    with _connect(url) as conn:
        save_state(
            conn, ContinuityState(lane=LANE, last_window_start=pd.Timestamp(window_start)), [], window_start
        )


def _evaluate(url: str, root: Path, through: dt.datetime) -> ContinuityState:
    now = pd.Timestamp(through) + pd.Timedelta(hours=1, minutes=30)
    state, _ = evaluate_lane(_ledger(url, root), LANE, now, CONFIG)
    return state


def _fills(window_start: dt.datetime, fallbacks: list[int]) -> list[dict[str, Any]]:
    return [
        _execution(
            f"ord-{window_start:%H}-{i}",
            symbol="AAPL",
            side="buy" if i % 2 == 0 else "sell",
            qty=10,
            price=190.0,
            window_start=window_start,
            fallbacks=n,
        )
        for i, n in enumerate(fallbacks)
    ]


def _paper_lane_with_fallbacks(url: str, fallbacks: list[int]) -> None:
    _record(url, LANE, _advance("cand-a", Stage.PAPER, PROMOTED_AT))
    _evaluated_through(url, dt.datetime(2026, 3, 2, 13, 0, tzinfo=dt.UTC))
    _ingest(url, W14, W15, W16, W17)
    _insert_executions(url, _fills(W15, fallbacks))


def _clear(url: str, root: Path, actor: str = "oncall@torghut", reason: str = "LEAN runner restored") -> Any:
    return clear_emergency_stop_job.execute_in_process(
        run_config={
            "ops": {"clear_emergency_stop_op": {"config": {"lane": LANE, "actor": actor, "reason": reason}}}
        },
        resources={"ledger": _ledger(url, root)},
        raise_on_error=False,
    )


def test_a_paper_lane_whose_fallback_ratio_reaches_the_limit_latches_an_emergency_stop(
    ledger_url: str, tmp_path: Path
) -> None:
    _paper_lane_with_fallbacks(ledger_url, [1, 0, 0, 0])  # 1 of 4 = 0.25, exactly the limit
    state = _evaluate(ledger_url, tmp_path, W15)
    assert state.emergency_stop_active
    assert state.emergency_reasons == ("execution_fallback_ratio_exceeded:0.250",)


def test_a_latched_fallback_stop_holds_through_clean_windows(ledger_url: str, tmp_path: Path) -> None:
    _paper_lane_with_fallbacks(ledger_url, [1, 1, 0, 0])
    _evaluate(ledger_url, tmp_path, W15)
    state = _evaluate(ledger_url, tmp_path, W17)
    assert state.last_window_start == pd.Timestamp(W17) and state.emergency_stop_active


def test_a_lane_below_paper_is_not_judged_on_its_fallbacks(ledger_url: str, tmp_path: Path) -> None:
    _evaluated_through(ledger_url, dt.datetime(2026, 3, 2, 13, 0, tzinfo=dt.UTC))
    _ingest(ledger_url, W14, W15)
    _insert_executions(ledger_url, _fills(W15, [1, 1, 1, 1]))
    assert not _evaluate(ledger_url, tmp_path, W15).emergency_stop_active


def test_a_person_clears_the_stop_with_a_reason_and_the_clearance_is_evidence(
    ledger_url: str, tmp_path: Path
) -> None:
    _paper_lane_with_fallbacks(ledger_url, [1, 1, 0, 0])
    _evaluate(ledger_url, tmp_path, W15)
    result = _clear(ledger_url, tmp_path)
    assert result.success
    [clearance] = _rows(ledger_url, "emergency_stop_clearances")
    assert (clearance["actor"], clearance["reason"], clearance["cleared_reasons"]) == (
        "oncall@torghut",
        "LEAN runner restored",
        ["execution_fallback_ratio_exceeded:0.500"],
    )
    assert "emergency_stop_cleared" in _evidence_kinds(ledger_url)
    with _connect(ledger_url) as conn:
        assert not load_state(conn, LANE).emergency_stop_active


def test_old_fallbacks_do_not_relatch_the_stop_after_a_clearance(ledger_url: str, tmp_path: Path) -> None:
    _paper_lane_with_fallbacks(ledger_url, [1, 1, 0, 0])
    _evaluate(ledger_url, tmp_path, W15)
    assert _clear(ledger_url, tmp_path).success
    assert not _evaluate(ledger_url, tmp_path, W17).emergency_stop_active


def test_new_fallbacks_after_a_clearance_latch_the_stop_again(ledger_url: str, tmp_path: Path) -> None:
    _paper_lane_with_fallbacks(ledger_url, [1, 1, 0, 0])
    _evaluate(ledger_url, tmp_path, W15)
    assert _clear(ledger_url, tmp_path).success
    _insert_executions(ledger_url, _fills(W16, [1, 0]))
    assert _evaluate(ledger_url, tmp_path, W16).emergency_stop_active


def test_clearing_a_lane_with_no_stop_fails_and_records_nothing(ledger_url: str, tmp_path: Path) -> None:
    _evaluated_through(ledger_url, W14)
    result = _clear(ledger_url, tmp_path)
    assert not result.success
    assert "no emergency stop stands on lane 'macd_rsi'" in str(
        result.failure_data_for_node("clear_emergency_stop_op")
    )
    assert _rows(ledger_url, "emergency_stop_clearances") == []


@pytest.mark.parametrize("ledger_url", ["sqlite"], indirect=True)
def test_a_clearance_needs_a_named_actor(ledger_url: str, tmp_path: Path) -> None:
    _paper_lane_with_fallbacks(ledger_url, [1, 1, 0, 0])
    _evaluate(ledger_url, tmp_path, W15)
    result = _clear(ledger_url, tmp_path, actor="  ")
    assert not result.success
    assert "must not be blank" in str(result.failure_data_for_node("clear_emergency_stop_op"))
    assert _rows(ledger_url, "emergency_stop_clearances") == []


def test_three_failed_research_runs_in_a_row_latch_an_autonomy_stop(ledger_url: str, tmp_path: Path) -> None:
    _evaluated_through(ledger_url, dt.datetime(2026, 3, 2, 13, 0, tzinfo=dt.UTC))
    _ingest(ledger_url, W14, W15, W16)
    runs = [
        {
            "id": str(uuid.uuid4()),
            "run_id": f"run-{start:%H}",
            "run_kind": "lane_window",
            "status": "failed",
            "lane": LANE,
            "window_start": start,
            "window_end": start + dt.timedelta(hours=1),
        }
        for start in (W14, W15, W16)
    ]
    with _connect(ledger_url) as conn:
        conn.execute(schema.research_runs.insert(), runs)
    assert not _evaluate(ledger_url, tmp_path, W15).emergency_stop_active
    state = _evaluate(ledger_url, tmp_path, W16)
    assert state.emergency_reasons == ("autonomy_failure_streak_exceeded:3",)


def test_a_stream_that_died_before_friday_close_latches_the_alert_over_the_weekend(
    ledger_url: str, tmp_path: Path
) -> None:
    friday_close = dt.datetime(2026, 3, 6, 21, 0, tzinfo=dt.UTC)
    _evaluated_through(ledger_url, friday_close)
    saturday = [friday_close + dt.timedelta(hours=h) for h in range(1, 4)]
    _ingest(
        ledger_url,
        *saturday,
        signals_total=0,
        no_signal_reason="market_closed",
        market_session_open=False,
        newest_signal_ts=friday_close - dt.timedelta(hours=3),
    )
    state = _evaluate(ledger_url, tmp_path, saturday[-1])
    assert state.alert_active and state.alert_reason == "market_closed"
    with _connect(ledger_url) as conn:
        events = conn.execute(sa.select(schema.continuity_events.c.transition)).scalars().all()
    assert "latched" in events


def test_the_cli_clears_a_latched_stop_and_names_what_it_cleared(
    ledger_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _paper_lane_with_fallbacks(ledger_url, [1, 1, 0, 0])
    _evaluate(ledger_url, tmp_path, W15)
    args = ["emergency-stop", "clear", "--lane", LANE, "--actor", "oncall@torghut", "--reason", "runner back"]
    assert main([*args, "--url", ledger_url]) == 0
    assert "execution_fallback_ratio_exceeded:0.500" in capsys.readouterr().out
    assert [r["source"] for r in _rows(ledger_url, "emergency_stop_clearances")] == ["cli"]


def test_the_cli_refuses_to_clear_a_lane_with_no_stop(
    ledger_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["emergency-stop", "clear", "--lane", LANE, "--actor", "oncall@torghut", "--reason", "why not"]
    assert main([*args, "--url", ledger_url]) == 1
    assert "no emergency stop stands on lane 'macd_rsi'" in capsys.readouterr().err


def test_a_live_lane_whose_lean_orders_fall_back_breaches_the_canary(ledger_url: str, tmp_path: Path) -> None:
    _record(ledger_url, LANE, _advance("cand-a", Stage.PAPER, PROMOTED_AT))
    _evaluated_through(ledger_url, dt.datetime(2026, 3, 2, 13, 0, tzinfo=dt.UTC))
    _ingest(ledger_url, W14, W15)
    fills = _fills(W15, [1, 0, 0])
    for fill in fills:
        fill["execution_expected_adapter"] = "lean"
        fill["execution_actual_adapter"] = "alpaca" if fill["execution_fallback_count"] else "lean"
    _insert_executions(ledger_url, fills)
    canary = ContinuityConfig(lean_live_canary_enabled=True, fallback_ratio_limit=0.9)
    now = pd.Timestamp(W15) + pd.Timedelta(hours=1, minutes=30)
    state, _ = evaluate_lane(_ledger(ledger_url, tmp_path), LANE, now, canary, live=True)
    assert state.emergency_reasons == ("lean_canary_breach:fallback_ratio_exceeded:0.3333",)
