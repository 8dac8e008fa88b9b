"""Specification of the window's feature quality gates (docs/signal-sources.md, "Quality gates").

The reference is proompteng/lab 18622cbe3a, services/torghut/app/trading/feature_quality.py: duplicate
ratio, per-field required-feature null rate, p95 staleness and schema version, each compared by strict `>`.
Inputs are the simulated window 2026-03-03 15:00-16:00 UTC (eight symbols, 480 rows, feed lag 50-900 ms),
degraded the way a real feed degrades: redeliveries, indicator gaps, a backed-up pipeline.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from torghut_assets.domain.feature_quality import (
    FEATURE_SCHEMA_VERSION_ATTR,
    FeatureQualityLimits,
    FeatureQualityReason,
    FeatureQualityReport,
    evaluate_feature_quality,
    row_staleness_ms,
)
from torghut_assets.domain.signal_frame import SUPERSEDED_VERSIONS_ATTR
from torghut_assets.domain.signal_quality import AdmittedSignals, admit_signals
from torghut_assets_tests.domain.session_fixtures import SimulatedSession, simulate_session, utc

WINDOW_START = utc("2026-03-03 15:00")
WINDOW_END = utc("2026-03-03 16:00")
FIVE_SYMBOLS = 5  # 5 x 60 = 300 rows: 3 null cells of a field are exactly 1 %


@pytest.fixture(scope="module")
def session() -> SimulatedSession:
    return simulate_session()


@pytest.fixture(scope="module")
def window_signals(session: SimulatedSession) -> pd.DataFrame:
    frame = session.signals
    in_window = (frame["event_ts"] >= WINDOW_START) & (frame["event_ts"] < WINDOW_END)
    return frame[in_window].reset_index(drop=True)


@pytest.fixture
def raw(window_signals: pd.DataFrame) -> pd.DataFrame:
    return window_signals.copy()


@pytest.fixture
def raw_300(window_signals: pd.DataFrame) -> pd.DataFrame:
    """The same window for a universe of five symbols: 300 rows."""
    symbols = sorted(window_signals["symbol"].unique())[:FIVE_SYMBOLS]
    return window_signals[window_signals["symbol"].isin(symbols)].reset_index(drop=True)


def admit(frame: pd.DataFrame) -> AdmittedSignals:
    universe = tuple(sorted(set(frame["symbol"])))
    return admit_signals(frame, window_start=WINDOW_START, window_end=WINDOW_END, universe=universe)


def judge(
    frame: pd.DataFrame, limits: FeatureQualityLimits | None = None, **declared: object
) -> FeatureQualityReport:
    return evaluate_feature_quality(
        admit(frame), limits, declared_schema_version=declared.get("declared_schema_version")
    )


def redelivered(frame: pd.DataFrame, copies: int) -> pd.DataFrame:
    """The at-least-once sink delivering `copies` rows a second time (same key, same ingest_ts)."""
    return pd.concat([frame, frame.iloc[:copies]], ignore_index=True)


def with_nulls(frame: pd.DataFrame, column: str, rows: list[int]) -> pd.DataFrame:
    out = frame.copy()
    out.loc[rows, column] = np.nan
    return out


def lagging(frame: pd.DataFrame, lag: pd.Timedelta) -> pd.DataFrame:
    """A backed-up pipeline: every row lands `lag` after its event."""
    return frame.assign(ingest_ts=frame["event_ts"] + lag)


# --- a clean window ------------------------------------------------------------------------------------


def test_a_clean_window_passes_every_gate_and_reports_its_figures(raw: pd.DataFrame) -> None:
    report = judge(raw)
    assert report.accepted and report.reasons == () and report.detail is None
    assert (report.rows_total, report.source_rows, report.duplicate_total) == (480, 480, 0)
    assert report.null_rate_by_field == {"price": 0.0, "macd": 0.0, "macd_signal": 0.0, "rsi14": 0.0}
    assert 50 <= report.staleness_ms_p95 <= 900  # the simulated feed's own lag
    assert report.schema_mismatch_total == 0


def test_the_default_limits_are_the_reference_defaults() -> None:
    assert FeatureQualityLimits().as_dict() == {
        "max_required_null_rate": 0.01,
        "max_staleness_ms": 120_000,
        "max_duplicate_ratio": 0.02,
    }


def test_an_empty_batch_passes_so_the_empty_window_keeps_its_own_reason(raw: pd.DataFrame) -> None:
    report = judge(raw.iloc[:0])
    assert report.accepted and report.rows_total == 0


# --- duplicate ratio -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("copies", "accepted"), [(9, True), (10, False)])
def test_duplicates_fail_the_window_just_over_two_percent_of_the_rows_read(
    raw: pd.DataFrame, copies: int, accepted: bool
) -> None:
    """9 of 489 rows read (1.84 %) pass; 10 of 490 (2.04 %) fail."""
    report = judge(redelivered(raw, copies))
    assert report.duplicate_total == copies and report.source_rows == 480 + copies
    assert report.accepted is accepted
    assert (FeatureQualityReason.DUPLICATE_RATIO in report.reasons) is not accepted


@pytest.mark.parametrize(("copies", "accepted"), [(20, True), (21, False)])
def test_a_duplicate_ratio_equal_to_the_limit_passes(raw: pd.DataFrame, copies: int, accepted: bool) -> None:
    """With a 4 % limit, 20 copies in 500 rows read are exactly 4 % and pass; 21 in 501 fail."""
    report = judge(redelivered(raw, copies), FeatureQualityLimits(max_duplicate_ratio=0.04))
    assert report.duplicate_ratio == copies / (480 + copies)
    assert report.accepted is accepted


def test_stored_versions_the_reader_skipped_count_as_duplicates(raw: pd.DataFrame) -> None:
    """An unmerged ReplacingMergeTree: the reader returns the latest version and reports 10 older ones,
    which the reference (reading without FINAL) would have counted in its batch."""
    raw.attrs[SUPERSEDED_VERSIONS_ATTR] = 10
    report = judge(raw)
    assert (report.duplicate_total, report.source_rows) == (10, 490)
    assert report.reasons == (FeatureQualityReason.DUPLICATE_RATIO,)


# --- required-feature null rate ------------------------------------------------------------------------


@pytest.mark.parametrize(("gaps", "accepted"), [(3, True), (4, False)])
def test_rsi_gaps_fail_the_window_just_over_one_percent_of_its_rows(
    raw_300: pd.DataFrame, gaps: int, accepted: bool
) -> None:
    """3 null rsi14 in 300 rows are exactly the 1 % limit and pass; 4 (1.33 %) fail."""
    report = judge(with_nulls(raw_300, "rsi14", list(range(gaps))))
    assert report.null_rate_by_field["rsi14"] == gaps / 300
    assert report.accepted is accepted
    assert (FeatureQualityReason.REQUIRED_NULL_RATE in report.reasons) is not accepted


def test_the_null_rate_is_judged_per_field_so_one_sparse_field_fails_the_window(
    raw_300: pd.DataFrame,
) -> None:
    """4 null macd_signal in 300 rows: 1.33 % for that field fails, although pooled over the three gated
    fields (4 of 900 cells, 0.44 %) it would pass. The reference tests each field (`any(...)`)."""
    report = judge(with_nulls(raw_300, "macd_signal", [10, 50, 90, 130]))
    pooled = sum(report.null_rate_by_field[f] for f in ("macd", "macd_signal", "rsi14")) / 3
    assert pooled < report.limits.max_required_null_rate
    assert report.reasons == (FeatureQualityReason.REQUIRED_NULL_RATE,)


def test_gaps_spread_over_different_fields_do_not_add_up(raw_300: pd.DataFrame) -> None:
    """3 null macd, 3 null macd_signal and 3 null rsi14, all on different rows: 9 of 300 rows (3 %) miss a
    feature, but no field is over 1 %, so the window passes."""
    frame = with_nulls(raw_300, "macd", [0, 1, 2])
    frame = with_nulls(frame, "macd_signal", [100, 101, 102])
    frame = with_nulls(frame, "rsi14", [200, 201, 202])
    report = judge(frame)
    assert [report.null_rate_by_field[f] for f in ("macd", "macd_signal", "rsi14")] == [0.01] * 3
    assert report.accepted


def test_the_session_opening_warm_up_fails_the_window(session: SimulatedSession) -> None:
    """The simulator's rsi14 needs 14 bars of the session: 14 of each symbol's 29 opening-window rows are
    null (48 %), far over 1 %, so the 14:00 window (the open is 14:30 UTC) fails closed."""
    start, end = utc("2026-03-03 14:00"), utc("2026-03-03 15:00")
    opening = session.signals[session.signals["event_ts"] < end]
    admitted = admit_signals(opening, window_start=start, window_end=end, universe=session.universe)
    report = evaluate_feature_quality(admitted)
    assert report.null_rate_by_field["rsi14"] == 14 / 29
    assert report.reasons == (FeatureQualityReason.REQUIRED_NULL_RATE,)


# --- staleness -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("lag_ms", "accepted"), [(120_000, True), (120_001, False)])
def test_a_feed_lagging_past_two_minutes_fails_the_window(
    raw: pd.DataFrame, lag_ms: int, accepted: bool
) -> None:
    report = judge(lagging(raw, pd.Timedelta(milliseconds=lag_ms)))
    assert report.staleness_ms_p95 == lag_ms
    assert report.accepted is accepted
    assert (FeatureQualityReason.STALENESS in report.reasons) is not accepted


@pytest.mark.parametrize(("late_rows", "accepted"), [(23, True), (25, False)])
def test_staleness_is_judged_at_the_95th_percentile_not_at_the_worst_row(
    raw: pd.DataFrame, late_rows: int, accepted: bool
) -> None:
    """Rows an hour late: 23 of 480 (4.8 %) stay above the 95th percentile and pass; 25 (5.2 %) fail."""
    frame = raw.copy()
    late = frame.index[:late_rows]
    frame.loc[late, "ingest_ts"] = frame.loc[late, "event_ts"] + pd.Timedelta(hours=1)
    report = judge(frame)
    assert report.accepted is accepted
    assert (report.staleness_ms_p95 < 1_000) is accepted


def test_each_row_lag_is_whole_milliseconds_as_the_reference_computes_it() -> None:
    """`max(0, int(delta.total_seconds() * 1000))`: 1.001 s is 1000 ms in floating point, and an ingest
    stamp before the event (clock skew) counts as 0."""
    event = pd.Series(pd.to_datetime(["2026-03-03 15:00:00"] * 3, utc=True)).astype("datetime64[us, UTC]")
    ingest = event + pd.to_timedelta([1001, 120001, -500], unit="ms")
    assert row_staleness_ms(pd.DataFrame({"event_ts": event, "ingest_ts": ingest})) == [1000, 120001, 0]


# --- schema version ------------------------------------------------------------------------------------


def test_a_frame_declaring_another_major_schema_fails_the_window(raw: pd.DataFrame) -> None:
    raw.attrs[FEATURE_SCHEMA_VERSION_ATTR] = "4.0.0"
    report = judge(raw, declared_schema_version=raw.attrs[FEATURE_SCHEMA_VERSION_ATTR])
    assert report.schema_mismatch_total == 480
    assert report.reasons == (FeatureQualityReason.SCHEMA_MISMATCH,)


@pytest.mark.parametrize("declared", [None, "3.0.0", "3.2.1", "v3", "V3", "latest"])
def test_an_undeclared_same_major_or_unparseable_schema_passes(
    raw: pd.DataFrame, declared: str | None
) -> None:
    assert judge(raw, declared_schema_version=declared).schema_mismatch_total == 0


# --- the verdict ---------------------------------------------------------------------------------------


def test_every_failed_gate_is_reported_in_sorted_order_and_fits_the_verdict_column(
    raw: pd.DataFrame,
) -> None:
    frame = lagging(with_nulls(redelivered(raw, 30), "macd", list(range(40))), pd.Timedelta(minutes=5))
    report = judge(frame, declared_schema_version="2.0.0")
    assert [r.value for r in report.reasons] == [
        "duplicate_ratio_exceeds_threshold",
        "feature_staleness_exceeds_budget",
        "required_feature_null_rate_exceeds_threshold",
        "schema_mismatch",
    ]
    assert report.detail == ",".join(r.value for r in report.reasons)
    assert report.detail is not None and len(report.detail) <= 128  # signal_ingest_windows.no_signal_detail
    assert report.as_metadata()["limits"] == FeatureQualityLimits().as_dict()


@pytest.mark.parametrize(
    "limits",
    [
        {"max_required_null_rate": -0.01},
        {"max_staleness_ms": -1},
        {"max_duplicate_ratio": math.nan},
        {"max_duplicate_ratio": math.inf},
        {"max_staleness_ms": 1.5},
    ],
)
def test_impossible_limits_are_refused(limits: dict[str, float]) -> None:
    with pytest.raises(ValueError, match=f"feature quality limit {next(iter(limits))}"):
        FeatureQualityLimits(**limits)  # type: ignore[arg-type]
