"""Nightly reconciliation: the artifact chain, the evidence log, what makes each audit row auditable, a
replay sample, the broker's record of each execution, the venues' own list of their orders, and the
positions, checked over a lookback and written as a report.

Why a use case: the checks fail closed (a check with nothing to examine fails, an unverifiable broker
record fails; where nothing to compare can be honest, it is a warning naming why, never a pass) and the
report lists every lane window's status, so a gap is visible even when a check is green; the Dagster
asset, its checks and its pages only render what this returns.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple, Protocol

import pandas as pd

from torghut_assets.adapters.paper_broker import SimulatedVenue
from torghut_assets.domain.alerts import Alert, reconciliation_alert
from torghut_assets.domain.lanes import LANES, LaneWindow
from torghut_assets.domain.markdown import markdown_table
from torghut_assets.domain.market_calendar import market_minutes
from torghut_assets.domain.orders import (
    ExecutionVenue,
    OrderListingVenue,
    OrderLookupVenue,
    OrderReport,
    VenueError,
)
from torghut_assets.domain.routing import Venue
from torghut_assets.domain.strategy_interface import StrategyLoadError, StrategyRunError
from torghut_assets.ledger import broker_records, records
from torghut_assets.ledger import reconciliation as rec
from torghut_assets.ledger.artifacts import ArtifactRef
from torghut_assets.ledger.evidence_digests import live_recompute
from torghut_assets.ledger.evidence_log import verify_chain
from torghut_assets.ledger.quality import SuiteResult, run_suites
from torghut_assets.ledger.queries import as_utc
from torghut_assets.services.broker_account import AccountBrokerPort, BrokerAccountVenue, positions_finding
from torghut_assets.services.chain_head import HeadPublication, publish_chain_head
from torghut_assets.services.ports import LedgerPort, MarketDataPort, ResearchSettingsPort, VenuePort
from torghut_assets.services.replay import replay_in_scope
from torghut_assets.services.window_orders import order_request

SCHEMA_VERSION = "torghut.reconciliation.v1"
REPORT_KIND = "reconciliation/report"
# Checks whose failure is a warning in the UI and never pages.
SOFT_CHECKS = frozenset({"window_run_coverage"})
BROKER_CHECK = "executions_match_broker"
VENUE_ORDERS_CHECK = "venue_orders_known"
REPLAY_CHECK = "replay_sample_matches"
EVIDENCE_CHECK = "evidence_chain_verifies"

Row = dict[str, Any]


class ReconciliationBroker(VenuePort, AccountBrokerPort, Protocol):
    """The broker as reconciliation reads it: the venues that placed orders, and its Alpaca account."""


@dataclass(frozen=True)
class SimulatedBroker:
    """No broker configured (a laptop): the simulated paper broker alone, no broker account."""

    def venues(self, bars: pd.DataFrame) -> dict[str, ExecutionVenue]:
        return {Venue.SIMULATOR: SimulatedVenue(bars)}

    def alpaca_venue(self) -> BrokerAccountVenue | None:
        return None


class ReconciliationSettings(Protocol):
    """How far back to look and how many normal runs to replay (`ReconciliationResource` is one)."""

    @property
    def lookback_hours(self) -> int: ...

    @property
    def replay_sample(self) -> int: ...


class Reconciliation(NamedTuple):
    findings: list[rec.Finding]
    windows: list[Row]


@dataclass(frozen=True)
class NightlyReport:
    """The reconciliation, the great-expectations suites' verdicts and the report artifacts."""

    checked_at: pd.Timestamp
    findings: list[rec.Finding]
    windows: list[Row]
    quality: list[SuiteResult]
    json_ref: ArtifactRef
    md_ref: ArtifactRef
    markdown: str
    # The evidence chain's head as published tonight, outside the ledger (services/chain_head.py).
    chain_head: HeadPublication | None = None

    @property
    def ok(self) -> bool:
        """Everything verified: no failure and no warning (a warning is not a pass)."""
        return all(f.passed for f in self.findings) and all(q.success for q in self.quality)

    @property
    def verdict(self) -> str:
        """`fail` when a check or suite failed, else `warn` when a check had nothing to compare, else
        `pass`."""
        return report_verdict(self.findings, self.quality)

    @property
    def data_docs_index(self) -> str | None:
        return next((q.data_docs_index for q in self.quality if q.data_docs_index), None)

    @property
    def checked_day(self) -> str:
        return self.checked_at.tz_convert("UTC").strftime("%Y-%m-%d")


