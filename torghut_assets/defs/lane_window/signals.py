"""`signals`: admitted TA signals of one lane window, plus the window's ingest verdict.

The use case is `services.signal_ingest.ingest_window_signals` (a batch that fails a feature quality
gate is stored as read, with `no_signal_reason` `feature_quality_gate_failed`, and `trade_decisions`
then decides nothing for the window, docs/signal-sources.md, "Quality gates"). This asset reads the
universe and the clock, logs what an operator must see, and renders the verdict.
"""

from datetime import timedelta
from typing import Any

import dagster as dg
import pandas as pd

from torghut_assets.defs.lane_window.partitions import lane_window, lane_window_partitions
from torghut_assets.defs.lane_window.trading_session import TradingSessionResource
from torghut_assets.defs.metadata import markdown_table, window_metadata
from torghut_assets.defs.resources import LedgerResource, MarketDataResource
from torghut_assets.domain.feature_quality import FEATURE_QUALITY_GATE_FAILED, FeatureQualityReport
from torghut_assets.domain.lanes import LaneWindow
from torghut_assets.domain.universe_policy import UniverseSnapshot, UniverseStatus
from torghut_assets.services.signal_ingest import SignalIngest, ingest_window_signals


@dg.asset(
    partitions_def=lane_window_partitions,
    group_name="lane_window",
    kinds={"sql", "pandas"},
    code_version="1",
    description="TA signals admitted for the lane window; rejected rows are counted by reason, never stored.",
    freshness_policy=dg.FreshnessPolicy.time_window(
        fail_window=timedelta(hours=2), warn_window=timedelta(minutes=80)
    ),
)
def signals(
    context: dg.AssetExecutionContext,
    ledger: LedgerResource,
    market_data: MarketDataResource,
    trading_session: TradingSessionResource,
) -> dg.MaterializeResult:  # type: ignore[type-arg]
    window = lane_window(context)
    # An open window is read up to the clock: what has not happened yet cannot be a signal.
    read_until = min(window.end, max(window.start, trading_session.now()))
    snapshot = market_data.universe_snapshot(pd.Timestamp.now(tz="UTC"), ledger=ledger)
    ingest = ingest_window_signals(ledger, market_data, window, read_until=read_until, snapshot=snapshot)
    _log(context, window, snapshot, ingest)
    return dg.MaterializeResult(
        metadata=signal_metadata(window, ingest, snapshot, market_data, ledger.describe())
    )


def _log(
    context: dg.AssetExecutionContext, window: LaneWindow, snapshot: UniverseSnapshot, ingest: SignalIngest
) -> None:
    if ingest.blocked is not None:
        context.log.error(f"decisions blocked for {window.label()}: {ingest.detail} ({snapshot.detail})")
    elif snapshot.status != UniverseStatus.OK:
        context.log.warning(f"universe {snapshot.status} for {window.label()}: {snapshot.reason}")
    if ingest.fetch_error is not None:
        context.log.warning(f"signal source unavailable for {window.label()}: {ingest.fetch_error}")
    elif ingest.reason == FEATURE_QUALITY_GATE_FAILED:
        context.log.error(f"feature quality gate failed for {window.label()}: {ingest.detail}; no decisions")


def signal_metadata(
    window: LaneWindow,
    ingest: SignalIngest,
    snapshot: UniverseSnapshot,
    market_data: MarketDataResource,
    ledger: dict[str, str],
) -> dict[str, Any]:
    admitted, quality, written = ingest.admitted, ingest.quality, ingest.written
    frame, reason, detail = admitted.frame, ingest.reason, ingest.detail
    per_symbol = frame.groupby("symbol").size().sort_index() if not frame.empty else None
    summary = (
        f"**{written} signals** for `{window.label()}` from `{market_data.source}`"
        + (
            f"; empty window: `{detail or reason}`"
            if reason and reason != FEATURE_QUALITY_GATE_FAILED
            else ""
        )
        + quality_summary(quality)
        + f"\n\n{admitted.source_rows} rows read = {written} admitted + {admitted.rejected_total} rejected"
        + "\n\n"
        + markdown_table(
            ["symbol", "signals"], [] if per_symbol is None else [(s, int(n)) for s, n in per_symbol.items()]
        )
    )
    return window_metadata(
        window,
        written,
        summary,
        signals_total=written,
        rejected_total=admitted.rejected_total,
        rejected_by_reason=admitted.rejected,
        source_rows=admitted.source_rows,  # = signals_total + rejected_total, always
        source_superseded_versions=admitted.superseded_versions,
        no_signal_reason=reason,
        no_signal_detail=detail,
        signal_lag_seconds=ingest.lag_seconds,
        market_session_open=ingest.market_open,
        dataset_version=ingest.dataset_version,
        source=market_data.provenance(),
        universe=universe_metadata(snapshot),
        source_error=None if ingest.fetch_error is None else ingest.fetch_error.detail,
        feature_quality=quality.as_metadata(),
        ledger=ledger,
    )


def quality_summary(report: FeatureQualityReport) -> str:
    """One line when the window failed its feature quality gates: which, by how much, and the effect."""
    if report.accepted:
        return ""
    nulls = ", ".join(f"{name} {rate:.4f}" for name, rate in report.null_rate_by_field.items() if rate)
    limits = report.limits
    return (
        f"; **feature quality gate failed** (`{report.detail}`): decisions withheld"
        f"\n\nduplicate ratio {report.duplicate_ratio:.4f} (limit {limits.max_duplicate_ratio}), "
        f"null rates {nulls or 'none'} (limit {limits.max_required_null_rate} per field; "
        f"{report.warmup_rows} rows in the session's first {limits.warmup_minutes} min not counted), "
        f"staleness p95 {report.staleness_ms_p95} ms (limit {limits.max_staleness_ms}), "
        f"schema mismatches {report.schema_mismatch_total}"
    )


def universe_metadata(snapshot: UniverseSnapshot) -> dict[str, object]:
    """What the run knew about its universe: Jangar's status/reason, the list's age and provenance."""
    return {
        "source": snapshot.source,
        "status": snapshot.status,
        "reason": snapshot.reason,
        "symbols": len(snapshot.symbols),
        "rejected_symbols": snapshot.rejected_symbols,
        "fetched_at": None if snapshot.fetched_at is None else snapshot.fetched_at.isoformat(),
        "age_seconds": snapshot.age_seconds,
        "payload_hash": snapshot.payload_hash,
        "detail": snapshot.detail or None,
    }
