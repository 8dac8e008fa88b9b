"""Why a gate failed, in the operator's terms: the figure seen, the policy limit, the cause and the fix.

A reason code such as `route_parity_failed` says *that* a gate failed; an operator deciding what to do
next needs the evidence value against the threshold and the setting, evidence or job that would change
it. This module turns a `GateReport` (with the `GateEvidence` and `GatePolicy` it was judged on) into
one `GateFinding` per failing reason and one per passing gate, so the promotion verdict can be read
without opening the stored report.

Pure and display-only: findings are derived, never stored, so rewording an explanation cannot change a
recorded gate evaluation or break an evidence pack's re-judgement. The explanations live in two
catalogues: `domain/gate_explanations.py` for the gates' codes (drawing on `gate_evidence_sources.py`
for the missing and invalid families and `uncertainty_explanations.py` for gate 7's ladder), and
`domain/decision_explanations.py` for the promotion rules' own.
Every code `domain/gates.py` can emit has an explanation (a test enumerates them); a code without one
still gets a finding naming it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from torghut_assets.domain import approvals
from torghut_assets.domain import promotion_rules as rules
from torghut_assets.domain.decision_explanations import DECISION_EXPLANATIONS
from torghut_assets.domain.gate_evidence_sources import (
    FIELD_SOURCES,
    invalid_field_explanation,
    missing_field_explanation,
)
from torghut_assets.domain.gate_explanations import EXPLANATIONS
from torghut_assets.domain.gate_figures import (
    Explanation,
    FindingContext,
    RouteParityFigures,
    field_figure,
    fold_count,
    num,
    parity_cause_and_fix,
    parity_figure,
    parity_limit,
    policy_limit,
)
from torghut_assets.domain.gates import GateEvidence, GatePolicy, GateReport, GateResult, TargetMode

__all__ = [
    "APPROVAL_LIFTS",
    "DECISION_ROW",
    "NOT_A_BLOCKER",
    "Explanation",
    "FindingStatus",
    "GateFinding",
    "RouteParityFigures",
    "decision_findings",
    "explanation",
    "failed_gate_count",
    "gate_findings",
]

DECISION_ROW = "decision"
"""The `gate` of a finding that is the promotion rules' own (a safety block, the stage ladder, an
approval), not one of gates 0–7."""
NOT_A_BLOCKER = frozenset(
    {rules.MANUAL_OVERRIDE_APPLIED, "all_required_gates_passed", approvals.APPROVAL_VALID}
)
APPROVAL_LIFTS = " Or present an approval scoped to this candidate and stage (recorded as a manual override)."


class FindingStatus(StrEnum):
    """How a finding's gate came out, as the verdict table shows it."""

    PASS = "PASS"
    FAIL = "FAIL"


@dataclass(frozen=True)
class GateFinding:
    """One row of a verdict: the gate, its status, the reason code (None for a passing gate), the
    observed figure against the policy limit, the cause in one sentence, and what would fix it."""

    gate: str
    status: FindingStatus
    code: str | None
    figure: str
    limit: str
    cause: str
    fix: str


def explanation(code: str) -> Explanation | None:
    """How to read a gate's reason code, or None when nothing here explains it."""
    if code in EXPLANATIONS:
        return EXPLANATIONS[code]
    for suffix, build in (("_missing", missing_field_explanation), ("_invalid", invalid_field_explanation)):
        name = code.removesuffix(suffix)
        if code.endswith(suffix) and name in FIELD_SOURCES:
            return build(name)
    return None


def _finding(gate_id: str, code: str, ctx: FindingContext) -> GateFinding:
    found = explanation(code)
    if found is None:
        return GateFinding(
            gate_id,
            FindingStatus.FAIL,
            code,
            "—",
            "—",
            f"The gate reported `{code}`, which this version has no explanation for.",
            f"Read `{code}` in the gate evaluation artifact and docs/promotion.md.",
        )
    cause, fix = found.cause, found.fix
    if code == "route_parity_failed":
        cause, fix = parity_cause_and_fix(ctx)
    if gate_id != "gate5_live_ramp_readiness" and not rules.is_hard_gate_reason(f"{gate_id}:{code}"):
        fix += APPROVAL_LIFTS
    return GateFinding(gate_id, FindingStatus.FAIL, code, found.figure(ctx), found.limit(ctx), cause, fix)


# --- a passing gate's key figure ------------------------------------------------------------------------

_NOT_JUDGED = ("not judged for {target}", "—")


