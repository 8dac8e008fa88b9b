"""An evidence pack's decisions, judged offline: the gates re-evaluated under the included policy, the
recorded evidence against the research rows, each allowed decision against its gate report, and each
approval against the included approvers file, its scope and its single use (docs/evidence-pack.md).

Approval failures carry the codes verification uses when an approval is presented (docs/approvals.md),
so `approval_signature_invalid` means the same thing at `promotion_job` and in an audit.
"""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from torghut_assets.domain import approvals as codes
from torghut_assets.domain.evidence import sha256_hex
from torghut_assets.domain.evidence_chain import SegmentEntry, content_digest, instant
from torghut_assets.domain.gate_evidence import Readiness, assemble_gate_evidence
from torghut_assets.domain.gates import GateEvidence, GatePolicy, GateReport, TargetMode, evaluate_gates
from torghut_assets.domain.lane_rollout import stage_mode
from torghut_assets.domain.promotion import APPROVER_ROLE as SCHEDULER_ROLE
from torghut_assets.domain.promotion import PromotionAction
from torghut_assets.domain.promotion_rules import is_hard_gate_reason
from torghut_assets.domain.signed_approvals import (
    APPROVAL_APPROVER_EXPIRED,
    APPROVAL_VALIDITY_TOO_LONG,
    MAX_CLOCK_SKEW,
    MAX_TTL,
    Approvers,
    ApproversFileError,
    SignedApproval,
    check_approval_record,
)
from torghut_assets.domain.stages import Stage

GATES_APPROVER = "torghut_gates"  # the approver a promotion row names when no approval was used
GATE_POLICY_PREFIX = "policy/gate-policy-"
APPROVERS_PREFIX = "policy/approvers-"
# Gate evidence the research rows in the pack determine (the rest comes from operations evidence).
RESEARCH_FIELDS = (
    "feature_schema_version",
    "symbol_count",
    "decision_count",
    "trade_count",
    "net_pnl",
    "fold_net_pnls",
    "net_pnl_cv",
    "max_drawdown",
    "turnover",
    "cost_bps",
    "fragility_score",
    "fragility_rank",
    "stress_case_count",
)

Row = dict[str, Any]


class DecisionCheck(StrEnum):
    """Reason codes of the gate and decision checks."""

    POLICY_FILE_MISSING = "policy_file_missing"
    POLICY_FILE_INVALID = "policy_file_invalid"
    APPROVERS_FILE_MISSING = "approvers_file_missing"
    APPROVERS_FILE_INVALID = "approvers_file_invalid"
    GATE_REPORT_UNREADABLE = "gate_report_unreadable"
    GATE_EVALUATION_ROW_MISMATCH = "gate_evaluation_row_mismatch"
    GATE_DECISION_MISMATCH = "gate_decision_mismatch"
    GATE_EVIDENCE_MISMATCH = "gate_evidence_mismatch"
    GATE_EVALUATION_MISSING = "gate_evaluation_missing"
    PROMOTION_UNSUPPORTED = "promotion_unsupported_by_gates"
    APPROVAL_REUSED = "approval_reused"
    APPROVAL_USE_MISSING = "approval_use_missing"
    APPROVAL_UNSIGNED = "approval_unsigned"
    APPROVAL_RECORD_MALFORMED = "approval_record_malformed"
    APPROVAL_RECORD_MISMATCH = "approval_record_mismatch"
    APPROVAL_NOT_OFFLINE_VERIFIABLE = "approval_not_offline_verifiable"
    APPROVAL_USE_UNKNOWN_PROMOTION = "approval_use_unknown_promotion"
    APPROVAL_ROW_MISSING = "approval_row_missing"
    APPROVAL_ROW_MISMATCH = "approval_row_mismatch"


@dataclass
class Judged:
    failures: list[tuple[str, str, str]] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)

    def fail(self, code: str, subject: str, detail: str = "") -> None:
        self.failures.append((str(code), subject, detail))


def _dict(value: Any) -> Row:
    return value if isinstance(value, dict) else {}


def _bundle(row: Row) -> Row:
    return _dict(row.get("evidence_bundle"))


# --- the included policy and approvers files --------------------------------------------------------


