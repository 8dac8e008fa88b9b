"""Specification of canonical JSON and content hashes: the basis of every id in the evidence chain."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from torghut_assets.domain.evidence import canonical_json, canonical_value, frame_content_hash, sha256_hex
from torghut_assets_tests.domain.session_fixtures import SimulatedSession, simulate_session

NEW_YORK = ZoneInfo("America/New_York")

# A gate-report-like payload, the kind of document that gets hashed into a trace id.
REPORT = {
    "policy_version": "v3-gates-1",
    "promotion_target": "shadow",
    "promotion_allowed": False,
    "recommended_mode": "shadow",
    "run_id": "4f1c0a9e2b7d5c3a1e0f9b8d",
    "evaluated_at": pd.Timestamp("2026-03-03 16:00", tz="UTC"),
    "metrics": {"net_pnl": -12.3456, "cost_bps": 4.25, "max_drawdown": 87.5, "trade_count": 14},
    "reasons": ["gate1_net_pnl_negative", "gate6_evidence_missing"],
    "throughput": {"signal_count": 3112, "decision_count": 36, "no_signal_window": False},
}


def _reversed_keys(value: object) -> object:
    if isinstance(value, dict):
        return {k: _reversed_keys(value[k]) for k in reversed(list(value))}
    return value


@pytest.fixture(scope="module")
def session() -> SimulatedSession:
    return simulate_session()


@pytest.fixture(scope="module")
def signals(session: SimulatedSession) -> pd.DataFrame:
    """The session's first 90 minutes (~700 rows): realistic, and small enough to hash quickly."""
    frame = session.signals
    return frame[frame["event_ts"] < session.open + pd.Timedelta(minutes=90)].reset_index(drop=True)


@pytest.fixture(scope="module")
def signals_hash(signals: pd.DataFrame) -> str:
    return frame_content_hash(signals)


# --- canonical JSON -------------------------------------------------------------------------------------


def test_canonical_json_is_independent_of_key_order() -> None:
    assert canonical_json(_reversed_keys(REPORT)) == canonical_json(REPORT)
    assert sha256_hex(_reversed_keys(REPORT)) == sha256_hex(REPORT)


def test_canonical_json_is_compact_with_sorted_keys() -> None:
    assert canonical_json({"b": 1, "a": {"d": [1, 2], "c": None}}) == '{"a":{"c":null,"d":[1,2]},"b":1}'


def test_sha256_hex_is_sha256_of_the_canonical_json_utf8_bytes() -> None:
    expected = hashlib.sha256(canonical_json(REPORT).encode("utf-8")).hexdigest()
    assert sha256_hex(REPORT) == expected
    assert len(expected) == 64


def test_list_order_is_significant() -> None:
    assert sha256_hex(["AAPL", "MSFT"]) != sha256_hex(["MSFT", "AAPL"])


def test_set_order_is_not_significant() -> None:
    assert canonical_json({"symbols": {"MSFT", "AAPL", "NVDA"}}) == '{"symbols":["AAPL","MSFT","NVDA"]}'


def test_numpy_scalars_hash_like_their_python_values() -> None:
    native = {"qty": 3, "price": 294.5744, "final": True}
    numpy_values = {"qty": np.int64(3), "price": np.float64(294.5744), "final": np.bool_(True)}
    assert canonical_json(numpy_values) == canonical_json(native)


# --- timestamps -----------------------------------------------------------------------------------------


def test_timestamps_are_written_in_utc_with_z_suffix() -> None:
    assert canonical_json(pd.Timestamp("2026-03-03 14:31", tz="UTC")) == '"2026-03-03T14:31:00Z"'


