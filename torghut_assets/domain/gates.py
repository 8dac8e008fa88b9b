"""Promotion gates 0..7 and their aggregation (docs/promotion.md, "Gate inputs", "Gate aggregation").

Pure functions of a `GateEvidence` snapshot and a `GatePolicy`. Everything fails closed: a missing
(None) or non-finite required input fails its gate with `<field>_missing` / `<field>_invalid`, and
missing uncertainty inputs make the gate-7 ladder `abstain`.

Reason codes are stable snake_case strings; the report prefixes each with its gate id.
"""

from __future__ import annotations

import dataclasses
import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from torghut_assets.domain.evidence import sha256_hex


class TargetMode(StrEnum):
    """The mode a gate report judges a candidate for (a stage's mode: `lane_rollout.stage_mode`)."""

    SHADOW = "shadow"
    PAPER = "paper"
    LIVE = "live"


class GateStatus(StrEnum):
    PASS = "pass"
    FAIL = "fail"


class UncertaintyAction(StrEnum):
    """The gate-7 ladder's rungs, mildest first."""

    PASS = "pass"
    DEGRADE = "degrade"
    ABSTAIN = "abstain"
    FAIL = "fail"


TARGET_MODES: tuple[TargetMode, ...] = tuple(TargetMode)
GATE_IDS = (
    "gate0_data_integrity",
    "gate1_statistical_robustness",
    "gate2_risk_capacity",
    "gate3_shadow_paper_quality",
    "gate4_operational_readiness",
    "gate5_live_ramp_readiness",
    "gate6_profitability_evidence",
    "gate7_uncertainty_calibration",
)
REQUIRED_GATE_IDS = tuple(g for g in GATE_IDS if g != "gate5_live_ramp_readiness")
UNCERTAINTY_ACTIONS: tuple[UncertaintyAction, ...] = tuple(UncertaintyAction)
# Fragility state → rank (docs/promotion.md, "Gate aggregation": normal 0 … crisis 3, unknown 1).
FRAGILITY_RANKS = {"normal": 0, "elevated": 1, "stress": 2, "crisis": 3}
FRAGILITY_STRESS_RANK = 2
REQUIRED_FEATURE_NULL_RATE_EXCEEDED = "required_feature_null_rate_exceeds_threshold"
"""Gate 0's null-rate reason, the reference's code (proompteng/lab 18622cbe3a,
services/torghut/app/trading/autonomy/gates.py `_gate0_data_integrity`)."""


def fragility_rank(state: str | None) -> int:
    """Rank of a fragility state; anything unrecognised (or missing) counts as `unknown` = 1."""
    return FRAGILITY_RANKS.get((state or "").strip().lower(), 1)


@dataclass(frozen=True)
class GatePolicy:
    policy_version: str = "v3-gates-1"
    required_feature_schema_version: str = "3.0.0"
    # gate 0
    max_null_rate: float = 0.01  # the reference's gate0_max_null_rate, on required_feature_null_rate
    max_staleness_p95_ms: float = 120000.0
    min_symbols: int = 1
    # gate 1
    min_decisions: int = 1
    min_trades: int = 1
    min_net_pnl: float = 0.0
    min_folds: int = 3
    max_negative_fold_ratio: float = 0.50
    max_net_pnl_cv: float = 2.0
    min_dsr: float = 0.95
    # gate 2
    max_drawdown: float = 250.0
    max_turnover: float = 8.0
    max_cost_bps: float = 35.0
    max_fragility_score: float = 0.85
    max_fragility_rank: int = 2
    min_stress_cases: int = 4
    max_tca_avg_slippage_bps: float = 25.0
    max_tca_avg_shortfall_notional: float = 25.0
    max_tca_avg_churn_ratio: float = 0.75
    # gate 3
    max_llm_error_ratio: float = 0.10
    max_forecast_fallback_ratio: float = 0.05
    max_forecast_latency_p95_ms: float = 200.0
    min_forecast_calibration: float = 0.85
    require_forecast_evidence: bool = True
    # gate 4
    max_rehearsal_age_hours: float = 72.0
    # gate 5
    live_rollout_enabled: bool = False
    # gate 6
    allowed_profitability_schemas: tuple[str, ...] = (
        "profitability-evidence-v4",
        "profitability-benchmark-v4",
    )
    min_market_net_pnl_delta: float = 0.0
    min_regime_pass_ratio: float = 0.50
    min_return_over_drawdown: float = 0.0
    max_calibration_error: float = 0.45
    min_hash_count: int = 5
    require_janus_evidence: bool = True
    # gate 7 ladder
    uncertainty_target_coverage: float = 0.90
    uncertainty_fail_shift: float = 0.95
    uncertainty_abstain_coverage_error: float = 0.08
    uncertainty_abstain_shift: float = 0.80
    uncertainty_abstain_width: float = 1.75
    uncertainty_degrade_coverage_error: float = 0.05
    uncertainty_degrade_shift: float = 0.60
    uncertainty_degrade_width: float = 1.25
    uncertainty_soft_degrade_coverage_error: float = 0.03

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> GatePolicy:
        """Missing keys take defaults, explicit zeros are kept; unknown keys or wrong types raise."""
        defaults = cls()
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(str(k) for k in data if k not in known)
        if unknown:
            raise ValueError(f"unknown gate policy keys: {', '.join(unknown)}")
        values: dict[str, Any] = {}
        for name, raw in data.items():
            values[name] = _coerce(name, raw, getattr(defaults, name))
        return dataclasses.replace(defaults, **values)

    @classmethod
    def from_toml(cls, text: str) -> GatePolicy:
        """The policy file: top-level keys of the TOML document, validated like `from_mapping`."""
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ValueError(f"gate policy is not valid TOML: {exc}") from exc
        return cls.from_mapping(data)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            out[f.name] = list(value) if isinstance(value, tuple) else value
        return out

    def checksum(self) -> str:
        return sha256_hex(self.as_dict())


