"""Flip a route control (the LEAN kill switch, the trading kill switch, a symbol's manual review).

Why a use case: turning the trading kill switch on must cancel every open order at every venue in the
same step, so nothing resting at a broker can fill after the switch; the event and each cancel attempt
commit together. The executions step reads the latest event at each window: no redeploy, no env change.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd

from torghut_assets.domain.orders import CancelOutcome
from torghut_assets.ledger import order_cancellations
from torghut_assets.ledger.route_controls import TRADING_KILL_SWITCH, control_states, record_control
from torghut_assets.services.ports import LedgerPort, VenuePort
from torghut_assets.services.stop_orders import StopTrigger, cancel_open_orders

CANCEL_SOURCE = "set_route_control"


@dataclass(frozen=True)
class ControlChange:
    event_id: str
    states: dict[str, bool]
    cancellations: list[CancelOutcome]

    @property
    def accepted(self) -> int:
        return sum(1 for c in self.cancellations if c.accepted)

    @property
    def refused(self) -> list[str]:
        return [f"{c.venue}:{c.order_id}:{c.detail}" for c in self.cancellations if not c.accepted]


def change_route_control(
    ledger: LedgerPort,
    broker: VenuePort,
    *,
    control: str,
    enabled: bool,
    reason: str,
    operator: str,
    source: str,
    at: dt.datetime,
) -> ControlChange:
    """Append the control event (cancelling every open order first when the trading kill switch goes on)
    and return every control's state after it."""
    stopping = control == TRADING_KILL_SWITCH and enabled
    cancelled = cancel_open_orders(broker.venues(pd.DataFrame())) if stopping else []
    with ledger.engine.begin() as conn:
        event_id = record_control(
            conn, control=control, enabled=enabled, reason=reason, operator=operator, source=source, at=at
        )
        if stopping:
            order_cancellations.record_cancellations(
                conn,
                cancelled,
                trigger=StopTrigger.TRADING_KILL_SWITCH.value,
                trigger_reason=f"kill_switch_enabled: {reason}",
                trigger_source=CANCEL_SOURCE,
                attempted_at=at,
            )
        states = control_states(conn)
    return ControlChange(event_id, states, cancelled)
