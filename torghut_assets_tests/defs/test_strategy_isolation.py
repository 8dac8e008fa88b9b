"""A strategy that raises, answers garbage or overruns fails its own lane window, with one line naming the
lane, the window, the strategy and the problem; nothing of that window is written, and other lanes (other
partitions, other runs) are untouched."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from torghut_assets.defs.lane_window.open_window import advance_open_windows
from torghut_assets.defs.lane_window.research_inputs import ResearchResource
from torghut_assets.defs.lane_window.signals import signals
from torghut_assets.defs.lane_window.trading import trade_decisions
from torghut_assets.defs.lane_window.trading_session import TradingSessionResource
from torghut_assets_tests.defs.lane_window_harness import OPEN_WINDOW, resources
from torghut_assets_tests.defs.strategy_lanes import failure, lane_rows, run_window, use_strategy
from torghut_assets_tests.domain import strategy_doubles as doubles
from torghut_assets_tests.domain.strategy_doubles import ref

DECIDING = [signals, trade_decisions]
WINDOW = OPEN_WINDOW.isoformat()


@pytest.fixture
def release_slow_calls() -> Iterator[None]:
    doubles.RELEASE.clear()
    yield
    doubles.RELEASE.set()


def test_a_strategy_that_raises_fails_only_its_own_lane_window(
    ledger_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_strategy(monkeypatch, "ema_trend", ref("Raising"))
    broken = run_window(ledger_url, tmp_path, "ema_trend", OPEN_WINDOW)
    healthy = run_window(ledger_url, tmp_path, "macd_rsi", OPEN_WINDOW)

    step, description, metadata = failure(broken)
    assert step == "trade_decisions"
    assert description == (
        f"lane ema_trend window {WINDOW}: strategy {ref('Raising')}@1.0.0 failed (strategy_failed): "
        "raised ZeroDivisionError: the desk's model divided by zero"
    )
    assert metadata["strategy_error_code"] == "strategy_failed" and metadata["lane"] == "ema_trend"
    assert lane_rows(ledger_url, "trade_decisions", "ema_trend") == []
    assert lane_rows(ledger_url, "research_runs", "ema_trend") == []
    assert healthy.success
    assert lane_rows(ledger_url, "trade_decisions", "macd_rsi")
    assert lane_rows(ledger_url, "research_promotions", "macd_rsi")


def test_a_strategy_that_answers_garbage_fails_its_window_with_strategy_output_invalid(
    ledger_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_strategy(monkeypatch, "ema_trend", ref("OutOfRange"))
    result = run_window(ledger_url, tmp_path, "ema_trend", OPEN_WINDOW, DECIDING)
    step, description, metadata = failure(result)
    assert step == "trade_decisions"
    assert metadata["strategy_error_code"] == "strategy_output_invalid"
    assert "outside {-1, 0, 1} (values 2; first at row 0)" in description
    assert lane_rows(ledger_url, "trade_decisions", "ema_trend") == []


@pytest.mark.usefixtures("release_slow_calls")
def test_a_strategy_slower_than_its_budget_fails_its_window_with_strategy_timeout(
    ledger_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_strategy(monkeypatch, "ema_trend", ref("Slow"))
    budget = TradingSessionResource(strategy_timeout_seconds=0.2)
    result = run_window(ledger_url, tmp_path, "ema_trend", OPEN_WINDOW, DECIDING, trading_session=budget)
    _, description, metadata = failure(result)
    assert metadata["strategy_error_code"] == "strategy_timeout"
    assert "no answer within 0.2 s" in description
    assert lane_rows(ledger_url, "trade_decisions", "ema_trend") == []


def test_a_strategy_that_fails_in_research_fails_that_research_step_and_writes_no_candidates(
    ledger_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_strategy(monkeypatch, "ema_trend", ref("FailsOnHistory"))
    result = run_window(ledger_url, tmp_path, "ema_trend", OPEN_WINDOW)
    step, description, _ = failure(result)
    assert step == "research_runs"  # the step that computes and commits the whole research chain
    assert "raised RuntimeError: cannot handle 2 sessions at once" in description
    # only the run it opened stands (the lane-window job's failure hook would mark it failed)
    assert [r["status"] for r in lane_rows(ledger_url, "research_runs", "ema_trend")] == ["running"]
    assert lane_rows(ledger_url, "research_candidates", "ema_trend") == []


def test_a_strategy_that_does_not_load_fails_its_window_naming_the_problem(
    ledger_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_strategy(monkeypatch, "ema_trend", "no_such_desk:Alpha")
    _, description, metadata = failure(run_window(ledger_url, tmp_path, "ema_trend", OPEN_WINDOW, DECIDING))
    assert metadata["strategy_error_code"] == "strategy_unavailable"
    assert "module 'no_such_desk' cannot be imported" in description


@pytest.mark.usefixtures("release_slow_calls")
def test_research_steps_get_the_research_resources_budget(
    ledger_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_strategy(monkeypatch, "ema_trend", ref("SlowOnHistory"))
    budget = ResearchResource(strategy_timeout_seconds=0.2)
    result = run_window(ledger_url, tmp_path, "ema_trend", OPEN_WINDOW, research_settings=budget)
    step, description, metadata = failure(result)
    assert (step, metadata["strategy_error_code"]) == ("research_runs", "strategy_timeout")
    assert "no answer within 0.2 s" in description


def test_the_open_window_loop_carries_on_with_other_lanes_when_one_strategy_fails(
    ledger_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_strategy(monkeypatch, "ema_trend", ref("Raising"))
    now = OPEN_WINDOW + pd.Timedelta(minutes=30)
    loop = {
        **resources(ledger_url, tmp_path),
        "trading_session": TradingSessionResource(lane_modes="ema_trend=paper,macd_rsi=paper"),
    }
    reports = {r.lane: r for r in advance_open_windows(loop, now)}
    assert reports["ema_trend"].strategy_failure is not None
    assert "strategy_failed" in reports["ema_trend"].strategy_failure
    assert reports["macd_rsi"].strategy_failure is None and reports["macd_rsi"].metadata
    assert lane_rows(ledger_url, "trade_decisions", "macd_rsi")