def _passing(result: GateResult, ctx: FindingContext) -> tuple[str, str]:
    e, target = ctx.evidence, ctx.target
    shadow = target == TargetMode.SHADOW
    by_gate: dict[str, Callable[[], tuple[str, str]]] = {
        "gate0_data_integrity": lambda: (
            field_figure("required_feature_null_rate", "{:.2%}")(ctx) + " required cells missing",
            policy_limit("<=", "max_null_rate", "{:.2%}")(ctx),
        ),
        "gate1_statistical_robustness": lambda: (
            f"DSR {num(e.dsr)}, {fold_count(ctx)}",
            policy_limit(">=", "min_dsr")(ctx),
        ),
        "gate2_risk_capacity": lambda: (
            f"drawdown {num(e.max_drawdown, '{:.2f}')}",
            policy_limit("<=", "max_drawdown", "{:.2f}")(ctx),
        ),
        "gate3_shadow_paper_quality": lambda: (
            (
                f"LLM error ratio {num(e.llm_error_ratio, '{:.0%}')}",
                policy_limit("<=", "max_llm_error_ratio", "{:.0%}")(ctx),
            )
            if shadow
            else (parity_figure(ctx), parity_limit(ctx))
        ),
        "gate4_operational_readiness": lambda: (
            "drills and runbook review passed",
            policy_limit("within", "max_rehearsal_age_hours", "{:.0f}", "h")(ctx),
        ),
        "gate5_live_ramp_readiness": lambda: (
            ("live rollout enabled, approval valid", "a valid approval")
            if target == TargetMode.LIVE
            else (_NOT_JUDGED[0].format(target=target), _NOT_JUDGED[1])
        ),
        "gate6_profitability_evidence": lambda: (
            (_NOT_JUDGED[0].format(target=target), _NOT_JUDGED[1])
            if shadow
            else (
                f"net PnL vs baseline {num(e.market_net_pnl_delta, '{:.2f}')}",
                policy_limit(">=", "min_market_net_pnl_delta", "{:.2f}")(ctx),
            )
        ),
        "gate7_uncertainty_calibration": lambda: (
            (_NOT_JUDGED[0].format(target=target), _NOT_JUDGED[1])
            if shadow
            else (
                f"coverage error {num(e.coverage_error)}",
                policy_limit("<=", "uncertainty_soft_degrade_coverage_error")(ctx),
            )
        ),
    }
    figure = by_gate.get(result.gate_id)
    return figure() if figure is not None else ("passed", "—")


def gate_findings(
    report: GateReport,
    evidence: GateEvidence,
    policy: GatePolicy,
    *,
    route_parity: RouteParityFigures | None = None,
) -> tuple[GateFinding, ...]:
    """One finding per failing reason of every gate, and one row for each passing gate, in gate order."""
    ctx = FindingContext(evidence, policy, report.promotion_target, route_parity)
    findings: list[GateFinding] = []
    for result in report.gates:
        if result.passed:
            figure, limit = _passing(result, ctx)
            findings.append(
                GateFinding(
                    result.gate_id, FindingStatus.PASS, None, figure, limit, "Within the policy.", "—"
                )
            )
            continue
        findings += [_finding(result.gate_id, code, ctx) for code in result.reasons]
    return tuple(findings)


def decision_findings(reason_codes: Sequence[str], report: GateReport) -> tuple[GateFinding, ...]:
    """The decision's reasons that are not a gate's own (safety blocks, the stage ladder, an approval),
    one finding each; a gate-7 abstain/fail already shown on gate 7's row is not repeated."""
    failing_gate7 = not report.gate("gate7_uncertainty_calibration").passed
    findings = []
    for code in reason_codes:
        if ":" in code or code in NOT_A_BLOCKER:
            continue
        if failing_gate7 and code.startswith("uncertainty_action_"):
            continue
        cause, fix = DECISION_EXPLANATIONS.get(
            code,
            (
                f"The promotion rules reported `{code}`, which this version has no explanation for.",
                f"Read `{code}` in docs/promotion.md and docs/approvals.md.",
            ),
        )
        findings.append(GateFinding(DECISION_ROW, FindingStatus.FAIL, code, code, "—", cause, fix))
    return tuple(findings)


def failed_gate_count(findings: Sequence[GateFinding]) -> int:
    """How many distinct gates (the decision's own row counting as one) have a failing finding."""
    return len({f.gate for f in findings if f.status == FindingStatus.FAIL})