@pytest.mark.parametrize(
    "same_instant",
    [
        pd.Timestamp("2026-03-03 09:31", tz="America/New_York"),
        pd.Timestamp("2026-03-03 15:31", tz="Europe/Berlin"),
        pd.Timestamp("2026-03-03 14:31", tz="UTC").as_unit("ns"),
        dt.datetime(2026, 3, 3, 9, 31, tzinfo=NEW_YORK),
        dt.datetime(2026, 3, 3, 14, 31, tzinfo=dt.UTC),
    ],
    ids=["pandas-new-york", "pandas-berlin", "pandas-utc-ns", "datetime-new-york", "datetime-utc"],
)
def test_the_same_instant_hashes_equal_in_any_timezone(same_instant: object) -> None:
    reference = {"window_start": pd.Timestamp("2026-03-03 14:31", tz="UTC")}
    assert canonical_json({"window_start": same_instant}) == canonical_json(reference)
    assert sha256_hex({"window_start": same_instant}) == sha256_hex(reference)


def test_sub_second_precision_is_kept() -> None:
    assert (
        canonical_json(pd.Timestamp("2026-03-03 14:31:00.303", tz="UTC")) == '"2026-03-03T14:31:00.303000Z"'
    )


def test_different_instants_hash_differently() -> None:
    assert sha256_hex(pd.Timestamp("2026-03-03 14:31", tz="UTC")) != sha256_hex(
        pd.Timestamp("2026-03-03 14:31", tz="America/New_York")
    )


@pytest.mark.parametrize(
    "naive",
    [pd.Timestamp("2026-03-03 14:31"), dt.datetime(2026, 3, 3, 14, 31), pd.NaT],
    ids=["pandas", "datetime", "NaT"],
)
def test_naive_timestamps_are_rejected(naive: object) -> None:
    with pytest.raises(ValueError, match="naive timestamp"):
        canonical_json({"evaluated_at": naive})


def test_dates_are_iso_dates() -> None:
    assert canonical_json({"session": dt.date(2026, 3, 3)}) == '{"session":"2026-03-03"}'


# --- numbers --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad", [math.nan, math.inf, -math.inf, np.float64("nan"), np.float32("inf")], ids=str
)
def test_non_finite_numbers_are_rejected(bad: object) -> None:
    with pytest.raises(ValueError, match="non-finite"):
        sha256_hex({"metrics": {"net_pnl": bad}})


def test_non_finite_numbers_nested_in_lists_are_rejected() -> None:
    with pytest.raises(ValueError, match="non-finite"):
        canonical_json({"fold_net_pnl": [1.5, math.nan]})


def test_float_noise_below_1e_10_does_not_change_the_hash() -> None:
    # Shortfall 5.00 + 1.60 summed in two orders: different binary noise, same evidence.
    a = {"shortfall_notional_total": 0.05 * 100 + 0.02 * 80, "pnl": 0.1 + 0.2}
    b = {"shortfall_notional_total": 0.02 * 80 + 0.05 * 100, "pnl": 0.3}
    assert a != b
    assert sha256_hex(a) == sha256_hex(b)


@given(
    cents=st.integers(min_value=-10_000_000, max_value=10_000_000),
    noise=st.floats(min_value=-1e-12, max_value=1e-12),
)
def test_float_noise_far_below_1e_10_on_money_amounts_does_not_change_the_hash(
    cents: int, noise: float
) -> None:
    amount = cents / 100
    assert sha256_hex({"net_pnl": amount + noise}) == sha256_hex({"net_pnl": amount})


def test_differences_above_the_precision_change_the_hash() -> None:
    assert sha256_hex({"net_pnl": 12.3456}) != sha256_hex({"net_pnl": 12.3457})
    assert sha256_hex({"coverage_error": 1e-9}) != sha256_hex({"coverage_error": 0.0})


def test_negative_zero_hashes_like_zero() -> None:
    assert canonical_json({"pnl": -0.0}) == canonical_json({"pnl": 0.0}) == '{"pnl":0.0}'


def test_unserializable_values_are_refused_rather_than_stringified() -> None:
    with pytest.raises(TypeError, match="not canonical-JSON serializable"):
        canonical_value({"spec": object()})


def test_canonical_json_round_trips_to_the_canonical_value() -> None:
    assert json.loads(canonical_json(REPORT)) == canonical_value(REPORT)


# --- frame content hash ---------------------------------------------------------------------------------


def test_frame_hash_is_independent_of_row_order(signals: pd.DataFrame, signals_hash: str) -> None:
    shuffled = signals.sample(frac=1.0, random_state=20260303)
    assert not shuffled.index.equals(signals.index)
    assert frame_content_hash(shuffled) == signals_hash


