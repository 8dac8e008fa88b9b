"""Roll a lane back to its previous champion, halt it or resume it, with the incident and its evidence.

A rollback restores the lane's previous verified champion: it removes the current champion's whole
climb (every stage step it took), not one stage step; with no previous champion the lane goes flat
(shadow, default strategy) — see `domain/lane_rollout.py`. A halt keeps the stage but blocks new entries
(risk-reducing exits only; see `trade_decisions.entry_block`). Each writes the transition, a
`rollback_incidents` row with trigger, actor, before/after state and evidence refs, and an evidence-chain
entry, in one transaction. `apply_lane_action` does that inside a caller's transaction, so the live
re-evaluation (`services/live_reevaluation.py`) can roll back and halt atomically.

The drift check (`drift_breaches`) names each promoted lane whose trading since its stage took effect
breaches a drift limit; the rollback sensor turns each into a rollback run.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypedDict

from sqlalchemy.engine import Connection, Engine

from torghut_assets.domain.alerts import Alert, rollback_alert
from torghut_assets.domain.drift import drift_codes
from torghut_assets.domain.lane_rollout import LaneRollout, Transition, TransitionRefused, replay_lane
from torghut_assets.domain.lanes import LANES, UnknownLaneError
from torghut_assets.domain.stages import Stage, TransitionType, stage_index
from torghut_assets.ledger import promotion_records, rollback_incidents, rollout_store
from torghut_assets.ledger.evidence_log import append_entry
from torghut_assets.ledger.trading_record import lane_trading_record
from torghut_assets.services.gate_evidence import safety_state
from torghut_assets.services.ports import LedgerPort

Row = dict[str, Any]
DRIFT_SENSOR_ACTOR = "rollback_drift_sensor"


class LaneActionRequest(Protocol):
    """Who does what to which lane, and why (`LaneAction`, built by the Launchpad's
    `RollbackConfig.request()` and by the live re-evaluation, is one)."""

    @property
    def lane(self) -> str: ...

    @property
    def action(self) -> str: ...

    @property
    def actor(self) -> str: ...

    @property
    def reason(self) -> str: ...

    @property
    def trigger(self) -> str: ...


@dataclass(frozen=True)
class LaneAction:
    lane: str
    action: str
    actor: str
    reason: str
    trigger: str = "manual"


class LaneSnapshot(TypedDict):
    candidate_id: str | None
    stage: str
    halted: bool
    depth: int


class LaneActionResult(TypedDict):
    """The lane before and after, the transition row and (rollback, halt) the incident row."""

    before: LaneSnapshot
    after: LaneSnapshot
    transition: Row
    incident: Row | None


@dataclass(frozen=True)
class DriftBreach:
    lane: str
    seq: int  # the lane's latest transition: one rollback request per breach of a placement
    codes: tuple[str, ...]


def lane_snapshot(state: LaneRollout) -> LaneSnapshot:
    active = state.active
    return {
        "candidate_id": None if active is None else active.candidate_id,
        "stage": state.stage.value,
        "halted": state.halted,
        "depth": len(state.stack),
    }


def _transition(state: LaneRollout, request: LaneActionRequest, now: dt.datetime) -> Transition:
    if request.action == TransitionType.ROLLBACK:
        return state.rollback(at=now, reason=request.reason, actor=request.actor)
    if request.action == TransitionType.HALT:
        return state.halt(at=now, reason=request.reason, actor=request.actor)
    return state.resume(at=now, reason=request.reason, actor=request.actor)


def _demote(
    conn: Connection, before: LaneSnapshot, after: LaneSnapshot, *, reason: str, at: dt.datetime
) -> Row | None:
    """Lifecycle and `demote` rows for the candidate that lost (or lowered) its placement; returns the
    `demote` row (chained with the rollback's evidence entry), or None when no candidate left."""
    leaving, restored = before["candidate_id"], after["candidate_id"]
    if leaving is None:
        return None
    rows = promotion_records.candidate_rows(conn, [c for c in (leaving, restored) if c])
    demoted = rows.get(leaving)
    if demoted is None:
        return None
    if restored != leaving:
        promotion_records.set_lifecycle(conn, leaving, role="demoted", status="standby")
        if restored is not None:
            promotion_records.set_lifecycle(conn, restored, role="champion", status="active")
    demotion = promotion_records.rollback_demotion_row(
        demoted=demoted, before=dict(before), after=dict(after), reason=reason, at=at
    )
    promotion_records.insert_promotion(conn, demotion)
    return demotion


def _incident(
    conn: Connection,
    request: LaneActionRequest,
    result: LaneActionResult,
    *,
    reasons: list[str],
    refs: Mapping[str, Any],
    run_id: str,
    now: dt.datetime,
) -> Row:
    safety = safety_state(conn, request.lane)
    leaving = result["before"]["candidate_id"]
    evaluation = None if leaving is None else promotion_records.latest_gate_evaluation(conn, leaving)
    hooks = {
        "kill_switch_configured": True,
        "kill_switch_reason": "kill_switch_enabled" if safety.kill_switch_active else None,
        "emergency_stop_active": safety.emergency_stop_active,
        "order_submission_blocked": request.action == TransitionType.HALT or safety.kill_switch_active,
        "cancel_open_orders_attempted": False,
    }
    row = rollback_incidents.incident_row(
        lane=request.lane,
        action=request.action,
        actor=request.actor,
        trigger=request.trigger,
        before=dict(result["before"]),
        after=dict(result["after"]),
        transition=result["transition"],
        reasons=reasons,
        refs=refs,
        safety=safety,
        hooks=hooks,
        gate_evaluation_id=None if evaluation is None else str(evaluation["id"]),
        run_id=run_id,
        at=now,
    )
    rollback_incidents.insert_incident(conn, row)
    return row


def apply_lane_action(
    conn: Connection,
    request: LaneActionRequest,
    *,
    now: dt.datetime,
    run_id: str = "",
    reason_codes: Sequence[str] = (),
    gate_results: Sequence[Mapping[str, Any]] | None = None,
    blocking_gate: str | None = None,
    refs: Mapping[str, Any] | None = None,
) -> LaneActionResult:
    """Apply one action inside the caller's transaction: the transition, demote/lifecycle rows (rollback),
    the incident (rollback, halt) and the evidence entry. Raises TransitionRefused before writing anything.

    The stored reason codes (and incident reasons) are the trigger followed by `reason_codes`, or by the
    free-text reason when there are none; `refs` are extra evidence references kept on the incident.
    """
    state, seq = rollout_store.load_lane(conn, request.lane)
    before = lane_snapshot(state)
    transition = _transition(state, request, now)
    codes = [request.trigger, *(list(reason_codes) or [request.reason])]
    row = rollout_store.append_transition(
        conn,
        transition,
        after_seq=seq,
        from_candidate_id=before["candidate_id"],
        gate_results=gate_results,
        reason_codes=codes,
        blocking_gate=blocking_gate,
    )
    result: LaneActionResult = {
        "before": before,
        "after": lane_snapshot(state),
        "transition": row,
        "incident": None,
    }
    demotion = None
    if request.action == TransitionType.ROLLBACK:
        demotion = _demote(conn, before, result["after"], reason=request.reason, at=now)
    if request.action in (TransitionType.ROLLBACK, TransitionType.HALT):
        result["incident"] = _incident(
            conn, request, result, reasons=codes, refs=refs or {}, run_id=run_id, now=now
        )
    incident = result["incident"]
    append_entry(
        conn,
        entry_kind=f"lane_{request.action}",
        subject=request.lane,
        content={
            "transition": {k: v for k, v in row.items() if k != "created_at"},
            "incident_evidence_hash": None if incident is None else incident["evidence_hash"],
            # the `demote` row a rollback wrote, so the chain covers it (docs/evidence-pack.md)
            **(
                {}
                if demotion is None
                else {"demotion": {k: v for k, v in demotion.items() if k != "created_at"}}
            ),
        },
        lane=request.lane,
        recorded_at=now,
    )
    return result


def _request_dict(request: LaneActionRequest) -> dict[str, str]:
    return {
        "lane": request.lane,
        "action": request.action,
        "actor": request.actor,
        "reason": request.reason,
        "trigger": request.trigger,
    }


def run_rollback(
    request: LaneActionRequest, *, ledger: LedgerPort, now: dt.datetime, run_id: str = ""
) -> LaneActionResult:
    """Apply the action in one transaction; raises TransitionRefused (after recording the refusal) when it
    cannot apply."""
    refusal: TransitionRefused | None = None
    with ledger.engine.begin() as conn:
        try:
            result = apply_lane_action(conn, request, now=now, run_id=run_id)
        except TransitionRefused as refused:
            state, _ = rollout_store.load_lane(conn, request.lane)
            append_entry(
                conn,
                entry_kind="rollback_refused",
                subject=request.lane,
                content={
                    **_request_dict(request),
                    "code": refused.code,
                    "before": lane_snapshot(state),
                    "at": now,
                },
                lane=request.lane,
                recorded_at=now,
            )
            refusal = refused
    if refusal is not None:
        raise refusal
    return result


def incident_alerts(request: LaneActionRequest, result: LaneActionResult) -> list[Alert]:
    """A page per rollback or halt incident (a resume writes no incident and pages nobody)."""
    incident = result["incident"]
    if incident is None:
        return []
    return [
        rollback_alert(
            lane=request.lane,
            action=request.action,
            incident_id=str(incident["id"]),
            before=result["before"],
            after=result["after"],
            actor=request.actor,
            trigger=request.trigger,
            reason=request.reason,
        )
    ]


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


def drift_breaches(engine: Engine) -> list[DriftBreach]:
    """Each promoted lane whose trading since its placement took effect breaches a drift limit."""
    breaches = []
    with engine.connect() as conn:
        for lane, (_state, since, seq) in _promoted_lanes(conn).items():
            codes = drift_codes(lane_trading_record(conn, lane, since, LANES[lane].equity))
            if codes:
                breaches.append(DriftBreach(lane, seq, tuple(codes)))
    return breaches