def expected_windows(
    lanes: Sequence[str],
    until: pd.Timestamp,
    hours: int,
    first_windows: Mapping[str, Any] | None = None,
) -> list[tuple[str, Any]]:
    """The lane windows of the lookback that should have a run: the market-hours windows (a window with
    session minutes: the windows a lane can decide and trade in) of each catalog lane, from the first
    window the ledger holds for that lane.

    Why not every hour: off-hours and weekend windows are empty by construction (a weekday night's run is
    a `skipped` row, a weekend hour is not a window at all), so a missing one hides no decision; and the
    hours before a lane's history begins (a fresh install, a `dev-seed`, a lane added today) were never
    meant to run. `first_windows` None counts every market-hours window of the lookback; a lane missing
    from it has no history and expects nothing (`row_count_floors` fails such a lane)."""
    starts = [until - pd.Timedelta(hours=h) for h in range(1, hours + 1)]
    market_starts = [s for s in starts if len(market_minutes(s, s + pd.Timedelta(hours=1)))]
    return [
        (lane, s.to_pydatetime())
        for lane in lanes
        for s in market_starts
        if first_windows is None or (lane in first_windows and s >= pd.Timestamp(first_windows[lane]))
    ]


def _same_fill(report: OrderReport | None, row: Row) -> bool:
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


def _venue_problem(window: LaneWindow, row: Row, venues: Mapping[str, ExecutionVenue]) -> str | None:
    """Why the venue's record of this execution differs from the ledger's, or None when it agrees.
    Simulated fills are re-derived from the bars; LEAN/Alpaca orders are read back by client_order_id."""
    key = str(row["client_order_id"])[:16]
    adapter = str(row["execution_actual_adapter"])
    decision = records.decision_from_row(
        {**row, "id": row["trade_decision_id"], "decision_hash": row["client_order_id"]}
    )
    request = order_request(window, decision)
    venue = venues.get(adapter)
    try:
        if adapter == Venue.SIMULATOR and venue is not None:
            report: OrderReport | None = venue.submit(request)
        elif isinstance(venue, OrderLookupVenue):
            report = venue.find_order(request)
        else:
            return f"{key}: {adapter} record not reachable (venue not configured)"
    except VenueError as exc:
        return f"{key}: {adapter} unreachable ({exc.reason_code})"
    if _same_fill(report, row):
        return None
    seen = "not found" if report is None else f"{report.filled_qty}@{report.avg_fill_price}"
    return f"{key}: ledger {row['filled_qty']}@{row['avg_fill_price']} vs {adapter} {seen}"


def broker_finding(
    ledger: LedgerPort,
    market_data: MarketDataPort,
    broker: VenuePort,
    since: pd.Timestamp,
    until: pd.Timestamp,
) -> rec.Finding:
    """Each execution against the venue that placed it. A venue that cannot be asked fails the row:
    unknown is not flat."""
    with ledger.engine.connect() as conn:
        rows = broker_records.executions_with_decisions(conn, since, until)
    if not rows:
        return rec.nothing_to_compare(BROKER_CHECK, "no executions in the lookback: nothing to compare")
    failing: list[str] = []
    by_window: dict[tuple[str, Any], list[Row]] = {}
    for row in rows:
        by_window.setdefault((row["lane"], as_utc(row["window_start"])), []).append(row)
    for (lane, start), window_rows in sorted(by_window.items()):
        window = LaneWindow(lane, start)
        venues = broker.venues(market_data.bars(window.start, window.end + pd.Timedelta(hours=8)))
        for row in window_rows:
            if row["status"] == "rejected" and str(row["alpaca_order_id"]).startswith("unplaced-"):
                continue
            problem = _venue_problem(window, row, venues)
            if problem is not None:
                failing.append(problem)
    return rec.finding_from(BROKER_CHECK, len(rows), failing)


def _venue_listing(
    name: str, venue: ExecutionVenue, routed: int, since: pd.Timestamp, until: pd.Timestamp
) -> tuple[list[OrderReport], str | None]:
    """The venue's orders of the lookback, and why they are not evidence of "nothing unknown" (None:
    they are)."""
    if not isinstance(venue, OrderListingVenue):
        return [], (
            f"{name}: cannot list its orders in a time range; its {routed} execution(s) of the lookback were "
            "read back by client order id only, so an order it holds that the ledger does not know is unseen"
        )
    try:
        orders = venue.orders_between(since, until)
    except VenueError as exc:
        return [], f"{name}: orders unreadable ({exc.reason_code}): unknown is not 'none unknown'"
    if orders:
        return orders, None
    if isinstance(venue, SimulatedVenue):
        return [], (
            f"{name}: the market simulator (no broker configured) keeps its order book only in the run that "
            "placed the orders, so it has no record of its own to list; its "
            f"{routed} execution(s) of the lookback are re-simulated by executions_match_broker instead"
        )
    return [], f"{name}: lists no order submitted or filled in the lookback"


