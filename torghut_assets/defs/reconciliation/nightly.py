"""Nightly reconciliation: the artifact chain, the evidence log, replay and the broker record, checked
as asset checks on the `reconciliation_report` asset, on a schedule.

Fails closed: a check with nothing to examine fails, an unverifiable broker record fails, and the
report lists every lane window's status so a gap is visible even when a check is green.
"""

from collections.abc import Iterable
from typing import Any

import dagster as dg
import pandas as pd
import sqlalchemy as sa

from torghut_assets.adapters.execution_venue import OrderReport, VenueError
from torghut_assets.adapters.paper_broker import SIMULATOR_ADAPTER
from torghut_assets.defs.alerts import AlertsResource, alert_metadata
from torghut_assets.defs.lane_window.broker_account import positions_finding
from torghut_assets.defs.lane_window.partitions import lane_partitions
from torghut_assets.defs.lane_window.replay import replay_window
from torghut_assets.defs.lane_window.research_inputs import ResearchResource
from torghut_assets.defs.metadata import markdown_table
from torghut_assets.defs.pod_resources import RECONCILIATION_POD
from torghut_assets.defs.resources import BrokerResource, LedgerResource, MarketDataResource
from torghut_assets.domain.alerts import Alert, reconciliation_alert
from torghut_assets.domain.lanes import LaneWindow
from torghut_assets.domain.market_calendar import market_minutes
from torghut_assets.domain.strategy_registry import StrategyLoadError, StrategyRunError, strategy_scope
from torghut_assets.ledger import reconciliation as rec
from torghut_assets.ledger import records, schema
from torghut_assets.ledger.evidence_digests import live_recompute
from torghut_assets.ledger.evidence_log import verify_chain
from torghut_assets.ledger.quality import SUITES, SuiteResult, run_suites
from torghut_assets.ledger.queries import as_utc
from torghut_assets.ledger.writes import to_native
from torghut_assets.services.window_orders import order_request

CHECKS = (
    (
        "window_run_coverage",
        "Every closed lane window in the lookback has a research run (or a skipped one).",
    ),
    (
        "research_chain_complete",
        "Normal runs have candidates, ≥ 3 folds and all stress cases each, and a promotion.",
    ),
    ("foreign_keys_resolve", "No orphan candidates, folds, stress rows, promotions or executions."),
    ("artifacts_verify", "Every referenced artifact exists and still hashes to its recorded sha256."),
    ("evidence_chain_verifies", "The hash-chained evidence log verifies end to end against the live rows."),
    ("replay_sample_matches", "Recomputing a sample of windows reproduces the stored hashes and metrics."),
    ("execution_route_provenance", "Every execution names its expected and actual route."),
    ("executions_match_broker", "Ledger executions match the venue's record of the same orders."),
    (
        "positions_match_broker",
        "The broker's positions equal the ledger's net fills on it, per symbol; unreadable is not flat.",
    ),
    ("row_count_floors", "Every lane produced runs, and signals when the market was open."),
)
SOFT = {"window_run_coverage"}
GX_CHECKS = tuple(
    (f"gx_{suite}", f"great-expectations suite `{suite}` on the stored table.") for suite in SUITES
)


class ReconciliationResource(dg.ConfigurableResource):  # type: ignore[type-arg]
    lookback_hours: int = 24
    replay_sample: int = 1
    as_of: str | None = None  # ISO time to reconcile as of (re-checking a past day); default: now

    def now(self) -> pd.Timestamp:
        return pd.Timestamp(self.as_of).tz_convert("UTC") if self.as_of else pd.Timestamp.now(tz="UTC")


def _expected_windows(until: pd.Timestamp, hours: int) -> tuple[list[tuple[str, Any]], list[tuple[str, Any]]]:
    starts = [until - pd.Timedelta(hours=h) for h in range(1, hours + 1)]
    lanes = lane_partitions.get_partition_keys()
    expected = [(lane, s.to_pydatetime()) for lane in lanes for s in starts]
    open_windows = [
        (lane, s)
        for lane, s in expected
        if len(market_minutes(pd.Timestamp(s), pd.Timestamp(s) + pd.Timedelta(hours=1)))
    ]
    return expected, open_windows


def _same_fill(report: OrderReport | None, row: dict[str, Any]) -> bool:
    if report is None:
        return False
    ledger_px = row["avg_fill_price"]
    same_px = (report.avg_fill_price is None and ledger_px is None) or (
        report.avg_fill_price is not None
        and ledger_px is not None
        and abs(report.avg_fill_price - float(ledger_px)) < 1e-6
    )
    return (
        abs(report.filled_qty - float(row["filled_qty"])) < 1e-9
        and same_px
        and report.order_id == row["alpaca_order_id"]
    )


