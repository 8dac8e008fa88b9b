"""Gate findings: every reason code the gates can emit is explained with its figure, limit, cause and fix."""

from __future__ import annotations

import ast
import dataclasses
import itertools
from pathlib import Path
from typing import Any

from torghut_assets.domain import gates
from torghut_assets.domain.gate_findings import (
    DECISION_ROW,
    FindingStatus,
    RouteParityFigures,
    decision_findings,
    explanation,
    gate_findings,
)
from torghut_assets.domain.gates import GateEvidence, GatePolicy, TargetMode, evaluate_gates

TYPES = {f.name: str(f.type) for f in dataclasses.fields(GateEvidence)}


def _every(number: Any, flag: Any, folds: tuple[float, ...]) -> GateEvidence:
    """Every field set by its kind: numbers to `number`, flags to `flag`, texts to a wrong value."""
    values: dict[str, Any] = {}
    for name, kind in TYPES.items():
        if "tuple" in kind:
            values[name] = folds
        elif "bool" in kind:
            values[name] = flag
        elif "float" in kind or "int" in kind:
            values[name] = number
        else:
            values[name] = "nope"
    return GateEvidence(**values)


def _variants() -> list[GateEvidence]:
    """Missing, unusable, too high, too low, and a grid over the gate-7 ladder."""
    out = [GateEvidence(), _every(float("nan"), "x", (float("nan"),))]
    for number, flag, folds in itertools.product(
        (1e9, -1e9, 0.0), (True, False), ((), (-1.0,), (-1.0, -2.0, 3.0, -4.0))
    ):
        out.append(_every(number, flag, folds))
    for error, shift, width, coverage in itertools.product(
        (0.0, 0.04, 0.06, 0.1, 2.0), (0.0, 0.7, 0.85, 0.99, 2.0), (0.0, 1.5, 2.0, -1.0), (0.9, 0.5)
    ):
        out.append(
            GateEvidence(
                coverage_error=error, shift_score=shift, interval_width=width, target_coverage=coverage
            )
        )
    return out


def _emitted_codes() -> set[str]:
    policies = [
        GatePolicy(),
        GatePolicy(live_rollout_enabled=True, require_forecast_evidence=True, require_janus_evidence=True),
    ]
    codes = set()
    for evidence, policy, target in itertools.product(_variants(), policies, TargetMode):
        codes |= {reason.partition(":")[2] for reason in evaluate_gates(evidence, policy, target).reasons}
    return codes


def _literal_codes() -> set[str]:
    """The string literals gates.py adds as reasons (`c.add("…")` and the gate-4 code table)."""
    tree = ast.parse(Path(gates.__file__).read_text(encoding="utf-8"))
    out = set()
    for node in ast.walk(tree):
        is_add = isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "add"
        if is_add and node.args and isinstance(node.args[0], ast.Constant):
            out.add(str(node.args[0].value))
        if isinstance(node, ast.Tuple) and len(node.elts) == 2:
            texts = [str(e.value) for e in node.elts if isinstance(e, ast.Constant)]
            if len(texts) == 2 and texts[1].endswith(("_not_ready", "_not_validated", "_failed")):
                out.add(texts[1])
    return out


def test_every_reason_code_the_gates_emit_has_an_explanation() -> None:
    codes = _emitted_codes() | _literal_codes()
    assert {"route_parity_failed", "shift_score_at_or_above_fail", "interval_width_exceeds_degrade"} <= codes
    assert {"fragility_stress_without_stability_mode", "janus_incomplete", "approval_token_invalid"} <= codes
    assert len(codes) > 100  # the enumeration reaches the missing/invalid families too
    unexplained = sorted(code for code in codes if explanation(code) is None)
    assert unexplained == []


