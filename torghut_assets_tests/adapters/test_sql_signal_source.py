"""SqlSignalSource against real tables on SQLite and PostgreSQL, filled with simulator signals."""

from __future__ import annotations

import sqlite3
import time
import traceback
from collections.abc import Iterator
from contextlib import closing
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from torghut_assets.adapters.market_simulator import DEFAULT_UNIVERSE, MarketSimulator
from torghut_assets.adapters.signal_source import BAR_COLUMNS, SignalSource, SignalSourceUnavailable
from torghut_assets.adapters.sql_signal_source import (
    TA_SIGNALS_COLUMNS,
    TA_SIGNALS_DDL_COLUMNS,
    SqlSignalSource,
    create_ta_signals_table,
    write_ta_signals,
)
from torghut_assets.domain.signal_frame import KEY_COLUMNS, SIGNAL_COLUMNS, SUPERSEDED_VERSIONS_ATTR
from torghut_assets.domain.signal_quality import admit_signals

MINUTE = pd.Timedelta(minutes=1)
ORDER = ["event_ts", "symbol", "seq"]
# Tuesday 10:00-10:30 New York; ten minutes either side are stored too, so the bounds are really tested.
START = pd.Timestamp("2026-02-24 15:00", tz="UTC")
END = pd.Timestamp("2026-02-24 15:30", tz="UTC")
UNREACHABLE = "postgresql+psycopg2://postgres:{password}@127.0.0.1:1/x"
NO_PRICE_AT_ALL = [
    "price",
    "close",
    "vwap",
    "vwap_session",
    "vwap_w5m",
    "imbalance_bid_px",
    "imbalance_ask_px",
]


@lru_cache(maxsize=1)
def stored() -> pd.DataFrame:
    return MarketSimulator().signals(START - 10 * MINUTE, END + 10 * MINUTE)


def in_window(frame: pd.DataFrame, start: pd.Timestamp = START, end: pd.Timestamp = END) -> pd.DataFrame:
    rows = frame[(frame["event_ts"] >= start) & (frame["event_ts"] < end)]
    return rows.sort_values(ORDER, kind="mergesort").reset_index(drop=True)


def write(url: str, frame: pd.DataFrame, table: str = "ta_signals", **create: object) -> None:
    engine = sa.create_engine(url)
    try:
        create_ta_signals_table(engine, table, **create)  # type: ignore[arg-type]
        write_ta_signals(engine, frame, table)
    finally:
        engine.dispose()


def unavailable(source: SqlSignalSource) -> SignalSourceUnavailable:
    with closing(source), pytest.raises(SignalSourceUnavailable) as caught:
        source.fetch_window(START, END)
    return caught.value


@pytest.fixture
def signals_url(empty_ledger_url: str) -> Iterator[str]:
    write(empty_ledger_url, stored())
    yield empty_ledger_url


def test_bounded_fetch_returns_exactly_the_window_in_key_order(signals_url: str) -> None:
    with closing(SqlSignalSource(signals_url)) as source:
        assert isinstance(source, SignalSource)
        got = source.fetch_window(START, END)
    assert list(got.columns) == list(SIGNAL_COLUMNS)
    keys = list(zip(got["event_ts"], got["symbol"], got["seq"], strict=True))
    assert keys == sorted(keys)
    assert (got["event_ts"].min(), got["event_ts"].max()) == (START, END - MINUTE)
    pd.testing.assert_frame_equal(got.sort_values(ORDER).reset_index(drop=True), in_window(stored()))


@pytest.mark.parametrize("batch_size", [1, 7, 8, 500])
def test_pages_smaller_than_the_window_return_every_row_once(signals_url: str, batch_size: int) -> None:
    with closing(SqlSignalSource(signals_url, batch_size=batch_size)) as source:
        got = source.fetch_window(START, END)
    assert got["event_ts"].duplicated().any()  # 8 symbols share every minute: pages split ties
    assert not got.duplicated(subset=list(KEY_COLUMNS)).any()
    pd.testing.assert_frame_equal(got, in_window(stored()))


def test_universe_filter_excludes_other_symbols(signals_url: str) -> None:
    with closing(SqlSignalSource(signals_url, universe=("AAPL", "SPY"), batch_size=5)) as source:
        got = source.fetch_window(START, END)
    expected = in_window(stored())
    expected = expected[expected["symbol"].isin(["AAPL", "SPY"])].reset_index(drop=True)
    pd.testing.assert_frame_equal(got, expected)


