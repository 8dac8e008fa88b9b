"""Where each gate evidence field comes from, and so what fixes it when it is missing or unusable.

A gate fails closed on a missing or non-finite figure (`<field>_missing`, `<field>_invalid`). The
operator's fix is then not a policy change but the job, setting or evidence that produces the field;
`FIELD_SOURCES` names it for every field of `GateEvidence`, and the two builders here turn it into the
finding's explanation. Pure and display-only.
"""

from __future__ import annotations

from collections.abc import Mapping

from torghut_assets.domain.gate_figures import Explanation, const, field_figure, policy_key

_SIGNALS = "materialize `signals` for the candidate's lane window (lane_window_job)"
_FOLDS = "re-run the lane window's research (`research_fold_metrics`, lane_window_job)"
_CANDIDATE = "re-run the lane window's research (`research_candidates`, lane_window_job)"
READINESS_SOURCE = "materialize `operational_readiness` (kill-switch and rollback drills, runbook reviewer)"
PROFIT_SOURCE = "re-run the lane window's research so every fold has net PnL, drawdown and cost"
_REPLAY = (
    "make the candidate's research dataset replayable (its `signals` for the whole dataset span), then "
    "re-run the promotion; the replay error is in the gate evaluation artifact"
)


FIELD_SOURCES: Mapping[str, tuple[str, str]] = {
    "feature_schema_version": ("the research run's feature schema version", _FOLDS),
    "required_feature_null_rate": ("the share of missing required feature cells", _SIGNALS),
    "null_rate_macd": ("the macd null rate", _SIGNALS),
    "null_rate_rsi": ("the rsi null rate", _SIGNALS),
    "null_rate_price": ("the price null rate", _SIGNALS),
    "staleness_p95_ms": ("the p95 signal staleness", _SIGNALS),
    "symbol_count": ("the symbols the candidate covered", _CANDIDATE),
    "decision_count": ("the candidate's decision count", _CANDIDATE),
    "trade_count": ("the candidate's trade count", _CANDIDATE),
    "net_pnl": ("the candidate's out-of-sample net PnL", _FOLDS),
    "fold_net_pnls": ("the per-fold net PnL", _FOLDS),
    "net_pnl_cv": ("the fold net PnL coefficient of variation", _FOLDS),
    "dsr": ("the deflated Sharpe ratio", _FOLDS + " with every candidate's folds"),
    "max_drawdown": ("the worst fold drawdown", _FOLDS),
    "turnover": ("the mean fold turnover", _FOLDS),
    "cost_bps": ("the mean fold cost", _FOLDS),
    "fragility_score": ("the fragility score", _FOLDS + " with regime labels"),
    "fragility_rank": ("the fragility rank", _FOLDS + " with regime labels"),
    "fragility_stability_mode": ("the stability-mode flag", _FOLDS),
    "stress_case_count": (
        "the stress cases run",
        "re-run the research's stress cases (`research_stress_metrics`)",
    ),
    "tca_order_count": ("the TCA order count", "materialize `executions` over the candidate's evidence span"),
    "tca_avg_slippage_bps": (
        "the mean slippage",
        "materialize `executions` with fills over the evidence span",
    ),
    "tca_avg_shortfall_notional": ("the mean shortfall", "materialize `executions` with fills over the span"),
    "tca_avg_churn_ratio": ("the mean churn ratio", "materialize `executions` with fills over the span"),
    "llm_error_ratio": (
        "the LLM review error ratio",
        "materialize `llm_decision_reviews` over the evidence span, or turn the advisory off (LLM_ENABLED)",
    ),
    "forecast_fallback_ratio": (
        "the forecast fallback ratio",
        "set "
        + policy_key("require_forecast_evidence")
        + " to false: this deployment has no forecast service",
    ),
    "forecast_latency_p95_ms": (
        "the forecast p95 latency",
        "set "
        + policy_key("require_forecast_evidence")
        + " to false: this deployment has no forecast service",
    ),
    "forecast_calibration": (
        "the forecast calibration",
        "set "
        + policy_key("require_forecast_evidence")
        + " to false: this deployment has no forecast service",
    ),
    "route_parity_passed": ("a route-parity report", "materialize `route_parity`"),
    "operational_ready": ("fresh kill-switch and rollback drills", READINESS_SOURCE),
    "runbook_validated": ("a fresh runbook review", READINESS_SOURCE + " with `runbook_reviewed_by` set"),
    "kill_switch_dry_run_passed": ("a fresh kill-switch drill", READINESS_SOURCE),
    "rollback_dry_run_passed": ("a fresh rollback drill", READINESS_SOURCE),
    "continuity_alert_active": ("the lane's continuity state", "materialize `signal_continuity`"),
    "kill_switch_active": (
        "the trading kill switch state",
        "record the kill switch with `set_route_control`",
    ),
    "approval_token_valid": (
        "an approval",
        "pass `approval_token` from `torghut-assets approve --key` (head_of_trading for live)",
    ),
    "profitability_schema": ("the profitability evidence", PROFIT_SOURCE),
    "profitability_validator_passed": ("the profitability validation", PROFIT_SOURCE),
    "market_net_pnl_delta": (
        "the net PnL against the baseline",
        PROFIT_SOURCE + " (and the incumbent's folds)",
    ),
    "regime_pass_ratio": ("the regime pass ratio", PROFIT_SOURCE + " with regime labels"),
    "return_over_drawdown": ("the return over drawdown", PROFIT_SOURCE),
    "calibration_error": ("the calibration error", _REPLAY),
    "hash_count": ("the input hashes", PROFIT_SOURCE + " with a stored evaluation report"),
    "janus_complete": (
        "Janus event-study evidence",
        "set "
        + policy_key("require_janus_evidence")
        + " to false: this deployment produces no Janus artifacts",
    ),
    "coverage_error": ("the conformal coverage error", _REPLAY),
    "shift_score": ("the distribution shift score", _REPLAY),
    "interval_width": ("the conformal interval width", _REPLAY),
    "target_coverage": ("the target coverage", _REPLAY),
    "recalibration_run_id": (
        "a recalibration run",
        "record a recalibration run for the candidate, or bring its calibration inside the gate-7 "
        "ladder so no recalibration is needed",
    ),
    "recalibration_artifact": (
        "a recalibration artifact",
        "record a recalibration artifact for the candidate, or bring its calibration inside the gate-7 "
        "ladder so no recalibration is needed",
    ),
}


def missing_field_explanation(name: str) -> Explanation:
    """`<name>_missing`: the ledger holds no such figure; the fix is the field's source."""
    what, source = FIELD_SOURCES[name]
    return Explanation(
        const("missing"),
        const("required"),
        f"The ledger holds no {what} for this candidate, and missing evidence fails closed.",
        source[0].upper() + source[1:] + ".",
    )


def invalid_field_explanation(name: str) -> Explanation:
    """`<name>_invalid`: the figure is there but not a usable (finite) value; the fix is its source."""
    what, source = FIELD_SOURCES[name]
    return Explanation(
        field_figure(name),
        const("a finite value"),
        f"{what[0].upper() + what[1:]} is not a usable value, so the gate cannot judge it.",
        source[0].upper() + source[1:] + ".",
    )
