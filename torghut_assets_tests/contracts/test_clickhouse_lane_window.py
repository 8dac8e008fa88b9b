"""A lane window materialized end to end from the reference `torghut.ta_signals` table in chDB.

The table holds what the TA job would have written for the previous session and today up to the window
end (the simulator's signals, stored in the real columns only: no price, close, vwap or volume), plus
redelivered versions of a few keys, and the pipeline reads it through `TORGHUT_SIGNAL_SOURCE=sql` with a
`clickhousedb://` URL, exactly as in production.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest
import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from torghut_assets.adapters.market_simulator import MarketSimulator
from torghut_assets.adapters.sql_signal_source import write_ta_signals
from torghut_assets.definitions import LANE_WINDOW_ASSETS
from torghut_assets.defs.lane_window.partitions import lane_window_key
from torghut_assets.defs.resources import MarketDataResource
from torghut_assets.ledger.engine import create_ledger_engine
from torghut_assets_tests.contracts.chdb_ta_signals import TABLE, ChdbTables, reference_ta_signals
from torghut_assets_tests.defs.lane_window_harness import OPEN_WINDOW, resources

LANE = "macd_rsi"
WINDOW_END = OPEN_WINDOW + pd.Timedelta(hours=1)
PREVIOUS_SESSION = pd.Timestamp("2026-03-02 14:30", tz="UTC")  # Monday's open: research looks back to it


@pytest.fixture
def chdb(tmp_path: Path) -> Iterator[ChdbTables]:
    with reference_ta_signals(tmp_path / "chdb") as tables:
        yield tables


def _load(chdb: ChdbTables) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Write the sessions' signals, then a second, later-ingested version of five window keys."""
    signals = MarketSimulator().signals(PREVIOUS_SESSION, WINDOW_END)
    in_window = signals[(signals["event_ts"] >= OPEN_WINDOW) & (signals["event_ts"] < WINDOW_END)]
    redelivered = in_window.iloc[::97].head(5)
    redelivered = redelivered.assign(ingest_ts=redelivered["ingest_ts"] + pd.Timedelta(seconds=3))
    engine = sa.create_engine(chdb.url, poolclass=NullPool)
    try:
        write_ta_signals(engine, signals, TABLE)  # only the real columns exist: price & co. are dropped
        write_ta_signals(engine, redelivered, TABLE)  # a second insert: a second stored version
    finally:
        engine.dispose()
    return in_window.reset_index(drop=True), redelivered


def _ledger(url: str, sql: str) -> list[sa.Row[tuple[object, ...]]]:
    engine = create_ledger_engine(url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(sa.text(sql), {"lane": LANE}).all())
    finally:
        engine.dispose()


def test_a_lane_window_from_clickhouse_admits_the_real_rows_and_decides_on_them(
    chdb: ChdbTables, ledger_url: str, tmp_path: Path
) -> None:
    in_window, redelivered = _load(chdb)
    stored_in_window = chdb.conn.exec_driver_sql(
        f"SELECT count() FROM {TABLE} WHERE event_ts >= '{OPEN_WINDOW:%Y-%m-%d %H:%M:%S}'"
    ).scalar()
    assert stored_in_window == len(in_window) + len(redelivered)  # unmerged: two versions of five keys
    run_resources = resources(ledger_url, tmp_path / "artifacts")
    run_resources["market_data"] = MarketDataResource(source="sql", sql_url=chdb.url, sql_table=TABLE)
    result = dg.materialize(
        LANE_WINDOW_ASSETS,
        partition_key=lane_window_key(LANE, OPEN_WINDOW),
        resources=run_resources,
        instance=dg.DagsterInstance.ephemeral(),
        raise_on_error=True,
    )
    assert result.success

    metadata = result.asset_materializations_for_node("signals")[0].metadata
    assert metadata["signals_total"].value == len(in_window)  # every real row admitted...
    assert metadata["rejected_by_reason"].value == {"duplicate_signal": len(redelivered)}  # ...older versions
    assert metadata["source_rows"].value == len(in_window) + len(redelivered)
    assert metadata["source_rows"].value == metadata["signals_total"].value + metadata["rejected_total"].value
    assert metadata["source"].value["signal_source"] == "sql"

    stored = pd.DataFrame(
        _ledger(
            ledger_url,
            "select symbol, event_ts, seq, ingest_ts, price, close, vwap, volume, vwap_session "
            "from signals where lane = :lane",
        ),
        columns=[
            "symbol",
            "event_ts",
            "seq",
            "ingest_ts",
            "price",
            "close",
            "vwap",
            "volume",
            "vwap_session",
        ],
    )
    assert len(stored) == len(in_window)
    # the reference's price for a ta_signals row is its session VWAP; the table has no volume
    assert (stored["price"].astype(float) - stored["vwap_session"].astype(float)).abs().max() < 1e-6
    assert (stored["volume"] == 0).all()
    stored_ingest = pd.to_datetime(stored["ingest_ts"], utc=True).set_axis(
        pd.MultiIndex.from_frame(stored[["symbol", "seq"]])
    )
    for symbol, seq, ingest_ts in redelivered[["symbol", "seq", "ingest_ts"]].itertuples(index=False):
        assert stored_ingest[(symbol, seq)] == ingest_ts  # the redelivered (latest) version is stored

    # no volume ⇒ the participation cap fills nothing: simulated orders are placed and cancelled
    executions = _ledger(ledger_url, "select status, filled_qty from executions where lane = :lane")
    assert executions and all(float(filled or 0) == 0 for _, filled in executions)

    decisions = _ledger(
        ledger_url, "select symbol, signal_event_ts, signal_seq from trade_decisions where lane = :lane"
    )
    assert decisions, "no decision was made on the ClickHouse signals"
    keys = set(zip(in_window["symbol"], in_window["seq"], strict=True))
    assert all((symbol, seq) in keys for symbol, _, seq in decisions)