def test_newest_signal_ts_respects_as_of_and_is_none_on_an_empty_table(empty_ledger_url: str) -> None:
    write(empty_ledger_url, stored().iloc[:0])
    with closing(SqlSignalSource(empty_ledger_url)) as source:
        assert source.newest_signal_ts(END) is None
        write(empty_ledger_url, stored())
        last = stored()["event_ts"].max()
        assert source.newest_signal_ts(last + pd.Timedelta(hours=3)) == last
        assert source.newest_signal_ts(START) == START  # inclusive
        assert source.newest_signal_ts(START + pd.Timedelta(seconds=59)) == START
        assert source.newest_signal_ts(stored()["event_ts"].min() - pd.Timedelta(seconds=1)) is None


@pytest.mark.parametrize("url", ["", "   "])
def test_missing_url_is_clickhouse_url_missing(url: str) -> None:
    source = SqlSignalSource(url)
    assert unavailable(source).reason == "clickhouse_url_missing"
    with pytest.raises(SignalSourceUnavailable, match="clickhouse_url_missing"):
        source.newest_signal_ts(END)


def test_unreachable_server_is_source_unavailable_quickly() -> None:
    began = time.monotonic()
    error = unavailable(SqlSignalSource(UNREACHABLE.format(password="pw"), connect_timeout_seconds=2))
    assert error.reason == "source_unavailable"
    assert time.monotonic() - began < 5


def test_mistyped_sqlite_path_is_unavailable_and_creates_no_file(tmp_path: Path) -> None:
    path = tmp_path / "typo.sqlite"
    assert unavailable(SqlSignalSource(f"sqlite:///{path}")).reason == "source_unavailable"
    assert not path.exists()


def test_missing_table_is_source_table_missing(empty_ledger_url: str) -> None:
    write(empty_ledger_url, stored(), table="ta_signals_archive")
    schema = "public" if empty_ledger_url.startswith("postgresql") else "main"
    for table in ("ta_signals", f"{schema}.ta_signals"):
        error = unavailable(SqlSignalSource(empty_ledger_url, table=table))
        assert error.reason == "source_table_missing"
        assert table in error.detail


def test_password_never_appears_in_error_text(empty_ledger_url: str) -> None:
    password = "Hunter2-s3cret"
    urls = [UNREACHABLE.format(password=password), f"postgresql+psycopg2://u:{password}@127.0.0.1:port/x"]
    if empty_ledger_url.startswith("postgresql"):  # trust auth accepts any password: fails on the table
        urls.append(make_url(empty_ledger_url).set(password=password).render_as_string(hide_password=False))
    reasons = []
    for url in urls:
        source = SqlSignalSource(url)
        error = unavailable(source)
        reasons.append(error.reason)
        text = "".join(traceback.format_exception(error)) + repr(error) + str(source.describe())
        assert password not in text
        assert "***" in text or "<invalid url>" in text
    assert reasons[:2] == ["source_unavailable", "source_url_invalid"]
    assert reasons[2:] in ([], ["source_table_missing"])


@pytest.mark.parametrize("batch_size", [1, 500])
def test_the_latest_version_of_each_key_is_read_and_older_versions_are_counted(
    empty_ledger_url: str, batch_size: int
) -> None:
    window = in_window(stored())
    bad = window.copy()
    bad.loc[3, NO_PRICE_AT_ALL] = np.nan
    bad.loc[5, "price"] = -1.0
    redelivered = bad.iloc[[10]].assign(ingest_ts=bad.loc[10, "ingest_ts"] + pd.Timedelta(seconds=2))
    corrected = redelivered.assign(price=redelivered["price"] + 0.5)
    write(empty_ledger_url, pd.concat([bad.iloc[[10]], bad, corrected], ignore_index=True))
    with closing(SqlSignalSource(empty_ledger_url, batch_size=batch_size)) as source:
        got = source.fetch_window(START, END)
    # one row per key, the latest ingest_ts: what ClickHouse returns after a merge (or with FINAL)
    latest = pd.concat([bad.drop(index=10), corrected], ignore_index=True)
    pd.testing.assert_frame_equal(got, in_window(latest))
    assert got.attrs[SUPERSEDED_VERSIONS_ATTR] == 2  # the original stored twice, read past twice
    admitted = admit_signals(got, window_start=START, window_end=END, universe=DEFAULT_UNIVERSE)
    assert admitted.rejected == {"invalid_price": 2, "duplicate_signal": 2}
    assert len(admitted.frame) == len(window) - 2
    assert len(admitted.frame) + admitted.rejected_total == admitted.source_rows == len(window) + 2
    key = (admitted.frame["symbol"] == bad.loc[10, "symbol"]) & (
        admitted.frame["event_ts"] == bad.loc[10, "event_ts"]
    )
    assert admitted.frame.loc[key, "price"].tolist() == corrected["price"].tolist()


