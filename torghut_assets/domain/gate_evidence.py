"""From stored research and operations evidence to `GateEvidence` (docs/promotion.md, "Gate inputs").

Only what the ledger actually shows goes in; anything this layer cannot establish stays None, which the
gates read as missing (fail closed). The profitability evidence (`profitability-evidence-v4`) is the
candidate's out-of-sample fold record against a baseline on the same data: the lane's incumbent
champion when it was evaluated in the same run, else a flat (no-trade) book. It is backtest evidence,
and says so in its caveats.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from torghut_assets.domain.backtest import net_pnl_cv
from torghut_assets.domain.gates import GateEvidence, fragility_rank
from torghut_assets.domain.uncertainty import UncertaintyEvidence

PROFITABILITY_SCHEMA = "profitability-evidence-v4"
REQUIRED_HASHES = ("signals", "strategy_config", "gate_policy", "candidate_report", "baseline_report")
# Regime label of a fold's test span → fragility state (ranks: docs/promotion.md, "Gate aggregation").
REGIME_FRAGILITY = {"range": "normal", "trend_up": "normal", "trend_down": "elevated", "high_vol": "stress"}
_HEX64 = re.compile(r"[0-9a-f]{64}")
CAVEATS = (
    "Out-of-sample walk-forward backtest on simulated or recorded bars, after modelled costs.",
    "Not realized PnL; says nothing about future profitability.",
)


@dataclass(frozen=True)
class SignalQuality:
    """Gate-0 figures of a window's stored signals. `required_feature_null_rate` is the gated one; the
    per-field rates (its three parts) and the staleness are None for an empty window."""

    rows: int
    required_feature_null_rate: float
    null_rate_macd: float | None
    null_rate_rsi: float | None
    null_rate_price: float | None
    staleness_p95_ms: float | None


REQUIRED_FEATURES = 3  # macd (with its signal line), rsi, price: lane.py `_required_feature_null_rate`


def signal_quality_of(frame: pd.DataFrame) -> SignalQuality:
    """Gate-0 figures of a window's stored signals (the ledger's `signals` columns).

    The gated rate pools the three required features the way the reference does (proompteng/lab
    18622cbe3a, services/torghut/app/trading/autonomy/lane.py `_required_feature_null_rate`): missing
    (row, feature) cells over rows x 3, where macd is missing when `macd` or `macd_signal` is null, rsi
    when `rsi14` is, and price when both `price` and `close` are. An empty window is 1.0 (nothing shows
    the features are there). Each per-field rate is that feature's missing cells over the rows, so the
    three average to the gated rate. Staleness is the p95 of each row's `ingest_ts - event_ts` in ms,
    floored at 0.
    """
    rows = len(frame)
    if rows == 0:
        return SignalQuality(0, 1.0, None, None, None, None)
    macd_missing = (frame["macd"].isna() | frame["macd_signal"].isna()).to_numpy()
    rsi_missing = frame["rsi14"].isna().to_numpy()
    price_missing = (frame["price"].isna() & frame["close"].isna()).to_numpy()
    missing = int(macd_missing.sum()) + int(rsi_missing.sum()) + int(price_missing.sum())
    lag_ms = (frame["ingest_ts"] - frame["event_ts"]).dt.total_seconds() * 1000.0
    return SignalQuality(
        rows=rows,
        required_feature_null_rate=missing / (rows * REQUIRED_FEATURES),
        null_rate_macd=float(macd_missing.mean()),
        null_rate_rsi=float(rsi_missing.mean()),
        null_rate_price=float(price_missing.mean()),
        staleness_p95_ms=float(np.percentile(lag_ms.clip(lower=0).to_numpy(), 95)),
    )


@dataclass(frozen=True)
class TcaSummary:
    order_count: int
    avg_slippage_bps: float | None
    avg_shortfall_notional: float | None
    avg_churn_ratio: float | None


@dataclass(frozen=True)
class LlmSummary:
    enabled: bool
    reviews: int
    errors: int

    def error_ratio(self) -> float | None:
        if self.reviews:
            return self.errors / self.reviews
        return None if self.enabled else 0.0


@dataclass(frozen=True)
class Readiness:
    """Gate-4 inputs from the latest rehearsals (None when absent or older than the policy allows)."""

    operational_ready: bool | None
    runbook_validated: bool | None
    kill_switch_dry_run_passed: bool | None
    rollback_dry_run_passed: bool | None


def _f(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _fold_values(folds: Sequence[Mapping[str, Any]], name: str) -> list[float] | None:
    values = [_f(f.get(name)) for f in folds]
    if not values or any(v is None for v in values):
        return None
    return [v for v in values if v is not None]


def _regime_slices(folds: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    by_regime: dict[str, list[float]] = {}
    for fold in folds:
        net = _f(fold.get("net_pnl"))
        if net is not None:
            by_regime.setdefault(str(fold.get("regime_label") or "unknown"), []).append(net)
    return [
        {"regime": regime, "folds": len(nets), "net_pnl": math.fsum(nets), "passed": math.fsum(nets) >= 0}
        for regime, nets in sorted(by_regime.items())
    ]


def profitability_evidence(
    *,
    candidate_id: str,
    run_id: str,
    folds: Sequence[Mapping[str, Any]],
    baseline_candidate_id: str | None,
    baseline_folds: Sequence[Mapping[str, Any]] | None,
    hashes: Mapping[str, str],
    uncertainty: UncertaintyEvidence,
) -> dict[str, Any]:
    """The gate-6 payload; numbers are None where the folds cannot support them."""
    nets = _fold_values(folds, "net_pnl")
    drawdowns = _fold_values(folds, "max_drawdown")
    costs = _fold_values(folds, "cost_bps")
    net = math.fsum(nets) if nets is not None else None
    baseline_net = 0.0
    if baseline_candidate_id is not None and baseline_folds is None:
        baseline_net = math.nan  # an incumbent without its folds is missing evidence, not a flat book
    if baseline_folds is not None:
        base = _fold_values(baseline_folds, "net_pnl")
        baseline_net = math.fsum(base) if base is not None else math.nan
    slices = _regime_slices(folds)
    worst_drawdown = max(drawdowns) if drawdowns else None
    return {
        "schema_version": PROFITABILITY_SCHEMA,
        "candidate_id": candidate_id,
        "run_id": run_id,
        "baseline": {
            "kind": "incumbent" if baseline_candidate_id else "flat",
            "candidate_id": baseline_candidate_id,
            "net_pnl": baseline_net if math.isfinite(baseline_net) else None,
        },
        "net_pnl": net,
        "market_net_pnl_delta": (net - baseline_net)
        if net is not None and math.isfinite(baseline_net)
        else None,
        "regime_slices": slices,
        "regime_pass_ratio": (sum(1 for s in slices if s["passed"]) / len(slices)) if slices else None,
        "max_drawdown": worst_drawdown,
        # Drawdown floor of one currency unit keeps the ratio finite for a never-underwater record.
        "return_over_drawdown": (net / max(worst_drawdown, 1.0))
        if net is not None and worst_drawdown is not None
        else None,
        "cost_bps": (math.fsum(costs) / len(costs)) if costs else None,
        "calibration_error": uncertainty.coverage_error,
        "hashes": dict(sorted(hashes.items())),
        "caveats": list(CAVEATS),
    }


def validate_profitability_evidence(payload: Mapping[str, Any]) -> list[str]:
    """Schema problems of a profitability payload; empty means valid."""
    problems = []
    if payload.get("schema_version") != PROFITABILITY_SCHEMA:
        problems.append("schema_version_mismatch")
    for name in ("net_pnl", "market_net_pnl_delta", "regime_pass_ratio", "return_over_drawdown", "cost_bps"):
        if _f(payload.get(name)) is None:
            problems.append(f"{name}_missing")
    slices = payload.get("regime_slices")
    if not isinstance(slices, list) or not slices:
        problems.append("regime_slices_missing")
    hashes = payload.get("hashes")
    if not isinstance(hashes, Mapping):
        problems.append("hashes_missing")
    else:
        for name in REQUIRED_HASHES:
            if not isinstance(hashes.get(name), str) or not _HEX64.fullmatch(hashes[name]):
                problems.append(f"hash_{name}_missing")
    return problems


def fragility(folds: Sequence[Mapping[str, Any]]) -> tuple[float | None, int | None]:
    """(score, rank): share of stressed test spans, and the rank of the latest span's state."""
    if not folds:
        return None, None
    ordered = sorted(folds, key=lambda f: int(f["fold_order"]))
    states = [REGIME_FRAGILITY.get(str(f.get("regime_label")), "unknown") for f in ordered]
    score = sum(1 for s in states if fragility_rank(s) >= 2) / len(states)
    return score, fragility_rank(states[-1])


