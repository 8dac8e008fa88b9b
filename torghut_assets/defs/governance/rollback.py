"""`rollback_job` (restore the lane's previous champion, halt the lane, or resume it) and the drift sensor.

The use case is `services/rollback.py`: a rollback restores the lane's previous verified champion (its
whole climb comes off; flat when there is none), a halt keeps the stage but blocks new entries, a resume
lifts a halt. Each writes the transition, a `rollback_incidents` row (rollback, halt) and an
evidence-chain entry in one transaction; a refused action is recorded and fails the run. The drift
sensor launches a rollback when a promoted lane breaches a drift limit since its stage took effect.
"""

import datetime as dt

import dagster as dg
from pydantic import Field

from torghut_assets.defs.alerts import AlertsResource, alert_metadata
from torghut_assets.defs.launchpad import Lane, LaneAction, lane_name, required_text
from torghut_assets.defs.pod_resources import GOVERNANCE_POD
from torghut_assets.defs.resources import LedgerResource
from torghut_assets.domain.lane_rollout import TransitionRefused
from torghut_assets.services import rollback as lane_actions
from torghut_assets.services.rollback import DRIFT_SENSOR_ACTOR, drift_breaches, incident_alerts, run_rollback


class RollbackConfig(dg.Config):
    """The Launchpad form of a lane action: lane and action are enums Dagster checks at launch; actor and
    reason are checked by `request()`, the step's first act, before anything is read or written."""

    lane: Lane = Field(description="lane to act on: one of the catalog's lanes, e.g. macd_rsi")  # type: ignore[valid-type]
    action: LaneAction = Field(default=LaneAction.rollback, description="rollback, halt or resume")
    actor: str = Field(description="who (or which sensor) acts (required)")
    reason: str = Field(description="why; stored on the transition and the incident (required)")
    trigger: str = Field(default="manual", description="manual, drift, risk_breach, incident, …")

    def request(self) -> lane_actions.LaneAction:
        """The action the service applies, in the ledger's words; a blank actor, reason or trigger is
        refused with one sentence naming the field."""
        return lane_actions.LaneAction(
            lane=lane_name(self.lane),
            action=self.action.value,
            actor=required_text("actor", self.actor),
            reason=required_text("reason", self.reason),
            trigger=required_text("trigger", self.trigger),
        )


@dg.op(
    description="Restore the lane's previous champion, halt or resume it; records the incident and evidence."
)
def apply_rollback(
    context: dg.OpExecutionContext, config: RollbackConfig, ledger: LedgerResource, alerts: AlertsResource
) -> dg.Output[str]:
    request = config.request()
    try:
        result = run_rollback(request, ledger=ledger, now=dt.datetime.now(dt.UTC), run_id=context.run_id)
    except TransitionRefused as refused:
        raise dg.Failure(
            description=f"{request.action} refused for lane {request.lane}: {refused}"
        ) from refused
    sent = alerts.send(ledger, incident_alerts(request, result), context.log)
    before, after = result["before"], result["after"]
    summary = (
        f"**{request.action}** lane `{request.lane}` by {request.actor} ({request.trigger}): "
        f"`{before['candidate_id']}`@{before['stage']} → `{after['candidate_id']}`@{after['stage']}"
        f"{' (halted)' if after['halted'] else ''}\n\nreason: {request.reason}"
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
    requests = [
        dg.RunRequest(
            run_key=f"drift:{breach.lane}:{breach.seq}:{','.join(breach.codes)}",
            run_config=dg.RunConfig(
                ops={
                    "apply_rollback": RollbackConfig(
                        lane=breach.lane,
                        action=LaneAction.rollback,
                        actor=DRIFT_SENSOR_ACTOR,
                        reason=",".join(breach.codes),
                        trigger="drift",
                    )
                }
            ),
            tags={"torghut/lane": breach.lane, "torghut/trigger": "drift"},
        )
        for breach in drift_breaches(ledger.engine)
    ]
    return dg.SensorResult(run_requests=requests)