def _policies(files: Mapping[str, bytes], judged: Judged) -> dict[str, GatePolicy]:
    policies: dict[str, GatePolicy] = {}
    for path, data in sorted(files.items()):
        if not path.startswith(GATE_POLICY_PREFIX):
            continue
        try:
            policy = GatePolicy.from_toml(data.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            judged.fail(DecisionCheck.POLICY_FILE_INVALID, path, str(exc))
            continue
        policies[policy.checksum()] = policy
    return policies


def _approvers(files: Mapping[str, bytes], judged: Judged) -> dict[str, Approvers]:
    registries: dict[str, Approvers] = {}
    for path, data in sorted(files.items()):
        if not path.startswith(APPROVERS_PREFIX):
            continue
        try:
            registry = Approvers.from_toml(data, origin=path)
        except ApproversFileError as exc:
            judged.fail(DecisionCheck.APPROVERS_FILE_INVALID, path, "; ".join(exc.problems))
            continue
        registries[registry.checksum] = registry
    return registries


# --- gates ------------------------------------------------------------------------------------------


def _recorded_evidence(report_json: Mapping[str, Any]) -> GateEvidence:
    metrics = report_json.get("metrics")
    if not isinstance(metrics, dict):
        raise ValueError("the gate report holds no `metrics`")
    known = {f.name for f in dataclasses.fields(GateEvidence)}
    unknown = sorted(set(metrics) - known)
    if unknown:
        raise ValueError(f"unknown evidence fields {', '.join(unknown)}")
    values: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in metrics.items()}
    return GateEvidence(**values)


def _differences(report: GateReport, row: Row) -> list[str]:
    recorded = {
        "promotion_allowed": row.get("promotion_allowed"),
        "recommended_mode": row.get("recommended_mode"),
        "reasons": row.get("reasons"),
        "gates": row.get("gates"),
        "uncertainty_gate_action": row.get("uncertainty_gate_action"),
        "policy_version": row.get("policy_version"),
    }
    again = {
        "promotion_allowed": report.promotion_allowed,
        "recommended_mode": report.recommended_mode,
        "reasons": list(report.reasons),
        "gates": [g.as_dict() for g in report.gates],
        "uncertainty_gate_action": report.uncertainty_gate_action,
        "policy_version": report.policy_version,
    }
    return sorted(k for k in recorded if content_digest(recorded[k]) != content_digest(again[k]))


def _row_against_report(row: Row, judged: Judged) -> None:
    """The gate evaluation's columns say what its stored report says (and its trace id is the report's)."""
    report = row.get("report_json")
    if not isinstance(report, dict):
        judged.fail(DecisionCheck.GATE_REPORT_UNREADABLE, f"gate_evaluations {row.get('id')}", "no report")
        return
    names = ("policy_version", "policy_checksum", "promotion_target", "promotion_allowed", "recommended_mode")
    differing = [
        k
        for k in (*names, "gates", "reasons", "uncertainty_gate_action")
        if content_digest(row.get(k)) != content_digest(report.get(k))
    ]
    if sha256_hex(report)[:24] != row.get("gate_report_trace_id"):
        differing.append("gate_report_trace_id")
    if differing:
        judged.fail(
            DecisionCheck.GATE_EVALUATION_ROW_MISMATCH,
            f"gate_evaluations {row.get('id')}",
            f"columns differ from the stored report: {', '.join(differing)}",
        )


def _close(a: Any, b: Any) -> bool:
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, int | float) and isinstance(b, int | float) and not isinstance(a, bool):
        return abs(float(a) - float(b)) <= 1e-6 * max(1.0, abs(float(a)), abs(float(b)))
    return bool(a == b)


def _research_evidence(row: Row, rows: Mapping[str, list[Row]]) -> list[str] | None:
    """The research-derived evidence fields where the gate report's figures differ from what the
    candidate's rows in the pack give; None when the pack does not hold those rows."""
    report = _dict(row.get("report_json"))
    if report.get("kind") == "live_reevaluation" or not report.get("requested_stage"):
        return None  # a live re-evaluation judges the champion's configuration in a later window
    cid, run_id = str(row.get("candidate_id")), str(report.get("run_id"))
    candidate = next((c for c in rows["research_candidates"] if c.get("candidate_id") == cid), None)
    run = next((r for r in rows["research_runs"] if r.get("run_id") == run_id), None)
    if candidate is None or run is None:
        return None
    assembled = assemble_gate_evidence(
        run=run,
        candidate=candidate,
        folds=[f for f in rows["research_fold_metrics"] if f.get("candidate_id") == cid],
        stress_cases=[
            str(s.get("stress_case")) for s in rows["research_stress_metrics"] if s.get("candidate_id") == cid
        ],
        dsr=None,
        signal_quality=None,
        tca=None,
        llm=None,
        route_parity_passed=None,
        readiness=Readiness(None, None, None, None),
        continuity_alert_active=None,
        kill_switch_active=None,
        approval_token_valid=None,
        profitability=None,
        uncertainty=None,
    )
    metrics = _dict(report.get("metrics"))
    return [f for f in RESEARCH_FIELDS if not _close(metrics.get(f), getattr(assembled, f))]


