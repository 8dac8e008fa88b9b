"""Specification of the window's feature quality gates (docs/signal-sources.md, "Quality gates").

The reference is proompteng/lab 18622cbe3a, services/torghut/app/trading/feature_quality.py: duplicate
ratio, per-field required-feature null rate, p95 staleness and schema version, each compared by strict `>`.
Inputs are the simulated window 2026-03-03 15:00-16:00 UTC (eight symbols, 480 rows, feed lag 50-900 ms),
degraded the way a real feed degrades: redeliveries, indicator gaps, a backed-up pipeline. The session
warm-up (rows within `warmup_minutes` of the open left out of the gated null rates) is our addition, not
the reference's; it is specified on the simulated window holding the open, 14:00-15:00 UTC.
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


def test_the_default_limits_are_the_reference_defaults_plus_our_warm_up() -> None:
    assert FeatureQualityLimits().as_dict() == {
        "max_required_null_rate": 0.01,
        "max_staleness_ms": 120_000,
        "max_duplicate_ratio": 0.02,
        "warmup_minutes": 15,
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


# --- the session's indicator warm-up (our addition; TRADING_FEATURE_WARMUP_MINUTES) ----------------------

OPENING_START, OPENING_END = utc("2026-03-03 14:00"), utc("2026-03-03 15:00")  # the open is 14:30 UTC


@pytest.fixture
def opening(session: SimulatedSession) -> AdmittedSignals:
    """The window holding the open, as the real indicators compute it: 29 rows per symbol (bars closing
    14:31-14:59), rsi14 null on each symbol's first 14."""
    frame = session.signals[session.signals["event_ts"] < OPENING_END]
    return admit_signals(frame, window_start=OPENING_START, window_end=OPENING_END, universe=session.universe)


def test_the_indicators_leave_rsi14_null_for_14_bars_and_macd_never(session: SimulatedSession) -> None:
    """What the 15-minute default rests on: per symbol, rsi14 is null on the bars closing 1-14 minutes
    after the open and has a value from the bar closing at 15; macd and macd_signal always have one."""
    frame = session.signals
    since_open = (frame["event_ts"] - session.open) // pd.Timedelta(minutes=1)
    null_rsi = frame["rsi14"].isna()
    assert set(since_open[null_rsi]) == set(range(1, 15))
    assert null_rsi.sum() == 14 * len(session.universe)
    assert not frame[["macd", "macd_signal"]].isna().any().any()


def test_the_opening_window_passes_with_the_default_warm_up(opening: AdmittedSignals) -> None:
    """Rows whose bar closed within 15 minutes of the open (15 per symbol) are left out of the gated
    fields' rates; the remaining 14 per symbol all have their features."""
    report = evaluate_feature_quality(opening)
    assert report.accepted and report.reasons == ()
    assert report.warmup_rows == 15 * 8 and report.rows_total == 29 * 8
    assert report.null_rate_by_field == {"price": 0.0, "macd": 0.0, "macd_signal": 0.0, "rsi14": 0.0}
    assert report.as_metadata()["warmup_rows"] == 120


def test_with_no_warm_up_the_opening_window_fails_as_in_the_reference(opening: AdmittedSignals) -> None:
    """warmup_minutes=0 counts every row: 14 of each symbol's 29 rows are null (48 %), far over 1 %."""
    report = evaluate_feature_quality(opening, FeatureQualityLimits(warmup_minutes=0))
    assert report.warmup_rows == 0
    assert report.null_rate_by_field["rsi14"] == 14 / 29
    assert report.reasons == (FeatureQualityReason.REQUIRED_NULL_RATE,)


def test_a_warm_up_shorter_than_the_indicators_need_still_fails(opening: AdmittedSignals) -> None:
    """13 minutes leave each symbol's 14th bar (null rsi14) in: 1 of 16 judged rows (6.25 %)."""
    report = evaluate_feature_quality(opening, FeatureQualityLimits(warmup_minutes=13))
    assert report.null_rate_by_field["rsi14"] == 1 / 16
    assert report.reasons == (FeatureQualityReason.REQUIRED_NULL_RATE,)


