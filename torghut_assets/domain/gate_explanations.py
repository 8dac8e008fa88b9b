"""The gate reason-code catalogue: for each code `domain/gates.py` emits, its figure, limit, cause and fix.

A reason code such as `dsr_below_min` says *that* a gate failed; its entry here says how to read it
against the evidence and policy and what an operator would change. `EXPLANATIONS` holds the threshold
and state codes (gate 7's ladder comes from `domain/uncertainty_explanations.py`); the
`<field>_missing` / `<field>_invalid` families are built from `domain/gate_evidence_sources.py`.
Pure and display-only: rewording an entry never changes a recorded gate evaluation.
"""

from __future__ import annotations

from collections.abc import Mapping

from torghut_assets.domain.gate_evidence_sources import PROFIT_SOURCE, READINESS_SOURCE
from torghut_assets.domain.gate_figures import (
    Explanation,
    above_maximum,
    below_minimum,
    const,
    field_figure,
    flag,
    fold_count,
    fold_floor,
    negative_ratio,
    num,
    parity_figure,
    parity_limit,
    policy_key,
    policy_limit,
)
from torghut_assets.domain.gates import FRAGILITY_STRESS_RANK, REQUIRED_FEATURE_NULL_RATE_EXCEEDED
from torghut_assets.domain.uncertainty_explanations import REPLAY_FIX, UNCERTAINTY_EXPLANATIONS

APPROVAL_FIX = (
    "Ask the approver for a fresh approval for this candidate and stage (`torghut-assets approve --key`)."
)
"""The fix for an approval that did not verify (gate 5's `approval_token_invalid`, and the approval's own
reason codes among the promotion decision's reasons)."""
_DRILL_FIX = (
    READINESS_SOURCE[0].upper()
    + READINESS_SOURCE[1:]
    + f"; drills older than {policy_key('max_rehearsal_age_hours')} do not count."
)


def _research_fix(key: str) -> str:
    return f"Research a better candidate (lane_window_job), or change {policy_key(key)} (a policy change)."