def _coerce(name: str, raw: Any, default: Any) -> Any:
    if isinstance(default, bool):
        if not isinstance(raw, bool):
            raise ValueError(f"gate policy {name!r} must be a bool, got {type(raw).__name__}")
        return raw
    if isinstance(default, int):
        if isinstance(raw, bool) or not isinstance(raw, int):
            raise ValueError(f"gate policy {name!r} must be an int, got {type(raw).__name__}")
        return raw
    if isinstance(default, float):
        if isinstance(raw, bool) or not isinstance(raw, int | float) or not math.isfinite(raw):
            raise ValueError(f"gate policy {name!r} must be a finite number, got {raw!r}")
        return float(raw)
    if isinstance(default, str):
        if not isinstance(raw, str):
            raise ValueError(f"gate policy {name!r} must be a string, got {type(raw).__name__}")
        return raw
    if isinstance(default, tuple):
        if not isinstance(raw, list | tuple) or not all(isinstance(v, str) for v in raw):
            raise ValueError(f"gate policy {name!r} must be a list of strings")
        return tuple(raw)
    raise ValueError(f"gate policy {name!r} has an unsupported type")  # pragma: no cover


@dataclass(frozen=True)
class GateEvidence:
    """Inputs to the gates. None always means the evidence is missing."""

    # gate 0
    feature_schema_version: str | None = None
    # The gated figure: missing (row, feature) cells over rows x 3 for macd, rsi, price (lane.py
    # `_required_feature_null_rate`); an empty window is 1.0. The per-field rates below are its three
    # parts, reported only.
    required_feature_null_rate: float | None = None
    null_rate_macd: float | None = None
    null_rate_rsi: float | None = None
    null_rate_price: float | None = None
    staleness_p95_ms: float | None = None
    symbol_count: int | None = None
    # gate 1
    decision_count: int | None = None
    trade_count: int | None = None
    net_pnl: float | None = None
    fold_net_pnls: tuple[float, ...] | None = None
    net_pnl_cv: float | None = None
    dsr: float | None = None
    # gate 2
    max_drawdown: float | None = None
    turnover: float | None = None
    cost_bps: float | None = None
    fragility_score: float | None = None
    fragility_rank: int | None = None
    fragility_stability_mode: bool | None = None
    stress_case_count: int | None = None
    tca_order_count: int | None = None
    tca_avg_slippage_bps: float | None = None
    tca_avg_shortfall_notional: float | None = None
    tca_avg_churn_ratio: float | None = None
    # gate 3
    llm_error_ratio: float | None = None
    forecast_fallback_ratio: float | None = None
    forecast_latency_p95_ms: float | None = None
    forecast_calibration: float | None = None
    route_parity_passed: bool | None = None
    # gate 4
    operational_ready: bool | None = None
    runbook_validated: bool | None = None
    kill_switch_dry_run_passed: bool | None = None
    rollback_dry_run_passed: bool | None = None
    continuity_alert_active: bool | None = None
    kill_switch_active: bool | None = None
    # gate 5
    approval_token_valid: bool | None = None
    # gate 6
    profitability_schema: str | None = None
    profitability_validator_passed: bool | None = None
    market_net_pnl_delta: float | None = None
    regime_pass_ratio: float | None = None
    return_over_drawdown: float | None = None
    calibration_error: float | None = None
    hash_count: int | None = None
    janus_complete: bool | None = None
    # gate 7
    coverage_error: float | None = None
    shift_score: float | None = None
    interval_width: float | None = None
    target_coverage: float | None = None
    recalibration_run_id: str | None = None
    recalibration_artifact: str | None = None


