"""The strategy interface: how a reference resolves, what a strategy is given, what it must answer, and how
each way of failing is reported (docs/strategies.md)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest

from torghut_assets.domain import research
from torghut_assets.domain.backtest import CostModel, WindowedFrame, backtest
from torghut_assets.domain.research_evaluation import (
    ResearchSettings,
    candidate_specs,
    evaluate_candidates,
    spec_from_parameter_set,
)
from torghut_assets.domain.strategies import (
    BUILTIN_STRATEGIES,
    EMA_TREND,
    LEGACY_MACD_RSI,
    STRATEGY_ID_NAMESPACE,
    actions_in_order,
    bar_layout,
    default_grid,
    default_strategy,
    parameter_grid,
    sorted_columns,
    strategy_actions,
)
from torghut_assets.domain.strategy_calls import strategy_scope
from torghut_assets.domain.strategy_interface import (
    DEFAULT_TIMEOUT_SECONDS,
    Strategy,
    StrategyFailedError,
    StrategyLoadError,
    StrategyOutputError,
    StrategyTimeoutError,
)
from torghut_assets.domain.strategy_registry import resolve_strategy, strategy_problems
from torghut_assets_tests.domain import strategy_doubles as doubles
from torghut_assets_tests.domain.signal_fixtures import make_signals, tiny_frame
from torghut_assets_tests.domain.strategy_doubles import ref

WINDOW = "ema_trend/2026-03-03T15:00Z"


@pytest.fixture
def frame() -> pd.DataFrame:
    """Two symbols interleaved in time order, as a source delivers them, on a non-default index."""
    signals = make_signals(symbols=("AAPL", "MSFT"), days=("2026-02-23",), minutes=40)
    signals = signals.sort_values(["event_ts", "symbol"]).reset_index(drop=True)
    signals.index = signals.index + 1000
    return signals


@pytest.fixture
def release_slow_calls() -> Iterator[None]:
    doubles.RELEASE.clear()
    yield
    doubles.RELEASE.set()  # let the abandoned call finish


# --- resolution --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", [LEGACY_MACD_RSI, EMA_TREND])
def test_builtins_resolve_by_name_to_strategies_of_the_same_interface(name: str) -> None:
    strategy = resolve_strategy(name)
    assert isinstance(strategy, Strategy)
    assert (strategy.name, strategy.version) == (name, "1.0.0")


def test_an_import_path_resolves_a_zero_argument_class_to_an_instance() -> None:
    strategy = resolve_strategy(ref("Holding"))
    assert isinstance(strategy, doubles.Holding)


def test_an_import_path_resolves_an_instance_to_itself() -> None:
    assert resolve_strategy(ref("recording")) is doubles.recording


def test_an_unknown_name_is_refused_naming_the_builtins_and_the_import_path_form() -> None:
    with pytest.raises(StrategyLoadError) as caught:
        resolve_strategy("momentum_magic")
    assert caught.value.problems == (
        "strategy 'momentum_magic' is not a built-in (ema_trend, legacy_macd_rsi) nor an import path "
        "'package.module:attribute'",
    )


def test_a_module_that_cannot_be_imported_is_named_with_its_import_error() -> None:
    with pytest.raises(
        StrategyLoadError, match=r"module 'no_such_desk\.models' cannot be imported"
    ) as caught:
        resolve_strategy("no_such_desk.models:Alpha")
    assert "ModuleNotFoundError: No module named 'no_such_desk'" in str(caught.value)


def test_a_missing_attribute_is_named() -> None:
    with pytest.raises(StrategyLoadError, match=rf"module '{doubles.MODULE}' has no attribute 'Nope'"):
        resolve_strategy(ref("Nope"))


def test_an_object_that_is_not_a_strategy_names_its_missing_members() -> None:
    with pytest.raises(StrategyLoadError) as caught:
        resolve_strategy(ref("NotAStrategy"))
    assert "NotAStrategy is not a Strategy: missing default_params, default_grid, actions" in str(
        caught.value
    )


def test_a_class_that_needs_arguments_is_refused_with_its_error() -> None:
    with pytest.raises(StrategyLoadError, match=r"cannot be built without arguments .*model_path"):
        resolve_strategy(ref("NeedsArguments"))


def test_a_version_that_is_not_a_version_string_is_refused() -> None:
    with pytest.raises(StrategyLoadError, match="version 'latest' is not a version string"):
        resolve_strategy(ref("BadVersion"))


def test_bad_defaults_are_all_reported_each_naming_its_key() -> None:
    with pytest.raises(StrategyLoadError) as caught:
        resolve_strategy(ref("BadDefaults"))
    prefix = f"strategy '{ref('BadDefaults')}': "
    assert caught.value.problems == (
        prefix + "default_params['threshold'] = nan is not a finite number",
        prefix + "default_params['window'] = 'twenty' is not a finite number",
        prefix + "default_grid axis 'threshold' is empty",
        prefix + "default_grid axis 'lookback' is not a parameter of the strategy "
        "(notional_per_trade, threshold, window)",
    )


# --- configuration problems -------------------------------------------------------------------------------


def test_strategy_problems_lists_every_problem_at_once_each_naming_its_key() -> None:
    problems = strategy_problems(
        EMA_TREND,
        {"min_cross_bps": float("inf"), "rsi_typo": 1.0},
        {"rsi_filter_max": [], "min_cross_bps": [1.0, float("nan")], "lookback": [5.0]},
    )
    declared = "min_cross_bps, notional_per_trade, rsi_filter_max"
    assert problems == [
        "strategy 'ema_trend': parameter 'min_cross_bps' = inf is not a finite number",
        f"strategy 'ema_trend': parameter 'rsi_typo' is not declared by the strategy ({declared})",
        "strategy 'ema_trend': grid axis 'rsi_filter_max' is empty",
        "strategy 'ema_trend': grid axis 'min_cross_bps' holds nan, not finite numbers",
        f"strategy 'ema_trend': grid axis 'lookback' is not a parameter of the strategy ({declared})",
    ]


def test_strategy_problems_of_an_unknown_strategy_say_only_that() -> None:
    assert strategy_problems("no_such_desk:Alpha", {"x": 1.0}, {"x": [1.0]}) == [
        "strategy 'no_such_desk:Alpha': module 'no_such_desk' cannot be imported "
        "(ModuleNotFoundError: No module named 'no_such_desk')"
    ]


def test_strategy_problems_of_a_valid_configuration_are_none() -> None:
    assert (
        strategy_problems(
            ref("Holding"), {"threshold": 3.0, "notional_per_trade": 500}, {"threshold": [1, 2]}
        )
        == []
    )


def test_every_strategy_has_the_sizing_parameter_with_a_default() -> None:
    spec = default_strategy(ref("Holding"))
    assert dict(spec.params) == {"notional_per_trade": 1000.0, "threshold": 1.0}


def test_default_strategy_applies_overrides_and_refuses_undeclared_ones() -> None:
    assert default_strategy(ref("Holding"), {"threshold": 4.0}).param("threshold") == 4.0
    with pytest.raises(StrategyLoadError, match="parameter 'lookback' is not declared"):
        default_strategy(ref("Holding"), {"lookback": 4.0})


def test_a_plugin_grid_is_its_declared_default_grid() -> None:
    spec = default_strategy(ref("Holding"))
    assert default_grid(ref("Holding")) == {"threshold": (1.0, 2.0)}
    assert [s.param("threshold") for s in parameter_grid(spec)] == [1.0, 2.0]


def test_a_grid_that_does_not_match_the_strategy_is_refused_naming_every_axis() -> None:
    with pytest.raises(StrategyLoadError) as caught:
        parameter_grid(default_strategy(ref("Holding")), {"lookback": [1.0], "threshold": []})
    assert len(caught.value.problems) == 2
    assert "'lookback'" in caught.value.problems[0] and "'threshold' is empty" in caught.value.problems[1]


# --- identity ---------------------------------------------------------------------------------------------


def test_a_plugin_id_is_uuid5_of_its_import_path_and_version() -> None:
    spec = default_strategy(ref("Holding"))
    assert (spec.name, spec.strategy_type, spec.version) == (ref("Holding"), ref("Holding"), "1.0.0")
    assert spec.strategy_id == str(uuid.uuid5(STRATEGY_ID_NAMESPACE, f"{ref('Holding')}\x1f1.0.0"))


def test_two_plugins_with_the_same_declared_name_and_version_do_not_collide() -> None:
    one, other = resolve_strategy(ref("Holding")), resolve_strategy(ref("Renamed"))
    assert (one.name, one.version) == (other.name, other.version)
    assert default_strategy(ref("Holding")).strategy_id != default_strategy(ref("Renamed")).strategy_id


def test_a_new_version_is_a_new_strategy_id() -> None:
    assert default_strategy(ref("Holding")).strategy_id != default_strategy(ref("NextVersion")).strategy_id


def test_builtin_ids_are_unchanged_by_the_registry() -> None:
    expected = str(uuid.uuid5(STRATEGY_ID_NAMESPACE, "legacy_macd_rsi\x1f1.0.0"))
    assert default_strategy(LEGACY_MACD_RSI).strategy_id == expected


def test_candidate_ids_carry_the_strategy_reference_and_version(frame: pd.DataFrame) -> None:
    specs = candidate_specs(ref("Holding"), ResearchSettings())
    results = evaluate_candidates(frame, specs, run_id="r" * 24, dataset_version="d", cost=CostModel())
    assert {(r.parameter_set["strategy_type"], r.parameter_set["version"]) for r in results} == {
        (ref("Holding"), "1.0.0")
    }
    newer = [s.parameter_set() | {"version": "1.1.0"} for s in specs]
    hashes = {r.candidate_hash for r in results}
    assert not hashes & {
        research.candidate_hash(run_id="r" * 24, dataset_version="d", parameter_set=p) for p in newer
    }


def test_a_spec_of_another_version_than_the_installed_one_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    spec = default_strategy(ref("Holding"))
    monkeypatch.setattr(doubles.Holding, "version", "2.0.0")
    with pytest.raises(
        StrategyLoadError, match=r"version 1\.0\.0 was asked for but version 2\.0\.0 is installed"
    ):
        strategy_actions(tiny_frame([100.0]), spec)


def test_a_candidate_researched_with_another_version_does_not_rebuild(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stored = default_strategy(ref("Holding")).parameter_set()
    monkeypatch.setattr(doubles.Holding, "version", "2.0.0")
    with pytest.raises(
        StrategyLoadError, match=r"researched with version 1\.0\.0 but version 2\.0\.0 is installed"
    ):
        spec_from_parameter_set(stored)


# --- what a strategy is given ------------------------------------------------------------------------------


def test_a_strategy_gets_the_frame_sorted_by_symbol_time_and_seq_with_a_fresh_range_index(
    frame: pd.DataFrame,
) -> None:
    doubles.recording.frames.clear()
    strategy_actions(frame, default_strategy(ref("recording")))
    given = doubles.recording.frames[-1]
    assert given.index.equals(pd.RangeIndex(len(frame)))
    expected = frame.sort_values(["symbol", "event_ts", "seq"], kind="mergesort").reset_index(drop=True)
    pd.testing.assert_frame_equal(given, expected)


def test_a_strategy_gets_every_declared_parameter_read_only() -> None:
    doubles.recording.params.clear()
    strategy_actions(tiny_frame([100.0], macd=[0.0]), default_strategy(ref("recording"), {"threshold": 3.0}))
    params = doubles.recording.params[-1]
    assert dict(params) == {"notional_per_trade": 1000.0, "threshold": 3.0}
    with pytest.raises(TypeError):
        params["threshold"] = 0.0  # type: ignore[index]


def test_a_strategy_cannot_change_the_pipelines_frame(frame: pd.DataFrame) -> None:
    before = frame.copy(deep=True)
    actions = strategy_actions(frame, default_strategy(ref("Mutating")))
    pd.testing.assert_frame_equal(frame, before)
    assert (actions == 1).all()


def test_answers_are_mapped_back_to_the_callers_rows(frame: pd.DataFrame) -> None:
    spec = default_strategy(ref("recording"), {"threshold": 0.0})
    actions = strategy_actions(frame, spec)
    assert actions.index.equals(frame.index) and actions.dtype == np.int8
    assert actions.tolist() == (frame["macd"] > 0.0).astype(int).tolist()


def test_a_series_on_the_frames_index_is_an_accepted_answer(frame: pd.DataFrame) -> None:
    spec = default_strategy(ref("SeriesAnswer"), {"threshold": 0.0})
    assert strategy_actions(frame, spec).tolist() == (frame["macd"] > 0.0).astype(int).tolist()


def test_an_empty_frame_needs_no_call() -> None:
    assert len(strategy_actions(tiny_frame([100.0]).iloc[:0], default_strategy(ref("Raising")))) == 0


def test_sorted_columns_and_whole_frame_paths_agree_for_plugins(frame: pd.DataFrame) -> None:
    spec = default_strategy(ref("recording"), {"threshold": 0.0})
    windows = [(None, frame["event_ts"].iloc[40]), (frame["event_ts"].iloc[40], None)]
    swept = WindowedFrame(frame, windows).evaluate(spec, CostModel())
    assert swept == [
        backtest(frame, strategy_actions(frame, spec), spec, CostModel(), s, e) for s, e in windows
    ]


def test_builtins_keep_their_sorted_columns_path(frame: pd.DataFrame) -> None:
    """The research sweep converts the frame once; a built-in never needs the sorted frame itself."""
    layout = bar_layout(frame)
    columns = sorted_columns(frame, layout)
    bare = type(columns)(columns.values, columns.price, columns.group_start)  # no source frame
    spec = default_strategy(LEGACY_MACD_RSI)
    assert actions_in_order(bare, spec).tolist() == actions_in_order(columns, spec).tolist()
    assert set(BUILTIN_STRATEGIES) == {LEGACY_MACD_RSI, EMA_TREND}


# --- how a strategy fails ----------------------------------------------------------------------------------


def test_a_strategy_that_raises_fails_with_strategy_failed_naming_it_the_window_and_the_error(
    frame: pd.DataFrame,
) -> None:
    with strategy_scope(window=WINDOW), pytest.raises(StrategyFailedError) as caught:
        strategy_actions(frame, default_strategy(ref("Raising")))
    assert str(caught.value) == (
        f"strategy_failed: strategy {ref('Raising')}@1.0.0 in lane window {WINDOW}: "
        "raised ZeroDivisionError: the desk's model divided by zero"
    )
    assert isinstance(caught.value.__cause__, ZeroDivisionError)


@pytest.mark.parametrize(
    ("double", "problem"),
    [
        ("WrongLength", "returned 41 actions for 40 rows"),
        ("Nans", "returned NaN for 1 of 40 rows (first at row 1)"),
        ("OutOfRange", "returned 40 action(s) outside {-1, 0, 1} (values 2; first at row 0)"),
        ("Words", "returned non-numeric actions"),
        ("Nothing", "returned None"),
    ],
)
def test_a_strategy_that_answers_garbage_fails_with_strategy_output_invalid_saying_what_is_wrong(
    double: str, problem: str
) -> None:
    frame = make_signals(symbols=("AAPL",), days=("2026-02-23",), minutes=40)
    with strategy_scope(window=WINDOW), pytest.raises(StrategyOutputError) as caught:
        strategy_actions(frame, default_strategy(ref(double)))
    assert caught.value.problem.startswith(problem)
    assert caught.value.code == "strategy_output_invalid"
    assert caught.value.strategy == f"{ref(double)}@1.0.0" and caught.value.window == WINDOW


@pytest.mark.usefixtures("release_slow_calls")
def test_a_strategy_slower_than_its_budget_fails_with_strategy_timeout_when_the_budget_runs_out(
    frame: pd.DataFrame,
) -> None:
    started = time.monotonic()
    with strategy_scope(window=WINDOW, timeout_seconds=0.2), pytest.raises(StrategyTimeoutError) as caught:
        strategy_actions(frame, default_strategy(ref("Slow")))
    assert time.monotonic() - started < 5
    assert caught.value.code == "strategy_timeout" and "no answer within 0.2 s" in str(caught.value)


def test_the_default_budget_is_thirty_seconds_and_a_budget_must_be_positive() -> None:
    assert DEFAULT_TIMEOUT_SECONDS == 30.0
    with pytest.raises(ValueError, match="positive"), strategy_scope(timeout_seconds=0):
        pass
