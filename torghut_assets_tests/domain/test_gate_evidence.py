"""From stored research and operations evidence to gate inputs, fail closed (docs/promotion.md)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest

from torghut_assets.domain.backtest import net_pnl_cv
from torghut_assets.domain.evidence import sha256_hex
from torghut_assets.domain.gate_evidence import (
    CAVEATS,
    PROFITABILITY_SCHEMA,
    REQUIRED_HASHES,
    LlmSummary,
    Readiness,
    SignalQuality,
    TcaSummary,
    assemble_gate_evidence,
    fragility,
    profitability_evidence,
    signal_quality_of,
    validate_profitability_evidence,
)
from torghut_assets.domain.gates import GateEvidence, GatePolicy, gate0_data_integrity
from torghut_assets.domain.signal_frame import empty_signal_frame
from torghut_assets.domain.uncertainty import UncertaintyEvidence
from torghut_assets_tests.domain.session_fixtures import simulate_session, utc

CANDIDATE = "cand-4f1c0a9e2b7d-a"
INCUMBENT = "cand-9b03e5d17c42-b"
RUN_ID = "wrun-20260302-1400-macd_rsi"


def fold_row(order: int, net: float | None, drawdown: float, regime: str, **extra: Any) -> dict[str, Any]:
    return {
        "fold_name": f"fold_{order}",
        "fold_order": order,
        "net_pnl": net,
        "max_drawdown": drawdown,
        "turnover_ratio": 3.0 + 0.2 * order,
        "cost_bps": 11.0 + order,
        "regime_label": regime,
        **extra,
    }


# Candidate out-of-sample folds: net 18.40 over four folds, worst drawdown 9.80.
FOLDS = [
    fold_row(1, 12.40, 6.20, "range"),
    fold_row(2, -3.15, 9.80, "trend_down"),
    fold_row(3, 8.15, 4.00, "range"),
    fold_row(4, 1.00, 2.50, "high_vol"),
]
INCUMBENT_FOLDS = [
    fold_row(1, 5.00, 3.00, "range"),
    fold_row(2, 4.00, 2.00, "trend_down"),
    fold_row(3, 2.50, 4.00, "range"),
    fold_row(4, -1.50, 6.00, "high_vol"),
]
HASHES = {name: sha256_hex({"artifact": name, "run_id": RUN_ID}) for name in REQUIRED_HASHES}
UNCERTAINTY = UncertaintyEvidence(
    target_coverage=0.90,
    coverage_error=0.012,
    interval_width=1.01,
    shift_score=0.09,
    folds_used=4,
    folds_skipped=0,
)


def payload(**overrides: Any) -> dict[str, Any]:
    args: dict[str, Any] = {
        "candidate_id": CANDIDATE,
        "run_id": RUN_ID,
        "folds": FOLDS,
        "baseline_candidate_id": None,
        "baseline_folds": None,
        "hashes": HASHES,
        "uncertainty": UNCERTAINTY,
        **overrides,
    }
    return profitability_evidence(**args)


# --- profitability evidence -------------------------------------------------------------------------


def test_against_a_flat_baseline_the_delta_is_the_net_pnl() -> None:
    evidence = payload()
    assert evidence["schema_version"] == PROFITABILITY_SCHEMA
    assert evidence["baseline"] == {"kind": "flat", "candidate_id": None, "net_pnl": 0.0}
    assert evidence["net_pnl"] == pytest.approx(18.40)
    assert evidence["market_net_pnl_delta"] == pytest.approx(18.40)


def test_against_the_incumbent_the_delta_is_the_difference() -> None:
    evidence = payload(baseline_candidate_id=INCUMBENT, baseline_folds=INCUMBENT_FOLDS)
    assert evidence["baseline"]["kind"] == "incumbent"
    assert evidence["baseline"]["candidate_id"] == INCUMBENT
    assert evidence["baseline"]["net_pnl"] == pytest.approx(10.00)
    assert evidence["market_net_pnl_delta"] == pytest.approx(8.40)


def test_an_incumbent_beating_the_candidate_gives_a_negative_delta() -> None:
    stronger = [dict(f, net_pnl=f["net_pnl"] * 3) for f in FOLDS]
    evidence = payload(baseline_candidate_id=INCUMBENT, baseline_folds=stronger)
    assert evidence["market_net_pnl_delta"] == pytest.approx(-36.80)


def test_an_incumbent_with_an_unreadable_fold_gives_no_delta() -> None:
    broken = [*INCUMBENT_FOLDS[:3], fold_row(4, None, 6.0, "high_vol")]
    evidence = payload(baseline_candidate_id=INCUMBENT, baseline_folds=broken)
    assert evidence["baseline"]["net_pnl"] is None
    assert evidence["market_net_pnl_delta"] is None
    assert "market_net_pnl_delta_missing" in validate_profitability_evidence(evidence)


def test_regime_pass_ratio_counts_regimes_whose_folds_net_non_negative() -> None:
    evidence = payload()
    assert evidence["regime_slices"] == [
        {"regime": "high_vol", "folds": 1, "net_pnl": 1.00, "passed": True},
        {"regime": "range", "folds": 2, "net_pnl": pytest.approx(20.55), "passed": True},
        {"regime": "trend_down", "folds": 1, "net_pnl": -3.15, "passed": False},
    ]
    assert evidence["regime_pass_ratio"] == pytest.approx(2 / 3)


def test_folds_without_a_regime_label_form_an_unknown_slice() -> None:
    folds = [fold_row(1, 4.0, 1.0, "range"), {**fold_row(2, -1.0, 1.0, "range"), "regime_label": None}]
    evidence = payload(folds=folds)
    assert [s["regime"] for s in evidence["regime_slices"]] == ["range", "unknown"]
    assert evidence["regime_pass_ratio"] == 0.5


def test_return_over_drawdown_divides_by_the_worst_fold_drawdown() -> None:
    evidence = payload()
    assert evidence["max_drawdown"] == 9.80
    assert evidence["return_over_drawdown"] == pytest.approx(18.40 / 9.80)
    assert evidence["cost_bps"] == pytest.approx((12.0 + 13.0 + 14.0 + 15.0) / 4)


def test_return_over_drawdown_uses_a_drawdown_floor_of_one() -> None:
    never_underwater = [fold_row(1, 2.5, 0.0, "range"), fold_row(2, 1.5, 0.4, "trend_up")]
    evidence = payload(folds=never_underwater)
    assert evidence["max_drawdown"] == 0.4
    assert evidence["return_over_drawdown"] == pytest.approx(4.0)


def test_profitability_carries_calibration_hashes_and_caveats() -> None:
    evidence = payload(hashes=dict(reversed(list(HASHES.items()))))
    assert evidence["calibration_error"] == 0.012
    assert list(evidence["hashes"]) == sorted(REQUIRED_HASHES)
    assert evidence["caveats"] == list(CAVEATS)
    assert (evidence["candidate_id"], evidence["run_id"]) == (CANDIDATE, RUN_ID)


def test_no_folds_leaves_every_figure_none() -> None:
    evidence = payload(folds=[])
    for name in ("net_pnl", "market_net_pnl_delta", "regime_pass_ratio", "max_drawdown"):
        assert evidence[name] is None, name
    assert evidence["return_over_drawdown"] is None
    assert evidence["cost_bps"] is None


def test_a_non_finite_fold_net_pnl_leaves_net_and_delta_none() -> None:
    folds = [*FOLDS[:3], fold_row(4, math.nan, 2.5, "high_vol")]
    evidence = payload(folds=folds)
    assert evidence["net_pnl"] is None
    assert evidence["market_net_pnl_delta"] is None
    assert evidence["return_over_drawdown"] is None


# --- profitability validation -----------------------------------------------------------------------


def test_complete_profitability_evidence_validates() -> None:
    assert validate_profitability_evidence(payload()) == []


def test_validation_flags_a_wrong_schema() -> None:
    evidence = {**payload(), "schema_version": "profitability-evidence-v3"}
    assert validate_profitability_evidence(evidence) == ["schema_version_mismatch"]


@pytest.mark.parametrize(
    "name", ["net_pnl", "market_net_pnl_delta", "regime_pass_ratio", "return_over_drawdown", "cost_bps"]
)
@pytest.mark.parametrize("bad", [None, math.inf, "12.5x", True])
def test_validation_flags_missing_numbers(name: str, bad: Any) -> None:
    assert validate_profitability_evidence({**payload(), name: bad}) == [f"{name}_missing"]


@pytest.mark.parametrize("slices", [[], None, "range"])
def test_validation_flags_empty_regime_slices(slices: Any) -> None:
    assert validate_profitability_evidence({**payload(), "regime_slices": slices}) == [
        "regime_slices_missing"
    ]


def test_validation_flags_missing_and_short_hashes() -> None:
    hashes = {**HASHES, "candidate_report": HASHES["candidate_report"][:24]}
    del hashes["signals"]
    assert validate_profitability_evidence({**payload(), "hashes": hashes}) == [
        "hash_signals_missing",
        "hash_candidate_report_missing",
    ]
    upper = {**HASHES, "gate_policy": HASHES["gate_policy"].upper()}
    assert validate_profitability_evidence({**payload(), "hashes": upper}) == ["hash_gate_policy_missing"]
    assert validate_profitability_evidence({**payload(), "hashes": None}) == ["hashes_missing"]


def test_validation_lists_every_problem_of_an_empty_payload() -> None:
    assert validate_profitability_evidence({}) == [
        "schema_version_mismatch",
        "net_pnl_missing",
        "market_net_pnl_delta_missing",
        "regime_pass_ratio_missing",
        "return_over_drawdown_missing",
        "cost_bps_missing",
        "regime_slices_missing",
        "hashes_missing",
    ]


# --- fragility --------------------------------------------------------------------------------------


def test_a_latest_high_vol_fold_ranks_as_stress() -> None:
    score, rank = fragility(FOLDS)
    assert rank == 2
    assert score == pytest.approx(1 / 4)


def test_fragility_rank_follows_the_latest_fold_by_order_not_by_position() -> None:
    assert fragility([FOLDS[3], FOLDS[0], FOLDS[2], FOLDS[1]]) == fragility(FOLDS)
    stressed_then_calm = [fold_row(2, 1.0, 1.0, "range"), fold_row(1, 1.0, 1.0, "high_vol")]
    assert fragility(stressed_then_calm) == (0.5, 0)


def test_fragility_of_unknown_regimes_and_no_folds() -> None:
    assert fragility([fold_row(1, 1.0, 1.0, "sideways_chop")]) == (0.0, 1)
    assert fragility([]) == (None, None)


# --- assembly ---------------------------------------------------------------------------------------

SIGNAL_QUALITY = SignalQuality(
    rows=1_170,
    required_feature_null_rate=0.002 / 3,
    null_rate_macd=0.0,
    null_rate_rsi=0.002,
    null_rate_price=0.0,
    staleness_p95_ms=45_000.0,
)
TCA = TcaSummary(order_count=18, avg_slippage_bps=6.5, avg_shortfall_notional=4.2, avg_churn_ratio=0.1)
READY = Readiness(
    operational_ready=True,
    runbook_validated=True,
    kill_switch_dry_run_passed=True,
    rollback_dry_run_passed=True,
)


def assemble(**overrides: Any) -> GateEvidence:
    args: dict[str, Any] = {
        "run": {"run_id": RUN_ID, "feature_schema_version": "3.0.0"},
        "candidate": {
            "candidate_id": CANDIDATE,
            "symbols_covered": 3,
            "decision_count": 36,
            "trade_count": 18,
        },
        "folds": FOLDS,
        "stress_cases": ["spread_x2", "latency_x3", "gap_open", "liquidity_half", "spread_x2"],
        "dsr": 0.97,
        "signal_quality": SIGNAL_QUALITY,
        "tca": TCA,
        "llm": LlmSummary(enabled=True, reviews=40, errors=2),
        "route_parity_passed": True,
        "readiness": READY,
        "continuity_alert_active": False,
        "kill_switch_active": False,
        "approval_token_valid": None,
        "profitability": payload(),
        "uncertainty": UNCERTAINTY,
        **overrides,
    }
    return assemble_gate_evidence(**args)


def test_assembly_maps_every_available_input() -> None:
    evidence = assemble(folds=[FOLDS[2], FOLDS[0], FOLDS[3], FOLDS[1]])
    nets = (12.40, -3.15, 8.15, 1.00)
    assert evidence.feature_schema_version == "3.0.0"
    assert evidence.required_feature_null_rate == 0.002 / 3
    assert (evidence.null_rate_rsi, evidence.staleness_p95_ms) == (0.002, 45_000.0)
    assert (evidence.symbol_count, evidence.decision_count, evidence.trade_count) == (3, 36, 18)
    assert evidence.fold_net_pnls == nets
    assert evidence.net_pnl == pytest.approx(18.40)
    assert evidence.net_pnl_cv == net_pnl_cv(nets)
    assert evidence.dsr == 0.97
    assert evidence.max_drawdown == 9.80
    assert evidence.turnover == pytest.approx(3.5)
    assert evidence.cost_bps == pytest.approx(13.5)
    assert (evidence.fragility_score, evidence.fragility_rank) == (0.25, 2)
    assert evidence.fragility_stability_mode is False
    assert evidence.stress_case_count == 4
    assert (evidence.tca_order_count, evidence.tca_avg_churn_ratio) == (18, 0.1)
    assert evidence.llm_error_ratio == pytest.approx(0.05)
    assert evidence.route_parity_passed is True
    assert evidence.operational_ready is True
    assert evidence.profitability_schema == PROFITABILITY_SCHEMA
    assert evidence.profitability_validator_passed is True
    assert evidence.market_net_pnl_delta == pytest.approx(18.40)
    assert evidence.regime_pass_ratio == pytest.approx(2 / 3)
    assert evidence.calibration_error == 0.012
    assert evidence.hash_count == 5
    assert (evidence.coverage_error, evidence.shift_score, evidence.interval_width) == (0.012, 0.09, 1.01)
    assert evidence.target_coverage == 0.90


def test_assembly_leaves_what_it_cannot_establish_as_none() -> None:
    evidence = assemble()
    assert evidence.janus_complete is None
    assert evidence.forecast_fallback_ratio is None
    assert evidence.forecast_latency_p95_ms is None
    assert evidence.forecast_calibration is None
    assert evidence.recalibration_run_id is None
    assert evidence.recalibration_artifact is None


def test_a_window_with_no_rows_has_a_null_rate_of_one_and_no_other_signal_figures() -> None:
    evidence = assemble(signal_quality=signal_quality_of(empty_signal_frame()))
    assert evidence.required_feature_null_rate == 1.0
    assert evidence.null_rate_macd is None
    assert evidence.null_rate_rsi is None
    assert evidence.null_rate_price is None
    assert evidence.staleness_p95_ms is None
    result = gate0_data_integrity(evidence, GatePolicy(), "paper")
    assert "required_feature_null_rate_exceeds_threshold" in result.reasons


def test_signal_quality_not_gathered_is_missing() -> None:
    evidence = assemble(signal_quality=None)
    assert evidence.required_feature_null_rate is None
    assert evidence.null_rate_price is None
    assert (
        "required_feature_null_rate_missing" in gate0_data_integrity(evidence, GatePolicy(), "paper").reasons
    )


def test_absent_tca_llm_readiness_profitability_and_uncertainty_stay_none() -> None:
    evidence = assemble(
        tca=None,
        llm=None,
        readiness=Readiness(None, None, None, None),
        profitability=None,
        uncertainty=None,
        dsr=None,
        route_parity_passed=None,
        continuity_alert_active=None,
        kill_switch_active=None,
    )
    absent = [
        "tca_order_count",
        "tca_avg_slippage_bps",
        "tca_avg_shortfall_notional",
        "tca_avg_churn_ratio",
        "llm_error_ratio",
        "operational_ready",
        "runbook_validated",
        "kill_switch_dry_run_passed",
        "rollback_dry_run_passed",
        "profitability_schema",
        "profitability_validator_passed",
        "market_net_pnl_delta",
        "regime_pass_ratio",
        "return_over_drawdown",
        "calibration_error",
        "hash_count",
        "coverage_error",
        "shift_score",
        "interval_width",
        "target_coverage",
        "dsr",
        "route_parity_passed",
        "continuity_alert_active",
        "kill_switch_active",
    ]
    assert {name: getattr(evidence, name) for name in absent} == dict.fromkeys(absent)


def test_no_folds_leave_the_statistical_inputs_missing() -> None:
    evidence = assemble(folds=[])
    assert evidence.net_pnl is None
    assert evidence.fold_net_pnls is None
    assert evidence.net_pnl_cv is None
    assert evidence.max_drawdown is None
    assert (evidence.fragility_score, evidence.fragility_rank) == (None, None)


def test_unreadable_candidate_counts_are_missing() -> None:
    candidate = {"candidate_id": CANDIDATE, "symbols_covered": True, "decision_count": "n/a"}
    evidence = assemble(candidate=candidate)
    assert (evidence.symbol_count, evidence.decision_count, evidence.trade_count) == (None, None, None)


@pytest.mark.parametrize(
    ("llm", "ratio"),
    [
        (LlmSummary(enabled=False, reviews=0, errors=0), 0.0),
        (LlmSummary(enabled=True, reviews=0, errors=0), None),
        (LlmSummary(enabled=True, reviews=40, errors=6), 0.15),
    ],
)
def test_llm_error_ratio(llm: LlmSummary, ratio: float | None) -> None:
    assert llm.error_ratio() == ratio
    assert assemble(llm=llm).llm_error_ratio == ratio


def test_an_invalid_profitability_payload_fails_its_validator_and_counts_only_good_hashes() -> None:
    hashes = {**HASHES, "signals": "not-a-hash"}
    evidence = assemble(profitability=payload(hashes=hashes, folds=[]))
    assert evidence.profitability_validator_passed is False
    assert evidence.hash_count == 4
    assert evidence.market_net_pnl_delta is None


def test_an_incumbent_named_without_its_folds_is_missing_not_flat() -> None:
    evidence = payload(baseline_candidate_id=INCUMBENT, baseline_folds=None)
    assert evidence["market_net_pnl_delta"] is None
    assert "market_net_pnl_delta_missing" in validate_profitability_evidence(evidence)


# --- gate 0: the required-feature null rate pooled over the three features ----------------------------
# The reference (proompteng/lab 18622cbe3a, autonomy/lane.py `_required_feature_null_rate`) counts missing
# (row, feature) cells over rows x 3; gates.py `_gate0_data_integrity` fails the window on `>` 0.01.
# Window: five simulated symbols, 15:00-16:00 UTC on 2026-03-03, 300 rows, no gaps; so 9 missing cells
# are exactly the 1 % limit.


@pytest.fixture(scope="module")
def clean_window() -> pd.DataFrame:
    signals = simulate_session().signals
    in_window = (signals["event_ts"] >= utc("2026-03-03 15:00")) & (
        signals["event_ts"] < utc("2026-03-03 16:00")
    )
    frame = signals[in_window & signals["symbol"].isin(sorted(signals["symbol"].unique())[:5])]
    return frame.reset_index(drop=True)


def with_gaps(frame: pd.DataFrame, column: str, rows: list[int]) -> pd.DataFrame:
    out = frame.copy()
    out.loc[rows, column] = np.nan
    return out


def gate0_of(frame: pd.DataFrame) -> tuple[SignalQuality, bool, tuple[str, ...]]:
    quality = signal_quality_of(frame)
    result = gate0_data_integrity(assemble(signal_quality=quality), GatePolicy(), "paper")
    return quality, result.passed, result.reasons


def test_a_clean_window_has_no_missing_features(clean_window: pd.DataFrame) -> None:
    quality, passed, _ = gate0_of(clean_window)
    assert len(clean_window) == 300
    assert (quality.rows, quality.required_feature_null_rate) == (300, 0.0)
    assert (quality.null_rate_macd, quality.null_rate_rsi, quality.null_rate_price) == (0.0, 0.0, 0.0)
    assert passed


def test_one_sparse_field_over_the_limit_passes_when_the_pooled_rate_is_under_it(
    clean_window: pd.DataFrame,
) -> None:
    """rsi14 null in 6 of 300 rows is 2 % of that field, which the old per-field gate failed, but 6 of the
    900 required cells (0.67 %): the reference's pooled gate passes the window."""
    quality, passed, reasons = gate0_of(with_gaps(clean_window, "rsi14", list(range(0, 60, 10))))
    assert quality.null_rate_rsi == 0.02 > GatePolicy().max_null_rate
    assert quality.required_feature_null_rate == 6 / 900
    assert passed and reasons == ()


