"""`alerts` resource: page operators through a Slack-compatible webhook, once per incident.

The URL arrives as `EnvVar("TORGHUT_ALERT_WEBHOOK_URL")` and is never shown (metadata says only
"configured"). Unset, every alert is still recorded in `alert_deliveries` and the run says it was not
sent. Callers send after their ledger transaction has committed, and `send` never raises: an alert is
a consequence of a governance action, so a broken webhook or alert table must not undo or fail the
action. A failed post stays `pending` and is retried when the event is seen again or by
`alert_retry_sensor`. The recording, claiming and posting are `services.alert_delivery`.
"""

import datetime as dt
import logging
from collections.abc import Sequence
from typing import Any

import dagster as dg

from torghut_assets.adapters.webhook import WebhookClient
from torghut_assets.defs.resources import LedgerResource
from torghut_assets.domain.alerts import Alert, DeliveryReport, distinct
from torghut_assets.services import alert_delivery

Log = logging.Logger | dg.DagsterLogManager


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
            report = alert_delivery.send_alerts(ledger.engine, unique, self._client(), self._lease())
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
        try:
            report = alert_delivery.retry_pending(
                ledger.engine,
                self._webhook(),
                max_age=dt.timedelta(hours=self.retry_max_age_hours),
                limit=self.retry_batch,
                lease=self._lease(),
            )
        except Exception as exc:
            report = DeliveryReport(webhook_configured=True, errors=(f"alerting_error:{type(exc).__name__}",))
        _log(log, report)
        return report

    def _client(self) -> WebhookClient | None:
        return self._webhook() if self.configured else None

    def _webhook(self) -> WebhookClient:
        return WebhookClient(url=str(self.webhook_url), timeout_seconds=self.timeout_seconds)

    def _lease(self) -> dt.timedelta:
        """How long a claim on an incident holds: one post's timeout plus a margin."""
        return dt.timedelta(seconds=self.timeout_seconds + 30)


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
