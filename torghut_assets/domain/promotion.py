"""The lane window's own promotion request: what the autonomous scheduler asks for, and what it gets.

The lane window only *requests*: anything above `shadow` is denied here with `gate_evaluation_required`
(fail closed) because gates 0-7, caps and approvals are evaluated by `promotion_job`, which is the only
path that moves a candidate. Evidence gaps deny even shadow.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from torghut_assets.domain.evidence import canonical_json, sha256_hex
from torghut_assets.domain.gates import TargetMode

APPROVER = "torghut_assets"
APPROVER_ROLE = "autonomous_scheduler"
MIN_FOLDS_FOR_PAPER = 3
POLICY = {
    "policy_version": "lane-window-request-v1",
    "min_folds_for_paper": MIN_FOLDS_FOR_PAPER,
    "max_negative_fold_ratio": 0.5,
    "require_positive_stress_net_pnl": True,
    "max_mode_without_gates": "shadow",
}


def policy_checksum() -> str:
    """Recorded on every run and promotion row so a policy change is visible in the evidence."""
    return sha256_hex(POLICY)


class PromotionAction(StrEnum):
    """A promotion row's `decision_action`: the lane window's request is denied or held; `promotion_job`
    promotes or denies; a rollback demotes the champion leaving."""

    PROMOTE = "promote"
    DENY = "deny"
    HOLD = "hold"
    DEMOTE = "demote"


@dataclass(frozen=True)
class CandidateEvidence:
    candidate_id: str
    fold_net_pnl: tuple[float, ...]
    stress_net_pnl: Mapping[str, float]
    decision_count: int


@dataclass(frozen=True)
class PromotionDecision:
    candidate_id: str
    requested_mode: TargetMode
    approved_mode: TargetMode | None
    decision_action: PromotionAction
    reason_codes: tuple[str, ...]
    evidence_bundle: dict[str, object]

    @property
    def allowed(self) -> bool:
        return self.approved_mode is not None

    @property
    def reason_json(self) -> str:
        return canonical_json(
            {
                "candidate_id": self.candidate_id,
                "requested_mode": self.requested_mode,
                "approved_mode": self.approved_mode,
                "decision_action": self.decision_action,
                "reason_codes": list(self.reason_codes),
            }
        )

    @property
    def rationale(self) -> str:
        return f"promotion_blocked_or_held:{','.join(self.reason_codes)}"


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def select_champion(evidence: Sequence[CandidateEvidence]) -> CandidateEvidence:
    """Highest mean fold net PnL; ties go to the smallest candidate id so the choice is reproducible."""
    if not evidence:
        raise ValueError("no candidates to choose a champion from")
    return min(evidence, key=lambda e: (-_mean(e.fold_net_pnl), e.candidate_id))


def lane_window_promotion(
    evidence: Sequence[CandidateEvidence], required_stress_cases: Sequence[str]
) -> PromotionDecision:
    champion = select_champion(evidence)
    folds = champion.fold_net_pnl
    missing_stress = sorted(set(required_stress_cases) - set(champion.stress_net_pnl))
    negative_ratio = sum(1 for v in folds if v < 0) / len(folds) if folds else 1.0
    bundle: dict[str, object] = {
        "fold_metrics_count": len(folds),
        "stress_metrics_count": len(champion.stress_net_pnl),
        "rationale_present": True,
        "evidence_complete": not missing_stress and len(folds) > 0,
        "mean_fold_net_pnl": _mean(folds),
        "negative_fold_ratio": negative_ratio,
        "candidates_evaluated": len(evidence),
    }
    if not folds or missing_stress:
        missing = (["fold_metrics_missing"] if not folds else []) + [
            f"stress_case_missing:{c}" for c in missing_stress
        ]
        bundle["reasons"] = missing
        return PromotionDecision(
            champion.candidate_id, TargetMode.SHADOW, None, PromotionAction.DENY, tuple(missing), bundle
        )
    favourable = (
        len(folds) >= MIN_FOLDS_FOR_PAPER
        and _mean(folds) > 0
        and negative_ratio <= 0.5
        and all(v > 0 for v in champion.stress_net_pnl.values())
    )
    if favourable:
        bundle["reasons"] = ["gate_evaluation_required"]
        return PromotionDecision(
            champion.candidate_id,
            TargetMode.PAPER,
            None,
            PromotionAction.DENY,
            ("gate_evaluation_required",),
            bundle,
        )
    bundle["reasons"] = ["evidence_below_paper_threshold"]
    return PromotionDecision(
        champion.candidate_id,
        TargetMode.SHADOW,
        TargetMode.SHADOW,
        PromotionAction.HOLD,
        ("evidence_below_paper_threshold",),
        bundle,
    )


def collect_evidence(
    candidates: Sequence[Mapping[str, object]],
    folds: Sequence[Mapping[str, object]],
    stress: Sequence[Mapping[str, object]],
) -> list[CandidateEvidence]:
    """Group stored fold and stress rows under their candidates, in fold order."""
    fold_map: dict[str, list[tuple[int, float]]] = {}
    for row in folds:
        fold_map.setdefault(str(row["candidate_id"]), []).append(
            (int(str(row["fold_order"])), float(str(row["net_pnl"])))
        )
    stress_map: dict[str, dict[str, float]] = {}
    for row in stress:
        bundle = row["metric_bundle"]
        net = bundle.get("net_pnl") if isinstance(bundle, Mapping) else None
        stress_map.setdefault(str(row["candidate_id"]), {})[str(row["stress_case"])] = float(str(net))
    return [
        CandidateEvidence(
            candidate_id=str(c["candidate_id"]),
            fold_net_pnl=tuple(v for _, v in sorted(fold_map.get(str(c["candidate_id"]), []))),
            stress_net_pnl=stress_map.get(str(c["candidate_id"]), {}),
            decision_count=int(str(c["decision_count"])),
        )
        for c in sorted(candidates, key=lambda c: str(c["candidate_id"]))
    ]
