"""`alerts` resource: page operators through a Slack-compatible webhook, once per incident.

The URL arrives as `EnvVar("TORGHUT_ALERT_WEBHOOK_URL")` and is never shown (metadata says only
"configured"). Unset, every alert is still recorded in `alert_deliveries` and the run says it was not
sent. Callers send after their ledger transaction has committed, and `send` never raises: an alert is
a consequence of a governance action, so a broken webhook or alert table must not undo or fail the
action. A failed post stays `pending` and is retried when the event is seen again or by
`alert_retry_sensor`.
"""

import datetime as dt
import logging
from collections.abc import Sequence
from typing import Any

import dagster as dg

from torghut_assets.adapters.webhook import WebhookClient, WebhookError
from torghut_assets.defs.resources import LedgerResource
from torghut_assets.domain.alerts import Alert, DeliveryReport, distinct, slack_message
from torghut_assets.ledger import alert_deliveries as store

Log = logging.Logger | dg.DagsterLogManager
CLAIMED_ELSEWHERE = "claimed_elsewhere"


class AlertsResource(dg.ConfigurableResource):  # type: ignore[type-arg]
    webhook_url: str | None = None
    timeout_seconds: float = 5.0
    retry_batch: int = 10
    retry_max_age_hours: float = 24.0

    @property
    def configured(self) -> bool:
        return bool(self.webhook_url and self.webhook_url.strip())

    def send(self, ledger: LedgerResource, alerts: Sequence[Alert], log: Log | None = None) -> DeliveryReport:
        """Record each incident once and post the ones not delivered yet; never raises."""
        unique = distinct(alerts)
        if not unique:
            return DeliveryReport(webhook_configured=self.configured)
        try:
            report = self._send(ledger, unique)
        except Exception as exc:  # the governance action already committed; it must not fail here
            report = DeliveryReport(
                webhook_configured=self.configured,
                errors=(f"alerting_error:{type(exc).__name__}",),
            )
        _log(log, report)
        return report

    def retry_pending(self, ledger: LedgerResource, log: Log | None = None) -> DeliveryReport:
        """Post pending incidents of the last `retry_max_age_hours`, oldest first, stopping at a failure."""
        if not self.configured:
            return DeliveryReport(webhook_configured=False)
        now = _now()
        try:
            with ledger.engine.begin() as conn:
                rows = store.retryable(
                    conn,
                    since=now - dt.timedelta(hours=self.retry_max_age_hours),
                    now=now,
                    limit=self.retry_batch,
                )
            report = self._deliver_all(ledger, [(r["incident_key"], r["payload"]) for r in rows])
        except Exception as exc:
            report = DeliveryReport(webhook_configured=True, errors=(f"alerting_error:{type(exc).__name__}",))
        _log(log, report)
        return report

    def _client(self) -> WebhookClient | None:
        if not self.configured:
            return None
        return WebhookClient(url=str(self.webhook_url), timeout_seconds=self.timeout_seconds)

    def _send(self, ledger: LedgerResource, alerts: list[Alert]) -> DeliveryReport:
        status = store.PENDING if self.configured else store.UNCONFIGURED
        already: list[str] = []
        recorded_only: list[str] = []
        to_post: list[tuple[str, dict[str, Any]]] = []
        now = _now()
        for alert in alerts:
            payload = slack_message(alert)
            with ledger.engine.begin() as conn:
                inserted = store.record(conn, alert, payload, status=status, at=now)
                state = status if inserted else store.status_of(conn, alert.incident_key)
            if state == store.PENDING and self.configured:
                to_post.append((alert.incident_key, payload))
            elif inserted or state == store.PENDING:
                recorded_only.append(alert.incident_key)
            else:
                already.append(alert.incident_key)
        posted = self._deliver_all(ledger, to_post)
        return DeliveryReport(
            webhook_configured=self.configured,
            sent=posted.sent,
            already_sent=(*already, *posted.already_sent),
            recorded_only=tuple(recorded_only),
            retry_pending=posted.retry_pending,
            errors=posted.errors,
        )

    def _deliver_all(self, ledger: LedgerResource, items: list[tuple[str, dict[str, Any]]]) -> DeliveryReport:
        """Post in order; after the first failure the rest wait for the retry (a down webhook must not
        hold a governance run for one timeout per alert)."""
        client = self._client()
        sent: list[str] = []
        elsewhere: list[str] = []
        waiting: list[str] = []
        errors: list[str] = []
        for key, payload in items:
            if client is None or errors:
                waiting.append(key)
                continue
            outcome = self._deliver(ledger, client, key, payload)
            if outcome is None:
                sent.append(key)
            elif outcome == CLAIMED_ELSEWHERE:
                elsewhere.append(key)
            else:
                waiting.append(key)
                errors.append(outcome)
        return DeliveryReport(
            webhook_configured=client is not None,
            sent=tuple(sent),
            already_sent=tuple(elsewhere),
            retry_pending=tuple(waiting),
            errors=tuple(errors),
        )

    def _deliver(
        self, ledger: LedgerResource, client: WebhookClient, key: str, payload: dict[str, Any]
    ) -> str | None:
        """None when delivered, else why not. The post happens outside any database transaction."""
        lease = dt.timedelta(seconds=self.timeout_seconds + 30)
        with ledger.engine.begin() as conn:
            if not store.claim(conn, key, at=_now(), lease=lease):
                return CLAIMED_ELSEWHERE
        try:
            client.post(payload)
        except WebhookError as exc:
            with ledger.engine.begin() as conn:
                store.mark_failed(conn, key, f"{exc.code} {exc.detail}".strip())
            return exc.code
        with ledger.engine.begin() as conn:
            store.mark_sent(conn, key, at=_now())
        return None


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _log(log: Log | None, report: DeliveryReport) -> None:
    if log is None or report.quiet:
        return
    if report.errors or report.recorded_only or report.retry_pending:
        log.warning(report.summary())
    else:
        log.info(report.summary())


def alert_metadata(report: DeliveryReport) -> dict[str, Any]:
    return {"alerts": dg.MetadataValue.json(report.as_json())}


def alerts_resource(webhook_configured: bool) -> AlertsResource:
    """The code location's resource: the URL only as an `EnvVar`, resolved at run time, never shown."""
    if not webhook_configured:
        return AlertsResource()
    return AlertsResource(webhook_url=dg.EnvVar("TORGHUT_ALERT_WEBHOOK_URL"))


@dg.sensor(
    minimum_interval_seconds=300,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Retries operator alerts whose webhook post failed (oldest first, at most 10 per tick).",
)
def alert_retry_sensor(
    context: dg.SensorEvaluationContext, ledger: LedgerResource, alerts: AlertsResource
) -> dg.SkipReason:
    if not alerts.configured:
        return dg.SkipReason("TORGHUT_ALERT_WEBHOOK_URL is unset: alerts are recorded, not sent")
    report = alerts.retry_pending(ledger, context.log)
    return dg.SkipReason(report.summary() if not report.quiet else "no pending alert")