@dataclass(frozen=True)
class GateResult:
    gate_id: str
    status: GateStatus
    reasons: tuple[str, ...]

    @property
    def passed(self) -> bool:
        return self.status == GateStatus.PASS

    def as_dict(self) -> dict[str, Any]:
        return {
            "gate_id": self.gate_id,
            "status": self.status,
            "reasons": list(self.reasons),
            "artifact_refs": [],
        }


class _Checks:
    """Collects reason codes while reading evidence fields fail-closed."""

    def __init__(self, evidence: GateEvidence) -> None:
        self.evidence = evidence
        self.reasons: list[str] = []

    def add(self, code: str) -> None:
        if code not in self.reasons:
            self.reasons.append(code)

    def num(self, name: str) -> float | None:
        value = getattr(self.evidence, name)
        if value is None:
            self.add(f"{name}_missing")
            return None
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            self.add(f"{name}_invalid")
            return None
        return float(value)

    def flag(self, name: str) -> bool | None:
        value = getattr(self.evidence, name)
        if value is None:
            self.add(f"{name}_missing")
            return None
        if not isinstance(value, bool):
            self.add(f"{name}_invalid")
            return None
        return value

    def text(self, name: str) -> str | None:
        value = getattr(self.evidence, name)
        if value is None or (isinstance(value, str) and not value.strip()):
            self.add(f"{name}_missing")
            return None
        if not isinstance(value, str):
            self.add(f"{name}_invalid")
            return None
        return value

    def result(self, gate_id: str) -> GateResult:
        return GateResult(gate_id, GateStatus.FAIL if self.reasons else GateStatus.PASS, tuple(self.reasons))


def _check_target(target: str) -> TargetMode:
    if target not in TARGET_MODES:
        raise ValueError(f"unknown promotion target {target!r}; expected one of {', '.join(TARGET_MODES)}")
    return TargetMode(target)


def gate0_data_integrity(e: GateEvidence, p: GatePolicy, target: TargetMode) -> GateResult:
    _check_target(target)
    c = _Checks(e)
    schema = c.text("feature_schema_version")
    if schema is not None and schema != p.required_feature_schema_version:
        c.add("feature_schema_version_mismatch")
    # Pooled over the three required features, strict `>` (gates.py `_gate0_data_integrity`); the
    # per-field rates are reported, not gated.
    null_rate = c.num("required_feature_null_rate")
    if null_rate is not None and null_rate > p.max_null_rate:
        c.add(REQUIRED_FEATURE_NULL_RATE_EXCEEDED)
    staleness = c.num("staleness_p95_ms")
    if staleness is not None and staleness > p.max_staleness_p95_ms:
        c.add("staleness_p95_ms_exceeds_max")
    symbols = c.num("symbol_count")
    if symbols is not None and symbols < p.min_symbols:
        c.add("symbol_count_below_min")
    return c.result("gate0_data_integrity")


