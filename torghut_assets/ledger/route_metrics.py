"""Per-lane totals behind the operator metrics; routes and fallbacks come from `profitability_queries`."""

from __future__ import annotations

from collections import Counter

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from torghut_assets.ledger import schema


def signal_totals(conn: Connection) -> dict[str, int]:
    t = schema.signal_ingest_windows
    query = sa.select(t.c.lane, sa.func.coalesce(sa.func.sum(t.c.signals_total), 0)).group_by(t.c.lane)
    return {str(lane): int(n) for lane, n in conn.execute(query)}


def signal_rejections(conn: Connection) -> dict[str, dict[str, int]]:
    """Rejections by reason per lane, from the windows that rejected anything."""
    t = schema.signal_ingest_windows
    query = sa.select(t.c.lane, t.c.rejected_by_reason).where(t.c.rejected_total > 0)
    found: dict[str, Counter[str]] = {}
    for lane, by_reason in conn.execute(query):
        found.setdefault(str(lane), Counter()).update({str(k): int(v) for k, v in (by_reason or {}).items()})
    return {lane: dict(counts) for lane, counts in found.items()}


def decision_counts(conn: Connection) -> dict[str, dict[str, int]]:
    t = schema.trade_decisions
    query = sa.select(t.c.lane, t.c.status, sa.func.count()).group_by(t.c.lane, t.c.status)
    found: dict[str, dict[str, int]] = {}
    for lane, status, n in conn.execute(query):
        found.setdefault(str(lane), {})[str(status)] = int(n)
    return found


def continuity_flags(conn: Connection) -> dict[str, tuple[bool, bool]]:
    """(alert latched, emergency stop active) of every lane the continuity sensor has evaluated."""
    t = schema.continuity_state
    query = sa.select(t.c.lane, t.c.alert_active, t.c.emergency_stop_active)
    return {str(lane): (bool(alert), bool(stop)) for lane, alert, stop in conn.execute(query)}
