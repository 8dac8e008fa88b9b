"""A strategy from a package torghut_assets does not ship (`fixtures/desk_strategies`, installed for these
tests only) resolves by import path, is researched and trades like a built-in, and fails like a plug-in."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from torghut_assets.domain.backtest import CostModel
from torghut_assets.domain.decisions import plan_session_decisions
from torghut_assets.domain.lanes import LANES
from torghut_assets.domain.research_evaluation import ResearchSettings, candidate_specs, evaluate_candidates
from torghut_assets.domain.strategies import default_strategy, strategy_actions
from torghut_assets.domain.strategy_calls import strategy_scope
from torghut_assets.domain.strategy_interface import (
    Strategy,
    StrategyFailedError,
    StrategyOutputError,
    StrategyTimeoutError,
)
from torghut_assets.domain.strategy_registry import resolve_strategy, strategy_problems
from torghut_assets_tests.desk_package import BOLLINGER, desk_package_installed, forget_desk_modules
from torghut_assets_tests.domain.session_fixtures import SimulatedSession, simulate_session

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def session() -> SimulatedSession:
    return simulate_session()


@pytest.fixture
def bollinger(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    with desk_package_installed(monkeypatch) as ref:
        yield ref


def test_the_desk_package_is_not_importable_unless_a_test_installs_it() -> None:
    fresh = subprocess.run(
        [sys.executable, "-c", "import desk_strategies"], capture_output=True, text=True, cwd=REPO
    )
    assert fresh.returncode == 1 and "No module named 'desk_strategies'" in fresh.stderr
    forget_desk_modules()  # whatever an earlier test in this process may have left behind
    assert importlib.util.find_spec("desk_strategies") is None
    assert strategy_problems(BOLLINGER, None, None) == [
        f"strategy '{BOLLINGER}': module 'desk_strategies' cannot be imported "
        "(ModuleNotFoundError: No module named 'desk_strategies')"
    ]


def test_an_outside_strategy_resolves_by_its_import_path(bollinger: str) -> None:
    strategy = resolve_strategy(bollinger)
    assert isinstance(strategy, Strategy)
    assert type(strategy).__module__ == "desk_strategies"
    assert (strategy.name, strategy.version) == ("bollinger_reversion", "0.1.0")
    assert strategy_problems(bollinger, {"band_buffer_bps": 2.0}, {"band_buffer_bps": [0.0, 2.0]}) == []


def test_researching_with_an_outside_strategy_tries_its_grid_under_its_id_and_version(
    bollinger: str, session: SimulatedSession
) -> None:
    specs = candidate_specs(bollinger, ResearchSettings())
    results = evaluate_candidates(
        session.signals, specs, run_id="r" * 24, dataset_version="d", cost=CostModel()
    )
    assert [r.parameter_set["params"]["band_buffer_bps"] for r in results] == [0.0, 5.0, 10.0]  # type: ignore[index]
    assert {(r.parameter_set["strategy_type"], r.parameter_set["version"]) for r in results} == {
        (bollinger, "0.1.0")
    }
    assert {r.parameter_set["strategy_id"] for r in results} == {default_strategy(bollinger).strategy_id}
    assert len({r.candidate_id for r in results}) == 3
    assert results[0].lookback.decision_count > 0


def test_an_outside_strategy_makes_sized_risk_checked_trade_decisions(
    bollinger: str, session: SimulatedSession
) -> None:
    spec = default_strategy(bollinger)
    decisions = plan_session_decisions(session.signals, spec, LANES["ema_trend"], session.close)
    assert decisions and {d.strategy_id for d in decisions} == {spec.strategy_id}
    assert {d.action for d in decisions} <= {"buy", "sell"}
    assert all(d.qty * d.price <= 1000.0 + d.price for d in decisions if d.action == "buy")


def test_an_outside_strategy_failing_each_way_fails_with_its_own_error(
    bollinger: str, session: SimulatedSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    import desk_strategies

    spec = default_strategy(bollinger)
    cls = desk_strategies.BollingerReversion
    frame = session.signals.head(50)

    monkeypatch.setattr(cls, "actions", lambda self, signals, params: 1 / 0)
    with pytest.raises(StrategyFailedError, match="raised ZeroDivisionError"):
        strategy_actions(frame, spec)

    monkeypatch.setattr(cls, "actions", lambda self, signals, params: [7] * len(signals))
    with pytest.raises(StrategyOutputError, match="outside"):
        strategy_actions(frame, spec)

    monkeypatch.setattr(cls, "actions", lambda self, signals, params: __import__("time").sleep(1.0))
    with strategy_scope(timeout_seconds=0.05), pytest.raises(StrategyTimeoutError):
        strategy_actions(frame, spec)