def _broker_finding(
    ledger: LedgerResource,
    market_data: MarketDataResource,
    broker: BrokerResource,
    since: pd.Timestamp,
    until: pd.Timestamp,
) -> rec.Finding:
    """Each execution against the venue that placed it: simulated fills are re-derived from the bars,
    LEAN/Alpaca orders are read back by client_order_id (with Alpaca FILL activities). A venue that
    cannot be asked fails the row: unknown is not flat."""
    table = schema.executions
    with ledger.read() as conn:
        rows = [
            dict(r)
            for r in conn.execute(
                sa.select(table, schema.trade_decisions.c.decision_json, schema.trade_decisions.c.signal_seq)
                .join(schema.trade_decisions, schema.trade_decisions.c.id == table.c.trade_decision_id)
                .where(table.c.window_start >= to_native(since), table.c.window_start < to_native(until))
            ).mappings()
        ]
    if not rows:
        return rec.Finding(
            "executions_match_broker", True, 0, 0, (), "WARN", {"note": "no executions in the lookback"}
        )
    failing: list[str] = []
    by_window: dict[tuple[str, Any], list[dict[str, Any]]] = {}
    for row in rows:
        by_window.setdefault((row["lane"], as_utc(row["window_start"])), []).append(row)
    for (lane, start), window_rows in sorted(by_window.items()):
        window = LaneWindow(lane, start)
        venues = broker.venues(market_data.bars(window.start, window.end + pd.Timedelta(hours=8)))
        for row in window_rows:
            if row["status"] == "rejected" and str(row["alpaca_order_id"]).startswith("unplaced-"):
                continue
            key = str(row["client_order_id"])[:16]
            adapter = str(row["execution_actual_adapter"])
            decision = records.decision_from_row(
                {**row, "id": row["trade_decision_id"], "decision_hash": row["client_order_id"]}
            )
            request = order_request(window, decision)
            venue = venues.get(adapter)
            try:
                if adapter == SIMULATOR_ADAPTER and venue is not None:
                    report: OrderReport | None = venue.submit(request)
                elif venue is not None and hasattr(venue, "find_order"):
                    report = venue.find_order(request)
                else:
                    failing.append(f"{key}: {adapter} record not reachable (venue not configured)")
                    continue
            except VenueError as exc:
                failing.append(f"{key}: {adapter} unreachable ({exc.reason_code})")
                continue
            if not _same_fill(report, row):
                seen = "not found" if report is None else f"{report.filled_qty}@{report.avg_fill_price}"
                failing.append(
                    f"{key}: ledger {row['filled_qty']}@{row['avg_fill_price']} vs {adapter} {seen}"
                )
    return rec.finding_from("executions_match_broker", len(rows), failing)


def run_reconciliation(
    ledger: LedgerResource,
    market_data: MarketDataResource,
    research: ResearchResource,
    settings: ReconciliationResource,
    now: pd.Timestamp,
    broker: BrokerResource | None = None,
) -> tuple[list[rec.Finding], list[dict[str, Any]]]:
    broker = broker or BrokerResource()
    until = now.tz_convert("UTC").floor("h")
    since = until - pd.Timedelta(hours=settings.lookback_hours)
    expected, open_windows = _expected_windows(until, settings.lookback_hours)
    s, u = since.to_pydatetime(), until.to_pydatetime()
    with ledger.read() as conn:
        findings = [
            rec.window_coverage(conn, expected, s, u),
            rec.research_chain(conn, s, u),
            rec.orphans(conn, s, u),
            rec.artifacts(conn, s, u),
        ]
        chain = verify_chain(conn, recompute=live_recompute(conn))
        statuses = rec.window_status(conn, s, u)
        floors = rec.row_floors(conn, lane_partitions.get_partition_keys(), open_windows, s, u)
        provenance = rec.route_provenance(conn, s, u)
    findings.append(
        rec.Finding(
            "evidence_chain_verifies",
            chain.ok and chain.entries_checked > 0,
            chain.entries_checked,
            len(chain.breaks),
            tuple(f"seq {b.seq}: {b.problem}" for b in chain.breaks[: rec.MAX_KEYS]),
            "ERROR",
            {"head_seq": chain.head_seq, "head_hash": chain.head_hash},
        )
    )
    findings.append(_replay_finding(ledger, market_data, research, statuses, settings.replay_sample))
    findings += [provenance, _broker_finding(ledger, market_data, broker, since, until)]
    findings += [positions_finding(ledger, broker), floors]
    return findings, statuses


def _replay_finding(
    ledger: LedgerResource,
    market_data: MarketDataResource,
    research: ResearchResource,
    statuses: list[dict[str, Any]],
    sample: int,
) -> rec.Finding:
    normal = [s for s in statuses if s["status"] != "skipped"][-sample:] if sample else []
    failing = []
    for status in normal:
        window = LaneWindow(status["lane"], status["window_start"])
        try:
            with strategy_scope(window=window.label(), timeout_seconds=research.strategy_timeout_seconds):
                report = replay_window(ledger, market_data, research.settings(), window)
        except (StrategyRunError, StrategyLoadError) as exc:  # one lane's broken strategy is one finding
            failing.append(f"{status['lane']}/{status['window_start'].isoformat()}: {exc}")
            continue
        failing += [
            f"{status['lane']}/{status['window_start'].isoformat()}: {d.table}.{d.field}"
            for d in report.differences
        ]
    if not normal:
        return rec.Finding(
            "replay_sample_matches", True, 0, 0, (), "WARN", {"note": "no normal run to replay"}
        )
    return rec.finding_from("replay_sample_matches", len(normal), failing)


