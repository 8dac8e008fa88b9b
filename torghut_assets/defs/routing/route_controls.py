"""`set_route_control` job: flip the LEAN kill switch or clear a symbol's manual review, from the Launchpad.

No redeploy and no env change: the executions asset reads the latest control event at each window.
"""

from dataclasses import dataclass
from enum import StrEnum

import dagster as dg
import pandas as pd
from pydantic import Field

from torghut_assets.defs.launchpad import refuse, required_text, ticker
from torghut_assets.defs.resources import BrokerResource, LedgerResource
from torghut_assets.ledger.route_controls import LEAN_KILL_SWITCH, MANUAL_REVIEW_PREFIX, TRADING_KILL_SWITCH
from torghut_assets.services.route_controls import change_route_control


class RouteControl(StrEnum):
    """The controls the Launchpad may set; `manual_review` applies to the one symbol named beside it."""

    lean_kill_switch = LEAN_KILL_SWITCH
    trading_kill_switch = TRADING_KILL_SWITCH
    manual_review = MANUAL_REVIEW_PREFIX.removesuffix(":")


@dataclass(frozen=True)
class ControlRequest:
    """A checked route control change: the control as the ledger names it, who and why."""

    control: str
    enabled: bool
    reason: str
    operator: str


class RouteControlConfig(dg.Config):
    """The Launchpad form of a route control change: the control is an enum Dagster checks at launch; the
    symbol, reason and operator are checked by `request()`, the step's first act."""

    control: RouteControl = Field(
        description="lean_kill_switch, trading_kill_switch or manual_review (then name the symbol)"
    )
    symbol: str | None = Field(
        default=None, description="manual_review only: the symbol held for review, e.g. AAPL"
    )
    enabled: bool = Field(description="true = switch on / keep symbol in review; false = off / release")
    reason: str = Field(description="why; stored with the event (required)")
    operator: str = Field(description="who; stored with the event (required)")

    def request(self) -> ControlRequest:
        """The change in the ledger's words; a blank reason or operator, a missing or malformed symbol for
        manual_review, or a symbol given with a switch, is refused with one sentence naming the field."""
        return ControlRequest(
            control=self._control_key(),
            enabled=self.enabled,
            reason=required_text("reason", self.reason),
            operator=required_text("operator", self.operator),
        )

    def _control_key(self) -> str:
        """`manual_review:AAPL` for a symbol's review, the switch's own name otherwise."""
        symbol = (self.symbol or "").strip()
        if self.control is RouteControl.manual_review:
            if not symbol:
                refuse("symbol is required when control is manual_review, e.g. AAPL.")
            return f"{MANUAL_REVIEW_PREFIX}{ticker('symbol', symbol)}"
        if symbol:
            refuse(f"symbol applies only to manual_review: leave it empty for {self.control.value}.")
        return self.control.value


@dg.op(description="Append a route control event to the ledger.")
def record_route_control(
    context: dg.OpExecutionContext, config: RouteControlConfig, ledger: LedgerResource, broker: BrokerResource
) -> dg.Output[str]:
    """Turning the trading kill switch on cancels every open order at every venue in the same step, so
    nothing resting at a broker can fill after the switch; each attempt is a ledger row."""
    request = config.request()
    change = change_route_control(
        ledger,
        broker,
        control=request.control,
        enabled=request.enabled,
        reason=request.reason,
        operator=request.operator,
        source=f"dagster_run:{context.run_id}",
        at=pd.Timestamp.now(tz="UTC").to_pydatetime(),
    )
    context.log.info(f"{request.control} set to {request.enabled} by {request.operator}: {request.reason}")
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
