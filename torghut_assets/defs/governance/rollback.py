"""`rollback_job` (restore the lane's previous champion, halt the lane, or resume it) and the drift sensor.

The use case is `services/rollback.py`: a rollback restores the lane's previous verified champion (its
whole climb comes off; flat when there is none), a halt keeps the stage but blocks new entries, a resume
lifts a halt. Each writes the transition, a `rollback_incidents` row (rollback, halt) and an
evidence-chain entry in one transaction; a refused action is recorded and fails the run. The drift
sensor launches a rollback when a promoted lane breaches a drift limit since its stage took effect.
"""

import datetime as dt

import dagster as dg
from pydantic import Field, field_validator

from torghut_assets.defs.alerts import AlertsResource, alert_metadata
from torghut_assets.defs.config_rules import attributed, configured_lane
from torghut_assets.defs.pod_resources import GOVERNANCE_POD
from torghut_assets.defs.resources import LedgerResource
from torghut_assets.domain.lane_rollout import TransitionRefused
from torghut_assets.domain.stages import TransitionType
from torghut_assets.services.rollback import DRIFT_SENSOR_ACTOR, drift_breaches, incident_alerts, run_rollback

ACTIONS = (TransitionType.ROLLBACK, TransitionType.HALT, TransitionType.RESUME)


class RollbackConfig(dg.Config):
    lane: str = Field(description="lane to act on, e.g. macd_rsi")
    action: str = Field(default=TransitionType.ROLLBACK.value, description="rollback | halt | resume")
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
    requests = [
        dg.RunRequest(
            run_key=f"drift:{breach.lane}:{breach.seq}:{','.join(breach.codes)}",
            run_config=dg.RunConfig(
                ops={
                    "apply_rollback": RollbackConfig(
                        lane=breach.lane,
                        action=TransitionType.ROLLBACK,
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
