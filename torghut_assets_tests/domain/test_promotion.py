"""Specification of the lane window's own promotion request, fail closed (docs/lane-window.md)."""

from __future__ import annotations

import hashlib
import json

import pytest

from torghut_assets.domain.promotion import (
    APPROVER_ROLE,
    POLICY,
    CandidateEvidence,
    PromotionDecision,
    collect_evidence,
    lane_window_promotion,
    policy_checksum,
    select_champion,
)
from torghut_assets.domain.stress import STRESS_CASES

RUN = "4f1c0a9e2b7d"
# sha256 of the canonical lane-window-request-v1 policy.
PINNED_POLICY_CHECKSUM = "ad94592d24bc965ea80f9c42957735bc715e966fd149d4ad98350d3ed150cb22"
ALL_STRESS_POSITIVE = {"spread": 4.10, "volatility": 2.75, "liquidity": 6.20, "halt": 5.05}


def candidate(
    suffix: str,
    folds: tuple[float, ...] = (12.40, 8.15, 3.90),
    stress: dict[str, float] | None = None,
    decisions: int = 36,
) -> CandidateEvidence:
    return CandidateEvidence(
        candidate_id=f"cand-{RUN}-{suffix}",
        fold_net_pnl=folds,
        stress_net_pnl=dict(ALL_STRESS_POSITIVE if stress is None else stress),
        decision_count=decisions,
    )


def promote(*evidence: CandidateEvidence) -> PromotionDecision:
    return lane_window_promotion(list(evidence), STRESS_CASES)


# --- evidence gaps deny, even for shadow ----------------------------------------------------------------


def test_missing_stress_case_denies_with_a_code_per_missing_case() -> None:
    decision = promote(candidate("0a1b2c3d", stress={"spread": 1.0, "volatility": 2.0}))
    assert decision.decision_action == "deny"
    assert decision.approved_mode is None
    assert decision.reason_codes == ("stress_case_missing:halt", "stress_case_missing:liquidity")


def test_missing_stress_case_denies_even_the_shadow_request() -> None:
    decision = promote(candidate("0a1b2c3d", folds=(-5.0, -2.0, 1.0), stress={"spread": -1.0}))
    assert decision.requested_mode == "shadow"
    assert decision.approved_mode is None
    assert not decision.allowed


def test_missing_stress_evidence_is_recorded_as_incomplete() -> None:
    decision = promote(candidate("0a1b2c3d", stress={}))
    assert decision.evidence_bundle["evidence_complete"] is False
    assert decision.evidence_bundle["stress_metrics_count"] == 0
    assert decision.evidence_bundle["reasons"] == [f"stress_case_missing:{c}" for c in sorted(STRESS_CASES)]


def test_missing_fold_metrics_deny_with_fold_metrics_missing() -> None:
    decision = promote(candidate("0a1b2c3d", folds=()))
    assert decision.decision_action == "deny"
    assert decision.approved_mode is None
    assert decision.reason_codes == ("fold_metrics_missing",)
    assert decision.evidence_bundle["evidence_complete"] is False


# --- favourable evidence asks for paper and is denied (no gate evaluation yet) ----------------------------


def test_favourable_evidence_requests_paper_but_is_denied_fail_closed() -> None:
    decision = promote(candidate("0a1b2c3d"))
    assert decision.requested_mode == "paper"
    assert decision.approved_mode is None
    assert decision.decision_action == "deny"
    assert decision.reason_codes == ("gate_evaluation_required",)
    assert decision.evidence_bundle["evidence_complete"] is True


