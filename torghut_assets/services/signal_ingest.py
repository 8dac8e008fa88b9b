"""Ingest one lane window's TA signals: admit what the source returns, judge the batch, keep a verdict.

Why a verdict row for every window, empty or not: the rest of the lane (research, continuity, the
decisions) must tell "no signals because the market was shut" from "no signals because the source was
down" or "the batch failed its feature quality gates", and that answer is fixed when the window is read.
A batch that fails a gate is stored as read, with `no_signal_reason` `feature_quality_gate_failed` and
the failed reasons in `no_signal_detail`; `trade_decisions` then decides nothing for the window
(docs/signal-sources.md, "Quality gates"). A universe that blocks decisions is not read at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import pandas as pd
import pandera.errors

from torghut_assets.adapters.signal_source import SignalSource, SignalSourceUnavailable
from torghut_assets.domain.feature_quality import (
    FEATURE_QUALITY_GATE_FAILED,
    FEATURE_SCHEMA_VERSION_ATTR,
    FeatureQualityLimits,
    FeatureQualityReport,
    evaluate_feature_quality,
)
from torghut_assets.domain.lanes import LaneWindow
from torghut_assets.domain.market_calendar import market_minutes
from torghut_assets.domain.signal_frame import SIGNAL_SCHEMA, dataset_version, empty_signal_frame
from torghut_assets.domain.signal_quality import AdmittedSignals, admit_signals, classify_empty_window
from torghut_assets.domain.universe_policy import UniverseSnapshot, blocks_decisions, unavailable_reason
from torghut_assets.ledger import queries, records, schema
from torghut_assets.ledger.writes import replace_lane_window
from torghut_assets.services.ports import LedgerPort


class SignalFeedPort(Protocol):
    """The configured signal source (`MarketDataResource` is one) and its quality limits."""

    def adapter(self) -> SignalSource: ...

    def fetch_window(self, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame: ...

    def newest_signal_ts(self, as_of: pd.Timestamp) -> pd.Timestamp | None: ...

    def feature_quality_limits(self) -> FeatureQualityLimits: ...


@dataclass(frozen=True)
class SignalIngest:
    """The window's admitted signals (`written` stored) and its ingest verdict."""

    admitted: AdmittedSignals
    quality: FeatureQualityReport
    written: int
    market_open: bool
    dataset_version: str
    reason: str | None = None  # `no_signal_reason`
    detail: str | None = None  # `no_signal_detail`
    lag_seconds: float | None = None
    blocked: str | None = None  # the universe's halt reason: nothing was read
    fetch_error: SignalSourceUnavailable | None = None


@dataclass(frozen=True)
class _Read:
    admitted: AdmittedSignals
    declared_schema: object = None
    fetch_error: SignalSourceUnavailable | None = None


def _read(
    feed: SignalFeedPort, window: LaneWindow, read_until: pd.Timestamp, snapshot: UniverseSnapshot
) -> _Read:
    """The source's rows of the window up to `read_until`, admitted against the universe."""
    try:
        raw = feed.fetch_window(window.start, read_until)
    except SignalSourceUnavailable as exc:
        return _Read(AdmittedSignals(frame=empty_signal_frame()), fetch_error=exc)
    declared = raw.attrs.get(FEATURE_SCHEMA_VERSION_ATTR) if isinstance(raw, pd.DataFrame) else None
    try:
        admitted = admit_signals(
            raw, window_start=window.start, window_end=read_until, universe=snapshot.symbols
        )
    except SignalSourceUnavailable as exc:
        return _Read(AdmittedSignals(frame=empty_signal_frame()), declared, exc)
    return _Read(admitted, declared)


def ingest_window_signals(
    ledger: LedgerPort,
    feed: SignalFeedPort,
    window: LaneWindow,
    *,
    read_until: pd.Timestamp,
    snapshot: UniverseSnapshot,
) -> SignalIngest:
    """Read (unless the universe blocks decisions), judge and store the window's signals and verdict."""
    blocked = blocks_decisions(snapshot)
    # The halt keeps the universe's own cause, e.g. universe_source_unavailable:error:jangar_http_error
    detail = None if blocked is None else unavailable_reason(snapshot)
    read = (
        _Read(AdmittedSignals(frame=empty_signal_frame()))
        if blocked
        else _read(feed, window, read_until, snapshot)
    )
    admitted, fetch_error = read.admitted, read.fetch_error
    quality = evaluate_feature_quality(
        admitted, feed.feature_quality_limits(), declared_schema_version=read.declared_schema
    )
    market_open = len(market_minutes(window.start, window.end)) > 0
    newest = None if fetch_error else feed.newest_signal_ts(window.end)
    reason, lag = None, None
    if blocked is not None:
        reason = blocked
    elif fetch_error is not None:
        reason = fetch_error.reason
    elif admitted.frame.empty:
        reason, lag = classify_empty_window(
            window_start=window.start,
            window_end=window.end,
            newest_signal_ts=newest,
            market_open_in_window=market_open,
            rejected_total=admitted.rejected_total,
        )
    elif not quality.accepted:
        reason, detail = FEATURE_QUALITY_GATE_FAILED, quality.detail
    version = dataset_version(admitted.frame)
    verdict = records.signal_ingest_row(
        window,
        admitted,
        source=feed.adapter().name,
        no_signal_reason=reason,
        no_signal_detail=detail,
        signal_lag_seconds=lag,
        market_session_open=market_open,
        newest_signal_ts=newest,
        dataset_version=version,
    )
    with ledger.engine.begin() as conn:
        written = replace_lane_window(
            conn, schema.signals, window.lane, window.start, records.signal_rows(window, admitted.frame)
        )
        replace_lane_window(conn, schema.signal_ingest_windows, window.lane, window.start, [verdict])
    return SignalIngest(
        admitted, quality, written, market_open, version, reason, detail, lag, blocked, fetch_error
    )


@dataclass(frozen=True)
class StoredSignalsCheck:
    """How the window's stored signals compare with its ingest verdict; no `problems` means they agree."""

    rows: int
    problems: list[str]


def check_stored_signals(ledger: LedgerPort, window: LaneWindow) -> StoredSignalsCheck:
    """The stored signals re-validate against the schema and hash to the verdict's dataset version."""
    with ledger.engine.connect() as conn:
        stored = queries.window_signals(conn, window.lane, window.start)
        verdicts = queries.window_rows(conn, schema.signal_ingest_windows, window.lane, window.start)
    problems: list[str] = []
    if not verdicts:
        problems.append("no signal_ingest_windows row for the window")
    else:
        verdict = verdicts[0]
        if verdict["signals_total"] != len(stored):
            problems.append(f"verdict counts {verdict['signals_total']} signals, ledger holds {len(stored)}")
        if dataset_version(stored) != verdict["dataset_version"]:
            problems.append("stored signals do not hash to the recorded dataset_version")
    try:
        SIGNAL_SCHEMA.validate(stored, lazy=True)
    except pandera.errors.SchemaErrors as exc:
        problems.append(f"schema: {len(exc.failure_cases)} failure case(s)")
    return StoredSignalsCheck(len(stored), problems)