def gate1_statistical_robustness(e: GateEvidence, p: GatePolicy, target: TargetMode) -> GateResult:
    _check_target(target)
    c = _Checks(e)
    decisions = c.num("decision_count")
    if decisions is not None and decisions < p.min_decisions:
        c.add("decision_count_below_min")
    trades = c.num("trade_count")
    if trades is not None and trades < p.min_trades:
        c.add("trade_count_below_min")
    net = c.num("net_pnl")
    if net is not None and net < p.min_net_pnl:
        c.add("net_pnl_negative")
    folds = e.fold_net_pnls
    if folds is None:
        c.add("fold_net_pnls_missing")
    elif not all(isinstance(v, int | float) and math.isfinite(v) for v in folds):
        c.add("fold_net_pnls_invalid")
    else:
        min_folds = 1 if target == TargetMode.SHADOW else max(p.min_folds, 1)
        if len(folds) < min_folds:
            c.add("fold_count_below_min")
        if folds and sum(1 for v in folds if v < 0) / len(folds) > p.max_negative_fold_ratio:
            c.add("negative_fold_ratio_exceeds_max")
    cv = c.num("net_pnl_cv")
    if cv is not None and cv > p.max_net_pnl_cv:
        c.add("net_pnl_cv_exceeds_max")
    dsr = c.num("dsr")
    if dsr is not None and dsr < p.min_dsr:
        c.add("dsr_below_min")
    return c.result("gate1_statistical_robustness")


def gate2_risk_capacity(e: GateEvidence, p: GatePolicy, target: TargetMode) -> GateResult:
    _check_target(target)
    c = _Checks(e)
    for name, limit in (
        ("max_drawdown", p.max_drawdown),
        ("turnover", p.max_turnover),
        ("cost_bps", p.max_cost_bps),
        ("fragility_score", p.max_fragility_score),
    ):
        value = c.num(name)
        if value is not None and value > limit:
            c.add(f"{name}_exceeds_max")
    rank = c.num("fragility_rank")
    if rank is not None:
        if rank > p.max_fragility_rank:
            c.add("fragility_rank_exceeds_max")
        if rank >= FRAGILITY_STRESS_RANK and c.flag("fragility_stability_mode") is False:
            c.add("fragility_stress_without_stability_mode")
    stress = c.num("stress_case_count")
    if stress is not None and stress < p.min_stress_cases:
        c.add("stress_case_count_below_min")
    orders = c.num("tca_order_count")
    if orders is not None and orders > 0:
        for name, limit in (
            ("tca_avg_slippage_bps", p.max_tca_avg_slippage_bps),
            ("tca_avg_shortfall_notional", p.max_tca_avg_shortfall_notional),
            ("tca_avg_churn_ratio", p.max_tca_avg_churn_ratio),
        ):
            value = c.num(name)
            if value is not None and value > limit:
                c.add(f"{name}_exceeds_max")
    return c.result("gate2_risk_capacity")


def gate3_shadow_paper_quality(e: GateEvidence, p: GatePolicy, target: TargetMode) -> GateResult:
    _check_target(target)
    c = _Checks(e)
    llm = c.num("llm_error_ratio")
    if llm is not None and llm > p.max_llm_error_ratio:
        c.add("llm_error_ratio_exceeds_max")
    if p.require_forecast_evidence:
        for name, limit in (
            ("forecast_fallback_ratio", p.max_forecast_fallback_ratio),
            ("forecast_latency_p95_ms", p.max_forecast_latency_p95_ms),
        ):
            value = c.num(name)
            if value is not None and value > limit:
                c.add(f"{name}_exceeds_max")
        calibration = c.num("forecast_calibration")
        if calibration is not None and calibration < p.min_forecast_calibration:
            c.add("forecast_calibration_below_min")
    if target != TargetMode.SHADOW and c.flag("route_parity_passed") is False:
        c.add("route_parity_failed")
    return c.result("gate3_shadow_paper_quality")


def gate4_operational_readiness(e: GateEvidence, p: GatePolicy, target: TargetMode) -> GateResult:
    _check_target(target)
    c = _Checks(e)
    for name, code in (
        ("operational_ready", "operational_not_ready"),
        ("runbook_validated", "runbook_not_validated"),
        ("kill_switch_dry_run_passed", "kill_switch_dry_run_failed"),
        ("rollback_dry_run_passed", "rollback_dry_run_failed"),
    ):
        if c.flag(name) is False:
            c.add(code)
    if c.flag("continuity_alert_active") is True:
        c.add("continuity_alert_active")
    if c.flag("kill_switch_active") is True:
        c.add("kill_switch_active")
    return c.result("gate4_operational_readiness")


def gate5_live_ramp_readiness(e: GateEvidence, p: GatePolicy, target: TargetMode) -> GateResult:
    _check_target(target)
    c = _Checks(e)
    if target == TargetMode.LIVE:
        if not p.live_rollout_enabled:
            c.add("live_rollout_disabled_by_policy")
        token = e.approval_token_valid
        if token is None:
            c.add("approval_token_missing")
        elif token is not True:
            c.add("approval_token_invalid")
    return c.result("gate5_live_ramp_readiness")


