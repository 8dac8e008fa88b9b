"""SqlSignalSource against the reference `torghut.ta_signals` DDL in a real ClickHouse engine (chDB).

Rows look like the reference's Flink TA job writes them (FlinkTechnicalAnalysisJob.kt
`signalsStatementBuilder`): one per second (`window_size`/`window_step` `PT1S`, `window_start` one second
before `event_ts`), `source` `ta`, `version` 1, indicators NULL until they exist, no price and no volume
column; the sink is at-least-once, so one key can be stored more than once.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import closing
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import clickhouse_connect
import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from torghut_assets.adapters.signal_source import SignalSourceUnavailable
from torghut_assets.adapters.sql_signal_source import (
    REQUIRED_COLUMNS,
    TA_SIGNALS_COLUMNS,
    SqlSignalSource,
    _classify,
    create_ta_signals_table,
)
from torghut_assets.domain.signal_frame import MAX_PRICE, MIN_PRICE, SUPERSEDED_VERSIONS_ATTR
from torghut_assets.domain.signal_quality import AdmittedSignals, admit_signals
from torghut_assets_tests.contracts.chdb_ta_signals import (
    CHDB_ADAPTATIONS,
    FIXTURE,
    TABLE,
    ChdbTables,
    chdb_url,
    insert,
    reference_ddl,
    reference_ta_signals,
    ta_signals_ddl_columns,
)

START = pd.Timestamp("2026-03-03 15:00", tz="UTC")  # Tuesday 10:00 New York
END = START + pd.Timedelta(minutes=1)
UNIVERSE = ("AAPL", "MSFT", "NVDA")
LEVEL = {"AAPL": 232.41, "MSFT": 409.87, "NVDA": 131.22}
KEY = ["symbol", "event_ts", "seq"]


@pytest.fixture
def chdb(tmp_path: Path) -> Iterator[ChdbTables]:
    with reference_ta_signals(tmp_path / "chdb") as tables:
        yield tables


def signal(
    symbol: str, second: int, *, seq: int | None = None, ingest_ms: int = 180, **values: Any
) -> dict[str, Any]:
    """A production-shaped `ta_signals` row for `symbol` at START + `second` seconds."""
    event = START + pd.Timedelta(seconds=second)
    price = LEVEL[symbol] * (1 + 2e-5 * second)
    ema12, ema26 = price * 0.9998, price * 0.9995
    macd = ema12 - ema26
    row: dict[str, Any] = {
        "symbol": symbol,
        "event_ts": event,
        "seq": 1000 + second if seq is None else seq,
        "ingest_ts": event + pd.Timedelta(milliseconds=ingest_ms),
        "is_final": 1,
        "source": "ta",
        "window_size": "PT1S",
        "window_step": "PT1S",
        "window_start": event - pd.Timedelta(seconds=1),
        "window_end": event,
        "version": 1,
        "macd": macd,
        "macd_signal": macd * 0.8,
        "macd_hist": macd * 0.2,
        "ema12": ema12,
        "ema26": ema26,
        "rsi14": 52.0 + second % 17,
        "boll_mid": price * 0.9997,
        "boll_upper": price * 1.0015,
        "boll_lower": price * 0.9979,
        "vwap_session": round(price * 0.998, 4),
        "vwap_w5m": round(price * 0.9999, 4),
        "imbalance_spread": 0.02,
        "imbalance_bid_px": round(price - 0.01, 2),
        "imbalance_ask_px": round(price + 0.01, 2),
        "imbalance_bid_sz": 300,
        "imbalance_ask_sz": 500,
        "vol_realized_w60s": 0.00012,
    }
    row.update(values)
    return row


def fetch(url: str, start: pd.Timestamp = START, end: pd.Timestamp = END, **options: Any) -> pd.DataFrame:
    with closing(SqlSignalSource(url, table=TABLE, **options)) as source:
        return source.fetch_window(start, end)


def admit(frame: pd.DataFrame, start: pd.Timestamp = START, end: pd.Timestamp = END) -> AdmittedSignals:
    return admit_signals(frame, window_start=start, window_end=end, universe=UNIVERSE)


def stored(chdb: ChdbTables, final: bool = False) -> pd.DataFrame:
    rows = chdb.conn.exec_driver_sql(f"SELECT * FROM {TABLE}{' FINAL' if final else ''}").mappings().all()
    return pd.DataFrame([dict(r) for r in rows])


# --- the contract: the reference DDL, as ClickHouse runs it ----------------------------------------------


def test_the_fixture_names_its_source_and_is_the_reference_file() -> None:
    header = FIXTURE.read_text().split("CREATE", 1)[0]
    assert "proompteng/lab" in header and "18622cbe3a4fc678e47822873bbd1134ddb662d6" in header
    assert "services/dorvud/technical-analysis-flink/src/main/resources/ta-schema.sql" in header
    ddl = reference_ddl()
    assert ddl.count("ON CLUSTER default") == 3 and ddl.count("ReplicatedReplacingMergeTree(") == 2


def test_the_source_knows_exactly_the_reference_columns() -> None:
    ddl = ta_signals_ddl_columns()
    assert [name for name, *_ in TA_SIGNALS_COLUMNS] == [name for name, _ in ddl]
    assert {name: nullable for name, _, nullable in TA_SIGNALS_COLUMNS} == {
        name: type_.startswith("Nullable(") for name, type_ in ddl
    }
    assert set(REQUIRED_COLUMNS) == {name for name, type_ in ddl if not type_.startswith("Nullable(")}
    assert not {"price", "close", "vwap", "volume"} & {name for name, _ in ddl}


def test_chdb_runs_the_reference_table_with_only_the_documented_adaptations(chdb: ChdbTables) -> None:
    assert len(CHDB_ADAPTATIONS) == 3
    described = chdb.conn.exec_driver_sql(f"DESCRIBE TABLE {TABLE}").all()
    assert [(r[0], r[1]) for r in described] == ta_signals_ddl_columns()
    engine, sorting_key, full = chdb.conn.exec_driver_sql(
        "SELECT engine, sorting_key, engine_full FROM system.tables "
        "WHERE database = 'torghut' AND name = 'ta_signals'"
    ).one()
    assert (engine, sorting_key) == ("ReplacingMergeTree", "symbol, event_ts, seq")
    assert full.startswith("ReplacingMergeTree(ingest_ts) PARTITION BY toDate(event_ts)")


# --- reading it -----------------------------------------------------------------------------------------


def test_every_valid_row_is_admitted(chdb: ChdbTables) -> None:
    rows = [signal(s, second) for s in UNIVERSE for second in range(20)]
    rows[0].update(boll_mid=None, boll_upper=None, boll_lower=None, vol_realized_w60s=None)  # warming up
    rows[21].update(imbalance_spread=None, imbalance_bid_px=None, imbalance_ask_px=None)  # no quote yet
    rows[21].update(imbalance_bid_sz=None, imbalance_ask_sz=None)
    insert(chdb.conn, rows)
    got = fetch(chdb.url)
    admitted = admit(got)
    assert admitted.rejected == {} and admitted.accounted
    assert len(admitted.frame) == len(rows) == admitted.source_rows
    expected = pd.DataFrame(rows).sort_values(["event_ts", "symbol", "seq"]).reset_index(drop=True)
    frame = admitted.frame
    assert list(zip(frame["symbol"], frame["event_ts"], frame["seq"], strict=True)) == list(
        zip(expected["symbol"], expected["event_ts"], expected["seq"], strict=True)
    )
    np.testing.assert_array_equal(frame["ingest_ts"], expected["ingest_ts"])
    for column in ("rsi14", "macd", "macd_signal", "ema12", "boll_mid", "imbalance_bid_px"):
        np.testing.assert_array_equal(frame[column], expected[column].astype("float64"))
    assert frame["imbalance_bid_sz"].isna().sum() == 1 and (frame["source"] == "ta").all()
    np.testing.assert_array_equal(frame["price"], expected["vwap_session"])  # the reference's price
    assert (frame["volume"] == 0).all()  # the table has no volume


@pytest.mark.parametrize("batch_size", [1, 4, 500])
def test_the_latest_version_of_each_key_is_read_as_final_would(chdb: ChdbTables, batch_size: int) -> None:
    base = [signal(s, second) for s in UNIVERSE for second in range(6)]
    insert(chdb.conn, base)
    # at-least-once redelivery: a corrected AAPL row and two later copies of an MSFT row...
    insert(chdb.conn, [signal("AAPL", 2, ingest_ms=900, rsi14=77.5), signal("MSFT", 4, ingest_ms=400)])
    insert(chdb.conn, [signal("MSFT", 4, ingest_ms=650, rsi14=12.5)])
    # ...and a stale NVDA copy that arrives last but was ingested first: the version, not the order, wins
    insert(chdb.conn, [signal("NVDA", 1, ingest_ms=5, rsi14=1.0)])
    assert len(stored(chdb)) == len(base) + 4 > len(stored(chdb, final=True)) == len(base)  # unmerged
    got = fetch(chdb.url, batch_size=batch_size)
    final = stored(chdb, final=True).sort_values(["event_ts", "symbol", "seq"]).reset_index(drop=True)
    assert len(got) == len(final)
    np.testing.assert_array_equal(got["ingest_ts"], pd.to_datetime(final["ingest_ts"], utc=True))
    np.testing.assert_array_equal(got["rsi14"], final["rsi14"])
    assert got.attrs[SUPERSEDED_VERSIONS_ATTR] == 4
    rsi = {(r.symbol, r.event_ts): r.rsi14 for r in got.itertuples()}
    assert rsi[("AAPL", START + pd.Timedelta(seconds=2))] == 77.5
    assert rsi[("MSFT", START + pd.Timedelta(seconds=4))] == 12.5
    assert rsi[("NVDA", START + pd.Timedelta(seconds=1))] == signal("NVDA", 1)["rsi14"]
    admitted = admit(got)
    assert admitted.rejected == {"duplicate_signal": 4}
    assert len(admitted.frame) == len(base) and admitted.source_rows == len(base) + 4 and admitted.accounted


# The reference's price for a flat ClickHouse row, transcribed from ingest.py `_payload_from_flat_row`
# (`_copy_row_values_if_missing`, `_ensure_price_value`, `_copy_extended_ta_fields`) and features.py
# `extract_price` / `optional_decimal` at 18622cbe3a. It reads the row as the reference does: JSONEachRow.
def reference_flat_row_price(row: dict[str, Any]) -> Decimal | None:
    def optional_decimal(value: Any) -> Decimal | None:
        if value is None:
            return None
        try:
            return Decimal(str(value))
        except (ValueError, TypeError, ArithmeticError, InvalidOperation):
            return None

    payload: dict[str, Any] = {}
    for key in ("vwap", "price", "close"):
        if row.get(key) is not None:
            payload[key] = row[key]
    if "price" not in payload:
        for key in ("vwap_session", "vwap_w5m", "vwap"):
            if row.get(key) is not None:
                payload["price"] = row[key]
                break
        else:
            bid_px, ask_px = row.get("imbalance_bid_px"), row.get("imbalance_ask_px")
            if bid_px is not None and ask_px is not None:
                payload["price"] = (float(bid_px) + float(ask_px)) / 2
    for key in ("vwap_session", "vwap_w5m"):
        if row.get(key) is not None and key not in payload:
            payload[key] = row[key]
    for key in ("price", "close", "c", "last", "vwap", "vwap_session", "vwap_w5m"):
        if key in payload:
            return optional_decimal(payload[key])
    return None


PRICE_CASES: dict[str, tuple[dict[str, Any], str | None]] = {
    "session vwap": ({}, "vwap_session"),
    "no session vwap": ({"vwap_session": None}, "vwap_w5m"),
    "NaN session vwap": ({"vwap_session": float("nan")}, "vwap_w5m"),  # JSON writes NaN as null
    "inf session vwap": ({"vwap_session": float("inf")}, "vwap_w5m"),
    "no vwap": ({"vwap_session": None, "vwap_w5m": None}, "midpoint"),
    "one-sided quote": ({"vwap_session": None, "vwap_w5m": None, "imbalance_ask_px": None}, None),
    "nothing": ({"vwap_session": None, "vwap_w5m": None, "imbalance_bid_px": None}, None),
    "zero session vwap": ({"vwap_session": 0.0}, None),  # present, so it is the price: impossible
    "negative w5m": ({"vwap_session": None, "vwap_w5m": -3.0}, None),
}


def test_the_price_is_derived_as_the_reference_does(chdb: ChdbTables) -> None:
    rows = [signal("AAPL", second, **values) for second, (values, _) in enumerate(PRICE_CASES.values())]
    insert(chdb.conn, rows)
    client = clickhouse_connect.get_client(interface="chdb", path=str(chdb.path))
    try:
        raw = client.raw_query(f"SELECT * FROM {TABLE} FINAL ORDER BY event_ts", fmt="JSONEachRow")
    finally:
        client.close()
    reference = [reference_flat_row_price(json.loads(line)) for line in raw.decode().splitlines()]
    admitted = admit(fetch(chdb.url))
    prices = dict(zip(admitted.frame["event_ts"], admitted.frame["price"], strict=True))
    for second, (name, (_, source)) in enumerate(PRICE_CASES.items()):
        row, expected = rows[second], reference[second]
        ours = prices.get(row["event_ts"])
        if source is None:  # rejected as invalid_price; the reference has none, or an impossible one
            assert ours is None, name
            assert expected is None or not MIN_PRICE <= expected < MAX_PRICE, name
            continue
        wanted = (
            (row["imbalance_bid_px"] + row["imbalance_ask_px"]) / 2 if source == "midpoint" else row[source]
        )
        assert ours == wanted == float(expected), name  # type: ignore[arg-type]
    assert admitted.rejected == {"invalid_price": 4} and admitted.accounted


def test_window_bounds_are_half_open_whatever_the_callers_time_zone(chdb: ChdbTables) -> None:
    millisecond = pd.Timedelta(milliseconds=1)
    edges = [START - millisecond, START, END - millisecond, END]
    insert(chdb.conn, [signal("AAPL", 0, event_ts=ts, seq=i) for i, ts in enumerate(edges)])
    local = START.tz_convert("America/New_York"), END.tz_convert("America/New_York")
    got = fetch(chdb.url, *local)
    assert list(got["event_ts"]) == [START, END - millisecond]
    assert str(got["event_ts"].dtype) == "datetime64[us, UTC]"


def test_newest_signal_ts_is_none_on_an_empty_table_not_the_epoch(chdb: ChdbTables) -> None:
    # ClickHouse's max() over no rows is 1970-01-01, not NULL
    with closing(SqlSignalSource(chdb.url, table=TABLE)) as source:
        assert source.newest_signal_ts(END) is None
        insert(chdb.conn, [signal("AAPL", 5), signal("MSFT", 30)])
        assert source.newest_signal_ts(END) == START + pd.Timedelta(seconds=30)
        assert source.newest_signal_ts(START + pd.Timedelta(seconds=30)) == START + pd.Timedelta(seconds=30)
        assert source.newest_signal_ts(START + pd.Timedelta(seconds=29)) == START + pd.Timedelta(seconds=5)


# --- failures ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("table", ["torghut.nope", "nowhere.ta_signals"])
def test_a_missing_table_or_database_is_source_table_missing(chdb: ChdbTables, table: str) -> None:
    with (
        closing(SqlSignalSource(chdb.url, table=table)) as source,
        pytest.raises(SignalSourceUnavailable) as e,
    ):
        source.fetch_window(START, END)
    assert e.value.reason == "source_table_missing"


def test_a_query_over_the_statement_timeout_is_source_timeout(chdb: ChdbTables) -> None:
    with closing(SqlSignalSource(chdb.url, table=TABLE, statement_timeout_seconds=1)) as source:
        began = time.monotonic()
        with pytest.raises(SignalSourceUnavailable) as e, source._connection() as conn:
            conn.exec_driver_sql("SELECT count() FROM system.numbers")  # never ends on its own
    assert e.value.reason == "source_timeout"
    assert time.monotonic() - began < 10


def test_an_unreachable_clickhouse_server_is_source_unavailable_without_the_password() -> None:
    url = "clickhousedb://reader:Hunter2-s3cret@127.0.0.1:1/torghut"
    began = time.monotonic()
    with (
        closing(SqlSignalSource(url, connect_timeout_seconds=1)) as source,
        pytest.raises(SignalSourceUnavailable) as e,
    ):
        source.fetch_window(START, END)
    assert e.value.reason == "source_unavailable"
    assert "Hunter2" not in str(e.value) and "***" in str(e.value)
    assert time.monotonic() - began < 10


def test_clickhouse_timeouts_reach_the_driver_and_the_url_may_override_them() -> None:
    source = SqlSignalSource("x", connect_timeout_seconds=2.5, statement_timeout_seconds=20)
    http = source._connect_args(make_url("clickhousedb://u:p@ch:8123/torghut"))
    assert http == {
        "tz_mode": "aware",
        "max_execution_time": 20,
        "connect_timeout": 3,
        "send_receive_timeout": 23,
    }
    custom = source._connect_args(
        make_url("clickhousedb://u:p@ch:8443/torghut?secure=true&send_receive_timeout=600")
    )
    assert "send_receive_timeout" not in custom and custom["max_execution_time"] == 20
    in_process = source._connect_args(make_url("clickhousedb:///torghut?interface=chdb&path=/x"))
    assert in_process == {"tz_mode": "aware", "max_execution_time": 20}


def test_a_chdb_source_holds_no_connection_between_reads(chdb: ChdbTables) -> None:
    insert(chdb.conn, [signal("AAPL", 1)])
    source = SqlSignalSource(chdb.url, table=TABLE)
    assert len(source.fetch_window(START, END)) == 1
    engine = source._engine_or_raise()
    assert isinstance(engine.pool, NullPool)
    source.close()


def test_tables_are_not_created_on_clickhouse_by_the_local_copy_helper(chdb: ChdbTables) -> None:
    engine = sa.create_engine(chdb_url(chdb.path), poolclass=NullPool)
    try:
        with pytest.raises(ValueError, match="reference DDL"):
            create_ta_signals_table(engine, TABLE)
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        (
            "Code: 159. DB::Exception: Timeout exceeded: elapsed 1012.000 ms. (TIMEOUT_EXCEEDED)",
            "source_timeout",
        ),
        ("HTTPConnectionPool(host='ch', port=8123): Read timed out. (read timeout=33)", "source_timeout"),
        (
            "Code: 60. DB::Exception: Unknown table expression identifier 'torghut.x'. (UNKNOWN_TABLE)",
            "source_table_missing",
        ),
        (
            "Code: 81. DB::Exception: Database nowhere does not exist. (UNKNOWN_DATABASE)",
            "source_table_missing",
        ),
        (
            "Code: 516. DB::Exception: reader: Authentication failed. (AUTHENTICATION_FAILED)",
            "source_auth_failed",
        ),
        (
            "Code: 164. DB::Exception: Cannot modify 'max_execution_time' setting in readonly mode",
            "source_auth_failed",
        ),
        ("Setting max_execution_time is readonly", "source_auth_failed"),
        (
            "Code: 53. DB::Exception: Type mismatch in IN or VALUES section. (TYPE_MISMATCH)",
            "source_payload_invalid",
        ),
        (
            "Error HTTPConnectionPool(host='127.0.0.1', port=1): Max retries exceeded (Connection refused)",
            "source_unavailable",
        ),
    ],
)
def test_clickhouse_errors_are_classified(message: str, reason: str) -> None:
    assert _classify(sa.exc.DBAPIError("SELECT 1", None, Exception(message))) == reason
