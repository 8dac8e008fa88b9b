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
    SqlSignalSource,
    create_ta_signals_table,
    write_ta_signals,
)
from torghut_assets.domain.signal_frame import KEY_COLUMNS, SIGNAL_COLUMNS
from torghut_assets.domain.signal_quality import admit_signals

MINUTE = pd.Timedelta(minutes=1)
ORDER = ["event_ts", "symbol", "seq"]
# Tuesday 10:00-10:30 New York; ten minutes either side are stored too, so the bounds are really tested.
START = pd.Timestamp("2026-02-24 15:00", tz="UTC")
END = pd.Timestamp("2026-02-24 15:30", tz="UTC")
UNREACHABLE = "postgresql+psycopg2://postgres:{password}@127.0.0.1:1/x"


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
def test_bad_rows_come_back_unfiltered_for_admission_to_count(empty_ledger_url: str, batch_size: int) -> None:
    window = in_window(stored())
    bad = window.copy()
    bad.loc[3, ["price", "close", "vwap"]] = np.nan  # no price to fall back to
    bad.loc[5, "price"] = -1.0
    redelivered = bad.iloc[[10]].assign(ingest_ts=bad.loc[10, "ingest_ts"] + pd.Timedelta(seconds=2))
    rows = pd.concat([bad, redelivered.assign(price=redelivered["price"] + 0.5)], ignore_index=True)
    write(empty_ledger_url, rows)
    with closing(SqlSignalSource(empty_ledger_url, batch_size=batch_size)) as source:
        got = source.fetch_window(START, END)
    pd.testing.assert_frame_equal(got, in_window(rows))  # batch 1: the duplicate pair spans two pages
    admitted = admit_signals(got, window_start=START, window_end=END, universe=DEFAULT_UNIVERSE)
    assert admitted.rejected == {"invalid_price": 2, "duplicate_signal": 1}
    assert len(admitted.frame) == len(window) - 2


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


def test_missing_columns_are_null_and_price_falls_back_to_close(empty_ledger_url: str) -> None:
    narrow = [c for c in SIGNAL_COLUMNS if c not in ("price", "vwap", "rsi14", "imbalance_bid_sz")]
    write(empty_ledger_url, stored(), columns=narrow)
    with closing(SqlSignalSource(empty_ledger_url)) as source:
        got = source.fetch_window(START, END)
    expected = in_window(stored()).assign(
        price=lambda f: f["close"], vwap=np.nan, rsi14=np.nan, imbalance_bid_sz=pd.NA
    )
    pd.testing.assert_frame_equal(got, expected.astype({"imbalance_bid_sz": "Int64"}))


def test_column_that_cannot_be_converted_is_source_payload_invalid(empty_ledger_url: str) -> None:
    engine = sa.create_engine(empty_ledger_url)
    columns = [sa.Column(c, sa.Text if c == "volume" else sa.Double) for c in ("price", "volume")]
    sa.Table(
        "ta_signals",
        sa.MetaData(),
        sa.Column("symbol", sa.Text),
        sa.Column("event_ts", sa.DateTime(timezone=True)),
        sa.Column("seq", sa.BigInteger),
        *columns,
    ).create(engine)
    rows = in_window(stored()).head(4).assign(volume=["10", "11", "lots", "12"])
    write_ta_signals(engine, rows)
    engine.dispose()
    error = unavailable(SqlSignalSource(empty_ledger_url))
    assert error.reason == "source_payload_invalid"
    assert "volume" in error.detail


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
