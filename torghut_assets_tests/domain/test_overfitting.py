"""Overfitting statistics: Sharpe, PSR, expected max Sharpe, DSR, fold dispersion and the run report.

Closed forms are recomputed here with the stdlib's `statistics.NormalDist`; the reference check compares
with skfolio's `measures` (an independent implementation on scipy) on seeded fixtures.
"""

from __future__ import annotations

import ast
import importlib
import itertools
import json
import math
from collections.abc import Callable
from pathlib import Path
from statistics import NormalDist
from types import ModuleType

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from torghut_assets.domain import overfitting
from torghut_assets.domain.overfitting import (
    EULER_MASCHERONI,
    MIN_OBSERVATIONS,
    DeflatedSharpe,
    FoldDispersion,
    candidate_overfitting_report,
    deflated_sharpe_ratio,
    expected_max_sharpe,
    fold_dispersion,
    normal_cdf,
    normal_ppf,
    probabilistic_sharpe_ratio,
    sharpe_ratio,
)

PHI = NormalDist()

# Bailey & López de Prado (2014), numerical example: 100 trials, annualised trial-SR variance 1/2, selected
# annualised SR 2.5 over 1,250 daily observations, skew -3, kurtosis 10; the paper reports DSR ≈ 0.9004.
PAPER_DAYS = 250
PAPER_SR = 2.5 / math.sqrt(PAPER_DAYS)
PAPER_VARIANCE = 0.5 / PAPER_DAYS
PAPER_N_OBS, PAPER_TRIALS, PAPER_SKEW, PAPER_KURTOSIS = 1250, 100, -3.0, 10.0


def _closed_form_psr(sr: float, n: int, skew: float, kurtosis: float, benchmark: float) -> float:
    z = (sr - benchmark) * math.sqrt(n - 1) / math.sqrt(1 - skew * sr + (kurtosis - 1) / 4 * sr**2)
    return PHI.cdf(z)


def _closed_form_expected_max(variance: float, n_trials: int) -> float:
    g = EULER_MASCHERONI
    return math.sqrt(variance) * (
        (1 - g) * PHI.inv_cdf(1 - 1 / n_trials) + g * PHI.inv_cdf(1 - 1 / (n_trials * math.e))
    )


def _returns(kind: str, seed: int, n: int = 250) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if kind == "normal":
        return rng.normal(0.0008, 0.01, n)
    if kind == "skewed":  # long left tail: a short-volatility-like payoff
        return 0.01 * (1.0 - rng.lognormal(0.0, 0.75, n)) + 0.0042
    if kind == "fat":
        return 0.004 * rng.standard_t(3, n) + 0.0006
    raise AssertionError(kind)


def _noise_trial_sharpes(seed: int, n_trials: int, n_obs: int = 250) -> list[float]:
    noise = np.random.default_rng(seed).normal(0.0, 0.01, (n_trials, n_obs))
    return [float(s) for s in noise.mean(axis=1) / noise.std(axis=1, ddof=1)]


def _trials_with_variance(n_trials: int, variance: float) -> list[float]:
    if n_trials == 1:
        return [0.0]
    base = np.resize(np.array([1.0, -1.0, 0.5]), n_trials)
    base = base - base.mean()
    return [float(s) for s in base * math.sqrt(variance / base.var(ddof=1))]


# --- normal distribution ------------------------------------------------------------------------------


def test_normal_ppf_agrees_with_the_stdlib_and_inverts_the_cdf() -> None:
    ps = [1e-300, 1e-12, 1e-6, 0.01, 0.075, 0.3, 0.5, 0.7, 0.925, 0.99, 1 - 1e-9]
    for p in ps:
        assert normal_ppf(p) == pytest.approx(PHI.inv_cdf(p), rel=1e-14, abs=1e-14)
        assert normal_cdf(normal_ppf(p)) == pytest.approx(p, rel=1e-12)


# --- Sharpe ------------------------------------------------------------------------------------------


