"""`promotion_timeline`: every stage change per lane (what was live when) and each lane's current stage.

Refreshed by `promotion_timeline_sensor` whenever the rollout log grows, and on demand.
"""

import dagster as dg
import sqlalchemy as sa

from torghut_assets.defs.metadata import markdown_table
from torghut_assets.defs.resources import LedgerResource
from torghut_assets.domain.lanes import LANES
from torghut_assets.ledger import rollout_store, schema


@dg.asset(
    group_name="governance",
    kinds={"sql"},
    description="Stage changes per lane (advance, rollback, halt, resume) and each lane's current stage.",
)
def promotion_timeline(ledger: LedgerResource) -> dg.MaterializeResult:  # type: ignore[type-arg]
    with ledger.read() as conn:
        history = rollout_store.lane_history(conn)
        current = rollout_store.current_stages(conn)
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
            h.evidence_hash[:12],
        )
        for h in history
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
                    "evidence",
                ],
                change_rows,
            )
            if change_rows
            else "_No stage changes yet: every lane trades its default strategy in shadow._"
        )
    )
    return dg.MaterializeResult(
        metadata={
            "transitions": len(history),
            "lanes_promoted": sum(1 for s in current.values() if s.active is not None),
            "lanes_halted": sum(1 for s in current.values() if s.halted),
            "current_stage": dg.MetadataValue.json({row[0]: row[1] for row in now_rows}),
            "summary": dg.MetadataValue.md(summary),
        }
    )


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