EXPLANATIONS: Mapping[str, Explanation] = {
    # gate 0
    "feature_schema_version_mismatch": Explanation(
        field_figure("feature_schema_version"),
        lambda ctx: f"= {ctx.policy.required_feature_schema_version} (required_feature_schema_version)",
        "The research ran on a different feature schema than the policy requires.",
        "Re-run the research on signals of the required schema (lane_window_job), or change "
        + policy_key("required_feature_schema_version")
        + ".",
    ),
    REQUIRED_FEATURE_NULL_RATE_EXCEEDED: Explanation(
        field_figure("required_feature_null_rate", "{:.2%}"),
        policy_limit("<=", "max_null_rate", "{:.2%}"),
        "Too many macd, rsi or price cells are missing in the window's signals.",
        "Fix the signal source so the required features are populated and re-materialize `signals`, or "
        "change " + policy_key("max_null_rate") + ".",
    ),
    "staleness_p95_ms_exceeds_max": above_maximum(
        "staleness_p95_ms",
        "max_staleness_p95_ms",
        "the window's signals arrived too late",
        "Fix the signal feed's lag and re-materialize `signals`, or change "
        + policy_key("max_staleness_p95_ms")
        + ".",
        "{:.0f}",
        "ms",
    ),
    "symbol_count_below_min": below_minimum(
        "symbol_count",
        "min_symbols",
        "the candidate covered too few symbols",
        _research_fix("min_symbols"),
        "{:.0f}",
    ),
    # gate 1
    "decision_count_below_min": below_minimum(
        "decision_count",
        "min_decisions",
        "the candidate made too few decisions",
        _research_fix("min_decisions"),
        "{:.0f}",
    ),
    "trade_count_below_min": below_minimum(
        "trade_count", "min_trades", "the candidate traded too rarely", _research_fix("min_trades"), "{:.0f}"
    ),
    "net_pnl_negative": below_minimum(
        "net_pnl",
        "min_net_pnl",
        "the candidate's out-of-sample net PnL",
        _research_fix("min_net_pnl"),
        "{:.2f}",
    ),
    "fold_count_below_min": Explanation(
        fold_count,
        fold_floor,
        "The walk-forward record has too few out-of-sample folds to judge robustness.",
        "Widen the research dataset so the lane window's research produces more folds, or change "
        + policy_key("min_folds")
        + ".",
    ),
    "negative_fold_ratio_exceeds_max": Explanation(
        negative_ratio,
        policy_limit("<=", "max_negative_fold_ratio", "{:.0%}"),
        "Too many folds lost money, so the profit is not robust across periods.",
        _research_fix("max_negative_fold_ratio"),
    ),
    "net_pnl_cv_exceeds_max": above_maximum(
        "net_pnl_cv",
        "max_net_pnl_cv",
        "the fold PnL varies too much between folds",
        _research_fix("max_net_pnl_cv"),
    ),
    "dsr_below_min": below_minimum(
        "dsr",
        "min_dsr",
        "the deflated Sharpe ratio (after the number of candidates tried)",
        _research_fix("min_dsr"),
    ),
    # gate 2
    "max_drawdown_exceeds_max": above_maximum(
        "max_drawdown", "max_drawdown", "the worst fold drawdown", _research_fix("max_drawdown"), "{:.2f}"
    ),
    "turnover_exceeds_max": above_maximum(
        "turnover", "max_turnover", "the mean turnover", _research_fix("max_turnover")
    ),
    "cost_bps_exceeds_max": above_maximum(
        "cost_bps", "max_cost_bps", "the mean trading cost", _research_fix("max_cost_bps"), "{:.2f}", "bps"
    ),
    "fragility_score_exceeds_max": above_maximum(
        "fragility_score",
        "max_fragility_score",
        "the share of stressed (high-volatility) test spans",
        _research_fix("max_fragility_score"),
    ),
    "fragility_rank_exceeds_max": above_maximum(
        "fragility_rank",
        "max_fragility_rank",
        "the latest test span's fragility rank",
        _research_fix("max_fragility_rank"),
        "{:.0f}",
    ),
    "fragility_stress_without_stability_mode": Explanation(
        lambda ctx: (
            f"fragility rank {num(ctx.evidence.fragility_rank, '{:.0f}')}, stability mode "
            + flag("fragility_stability_mode")(ctx)
        ),
        const(f"rank < {FRAGILITY_STRESS_RANK}, or stability mode on"),
        "The latest test span is a stress regime and the candidate has no stability mode.",
        "Wait for research whose latest fold is not a high-volatility regime (lane_window_job).",
    ),
    "stress_case_count_below_min": below_minimum(
        "stress_case_count",
        "min_stress_cases",
        "the number of stress cases run",
        "Re-run the research with every stress case (`research_stress_metrics`), or change "
        + policy_key("min_stress_cases")
        + ".",
        "{:.0f}",
    ),
    "tca_avg_slippage_bps_exceeds_max": above_maximum(
        "tca_avg_slippage_bps",
        "max_tca_avg_slippage_bps",
        "the executions' mean slippage",
        "Investigate the fills (`executions`, `reconciliation_report`), or change "
        + policy_key("max_tca_avg_slippage_bps")
        + ".",
        "{:.2f}",
        "bps",
    ),
    "tca_avg_shortfall_notional_exceeds_max": above_maximum(
        "tca_avg_shortfall_notional",
        "max_tca_avg_shortfall_notional",
        "the executions' mean implementation shortfall",
        "Investigate the fills (`executions`), or change "
        + policy_key("max_tca_avg_shortfall_notional")
        + ".",
        "{:.2f}",
    ),
    "tca_avg_churn_ratio_exceeds_max": above_maximum(
        "tca_avg_churn_ratio",
        "max_tca_avg_churn_ratio",
        "the executions' mean churn",
        "Reduce order churn (cancels and replaces), or change " + policy_key("max_tca_avg_churn_ratio") + ".",
    ),
    # gate 3
    "llm_error_ratio_exceeds_max": above_maximum(
        "llm_error_ratio",
        "max_llm_error_ratio",
        "the LLM reviews' error ratio over the evidence span",
        "Fix the LLM endpoint (LLM_BASE_URL, LLM_MODEL) and re-materialize `llm_decision_reviews`, or change "
        + policy_key("max_llm_error_ratio")
        + ".",
        "{:.0%}",
    ),
    "forecast_fallback_ratio_exceeds_max": above_maximum(
        "forecast_fallback_ratio",
        "max_forecast_fallback_ratio",
        "the forecast fallback ratio",
        "Fix the forecast service, or set " + policy_key("require_forecast_evidence") + " to false.",
    ),
    "forecast_latency_p95_ms_exceeds_max": above_maximum(
        "forecast_latency_p95_ms",
        "max_forecast_latency_p95_ms",
        "the forecast p95 latency",
        "Fix the forecast service, or set " + policy_key("require_forecast_evidence") + " to false.",
        "{:.0f}",
        "ms",
    ),
    "forecast_calibration_below_min": below_minimum(
        "forecast_calibration",
        "min_forecast_calibration",
        "the forecast calibration",
        "Fix the forecast service, or set " + policy_key("require_forecast_evidence") + " to false.",
    ),
    # route_parity_failed is built from the parity report (see `gate_figures.parity_cause_and_fix`).
    "route_parity_failed": Explanation(
        parity_figure, parity_limit, "The latest route-parity report failed.", "Materialize `route_parity`."
    ),
    # gate 4
    "operational_not_ready": Explanation(
        lambda ctx: (
            f"kill-switch drill {flag('kill_switch_dry_run_passed')(ctx)}, rollback drill "
            + flag("rollback_dry_run_passed")(ctx)
        ),
        policy_limit("both passed within", "max_rehearsal_age_hours", "{:.0f}", "h"),
        "A fresh kill-switch or rollback drill failed.",
        _DRILL_FIX,
    ),
    "runbook_not_validated": Explanation(
        flag("runbook_validated"),
        policy_limit("reviewed within", "max_rehearsal_age_hours", "{:.0f}", "h"),
        "The latest runbook review did not pass.",
        _DRILL_FIX,
    ),
    "kill_switch_dry_run_failed": Explanation(
        flag("kill_switch_dry_run_passed"),
        policy_limit("passed within", "max_rehearsal_age_hours", "{:.0f}", "h"),
        "The latest kill-switch drill failed.",
        _DRILL_FIX,
    ),
    "rollback_dry_run_failed": Explanation(
        flag("rollback_dry_run_passed"),
        policy_limit("passed within", "max_rehearsal_age_hours", "{:.0f}", "h"),
        "The latest rollback drill failed.",
        _DRILL_FIX,
    ),
    "continuity_alert_active": Explanation(
        flag("continuity_alert_active"),
        const("false"),
        "The lane's signal continuity alert is latched: its signals stopped arriving.",
        "Restore the lane's signal feed; `signal_continuity` clears the alert once fresh signals arrive.",
    ),
    "kill_switch_active": Explanation(
        flag("kill_switch_active"),
        const("false"),
        "The trading kill switch is on.",
        "Turn the trading kill switch off with `set_route_control` once the reason for it is resolved.",
    ),
    # gate 5
    "live_rollout_disabled_by_policy": Explanation(
        lambda ctx: f"live_rollout_enabled = {str(ctx.policy.live_rollout_enabled).lower()}",
        const("true for any live stage"),
        "The gate policy does not allow live rollout.",
        "Set " + policy_key("live_rollout_enabled") + " to true (a reviewed policy change).",
    ),
    "approval_token_missing": Explanation(
        const("no approval presented"),
        const("a valid approval for live"),
        "A live promotion needs an approval and none was presented.",
        "Pass `approval_token` from `torghut-assets approve --key` (head_of_trading for live).",
    ),
    "approval_token_invalid": Explanation(
        const("approval did not verify"),
        const("a valid approval for live"),
        "The presented approval did not verify (its own reason code is among the decision's reasons).",
        APPROVAL_FIX,
    ),
    # gate 6
    "profitability_schema_mismatch": Explanation(
        field_figure("profitability_schema"),
        lambda ctx: "one of " + ", ".join(ctx.policy.allowed_profitability_schemas),
        "The profitability evidence has a schema the policy does not accept.",
        "Re-run the promotion with this version's evidence, or change "
        + policy_key("allowed_profitability_schemas")
        + ".",
    ),
    "profitability_validator_failed": Explanation(
        flag("profitability_validator_passed"),
        const("true"),
        "The profitability evidence is incomplete (a figure or an input hash is missing).",
        "Open the profitability evidence artifact for what is missing, and " + PROFIT_SOURCE + ".",
    ),
    "market_net_pnl_delta_negative": below_minimum(
        "market_net_pnl_delta",
        "min_market_net_pnl_delta",
        "the net PnL against the baseline (the incumbent, or a flat book)",
        _research_fix("min_market_net_pnl_delta"),
        "{:.2f}",
    ),
    "regime_pass_ratio_below_min": below_minimum(
        "regime_pass_ratio",
        "min_regime_pass_ratio",
        "the share of regimes the candidate made money in",
        _research_fix("min_regime_pass_ratio"),
        "{:.0%}",
    ),
    "return_over_drawdown_negative": below_minimum(
        "return_over_drawdown",
        "min_return_over_drawdown",
        "the return over drawdown",
        _research_fix("min_return_over_drawdown"),
    ),
    "calibration_error_exceeds_max": above_maximum(
        "calibration_error", "max_calibration_error", "the calibration error", REPLAY_FIX
    ),
    "hash_count_below_min": below_minimum(
        "hash_count",
        "min_hash_count",
        "the number of input hashes the evidence is pinned to",
        "Re-run the research so its evaluation report is stored (the candidate_report hash), or change "
        + policy_key("min_hash_count")
        + ".",
        "{:.0f}",
    ),
    "janus_incomplete": Explanation(
        flag("janus_complete"),
        const("true"),
        "The Janus event-study evidence is incomplete.",
        "Set "
        + policy_key("require_janus_evidence")
        + " to false: this deployment produces no Janus artifacts.",
    ),
    # gate 7
    **UNCERTAINTY_EXPLANATIONS,
}
