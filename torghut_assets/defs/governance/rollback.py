"""`rollback_job` (restore the lane's previous champion, halt the lane, or resume it) and the drift sensor.

A rollback restores the lane's previous verified champion: it removes the current champion's whole
climb (every stage step it took), not one stage step; with no previous champion the lane goes flat
(shadow, default strategy) — see `domain/lane_rollout.py`. A halt keeps the stage but blocks new entries
(risk-reducing exits only; see `trade_decisions.entry_block`). Each writes the transition, a
`rollback_incidents` row with trigger, actor, before/after state and evidence refs, and an evidence-chain
entry, in one transaction. `apply_lane_action` does that inside a caller's transaction, so the live
re-evaluation (`defs/governance/live_reevaluation.py`) can roll back and halt atomically.
"""

import datetime as dt
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import dagster as dg
import sqlalchemy as sa
from pydantic import Field, field_validator
from sqlalchemy.engine import Connection

from torghut_assets.defs.alerts import AlertsResource, alert_metadata
from torghut_assets.defs.config_rules import attributed, configured_lane
from torghut_assets.defs.governance.gate_inputs import safety_state
from torghut_assets.defs.pod_resources import GOVERNANCE_POD
from torghut_assets.defs.resources import LedgerResource
from torghut_assets.domain.alerts import Alert, rollback_alert
from torghut_assets.domain.drift import drift_codes
from torghut_assets.domain.evidence import canonical_json, sha256_hex
from torghut_assets.domain.lane_rollout import (
    HALT,
    RESUME,
    ROLLBACK,
    LaneRollout,
    Transition,
    TransitionRefused,
    replay_lane,
)
from torghut_assets.domain.lanes import LANES, UnknownLaneError
from torghut_assets.domain.stages import Stage, stage_index
from torghut_assets.ledger import promotion_records, rollout_store, schema
from torghut_assets.ledger.evidence_log import append_entry
from torghut_assets.ledger.trading_record import lane_trading_record

ACTIONS = (ROLLBACK, HALT, RESUME)


class RollbackConfig(dg.Config):
    lane: str = Field(description="lane to act on, e.g. macd_rsi")
    action: str = Field(default=ROLLBACK, description="rollback | halt | resume")
    actor: str = Field(description="who (or which sensor) acts")
    reason: str = Field(description="why; stored on the transition and the incident")
    trigger: str = Field(default="manual", description="manual, drift, risk_breach, incident, …")

    @field_validator("action")
    @classmethod
    def _known_action(cls, value: str) -> str:
        if value not in ACTIONS:
            raise ValueError(f"action {value!r} is not one of {', '.join(ACTIONS)}")
        return value

    _known_lane = field_validator("lane")(configured_lane)
    _not_blank = field_validator("actor", "reason")(attributed)


def lane_snapshot(state: LaneRollout) -> dict[str, Any]:
    active = state.active
    return {
        "candidate_id": None if active is None else active.candidate_id,
        "stage": state.stage.value,
        "halted": state.halted,
        "depth": len(state.stack),
    }


def _latest_gate_evaluation(conn: Connection, candidate_id: str | None) -> str | None:
    if candidate_id is None:
        return None
    t = schema.gate_evaluations
    row = conn.execute(
        sa.select(t.c.id).where(t.c.candidate_id == candidate_id).order_by(t.c.evaluated_at.desc()).limit(1)
    ).first()
    return None if row is None else str(row[0])


def _demote_rows(
    conn: Connection, before: dict[str, Any], after: dict[str, Any], *, reason: str, at: dt.datetime
) -> None:
    """Lifecycle and `demote` rows for the candidate that lost (or lowered) its placement."""
    leaving, restored = before["candidate_id"], after["candidate_id"]
    if leaving is None:
        return
    rows = promotion_records.candidate_rows(conn, [c for c in (leaving, restored) if c])
    demoted = rows.get(leaving)
    if demoted is None:
        return
    if restored != leaving:
        promotion_records.set_lifecycle(conn, leaving, role="demoted", status="standby")
        if restored is not None:
            promotion_records.set_lifecycle(conn, restored, role="champion", status="active")
    text = canonical_json(
        {"candidate_id": leaving, "decision_action": "demote", "to_stage": after["stage"], "reason": reason}
    )
    conn.execute(
        schema.research_promotions.insert().values(
            id=str(uuid.uuid4()),
            candidate_id=leaving,
            requested_mode=after["stage"] if restored == leaving else "shadow",
            approved_mode=after["stage"] if restored == leaving else "shadow",
            approver=promotion_records.GATES_APPROVER,
            approver_role="rollback_job",
            approve_reason=text,
            effective_time=at,
            decision_action="demote",
            decision_rationale=f"rolled_back:{reason}",
            evidence_bundle={"before": before, "after": after},
            rollback_candidate_id=restored,
            run_id=demoted["run_id"],
            lane=demoted["lane"],
            window_start=demoted["window_start"],
            created_at=at,
        )
    )


