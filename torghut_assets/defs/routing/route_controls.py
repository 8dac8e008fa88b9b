"""`set_route_control` job: flip the LEAN kill switch or clear a symbol's manual review, from the Launchpad.

No redeploy and no env change: the executions asset reads the latest control event at each window.
"""

import re

import dagster as dg
import pandas as pd
from pydantic import Field, field_validator

from torghut_assets.defs.resources import BrokerResource, LedgerResource
from torghut_assets.ledger.route_controls import LEAN_KILL_SWITCH, MANUAL_REVIEW_PREFIX, TRADING_KILL_SWITCH
from torghut_assets.services.route_controls import change_route_control

_CONTROL = re.compile(
    rf"^({LEAN_KILL_SWITCH}|{TRADING_KILL_SWITCH}|{MANUAL_REVIEW_PREFIX}[A-Z][A-Z0-9.]{{0,15}})$"
)


class RouteControlConfig(dg.Config):
    control: str = Field(description="`lean_kill_switch`, `trading_kill_switch` or `manual_review:<SYMBOL>`")
    enabled: bool = Field(description="true = switch on / keep symbol in review; false = off / release")
    reason: str = Field(description="why; stored with the event")
    operator: str = Field(description="who; stored with the event")

    @field_validator("control")
    @classmethod
    def _known_control(cls, value: str) -> str:
        if not _CONTROL.match(value):
            raise ValueError(
                f"unknown route control {value!r}: use {LEAN_KILL_SWITCH} or {MANUAL_REVIEW_PREFIX}SYMBOL"
            )
        return value

    @field_validator("reason", "operator")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank: every route control change is attributed and explained")
        return value.strip()


@dg.op(description="Append a route control event to the ledger.")
def record_route_control(
    context: dg.OpExecutionContext, config: RouteControlConfig, ledger: LedgerResource, broker: BrokerResource
) -> dg.Output[str]:
    """Turning the trading kill switch on cancels every open order at every venue in the same step, so
    nothing resting at a broker can fill after the switch; each attempt is a ledger row."""
    change = change_route_control(
        ledger,
        broker,
        control=config.control,
        enabled=config.enabled,
        reason=config.reason,
        operator=config.operator,
        source=f"dagster_run:{context.run_id}",
        at=pd.Timestamp.now(tz="UTC").to_pydatetime(),
    )
    context.log.info(f"{config.control} set to {config.enabled} by {config.operator}: {config.reason}")
    return dg.Output(
        change.event_id,
        metadata={
            "event_id": change.event_id,
            "states": dg.MetadataValue.json(change.states),
            "cancel_attempts": len(change.cancellations),
            "cancels_accepted": change.accepted,
            "cancels_refused": dg.MetadataValue.json(change.refused),
        },
    )


@dg.job(description="Flip the LEAN kill switch or a symbol's manual review (Launchpad config).")
def set_route_control() -> None:
    record_route_control()