def _reevaluate(
    rows: Mapping[str, list[Row]], policies: Mapping[str, GatePolicy], judged: Judged
) -> dict[str, GateReport]:
    again: dict[str, GateReport] = {}
    for row in rows["gate_evaluations"]:
        subject = f"gate_evaluations {row.get('id')}"
        _row_against_report(row, judged)
        policy = policies.get(str(row.get("policy_checksum")))
        if policy is None:
            judged.fail(
                DecisionCheck.POLICY_FILE_MISSING, subject, f"policy checksum {row.get('policy_checksum')}"
            )
            continue
        try:
            evidence = _recorded_evidence(row.get("report_json") or {})
            report = evaluate_gates(evidence, policy, TargetMode(str(row.get("promotion_target"))))
        except (TypeError, ValueError) as exc:
            judged.fail(DecisionCheck.GATE_REPORT_UNREADABLE, subject, str(exc))
            continue
        again[str(row.get("id"))] = report
        differing = _differences(report, row)
        if differing:
            judged.fail(
                DecisionCheck.GATE_DECISION_MISMATCH, subject, f"re-evaluated {', '.join(differing)} differ"
            )
        research = _research_evidence(row, rows)
        if research:
            judged.fail(
                DecisionCheck.GATE_EVIDENCE_MISMATCH,
                subject,
                f"research rows give other {', '.join(research)}",
            )
    judged.summary["gate_evaluations_reevaluated"] = len(again)
    return again


def _decision(row: Row) -> Row:
    try:
        decision = json.loads(str(row.get("approve_reason") or row.get("deny_reason") or "{}"))
    except ValueError:
        return {}
    return decision if isinstance(decision, dict) else {}


def _relies_on_approval(row: Row) -> bool:
    return (
        row.get("decision_action") == PromotionAction.PROMOTE
        and bool(row.get("override_id"))
        and row.get("approver") != GATES_APPROVER
    )


def _supported(row: Row, gates: Mapping[str, Row], again: Mapping[str, GateReport], judged: Judged) -> None:
    """An allowed decision rests on its gate report: no hard block, every required gate passed or a
    scoped approval lifted threshold failures, and a live stage had an approval."""
    subject = f"research_promotions {row.get('id')}"
    gate = gates.get(str(row.get("gate_evaluation_id")))
    if gate is None:
        judged.fail(
            DecisionCheck.GATE_EVALUATION_MISSING, subject, f"gate evaluation {row.get('gate_evaluation_id')}"
        )
        return
    report = again.get(str(gate.get("id")))
    reasons = list(report.reasons) if report is not None else list(gate.get("reasons") or [])
    allowed = report.promotion_allowed if report is not None else bool(gate.get("promotion_allowed"))
    problems = [f"hard block {r}" for r in reasons if is_hard_gate_reason(r)]
    override = bool(_decision(row).get("override_applied"))
    if not allowed and not override:
        problems.append("the gates did not allow it and no approval was applied")
    try:
        live = stage_mode(Stage(str(row.get("requested_mode")))) == TargetMode.LIVE
    except ValueError:
        live = True
    if (override or live) and not _relies_on_approval(row):
        problems.append("it needed an approval and names none")
    if problems:
        judged.fail(DecisionCheck.PROMOTION_UNSUPPORTED, subject, "; ".join(problems))


# --- approvals ----------------------------------------------------------------------------------------