@pytest.mark.parametrize(
    ("folds", "stress"),
    [
        ((12.40, 8.15), ALL_STRESS_POSITIVE),  # fewer than 3 folds
        ((-4.0, -1.0, 2.0), ALL_STRESS_POSITIVE),  # mean <= 0
        ((30.0, -1.0, -2.0, 5.0, -0.5), ALL_STRESS_POSITIVE),  # 3/5 negative folds > 0.5
        ((12.40, 8.15, 3.90), {**ALL_STRESS_POSITIVE, "halt": -0.75}),  # a stress case loses money
        ((12.40, 8.15, 3.90), {**ALL_STRESS_POSITIVE, "liquidity": 0.0}),  # not strictly positive
    ],
    ids=["two-folds", "non-positive-mean", "mostly-negative-folds", "losing-stress-case", "flat-stress-case"],
)
def test_evidence_below_the_paper_threshold_holds_in_shadow(
    folds: tuple[float, ...], stress: dict[str, float]
) -> None:
    decision = promote(candidate("0a1b2c3d", folds=folds, stress=stress))
    assert decision.requested_mode == "shadow"
    assert decision.approved_mode == "shadow"
    assert decision.decision_action == "hold"
    assert decision.reason_codes == ("evidence_below_paper_threshold",)


def test_half_negative_folds_is_still_favourable() -> None:
    decision = promote(candidate("0a1b2c3d", folds=(10.0, -1.0, 6.0, -2.0)))
    assert decision.requested_mode == "paper"
    assert decision.evidence_bundle["negative_fold_ratio"] == pytest.approx(0.5)


def test_nothing_is_ever_approved_above_shadow() -> None:
    scenarios = [
        candidate("0a1b2c3d"),
        candidate("0a1b2c3d", folds=(100.0, 200.0, 300.0, 400.0, 500.0)),
        candidate("0a1b2c3d", folds=(-1.0, -1.0, -1.0)),
        candidate("0a1b2c3d", stress={}),
    ]
    assert {promote(e).approved_mode for e in scenarios} <= {None, "shadow"}


# --- champion selection ---------------------------------------------------------------------------------


def test_champion_is_the_candidate_with_the_highest_mean_fold_net_pnl() -> None:
    weak = candidate("aaaaaaaa", folds=(1.0, 2.0, 3.0))
    strong = candidate("ffffffff", folds=(10.0, 2.0, 3.0))
    middle = candidate("55555555", folds=(4.0, 2.0, 3.0))
    assert select_champion([weak, strong, middle]) is strong
    assert promote(weak, strong, middle).candidate_id == strong.candidate_id


def test_champion_ties_go_to_the_smallest_candidate_id() -> None:
    later = candidate("b0000000", folds=(6.0, 6.0, 6.0))
    earlier = candidate("a0000000", folds=(9.0, 3.0, 6.0))  # same mean 6.0
    assert select_champion([later, earlier]) is earlier
    assert select_champion([earlier, later]) is earlier


def test_champion_is_judged_on_mean_not_total() -> None:
    many_small = candidate("a0000000", folds=(2.0, 2.0, 2.0, 2.0, 2.0))  # total 10, mean 2
    few_large = candidate("b0000000", folds=(3.0, 3.0, 3.0))  # total 9, mean 3
    assert select_champion([many_small, few_large]) is few_large


def test_champion_selection_needs_at_least_one_candidate() -> None:
    with pytest.raises(ValueError, match="no candidates"):
        select_champion([])


def test_promotion_counts_the_candidates_evaluated() -> None:
    decision = promote(candidate("a0000000"), candidate("b0000000", folds=(1.0, 1.0, 1.0)))
    assert decision.evidence_bundle["candidates_evaluated"] == 2
    assert decision.evidence_bundle["mean_fold_net_pnl"] == pytest.approx((12.40 + 8.15 + 3.90) / 3)
    assert decision.evidence_bundle["fold_metrics_count"] == 3
    assert decision.evidence_bundle["stress_metrics_count"] == 4


# --- the approve / deny JSON ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("evidence", "allowed"),
    [
        (candidate("0a1b2c3d"), False),  # favourable -> paper denied
        (candidate("0a1b2c3d", stress={}), False),  # evidence gap
        (candidate("0a1b2c3d", folds=(-1.0, -2.0, 0.5)), True),  # shadow hold
    ],
    ids=["paper-denied", "evidence-gap", "shadow-hold"],
)
def test_exactly_one_of_approve_reason_and_deny_reason_is_meaningful(
    evidence: CandidateEvidence, allowed: bool
) -> None:
    decision = promote(evidence)
    approve_reason = decision.reason_json if decision.allowed else None
    deny_reason = None if decision.allowed else decision.reason_json
    assert decision.allowed is allowed
    assert (approve_reason is None) != (deny_reason is None)
    assert (decision.decision_action == "deny") is (not decision.allowed)