def assemble_gate_evidence(
    *,
    run: Mapping[str, Any],
    candidate: Mapping[str, Any],
    folds: Sequence[Mapping[str, Any]],
    stress_cases: Sequence[str],
    dsr: float | None,
    signal_quality: SignalQuality | None,
    tca: TcaSummary | None,
    llm: LlmSummary | None,
    route_parity_passed: bool | None,
    readiness: Readiness,
    continuity_alert_active: bool | None,
    kill_switch_active: bool | None,
    approval_token_valid: bool | None,
    profitability: Mapping[str, Any] | None,
    uncertainty: UncertaintyEvidence | None,
) -> GateEvidence:
    ordered = sorted(folds, key=lambda f: int(f["fold_order"]))
    nets = _fold_values(ordered, "net_pnl")
    drawdowns = _fold_values(ordered, "max_drawdown")
    turnovers = _fold_values(ordered, "turnover_ratio")
    costs = _fold_values(ordered, "cost_bps")
    score, rank = fragility(ordered)
    # An empty window still has a gated null rate (1.0); its other signal figures are missing.
    null_rate = signal_quality.required_feature_null_rate if signal_quality is not None else None
    sq = signal_quality if signal_quality is not None and signal_quality.rows > 0 else None
    prof = profitability or {}
    return GateEvidence(
        feature_schema_version=run.get("feature_schema_version"),
        required_feature_null_rate=null_rate,
        null_rate_macd=sq.null_rate_macd if sq else None,
        null_rate_rsi=sq.null_rate_rsi if sq else None,
        null_rate_price=sq.null_rate_price if sq else None,
        staleness_p95_ms=sq.staleness_p95_ms if sq else None,
        symbol_count=_int(candidate.get("symbols_covered")),
        decision_count=_int(candidate.get("decision_count")),
        trade_count=_int(candidate.get("trade_count")),
        net_pnl=math.fsum(nets) if nets is not None else None,
        fold_net_pnls=tuple(nets) if nets is not None else None,
        net_pnl_cv=net_pnl_cv(nets) if nets is not None else None,
        dsr=dsr,
        max_drawdown=max(drawdowns) if drawdowns else None,
        turnover=(math.fsum(turnovers) / len(turnovers)) if turnovers else None,
        cost_bps=(math.fsum(costs) / len(costs)) if costs else None,
        fragility_score=score,
        fragility_rank=rank,
        fragility_stability_mode=False,
        stress_case_count=len(set(stress_cases)),
        tca_order_count=tca.order_count if tca else None,
        tca_avg_slippage_bps=tca.avg_slippage_bps if tca else None,
        tca_avg_shortfall_notional=tca.avg_shortfall_notional if tca else None,
        tca_avg_churn_ratio=tca.avg_churn_ratio if tca else None,
        llm_error_ratio=llm.error_ratio() if llm else None,
        route_parity_passed=route_parity_passed,
        operational_ready=readiness.operational_ready,
        runbook_validated=readiness.runbook_validated,
        kill_switch_dry_run_passed=readiness.kill_switch_dry_run_passed,
        rollback_dry_run_passed=readiness.rollback_dry_run_passed,
        continuity_alert_active=continuity_alert_active,
        kill_switch_active=kill_switch_active,
        approval_token_valid=approval_token_valid,
        profitability_schema=prof.get("schema_version") if profitability is not None else None,
        profitability_validator_passed=(not validate_profitability_evidence(prof))
        if profitability is not None
        else None,
        market_net_pnl_delta=_f(prof.get("market_net_pnl_delta")),
        regime_pass_ratio=_f(prof.get("regime_pass_ratio")),
        return_over_drawdown=_f(prof.get("return_over_drawdown")),
        calibration_error=_f(prof.get("calibration_error")),
        hash_count=sum(
            1 for h in (prof.get("hashes") or {}).values() if isinstance(h, str) and _HEX64.fullmatch(h)
        )
        if profitability is not None
        else None,
        janus_complete=None,
        coverage_error=uncertainty.coverage_error if uncertainty else None,
        shift_score=uncertainty.shift_score if uncertainty else None,
        interval_width=uncertainty.interval_width if uncertainty else None,
        target_coverage=uncertainty.target_coverage if uncertainty else None,
        recalibration_run_id=None,
        recalibration_artifact=None,
    )


def _int(value: Any) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