def test_frame_hash_is_independent_of_index_labels(signals: pd.DataFrame, signals_hash: str) -> None:
    relabelled = signals.set_axis(range(10_000, 10_000 + len(signals)))
    assert frame_content_hash(relabelled) == signals_hash


def test_frame_hash_is_independent_of_column_order(signals: pd.DataFrame, signals_hash: str) -> None:
    assert frame_content_hash(signals[signals.columns[::-1]]) == signals_hash


def test_frame_hash_is_deterministic_across_calls(signals: pd.DataFrame, signals_hash: str) -> None:
    assert frame_content_hash(signals.copy()) == signals_hash


@pytest.mark.parametrize(
    ("column", "change"),
    [
        ("price", lambda v: v + 0.0001),
        ("rsi14", lambda v: v + 1e-6),
        ("volume", lambda v: v + 1),
        ("seq", lambda v: v + 1),
        ("symbol", lambda v: "SPY" if v != "SPY" else "AAPL"),
        ("event_ts", lambda v: v + pd.Timedelta(microseconds=1)),
        ("ingest_ts", lambda v: v + pd.Timedelta(milliseconds=1)),
    ],
)
def test_frame_hash_changes_when_a_single_value_changes(
    signals: pd.DataFrame, signals_hash: str, column: str, change: object
) -> None:
    row = len(signals) // 2  # mid-session: every indicator is warmed up
    assert pd.notna(signals.at[row, "rsi14"])
    altered = signals.copy()
    altered.at[row, column] = change(altered.at[row, column])  # type: ignore[operator]
    assert frame_content_hash(altered) != signals_hash


def test_frame_hash_changes_when_a_value_becomes_null(signals: pd.DataFrame, signals_hash: str) -> None:
    row = len(signals) // 2
    altered = signals.copy()
    altered.at[row, "macd_signal"] = np.nan
    assert frame_content_hash(altered) != signals_hash


def test_frame_hash_changes_when_a_row_is_dropped(signals: pd.DataFrame, signals_hash: str) -> None:
    assert frame_content_hash(signals.iloc[1:]) != signals_hash


def test_frame_hash_only_covers_the_requested_columns(signals: pd.DataFrame) -> None:
    columns = ["symbol", "event_ts", "seq", "price"]
    altered = signals.copy()
    altered["rsi14"] = altered["rsi14"] + 1.0
    assert frame_content_hash(altered, columns) == frame_content_hash(signals, columns)


def test_frame_hash_ignores_float_noise_below_the_precision(signals: pd.DataFrame, signals_hash: str) -> None:
    noisy = signals.assign(price=signals["price"] + 1e-12)
    assert frame_content_hash(noisy) == signals_hash


def test_frame_hash_is_independent_of_timestamp_resolution(signals: pd.DataFrame, signals_hash: str) -> None:
    as_ns = signals.assign(event_ts=signals["event_ts"].astype("datetime64[ns, UTC]"))
    assert frame_content_hash(as_ns) == signals_hash


def test_frame_hash_depends_on_the_instant_not_the_timezone_spelling(
    signals: pd.DataFrame, signals_hash: str
) -> None:
    new_york = signals.assign(event_ts=signals["event_ts"].dt.tz_convert("America/New_York"))
    assert frame_content_hash(new_york) == signals_hash


def test_frame_hash_tells_apart_the_same_wall_clock_time_in_different_timezones(
    signals: pd.DataFrame, signals_hash: str
) -> None:
    # 14:31 New York is 19:31 UTC: a different instant, so different evidence.
    relabelled = signals.assign(
        event_ts=signals["event_ts"].dt.tz_localize(None).dt.tz_localize("America/New_York")
    )
    assert frame_content_hash(relabelled) != signals_hash


def test_frame_hash_refuses_naive_timestamp_columns(signals: pd.DataFrame) -> None:
    naive = signals.assign(event_ts=signals["event_ts"].dt.tz_localize(None))
    with pytest.raises(ValueError, match="naive"):
        frame_content_hash(naive)
