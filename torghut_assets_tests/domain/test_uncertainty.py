"""Gate-7 inputs from the candidate's walk-forward: split-conformal coverage, width drift and shift."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd
import pytest

from torghut_assets.domain.uncertainty import (
    DEFAULT_TARGET_COVERAGE,
    UncertaintyEvidence,
    conformal_fold_evidence,
    conformal_half_width,
    ks_statistic,
)
from torghut_assets.domain.walk_forward import Fold

SESSION_OPEN = pd.Timestamp("2026-03-02 14:30", tz="UTC")
N_BARS = 2_000
BAR_TIMES = pd.date_range(SESSION_OPEN, periods=N_BARS, freq="min")
BAR_TS_NS: npt.NDArray[np.int64] = BAR_TIMES.as_unit("ns").asi8
ALL_EXPOSED = np.ones(N_BARS, dtype=bool)


def bar_time(position: int) -> pd.Timestamp:
    """The time of bar `position`; one past the last bar is the last bar + 1 minute (exclusive end)."""
    if position < N_BARS:
        return pd.Timestamp(BAR_TIMES[position])
    return pd.Timestamp(BAR_TIMES[-1]) + pd.Timedelta(minutes=1)


def fold(order: int, train: tuple[int, int], test: tuple[int, int]) -> Fold:
    """A fold over bar positions [start, end) for train and test."""
    return Fold(
        fold_name=f"fold_{order}",
        fold_order=order,
        train_start=bar_time(train[0]),
        train_end=bar_time(train[1]),
        test_start=bar_time(test[0]),
        test_end=bar_time(test[1]),
    )


# Five sliding folds: 400 train bars, 5 purge bars, 200 test bars, step 300.
FOLDS = [fold(i + 1, (300 * i, 300 * i + 400), (300 * i + 405, 300 * i + 605)) for i in range(5)]


def iid_pnl(seed: int) -> npt.NDArray[np.float64]:
    """Per-bar net PnL in dollars of a stationary strategy."""
    return np.random.default_rng(seed).normal(0.02, 1.5, N_BARS)


# --- building blocks --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ([1.0, 2.0, 3.0], [1.0, 2.0, 3.0], 0.0),
        ([1.0, 2.0, 3.0], [2.0, 3.0, 4.0], 1 / 3),
        ([1.0, 2.0], [3.0, 4.0], 1.0),
        ([1.0, 1.0, 2.0], [1.0, 2.0, 2.0], 1 / 3),
        ([0.5, 1.5, 2.5, 3.5], [1.0, 2.0], 0.5),
        ([-2.0, -1.0, 0.0, 1.0, 2.0], [0.0], 0.4),
    ],
)
def test_ks_statistic_is_the_largest_gap_between_empirical_cdfs(
    a: list[float], b: list[float], expected: float
) -> None:
    assert ks_statistic(np.array(a), np.array(b)) == pytest.approx(expected)
    assert ks_statistic(np.array(b), np.array(a)) == pytest.approx(expected)


# |x − median| of these ten values, sorted: 2.5 2.5 6.5 8.5 9.5 11.5 12.5 15.5 23.5 32.5 (median 12.5).
TRIANGULAR = np.array([0.0, 1.0, 3.0, 6.0, 10.0, 15.0, 21.0, 28.0, 36.0, 45.0])


@pytest.mark.parametrize(
    ("coverage", "half_width"),
    [
        (0.5, 11.5),  # ceil(11 · 0.5) = 6th score, not the 5th (9.5)
        (0.8, 23.5),  # ceil(11 · 0.8) = 9th score, not the 8th (15.5)
        (0.9, 32.5),  # ceil(11 · 0.9) = 10th score
        (0.1, 2.5),  # ceil(11 · 0.1) = 2nd score
    ],
)
def test_conformal_half_width_uses_the_finite_sample_rank(coverage: float, half_width: float) -> None:
    center, half = conformal_half_width(TRIANGULAR, coverage)
    assert center == 12.5
    assert half == half_width


def test_conformal_half_width_rank_is_capped_at_the_sample_size() -> None:
    # ceil(6 · 0.9) = 6 > n = 5: the band is the largest score.
    assert conformal_half_width(np.array([1.0, 2.0, 3.0, 4.0, 5.0]), 0.9) == (3.0, 2.0)


# --- fold evidence ----------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [7, 11, 29])
def test_stationary_pnl_is_well_calibrated_with_no_shift(seed: int) -> None:
    evidence = conformal_fold_evidence(iid_pnl(seed), BAR_TS_NS, ALL_EXPOSED, FOLDS)
    assert evidence.target_coverage == DEFAULT_TARGET_COVERAGE
    assert (evidence.folds_used, evidence.folds_skipped) == (5, 0)
    assert evidence.coverage_error is not None and evidence.coverage_error < 0.05
    assert evidence.interval_width == pytest.approx(1.0, abs=0.15)
    assert evidence.shift_score is not None and evidence.shift_score < 0.15


def test_a_shifted_and_widened_test_span_shows_large_shift_and_width() -> None:
    pnl = iid_pnl(7)
    pnl[1_000:] = np.random.default_rng(8).normal(1.5, 4.5, N_BARS - 1_000)
    evidence = conformal_fold_evidence(pnl, BAR_TS_NS, ALL_EXPOSED, [fold(1, (0, 1_000), (1_005, 1_305))])
    assert evidence.folds_used == 1
    assert evidence.shift_score is not None and evidence.shift_score > 0.3
    assert evidence.interval_width is not None and evidence.interval_width > 1.25
    assert evidence.coverage_error is not None and evidence.coverage_error > 0.08


def test_folds_with_too_few_exposed_bars_are_skipped() -> None:
    exposed = ALL_EXPOSED.copy()
    exposed[405:605] = False  # fold 1's test span is flat ...
    exposed[405:424] = True  # ... except for 19 bars, one short of the minimum
    with_thin_fold = conformal_fold_evidence(iid_pnl(7), BAR_TS_NS, exposed, FOLDS)
    without = conformal_fold_evidence(iid_pnl(7), BAR_TS_NS, exposed, FOLDS[1:])
    assert (with_thin_fold.folds_used, with_thin_fold.folds_skipped) == (4, 1)
    assert (without.folds_used, without.folds_skipped) == (4, 0)
    assert with_thin_fold.coverage_error == without.coverage_error
    assert with_thin_fold.interval_width == without.interval_width
    assert with_thin_fold.shift_score == without.shift_score


def test_a_fold_with_too_short_a_calibration_span_is_skipped() -> None:
    short_train = fold(1, (0, 15), (20, 220))
    evidence = conformal_fold_evidence(iid_pnl(7), BAR_TS_NS, ALL_EXPOSED, [short_train, *FOLDS[1:]])
    assert (evidence.folds_used, evidence.folds_skipped) == (4, 1)
    relaxed = conformal_fold_evidence(iid_pnl(7), BAR_TS_NS, ALL_EXPOSED, [short_train], min_samples=15)
    assert relaxed.folds_used == 1


def test_min_samples_is_inclusive() -> None:
    exposed = np.zeros(N_BARS, dtype=bool)
    exposed[0:20] = True
    exposed[405:425] = True
    evidence = conformal_fold_evidence(iid_pnl(7), BAR_TS_NS, exposed, FOLDS[:1])
    assert evidence.folds_used == 1


def test_with_no_usable_fold_every_figure_is_none() -> None:
    exposed = np.zeros(N_BARS, dtype=bool)
    exposed[::50] = True  # a strategy that is almost never in the market
    evidence = conformal_fold_evidence(iid_pnl(7), BAR_TS_NS, exposed, FOLDS)
    assert evidence == UncertaintyEvidence(DEFAULT_TARGET_COVERAGE, None, None, None, 0, 5)
    assert evidence.as_dict() == {
        "target_coverage": 0.90,
        "coverage_error": None,
        "interval_width": None,
        "shift_score": None,
        "folds_used": 0,
        "folds_skipped": 5,
    }


def test_no_folds_gives_no_figures() -> None:
    evidence = conformal_fold_evidence(iid_pnl(7), BAR_TS_NS, ALL_EXPOSED, [])
    assert (evidence.coverage_error, evidence.folds_used, evidence.folds_skipped) == (None, 0, 0)


def test_unexposed_and_non_finite_bars_are_ignored() -> None:
    pnl = iid_pnl(7)
    exposed = np.random.default_rng(3).random(N_BARS) < 0.6
    baseline = conformal_fold_evidence(pnl, BAR_TS_NS, exposed, FOLDS)
    noisy = pnl.copy()
    noisy[~exposed] = 1e6  # flat bars carry nonsense that must not matter
    noisy[np.flatnonzero(exposed)[::97]] = np.nan
    kept = exposed.copy()
    kept[np.flatnonzero(exposed)[::97]] = False
    assert conformal_fold_evidence(noisy, BAR_TS_NS, exposed, FOLDS) == conformal_fold_evidence(
        pnl, BAR_TS_NS, kept, FOLDS
    )
    assert baseline.folds_used == 5


def test_bars_outside_every_fold_are_ignored() -> None:
    pnl = iid_pnl(7)
    outside = pnl.copy()
    outside[1_805:] = 250.0  # after the last fold's test span
    assert conformal_fold_evidence(outside, BAR_TS_NS, ALL_EXPOSED, FOLDS) == conformal_fold_evidence(
        pnl, BAR_TS_NS, ALL_EXPOSED, FOLDS
    )


def test_mismatched_array_lengths_are_refused() -> None:
    pnl = iid_pnl(7)
    with pytest.raises(ValueError, match="same length"):
        conformal_fold_evidence(pnl[:-1], BAR_TS_NS, ALL_EXPOSED, FOLDS)
    with pytest.raises(ValueError, match="same length"):
        conformal_fold_evidence(pnl, BAR_TS_NS, ALL_EXPOSED[:-1], FOLDS)


@pytest.mark.parametrize("coverage", [0.0, 1.0, -0.1, 1.5])
def test_target_coverage_outside_the_open_unit_interval_is_refused(coverage: float) -> None:
    with pytest.raises(ValueError, match="target coverage"):
        conformal_fold_evidence(iid_pnl(7), BAR_TS_NS, ALL_EXPOSED, FOLDS, target_coverage=coverage)