def _apply(state: LaneRollout, config: RollbackConfig, now: dt.datetime) -> Transition:
    if config.action == ROLLBACK:
        return state.rollback(at=now, reason=config.reason, actor=config.actor)
    if config.action == HALT:
        return state.halt(at=now, reason=config.reason, actor=config.actor)
    return state.resume(at=now, reason=config.reason, actor=config.actor)


def apply_lane_action(
    conn: Connection,
    config: RollbackConfig,
    *,
    now: dt.datetime,
    run_id: str = "",
    reason_codes: Sequence[str] = (),
    gate_results: Sequence[Mapping[str, Any]] | None = None,
    blocking_gate: str | None = None,
    refs: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Apply one action inside the caller's transaction: the transition, demote/lifecycle rows (rollback),
    the incident (rollback, halt) and the evidence entry. Raises TransitionRefused before writing anything.

    The stored reason codes (and incident reasons) are the trigger followed by `reason_codes`, or by the
    free-text reason when there are none; `refs` are extra evidence references kept on the incident.
    """
    state, seq = rollout_store.load_lane(conn, config.lane)
    before = lane_snapshot(state)
    transition = _apply(state, config, now)
    after = lane_snapshot(state)
    codes = [config.trigger, *(list(reason_codes) or [config.reason])]
    row = rollout_store.append_transition(
        conn,
        transition,
        after_seq=seq,
        from_candidate_id=before["candidate_id"],
        gate_results=gate_results,
        reason_codes=codes,
        blocking_gate=blocking_gate,
    )
    if config.action == ROLLBACK:
        _demote_rows(conn, before, after, reason=config.reason, at=now)
    incident = None
    if config.action in (ROLLBACK, HALT):
        incident = _incident_row(conn, config, before, after, row, now, run_id, codes, refs or {})
        conn.execute(schema.rollback_incidents.insert().values(**incident))
    append_entry(
        conn,
        entry_kind=f"lane_{config.action}",
        subject=config.lane,
        content={
            "transition": {k: v for k, v in row.items() if k != "created_at"},
            "incident_evidence_hash": None if incident is None else incident["evidence_hash"],
        },
        lane=config.lane,
        recorded_at=now,
    )
    return {"before": before, "after": after, "transition": row, "incident": incident}


def run_rollback(
    config: RollbackConfig, *, ledger: LedgerResource, now: dt.datetime, run_id: str = ""
) -> dict[str, Any]:
    """Apply the action; raises TransitionRefused (after recording the refusal) when it cannot apply."""
    refusal: TransitionRefused | None = None
    with ledger.transaction() as conn:
        try:
            result = apply_lane_action(conn, config, now=now, run_id=run_id)
        except TransitionRefused as refused:
            state, _ = rollout_store.load_lane(conn, config.lane)
            append_entry(
                conn,
                entry_kind="rollback_refused",
                subject=config.lane,
                content={
                    **config.model_dump(),
                    "code": refused.code,
                    "before": lane_snapshot(state),
                    "at": now,
                },
                lane=config.lane,
                recorded_at=now,
            )
            refusal = refused
    if refusal is not None:
        raise refusal
    return result


def _incident_row(
    conn: Connection,
    config: RollbackConfig,
    before: dict[str, Any],
    after: dict[str, Any],
    transition: dict[str, Any],
    now: dt.datetime,
    run_id: str,
    reasons: list[str],
    refs: Mapping[str, Any],
) -> dict[str, Any]:
    safety = safety_state(conn, config.lane)
    leaving_eval = _latest_gate_evaluation(conn, before["candidate_id"])
    hooks = {
        "kill_switch_configured": True,
        "kill_switch_reason": "kill_switch_enabled" if safety.kill_switch_active else None,
        "emergency_stop_active": safety.emergency_stop_active,
        "order_submission_blocked": config.action == HALT or safety.kill_switch_active,
        "cancel_open_orders_attempted": False,
    }
    content = {
        "triggered_at": now,
        "reasons": reasons,
        "lane": config.lane,
        "action": config.action,
        "actor": config.actor,
        "before": before,
        "after": after,
        "transition_id": transition["transition_id"],
        "transition_evidence_hash": transition["evidence_hash"],
        "gate_evaluation_id": leaving_eval,
        **({"refs": dict(refs)} if refs else {}),
    }
    evidence_hash = sha256_hex(content)
    complete = all(
        content.get(k) is not None for k in ("triggered_at", "reasons", "before", "after", "actor")
    )
    return {
        "id": str(uuid.uuid4()),
        "triggered_at": now,
        "reasons": reasons,
        "safety_snapshot": {
            "continuity_alert_active": safety.continuity_alert_active,
            "emergency_stop_active": safety.emergency_stop_active,
            "kill_switch_active": safety.kill_switch_active,
        },
        "rollback_hooks": hooks,
        "provenance": {"dagster_run_id": run_id, "gate_evaluation_id": leaving_eval},
        "cancelled_open_orders": [],
        "verification": {"incident_evidence_complete": complete},
        "evidence_hash": evidence_hash,
        "lane": config.lane,
        "transition_id": transition["transition_id"],
        "trigger": config.trigger,
        "actor": config.actor,
        "before_state": before,
        "after_state": after,
        "evidence_refs": {
            "transition_evidence_hash": transition["evidence_hash"],
            "gate_evaluation_id": leaving_eval,
            **refs,
        },
        "created_at": now,
    }


def incident_alerts(config: RollbackConfig, result: dict[str, Any]) -> list[Alert]:
    """A page per rollback or halt incident (a resume writes no incident and pages nobody)."""
    incident = result["incident"]
    if incident is None:
        return []
    return [
        rollback_alert(
            lane=config.lane,
            action=config.action,
            incident_id=str(incident["id"]),
            before=result["before"],
            after=result["after"],
            actor=config.actor,
            trigger=config.trigger,
            reason=config.reason,
        )
    ]


@dg.op(
    description="Restore the lane's previous champion, halt or resume it; records the incident and evidence."
)
def apply_rollback(
    context: dg.OpExecutionContext, config: RollbackConfig, ledger: LedgerResource, alerts: AlertsResource
) -> dg.Output[str]:
    try:
        result = run_rollback(config, ledger=ledger, now=dt.datetime.now(dt.UTC), run_id=context.run_id)
    except TransitionRefused as refused:
        raise dg.Failure(
            description=f"{config.action} refused for lane {config.lane}: {refused}"
        ) from refused
    sent = alerts.send(ledger, incident_alerts(config, result), context.log)
    before, after = result["before"], result["after"]
    summary = (
        f"**{config.action}** lane `{config.lane}` by {config.actor} ({config.trigger}): "
        f"`{before['candidate_id']}`@{before['stage']} → `{after['candidate_id']}`@{after['stage']}"
        f"{' (halted)' if after['halted'] else ''}\n\nreason: {config.reason}"
    )
    return dg.Output(
        result["transition"]["transition_id"],
        metadata={
            "before": dg.MetadataValue.json(before),
            "after": dg.MetadataValue.json(after),
            "transition_id": result["transition"]["transition_id"],
            "evidence_hash": result["transition"]["evidence_hash"],
            "summary": dg.MetadataValue.md(summary),
            **alert_metadata(sent),
        },
    )


@dg.job(
    description="Roll a lane back to its previous verified champion (or flat), halt it, or resume it.",
    tags={"torghut/pipeline": "rollback", "torghut/ledger_heavy": "governance", **GOVERNANCE_POD.tag()},
)
def rollback_job() -> None:
    apply_rollback()


@dg.sensor(
    job=rollback_job,
    minimum_interval_seconds=300,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Launch a rollback when a promoted lane breaches a drift limit since its stage took effect.",
)
def rollback_drift_sensor(context: dg.SensorEvaluationContext, ledger: LedgerResource) -> dg.SensorResult:
    requests = []
    with ledger.read() as conn:
        for lane, history in _promoted_lanes(conn).items():
            _state, since, seq = history
            record = lane_trading_record(conn, lane, since, LANES[lane].equity)
            codes = drift_codes(record)
            if not codes:
                continue
            requests.append(
                dg.RunRequest(
                    run_key=f"drift:{lane}:{seq}:{','.join(codes)}",
                    run_config=dg.RunConfig(
                        ops={
                            "apply_rollback": RollbackConfig(
                                lane=lane,
                                action=ROLLBACK,
                                actor="rollback_drift_sensor",
                                reason=",".join(codes),
                                trigger="drift",
                            )
                        }
                    ),
                    tags={"torghut/lane": lane, "torghut/trigger": "drift"},
                )
            )
    return dg.SensorResult(run_requests=requests)


def _promoted_lanes(conn: Connection) -> dict[str, tuple[LaneRollout, dt.datetime, int]]:
    """Lanes trading a promoted candidate at paper or above, not halted, with when that began."""
    out: dict[str, tuple[LaneRollout, dt.datetime, int]] = {}
    for lane, history in rollout_store.histories_by_lane(conn).items():
        state = replay_lane(lane, (h.transition for h in history))
        if state.halted or state.active is None or stage_index(state.stage) < stage_index(Stage.PAPER):
            continue
        if lane not in LANES:
            raise UnknownLaneError(f"rollout log names unknown lane {lane!r}")
        out[lane] = (state, history[-1].transition.at, history[-1].seq)
    return out
