"""`promotion_timeline`: every stage change per lane (what was live when) and each lane's current stage.

Each change shows its trigger and reason codes (e.g. `live_gate_failure` and the failing gates of a live
re-evaluation), and rollbacks and halts are listed again with their incident: who or what acted, the
lane before and after, and why (read by `services/promotion_timeline.py`; rendered here). Refreshed by
`promotion_timeline_sensor` whenever the rollout log grows, and on demand.
"""

from typing import Any

import dagster as dg

from torghut_assets.defs.metadata import markdown_table
from torghut_assets.defs.resources import LedgerResource
from torghut_assets.domain.lanes import LANES
from torghut_assets.domain.stages import TransitionType
from torghut_assets.services.promotion_timeline import PromotionTimeline, load_timeline, transition_count

CHANGE_COLUMNS = [
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
]
INCIDENT_COLUMNS = ["lane", "at", "type", "trigger", "actor", "before", "after", "reasons"]
Row = tuple[Any, ...]


def _current_rows(timeline: PromotionTimeline) -> list[Row]:
    rows: list[Row] = []
    for lane in sorted(set(LANES) | set(timeline.current)):
        state = timeline.current.get(lane)
        active = None if state is None else state.active
        rows.append(
            (
                lane,
                "shadow" if state is None else state.stage.value,
                "—" if active is None else active.candidate_id,
                "yes" if state is not None and state.halted else "no",
            )
        )
    return rows


def _change_rows(timeline: PromotionTimeline) -> list[Row]:
    return [
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
        for h in timeline.history
    ]


def _incident_rows(timeline: PromotionTimeline) -> list[Row]:
    kinds = timeline.transition_types()
    return [
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
        for i in timeline.incidents
    ]


def _summary(now_rows: list[Row], change_rows: list[Row], incident_rows: list[Row]) -> str:
    changes = (
        markdown_table(CHANGE_COLUMNS, change_rows)
        if change_rows
        else "_No stage changes yet: every lane trades its default strategy in shadow._"
    )
    incidents = (
        "\n\n## Rollbacks and halts\n\n" + markdown_table(INCIDENT_COLUMNS, incident_rows)
        if incident_rows
        else ""
    )
    return (
        "## Current stage per lane\n\n"
        + markdown_table(["lane", "stage", "candidate", "halted"], now_rows)
        + "\n\n## Stage changes\n\n"
        + changes
        + incidents
    )


@dg.asset(
    group_name="governance",
    kinds={"sql"},
    description="Stage changes per lane (advance, rollback, halt, resume) and each lane's current stage.",
)
def promotion_timeline(ledger: LedgerResource) -> dg.MaterializeResult:  # type: ignore[type-arg]
    timeline = load_timeline(ledger.engine)
    history = timeline.history
    now_rows = _current_rows(timeline)
    summary = _summary(now_rows, _change_rows(timeline), _incident_rows(timeline))
    return dg.MaterializeResult(
        metadata={
            "transitions": len(history),
            "lanes_promoted": timeline.lanes_promoted,
            "lanes_halted": timeline.lanes_halted,
            "rollbacks": timeline.count(TransitionType.ROLLBACK),
            "halts": timeline.count(TransitionType.HALT),
            "current_stage": dg.MetadataValue.json({row[0]: row[1] for row in now_rows}),
            "summary": dg.MetadataValue.md(summary),
        }
    )


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
    count = transition_count(ledger.engine)
    cursor = str(count)
    if context.cursor == cursor:
        return dg.SensorResult(skip_reason=f"no new transitions ({count})")
    return dg.SensorResult(run_requests=[dg.RunRequest(run_key=f"timeline:{count}")], cursor=cursor)