def _scope_and_validity(
    approval: SignedApproval, use: Row, promotion: Row, gate: Row | None, registry: Approvers
) -> str | None:
    """The first rule the authenticated approval broke for the decision that spent it, if any."""
    stage = str(promotion.get("requested_mode"))
    used_at = instant(use.get("used_at"))
    if approval.expires_at - approval.issued_at > MAX_TTL:
        return APPROVAL_VALIDITY_TOO_LONG
    if used_at is None or used_at + MAX_CLOCK_SKEW < approval.issued_at:
        return codes.APPROVAL_NOT_YET_VALID
    if used_at >= approval.expires_at:
        return codes.APPROVAL_EXPIRED
    approver = registry.get(approval.approver)
    if approver is not None and approver.not_after is not None and used_at >= approver.not_after:
        return APPROVAL_APPROVER_EXPIRED
    if approval.candidate_id != promotion.get("candidate_id"):
        return codes.APPROVAL_WRONG_CANDIDATE
    if approval.target_stage != stage:
        return codes.APPROVAL_WRONG_MODE
    if (
        approval.policy_checksum is not None
        and gate is not None
        and approval.policy_checksum != gate.get("policy_checksum")
    ):
        return codes.APPROVAL_POLICY_CHANGED
    if approval.approver_role not in (codes.LIVE_ROLES if codes.is_live_mode(stage) else codes.ALLOWED_ROLES):
        return codes.APPROVAL_ROLE_NOT_ALLOWED
    return None


def _verify_use(
    approval_id: str,
    use: Row,
    promotions: Mapping[str, Row],
    gates: Mapping[str, Row],
    registries: Mapping[str, Approvers],
    judged: Judged,
) -> bool:
    subject = f"approval {approval_id}"
    promotion = promotions.get(str(use.get("promotion_id")))
    if promotion is None:
        judged.fail(
            DecisionCheck.APPROVAL_USE_UNKNOWN_PROMOTION, subject, f"promotion {use.get('promotion_id')}"
        )
        return False
    if use.get("scheme") != codes.SCHEME_ED25519:
        judged.fail(
            DecisionCheck.APPROVAL_NOT_OFFLINE_VERIFIABLE, subject, f"scheme {use.get('scheme')} (dev only)"
        )
        return False
    if use.get("record_signature") is None:
        judged.fail(DecisionCheck.APPROVAL_UNSIGNED, subject, "no signature over its public record")
        return False
    registry = registries.get(str(use.get("approvers_checksum")))
    if registry is None:
        judged.fail(
            DecisionCheck.APPROVERS_FILE_MISSING,
            subject,
            f"approvers file sha256 {use.get('approvers_checksum')}",
        )
        return False
    approval, verdict = check_approval_record(use.get("record"), use.get("record_signature"), registry)
    if approval is None or verdict == codes.APPROVAL_TOKEN_MALFORMED:
        judged.fail(DecisionCheck.APPROVAL_RECORD_MALFORMED, subject)
        return False
    if verdict != codes.APPROVAL_VALID:
        judged.fail(
            verdict,
            subject,
            f"approver {approval.approver}, key {approval.key_id}, role {approval.approver_role}",
        )
        return False
    if approval.approval_id != approval_id:
        judged.fail(
            DecisionCheck.APPROVAL_RECORD_MISMATCH, subject, f"the record is approval {approval.approval_id}"
        )
        return False
    refusal = _scope_and_validity(
        approval, use, promotion, gates.get(str(promotion.get("gate_evaluation_id"))), registry
    )
    if refusal is not None:
        judged.fail(
            refusal,
            subject,
            f"spent by promotion {promotion.get('id')} "
            f"({promotion.get('candidate_id')} -> {promotion.get('requested_mode')})",
        )
        return False
    named = {"approver": promotion.get("approver"), "approver_role": promotion.get("approver_role")}
    if _relies_on_approval(promotion) and named != {
        "approver": approval.approver,
        "approver_role": approval.approver_role,
    }:
        judged.fail(
            DecisionCheck.APPROVAL_ROW_MISMATCH,
            subject,
            f"promotion {promotion.get('id')} names {named['approver']} ({named['approver_role']}), the "
            f"signed record {approval.approver} ({approval.approver_role})",
        )
        return False
    return True


def _rows_against_use(approval_id: str, row: Row | None, used: Row | None, use: Row, judged: Judged) -> None:
    """The approval's ledger rows say what the chain recorded when it was spent: `approval_overrides`
    who approved and with which key (for a signed approval), `approval_uses` which decision spent it."""
    subject = f"approval {approval_id}"
    if row is None or used is None:
        missing = "approval_overrides" if row is None else "approval_uses"
        judged.fail(DecisionCheck.APPROVAL_ROW_MISSING, subject, f"no {missing} row")
        return
    record = _dict(use.get("record"))
    expected: dict[str, Any] = {"token_sha256": use.get("token_sha256"), "scheme": use.get("scheme")}
    if use.get("scheme") == codes.SCHEME_ED25519:
        expected |= {
            "candidate_id": record.get("candidate_id"),
            "approver": record.get("approver"),
            "approver_role": record.get("approver_role"),
            "key_id": record.get("key_id"),
            "approvers_checksum": use.get("approvers_checksum"),
        }
    spent = {"used_by_promotion_id": use.get("promotion_id"), "used_outcome": use.get("outcome")}
    differing = [f"approval_overrides.{k}" for k, v in expected.items() if str(row.get(k)) != str(v)]
    differing += [f"approval_uses.{k}" for k, v in spent.items() if str(used.get(k)) != str(v)]
    if content_digest(used.get("used_at")) != content_digest(use.get("used_at")):
        differing.append("approval_uses.used_at")
    if differing:
        judged.fail(DecisionCheck.APPROVAL_ROW_MISMATCH, subject, f"differs in {', '.join(differing)}")


