"""`operational_readiness`: rehearse the kill switch and the rollback path for real, then undo them.

Each drill runs inside a savepoint that is always rolled back: it writes the very rows production
would write (a kill-switch event, a halt and a rollback transition per lane), checks that the pipeline
reads them as it must (entries blocked, the previous champion restored), and leaves the ledger untouched. Only
the outcome is kept, as an `operational_rehearsals` row that gate 4 reads (fresh for 72 h by policy).
"""

import datetime as dt
from typing import Any

import dagster as dg
from pydantic import Field
from sqlalchemy.engine import Connection

from torghut_assets.defs.lane_window.trading import entry_block
from torghut_assets.defs.metadata import markdown_table
from torghut_assets.defs.resources import LedgerResource
from torghut_assets.domain.lane_rollout import TransitionRefused
from torghut_assets.domain.lanes import LANES
from torghut_assets.ledger import rehearsal_store, rollout_store, route_controls
from torghut_assets.ledger.evidence_log import append_entry

DRILL_ACTOR = "operational_readiness_drill"


class ReadinessConfig(dg.Config):
    actor: str = Field(default=DRILL_ACTOR, description="who runs the drill")
    runbook_reviewed_by: str | None = Field(
        default=None,
        description="operator attesting the rollback runbook was reviewed (none = not validated)",
    )


def kill_switch_drill(conn: Connection, at: dt.datetime) -> dict[str, Any]:
    """Switch trading off inside a savepoint; every lane must then refuse new entries."""
    savepoint = conn.begin_nested()
    try:
        before = {lane: getattr(entry_block(conn, lane), "reason", None) for lane in sorted(LANES)}
        route_controls.record_control(
            conn,
            control=route_controls.TRADING_KILL_SWITCH,
            enabled=True,
            reason="readiness drill",
            operator=DRILL_ACTOR,
            source="drill",
            at=at,
            event_key=f"drill:{at.isoformat()}",
        )
        blocked = {lane: getattr(entry_block(conn, lane), "reason", None) for lane in sorted(LANES)}
    finally:
        savepoint.rollback()
    # A lane already blocked by an earlier reason (halt, emergency stop, alert) reports that one: it
    # still refuses entries, so it does not fail the drill.
    passed = all(
        reason == "kill_switch_enabled" or (reason is not None and reason == before[lane])
        for lane, reason in blocked.items()
    )
    return {"passed": passed, "entry_block_by_lane": blocked, "blocked_before_drill": before}


def rollback_drill(conn: Connection, at: dt.datetime) -> dict[str, Any]:
    """Halt and (where something is promoted) roll back each lane inside a savepoint, then check the state."""
    lanes: dict[str, Any] = {}
    for lane in sorted(LANES):
        savepoint = conn.begin_nested()
        try:
            state, seq = rollout_store.load_lane(conn, lane)
            expected_after = (
                state.stack[: len(state.stack) - len(state.rollback_plan().removed)] if state.stack else []
            )
            result: dict[str, Any] = {"stage_before": state.stage.value}
            if not state.halted:
                halt = state.halt(at=at, reason="readiness drill", actor=DRILL_ACTOR)
                rollout_store.append_transition(conn, halt, after_seq=seq, reason_codes=["drill"])
                seq += 1
                result["halt_blocks_entries"] = getattr(entry_block(conn, lane), "reason", None) in (
                    "lane_halted",
                    "kill_switch_enabled",
                    "emergency_stop_active",
                    "signal_continuity_alert_active",
                )
            if state.stack:
                back = state.rollback(at=at, reason="readiness drill", actor=DRILL_ACTOR)
                rollout_store.append_transition(conn, back, after_seq=seq, reason_codes=["drill"])
                reloaded, _ = rollout_store.load_lane(conn, lane)
                result["rollback_restores_previous"] = (
                    reloaded.stack == expected_after and not reloaded.halted
                )
            result["passed"] = all(v for k, v in result.items() if k not in ("stage_before",))
        except TransitionRefused as refused:
            result = {"passed": False, "error": str(refused)}
        finally:
            savepoint.rollback()
        lanes[lane] = result
    return {"passed": all(r["passed"] for r in lanes.values()), "lanes": lanes}


@dg.asset(
    group_name="governance",
    kinds={"sql"},
    description="Kill-switch and rollback dry runs (rolled back) plus runbook review: gate 4's evidence.",
)
def operational_readiness(
    context: dg.AssetExecutionContext, config: ReadinessConfig, ledger: LedgerResource
) -> dg.MaterializeResult:  # type: ignore[type-arg]
    at = dt.datetime.now(dt.UTC)
    with ledger.transaction() as conn:
        kill = kill_switch_drill(conn, at)
        back = rollback_drill(conn, at)
        reviewer = (config.runbook_reviewed_by or "").strip()
        runbook = {"passed": bool(reviewer), "reviewed_by": reviewer or None}
        rows = [
            rehearsal_store.record_rehearsal(
                conn, kind=kind, passed=bool(result["passed"]), detail=result, actor=config.actor, at=at
            )
            for kind, result in (
                (rehearsal_store.KILL_SWITCH, kill),
                (rehearsal_store.ROLLBACK, back),
                (rehearsal_store.RUNBOOK, runbook),
            )
        ]
        append_entry(
            conn,
            entry_kind="operational_readiness",
            subject="drill",
            content={r["kind"]: {"passed": r["passed"], "evidence_hash": r["evidence_hash"]} for r in rows},
            recorded_at=at,
        )
    ready = all(r["passed"] for r in rows)
    table = markdown_table(
        ["rehearsal", "passed", "evidence"], [(r["kind"], r["passed"], r["evidence_hash"][:16]) for r in rows]
    )
    return dg.MaterializeResult(
        metadata={
            "ready": ready,
            "kill_switch_dry_run_passed": kill["passed"],
            "rollback_dry_run_passed": back["passed"],
            "runbook_validated": runbook["passed"],
            "detail": dg.MetadataValue.json({"kill_switch": kill, "rollback": back}),
            "summary": dg.MetadataValue.md(
                f"Operational readiness: **{'ready' if ready else 'NOT ready'}** at "
                f"{at.isoformat()}\n\n{table}"
            ),
        }
    )
