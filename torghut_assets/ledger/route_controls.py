"""Route controls flipped without a redeploy: the LEAN kill switch and per-symbol manual review.

Append-only events; the latest event per control is its state, so every flip keeps who, why and when.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from torghut_assets.ledger import schema
from torghut_assets.ledger.identity import row_id
from torghut_assets.ledger.queries import as_utc
from torghut_assets.ledger.writes import upsert_rows

LEAN_KILL_SWITCH = "lean_kill_switch"
MANUAL_REVIEW_PREFIX = "manual_review:"


def control_states(conn: Connection) -> dict[str, bool]:
    table = schema.route_control_events
    latest = (
        sa.select(table.c.control, sa.func.max(table.c.at).label("at")).group_by(table.c.control).subquery()
    )
    query = sa.select(table.c.control, table.c.enabled, table.c.at, table.c.id).join(
        latest, sa.and_(table.c.control == latest.c.control, table.c.at == latest.c.at)
    )
    states: dict[str, bool] = {}
    for control, enabled, _at, _id in sorted(conn.execute(query), key=lambda r: (r[0], r[2], str(r[3]))):
        states[str(control)] = bool(enabled)
    return states


TRADING_KILL_SWITCH = "trading_kill_switch"


def enabled_since(conn: Connection, control: str) -> dt.datetime | None:
    """When the control was last switched on, if it is on now."""
    table = schema.route_control_events
    row = conn.execute(
        sa.select(table.c.enabled, table.c.at)
        .where(table.c.control == control)
        .order_by(table.c.at.desc(), table.c.id.desc())
        .limit(1)
    ).first()
    if row is None or not row[0]:
        return None
    at = as_utc(row[1])
    return None if at is None else at.to_pydatetime()


def lean_kill_switch_enabled(conn: Connection) -> bool:
    return control_states(conn).get(LEAN_KILL_SWITCH, False)


def symbols_in_manual_review(conn: Connection) -> frozenset[str]:
    return frozenset(
        control.removeprefix(MANUAL_REVIEW_PREFIX)
        for control, enabled in control_states(conn).items()
        if enabled and control.startswith(MANUAL_REVIEW_PREFIX)
    )


def record_control(
    conn: Connection,
    *,
    control: str,
    enabled: bool,
    reason: str,
    operator: str,
    source: str,
    at: dt.datetime,
    event_key: str | None = None,
) -> str:
    """Append a control event. `event_key` makes an automatic event idempotent (same key, same row)."""
    event_id = row_id("route_control_events", control, event_key or f"{at.isoformat()}|{enabled}|{operator}")
    upsert_rows(
        conn,
        schema.route_control_events,
        [
            {
                "id": event_id,
                "control": control,
                "enabled": enabled,
                "reason": reason,
                "operator": operator,
                "source": source,
                "at": at,
                "created_at": at,
            }
        ],
    )
    return event_id