def test_a_corrupt_latest_version_does_not_resurrect_the_older_one(empty_ledger_url: str) -> None:
    """ReplacingMergeTree semantics: after a merge only the latest version exists, so admission must not
    fall back to an older, superseded row when the latest is bad."""
    window = in_window(stored())
    later = window.iloc[[0]].assign(
        ingest_ts=window["ingest_ts"].iloc[0] + pd.Timedelta(seconds=1), price=-1.0
    )
    write(empty_ledger_url, pd.concat([window, later], ignore_index=True))
    with closing(SqlSignalSource(empty_ledger_url)) as source:
        got = source.fetch_window(START, END)
    admitted = admit_signals(got, window_start=START, window_end=END, universe=DEFAULT_UNIVERSE)
    assert admitted.rejected == {"invalid_price": 1, "duplicate_signal": 1}
    first = window.iloc[0]
    kept = admitted.frame[
        (admitted.frame["symbol"] == first["symbol"]) & (admitted.frame["event_ts"] == first["event_ts"])
    ]
    assert kept.empty


def test_bars_derived_from_signals_are_consistent_ohlc(signals_url: str) -> None:
    with closing(SqlSignalSource(signals_url, batch_size=50)) as source:
        bars = source.bars(START, END)
    assert list(bars.columns) == list(BAR_COLUMNS)
    assert (bars["ts"].min(), bars["ts"].max()) == (START, END - MINUTE)
    body_high, body_low = bars[["open", "close"]].max(axis=1), bars[["open", "close"]].min(axis=1)
    assert (bars["high"] >= body_high).all() and (body_high >= body_low).all()
    assert (body_low >= bars["low"]).all() and (bars["low"] > 0).all()
    simulated = MarketSimulator().bars(START, END)
    pd.testing.assert_series_equal(bars["close"], simulated["close"])
    pd.testing.assert_series_equal(bars["open"], simulated["open"])  # first bar opens at the prior close
    np.testing.assert_allclose(bars["spread_bps"], simulated["spread_bps"], rtol=1e-9)


def test_the_real_table_shape_reads_no_price_and_zero_volume_and_admission_derives_the_price(
    empty_ledger_url: str,
) -> None:
    write(empty_ledger_url, stored(), columns=[name for name, *_ in TA_SIGNALS_COLUMNS])
    with closing(SqlSignalSource(empty_ledger_url)) as source:
        got = source.fetch_window(START, END)
    expected = in_window(stored()).assign(price=np.nan, close=np.nan, vwap=np.nan, volume=0)
    pd.testing.assert_frame_equal(got, expected)
    admitted = admit_signals(got, window_start=START, window_end=END, universe=DEFAULT_UNIVERSE)
    assert admitted.rejected == {}
    np.testing.assert_array_equal(admitted.frame["price"], expected["vwap_session"])  # the reference's price
    np.testing.assert_array_equal(admitted.frame["close"], expected["vwap_session"])


def test_missing_optional_columns_are_null_and_price_falls_back_in_the_reference_order(
    empty_ledger_url: str,
) -> None:
    dropped = ("price", "vwap_session", "vwap_w5m", "vwap", "rsi14", "imbalance_bid_sz")
    narrow = [c for c in SIGNAL_COLUMNS if c not in dropped]
    write(empty_ledger_url, stored(), columns=narrow)
    with closing(SqlSignalSource(empty_ledger_url)) as source:
        got = source.fetch_window(START, END)
    expected = in_window(stored()).assign(
        price=np.nan, vwap_session=np.nan, vwap_w5m=np.nan, vwap=np.nan, rsi14=np.nan, imbalance_bid_sz=pd.NA
    )
    pd.testing.assert_frame_equal(got, expected.astype({"imbalance_bid_sz": "Int64"}))
    admitted = admit_signals(got, window_start=START, window_end=END, universe=DEFAULT_UNIVERSE)
    midpoint = (expected["imbalance_bid_px"] + expected["imbalance_ask_px"]) / 2  # before close
    np.testing.assert_allclose(admitted.frame["price"], midpoint, rtol=1e-12)


