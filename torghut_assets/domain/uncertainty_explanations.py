"""Gate 7's catalogue: the uncertainty-ladder reason codes, each with its figure, limit, cause and fix.

Gate 7 judges the candidate's conformal calibration (coverage error, distribution shift, interval width)
against a ladder of rungs (pass, degrade, abstain, fail) whose limits are the `uncertainty_*` policy
keys. Every code it emits has the same remedy, `REPLAY_FIX`, which the promotion rules' own
`uncertainty_action_*` reasons share (`domain/decision_explanations.py`). Pure and display-only.
"""

from __future__ import annotations

from collections.abc import Mapping

from torghut_assets.domain.gate_figures import (
    POLICY_FILE,
    Explanation,
    above_maximum,
    const,
    field_figure,
    num,
    policy_limit,
)
from torghut_assets.domain.gates import UncertaintyAction

REPLAY_FIX = (
    "Research the candidate over more recent data (lane_window_job) so its calibration holds, or record a "
    "recalibration; the ladder's limits are the `uncertainty_*` keys in " + POLICY_FILE + "."
)


def _rung_explanations() -> dict[str, Explanation]:
    out: dict[str, Explanation] = {}
    for level in (UncertaintyAction.ABSTAIN, UncertaintyAction.DEGRADE):
        prefix = f"uncertainty_{level}"
        out[f"coverage_error_exceeds_{level}"] = above_maximum(
            "coverage_error",
            f"{prefix}_coverage_error",
            f"the conformal coverage error reaches the {level} rung: intervals miss too often",
            REPLAY_FIX,
        )
        out[f"shift_score_at_or_above_{level}"] = Explanation(
            field_figure("shift_score"),
            policy_limit("<", f"{prefix}_shift"),
            f"The distribution shift score reaches the {level} rung: recent data differs from the research "
            "data.",
            REPLAY_FIX,
        )
        out[f"interval_width_exceeds_{level}"] = above_maximum(
            "interval_width",
            f"{prefix}_width",
            f"the conformal interval width reaches the {level} rung: the candidate's PnL is too uncertain",
            REPLAY_FIX,
        )
    return out


UNCERTAINTY_EXPLANATIONS: Mapping[str, Explanation] = {
    "coverage_error_out_of_range": Explanation(
        field_figure("coverage_error"),
        const("between 0 and 1"),
        "The coverage error is out of range.",
        REPLAY_FIX,
    ),
    "shift_score_out_of_range": Explanation(
        field_figure("shift_score"), const("between 0 and 1"), "The shift score is out of range.", REPLAY_FIX
    ),
    "interval_width_out_of_range": Explanation(
        field_figure("interval_width"), const(">= 0"), "The interval width is negative.", REPLAY_FIX
    ),
    "target_coverage_mismatch": Explanation(
        field_figure("target_coverage"),
        policy_limit("=", "uncertainty_target_coverage"),
        "The calibration was scored for a different target coverage than the policy's.",
        "Re-run the promotion so the replay scores the policy's target coverage.",
    ),
    "shift_score_at_or_above_fail": Explanation(
        field_figure("shift_score"),
        policy_limit("<", "uncertainty_fail_shift"),
        "The data has shifted so far from the research data that the candidate cannot be trusted.",
        REPLAY_FIX,
    ),
    "coverage_error_exceeds_soft_degrade": above_maximum(
        "coverage_error",
        "uncertainty_soft_degrade_coverage_error",
        "the conformal coverage error reaches the soft degrade rung",
        REPLAY_FIX,
    ),
    **_rung_explanations(),
    **{
        f"uncertainty_action_{action}": Explanation(
            lambda ctx: (
                f"coverage error {num(ctx.evidence.coverage_error)}, "
                f"shift {num(ctx.evidence.shift_score)}, width {num(ctx.evidence.interval_width)}"
            ),
            const("the pass rung of the gate-7 ladder"),
            f"The uncertainty ladder says {action}: the candidate's calibration is too poor to promote.",
            REPLAY_FIX,
        )
        for action in (UncertaintyAction.DEGRADE, UncertaintyAction.ABSTAIN, UncertaintyAction.FAIL)
    },
}