def _unknown_order(venue: str, order: OrderReport, decisions: set[str]) -> str:
    known = (
        "its decision is in the ledger, its execution row is not"
        if order.client_order_id in decisions
        else "no decision or execution in the ledger has this client order id"
    )
    return (
        f"{order.client_order_id or '(no client order id)'}: {venue} order {order.order_id} "
        f"({order.symbol} {order.side} {order.submitted_qty:g}, {order.status}): {known}"
    )


def venue_orders_finding(
    ledger: LedgerPort, broker: VenuePort, since: pd.Timestamp, until: pd.Timestamp
) -> rec.Finding:
    """The venues' side: every order a venue lists as submitted or filled in [since, until) is known to
    the ledger, matched by client order id against every execution (any window, any venue: a LEAN runner
    may place on the same broker account). Each unknown order fails, named by its client order id. A
    venue that cannot list a range, cannot be read or lists nothing is a warning with the reason."""
    venues = broker.venues(pd.DataFrame())  # listing reads the venues' records, never the bars
    with ledger.engine.connect() as conn:
        routed = broker_records.executions_by_adapter(conn, since.to_pydatetime(), until.to_pydatetime())
    listed: dict[str, list[OrderReport]] = {}
    warnings: list[str] = []
    for name, venue in sorted(venues.items()):
        orders, warning = _venue_listing(name, venue, routed.get(name, 0), since, until)
        listed[name] = orders
        warnings += [warning] if warning else []
    with ledger.engine.connect() as conn:
        known = broker_records.known_client_order_ids(
            conn, (o.client_order_id for orders in listed.values() for o in orders)
        )
    failing = [
        _unknown_order(name, order, known["decisions"])
        for name, orders in listed.items()
        for order in orders
        if order.client_order_id not in known["executions"]
    ]
    examined = sum(len(orders) for orders in listed.values())
    detail: dict[str, Any] = {
        "range": [since.isoformat(), until.isoformat()],
        "listed_by_venue": {name: len(orders) for name, orders in listed.items()},
        "executions_by_venue": routed,
        "warnings": warnings,
    }
    if failing:
        keys = (*failing, *(f"warning: {w}" for w in warnings))[: rec.MAX_KEYS]
        return rec.Finding(VENUE_ORDERS_CHECK, False, examined, len(failing), keys, "ERROR", detail)
    if warnings:
        return rec.Finding(VENUE_ORDERS_CHECK, False, examined, 0, tuple(warnings), "WARN", detail)
    return rec.Finding(VENUE_ORDERS_CHECK, True, examined, 0, (), "ERROR", detail)


def replay_finding(
    ledger: LedgerPort,
    market_data: MarketDataPort,
    research: ResearchSettingsPort,
    statuses: list[Row],
    sample: int,
) -> rec.Finding:
    """Replay the last `sample` normal runs; one lane's broken strategy is one failing key."""
    normal = [s for s in statuses if s["status"] != "skipped"][-sample:] if sample else []
    failing = []
    for status in normal:
        window = LaneWindow(status["lane"], status["window_start"])
        label = f"{status['lane']}/{status['window_start'].isoformat()}"
        try:
            report = replay_in_scope(
                ledger, market_data, research.settings(), window, research.strategy_timeout_seconds
            )
        except (StrategyRunError, StrategyLoadError) as exc:
            failing.append(f"{label}: {exc}")
            continue
        failing += [f"{label}: {d.table}.{d.field}" for d in report.differences]
    if not normal:
        reason = "replay sample of 0: nothing replayed" if not sample else "no normal run in the lookback"
        return rec.nothing_to_compare(REPLAY_CHECK, f"{reason}: nothing to compare")
    return rec.finding_from(REPLAY_CHECK, len(normal), failing)


def _ledger_findings(
    ledger: LedgerPort, lanes: Sequence[str], since: pd.Timestamp, until: pd.Timestamp, hours: int
) -> tuple[list[rec.Finding], list[Row], rec.Finding, rec.Finding]:
    """The checks over the ledger alone (one read): chain, foreign keys, artifacts, auditable rows,
    evidence log; plus the window statuses, the row floors and the route provenance."""
    s, u = since.to_pydatetime(), until.to_pydatetime()
    with ledger.engine.connect() as conn:
        expected = expected_windows(lanes, until, hours, rec.first_window_by_lane(conn))
        findings = [
            rec.window_coverage(conn, expected, s, u),
            rec.research_chain(conn, s, u),
            rec.orphans(conn, s, u),
            rec.artifacts(conn, s, u),
            rec.audit_rows(conn, s, u),
        ]
        chain = verify_chain(conn, recompute=live_recompute(conn))
        statuses = rec.window_status(conn, s, u)
        floors = rec.row_floors(conn, lanes, expected, s, u)
        provenance = rec.route_provenance(conn, s, u)
    findings.append(
        rec.Finding(
            EVIDENCE_CHECK,
            chain.ok and chain.entries_checked > 0,
            chain.entries_checked,
            len(chain.breaks),
            tuple(f"seq {b.seq}: {b.problem}" for b in chain.breaks[: rec.MAX_KEYS]),
            "ERROR",
            {"head_seq": chain.head_seq, "head_hash": chain.head_hash},
        )
    )
    return findings, statuses, floors, provenance


