from __future__ import annotations

import pandas as pd
import pytest

from torghut_assets.domain.walk_forward import Fold, walk_forward_folds
from torghut_assets_tests.domain.signal_fixtures import session_bar_times

DAY1 = session_bar_times("2026-02-23", 200)


def _bars_in(times: pd.DatetimeIndex, start: pd.Timestamp, end: pd.Timestamp) -> pd.DatetimeIndex:
    return times[(times >= start) & (times < end)]


def test_sliding_folds_follow_train_purge_test_layout() -> None:
    folds = walk_forward_folds(DAY1, train_bars=60, test_bars=30, step_bars=30, purge_bars=5)
    assert [f.fold_name for f in folds] == ["fold_1", "fold_2", "fold_3", "fold_4"]
    assert [f.fold_order for f in folds] == [1, 2, 3, 4]
    assert folds[0] == Fold("fold_1", 1, DAY1[0], DAY1[60], DAY1[65], DAY1[95])
    assert folds[1].train_start == DAY1[30]


def test_folds_never_overlap_train_and_test() -> None:
    for fold in walk_forward_folds(DAY1, purge_bars=0):
        train = _bars_in(DAY1, fold.train_start, fold.train_end)
        test = _bars_in(DAY1, fold.test_start, fold.test_end)
        assert train.intersection(test).empty
        assert fold.train_end <= fold.test_start


def test_purge_gap_separates_train_from_test() -> None:
    for fold in walk_forward_folds(DAY1, purge_bars=7):
        assert len(_bars_in(DAY1, fold.train_end, fold.test_start)) == 7


def test_windows_hold_exactly_the_requested_bar_counts() -> None:
    for fold in walk_forward_folds(DAY1, train_bars=40, test_bars=25, step_bars=20):
        assert len(_bars_in(DAY1, fold.train_start, fold.train_end)) == 40
        assert len(_bars_in(DAY1, fold.test_start, fold.test_end)) == 25


def test_expanding_mode_keeps_train_start_fixed() -> None:
    folds = walk_forward_folds(DAY1, mode="expanding")
    assert {f.train_start for f in folds} == {DAY1[0]}
    assert [len(_bars_in(DAY1, f.train_start, f.train_end)) for f in folds] == [60, 90, 120, 150]


def test_window_reaching_the_last_bar_ends_one_minute_after_it() -> None:
    folds = walk_forward_folds(DAY1[:95])
    assert len(folds) == 1
    assert folds[0].test_end == DAY1[94] + pd.Timedelta(minutes=1)


def test_folds_stop_before_test_runs_past_the_data() -> None:
    assert walk_forward_folds(DAY1[:94]) == []
    assert all(f.test_end <= DAY1[-1] + pd.Timedelta(minutes=1) for f in walk_forward_folds(DAY1))


def test_closed_hours_are_skipped() -> None:
    day2 = session_bar_times("2026-02-24", 60)
    times = session_bar_times("2026-02-23", 60).append(day2)
    fold = walk_forward_folds(times, train_bars=60, test_bars=30, step_bars=30, purge_bars=0)[0]
    assert fold.train_end == fold.test_start == day2[0]
    assert fold.test_end == day2[30]


def test_bar_times_are_sorted_and_deduplicated() -> None:
    messy = DAY1.append(DAY1[::-1])
    assert walk_forward_folds(messy) == walk_forward_folds(DAY1)


def test_boundaries_are_utc_timestamps() -> None:
    local = DAY1.tz_convert("America/New_York")
    fold = walk_forward_folds(local)[0]
    assert str(fold.test_start.tz) == "UTC"
    assert fold == walk_forward_folds(DAY1)[0]


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"train_bars": 0}, "train_bars"),
        ({"test_bars": -1}, "test_bars"),
        ({"step_bars": 0}, "step_bars"),
        ({"purge_bars": -1}, "purge_bars"),
        ({"mode": "anchored"}, "mode"),
    ],
)
def test_bad_arguments_raise_value_error_naming_the_argument(kwargs: dict[str, object], name: str) -> None:
    with pytest.raises(ValueError, match=name):
        walk_forward_folds(DAY1, **kwargs)  # type: ignore[arg-type]