def _result(finding: rec.Finding) -> dg.AssetCheckResult:
    severity = (
        dg.AssetCheckSeverity.WARN
        if finding.check in SOFT or finding.severity == "WARN"
        else dg.AssetCheckSeverity.ERROR
    )
    return dg.AssetCheckResult(
        check_name=finding.check,
        passed=finding.passed,
        severity=severity,
        metadata={
            "examined": finding.examined,
            "failing": finding.failing,
            "failing_keys": dg.MetadataValue.json(list(finding.keys)),
            "detail": dg.MetadataValue.json(finding.detail),
            "summary": dg.MetadataValue.md(
                f"**{finding.check}**: {'passed' if finding.passed else 'FAILED'} "
                f"({finding.failing} failing of {finding.examined})\n\n"
                + "\n".join(f"- `{k}`" for k in finding.keys)
            ),
        },
    )


def failed_check_alerts(
    findings: list[rec.Finding], quality: list[SuiteResult], checked_day: str
) -> list[Alert]:
    """One page per failing blocking check and failing GX suite; soft (WARN) checks stay in the UI."""
    alerts = [
        reconciliation_alert(
            check=f.check, checked_day=checked_day, examined=f.examined, failing=f.failing, keys=f.keys
        )
        for f in findings
        if not f.passed and f.check not in SOFT and f.severity != "WARN"
    ]
    alerts += [
        reconciliation_alert(
            check=f"gx_{q.suite}",
            checked_day=checked_day,
            examined=q.evaluated,
            failing=len(q.failed),
            keys=[str(e.get("expectation_type")) for e in q.failed],
        )
        for q in quality
        if not q.success
    ]
    return alerts


@dg.asset(
    group_name="governance",
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
    now = reconciliation.now()
    findings, statuses = run_reconciliation(
        ledger, market_data, research_settings, reconciliation, now, broker
    )
    report = {
        "schema_version": "torghut.reconciliation.v1",
        "checked_at": now,
        "lookback_hours": reconciliation.lookback_hours,
        "ok": all(f.passed for f in findings),
        "checks": [f.as_dict() for f in findings],
        "windows": statuses,
    }
    quality = run_suites(ledger.resolved_url(), docs_dir=ledger.resolved_artifact_root() / "data-docs")
    report["quality"] = [
        {"suite": q.suite, "success": q.success, "evaluated": q.evaluated, "failed": q.failed}
        for q in quality
    ]
    report["ok"] = report["ok"] and all(q.success for q in quality)
    docs_index = next((q.data_docs_index for q in quality if q.data_docs_index), None)
    json_ref = ledger.artifacts.write_json("reconciliation/report", report)
    markdown = (
        "# Reconciliation\n\n"
        + markdown_table(
            ["check", "verdict", "examined", "failing"],
            [(f.check, "pass" if f.passed else "FAIL", f.examined, f.failing) for f in findings],
        )
        + "\n\n## Lane windows\n\n"
        + markdown_table(
            ["lane", "window", "status", "reason", "candidates"],
            [
                (
                    s["lane"],
                    s["window_start"].isoformat(),
                    s["status"],
                    s["no_signal_reason"],
                    s["candidates"],
                )
                for s in statuses
            ],
        )
    )
    md_ref = ledger.artifacts.write_text("reconciliation/report", markdown, suffix=".md")
    checked_day = now.tz_convert("UTC").strftime("%Y-%m-%d")
    sent = alerts.send(ledger, failed_check_alerts(findings, quality, checked_day), context.log)
    yield dg.MaterializeResult(
        metadata={
            "ok": report["ok"],
            "summary": dg.MetadataValue.md(markdown),
            "report": dg.MetadataValue.path(json_ref.path),
            "report_markdown": dg.MetadataValue.path(md_ref.path),
            "data_docs": dg.MetadataValue.url(f"file://{docs_index}")
            if docs_index
            else dg.MetadataValue.text("none"),
            "dagster/row_count": len(statuses),
            **alert_metadata(sent),
        }
    )
    for finding in findings:
        yield _result(finding)
    for result in quality:
        yield dg.AssetCheckResult(
            check_name=f"gx_{result.suite}",
            passed=result.success,
            metadata={
                "evaluated": result.evaluated,
                "failed_expectations": dg.MetadataValue.json(result.failed),
                "data_docs": dg.MetadataValue.path(result.data_docs_index or "none"),
            },
        )


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