def gate6_profitability_evidence(e: GateEvidence, p: GatePolicy, target: TargetMode) -> GateResult:
    _check_target(target)
    c = _Checks(e)
    if target == TargetMode.SHADOW:
        return c.result("gate6_profitability_evidence")
    schema = c.text("profitability_schema")
    if schema is not None and schema not in p.allowed_profitability_schemas:
        c.add("profitability_schema_mismatch")
    if c.flag("profitability_validator_passed") is False:
        c.add("profitability_validator_failed")
    for name, floor, code in (
        ("market_net_pnl_delta", p.min_market_net_pnl_delta, "market_net_pnl_delta_negative"),
        ("regime_pass_ratio", p.min_regime_pass_ratio, "regime_pass_ratio_below_min"),
        ("return_over_drawdown", p.min_return_over_drawdown, "return_over_drawdown_negative"),
    ):
        value = c.num(name)
        if value is not None and value < floor:
            c.add(code)
    cost = c.num("cost_bps")
    if cost is not None and cost > p.max_cost_bps:
        c.add("cost_bps_exceeds_max")
    # The reference treats a missing calibration error as 1.0, which always exceeds the limit.
    calibration_error = c.num("calibration_error")
    if calibration_error is not None and calibration_error > p.max_calibration_error:
        c.add("calibration_error_exceeds_max")
    hashes = c.num("hash_count")
    if hashes is not None and hashes < p.min_hash_count:
        c.add("hash_count_below_min")
    if p.require_janus_evidence and c.flag("janus_complete") is False:
        c.add("janus_incomplete")
    return c.result("gate6_profitability_evidence")


def _rung(
    level: UncertaintyAction, figures: tuple[float, float, float], limits: tuple[float, float, float]
) -> list[str]:
    """The codes of one ladder rung: coverage error above, shift at or above, width above its limit."""
    (error, shift, width), (max_error, min_shift, max_width) = figures, limits
    codes = []
    if error > max_error:
        codes.append(f"coverage_error_exceeds_{level}")
    if shift >= min_shift:
        codes.append(f"shift_score_at_or_above_{level}")
    if width > max_width:
        codes.append(f"interval_width_exceeds_{level}")
    return codes


def uncertainty_gate_action(e: GateEvidence, p: GatePolicy) -> tuple[UncertaintyAction, tuple[str, ...]]:
    """The gate-7 ladder: (action, reasons) with action one of pass/degrade/abstain/fail."""
    c = _Checks(e)
    error = c.num("coverage_error")
    shift = c.num("shift_score")
    width = c.num("interval_width")
    target_coverage = c.num("target_coverage")
    if error is not None and not 0.0 <= error <= 1.0:
        c.add("coverage_error_out_of_range")
    if shift is not None and not 0.0 <= shift <= 1.0:
        c.add("shift_score_out_of_range")
    if width is not None and width < 0.0:
        c.add("interval_width_out_of_range")
    if target_coverage is not None and not math.isclose(
        target_coverage, p.uncertainty_target_coverage, rel_tol=0.0, abs_tol=1e-9
    ):
        c.add("target_coverage_mismatch")
    action: UncertaintyAction
    if c.reasons or error is None or shift is None or width is None:
        action = UncertaintyAction.ABSTAIN
    elif shift >= p.uncertainty_fail_shift:
        action = UncertaintyAction.FAIL
        c.add("shift_score_at_or_above_fail")
    elif abstain := _rung(
        UncertaintyAction.ABSTAIN,
        (error, shift, width),
        (p.uncertainty_abstain_coverage_error, p.uncertainty_abstain_shift, p.uncertainty_abstain_width),
    ):
        action = UncertaintyAction.ABSTAIN
        for code in abstain:
            c.add(code)
    elif degrade := _rung(
        UncertaintyAction.DEGRADE,
        (error, shift, width),
        (p.uncertainty_degrade_coverage_error, p.uncertainty_degrade_shift, p.uncertainty_degrade_width),
    ):
        action = UncertaintyAction.DEGRADE
        for code in degrade:
            c.add(code)
    elif error > p.uncertainty_soft_degrade_coverage_error:
        action = UncertaintyAction.DEGRADE
        c.add("coverage_error_exceeds_soft_degrade")
    else:
        action = UncertaintyAction.PASS
    if action != UncertaintyAction.PASS:
        c.add(f"uncertainty_action_{action}")
        if not (e.recalibration_run_id or "").strip():
            c.add("recalibration_run_id_missing")
        if not (e.recalibration_artifact or "").strip():
            c.add("recalibration_artifact_missing")
    return action, tuple(c.reasons)