def test_a_table_lacking_a_required_column_is_source_payload_invalid(empty_ledger_url: str) -> None:
    write(empty_ledger_url, stored(), columns=[c for c in SIGNAL_COLUMNS if c != "ingest_ts"])
    error = unavailable(SqlSignalSource(empty_ledger_url))
    assert error.reason == "source_payload_invalid"
    assert "ingest_ts" in error.detail


def test_a_cell_that_cannot_be_read_rejects_its_row_not_the_window(empty_ledger_url: str) -> None:
    """Text where a number or a timestamp belongs (columns declared TEXT, as a hand-made copy might):
    each bad cell costs its own row, counted by reason, and every other row is admitted."""
    engine = sa.create_engine(empty_ledger_url)
    loose = {"rsi14", "volume", "imbalance_ask_sz", "ingest_ts"}
    sa.Table(
        "ta_signals",
        sa.MetaData(),
        *(sa.Column(c, sa.Text if c in loose else t) for c, t, _ in TA_SIGNALS_DDL_COLUMNS),
    ).create(engine)
    rows = in_window(stored()).head(12)
    write_ta_signals(engine, rows)
    bad = {
        0: ("rsi14", "lots"),
        1: ("volume", "12abc"),
        2: ("imbalance_ask_sz", "many"),
        3: ("ingest_ts", "garbage"),
    }
    with engine.begin() as conn:
        for i, (column, value) in bad.items():
            key = rows.iloc[i]
            conn.execute(
                sa.text(f"update ta_signals set {column} = :value where symbol = :symbol and seq = :seq"),
                {"value": value, "symbol": key["symbol"], "seq": int(key["seq"])},
            )
    engine.dispose()
    with closing(SqlSignalSource(empty_ledger_url)) as source:
        got = source.fetch_window(START, END)
    assert len(got) == len(rows)
    admitted = admit_signals(got, window_start=START, window_end=END, universe=DEFAULT_UNIVERSE)
    assert admitted.rejected == {"invalid_field": 3, "invalid_timestamp": 1}
    assert len(admitted.frame) == len(rows) - 4
    assert admitted.accounted


def test_sqlite_timestamps_that_do_not_parse_are_rejected_rows_not_a_crash(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ta.sqlite'}"
    write(url, in_window(stored()).head(8))
    with sa.create_engine(url).begin() as conn:
        conn.execute(sa.text("update ta_signals set event_ts = '2026-02-24 15:0x:00' where rowid = 1"))
        conn.execute(sa.text("update ta_signals set ingest_ts = 'garbage' where rowid = 2"))
        conn.execute(sa.text("update ta_signals set ingest_ts = NULL where rowid = 3"))
    with closing(SqlSignalSource(url, batch_size=3)) as source:
        got = source.fetch_window(START, END)
    admitted = admit_signals(got, window_start=START, window_end=END, universe=DEFAULT_UNIVERSE)
    assert admitted.rejected == {"invalid_timestamp": 3}
    assert len(admitted.frame) + admitted.rejected_total == len(got) == 8


def test_locked_table_times_out_as_source_timeout(signals_url: str) -> None:
    source = SqlSignalSource(signals_url, connect_timeout_seconds=0.2, statement_timeout_seconds=0.2)
    if signals_url.startswith("sqlite"):
        holder = sqlite3.connect(make_url(signals_url).database or "", isolation_level=None)
        holder.execute("BEGIN EXCLUSIVE")
        release = holder.close
    else:
        engine = sa.create_engine(signals_url)
        conn = engine.connect()
        conn.execute(sa.text("LOCK TABLE ta_signals IN ACCESS EXCLUSIVE MODE"))

        def release() -> None:
            conn.close()
            engine.dispose()

    try:
        began = time.monotonic()
        assert unavailable(source).reason == "source_timeout"
        assert time.monotonic() - began < 5
    finally:
        release()


def test_schema_qualified_table_name(empty_ledger_url: str) -> None:
    table = ("public" if empty_ledger_url.startswith("postgresql") else "main") + ".ta_signals"
    write(empty_ledger_url, stored(), table=table)
    with closing(SqlSignalSource(empty_ledger_url, table=table, batch_size=100)) as source:
        got = source.fetch_window(START, END)
        newest = source.newest_signal_ts(END)
    pd.testing.assert_frame_equal(got, in_window(stored()))
    assert newest == END
