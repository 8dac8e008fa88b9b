"""Gate-7 inputs from the candidate's own walk-forward: split-conformal coverage, width drift and shift.

For each fold the calibration set is the candidate's per-bar net PnL on exposed bars of the train span,
and the test set the same on the test span. The interval is the split-conformal band around the
calibration median at the target coverage; we report

* `coverage_error` = |target − test-weighted mean empirical coverage|,
* `interval_width` = median over folds of (the test span's own band half-width / the calibration one),
  so 1.0 means the uncertainty did not widen out of sample,
* `shift_score` = mean two-sample Kolmogorov–Smirnov statistic between calibration and test (0…1).

A fold with fewer than `min_samples` exposed bars on either side is not used; with no usable fold every
figure is None, which the gate ladder treats as `abstain` (fail closed).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from torghut_assets.domain.walk_forward import Fold

FloatArray = npt.NDArray[np.float64]
DEFAULT_TARGET_COVERAGE = 0.90
DEFAULT_MIN_SAMPLES = 20


@dataclass(frozen=True)
class UncertaintyEvidence:
    target_coverage: float
    coverage_error: float | None
    interval_width: float | None
    shift_score: float | None
    folds_used: int
    folds_skipped: int

    def as_dict(self) -> dict[str, object]:
        return {
            "target_coverage": self.target_coverage,
            "coverage_error": self.coverage_error,
            "interval_width": self.interval_width,
            "shift_score": self.shift_score,
            "folds_used": self.folds_used,
            "folds_skipped": self.folds_skipped,
        }


def conformal_half_width(calibration: FloatArray, target_coverage: float) -> tuple[float, float]:
    """(center, half-width) of the split-conformal band: the ceil((n+1)·c)/n quantile of |x − median|."""
    center = float(np.median(calibration))
    scores = np.sort(np.abs(calibration - center))
    n = len(scores)
    rank = min(math.ceil((n + 1) * target_coverage), n)
    return center, float(scores[rank - 1])


def ks_statistic(a: FloatArray, b: FloatArray) -> float:
    """Two-sample Kolmogorov–Smirnov statistic sup |F_a − F_b| (ties handled by evaluating at every value)."""
    a_sorted, b_sorted = np.sort(a), np.sort(b)
    grid = np.concatenate([a_sorted, b_sorted])
    cdf_a = np.searchsorted(a_sorted, grid, side="right") / len(a_sorted)
    cdf_b = np.searchsorted(b_sorted, grid, side="right") / len(b_sorted)
    return float(np.max(np.abs(cdf_a - cdf_b)))


def _span(ts_ns: npt.NDArray[np.int64], start: pd.Timestamp, end: pd.Timestamp) -> npt.NDArray[np.bool_]:
    return (ts_ns >= start.as_unit("ns").value) & (ts_ns < end.as_unit("ns").value)


def conformal_fold_evidence(
    bar_net_pnl: FloatArray,
    bar_ts_ns: npt.NDArray[np.int64],
    exposed: npt.NDArray[np.bool_],
    folds: Sequence[Fold],
    *,
    target_coverage: float = DEFAULT_TARGET_COVERAGE,
    min_samples: int = DEFAULT_MIN_SAMPLES,
) -> UncertaintyEvidence:
    if not 0.0 < target_coverage < 1.0:
        raise ValueError(f"target coverage must be in (0, 1), got {target_coverage}")
    if not (len(bar_net_pnl) == len(bar_ts_ns) == len(exposed)):
        raise ValueError("bar pnl, timestamps and exposure flags must have the same length")
    finite = np.isfinite(bar_net_pnl)
    coverages: list[tuple[float, int]] = []
    widths: list[float] = []
    shifts: list[float] = []
    skipped = 0
    for fold in folds:
        cal = bar_net_pnl[_span(bar_ts_ns, fold.train_start, fold.train_end) & exposed & finite]
        test = bar_net_pnl[_span(bar_ts_ns, fold.test_start, fold.test_end) & exposed & finite]
        if len(cal) < min_samples or len(test) < min_samples:
            skipped += 1
            continue
        center, half = conformal_half_width(cal, target_coverage)
        coverages.append((float(np.mean(np.abs(test - center) <= half)), len(test)))
        _, test_half = conformal_half_width(test, target_coverage)
        if half > 0:
            widths.append(test_half / half)
        elif test_half == 0:
            widths.append(1.0)
        shifts.append(ks_statistic(cal, test))
    if not coverages:
        return UncertaintyEvidence(target_coverage, None, None, None, 0, skipped)
    weight = sum(n for _, n in coverages)
    mean_coverage = sum(c * n for c, n in coverages) / weight
    return UncertaintyEvidence(
        target_coverage=target_coverage,
        coverage_error=abs(target_coverage - mean_coverage),
        interval_width=float(np.median(widths)) if widths else None,
        shift_score=float(np.mean(shifts)),
        folds_used=len(coverages),
        folds_skipped=skipped,
    )
