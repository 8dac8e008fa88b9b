"""Nightly reconciliation: the artifact chain, the evidence log, replay and the broker record, checked
as asset checks on the `reconciliation_report` asset, on a schedule.

Fails closed: a check with nothing to examine fails, an unverifiable broker record fails, and the
report lists every lane window's status so a gap is visible even when a check is green. A check with
nothing to compare (an empty lookback, a venue that cannot be read or listed) is rendered as a failed
check of severity WARN: the UI shows a warning, not a pass, and it pages nobody.
"""

import hashlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import dagster as dg
import pandas as pd

from torghut_assets.defs.alerts import AlertsResource, alert_metadata
from torghut_assets.defs.lane_window.jobs import LANE_WINDOW_LEDGER_ASSETS
from torghut_assets.defs.lane_window.research_inputs import ResearchResource
from torghut_assets.defs.metadata import json_artifact_content
from torghut_assets.defs.pod_resources import RECONCILIATION_POD
from torghut_assets.defs.resources import BrokerResource, LedgerResource, MarketDataResource
from torghut_assets.domain.alerts import chain_head_alert
from torghut_assets.ledger.quality import SUITES
from torghut_assets.ledger.reconciliation import Finding
from torghut_assets.services.reconciliation import (
    SOFT_CHECKS,
    NightlyReport,
    failed_check_alerts,
    nightly_report,
)

CHECKS = (
    (
        "window_run_coverage",
        "Every market-hours lane window since the lane's first in the ledger has a research run.",
    ),
    (
        "research_chain_complete",
        "Normal runs have candidates, ≥ 3 folds and all stress cases each, and a promotion.",
    ),
    (
        "audit_rows_complete",
        "Every promotion, research run, gate evaluation and rollback/halt incident carries its rationale, "
        "reasons and evidence (a skipped run: the artifact explaining the skip).",
    ),
    ("foreign_keys_resolve", "No orphan candidates, folds, stress rows, promotions or executions."),
    ("artifacts_verify", "Every referenced artifact exists and still hashes to its recorded sha256."),
    ("evidence_chain_verifies", "The hash-chained evidence log verifies end to end against the live rows."),
    (
        "evidence_chain_head_retained",
        "Every evidence-chain head published before (artifact, metadata, webhook) is still in the chain at "
        "its seq: the chain was neither truncated nor rewritten.",
    ),
    ("replay_sample_matches", "Recomputing a sample of windows reproduces the stored hashes and metrics."),
    ("execution_route_provenance", "Every execution names its expected and actual route."),
    ("executions_match_broker", "Ledger executions match the venue's record of the same orders."),
    (
        "venue_orders_known",
        "Every order a venue holds from the lookback (submitted or filled) has an execution row, by client "
        "order id; a venue that cannot be listed or read is a warning.",
    ),
    (
        "positions_match_broker",
        "The broker's positions equal the ledger's net fills on it, per symbol; unreadable is not flat.",
    ),
    ("row_count_floors", "Every lane produced runs, and signals when the market was open."),
)
GX_CHECKS = tuple(
    (f"gx_{suite}", f"great-expectations suite `{suite}` on the stored table.") for suite in SUITES
)


class ReconciliationResource(dg.ConfigurableResource):  # type: ignore[type-arg]
    lookback_hours: int = 24
    replay_sample: int = 1
    as_of: str | None = None  # ISO time to reconcile as of (re-checking a past day); default: now

    def now(self) -> pd.Timestamp:
        return pd.Timestamp(self.as_of).tz_convert("UTC") if self.as_of else pd.Timestamp.now(tz="UTC")


_VERDICT_WORDS = {"pass": "passed", "warn": "WARNING", "fail": "FAILED"}


def _result(finding: Finding) -> dg.AssetCheckResult:
    severity = (
        dg.AssetCheckSeverity.WARN
        if finding.check in SOFT_CHECKS or finding.severity == "WARN"
        else dg.AssetCheckSeverity.ERROR
    )
    return dg.AssetCheckResult(
        check_name=finding.check,
        passed=finding.passed,
        severity=severity,
        description="; ".join(finding.keys) if finding.verdict == "warn" else None,
        metadata={
            "examined": finding.examined,
            "failing": finding.failing,
            "failing_keys": dg.MetadataValue.json(list(finding.keys)),
            "detail": dg.MetadataValue.json(finding.detail),
            "summary": dg.MetadataValue.md(
                f"**{finding.check}**: {_VERDICT_WORDS[finding.verdict]} "
                f"({finding.failing} failing of {finding.examined})\n\n"
                + "\n".join(f"- `{k}`" for k in finding.keys)
            ),
        },
    )