def test_sharpe_of_a_hand_made_series_is_mean_over_sample_std() -> None:
    # mean 0.005; squared deviations 25e-6 + 625e-6 + 625e-6 + 25e-6 = 1300e-6 over n - 1 = 3
    assert sharpe_ratio([0.01, -0.02, 0.03, 0.0]) == pytest.approx(0.005 / math.sqrt(0.0013 / 3), rel=1e-12)


def test_annualised_sharpe_scales_the_per_period_sharpe_by_root_periods() -> None:
    returns = _returns("normal", 1)
    per_period = sharpe_ratio(returns)
    assert per_period is not None
    assert sharpe_ratio(returns, periods_per_year=252) == pytest.approx(
        per_period * math.sqrt(252), rel=1e-14
    )


@pytest.mark.parametrize(
    "returns", [[], [0.02], [0.0, 0.0, 0.0], [0.1] * 7], ids=["empty", "one", "zeros", "flat"]
)
def test_sharpe_is_undefined_for_fewer_than_two_observations_or_a_constant_series(
    returns: list[float],
) -> None:
    assert sharpe_ratio(returns) is None


# --- PSR ---------------------------------------------------------------------------------------------


def test_psr_equals_the_closed_form_on_the_papers_example() -> None:
    for benchmark in (0.0, 0.05):
        expected = _closed_form_psr(PAPER_SR, PAPER_N_OBS, PAPER_SKEW, PAPER_KURTOSIS, benchmark)
        got = probabilistic_sharpe_ratio(PAPER_SR, PAPER_N_OBS, PAPER_SKEW, PAPER_KURTOSIS, benchmark)
        assert got == pytest.approx(expected, abs=1e-12)


def test_psr_increases_with_track_length_for_a_positive_sharpe() -> None:
    psrs = [probabilistic_sharpe_ratio(0.08, n, -0.5, 5.0) for n in (10, 30, 100, 300, 1000)]
    assert psrs == sorted(psrs) and len(set(psrs)) == len(psrs)


def test_psr_rejects_excess_kurtosis_and_a_track_too_short_to_have_a_variance() -> None:
    with pytest.raises(ValueError, match="non-excess"):
        probabilistic_sharpe_ratio(0.1, 100, 0.0, 0.0)  # excess kurtosis of normal returns
    with pytest.raises(ValueError, match="n >= 2"):
        probabilistic_sharpe_ratio(0.1, 1, 0.0, 3.0)


@settings(max_examples=100, deadline=None)
@given(
    sr=st.floats(-3, 3),
    n=st.integers(2, 100_000),
    skew=st.floats(-10, 10),
    excess_over_pearson_bound=st.floats(0, 200),
    benchmark=st.floats(-3, 3),
)
def test_psr_is_a_probability(
    sr: float, n: int, skew: float, excess_over_pearson_bound: float, benchmark: float
) -> None:
    kurtosis = 1 + skew**2 + excess_over_pearson_bound
    try:
        psr = probabilistic_sharpe_ratio(sr, n, skew, kurtosis, benchmark)
    except ValueError as exc:  # only on Pearson's boundary, where the Sharpe variance vanishes
        assert "not positive" in str(exc)
        return
    assert 0.0 <= psr <= 1.0


# --- expected maximum Sharpe -------------------------------------------------------------------------


def test_expected_max_sharpe_equals_the_closed_form() -> None:
    for n_trials in (2, 10, 100, 10_000):
        assert expected_max_sharpe(PAPER_VARIANCE, n_trials) == pytest.approx(
            _closed_form_expected_max(PAPER_VARIANCE, n_trials), rel=1e-12
        )


def test_expected_max_sharpe_grows_with_the_number_of_trials() -> None:
    values = [expected_max_sharpe(0.01, n) for n in (1, 2, 5, 10, 100, 1000, 10**6)]
    assert values[0] == 0.0
    assert all(a < b for a, b in itertools.pairwise(values))


