"""`operational_readiness`: rehearse the kill switch and the rollback path for real, then undo them.

The drills are `services/operational_readiness.py`: each runs inside a savepoint that is always rolled
back, writing the very rows production would write and checking the pipeline reads them as it must. Only
the outcome is kept, as an `operational_rehearsals` row that gate 4 reads (fresh for 72 h by policy).
"""

import datetime as dt
from typing import Any

import dagster as dg
from pydantic import Field

from torghut_assets.defs.launchpad import refuse, required_text
from torghut_assets.defs.metadata import markdown_table
from torghut_assets.defs.resources import LedgerResource
from torghut_assets.services.operational_readiness import DRILL_ACTOR, ReadinessDrills, run_drills


class ReadinessConfig(dg.Config):
    """Who runs the drills and who attests the runbook review; both are checked by the step's first lines,
    before a drill runs."""

    actor: str = Field(default=DRILL_ACTOR, description="who runs the drill (required)")
    runbook_reviewed_by: str | None = Field(
        default=None,
        description="operator attesting the rollback runbook was reviewed, e.g. oncall@torghut "
        "(leave empty when nobody has: the runbook then counts as not validated)",
    )

    def reviewer(self) -> str | None:
        """The named reviewer, or None when the field is left empty; a blank name is refused, because an
        attestation nobody signed is not one."""
        if self.runbook_reviewed_by is None:
            return None
        if not self.runbook_reviewed_by.strip():
            refuse("runbook_reviewed_by must name the reviewer, or be left empty when nobody reviewed it.")
        return self.runbook_reviewed_by.strip()


RERUN = "then materialize operational_readiness again"


def kill_switch_fix(drill: dict[str, Any]) -> str:
    """The lanes that kept accepting entries with the trading kill switch on, and what to do."""
    before, after = drill["blocked_before_drill"], drill["entry_block_by_lane"]
    lanes = [
        f"{lane} (entry block: {after[lane] or 'none'})"
        for lane in sorted(after)
        if after[lane] != "kill_switch_enabled" and (after[lane] is None or after[lane] != before.get(lane))
    ]
    return (
        f"kill-switch drill failed: with trading_kill_switch on, {', '.join(lanes) or 'a lane'} "
        "still accepted new entries; the entry check must honour the switch (set_route_control relies "
        f"on it) before gate 4 can pass, {RERUN}"
    )


def rollback_fixes(drill: dict[str, Any]) -> list[str]:
    """One line per lane whose halt or rollback rehearsal failed, naming the job that repairs it."""
    fixes: list[str] = []
    for lane, result in sorted(drill["lanes"].items()):
        if result.get("passed", False):
            continue
        if "error" in result:
            problem = f"the rehearsal was refused ({result['error']})"
        elif result.get("halt_blocks_entries") is False:
            problem = "halting it did not block new entries"
        else:
            problem = "rolling it back did not restore its previous champion"
        fixes.append(
            f"rollback drill failed on lane {lane}: {problem}; check the lane in promotion_timeline "
            f"and put it right with rollback_job (lane {lane}, action rollback, halt or resume), {RERUN}"
        )
    return fixes


def readiness_fixes(drills: ReadinessDrills) -> list[str]:
    """Per failing criterion, what fixes it: the Launchpad field to set or the job to run."""
    fixes: list[str] = []
    if not drills.kill_switch["passed"]:
        fixes.append(kill_switch_fix(drills.kill_switch))
    if not drills.rollback["passed"]:
        fixes.extend(rollback_fixes(drills.rollback))
    if not drills.runbook["passed"]:
        fixes.append(
            "runbook review missing: set runbook_reviewed_by in the Launchpad config of "
            f"operational_readiness to the operator who reviewed the rollback runbook, {RERUN}"
        )
    return fixes


def _outcome(passed: bool) -> str:
    return "PASS" if passed else "FAIL"


@dg.asset(
    group_name="governance",
    kinds={"sql"},
    description="Kill-switch and rollback dry runs (rolled back) plus runbook review: gate 4's evidence.",
)
def operational_readiness(
    context: dg.AssetExecutionContext, config: ReadinessConfig, ledger: LedgerResource
) -> dg.MaterializeResult:  # type: ignore[type-arg]
    actor, reviewer = required_text("actor", config.actor), config.reviewer()
    at = dt.datetime.now(dt.UTC)
    drills = run_drills(ledger.engine, actor=actor, runbook_reviewed_by=reviewer, at=at)
    fixes = readiness_fixes(drills)
    table = markdown_table(
        ["rehearsal", "outcome", "evidence"],
        [(r["kind"], _outcome(r["passed"]), r["evidence_hash"][:16]) for r in drills.rows],
    )
    verdict = "ready" if drills.ready else "NOT ready"
    to_fix = "".join(f"\n- {fix}" for fix in fixes)
    return dg.MaterializeResult(
        metadata={
            "ready": drills.ready,
            "verdict": verdict,
            "kill_switch_dry_run_passed": drills.kill_switch["passed"],
            "rollback_dry_run_passed": drills.rollback["passed"],
            "runbook_validated": drills.runbook["passed"],
            "to_fix": dg.MetadataValue.text("\n".join(fixes) or "nothing: every criterion passed"),
            "detail": dg.MetadataValue.json({"kill_switch": drills.kill_switch, "rollback": drills.rollback}),
            "summary": dg.MetadataValue.md(
                f"Operational readiness: **{verdict}** at {at.isoformat()}\n\n{table}"
                + (f"\n\nTo fix:{to_fix}" if fixes else "")
            ),
        }
    )