def test_nulls_inside_the_warm_up_are_not_counted_even_in_fields_that_need_none(
    session: SimulatedSession,
) -> None:
    """A macd_signal null on every symbol's first bar and on its 15th (closing exactly 15 minutes after
    the open, the last warm-up bar) leaves every gated rate at 0."""
    frame = session.signals[session.signals["event_ts"] < OPENING_END].copy()
    since_open = frame["event_ts"] - session.open
    frame.loc[since_open.isin([pd.Timedelta(minutes=1), pd.Timedelta(minutes=15)]), "macd_signal"] = np.nan
    admitted = admit_signals(
        frame, window_start=OPENING_START, window_end=OPENING_END, universe=session.universe
    )
    report = evaluate_feature_quality(admitted)
    assert admitted.frame["macd_signal"].isna().sum() == 16
    assert report.accepted and report.null_rate_by_field["macd_signal"] == 0.0


def test_a_mid_session_null_rsi14_still_counts(raw_300: pd.DataFrame) -> None:
    """The 15:00 window starts 30 minutes after the open: no row is warm-up, and 4 null rsi14 of 300
    (1.33 %) fail it with the default warm-up as without one."""
    frame = with_nulls(raw_300, "rsi14", [0, 1, 2, 3])
    for minutes in (15, 0):
        report = judge(frame, FeatureQualityLimits(warmup_minutes=minutes))
        assert report.warmup_rows == 0
        assert report.null_rate_by_field["rsi14"] == 4 / 300
        assert report.reasons == (FeatureQualityReason.REQUIRED_NULL_RATE,)


def test_a_null_just_after_the_warm_up_counts(opening: AdmittedSignals) -> None:
    """The bar closing 16 minutes after the open is judged: a null rsi14 there on one of 8 symbols is 1 of
    112 judged rows (0.89 %, passes); on two, 2 of 112 (1.79 %) fail."""
    frame = opening.frame.copy()
    first_judged = frame.index[frame["event_ts"] == utc("2026-03-03 14:46")]
    for nulls, accepted in ((1, True), (2, False)):
        degraded = with_nulls(frame, "rsi14", list(first_judged[:nulls]))
        report = evaluate_feature_quality(AdmittedSignals(frame=degraded, source_rows=len(degraded)))
        assert report.null_rate_by_field["rsi14"] == nulls / 112
        assert report.accepted is accepted


def test_a_window_wholly_inside_the_warm_up_has_nothing_to_judge(opening: AdmittedSignals) -> None:
    frame = opening.frame[opening.frame["event_ts"] <= utc("2026-03-03 14:45")].reset_index(drop=True)
    report = evaluate_feature_quality(AdmittedSignals(frame=frame, source_rows=len(frame)))
    assert report.warmup_rows == report.rows_total == 120
    assert report.accepted and report.null_rate_by_field["rsi14"] == 0.0


def test_price_is_reported_over_every_row_warm_up_included(opening: AdmittedSignals) -> None:
    frame = with_nulls(opening.frame.copy(), "price", [0, 1])  # two of the first (warm-up) rows
    report = evaluate_feature_quality(AdmittedSignals(frame=frame, source_rows=len(frame)))
    assert report.null_rate_by_field["price"] == 2 / 232
    assert report.accepted


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
        {"warmup_minutes": -1},
        {"warmup_minutes": 7.5},
        {"warmup_minutes": True},
    ],
)
def test_impossible_limits_are_refused(limits: dict[str, float]) -> None:
    with pytest.raises(ValueError, match=f"feature quality limit {next(iter(limits))}"):
        FeatureQualityLimits(**limits)  # type: ignore[arg-type]
