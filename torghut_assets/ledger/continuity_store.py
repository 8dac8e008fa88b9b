"""Persisted continuity state: one row per lane, plus an append-only transition log.

The state row, not the sensor cursor, is the source of truth for how far a lane has been evaluated, so
a sensor tick that dies after committing never re-applies a window, and the promotion gate reads the
same latch the sensor wrote.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from torghut_assets.domain.continuity import ContinuityEvent, ContinuityState, WindowObservation
from torghut_assets.ledger import schema
from torghut_assets.ledger.identity import row_id
from torghut_assets.ledger.queries import as_utc
from torghut_assets.ledger.writes import to_native, upsert_rows


def load_state(conn: Connection, lane: str) -> ContinuityState | None:
    table = schema.continuity_state
    row = conn.execute(sa.select(table).where(table.c.lane == lane)).mappings().first()
    if row is None:
        return None
    return ContinuityState(
        lane=lane,
        last_window_start=as_utc(row["last_window_start"]),
        reason=row["reason"],
        streak=int(row["streak"]),
        alert_active=bool(row["alert_active"]),
        alert_reason=row["alert_reason"],
        alert_since=as_utc(row["alert_since"]),
        recovery_streak=int(row["recovery_streak"]),
        emergency_stop_active=bool(row["emergency_stop_active"]),
        emergency_reasons=tuple(row["emergency_reasons"] or ()),
        emergency_recovery_streak=int(row["emergency_recovery_streak"]),
        emergency_since=as_utc(row["emergency_since"]),
    )


def save_state(
    conn: Connection, state: ContinuityState, events: Iterable[ContinuityEvent], at: dt.datetime
) -> None:
    upsert_rows(
        conn,
        schema.continuity_state,
        [
            {
                "id": row_id("continuity_state", state.lane),
                "lane": state.lane,
                "last_window_start": state.last_window_start,
                "reason": state.reason,
                "streak": state.streak,
                "alert_active": state.alert_active,
                "alert_reason": state.alert_reason,
                "alert_since": state.alert_since,
                "recovery_streak": state.recovery_streak,
                "emergency_stop_active": state.emergency_stop_active,
                "emergency_reasons": list(state.emergency_reasons),
                "emergency_recovery_streak": state.emergency_recovery_streak,
                "emergency_since": state.emergency_since,
                "updated_at": at,
                "created_at": at,
            }
        ],
    )
    rows = [
        {
            "id": row_id("continuity_events", state.lane, e.window_start, e.transition),
            "lane": state.lane,
            "window_start": e.window_start,
            "reason": e.reason,
            "actionable": e.actionable,
            "market_session_open": e.market_session_open,
            "signal_lag_seconds": e.signal_lag_seconds,
            "streak": e.streak,
            "alert_active": e.alert_active,
            "transition": e.transition,
            "detail": list(e.detail),
            "at": at,
            "created_at": e.window_start,
        }
        for e in events
    ]
    upsert_rows(conn, schema.continuity_events, rows)


def observations_since(
    conn: Connection, lane: str, after: dt.datetime, through: dt.datetime
) -> dict[pd.Timestamp, WindowObservation]:
    """Ingest verdicts of windows starting in (after, through], keyed by window start."""
    table = schema.signal_ingest_windows
    query = sa.select(table).where(
        table.c.lane == lane,
        table.c.window_start > to_native(after),
        table.c.window_start <= to_native(through),
    )
    found: dict[pd.Timestamp, WindowObservation] = {}
    for row in conn.execute(query).mappings():
        start = as_utc(row["window_start"])
        assert start is not None
        found[start] = WindowObservation(
            window_start=start,
            signals_total=int(row["signals_total"]),
            no_signal_reason=row["no_signal_reason"],
            market_session_open=bool(row["market_session_open"]),
            signal_lag_seconds=row["signal_lag_seconds"],
            no_signal_detail=row["no_signal_detail"],
            newest_signal_ts=as_utc(row["newest_signal_ts"]),
        )
    return found


def recent_events(conn: Connection, limit: int = 20) -> list[dict[str, Any]]:
    table = schema.continuity_events
    query = sa.select(table).order_by(table.c.window_start.desc(), table.c.transition).limit(limit)
    return [dict(r) for r in conn.execute(query).mappings()]
