"""Cancel every open order at every venue while a trading stop stands.

The reference cancels open orders on every trading cycle while the kill switch is on, and once when an
emergency stop fires; a stop that only refuses new entries leaves orders resting at the broker that can
still fill. Each attempt is returned as a `CancelOutcome` for the ledger: an accepted cancel, a refused
one with the venue's word, or a venue that could not be asked at all (never silently skipped).
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

from torghut_assets.domain.orders import CancellingVenue, CancelOutcome, ExecutionVenue, VenueError


class StopTrigger(StrEnum):
    TRADING_KILL_SWITCH = "trading_kill_switch"
    EMERGENCY_STOP = "emergency_stop"


def cancel_open_orders(venues: Mapping[str, ExecutionVenue]) -> list[CancelOutcome]:
    """Cancel-all at each venue that can cancel; a venue that fails is one refused outcome naming why."""
    outcomes: list[CancelOutcome] = []
    for name in sorted(venues):
        venue = venues[name]
        if not isinstance(venue, CancellingVenue):
            continue
        try:
            outcomes += venue.cancel_all_orders()
        except VenueError as exc:
            outcomes.append(CancelOutcome(name, None, None, False, None, exc.reason_code))
    return outcomes


def standing_stop(
    *, kill_switch_on: bool, emergency_stop_active: bool, emergency_reasons: tuple[str, ...]
) -> tuple[StopTrigger, str] | None:
    """The stop that obliges a cancel now, with its reason; the kill switch wins when both stand."""
    if kill_switch_on:
        return StopTrigger.TRADING_KILL_SWITCH, "kill_switch_enabled"
    if emergency_stop_active:
        return StopTrigger.EMERGENCY_STOP, ";".join(emergency_reasons) or "emergency_stop_active"
    return None