def _check_approvals(
    rows: Mapping[str, list[Row]],
    chain: Sequence[SegmentEntry],
    registries: Mapping[str, Approvers],
    judged: Judged,
) -> None:
    promotions = {
        str(p.get("id")): p for p in rows["research_promotions"] if p.get("approver_role") != SCHEDULER_ROLE
    }
    gates = {str(g.get("id")): g for g in rows["gate_evaluations"]}
    approval_rows = {str(a.get("override_id")): a for a in rows["approval_overrides"]}
    use_rows = {str(a.get("override_id")): a for a in rows["approval_uses"]}
    uses: dict[str, list[Row]] = {}
    for entry in chain:
        if entry.entry_kind == "approval_use" and entry.has_content and isinstance(entry.content, dict):
            uses.setdefault(entry.subject, []).append(entry.content)
    recorded_uses = Counter(e.subject for e in chain if e.entry_kind == "approval_use")
    referenced = {str(p["override_id"]) for p in promotions.values() if p.get("override_id")}
    verified = 0
    for approval_id in sorted(referenced | set(uses)):
        subject = f"approval {approval_id}"
        spent_by = [str(u.get("promotion_id")) for u in uses.get(approval_id, [])]
        claiming = [
            pid
            for pid, p in promotions.items()
            if p.get("override_id") == approval_id and _bundle(p).get("approval_spent")
        ]
        if recorded_uses[approval_id] > 1 or len(claiming) > 1:
            times = max(recorded_uses[approval_id], len(claiming))
            by = ", ".join(sorted({str(p) for p in [*spent_by, *claiming]}))
            judged.fail(DecisionCheck.APPROVAL_REUSED, subject, f"spent {times} times (promotions {by})")
        for use in uses.get(approval_id, []):
            verified += _verify_use(approval_id, use, promotions, gates, registries, judged)
        if uses.get(approval_id):
            latest = uses[approval_id][-1]
            _rows_against_use(
                approval_id, approval_rows.get(approval_id), use_rows.get(approval_id), latest, judged
            )
    for pid, promotion in sorted(promotions.items()):
        if not _relies_on_approval(promotion):
            continue
        approval_id = str(promotion["override_id"])
        spenders = {str(u.get("promotion_id")) for u in uses.get(approval_id, [])}
        if pid in spenders:
            continue
        if spenders:
            judged.fail(
                DecisionCheck.APPROVAL_REUSED,
                f"approval {approval_id}",
                f"promotion {pid} names it, but promotion(s) {', '.join(sorted(spenders))} spent it",
            )
        else:
            judged.fail(
                DecisionCheck.APPROVAL_USE_MISSING,
                f"approval {approval_id}",
                f"promotion {pid} names it; the chain records no use",
            )
    judged.summary["approvals_verified"] = verified


def check_decisions(
    rows: Mapping[str, list[Row]],
    files: Mapping[str, bytes],
    chain: Sequence[SegmentEntry],
) -> Judged:
    """The gates, decisions and approvals of the pack (see the module docstring)."""
    judged = Judged()
    policies = _policies(files, judged)
    registries = _approvers(files, judged)
    again = _reevaluate(rows, policies, judged)
    gates = {str(g.get("id")): g for g in rows["gate_evaluations"]}
    supported = 0
    for row in rows["research_promotions"]:
        if (
            row.get("approver_role") == SCHEDULER_ROLE
            or row.get("decision_action") != PromotionAction.PROMOTE
        ):
            continue
        before = len(judged.failures)
        _supported(row, gates, again, judged)
        supported += len(judged.failures) == before
    judged.summary["allowed_decisions_supported"] = supported
    _check_approvals(rows, chain, registries, judged)
    judged.summary["policy_files"] = sorted(policies)
    judged.summary["approvers_files"] = sorted(registries)
    return judged