def test_expected_max_sharpe_is_zero_without_selection_or_without_dispersion() -> None:
    assert expected_max_sharpe(0.3, 1) == 0.0
    assert expected_max_sharpe(0.0, 500) == 0.0


# --- DSR ---------------------------------------------------------------------------------------------


def test_dsr_reproduces_the_deflated_sharpe_papers_numerical_example() -> None:
    sr_star = expected_max_sharpe(PAPER_VARIANCE, PAPER_TRIALS)
    dsr = probabilistic_sharpe_ratio(PAPER_SR, PAPER_N_OBS, PAPER_SKEW, PAPER_KURTOSIS, sr_star)
    expected = _closed_form_psr(
        PAPER_SR, PAPER_N_OBS, PAPER_SKEW, PAPER_KURTOSIS, _closed_form_expected_max(PAPER_VARIANCE, 100)
    )
    assert dsr == pytest.approx(expected, abs=1e-12)
    assert dsr == pytest.approx(0.9004, abs=5e-5)


def test_dsr_with_one_trial_equals_psr_against_zero() -> None:
    returns = _returns("fat", 3)
    result = deflated_sharpe_ratio(returns, [0.7])
    assert result.expected_max_sharpe == 0.0
    assert result.deflated == result.psr_zero
    assert result.psr_zero is not None and 0.0 < result.psr_zero < 1.0


def test_dsr_with_identical_trials_equals_psr_against_zero() -> None:
    """Zero dispersion across trials: the trials are one trial, so SR* = 0 (documented choice)."""
    result = deflated_sharpe_ratio(_returns("normal", 4), [0.05] * 20)
    assert result.n_trials == 20 and result.expected_max_sharpe == 0.0
    assert result.deflated == result.psr_zero


def test_dsr_result_reports_the_moments_it_used() -> None:
    returns = _returns("skewed", 5)
    result = deflated_sharpe_ratio(returns, _noise_trial_sharpes(5, 10))
    dev = returns - returns.mean()
    m2 = float(np.mean(dev**2))
    assert result.n_obs == 250 and result.n_trials == 10
    assert result.sharpe == sharpe_ratio(returns)
    assert result.skew == pytest.approx(float(np.mean(dev**3)) / m2**1.5, rel=1e-10)
    assert result.kurtosis == pytest.approx(float(np.mean(dev**4)) / m2**2, rel=1e-10)


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    kind=st.sampled_from(["normal", "skewed", "fat"]),
    n_obs=st.integers(MIN_OBSERVATIONS, 500),
    n_trials=st.integers(2, 300),
    trial_scale=st.floats(1e-3, 1.0),
)
def test_dsr_never_exceeds_psr_against_zero_when_trials_disagree(
    seed: int, kind: str, n_obs: int, n_trials: int, trial_scale: float
) -> None:
    trials = list(np.random.default_rng(seed).normal(0.0, trial_scale, n_trials))
    result = deflated_sharpe_ratio(_returns(kind, seed, n_obs), trials)
    assert result.expected_max_sharpe is not None and result.expected_max_sharpe > 0.0
    assert result.deflated is not None and result.psr_zero is not None
    assert result.deflated <= result.psr_zero


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    kind=st.sampled_from(["normal", "skewed", "fat"]),
    variance=st.floats(1e-6, 1.0),
    n_small=st.integers(1, 3000),
    extra=st.integers(0, 3000),
)
def test_dsr_is_non_increasing_in_the_number_of_trials_at_fixed_trial_variance(
    seed: int, kind: str, variance: float, n_small: int, extra: int
) -> None:
    returns = _returns(kind, seed, 120)
    fewer = deflated_sharpe_ratio(returns, _trials_with_variance(n_small, variance)).deflated
    more = deflated_sharpe_ratio(returns, _trials_with_variance(n_small + extra, variance)).deflated
    assert fewer is not None and more is not None
    # slack only for the last-bit rounding of the constructed trial variance
    assert more <= fewer + 1e-12


