"""Fail-closed live re-evaluation: each closed lane window re-judges the lane's live champion.

A champion reaches a live stage through `promotion_job` on the evidence of one lane window. Every lane
window that closes afterwards is new evidence: the champion's configuration, as researched in that
window, is put through gates 0–7 again at the `live` target (docs/promotion.md, "Live re-evaluation").

* **Pass** — no failing gate reason apart from those about a step up (`STEP_UP_ONLY_REASONS`): the
  gate-5 approval token (single use, not presented again every window) and gate 4's desk drills and
  kill switch (a lapsed drill or a flipped switch must not roll every live champion back).
  Everything else does, including gate 5's policy switch: turning live off in the policy fails every
  live champion on its next window.
* **Fail** — any other failing reason, or missing evidence: the window's research failed, the
  champion's configuration is not among the window's candidates, or the evidence cannot be read. The
  lane is rolled back to its previous verified champion (see `lane_rollout`) and halted, attributed to
  `live_reevaluation` with trigger `live_gate_failure` and the failing reasons.
* **No verdict** — a window whose research was skipped for lack of signals (continuity owns those), a
  window still open or still being researched, and a lane not at a live stage: nothing changes.

Pure: no I/O. The gate report comes from `domain.gates`; the ledger side lives in
`services/live_reevaluation.py`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from torghut_assets.domain.gates import GATE_IDS, GateReport, TargetMode
from torghut_assets.domain.research import TERMINAL_RUN_STATUSES, ResearchRunStatus

ACTOR = "live_reevaluation"
TRIGGER = "live_gate_failure"
FAILURE_ENTRY_KIND = "live_reevaluation_failed"

# Reasons a window's evidence cannot judge the champion: fail closed.
CHAMPION_EVIDENCE_MISSING = "live_champion_evidence_missing"
RESEARCH_RUN_FAILED = "research_run_failed"
EVALUATION_FAILED = "live_evaluation_error"  # the window's evidence could not be read or judged

# Reasons about the desk's readiness to take a step up, not about the champion's right to stay: the
# gate-5 approval of the step, and gate 4's drills and switches. A drill that ages past 72 h or a kill
# switch flipped on must not roll every live champion back (the switch already stops its orders).
STEP_UP_ONLY_REASONS = frozenset(
    {
        "gate5_live_ramp_readiness:approval_token_missing",
        "gate5_live_ramp_readiness:approval_token_invalid",
        "gate4_operational_readiness:operational_not_ready",
        "gate4_operational_readiness:runbook_not_validated",
        "gate4_operational_readiness:kill_switch_dry_run_failed",
        "gate4_operational_readiness:rollback_dry_run_failed",
        "gate4_operational_readiness:kill_switch_active",
    }
)


class ReevaluationOutcome(StrEnum):
    """What one re-evaluation of a lane window did."""

    PASSED = "passed"
    ROLLED_BACK = "rolled_back"
    LANE_NOT_LIVE = "lane_not_live"
    WINDOW_NOT_CLOSED = "window_not_closed"
    RESEARCH_INCOMPLETE = "research_incomplete"
    WINDOW_WITHOUT_SIGNALS = "window_skipped_no_signals"
    ALREADY_ROLLED_BACK = "already_rolled_back"
    LANE_CHANGED = "lane_changed_concurrently"


@dataclass(frozen=True)
class LiveVerdict:
    """The champion keeps its place (`passed`) or is rolled back and the lane halted for `reasons`."""

    passed: bool
    reasons: tuple[str, ...]
    blocking_gates: tuple[str, ...]

    @property
    def blocking_gate(self) -> str | None:
        return self.blocking_gates[0] if self.blocking_gates else None


def verdict_from_report(report: GateReport) -> LiveVerdict:
    """Judge a live-target gate report of the champion's configuration on a later window."""
    if report.promotion_target != TargetMode.LIVE:
        raise ValueError(f"a live champion is re-evaluated at the live target, not {report.promotion_target}")
    reasons = tuple(r for r in report.reasons if r not in STEP_UP_ONLY_REASONS)
    failing = {r.partition(":")[0] for r in reasons}
    blocking = tuple(g for g in GATE_IDS if g in failing)
    return LiveVerdict(passed=not reasons, reasons=reasons, blocking_gates=blocking)


def evidence_missing(reason: str) -> LiveVerdict:
    """No gate report can be produced for the champion on this window: fail closed."""
    return LiveVerdict(passed=False, reasons=(reason,), blocking_gates=())


@dataclass(frozen=True)
class ResearchedWindow:
    window_start: dt.datetime
    window_end: dt.datetime
    status: ResearchRunStatus


def due_windows(
    runs: Sequence[ResearchedWindow],
    *,
    live_since: dt.datetime,
    handled_through: dt.datetime | None,
    now: dt.datetime,
) -> tuple[list[dt.datetime], dt.datetime | None]:
    """The closed windows to re-evaluate, in window order, and the new `handled_through` mark.

    A window is due once it ended after the champion's latest step up (the windows before were the
    evidence that step was judged on) and its research finished with a verdict (`passed` or `failed`).
    Windows skipped for lack of signals are passed over. The walk stops at the first window whose
    research is still running, so it is picked up on a later tick.
    """
    due: list[dt.datetime] = []
    mark = handled_through
    for run in sorted(runs, key=lambda r: r.window_start):
        if run.window_end <= live_since or run.window_end > now:
            continue
        if handled_through is not None and run.window_start <= handled_through:
            continue
        if run.status not in TERMINAL_RUN_STATUSES:
            break
        if run.status != ResearchRunStatus.SKIPPED:
            due.append(run.window_start)
        mark = run.window_start
    return due, mark