def test_route_parity_with_too_few_pairs_names_the_pairs_the_floor_and_the_job_that_fixes_it() -> None:
    evidence = dataclasses.replace(GateEvidence(), route_parity_passed=False)
    report = evaluate_gates(evidence, GatePolicy(), TargetMode.PAPER)
    parity = RouteParityFigures("r-1", 3, 20, ("parity_insufficient_pairs:3<20",))
    (finding,) = [
        f
        for f in gate_findings(report, evidence, GatePolicy(), route_parity=parity)
        if f.code == "route_parity_failed"
    ]
    assert finding.figure == "3 paired executions (report r-1)"
    assert finding.limit.startswith(">= 20 pairs")
    assert "only 3 LEAN/Alpaca pairs" in finding.cause
    assert "`route_parity`" in finding.fix and "lane_window_job" in finding.fix


def test_a_threshold_finding_shows_the_figure_against_the_policy_key() -> None:
    evidence = GateEvidence(staleness_p95_ms=300000.0)
    report = evaluate_gates(evidence, GatePolicy(), TargetMode.SHADOW)
    (finding,) = [
        f for f in gate_findings(report, evidence, GatePolicy()) if f.code == "staleness_p95_ms_exceeds_max"
    ]
    assert (finding.figure, finding.limit) == ("300000 ms", "<= 120000 ms (max_staleness_p95_ms)")
    assert "gates.toml" in finding.fix


def test_a_missing_figure_fails_closed_and_names_where_it_comes_from() -> None:
    report = evaluate_gates(GateEvidence(), GatePolicy(), TargetMode.PAPER)
    (finding,) = [
        f
        for f in gate_findings(report, GateEvidence(), GatePolicy())
        if f.code == "route_parity_passed_missing"
    ]
    assert finding.figure == "missing" and "`route_parity`" in finding.fix


def test_a_soft_failure_says_an_approval_lifts_it_and_a_hard_one_does_not() -> None:
    evidence = GateEvidence(dsr=0.1, staleness_p95_ms=300000.0)
    report = evaluate_gates(evidence, GatePolicy(), TargetMode.SHADOW)
    by_code = {f.code: f for f in gate_findings(report, evidence, GatePolicy())}
    assert "approval" in by_code["dsr_below_min"].fix
    assert "approval" not in by_code["staleness_p95_ms_exceeds_max"].fix  # gate 0 is a hard block


def test_each_passing_gate_is_one_row_with_its_key_figure() -> None:
    report = evaluate_gates(GateEvidence(), GatePolicy(), TargetMode.SHADOW)
    passing = [
        f for f in gate_findings(report, GateEvidence(), GatePolicy()) if f.status == FindingStatus.PASS
    ]
    assert {f.gate for f in passing} == {g.gate_id for g in report.gates if g.passed}
    assert len(passing) == len({f.gate for f in passing})
    assert all(f.code is None and f.figure and f.limit for f in passing)


def test_an_unknown_gate_code_still_gets_a_finding_naming_it() -> None:
    report = evaluate_gates(GateEvidence(), GatePolicy(), TargetMode.SHADOW)
    gate0 = dataclasses.replace(report.gates[0], status=gates.GateStatus.FAIL, reasons=("brand_new_code",))
    changed = dataclasses.replace(report, gates=(gate0, *report.gates[1:]))
    (finding,) = [
        f for f in gate_findings(changed, GateEvidence(), GatePolicy()) if f.code == "brand_new_code"
    ]
    assert "`brand_new_code`" in finding.cause and "`brand_new_code`" in finding.fix


def test_the_promotion_rules_own_reasons_are_decision_rows_and_unknown_ones_are_named() -> None:
    report = evaluate_gates(GateEvidence(), GatePolicy(), TargetMode.SHADOW)
    codes = ("stage_not_next_step", "gate0_data_integrity:x_missing", "all_required_gates_passed", "mystery")
    findings = decision_findings(codes, report)
    assert [(f.gate, f.code) for f in findings] == [
        (DECISION_ROW, "stage_not_next_step"),
        (DECISION_ROW, "mystery"),
    ]
    assert "one step" in findings[0].cause and "`mystery`" in findings[1].cause
