"""`alert_deliveries`: one row per alert incident, the ledger's memory of what has paged.

Each call is one short statement meant for its own transaction, outside any governance transaction:
recording is insert-if-absent on the unique incident key, and a sender must win `claim` (a conditional
UPDATE with a lease) before posting, so two processes seeing the same incident post it once. A sender
that dies mid-post leaves a lease that expires; the next attempt may then post again (at least once
beats never for a page).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from torghut_assets.domain.alerts import Alert
from torghut_assets.domain.evidence import canonical_value
from torghut_assets.ledger import schema
from torghut_assets.ledger.identity import row_id
from torghut_assets.ledger.writes import to_native

PENDING, SENT, UNCONFIGURED = "pending", "sent", "unconfigured"

deliveries = schema.alert_deliveries


def record(conn: Connection, alert: Alert, payload: dict[str, Any], *, status: str, at: dt.datetime) -> bool:
    """Insert the incident unless its key is already recorded; True when this call inserted it."""
    insert_fn = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    stmt = insert_fn(deliveries).values(
        id=row_id("alert_deliveries", alert.incident_key),
        incident_key=alert.incident_key,
        kind=alert.kind,
        lane=alert.lane,
        incident_id=alert.incident_id[:200],
        severity=alert.severity,
        payload=canonical_value(payload),
        status=status,
        attempts=0,
        first_seen_at=to_native(at),
    )
    result = conn.execute(stmt.on_conflict_do_nothing(index_elements=[deliveries.c.incident_key]))
    return result.rowcount == 1


def status_of(conn: Connection, incident_key: str) -> str | None:
    return conn.execute(
        sa.select(deliveries.c.status).where(deliveries.c.incident_key == incident_key)
    ).scalar_one_or_none()


def claim(conn: Connection, incident_key: str, *, at: dt.datetime, lease: dt.timedelta) -> bool:
    """Take the right to post a pending incident until `at + lease`; False if sent or held by another."""
    now = to_native(at)
    result = conn.execute(
        sa.update(deliveries)
        .where(
            deliveries.c.incident_key == incident_key,
            deliveries.c.status == PENDING,
            sa.or_(deliveries.c.claimed_until.is_(None), deliveries.c.claimed_until < now),
        )
        .values(
            claimed_until=now + lease,
            attempts=deliveries.c.attempts + 1,
            last_attempt_at=now,
        )
    )
    return result.rowcount == 1


def mark_sent(conn: Connection, incident_key: str, *, at: dt.datetime) -> None:
    conn.execute(
        sa.update(deliveries)
        .where(deliveries.c.incident_key == incident_key)
        .values(status=SENT, sent_at=to_native(at), claimed_until=None, last_error=None)
    )


def mark_failed(conn: Connection, incident_key: str, error: str) -> None:
    """Release the claim so the next attempt (the event seen again, or the retry sensor) can post."""
    conn.execute(
        sa.update(deliveries)
        .where(deliveries.c.incident_key == incident_key, deliveries.c.status == PENDING)
        .values(claimed_until=None, last_error=error[:200])
    )


def retryable(conn: Connection, *, since: dt.datetime, now: dt.datetime, limit: int) -> list[dict[str, Any]]:
    """Pending incidents first seen since `since` and not held by a live claim, oldest first."""
    current = to_native(now)
    query = (
        sa.select(deliveries.c.incident_key, deliveries.c.payload, deliveries.c.attempts)
        .where(
            deliveries.c.status == PENDING,
            deliveries.c.first_seen_at >= to_native(since),
            sa.or_(deliveries.c.claimed_until.is_(None), deliveries.c.claimed_until < current),
        )
        .order_by(deliveries.c.first_seen_at, deliveries.c.incident_key)
        .limit(limit)
    )
    return [dict(row) for row in conn.execute(query).mappings()]
