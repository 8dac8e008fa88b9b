"""Page operators once per incident: record each alert in `alert_deliveries`, then post the ones not
delivered yet, and retry the pending ones later.

Why a use case: two processes that see the same incident must post it once, so each post happens only
after winning a claim (a lease on the row), outside any database transaction, and its outcome is
written back on its own. After the first failed post the rest wait for the retry: a down webhook must
not hold a governance run for one timeout per alert. Callers send after their ledger transaction has
committed; deciding never to raise (an alert is a consequence of an action, not part of it) is theirs.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.engine import Engine

from torghut_assets.adapters.webhook import WebhookClient, WebhookError
from torghut_assets.domain.alerts import Alert, DeliveryReport, slack_message
from torghut_assets.ledger import alert_deliveries as store

CLAIMED_ELSEWHERE = "claimed_elsewhere"


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass
class _Recorded:
    """Where each recorded incident stands before any post."""

    already: list[str] = field(default_factory=list)
    recorded_only: list[str] = field(default_factory=list)
    to_post: list[tuple[str, dict[str, Any]]] = field(default_factory=list)


def _record_all(engine: Engine, alerts: Sequence[Alert], configured: bool) -> _Recorded:
    status = store.PENDING if configured else store.UNCONFIGURED
    recorded = _Recorded()
    at = now()
    for alert in alerts:
        payload = slack_message(alert)
        with engine.begin() as conn:
            inserted = store.record(conn, alert, payload, status=status, at=at)
            state = status if inserted else store.status_of(conn, alert.incident_key)
        if state == store.PENDING and configured:
            recorded.to_post.append((alert.incident_key, payload))
        elif inserted or state == store.PENDING:
            recorded.recorded_only.append(alert.incident_key)
        else:
            recorded.already.append(alert.incident_key)
    return recorded


def send_alerts(
    engine: Engine, alerts: Sequence[Alert], webhook: WebhookClient | None, lease: dt.timedelta
) -> DeliveryReport:
    """Record each (distinct) incident once and post the pending ones; `webhook` None: record only."""
    recorded = _record_all(engine, alerts, webhook is not None)
    posted = deliver_all(engine, webhook, recorded.to_post, lease)
    return DeliveryReport(
        webhook_configured=webhook is not None,
        sent=posted.sent,
        already_sent=(*recorded.already, *posted.already_sent),
        recorded_only=tuple(recorded.recorded_only),
        retry_pending=posted.retry_pending,
        errors=posted.errors,
    )


def retry_pending(
    engine: Engine, webhook: WebhookClient, *, max_age: dt.timedelta, limit: int, lease: dt.timedelta
) -> DeliveryReport:
    """Post pending incidents younger than `max_age`, oldest first, stopping at a failure."""
    at = now()
    with engine.begin() as conn:
        rows = store.retryable(conn, since=at - max_age, now=at, limit=limit)
    return deliver_all(engine, webhook, [(r["incident_key"], r["payload"]) for r in rows], lease)


def deliver_all(
    engine: Engine,
    webhook: WebhookClient | None,
    items: Sequence[tuple[str, dict[str, Any]]],
    lease: dt.timedelta,
) -> DeliveryReport:
    """Post in order; after the first failure the rest wait for the retry."""
    sent: list[str] = []
    elsewhere: list[str] = []
    waiting: list[str] = []
    errors: list[str] = []
    for key, payload in items:
        if webhook is None or errors:
            waiting.append(key)
            continue
        outcome = deliver(engine, webhook, key, payload, lease)
        if outcome is None:
            sent.append(key)
        elif outcome == CLAIMED_ELSEWHERE:
            elsewhere.append(key)
        else:
            waiting.append(key)
            errors.append(outcome)
    return DeliveryReport(
        webhook_configured=webhook is not None,
        sent=tuple(sent),
        already_sent=tuple(elsewhere),
        retry_pending=tuple(waiting),
        errors=tuple(errors),
    )


def deliver(
    engine: Engine, webhook: WebhookClient, key: str, payload: dict[str, Any], lease: dt.timedelta
) -> str | None:
    """None when delivered, else why not. The post happens outside any database transaction."""
    with engine.begin() as conn:
        if not store.claim(conn, key, at=now(), lease=lease):
            return CLAIMED_ELSEWHERE
    try:
        webhook.post(payload)
    except WebhookError as exc:
        with engine.begin() as conn:
            store.mark_failed(conn, key, f"{exc.code} {exc.detail}".strip())
        return exc.code
    with engine.begin() as conn:
        store.mark_sent(conn, key, at=now())
    return None
