"""Specification of signal admission and empty-window classification (docs/lane-window.md).

Inputs are a real simulated window (2026-03-03 15:00-16:00 UTC, default seed); each test corrupts a copy
the way a degrading feed would.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from torghut_assets.domain.signal_frame import (
    KEY_COLUMNS,
    SIGNAL_COLUMNS,
    SIGNAL_SCHEMA,
    SUPERSEDED_VERSIONS_ATTR,
)
from torghut_assets.domain.signal_quality import (
    ALL_ROWS_REJECTED,
    CURSOR_AHEAD_OF_STREAM,
    MARKET_CLOSED,
    NO_SIGNALS_IN_WINDOW,
    REJECT_DUPLICATE,
    REJECT_INVALID_FIELD,
    REJECT_INVALID_PRICE,
    REJECT_INVALID_SYMBOL,
    REJECT_INVALID_TIMESTAMP,
    REJECT_OUTSIDE_WINDOW,
    REJECT_UNKNOWN_SYMBOL,
    AdmittedSignals,
    SignalContractError,
    admit_signals,
    classify_empty_window,
)
from torghut_assets_tests.domain.session_fixtures import SimulatedSession, simulate_session, utc

WINDOW_START = utc("2026-03-03 15:00")
WINDOW_END = utc("2026-03-03 16:00")


@pytest.fixture(scope="module")
def session() -> SimulatedSession:
    return simulate_session()


@pytest.fixture(scope="module")
def window_signals(session: SimulatedSession) -> pd.DataFrame:
    """What the source returns for the window: one hour, eight symbols, 480 rows."""
    frame = session.signals
    in_window = (frame["event_ts"] >= WINDOW_START) & (frame["event_ts"] < WINDOW_END)
    return frame[in_window].reset_index(drop=True)


@pytest.fixture
def raw(window_signals: pd.DataFrame) -> pd.DataFrame:
    return window_signals.copy()


def admit(frame: pd.DataFrame, universe: tuple[str, ...] | None = None) -> AdmittedSignals:
    symbols = tuple(sorted(set(frame["symbol"].dropna().astype(str)))) if universe is None else universe
    return admit_signals(frame, window_start=WINDOW_START, window_end=WINDOW_END, universe=symbols)


def row_of(frame: pd.DataFrame, symbol: str, minute: str) -> int:
    match = frame.index[(frame["symbol"] == symbol) & (frame["event_ts"] == utc(f"2026-03-03 {minute}"))]
    assert len(match) == 1
    return int(match[0])


# --- clean input -----------------------------------------------------------------------------------------


def test_a_clean_window_is_admitted_in_full(raw: pd.DataFrame, session: SimulatedSession) -> None:
    admitted = admit(raw, session.universe)
    assert len(admitted.frame) == len(raw) == 60 * len(session.universe)
    assert admitted.rejected == {}
    assert admitted.rejected_total == 0


def test_the_admitted_frame_satisfies_the_signal_schema(raw: pd.DataFrame, session: SimulatedSession) -> None:
    raw.loc[row_of(raw, "AAPL", "15:10"), "price"] = np.nan
    admitted = admit(raw, session.universe)
    SIGNAL_SCHEMA.validate(admitted.frame)
    assert list(admitted.frame.columns) == list(SIGNAL_COLUMNS)


def test_admitted_rows_are_ordered_by_event_ts_symbol_seq(raw: pd.DataFrame) -> None:
    shuffled = raw.sample(frac=1.0, random_state=3)
    admitted = admit(shuffled).frame
    expected = raw.sort_values(["event_ts", "symbol", "seq"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(admitted, expected)


def test_extra_source_columns_are_dropped(raw: pd.DataFrame) -> None:
    admitted = admit(raw.assign(clickhouse_part="all_1_1_0"))
    assert "clickhouse_part" not in admitted.frame.columns
    assert len(admitted.frame) == len(raw)


# --- row-level rejections --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad_price", [-294.57, 0.0, math.inf, -math.inf], ids=["negative", "zero", "inf", "-inf"]
)
def test_a_bad_price_is_rejected_and_counted_as_invalid_price(raw: pd.DataFrame, bad_price: float) -> None:
    target = row_of(raw, "AAPL", "15:10")
    raw.loc[target, "price"] = bad_price
    admitted = admit(raw)
    assert admitted.rejected == {REJECT_INVALID_PRICE: 1}
    assert len(admitted.frame) == len(raw) - 1
    assert not (
        (admitted.frame["symbol"] == "AAPL") & (admitted.frame["event_ts"] == utc("2026-03-03 15:10"))
    ).any()


@pytest.mark.parametrize("column", ["close", "vwap"])
def test_a_bad_fallback_price_column_is_also_an_invalid_price(raw: pd.DataFrame, column: str) -> None:
    raw.loc[row_of(raw, "MSFT", "15:20"), column] = -1.0
    raw.loc[row_of(raw, "NVDA", "15:21"), column] = math.inf
    assert admit(raw).rejected == {REJECT_INVALID_PRICE: 2}


# The reference's flat-row price (ingest.py `_payload_from_flat_row`): price, then the session and 5-minute
# VWAPs, then `vwap`, then the quote midpoint, and `close` only when none of those is present.
FALLBACKS = ["price", "vwap_session", "vwap_w5m", "vwap", "midpoint", "close"]


@pytest.mark.parametrize("missing", range(1, len(FALLBACKS)), ids=FALLBACKS[1:])
def test_a_missing_price_falls_back_in_the_reference_order(raw: pd.DataFrame, missing: int) -> None:
    row = row_of(raw, "AAPL", "15:20")
    original = raw.loc[row].copy()
    for source in FALLBACKS[:missing]:
        columns = ["imbalance_bid_px", "imbalance_ask_px"] if source == "midpoint" else [source]
        raw.loc[row, columns] = np.nan
    admitted = admit(raw)
    kept = admitted.frame[
        (admitted.frame["symbol"] == "AAPL") & (admitted.frame["event_ts"] == utc("2026-03-03 15:20"))
    ]
    source = FALLBACKS[missing]
    expected = (
        (original["imbalance_bid_px"] + original["imbalance_ask_px"]) / 2
        if source == "midpoint"
        else original[source]
    )
    assert admitted.rejected == {}
    assert float(kept["price"].iloc[0]) == pytest.approx(float(expected), rel=1e-12)


def test_the_midpoint_needs_both_sides_of_the_quote(raw: pd.DataFrame) -> None:
    row = row_of(raw, "AAPL", "15:20")
    raw.loc[row, ["price", "vwap_session", "vwap_w5m", "vwap", "imbalance_ask_px"]] = np.nan
    kept = admit(raw).frame
    kept = kept[(kept["symbol"] == "AAPL") & (kept["event_ts"] == utc("2026-03-03 15:20"))]
    assert float(kept["price"].iloc[0]) == float(raw.loc[row, "close"])


@pytest.mark.parametrize("value", [math.inf, -math.inf, np.nan], ids=["inf", "-inf", "nan"])
def test_a_non_finite_vwap_is_absent_as_in_the_reference_json(raw: pd.DataFrame, value: float) -> None:
    # ClickHouse's JSON output (the reference's wire format) writes NaN and ±inf as null.
    row = row_of(raw, "AAPL", "15:20")
    raw.loc[row, "price"] = np.nan
    raw.loc[row, "vwap_session"] = value
    kept = admit(raw).frame
    kept = kept[(kept["symbol"] == "AAPL") & (kept["event_ts"] == utc("2026-03-03 15:20"))]
    assert float(kept["price"].iloc[0]) == float(raw.loc[row, "vwap_w5m"])


@pytest.mark.parametrize("bad", [0.0, -3.5], ids=["zero", "negative"])
def test_a_present_but_impossible_derived_price_rejects_the_row(raw: pd.DataFrame, bad: float) -> None:
    # The first present source is the price, as in the reference; an impossible one is not skipped.
    row = row_of(raw, "AAPL", "15:20")
    raw.loc[row, "price"] = np.nan
    raw.loc[row, "vwap_session"] = bad
    assert admit(raw).rejected == {REJECT_INVALID_PRICE: 1}


def test_a_row_with_no_usable_price_at_all_is_an_invalid_price(raw: pd.DataFrame) -> None:
    columns = ["price", "close", "vwap", "vwap_session", "vwap_w5m", "imbalance_bid_px", "imbalance_ask_px"]
    raw.loc[row_of(raw, "AAPL", "15:20"), columns] = np.nan
    assert admit(raw).rejected == {REJECT_INVALID_PRICE: 1}


def test_every_bad_price_is_counted(raw: pd.DataFrame) -> None:
    for minute in ("15:01", "15:02", "15:03"):
        raw.loc[row_of(raw, "TSLA", minute), "price"] = 0.0
    raw.loc[row_of(raw, "META", "15:30"), "price"] = -690.0
    admitted = admit(raw)
    assert admitted.rejected == {REJECT_INVALID_PRICE: 4}
    assert admitted.rejected_total == 4


def test_symbols_outside_the_universe_are_rejected(raw: pd.DataFrame, session: SimulatedSession) -> None:
    universe = tuple(s for s in session.universe if s != "TSLA")
    admitted = admit(raw, universe)
    assert admitted.rejected == {REJECT_UNKNOWN_SYMBOL: 60}
    assert "TSLA" not in set(admitted.frame["symbol"])


def test_an_unknown_ticker_in_the_feed_is_rejected(raw: pd.DataFrame, session: SimulatedSession) -> None:
    raw.loc[row_of(raw, "AAPL", "15:10"), "symbol"] = "AAPL.X"
    admitted = admit(raw, session.universe)
    assert admitted.rejected == {REJECT_UNKNOWN_SYMBOL: 1}


def test_rows_outside_the_window_are_rejected(session: SimulatedSession) -> None:
    # The source over-fetched one minute on each side: 14:59 and 16:00 are outside [15:00, 16:00).
    frame = session.signals
    over = frame[(frame["event_ts"] >= utc("2026-03-03 14:59")) & (frame["event_ts"] <= WINDOW_END)]
    admitted = admit(over.reset_index(drop=True), session.universe)
    assert admitted.rejected == {REJECT_OUTSIDE_WINDOW: 2 * len(session.universe)}
    assert admitted.frame["event_ts"].min() == WINDOW_START
    assert admitted.frame["event_ts"].max() < WINDOW_END


def test_window_start_is_inclusive_and_window_end_exclusive(raw: pd.DataFrame) -> None:
    at_end = raw[raw["event_ts"] == utc("2026-03-03 15:59")].assign(event_ts=WINDOW_END)
    admitted = admit(pd.concat([raw, at_end], ignore_index=True))
    assert admitted.rejected == {REJECT_OUTSIDE_WINDOW: len(at_end)}
    assert (admitted.frame["event_ts"] == WINDOW_START).sum() == len(at_end)


def test_duplicates_keep_the_latest_ingest_ts(raw: pd.DataFrame) -> None:
    original = raw.loc[row_of(raw, "NVDA", "15:30")]
    replay = original.copy()
    replay["ingest_ts"] = original["ingest_ts"] + pd.Timedelta(seconds=2)
    replay["price"] = original["price"] + 0.05  # a corrected print
    late_first = pd.concat([replay.to_frame().T, raw], ignore_index=True).astype(raw.dtypes.to_dict())
    admitted = admit(late_first)
    assert admitted.rejected == {REJECT_DUPLICATE: 1}
    kept = admitted.frame[
        (admitted.frame["symbol"] == "NVDA") & (admitted.frame["event_ts"] == original["event_ts"])
    ]
    assert len(kept) == 1
    assert kept["ingest_ts"].iloc[0] == replay["ingest_ts"]
    assert kept["price"].iloc[0] == pytest.approx(replay["price"])


def test_every_extra_copy_of_a_signal_is_counted_once(raw: pd.DataFrame) -> None:
    copies = raw[raw["event_ts"] == utc("2026-03-03 15:45")]
    doubled = pd.concat([raw, copies, copies], ignore_index=True)
    admitted = admit(doubled)
    assert admitted.rejected == {REJECT_DUPLICATE: 2 * len(copies)}
    assert len(admitted.frame) == len(raw)
    assert not admitted.frame.duplicated(subset=list(KEY_COLUMNS)).any()


def test_same_minute_with_a_different_seq_is_not_a_duplicate(raw: pd.DataFrame) -> None:
    second_print = raw[(raw["symbol"] == "SPY") & (raw["event_ts"] == utc("2026-03-03 15:45"))].assign(seq=1)
    admitted = admit(pd.concat([raw, second_print], ignore_index=True))
    assert admitted.rejected == {}
    assert len(admitted.frame) == len(raw) + 1


@pytest.mark.parametrize("column", ["event_ts", "ingest_ts"])
def test_unparseable_timestamps_are_rejected(raw: pd.DataFrame, column: str) -> None:
    as_text = raw.assign(**{column: raw[column].map(lambda t: t.isoformat()).astype(object)})
    as_text.loc[row_of(raw, "GOOGL", "15:05"), column] = "2026-03-03T25:61:00Z"
    as_text.loc[row_of(raw, "AMZN", "15:06"), column] = None
    admitted = admit(as_text)
    assert admitted.rejected == {REJECT_INVALID_TIMESTAMP: 2}
    assert len(admitted.frame) == len(raw) - 2
    assert str(admitted.frame[column].dtype) == "datetime64[us, UTC]"


def test_iso_timestamp_strings_are_admitted_as_utc(raw: pd.DataFrame) -> None:
    as_text = raw.assign(
        event_ts=raw["event_ts"].dt.tz_convert("America/New_York").map(lambda t: t.isoformat()).astype(object)
    )
    admitted = admit(as_text)
    assert admitted.rejected == {}
    pd.testing.assert_series_equal(admitted.frame["event_ts"], admit(raw).frame["event_ts"])


def test_valid_iso_timestamps_with_varying_fractional_seconds_are_admitted(raw: pd.DataFrame) -> None:
    # ingest_ts as a JSON feed would send it; one signal was ingested exactly one second after its bar.
    on_the_second = row_of(raw, "AAPL", "15:10")
    raw.loc[on_the_second, "ingest_ts"] = raw.loc[on_the_second, "event_ts"] + pd.Timedelta(seconds=1)
    as_text = raw.assign(ingest_ts=[t.to_pydatetime().isoformat() for t in raw["ingest_ts"]])
    assert as_text.loc[on_the_second, "ingest_ts"] == "2026-03-03T15:10:01+00:00"
    admitted = admit(as_text)
    assert admitted.rejected == {}
    assert len(admitted.frame) == len(raw)


def test_an_unparseable_price_is_rejected_as_invalid_price_not_a_batch_failure(raw: pd.DataFrame) -> None:
    as_text = raw.assign(price=raw["price"].astype(object))
    as_text.loc[row_of(raw, "AAPL", "15:10"), "price"] = "n/a"
    admitted = admit(as_text)
    assert admitted.rejected == {REJECT_INVALID_PRICE: 1}
    assert len(admitted.frame) == len(raw) - 1


def test_the_first_failing_reason_wins_and_each_row_is_counted_once(raw: pd.DataFrame) -> None:
    # Bad price AND unknown symbol: counted once, as unknown_symbol (checked first).
    target = row_of(raw, "META", "15:15")
    raw.loc[target, "symbol"] = "ZZZZ"
    raw.loc[target, "price"] = np.nan
    admitted = admit(raw, tuple(s for s in sorted(set(raw["symbol"])) if s != "ZZZZ"))
    assert admitted.rejected == {REJECT_UNKNOWN_SYMBOL: 1}


def test_mixed_corruption_is_counted_by_reason(raw: pd.DataFrame, session: SimulatedSession) -> None:
    raw.loc[row_of(raw, "AAPL", "15:10"), "price"] = -1.0
    raw.loc[row_of(raw, "MSFT", "15:11"), "symbol"] = "MSFT2"
    dupes = raw[(raw["symbol"] == "SPY") & (raw["event_ts"] == utc("2026-03-03 15:12"))]
    early = raw[(raw["symbol"] == "GOOGL") & (raw["event_ts"] == utc("2026-03-03 15:13"))].assign(
        event_ts=utc("2026-03-03 14:13")
    )
    admitted = admit(pd.concat([raw, dupes, early], ignore_index=True), session.universe)
    assert admitted.rejected == {
        REJECT_INVALID_PRICE: 1,
        REJECT_UNKNOWN_SYMBOL: 1,
        REJECT_DUPLICATE: 1,
        REJECT_OUTSIDE_WINDOW: 1,
    }
    assert admitted.rejected_total == 4
    assert len(admitted.frame) == len(raw) - 2


@pytest.mark.parametrize(
    "symbol",
    [None, np.nan, 5, "", "aapl", " AAPL", "AAPL\n", "BRK/B", "A" * 17, "AAPL;DROP", "\x00"],
    ids=["none", "nan", "int", "empty", "lower", "blank", "newline", "slash", "17-long", "sql", "nul"],
)
def test_a_malformed_symbol_is_invalid_symbol_not_unknown_symbol(
    raw: pd.DataFrame, session: SimulatedSession, symbol: object
) -> None:
    raw = raw.assign(symbol=raw["symbol"].astype(object))
    raw.at[row_of(raw, "AAPL", "15:10"), "symbol"] = symbol
    raw.at[row_of(raw, "MSFT", "15:10"), "symbol"] = "ZZZZ"  # well formed, just not traded here
    admitted = admit(raw, session.universe)
    assert admitted.rejected == {REJECT_INVALID_SYMBOL: 1, REJECT_UNKNOWN_SYMBOL: 1}
    assert len(admitted.frame) == len(raw) - 2


def test_every_well_formed_universe_symbol_is_admitted_not_a_schema_failure(raw: pd.DataFrame) -> None:
    # BRK-B and 1ABC are symbols (universe_policy.SYMBOL_PATTERN); the frame schema used to refuse them,
    # which failed the whole window instead of admitting the rows.
    renamed = raw.assign(symbol=raw["symbol"].replace({"AAPL": "BRK-B", "MSFT": "1ABC"}))
    admitted = admit(renamed)
    assert admitted.rejected == {}
    assert {"BRK-B", "1ABC"} <= set(admitted.frame["symbol"])


@pytest.mark.parametrize("column", ["rsi14", "vwap_session", "imbalance_bid_sz"])
@pytest.mark.parametrize(
    "junk", ["n/a", b"\x00", [1.0], complex(1, 1)], ids=["text", "bytes", "list", "complex"]
)
def test_a_cell_that_is_not_a_number_rejects_its_row_as_invalid_field(
    raw: pd.DataFrame, column: str, junk: object
) -> None:
    cells = raw[column].astype(object).tolist()
    cells[row_of(raw, "NVDA", "15:40")] = junk
    admitted = admit(raw.assign(**{column: pd.Series(cells, index=raw.index, dtype=object)}))
    assert admitted.rejected == {REJECT_INVALID_FIELD: 1}
    assert len(admitted.frame) == len(raw) - 1


@pytest.mark.parametrize("value", [None, np.nan, "nan", math.inf, "-inf"])
def test_a_missing_or_non_finite_optional_value_is_null_and_the_row_stays(
    raw: pd.DataFrame, value: object
) -> None:
    cells = raw["rsi14"].astype(object).tolist()
    target = row_of(raw, "NVDA", "15:40")
    cells[target] = value
    admitted = admit(raw.assign(rsi14=pd.Series(cells, index=raw.index, dtype=object)))
    assert admitted.rejected == {}
    kept = admitted.frame[
        (admitted.frame["symbol"] == "NVDA") & (admitted.frame["event_ts"] == utc("2026-03-03 15:40"))
    ]
    assert kept["rsi14"].isna().all()


def test_admitted_plus_rejected_is_every_row_the_source_read(
    raw: pd.DataFrame, session: SimulatedSession
) -> None:
    text = ("symbol", "event_ts", "rsi14")
    raw = raw.assign(**{c: raw[c].astype(object) for c in text})
    raw.at[row_of(raw, "AAPL", "15:10"), "price"] = -1.0
    raw.at[row_of(raw, "MSFT", "15:11"), "symbol"] = "msft"
    raw.at[row_of(raw, "NVDA", "15:12"), "symbol"] = "ZZZZ"
    raw.at[row_of(raw, "META", "15:13"), "event_ts"] = "not a time"
    raw.at[row_of(raw, "TSLA", "15:14"), "rsi14"] = "oops"
    raw.attrs[SUPERSEDED_VERSIONS_ATTR] = 3  # older versions of three keys, read past by the source
    admitted = admit(raw, session.universe)
    assert admitted.rejected == {
        REJECT_INVALID_PRICE: 1,
        REJECT_INVALID_SYMBOL: 1,
        REJECT_UNKNOWN_SYMBOL: 1,
        REJECT_INVALID_TIMESTAMP: 1,
        REJECT_INVALID_FIELD: 1,
        REJECT_DUPLICATE: 3,
    }
    assert (admitted.source_rows, admitted.superseded_versions) == (len(raw) + 3, 3)
    assert len(admitted.frame) + admitted.rejected_total == admitted.source_rows
    assert admitted.accounted


@pytest.mark.parametrize("count", [-1, 1.5, "2", True])
def test_a_malformed_superseded_count_is_a_contract_error(raw: pd.DataFrame, count: object) -> None:
    raw.attrs[SUPERSEDED_VERSIONS_ATTR] = count
    with pytest.raises(SignalContractError, match=SUPERSEDED_VERSIONS_ATTR):
        admit(raw)


def test_admission_does_not_modify_the_source_frame(raw: pd.DataFrame) -> None:
    raw.loc[row_of(raw, "AAPL", "15:10"), "price"] = np.nan
    before = raw.copy()
    admit(raw)
    pd.testing.assert_frame_equal(raw, before)


# --- contract errors -------------------------------------------------------------------------------------


@pytest.mark.parametrize("column", ["price", "ingest_ts", "seq", "rsi14"])
def test_a_frame_missing_a_column_raises_a_contract_error_naming_it(raw: pd.DataFrame, column: str) -> None:
    with pytest.raises(SignalContractError, match=column):
        admit(raw.drop(columns=[column]))


def test_a_contract_error_is_a_value_error(raw: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="vwap"):
        admit(raw.drop(columns=["vwap"]))


# --- empty-window classification -------------------------------------------------------------------------


def test_a_closed_market_window_is_market_closed() -> None:
    reason, lag = classify_empty_window(
        window_start=utc("2026-03-04 01:00"),
        window_end=utc("2026-03-04 02:00"),
        newest_signal_ts=utc("2026-03-03 21:00"),
        market_open_in_window=False,
        rejected_total=0,
    )
    assert reason == MARKET_CLOSED
    assert lag == pytest.approx(5 * 3600.0)


def test_a_closed_market_window_without_any_signal_has_a_null_lag() -> None:
    reason, lag = classify_empty_window(
        window_start=utc("2026-03-07 15:00"),
        window_end=utc("2026-03-07 16:00"),
        newest_signal_ts=None,
        market_open_in_window=False,
        rejected_total=0,
    )
    assert (reason, lag) == (MARKET_CLOSED, None)


def test_no_newest_signal_is_no_signals_in_window_with_null_lag() -> None:
    reason, lag = classify_empty_window(
        window_start=WINDOW_START,
        window_end=WINDOW_END,
        newest_signal_ts=None,
        market_open_in_window=True,
        rejected_total=0,
    )
    assert reason == NO_SIGNALS_IN_WINDOW
    assert lag is None


def test_a_window_after_the_newest_signal_is_cursor_ahead_of_stream(session: SimulatedSession) -> None:
    newest = session.signals["event_ts"].max() - pd.Timedelta(hours=2)  # the feed stalled at 18:59
    window_start, window_end = utc("2026-03-03 20:00"), utc("2026-03-03 21:00")
    reason, lag = classify_empty_window(
        window_start=window_start,
        window_end=window_end,
        newest_signal_ts=newest,
        market_open_in_window=True,
        rejected_total=0,
    )
    assert reason == CURSOR_AHEAD_OF_STREAM
    assert lag == pytest.approx((window_end - newest).total_seconds())
    assert lag == pytest.approx(2 * 3600.0 + 60.0)


def test_a_newest_signal_inside_the_window_is_not_ahead_of_stream() -> None:
    reason, lag = classify_empty_window(
        window_start=WINDOW_START,
        window_end=WINDOW_END,
        newest_signal_ts=utc("2026-03-03 15:30"),
        market_open_in_window=True,
        rejected_total=0,
    )
    assert (reason, lag) == (NO_SIGNALS_IN_WINDOW, None)


def test_a_newest_signal_exactly_at_the_window_start_is_not_ahead_of_stream() -> None:
    reason, _ = classify_empty_window(
        window_start=WINDOW_START,
        window_end=WINDOW_END,
        newest_signal_ts=WINDOW_START,
        market_open_in_window=True,
        rejected_total=0,
    )
    assert reason == NO_SIGNALS_IN_WINDOW


def test_a_window_whose_rows_were_all_rejected_is_all_rows_rejected(raw: pd.DataFrame) -> None:
    raw["price"] = -1.0
    admitted = admit(raw)
    assert admitted.frame.empty
    reason, lag = classify_empty_window(
        window_start=WINDOW_START,
        window_end=WINDOW_END,
        newest_signal_ts=utc("2026-03-03 16:00"),
        market_open_in_window=True,
        rejected_total=admitted.rejected_total,
    )
    assert admitted.rejected == {REJECT_INVALID_PRICE: len(raw)}
    assert (reason, lag) == (ALL_ROWS_REJECTED, None)


def test_all_rows_rejected_takes_precedence_over_market_closed() -> None:
    reason, _ = classify_empty_window(
        window_start=utc("2026-03-04 01:00"),
        window_end=utc("2026-03-04 02:00"),
        newest_signal_ts=utc("2026-03-03 21:00"),
        market_open_in_window=False,
        rejected_total=3,
    )
    assert reason == ALL_ROWS_REJECTED