@pytest.mark.parametrize(
    "returns",
    [[0.01, 0.02], [0.01], [], [0.003] * 40, [0.0] * 40],
    ids=["two_obs", "one_obs", "empty", "flat", "zeros"],
)
def test_too_short_or_constant_returns_give_none_and_fail_the_gate(returns: list[float]) -> None:
    result = deflated_sharpe_ratio(returns, [0.1, 0.2, -0.1])
    assert (result.psr_zero, result.deflated, result.skew, result.kurtosis) == (None, None, None, None)
    assert result.n_obs == len(returns) and result.n_trials == 3
    assert not result.passes(threshold=0.0)


def test_the_gate_passes_only_a_dsr_at_or_above_its_threshold() -> None:
    result = DeflatedSharpe(0.2, 0.99, 0.96, 0.1, 10, 250, 0.0, 3.0)
    assert result.passes() and result.passes(0.96) and not result.passes(0.97)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: deflated_sharpe_ratio([0.01, float("nan"), 0.02], [0.1]), "returns must be finite"),
        (
            lambda: deflated_sharpe_ratio([0.01, 0.03, 0.02], [0.1, float("inf")]),
            "trial_sharpes must be finite",
        ),
        (lambda: deflated_sharpe_ratio([0.01, 0.03, 0.02], []), "trial_sharpes is empty"),
        (lambda: deflated_sharpe_ratio(np.zeros((3, 2)), [0.1]), "one-dimensional"),
        (lambda: expected_max_sharpe(-0.1, 10), "sr_variance"),
        (lambda: expected_max_sharpe(0.1, 0), "n_trials"),
        (lambda: sharpe_ratio([0.01, 0.02], periods_per_year=0), "periods_per_year"),
        (lambda: probabilistic_sharpe_ratio(float("nan"), 10, 0.0, 3.0), "sr must be finite"),
        (lambda: normal_ppf(1.0), "0 < p < 1"),
    ],
    ids=[
        "nan_return",
        "inf_trial",
        "no_trials",
        "2d_returns",
        "neg_variance",
        "no_trial",
        "ppy",
        "nan_sr",
        "p1",
    ],
)
def test_malformed_input_raises_a_value_error_naming_the_problem(
    call: Callable[[], object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        call()


# --- independent reference: skfolio.measures ----------------------------------------------------------


@pytest.fixture(scope="module")
def skfolio_measures() -> ModuleType:
    """Imported lazily so collecting the suite does not pay skfolio's import (dev extra)."""
    return importlib.import_module("skfolio.measures")


@pytest.mark.parametrize("n_trials", [1, 10, 1000])
@pytest.mark.parametrize("kind", ["normal", "skewed", "fat"])
def test_dsr_agrees_with_skfolio(skfolio_measures: ModuleType, kind: str, n_trials: int) -> None:
    seed = 1000 * n_trials + len(kind)
    returns = _returns(kind, seed)
    own = sharpe_ratio(returns)
    assert own is not None
    trials = [own, *_noise_trial_sharpes(seed, n_trials - 1)]
    result = deflated_sharpe_ratio(returns, trials)
    trial_std = float(np.std(trials, ddof=1)) if n_trials > 1 else 0.0
    reference = {
        "deflated": skfolio_measures.deflated_sharpe_ratio(returns, np.asarray(trials)),
        "psr_zero": skfolio_measures.probabilistic_sharpe_ratio(returns),
        "expected_max_sharpe": skfolio_measures.expected_max_sharpe_ratio(n_trials, trial_std),
        "skew": skfolio_measures.skew(returns),
        "kurtosis": skfolio_measures.kurtosis(returns),
        "sharpe": float(np.mean(returns) / skfolio_measures.standard_deviation(returns)),
    }
    for field, expected in reference.items():
        assert getattr(result, field) == pytest.approx(float(expected), abs=1e-9), field


# --- fold dispersion ---------------------------------------------------------------------------------


def test_fold_dispersion_of_a_hand_made_series() -> None:
    pnl = [100.0, -50.0, 30.0, -10.0]  # mean 17.5
    expected_cv = float(np.std(pnl, ddof=1)) / 17.5
    assert fold_dispersion(pnl) == FoldDispersion(4, 2, 0.5, pytest.approx(expected_cv), -50.0, 100.0, 10.0)


@pytest.mark.parametrize(
    ("pnl", "expected"),
    [
        ([], FoldDispersion(0, 0, None, None, None, None, None)),
        ([-5.0], FoldDispersion(1, 1, 1.0, None, -5.0, -5.0, -5.0)),
        ([10.0, -10.0], FoldDispersion(2, 1, 0.5, None, -10.0, 10.0, 0.0)),
    ],
    ids=["no_folds", "one_fold", "zero_mean"],
)
def test_fold_dispersion_leaves_undefined_statistics_none(pnl: list[float], expected: FoldDispersion) -> None:
    assert fold_dispersion(pnl) == expected


# --- run report --------------------------------------------------------------------------------------


def _run(n: int) -> dict[str, np.ndarray]:
    return {f"cand-{i:02d}": _returns(("normal", "skewed", "fat")[i % 3], 50 + i, 60) for i in range(n)}


def test_report_deflates_every_candidate_against_all_trials_losers_included() -> None:
    run = _run(7)
    report = candidate_overfitting_report(run)
    sharpes = [sharpe_ratio(run[cid]) for cid in sorted(run)]
    for cid, returns in run.items():
        expected = deflated_sharpe_ratio(returns, [s for s in sharpes if s is not None])
        assert report[cid]["dsr"] == pytest.approx(expected.deflated, abs=1e-15)
        assert report[cid]["psr"] == pytest.approx(expected.psr_zero, abs=1e-15)
        assert report[cid]["n_trials"] == 7


def test_report_is_json_ready_sorted_and_reproducible() -> None:
    run = _run(4)
    report = candidate_overfitting_report(dict(reversed(list(run.items()))), periods_per_year=252)
    assert list(report) == sorted(run)
    assert json.dumps(report, allow_nan=False, sort_keys=True) == json.dumps(
        candidate_overfitting_report(run, periods_per_year=252), allow_nan=False, sort_keys=True
    )
    for entry in report.values():
        assert all(v is None or type(v) in (float, int) for v in entry.values())
        sharpe = entry["sharpe"]
        assert isinstance(sharpe, float)
        assert entry["sharpe_annualized"] == pytest.approx(sharpe * math.sqrt(252))


def test_report_with_a_single_candidate_uses_psr_against_zero() -> None:
    report = candidate_overfitting_report(_run(1))
    (entry,) = report.values()
    assert entry["expected_max_sharpe"] == 0.0 and entry["dsr"] == entry["psr"]


def test_report_counts_untradeable_trials_and_fails_closed_without_trial_dispersion() -> None:
    """Two of three candidates never traded (constant PnL): they still count in N, but with one defined
    Sharpe ratio the spread of the trials is unknown, so no candidate gets a DSR."""
    run = {"a": _returns("normal", 7, 60), "flat": np.zeros(60), "short": np.array([1.0])}
    report = candidate_overfitting_report(run)
    assert {cid: (e["n_trials"], e["dsr"]) for cid, e in report.items()} == {
        "a": (3, None),
        "flat": (3, None),
        "short": (3, None),
    }
    assert report["a"]["psr"] is not None and report["flat"]["sharpe"] is None


def test_report_names_the_candidate_with_malformed_returns() -> None:
    with pytest.raises(ValueError, match="'bad'"):
        candidate_overfitting_report({"ok": np.ones(5), "bad": np.array([0.1, np.nan, 0.2])})


# --- purity ------------------------------------------------------------------------------------------


def test_the_module_needs_nothing_beyond_numpy_at_runtime() -> None:
    tree = ast.parse(Path(overfitting.__file__).read_text())
    roots = {
        alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    }
    roots |= {
        node.module.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module
    }
    assert roots <= {"__future__", "math", "collections", "dataclasses", "typing", "numpy"}
