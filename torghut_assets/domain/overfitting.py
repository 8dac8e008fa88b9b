"""Overfitting statistics per research candidate: is a backtest evidence, or the luck of many tries?

A grid search keeps the best of many candidates, so the winner's Sharpe ratio is inflated by selection
alone. These statistics turn a candidate's per-period returns (or per-fold net PnL) into probabilities
that a promotion gate can threshold:

- PSR, the probabilistic Sharpe ratio: P[true SR > SR*] given track length, skew and fat tails.
  Bailey, D. H. & López de Prado, M. (2012), "The Sharpe Ratio Efficient Frontier", Journal of Risk
  15(2), 3–44.
- DSR, the deflated Sharpe ratio: PSR against SR* = the Sharpe ratio the best of N worthless trials is
  expected to reach. Bailey, D. H. & López de Prado, M. (2014), "The Deflated Sharpe Ratio: Correcting
  for Selection Bias, Backtest Overfitting and Non-Normality", Journal of Portfolio Management 40(5),
  94–107. DSR needs *every* trial of the run, losers included: dropping them understates N and V.
- Φ⁻¹ is Wichura, M. J. (1988), "Algorithm AS 241: The Percentage Points of the Normal Distribution",
  Applied Statistics 37(3), 477–484 (accurate to about 1e-16); Φ is `math.erfc`. Both are here so that
  scipy stays out of the runtime dependencies.

Conventions (the same as the papers' reference code and skfolio's `measures`):

- Sharpe ratio: mean / sample standard deviation (ddof=1) per period, no risk-free rate (inputs are
  excess returns or net PnL). PSR, DSR and E[max SR] always use this *per-period* value; annualising
  (× √periods_per_year) is for display only and never feeds the probabilities.
- skew γ3 = m3 / m2^1.5 and kurtosis γ4 = m4 / m2² from population (biased) central moments; γ4 is the
  *non-excess* (Pearson) kurtosis, 3 for normal returns — scipy's `kurtosis(fisher=False, bias=True)`.
- trial dispersion V: sample variance (ddof=1) of the trials' per-period Sharpe ratios; N = trial count.

Failing closed:

- Malformed input (NaN/inf, not 1-D, no trials, N < 1, V < 0, n < 2 or kurtosis < 1 + skew² in the
  closed forms) raises `ValueError` naming the problem: it is a bug upstream, not a market outcome.
- Data too thin to judge gives `None`: a Sharpe ratio needs 2 observations and non-zero dispersion,
  PSR/DSR need `MIN_OBSERVATIONS` (skew and kurtosis of 2 points are meaningless). A gate must read None
  as "not evidence"; `DeflatedSharpe.passes` does.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

EULER_MASCHERONI = 0.5772156649015329
MIN_OBSERVATIONS = 3
DEFAULT_DSR_THRESHOLD = 0.95
# std <= this × |mean| is a constant series whose std is rounding noise of the mean (|SR| >= 1e12).
_CONSTANT_SERIES_RTOL = 1e-12
# Pearson's kurtosis >= 1 + skew² holds exactly for any distribution; allow for float rounding only.
_PEARSON_RTOL = 1e-9

ReturnsLike = Sequence[float] | npt.NDArray[np.floating[Any]]
FloatArray = npt.NDArray[np.float64]


# ---------------------------------------------------------------------------------------------------
# Standard normal distribution


def normal_cdf(x: float) -> float:
    """Φ(x) via erfc, which keeps full relative precision in the lower tail (1 - Φ does not)."""
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


def _horner(coefficients: tuple[float, ...], x: float) -> float:
    acc = 0.0
    for c in coefficients:
        acc = acc * x + c
    return acc


# Wichura (1988) AS 241 PPND16 coefficients, highest degree first.
_AS241_CENTRAL_NUM = (
    2.5090809287301226727e3,
    3.3430575583588128105e4,
    6.7265770927008700853e4,
    4.5921953931549871457e4,
    1.3731693765509461125e4,
    1.9715909503065514427e3,
    1.3314166789178437745e2,
    3.3871328727963666080e0,
)
_AS241_CENTRAL_DEN = (
    5.2264952788528545610e3,
    2.8729085735721942674e4,
    3.9307895800092710610e4,
    2.1213794301586595867e4,
    5.3941960214247511077e3,
    6.8718700749205790830e2,
    4.2313330701600911252e1,
    1.0,
)
_AS241_NEAR_NUM = (
    7.74545014278341407640e-4,
    2.27238449892691845833e-2,
    2.41780725177450611770e-1,
    1.27045825245236838258e0,
    3.64784832476320460504e0,
    5.76949722146069140550e0,
    4.63033784615654529590e0,
    1.42343711074968357734e0,
)
_AS241_NEAR_DEN = (
    1.05075007164441684324e-9,
    5.47593808499534494600e-4,
    1.51986665636164571966e-2,
    1.48103976427480074590e-1,
    6.89767334985100004550e-1,
    1.67638483018380384940e0,
    2.05319162663775882187e0,
    1.0,
)
_AS241_FAR_NUM = (
    2.01033439929228813265e-7,
    2.71155556874348757815e-5,
    1.24266094738807843860e-3,
    2.65321895265761230930e-2,
    2.96560571828504891230e-1,
    1.78482653991729133580e0,
    5.46378491116411436990e0,
    6.65790464350110377720e0,
)
_AS241_FAR_DEN = (
    2.04426310338993978564e-15,
    1.42151175831644588870e-7,
    1.84631831751005468180e-5,
    7.86869131145613259100e-4,
    1.48753612908506148525e-2,
    1.36929880922735805310e-1,
    5.99832206555887937690e-1,
    1.0,
)


def normal_ppf(p: float) -> float:
    """Φ⁻¹(p) for 0 < p < 1 (Wichura's AS 241). Pass small tail probabilities directly rather than
    `1 - tiny`: Φ⁻¹(1 - q) = -Φ⁻¹(q) keeps the digits that `1 - q` rounds away."""
    if not 0.0 < p < 1.0:
        raise ValueError(f"normal_ppf needs 0 < p < 1, got {p!r}")
    q = p - 0.5
    if abs(q) <= 0.425:
        r = 0.180625 - q * q
        return q * _horner(_AS241_CENTRAL_NUM, r) / _horner(_AS241_CENTRAL_DEN, r)
    r = math.sqrt(-math.log(p if q < 0.0 else 1.0 - p))
    if r <= 5.0:
        r -= 1.6
        x = _horner(_AS241_NEAR_NUM, r) / _horner(_AS241_NEAR_DEN, r)
    else:
        r -= 5.0
        x = _horner(_AS241_FAR_NUM, r) / _horner(_AS241_FAR_DEN, r)
    return -x if q < 0.0 else x


# ---------------------------------------------------------------------------------------------------
# Inputs and moments


def _series(values: ReturnsLike, what: str) -> FloatArray:
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError(f"{what} must be one-dimensional, got shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError(f"{what} must be finite: {int((~np.isfinite(arr)).sum())} NaN/inf value(s)")
    return arr


def _finite_or_none(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _sample_std(arr: FloatArray) -> float:
    """ddof=1 standard deviation, exactly 0 for a constant series (not the rounding noise of its mean)."""
    std = float(np.std(arr, ddof=1))
    return std if std > _CONSTANT_SERIES_RTOL * abs(float(np.mean(arr))) else 0.0


def _sharpe(arr: FloatArray) -> float | None:
    if arr.size < 2:
        return None
    std = _sample_std(arr)
    return _finite_or_none(float(np.mean(arr)) / std) if std > 0.0 else None


def _skew_kurtosis(arr: FloatArray) -> tuple[float, float] | None:
    """Population skew and non-excess kurtosis; None when the series has no dispersion."""
    dev = arr - np.mean(arr)
    dev -= np.mean(dev)  # drop the rounding residue of the mean before taking high powers
    m2 = float(np.mean(dev**2))
    if not m2 > 0.0:
        return None
    skew = float(np.mean(dev**3)) / m2**1.5
    kurtosis = float(np.mean(dev**4)) / m2**2
    if not (math.isfinite(skew) and math.isfinite(kurtosis)):
        return None
    return skew, kurtosis


# ---------------------------------------------------------------------------------------------------
# Sharpe, PSR, E[max SR]


def sharpe_ratio(returns: ReturnsLike, periods_per_year: float | None = None) -> float | None:
    """mean / sample std (ddof=1), × √periods_per_year if given. None for fewer than 2 observations or
    a constant series, where the ratio is undefined rather than zero or infinite."""
    _check_periods_per_year(periods_per_year)
    return _annualized(_sharpe(_series(returns, "returns")), periods_per_year)


def _check_periods_per_year(periods_per_year: float | None) -> None:
    if periods_per_year is not None and not (math.isfinite(periods_per_year) and periods_per_year > 0):
        raise ValueError(f"periods_per_year must be a positive number, got {periods_per_year!r}")


def _annualized(sr: float | None, periods_per_year: float | None) -> float | None:
    if sr is None or periods_per_year is None:
        return sr
    return _finite_or_none(sr * math.sqrt(periods_per_year))


def _psr(sr: float, n: int, skew: float, kurtosis: float, sr_benchmark: float) -> float | None:
    variance_term = 1.0 - skew * sr + (kurtosis - 1.0) / 4.0 * sr * sr
    if not variance_term > 0.0:
        return None
    z = (sr - sr_benchmark) * math.sqrt(n - 1) / math.sqrt(variance_term)
    return _finite_or_none(normal_cdf(z))


def probabilistic_sharpe_ratio(
    sr: float, n: int, skew: float, kurtosis: float, sr_benchmark: float = 0.0
) -> float:
    """PSR = Φ((SR − SR*)·√(n−1) / √(1 − γ3·SR + (γ4 − 1)/4·SR²)), Bailey & López de Prado (2012).

    `sr` and `sr_benchmark` are per-period (not annualised), `n` the number of observations behind `sr`,
    `kurtosis` the non-excess γ4 (normal = 3). Excess kurtosis is caught when it violates Pearson's
    bound γ4 ≥ 1 + γ3², which every distribution satisfies."""
    for name, value in (("sr", sr), ("skew", skew), ("kurtosis", kurtosis), ("sr_benchmark", sr_benchmark)):
        if not math.isfinite(value):
            raise ValueError(f"probabilistic_sharpe_ratio: {name} must be finite, got {value!r}")
    if n < 2:
        raise ValueError(f"probabilistic_sharpe_ratio needs n >= 2 observations, got {n}")
    bound = 1.0 + skew * skew
    if kurtosis < bound * (1.0 - _PEARSON_RTOL):
        raise ValueError(
            f"kurtosis {kurtosis} < 1 + skew² = {bound}: no distribution has it; "
            "pass the non-excess (Pearson) kurtosis, 3 for normal returns"
        )
    psr = _psr(sr, n, skew, kurtosis, sr_benchmark)
    if psr is None:
        raise ValueError(
            f"Sharpe ratio variance is not positive for sr={sr}, skew={skew}, kurtosis={kurtosis}"
        )
    return psr


def expected_max_sharpe(sr_variance: float, n_trials: int) -> float:
    """E[max SR] of N independent zero-skill trials whose Sharpe ratios have variance V:
    √V·((1−γ)·Φ⁻¹(1 − 1/N) + γ·Φ⁻¹(1 − 1/(N·e))), Bailey & López de Prado (2014), γ Euler–Mascheroni.

    One trial involves no selection, so SR* = 0 (the formula's Φ⁻¹(0) would be −∞); V = 0 also gives 0:
    identical trials are one trial."""
    if not (math.isfinite(sr_variance) and sr_variance >= 0.0):
        raise ValueError(f"sr_variance must be finite and >= 0, got {sr_variance!r}")
    if n_trials < 1:
        raise ValueError(f"n_trials must be >= 1, got {n_trials}")
    if n_trials == 1 or sr_variance == 0.0:
        return 0.0
    upper = (1.0 - EULER_MASCHERONI) * -normal_ppf(1.0 / n_trials) + EULER_MASCHERONI * -normal_ppf(
        1.0 / (n_trials * math.e)
    )
    return math.sqrt(sr_variance) * upper


# ---------------------------------------------------------------------------------------------------
# Deflated Sharpe


@dataclass(frozen=True)
class DeflatedSharpe:
    """One candidate's deflation. Statistics are per period; None means "too thin to judge"."""

    sharpe: float | None
    psr_zero: float | None
    deflated: float | None
    expected_max_sharpe: float | None
    n_trials: int
    n_obs: int
    skew: float | None
    kurtosis: float | None

    def passes(self, threshold: float = DEFAULT_DSR_THRESHOLD) -> bool:
        """The gate's reading: only a computed DSR at or above the threshold counts as evidence."""
        return self.deflated is not None and self.deflated >= threshold


def _deflate(returns: FloatArray, n_trials: int, sr_variance: float | None) -> DeflatedSharpe:
    sr_star = None if sr_variance is None else expected_max_sharpe(sr_variance, n_trials)
    sr = _sharpe(returns)
    moments = _skew_kurtosis(returns) if sr is not None and returns.size >= MIN_OBSERVATIONS else None
    if sr is None or moments is None:
        return DeflatedSharpe(sr, None, None, sr_star, n_trials, int(returns.size), None, None)
    skew, kurtosis = moments
    n = int(returns.size)
    psr_zero = _psr(sr, n, skew, kurtosis, 0.0)
    deflated = None if sr_star is None else _psr(sr, n, skew, kurtosis, sr_star)
    return DeflatedSharpe(sr, psr_zero, deflated, sr_star, n_trials, n, skew, kurtosis)


def _trial_variance(trial_sharpes: Sequence[float]) -> float:
    trials = _series(trial_sharpes, "trial_sharpes")
    if trials.size == 0:
        raise ValueError("trial_sharpes is empty: pass the Sharpe ratio of every trial, this one included")
    return _sample_std(trials) ** 2 if trials.size > 1 else 0.0


def deflated_sharpe_ratio(returns: ReturnsLike, trial_sharpes: Sequence[float]) -> DeflatedSharpe:
    """DSR = PSR(SR* = expected_max_sharpe(var(trial_sharpes), N)), Bailey & López de Prado (2014).

    `trial_sharpes` are the per-period Sharpe ratios of all N trials of the search, this candidate's and
    the losers' included. N = 1 gives SR* = 0, so DSR = PSR(0). Fewer than `MIN_OBSERVATIONS` returns or a
    constant series gives None statistics (fail closed); malformed input raises ValueError."""
    n_trials = len(trial_sharpes)
    variance = _trial_variance(trial_sharpes)
    return _deflate(_series(returns, "returns"), n_trials, variance)


# ---------------------------------------------------------------------------------------------------
# Fold dispersion


@dataclass(frozen=True)
class FoldDispersion:
    """How evenly a candidate earned across walk-forward folds: one lucky fold is not a strategy."""

    fold_count: int
    negative_fold_count: int
    negative_fold_ratio: float | None
    net_pnl_cv: float | None
    min: float | None
    max: float | None
    median: float | None

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def fold_dispersion(fold_net_pnl: Sequence[float]) -> FoldDispersion:
    """Counts, range and coefficient of variation (sample std / |mean|, i.e. 1/|Sharpe| of the folds) of
    the per-fold net PnL. The CV is None for fewer than 2 folds or a zero mean; stats are None without
    folds."""
    pnl = _series(fold_net_pnl, "fold_net_pnl")
    count = int(pnl.size)
    if count == 0:
        return FoldDispersion(0, 0, None, None, None, None, None)
    negative = int((pnl < 0.0).sum())
    mean = float(np.mean(pnl))
    cv = None
    if count >= 2 and mean != 0.0:
        cv = _finite_or_none(float(np.std(pnl, ddof=1)) / abs(mean))
    return FoldDispersion(
        count, negative, negative / count, cv, float(pnl.min()), float(pnl.max()), float(np.median(pnl))
    )


# ---------------------------------------------------------------------------------------------------
# Run report


def candidate_overfitting_report(
    candidate_returns: Mapping[str, ReturnsLike], *, periods_per_year: float | None = None
) -> dict[str, dict[str, object]]:
    """Sharpe, PSR(0) and DSR for every candidate of one run, each deflated against all the run's trials.

    N is the number of candidates: a candidate whose Sharpe ratio is undefined (constant or too-short
    series) was still tried and still counts. V is the sample variance of the defined Sharpe ratios;
    with N > 1 and fewer than 2 of them, V is unknown and every DSR is None. Keys are sorted and values
    are plain float/int/None, so the result serialises to JSON and hashes reproducibly."""
    _check_periods_per_year(periods_per_year)
    series = {
        cid: _series(candidate_returns[cid], f"returns of {cid!r}") for cid in sorted(candidate_returns)
    }
    sharpes = [s for s in (_sharpe(arr) for arr in series.values()) if s is not None]
    n_trials = len(series)
    variance: float | None
    if n_trials <= 1:
        variance = 0.0
    elif len(sharpes) >= 2:
        variance = _sample_std(np.asarray(sharpes, dtype=np.float64)) ** 2
    else:
        variance = None
    report: dict[str, dict[str, object]] = {}
    for cid, arr in series.items():
        result = _deflate(arr, n_trials, variance)
        report[cid] = {
            "sharpe": result.sharpe,
            "sharpe_annualized": _annualized(result.sharpe, periods_per_year),
            "psr": result.psr_zero,
            "dsr": result.deflated,
            "expected_max_sharpe": result.expected_max_sharpe,
            "n_trials": result.n_trials,
            "n_obs": result.n_obs,
            "skew": result.skew,
            "kurtosis": result.kurtosis,
        }
    return report
