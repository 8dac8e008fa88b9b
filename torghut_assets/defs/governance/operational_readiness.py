"""`operational_readiness`: rehearse the kill switch and the rollback path for real, then undo them.

The drills are `services/operational_readiness.py`: each runs inside a savepoint that is always rolled
back, writing the very rows production would write and checking the pipeline reads them as it must. Only
the outcome is kept, as an `operational_rehearsals` row that gate 4 reads (fresh for 72 h by policy).
"""

import datetime as dt

import dagster as dg
from pydantic import Field

from torghut_assets.defs.metadata import markdown_table
from torghut_assets.defs.resources import LedgerResource
from torghut_assets.services.operational_readiness import DRILL_ACTOR, run_drills


class ReadinessConfig(dg.Config):
    actor: str = Field(default=DRILL_ACTOR, description="who runs the drill")
    runbook_reviewed_by: str | None = Field(
        default=None,
        description="operator attesting the rollback runbook was reviewed (none = not validated)",
    )


@dg.asset(
    group_name="governance",
    kinds={"sql"},
    description="Kill-switch and rollback dry runs (rolled back) plus runbook review: gate 4's evidence.",
)
def operational_readiness(
    context: dg.AssetExecutionContext, config: ReadinessConfig, ledger: LedgerResource
) -> dg.MaterializeResult:  # type: ignore[type-arg]
    at = dt.datetime.now(dt.UTC)
    drills = run_drills(
        ledger.engine, actor=config.actor, runbook_reviewed_by=config.runbook_reviewed_by, at=at
    )
    table = markdown_table(
        ["rehearsal", "passed", "evidence"],
        [(r["kind"], r["passed"], r["evidence_hash"][:16]) for r in drills.rows],
    )
    return dg.MaterializeResult(
        metadata={
            "ready": drills.ready,
            "kill_switch_dry_run_passed": drills.kill_switch["passed"],
            "rollback_dry_run_passed": drills.rollback["passed"],
            "runbook_validated": drills.runbook["passed"],
            "detail": dg.MetadataValue.json({"kill_switch": drills.kill_switch, "rollback": drills.rollback}),
            "summary": dg.MetadataValue.md(
                f"Operational readiness: **{'ready' if drills.ready else 'NOT ready'}** at "
                f"{at.isoformat()}\n\n{table}"
            ),
        }
    )