def test_reason_json_is_canonical_and_names_the_decision() -> None:
    decision = promote(candidate("0a1b2c3d"))
    payload = json.loads(decision.reason_json)
    assert payload == {
        "candidate_id": f"cand-{RUN}-0a1b2c3d",
        "requested_mode": "paper",
        "approved_mode": None,
        "decision_action": "deny",
        "reason_codes": ["gate_evaluation_required"],
    }
    assert decision.reason_json == json.dumps(payload, sort_keys=True, separators=(",", ":"))


def test_rationale_lists_the_codes_with_the_reference_prefix() -> None:
    decision = promote(candidate("0a1b2c3d", stress={"spread": 1.0, "volatility": 2.0}))
    assert decision.rationale == (
        "promotion_blocked_or_held:stress_case_missing:halt,stress_case_missing:liquidity"
    )


def test_evidence_bundle_has_the_reference_keys() -> None:
    bundle = promote(candidate("0a1b2c3d")).evidence_bundle
    assert {
        "fold_metrics_count",
        "stress_metrics_count",
        "rationale_present",
        "evidence_complete",
        "reasons",
    } <= set(bundle)
    assert bundle["rationale_present"] is True


def test_the_approver_role_is_the_autonomous_scheduler() -> None:
    assert APPROVER_ROLE == "autonomous_scheduler"


# --- policy checksum ------------------------------------------------------------------------------------


def test_policy_checksum_is_stable_across_calls() -> None:
    assert policy_checksum() == policy_checksum()


def test_policy_checksum_is_sha256_of_the_canonical_policy_json() -> None:
    expected = hashlib.sha256(
        json.dumps(POLICY, sort_keys=True, separators=(",", ":")).encode("utf-8")
    ).hexdigest()
    assert policy_checksum() == expected


def test_policy_checksum_is_pinned_so_a_policy_change_is_deliberate() -> None:
    # If this fails the policy changed: bump POLICY["policy_version"] and update the pin together.
    assert POLICY["policy_version"] == "lane-window-request-v1"
    assert policy_checksum() == PINNED_POLICY_CHECKSUM


# --- evidence collection from ledger rows ----------------------------------------------------------------


def test_collect_evidence_groups_rows_per_candidate_in_fold_order() -> None:
    cand_a, cand_b = f"cand-{RUN}-a0000000", f"cand-{RUN}-b0000000"
    candidates = [
        {"candidate_id": cand_b, "decision_count": 12},
        {"candidate_id": cand_a, "decision_count": 36},
    ]
    folds = [
        {"candidate_id": cand_a, "fold_order": 3, "net_pnl": "3.90"},
        {"candidate_id": cand_a, "fold_order": 1, "net_pnl": "12.40"},
        {"candidate_id": cand_b, "fold_order": 1, "net_pnl": "-1.25"},
        {"candidate_id": cand_a, "fold_order": 2, "net_pnl": "8.15"},
    ]
    stress = [
        {"candidate_id": cand_a, "stress_case": case, "metric_bundle": {"case": case, "net_pnl": pnl}}
        for case, pnl in ALL_STRESS_POSITIVE.items()
    ]
    evidence = collect_evidence(candidates, folds, stress)
    assert [e.candidate_id for e in evidence] == [cand_a, cand_b]
    assert evidence[0].fold_net_pnl == (12.40, 8.15, 3.90)
    assert evidence[0].stress_net_pnl == ALL_STRESS_POSITIVE
    assert evidence[0].decision_count == 36
    assert evidence[1].fold_net_pnl == (-1.25,)
    assert evidence[1].stress_net_pnl == {}
