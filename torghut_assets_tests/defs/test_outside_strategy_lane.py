"""A lane trading a strategy from an outside package (`fixtures/desk_strategies`, installed for this module
only): its window is decided and researched under the strategy's import path and version, and the replay
lock holds until the strategy's version changes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from torghut_assets.defs.lane_window.research_inputs import ResearchResource
from torghut_assets.defs.resources import LedgerResource, MarketDataResource
from torghut_assets.domain.lanes import LaneWindow
from torghut_assets.domain.strategies import default_strategy
from torghut_assets.services.replay import replay_window
from torghut_assets_tests.defs.lane_window_harness import OPEN_WINDOW
from torghut_assets_tests.defs.strategy_lanes import lane_rows, run_window, use_strategy
from torghut_assets_tests.desk_package import BOLLINGER, desk_package_installed

LANE = "ema_trend"


@pytest.fixture(scope="module")
def desk_lane(module_ledger_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """`ema_trend` on the desk's Bollinger strategy, its open window materialized once per backend."""
    root = tmp_path_factory.mktemp("artifacts")
    with pytest.MonkeyPatch.context() as mp, desk_package_installed(mp):
        use_strategy(mp, LANE, BOLLINGER)
        result = run_window(module_ledger_url, root, LANE, OPEN_WINDOW)
        assert result.success, [e.step_failure_data.error for e in result.get_step_failure_events()]
        yield {"url": module_ledger_url, "root": root}


def _replay(desk_lane: dict[str, Any]) -> Any:
    ledger = LedgerResource(database_url=desk_lane["url"], artifact_root=str(desk_lane["root"]))
    window = LaneWindow(LANE, OPEN_WINDOW)
    return replay_window(ledger, MarketDataResource(), ResearchResource().settings(), window)


def test_decisions_are_keyed_on_the_outside_strategys_id(desk_lane: dict[str, Any]) -> None:
    decisions = lane_rows(desk_lane["url"], "trade_decisions", LANE)
    assert decisions
    assert {str(d["strategy_id"]) for d in decisions} == {default_strategy(BOLLINGER).strategy_id}


def test_the_strategy_is_registered_under_its_import_path_and_version(desk_lane: dict[str, Any]) -> None:
    (run,) = lane_rows(desk_lane["url"], "research_runs", LANE)
    assert (run["strategy_type"], run["strategy_name"], run["strategy_version"]) == (
        BOLLINGER,
        BOLLINGER,
        "0.1.0",
    )


def test_research_tries_the_outside_strategys_grid_with_its_identity_in_every_candidate(
    desk_lane: dict[str, Any],
) -> None:
    candidates = lane_rows(desk_lane["url"], "research_candidates", LANE)
    assert sorted(c["parameter_set"]["params"]["band_buffer_bps"] for c in candidates) == [0.0, 5.0, 10.0]
    assert {(c["parameter_set"]["strategy_type"], c["parameter_set"]["version"]) for c in candidates} == {
        (BOLLINGER, "0.1.0")
    }
    assert lane_rows(desk_lane["url"], "research_promotions", LANE)


def test_the_replay_lock_reproduces_the_window_with_the_same_strategy_version(
    desk_lane: dict[str, Any],
) -> None:
    report = _replay(desk_lane)
    assert report.matched, report.differences


def test_the_replay_lock_flags_a_window_researched_with_another_strategy_version(
    desk_lane: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    import desk_strategies

    monkeypatch.setattr(desk_strategies.BollingerReversion, "version", "0.2.0")
    report = _replay(desk_lane)
    assert not report.matched
    fields = {(d.table, d.field) for d in report.differences}
    assert ("research_runs", "strategy_version") in fields
    assert ("research_runs", "run_id") in fields
