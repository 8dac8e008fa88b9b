"""`signals`: admitted TA signals of one lane window, plus the window's ingest verdict.

The verdict also carries the window's feature quality gates: a batch that fails one is stored as read,
with `no_signal_reason` `feature_quality_gate_failed` and the failed reasons in `no_signal_detail`, and
`trade_decisions` then decides nothing for the window (docs/signal-sources.md, "Quality gates").
"""

from datetime import timedelta

import dagster as dg
import pandas as pd

from torghut_assets.adapters.signal_source import SignalSourceUnavailable
from torghut_assets.defs.lane_window.partitions import lane_window, lane_window_partitions
from torghut_assets.defs.lane_window.trading_session import TradingSessionResource
from torghut_assets.defs.metadata import markdown_table, window_metadata
from torghut_assets.defs.resources import LedgerResource, MarketDataResource
from torghut_assets.domain.feature_quality import (
    FEATURE_QUALITY_GATE_FAILED,
    FEATURE_SCHEMA_VERSION_ATTR,
    FeatureQualityReport,
    evaluate_feature_quality,
)
from torghut_assets.domain.market_calendar import market_minutes
from torghut_assets.domain.signal_frame import dataset_version, empty_signal_frame
from torghut_assets.domain.signal_quality import AdmittedSignals, admit_signals, classify_empty_window
from torghut_assets.domain.universe_policy import (
    STATUS_OK,
    UniverseSnapshot,
    blocks_decisions,
    unavailable_reason,
)
from torghut_assets.ledger import schema
from torghut_assets.ledger.identity import row_id
from torghut_assets.ledger.records import signal_rows
from torghut_assets.ledger.writes import replace_lane_window


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
    fetch_error: SignalSourceUnavailable | None = None
    admitted = AdmittedSignals(frame=empty_signal_frame())
    declared_schema = None
    blocked = blocks_decisions(snapshot)
    # The halt keeps the universe's own cause, e.g. universe_source_unavailable:error:jangar_http_error
    detail = None if blocked is None else unavailable_reason(snapshot)
    if detail is not None:
        context.log.error(f"decisions blocked for {window.label()}: {detail} ({snapshot.detail})")
    elif snapshot.status != STATUS_OK:
        context.log.warning(f"universe {snapshot.status} for {window.label()}: {snapshot.reason}")
    if blocked is None:
        try:
            raw = market_data.fetch_window(window.start, read_until)
            declared_schema = (
                raw.attrs.get(FEATURE_SCHEMA_VERSION_ATTR) if isinstance(raw, pd.DataFrame) else None
            )
            admitted = admit_signals(
                raw, window_start=window.start, window_end=read_until, universe=snapshot.symbols
            )
        except SignalSourceUnavailable as exc:
            fetch_error = exc
            context.log.warning(f"signal source unavailable for {window.label()}: {exc}")
    frame = admitted.frame
    quality = evaluate_feature_quality(
        admitted, market_data.feature_quality_limits(), declared_schema_version=declared_schema
    )
    market_open = len(market_minutes(window.start, window.end)) > 0
    reason, lag = (None, None)
    newest = None if fetch_error else market_data.newest_signal_ts(window.end)
    if blocked is not None:
        reason = blocked
    elif fetch_error is not None:
        reason = fetch_error.reason
    elif frame.empty:
        reason, lag = classify_empty_window(
            window_start=window.start,
            window_end=window.end,
            newest_signal_ts=newest,
            market_open_in_window=market_open,
            rejected_total=admitted.rejected_total,
        )
    elif not quality.accepted:
        reason, detail = FEATURE_QUALITY_GATE_FAILED, quality.detail
        context.log.error(f"feature quality gate failed for {window.label()}: {detail}; no decisions")
    version = dataset_version(frame)
    ingest_row = {
        "id": row_id("signal_ingest_windows", window.lane, window.start),
        "lane": window.lane,
        "window_start": window.start,
        "window_end": window.end,
        "source": market_data.adapter().name,
        "source_mode": "bounded_window",
        "signals_total": len(frame),
        "rejected_total": admitted.rejected_total,
        "rejected_by_reason": admitted.rejected,
        "symbols_covered": int(frame["symbol"].nunique()),
        "no_signal_reason": reason,
        "no_signal_detail": detail,
        "signal_lag_seconds": lag,
        "market_session_open": market_open,
        "newest_signal_ts": newest,
        "dataset_version": version,
        "created_at": window.end,
    }
    with ledger.transaction() as conn:
        written = replace_lane_window(
            conn, schema.signals, window.lane, window.start, signal_rows(window, frame)
        )
        replace_lane_window(conn, schema.signal_ingest_windows, window.lane, window.start, [ingest_row])
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
    return dg.MaterializeResult(
        metadata=window_metadata(
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
            signal_lag_seconds=lag,
            market_session_open=market_open,
            dataset_version=version,
            source=market_data.provenance(),
            universe=universe_metadata(snapshot),
            source_error=None if fetch_error is None else fetch_error.detail,
            feature_quality=quality.as_metadata(),
            ledger=ledger.describe(),
        )
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
