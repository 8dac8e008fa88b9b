"""The promotion rules' own reason codes, each with its cause and fix, for the verdict's decision rows.

Besides the gates' `gate:code` reasons, a promotion decision can carry reasons of its own: a safety
block (kill switch, emergency stop, continuity alert), the stage ladder (`domain/lane_rollout.py`), or
an approval that did not verify (`domain/approvals.py`, `domain/signed_approvals.py`). None of them has
a figure against a policy limit, so each is a cause and a fix. Pure and display-only.
"""

from __future__ import annotations

from collections.abc import Mapping

from torghut_assets.domain import approvals, signed_approvals
from torghut_assets.domain import lane_rollout as rollout
from torghut_assets.domain import promotion_rules as rules
from torghut_assets.domain.gate_explanations import APPROVAL_FIX
from torghut_assets.domain.gates import UncertaintyAction
from torghut_assets.domain.uncertainty_explanations import REPLAY_FIX

DECISION_EXPLANATIONS: Mapping[str, tuple[str, str]] = {
    rules.KILL_SWITCH_ACTIVE: (
        "The trading kill switch is on; no approval lifts it.",
        "Turn the trading kill switch off with `set_route_control` once the reason for it is resolved.",
    ),
    rules.EMERGENCY_STOP_ACTIVE: (
        "An emergency stop stands on the lane; no approval lifts it.",
        "Clear it with `clear_emergency_stop_job` (or `torghut-assets emergency-stop clear`).",
    ),
    rules.CONTINUITY_ALERT_LATCHED: (
        "The lane's signal continuity alert is latched; no approval lifts it.",
        "Restore the lane's signal feed; `signal_continuity` clears the alert once fresh signals arrive.",
    ),
    rules.APPROVAL_REQUIRED_FOR_LIVE: (
        "A live stage always needs a valid approval.",
        "Pass `approval_token` from `torghut-assets approve --key` (head_of_trading for live).",
    ),
    rules.LLM_ERROR_BUDGET_SPENT: (
        "The LLM advisory spent its error budget over the candidate's evidence span; live is blocked.",
        "Fix the LLM endpoint and wait for the budget window (LLM_ERROR_BUDGET_WINDOW_HOURS) to pass.",
    ),
    rules.CANDIDATE_PAUSED: (
        "The candidate was denied too often in a row and is paused for review.",
        "Review the candidate; a valid approval for this candidate and stage lifts the pause.",
    ),
    rollout.LANE_HALTED: (
        "The lane is halted.",
        "Resume the lane (or roll it back) with `rollback_job` first.",
    ),
    rollout.STAGE_NOT_NEXT: (
        "The requested stage is not the candidate's next stage: promotions move exactly one step.",
        "Request the next stage (`target_stage: live` means the next live stage).",
    ),
    rollout.CHALLENGER_MUST_ENTER_PAPER: (
        "A challenger enters the lane at paper.",
        "Request `target_stage: paper` first.",
    ),
    rollout.LANE_CHAMPION_ABOVE_PAPER: (
        "The lane's champion is above paper, so a challenger cannot replace it directly.",
        "Roll the champion back to paper with `rollback_job`, or promote the champion itself.",
    ),
    **{
        f"uncertainty_action_{action}": (
            f"Gate 7 says {action}; an uncertainty {action} denies any promotion above shadow.",
            REPLAY_FIX,
        )
        for action in (UncertaintyAction.ABSTAIN, UncertaintyAction.FAIL)
    },
    approvals.APPROVAL_REPLAYED: (
        "The approval was already spent by an earlier promotion decision (single use).",
        APPROVAL_FIX,
    ),
    approvals.APPROVAL_EXPIRED: ("The approval has expired.", APPROVAL_FIX),
    approvals.APPROVAL_NOT_YET_VALID: (
        "The approval is not valid yet (issued in the future).",
        APPROVAL_FIX,
    ),
    approvals.APPROVAL_WRONG_CANDIDATE: ("The approval is for another candidate.", APPROVAL_FIX),
    approvals.APPROVAL_WRONG_MODE: ("The approval is for another stage.", APPROVAL_FIX),
    approvals.APPROVAL_POLICY_CHANGED: (
        "The gate policy changed since the approval was signed.",
        APPROVAL_FIX,
    ),
    approvals.APPROVAL_ROLE_NOT_ALLOWED: (
        "The approver's role may not approve this stage (live needs head_of_trading).",
        "Ask a head_of_trading approver for the approval.",
    ),
    approvals.APPROVAL_TOKEN_MALFORMED: (
        "The approval token is not a token.",
        "Paste the whole token, `tav2.…`.",
    ),
    approvals.APPROVAL_UNKNOWN_OVERRIDE: ("No approval with that id was minted.", APPROVAL_FIX),
    approvals.APPROVAL_SIGNATURE_INVALID: ("The approval's signature does not verify.", APPROVAL_FIX),
    approvals.APPROVAL_SECRET_MISSING: (
        "No approval secret is configured to verify a dev approval.",
        "Set TORGHUT_APPROVAL_SECRET (dev only), or use a signed approval.",
    ),
    approvals.APPROVAL_HMAC_REFUSED: (
        "Dev (HMAC) approvals are refused outside dev.",
        "Use an approval signed with `torghut-assets approve --key`.",
    ),
    signed_approvals.APPROVAL_UNKNOWN_APPROVER: (
        "The approver is not in the approvers file.",
        "Register the approver in the approvers file (TORGHUT_APPROVERS_PATH).",
    ),
    signed_approvals.APPROVAL_KEY_NOT_REGISTERED: (
        "The approval was signed with a key not registered for that approver.",
        "Sign with the approver's registered key, or register it (TORGHUT_APPROVERS_PATH).",
    ),
    signed_approvals.APPROVAL_APPROVER_EXPIRED: (
        "The approver's registration has expired.",
        "Renew the approver's entry in the approvers file (TORGHUT_APPROVERS_PATH).",
    ),
    signed_approvals.APPROVAL_ROLE_NOT_HELD: (
        "The approver does not hold the role the approval claims.",
        "Grant the role in the approvers file, or ask an approver who holds it.",
    ),
    signed_approvals.APPROVAL_VALIDITY_TOO_LONG: (
        "The approval is valid for longer than allowed.",
        APPROVAL_FIX,
    ),
    signed_approvals.APPROVAL_APPROVERS_UNAVAILABLE: (
        "The approvers file could not be read, so no approval can verify.",
        "Fix the approvers file at TORGHUT_APPROVERS_PATH.",
    ),
}
