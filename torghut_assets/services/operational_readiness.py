"""Rehearse the kill switch and the rollback path for real, then undo them: gate 4's evidence.

Why for real: a drill that only reads configuration proves nothing about what the pipeline does when the
switch flips. Each drill runs inside a savepoint that is always rolled back: it writes the very rows
production would write (a kill-switch event, a halt and a rollback transition per lane), checks that
the pipeline reads them as it must (entries blocked, the previous champion restored), and leaves the
ledger untouched. Only the outcome is kept, as an `operational_rehearsals` row that gate 4 reads (fresh
for 72 h by policy), plus one evidence-chain entry naming the three outcomes.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Connection, Engine

from torghut_assets.domain.lane_rollout import TransitionRefused
from torghut_assets.domain.lanes import LANES
from torghut_assets.ledger import rehearsal_store, rollout_store, route_controls
from torghut_assets.ledger.evidence_log import append_entry
from torghut_assets.services.trade_planning import entry_block

DRILL_ACTOR = "operational_readiness_drill"
# What a halted lane may report instead of `lane_halted`: an earlier block that refuses entries too.
HALT_BLOCKS = (
    "lane_halted",
    "kill_switch_enabled",
    "emergency_stop_active",
    "signal_continuity_alert_active",
)

Row = dict[str, Any]


@dataclass(frozen=True)
class ReadinessDrills:
    """The three rehearsals as recorded (`rows`, one per kind) and the drills' detail."""

    kill_switch: Row
    rollback: Row
    runbook: Row
    rows: list[Row]
    at: dt.datetime

    @property
    def ready(self) -> bool:
        return all(r["passed"] for r in self.rows)


def _blocked_reason(conn: Connection, lane: str) -> str | None:
    block = entry_block(conn, lane)
    return None if block is None else block.reason


def kill_switch_drill(conn: Connection, at: dt.datetime) -> Row:
    """Switch trading off inside a savepoint; every lane must then refuse new entries."""
    savepoint = conn.begin_nested()
    try:
        before = {lane: _blocked_reason(conn, lane) for lane in sorted(LANES)}
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
        blocked = {lane: _blocked_reason(conn, lane) for lane in sorted(LANES)}
    finally:
        savepoint.rollback()
    # A lane already blocked by an earlier reason (halt, emergency stop, alert) reports that one: it
    # still refuses entries, so it does not fail the drill.
    passed = all(
        reason == "kill_switch_enabled" or (reason is not None and reason == before[lane])
        for lane, reason in blocked.items()
    )
    return {"passed": passed, "entry_block_by_lane": blocked, "blocked_before_drill": before}


def _lane_rollback_drill(conn: Connection, lane: str, at: dt.datetime) -> Row:
    """Halt the lane (unless halted) and roll it back (when something is promoted), then check it."""
    state, seq = rollout_store.load_lane(conn, lane)
    expected_after = (
        state.stack[: len(state.stack) - len(state.rollback_plan().removed)] if state.stack else []
    )
    result: Row = {"stage_before": state.stage.value}
    if not state.halted:
        halt = state.halt(at=at, reason="readiness drill", actor=DRILL_ACTOR)
        rollout_store.append_transition(conn, halt, after_seq=seq, reason_codes=["drill"])
        seq += 1
        result["halt_blocks_entries"] = _blocked_reason(conn, lane) in HALT_BLOCKS
    if state.stack:
        back = state.rollback(at=at, reason="readiness drill", actor=DRILL_ACTOR)
        rollout_store.append_transition(conn, back, after_seq=seq, reason_codes=["drill"])
        reloaded, _ = rollout_store.load_lane(conn, lane)
        result["rollback_restores_previous"] = reloaded.stack == expected_after and not reloaded.halted
    result["passed"] = all(v for k, v in result.items() if k not in ("stage_before",))
    return result


def rollback_drill(conn: Connection, at: dt.datetime) -> Row:
    """Halt and (where something is promoted) roll back each lane inside a savepoint, then check the state."""
    lanes: dict[str, Row] = {}
    for lane in sorted(LANES):
        savepoint = conn.begin_nested()
        try:
            lanes[lane] = _lane_rollback_drill(conn, lane, at)
        except TransitionRefused as refused:
            lanes[lane] = {"passed": False, "error": str(refused)}
        finally:
            savepoint.rollback()
    return {"passed": all(r["passed"] for r in lanes.values()), "lanes": lanes}


def run_drills(
    engine: Engine, *, actor: str, runbook_reviewed_by: str | None, at: dt.datetime
) -> ReadinessDrills:
    """Both drills and the runbook attestation (a named reviewer, or not validated), recorded in one
    transaction with their evidence-chain entry."""
    with engine.begin() as conn:
        kill = kill_switch_drill(conn, at)
        back = rollback_drill(conn, at)
        reviewer = (runbook_reviewed_by or "").strip()
        runbook = {"passed": bool(reviewer), "reviewed_by": reviewer or None}
        rows = [
            rehearsal_store.record_rehearsal(
                conn, kind=kind, passed=bool(result["passed"]), detail=result, actor=actor, at=at
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
    return ReadinessDrills(kill, back, runbook, rows, at)