def gate7_uncertainty_calibration(e: GateEvidence, p: GatePolicy, target: TargetMode) -> GateResult:
    _check_target(target)
    if target == TargetMode.SHADOW:
        return GateResult("gate7_uncertainty_calibration", GateStatus.PASS, ())
    action, reasons = uncertainty_gate_action(e, p)
    status = GateStatus.PASS if action == UncertaintyAction.PASS else GateStatus.FAIL
    return GateResult("gate7_uncertainty_calibration", status, reasons)


EVALUATORS = (
    gate0_data_integrity,
    gate1_statistical_robustness,
    gate2_risk_capacity,
    gate3_shadow_paper_quality,
    gate4_operational_readiness,
    gate5_live_ramp_readiness,
    gate6_profitability_evidence,
    gate7_uncertainty_calibration,
)


@dataclass(frozen=True)
class GateReport:
    policy_version: str
    policy_checksum: str
    promotion_target: TargetMode
    promotion_allowed: bool
    recommended_mode: TargetMode
    gates: tuple[GateResult, ...]
    reasons: tuple[str, ...]
    uncertainty_gate_action: UncertaintyAction
    coverage_error: float | None = None
    conformal_interval_width: float | None = None
    shift_score: float | None = None
    recalibration_run_id: str | None = None

    def gate(self, gate_id: str) -> GateResult:
        for result in self.gates:
            if result.gate_id == gate_id:
                return result
        raise KeyError(gate_id)

    def as_dict(self) -> dict[str, Any]:
        return {
            "policy_version": self.policy_version,
            "policy_checksum": self.policy_checksum,
            "promotion_target": self.promotion_target,
            "promotion_allowed": self.promotion_allowed,
            "recommended_mode": self.recommended_mode,
            "gates": [g.as_dict() for g in self.gates],
            "reasons": list(self.reasons),
            "uncertainty_gate_action": self.uncertainty_gate_action,
            "coverage_error": self.coverage_error,
            "conformal_interval_width": self.conformal_interval_width,
            "shift_score": self.shift_score,
            "recalibration_run_id": self.recalibration_run_id,
        }


def _finite_or_none(value: float | None) -> float | None:
    if value is None or isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def evaluate_gates(evidence: GateEvidence, policy: GatePolicy, target_mode: TargetMode) -> GateReport:
    """Run every gate and aggregate: required gates 0,1,2,3,4,6,7; live also needs gate 5.

    The rules, and where they come from: docs/promotion.md, "Gate aggregation".
    """
    target = _check_target(target_mode)
    results = tuple(evaluate(evidence, policy, target) for evaluate in EVALUATORS)
    by_id = {r.gate_id: r for r in results}
    required_pass = all(by_id[g].passed for g in REQUIRED_GATE_IDS)
    gate5_pass = by_id["gate5_live_ramp_readiness"].passed
    action, _ = uncertainty_gate_action(evidence, policy)
    if target == TargetMode.LIVE:
        allowed = required_pass and gate5_pass
        recommended = (
            TargetMode.LIVE if allowed else (TargetMode.PAPER if required_pass else TargetMode.SHADOW)
        )
    else:
        allowed = required_pass
        recommended = target if allowed else TargetMode.SHADOW
    if target != TargetMode.SHADOW and action in (UncertaintyAction.ABSTAIN, UncertaintyAction.FAIL):
        allowed, recommended = False, TargetMode.SHADOW
    reasons = tuple(f"{r.gate_id}:{reason}" for r in results for reason in r.reasons)
    return GateReport(
        policy_version=policy.policy_version,
        policy_checksum=policy.checksum(),
        promotion_target=target,
        promotion_allowed=allowed,
        recommended_mode=recommended,
        gates=results,
        reasons=reasons,
        uncertainty_gate_action=action,
        coverage_error=_finite_or_none(evidence.coverage_error),
        conformal_interval_width=_finite_or_none(evidence.interval_width),
        shift_score=_finite_or_none(evidence.shift_score),
        recalibration_run_id=evidence.recalibration_run_id,
    )
