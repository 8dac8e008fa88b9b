"""`promotion_timeline`: every stage change per lane (what was live when) and each lane's current stage.

Each change shows its trigger and reason codes (e.g. `live_gate_failure` and the failing gates of a live
re-evaluation), and rollbacks and halts are listed again with their incident: who or what acted, the
lane before and after, and why. Refreshed by `promotion_timeline_sensor` whenever the rollout log grows,
and on demand.
"""

from typing import Any

import dagster as dg
import sqlalchemy as sa

from torghut_assets.defs.metadata import markdown_table
from torghut_assets.defs.resources import LedgerResource
from torghut_assets.domain.lanes import LANES
from torghut_assets.ledger import rollout_store, schema
from torghut_assets.ledger.queries import as_utc


@dg.asset(
    group_name="governance",
    kinds={"sql"},
    description="Stage changes per lane (advance, rollback, halt, resume) and each lane's current stage.",
)
def promotion_timeline(ledger: LedgerResource) -> dg.MaterializeResult:  # type: ignore[type-arg]
    with ledger.read() as conn:
        history = rollout_store.lane_history(conn)
        current = rollout_store.current_stages(conn)
        incidents = _incidents(conn)
    lanes = sorted(set(LANES) | set(current))
    now_rows = []
    for lane in lanes:
        state = current.get(lane)
        active = None if state is None else state.active
        now_rows.append(
            (
                lane,
                "shadow" if state is None else state.stage.value,
                "—" if active is None else active.candidate_id,
                "yes" if state is not None and state.halted else "no",
            )
        )
    change_rows = [
        (
            h.transition.lane,
            h.seq,
            h.transition.at.isoformat(),
            h.transition.transition_type,
            h.from_candidate_id or "—",
            h.transition.candidate_id or "—",
            f"{h.transition.from_stage.value} → {h.transition.to_stage.value}",
            h.transition.actor,
            h.transition.reason,
            ", ".join(h.reason_codes) or "—",
            h.evidence_hash[:12],
        )
        for h in history
    ]
    kinds = {h.transition_id: h.transition.transition_type for h in history}
    incident_rows = [
        (
            i["lane"] or "—",
            i["triggered_at"].isoformat(),
            kinds.get(str(i["transition_id"]), "—"),
            i["trigger"] or "—",
            i["actor"] or "—",
            _placement(i["before_state"]),
            _placement(i["after_state"]),
            ", ".join(str(r) for r in i["reasons"] or []) or "—",
        )
        for i in incidents
    ]
    summary = (
        "## Current stage per lane\n\n"
        + markdown_table(["lane", "stage", "candidate", "halted"], now_rows)
        + "\n\n## Stage changes\n\n"
        + (
            markdown_table(
                [
                    "lane",
                    "seq",
                    "at",
                    "type",
                    "from candidate",
                    "candidate",
                    "stage",
                    "actor",
                    "reason",
                    "trigger / codes",
                    "evidence",
                ],
                change_rows,
            )
            if change_rows
            else "_No stage changes yet: every lane trades its default strategy in shadow._"
        )
        + (
            "\n\n## Rollbacks and halts\n\n"
            + markdown_table(
                ["lane", "at", "type", "trigger", "actor", "before", "after", "reasons"], incident_rows
            )
            if incident_rows
            else ""
        )
    )
    return dg.MaterializeResult(
        metadata={
            "transitions": len(history),
            "lanes_promoted": sum(1 for s in current.values() if s.active is not None),
            "lanes_halted": sum(1 for s in current.values() if s.halted),
            "rollbacks": sum(1 for h in history if h.transition.transition_type == "rollback"),
            "halts": sum(1 for h in history if h.transition.transition_type == "halt"),
            "current_stage": dg.MetadataValue.json({row[0]: row[1] for row in now_rows}),
            "summary": dg.MetadataValue.md(summary),
        }
    )


def _incidents(conn: sa.Connection) -> list[dict[str, Any]]:
    t = schema.rollback_incidents
    rows = conn.execute(sa.select(t).order_by(t.c.triggered_at, t.c.id)).mappings()
    return [{**r, "triggered_at": as_utc(r["triggered_at"])} for r in rows]


def _placement(state: Any) -> str:
    if not isinstance(state, dict):
        return "—"
    held = f"{state.get('candidate_id') or '—'}@{state.get('stage')}"
    return held + (" (halted)" if state.get("halted") else "")


promotion_timeline_job = dg.define_asset_job(
    "promotion_timeline_job", selection=[promotion_timeline], description="Refresh the promotion timeline."
)


@dg.sensor(
    job=promotion_timeline_job,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Refresh promotion_timeline when a rollout transition is recorded.",
)
def promotion_timeline_sensor(context: dg.SensorEvaluationContext, ledger: LedgerResource) -> dg.SensorResult:
    t = schema.rollout_transitions
    with ledger.read() as conn:
        count = conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one()
    cursor = str(count)
    if context.cursor == cursor:
        return dg.SensorResult(skip_reason=f"no new transitions ({count})")
    return dg.SensorResult(run_requests=[dg.RunRequest(run_key=f"timeline:{count}")], cursor=cursor)