def run_reconciliation(
    ledger: LedgerPort,
    market_data: MarketDataPort,
    research: ResearchSettingsPort,
    settings: ReconciliationSettings,
    now: pd.Timestamp,
    broker: ReconciliationBroker | None = None,
    lanes: Sequence[str] | None = None,
) -> Reconciliation:
    """Every check over the lookback ending at the hour before `now` (`broker` None: the simulated paper
    broker; `lanes` None: the lane catalog's), and every lane window's status."""
    broker = broker or SimulatedBroker()
    lanes = sorted(LANES) if lanes is None else lanes
    until = now.tz_convert("UTC").floor("h")
    since = until - pd.Timedelta(hours=settings.lookback_hours)
    findings, statuses, floors, provenance = _ledger_findings(
        ledger, lanes, since, until, settings.lookback_hours
    )
    findings.append(replay_finding(ledger, market_data, research, statuses, settings.replay_sample))
    findings += [provenance, broker_finding(ledger, market_data, broker, since, until)]
    findings.append(venue_orders_finding(ledger, broker, since, until))
    findings += [positions_finding(ledger, broker), floors]
    return Reconciliation(findings, statuses)


def failed_check_alerts(
    findings: list[rec.Finding], quality: list[SuiteResult], checked_day: str
) -> list[Alert]:
    """One page per failing blocking check and failing GX suite; soft (WARN) checks stay in the UI."""
    alerts = [
        reconciliation_alert(
            check=f.check, checked_day=checked_day, examined=f.examined, failing=f.failing, keys=f.keys
        )
        for f in findings
        if not f.passed and f.check not in SOFT_CHECKS and f.severity != "WARN"
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


def report_verdict(findings: Sequence[rec.Finding], quality: Sequence[SuiteResult]) -> str:
    """`fail` when a check or suite failed, else `warn` when a check warned, else `pass`."""
    verdicts = {f.verdict for f in findings} | {"pass" if q.success else "fail" for q in quality}
    return next(v for v in ("fail", "warn", "pass") if v in verdicts or v == "pass")


_VERDICT_TEXT = {"pass": "pass", "warn": "WARN", "fail": "FAIL"}


def report_markdown(findings: Sequence[rec.Finding], windows: Sequence[Row]) -> str:
    """The report as people read it: each check's verdict (a warning's reason beside it), then every
    lane window's status."""
    return (
        "# Reconciliation\n\n"
        + markdown_table(
            ["check", "verdict", "examined", "failing", "warning"],
            [
                (
                    f.check,
                    _VERDICT_TEXT[f.verdict],
                    f.examined,
                    f.failing,
                    "; ".join(f.keys) if f.verdict == "warn" else "",
                )
                for f in findings
            ],
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
                for s in windows
            ],
        )
    )


def nightly_report(
    ledger: LedgerPort,
    market_data: MarketDataPort,
    research: ResearchSettingsPort,
    settings: ReconciliationSettings,
    now: pd.Timestamp,
    broker: ReconciliationBroker,
    *,
    database_url: str,
    data_docs_dir: Path,
) -> NightlyReport:
    """Reconcile, run the great-expectations suites on the stored tables (Data Docs into
    `data_docs_dir`), and write the report as JSON and markdown artifacts."""
    findings, windows = run_reconciliation(ledger, market_data, research, settings, now, broker)
    published = publish_chain_head(ledger, now=now.to_pydatetime())
    findings.append(published.finding)
    quality = run_suites(database_url, docs_dir=data_docs_dir)
    report = {
        "schema_version": SCHEMA_VERSION,
        "checked_at": now,
        "lookback_hours": settings.lookback_hours,
        "ok": all(f.passed for f in findings) and all(q.success for q in quality),
        "verdict": report_verdict(findings, quality),
        "checks": [f.as_dict() for f in findings],
        "evidence_chain_head": published.head.as_dict(),
        "windows": windows,
        "quality": [
            {"suite": q.suite, "success": q.success, "evaluated": q.evaluated, "failed": q.failed}
            for q in quality
        ],
    }
    json_ref = ledger.artifacts.write_json(REPORT_KIND, report)
    markdown = report_markdown(findings, windows)
    md_ref = ledger.artifacts.write_text(REPORT_KIND, markdown, suffix=".md")
    return NightlyReport(now, findings, windows, quality, json_ref, md_ref, markdown, published)