def data_docs_link(ledger: LedgerResource, index: str | None) -> dg.MetadataValue:
    """The Great Expectations data docs site (under the artifact root) as a link a browser can open; its
    index is rebuilt each night, so its digest identifies which night's site is meant."""
    if not index or not Path(index).is_file():
        return dg.MetadataValue.text("none: no suite was validated")
    digest = hashlib.sha256(Path(index).read_bytes()).hexdigest()
    return ledger.artifact_link({"path": index, "sha256": digest})


def _chain_head_metadata(report: NightlyReport, ledger: LedgerResource) -> dict[str, Any]:
    """The evidence chain's head as published tonight (seq, hash, time) and its artifact."""
    if report.chain_head is None:
        return {}
    return {
        "evidence_chain_head": dg.MetadataValue.json(report.chain_head.head.as_dict()),
        "evidence_chain_head_artifact": ledger.artifact_link(report.chain_head.artifact),
    }


def _quality_results(report: NightlyReport, ledger: LedgerResource) -> list[dg.AssetCheckResult]:
    return [
        dg.AssetCheckResult(
            check_name=f"gx_{result.suite}",
            passed=result.success,
            metadata={
                "evaluated": result.evaluated,
                "failed_expectations": dg.MetadataValue.json(result.failed),
                "data_docs": data_docs_link(ledger, result.data_docs_index),
            },
        )
        for result in report.quality
    ]


@dg.asset(
    group_name="governance",
    deps=list(LANE_WINDOW_LEDGER_ASSETS),
    kinds={"sql"},
    description="Nightly reconciliation report: every lane window's status and the chain checks' verdicts.",
    check_specs=[
        dg.AssetCheckSpec(name, asset="reconciliation_report", description=text)
        for name, text in CHECKS + GX_CHECKS
    ],
)
def reconciliation_report(
    context: dg.AssetExecutionContext,
    ledger: LedgerResource,
    market_data: MarketDataResource,
    research_settings: ResearchResource,
    reconciliation: ReconciliationResource,
    broker: BrokerResource,
    alerts: AlertsResource,
) -> Iterable[Any]:
    report = nightly_report(
        ledger,
        market_data,
        research_settings,
        reconciliation,
        reconciliation.now(),
        broker,
        database_url=ledger.resolved_url(),
        data_docs_dir=ledger.resolved_artifact_root() / "data-docs",
    )
    pages = failed_check_alerts(report.findings, report.quality, report.checked_day)
    if alerts.configured and report.chain_head is not None:  # the head, published outside the ledger
        pages.append(chain_head_alert(**report.chain_head.head.as_dict()))
    sent = alerts.send(ledger, pages, context.log)
    docs_index = report.data_docs_index
    metadata: dict[str, Any] = {
        "ok": report.ok,
        "verdict": report.verdict,
        "summary": dg.MetadataValue.md(report.markdown),
        "report": ledger.artifact_link(report.json_ref),
        **json_artifact_content("report_content", report.json_ref),
        "report_markdown": ledger.artifact_link(report.md_ref),
        "data_docs": data_docs_link(ledger, docs_index),
        "dagster/row_count": len(report.windows),
        **alert_metadata(sent),
        **_chain_head_metadata(report, ledger),
    }
    yield dg.MaterializeResult(metadata=metadata)
    yield from (_result(finding) for finding in report.findings)
    yield from _quality_results(report, ledger)


nightly_reconciliation_job = dg.define_asset_job(
    "nightly_reconciliation",
    selection=[reconciliation_report],
    executor_def=dg.in_process_executor,
    description="Reconcile the last day's artifact chain, evidence log, replay sample and broker record.",
    tags={
        "torghut/pipeline": "reconciliation",
        "torghut/ledger_heavy": "governance",
        **RECONCILIATION_POD.tag(),
    },
)


def nightly_reconciliation_schedule(timezone: str) -> dg.ScheduleDefinition:
    return dg.ScheduleDefinition(
        name="nightly_reconciliation_schedule",
        job=nightly_reconciliation_job,
        cron_schedule="30 2 * * *",
        execution_timezone=timezone,
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description="Nightly at 02:30 (TORGHUT_RECONCILIATION_TIMEZONE, default America/New_York).",
    )