def test_gaps_spread_over_the_fields_add_up_in_the_pooled_rate(clean_window: pd.DataFrame) -> None:
    """4 null macd, 3 null rsi14, 3 rows without price or close: each field at most 1.33 %, the three
    together 10 of 900 cells (1.11 %) over the limit."""
    frame = with_gaps(clean_window, "macd", [0, 1, 2, 3])
    frame = with_gaps(frame, "rsi14", [100, 101, 102])
    frame = with_gaps(with_gaps(frame, "price", [200, 201, 202]), "close", [200, 201, 202])
    quality, passed, reasons = gate0_of(frame)
    assert quality.required_feature_null_rate == 10 / 900
    assert not passed and reasons == ("required_feature_null_rate_exceeds_threshold",)


@pytest.mark.parametrize(("gaps", "passed"), [(9, True), (10, False)])
def test_a_pooled_rate_equal_to_the_limit_passes(clean_window: pd.DataFrame, gaps: int, passed: bool) -> None:
    """A null macd_signal makes the row's macd missing (the reference needs `macd` and `signal`): 9 of 900
    cells are exactly 1 % and pass; 10 fail."""
    quality, ok, _ = gate0_of(with_gaps(clean_window, "macd_signal", list(range(gaps))))
    assert quality.required_feature_null_rate == gaps / 900
    assert quality.null_rate_macd == gaps / 300
    assert ok is passed


def test_a_row_missing_every_feature_counts_three_cells_and_price_falls_back_to_close(
    clean_window: pd.DataFrame,
) -> None:
    frame = with_gaps(clean_window, "macd", [5])
    frame = with_gaps(with_gaps(frame, "rsi14", [5]), "price", [5, 6])
    frame = with_gaps(frame, "close", [5])  # row 6 keeps its close, so its price is there
    quality = signal_quality_of(frame)
    assert quality.required_feature_null_rate == 3 / 900
    assert (quality.null_rate_macd, quality.null_rate_rsi, quality.null_rate_price) == (1 / 300,) * 3
    avg = (quality.null_rate_macd or 0) + (quality.null_rate_rsi or 0) + (quality.null_rate_price or 0)
    assert quality.required_feature_null_rate == pytest.approx(avg / 3)
