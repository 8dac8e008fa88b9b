"""Signals read from a `ta_signals` table: the real ClickHouse table, or a copy in PostgreSQL/SQLite.

The real table is the reference's `torghut.ta_signals` (proompteng/lab@18622cbe3a,
`services/dorvud/technical-analysis-flink/src/main/resources/ta-schema.sql`; a copy is kept in
`torghut_assets_tests/contracts/fixtures/ta-schema.sql`). It has no `price`, `close`, `vwap` or
`volume`: admission derives the price as the reference does (`signal_quality.reference_price`: the
session VWAP, the 5-minute VWAP, the quote midpoint), and `volume` is reported as 0 (docs/signal-sources.md
says what that means for fills). Local copies may carry `price`/`close`/`vwap`/`volume`; when they do,
they are read too.

The table is a ReplacingMergeTree on `(symbol, event_ts, seq)` with `ingest_ts` as the version, so until
a background merge one key may be stored several times. The reader returns the latest `ingest_ts` of
each key (what `SELECT ... FINAL` would see, whenever the merge happens) with one window-function query
that ClickHouse, PostgreSQL and SQLite all run, and reports how many older versions it read past in
`frame.attrs[SUPERSEDED_VERSIONS_ATTR]`; admission counts those as `duplicate_signal`.

Otherwise the reader follows the reference's bounded-fetch rules (rows with `event_ts` in [start, end),
ordered `(event_ts, symbol, seq)`, keyset pages of `batch_size`) and returns the rows raw: a column that
cannot be typed as a whole (text in a numeric column of a lenient SQLite copy, an unparseable timestamp)
is passed through as raw values, and admission judges its cells row by row. Only a problem with the
table itself (missing, unreachable, lacking a required column, a type the database refuses to compare)
makes the window unreadable.

ClickHouse is read through clickhouse-connect's SQLAlchemy dialect: `clickhousedb://user:pass@host:8123/db`
(HTTP; `?secure=true` for HTTPS) or, in-process, chDB: `clickhousedb:///db?interface=chdb&path=/dir`.
Timeouts: `connect_timeout_seconds` is the HTTP connect timeout; `statement_timeout_seconds` is the
server-side `max_execution_time` of every query (the HTTP read timeout is that plus the connect timeout).
On PostgreSQL they are `connect_timeout` and `statement_timeout`, on SQLite the lock wait.

Assumptions, as in ClickHouse's ordering key: `event_ts`, `symbol` and `seq` are NOT NULL. On SQLite,
timestamps are the naive UTC strings SQLAlchemy writes, so the window bounds compare as text.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import URL, Connection, Engine, Row, make_url
from sqlalchemy.pool import NullPool

from torghut_assets.adapters.signal_source import BAR_COLUMNS, SignalSourceUnavailable
from torghut_assets.domain.signal_frame import (
    INDICATOR_COLUMNS,
    PRICE_COLUMNS,
    SIGNAL_COLUMNS,
    SUPERSEDED_VERSIONS_ATTR,
    UTC_TS,
    empty_signal_frame,
)
from torghut_assets.domain.signal_quality import reference_price, well_formed_symbol

URL_MISSING = "clickhouse_url_missing"
URL_INVALID = "source_url_invalid"
SOURCE_UNAVAILABLE = "source_unavailable"
SOURCE_TIMEOUT = "source_timeout"
SOURCE_AUTH_FAILED = "source_auth_failed"
TABLE_MISSING = "source_table_missing"
PAYLOAD_INVALID = "source_payload_invalid"

CLICKHOUSE_BACKENDS = frozenset({"clickhousedb", "clickhouse"})
DEFAULT_SPREAD_BPS = 2.0
_ONE_MINUTE = pd.Timedelta(minutes=1)
_TIMESTAMPS = frozenset({"event_ts", "ingest_ts"})
_STRINGS = frozenset({"symbol", "source", "window_size"})
_REQUIRED_INTS = frozenset({"seq", "is_final", "version", "volume"})
_NULLABLE_INTS = frozenset({"imbalance_bid_sz", "imbalance_ask_sz"})
_ORDER = ("event_ts", "symbol", "seq")
_KEY = ("symbol", "event_ts", "seq")
_VERSIONS = "ta_versions"
_RANK = "ta_version_rank"

TA_SIGNALS_COLUMNS: tuple[tuple[str, sa.types.TypeEngine[Any], bool], ...] = (
    ("symbol", sa.Text(), False),
    ("event_ts", sa.DateTime(timezone=True), False),
    ("seq", sa.BigInteger(), False),
    ("ingest_ts", sa.DateTime(timezone=True), False),
    ("is_final", sa.SmallInteger(), False),
    ("source", sa.Text(), False),
    ("window_size", sa.Text(), False),
    ("window_step", sa.Text(), True),
    ("window_start", sa.DateTime(timezone=True), True),
    ("window_end", sa.DateTime(timezone=True), True),
    ("version", sa.BigInteger(), False),
    *((name, sa.Double(), True) for name in INDICATOR_COLUMNS if name != "vol_realized_w60s"),
    ("imbalance_bid_sz", sa.BigInteger(), True),
    ("imbalance_ask_sz", sa.BigInteger(), True),
    ("vol_realized_w60s", sa.Double(), True),
)
"""The real `torghut.ta_signals` columns in DDL order: (name, portable type, nullable in the DDL)."""

LOCAL_COPY_COLUMNS: tuple[tuple[str, sa.types.TypeEngine[Any], bool], ...] = (
    *((name, sa.Double(), True) for name in PRICE_COLUMNS),
    ("volume", sa.BigInteger(), True),
)
"""Columns the real table lacks that a local copy may carry (and the simulator/Alpaca frames always do)."""

TA_SIGNALS_DDL_COLUMNS = (*TA_SIGNALS_COLUMNS, *LOCAL_COPY_COLUMNS)
REQUIRED_COLUMNS: tuple[str, ...] = tuple(name for name, _, nullable in TA_SIGNALS_COLUMNS if not nullable)
"""NOT NULL in the real DDL: a table without one of them is not a `ta_signals` table."""

_DDL_TYPES = {name: type_ for name, type_, _ in TA_SIGNALS_DDL_COLUMNS}


def _split(table: str) -> tuple[str | None, str]:
    schema, _, name = table.rpartition(".")
    return schema or None, name


def create_ta_signals_table(
    engine: Engine, table: str = "ta_signals", *, columns: Iterable[str] | None = None
) -> sa.Table:
    """Create a PostgreSQL/SQLite copy if absent: the real columns plus `LOCAL_COPY_COLUMNS`, or only
    `columns` (e.g. the real table's shape: `[name for name, *_ in TA_SIGNALS_COLUMNS]`).

    No unique key: like the ReplacingMergeTree it mirrors, duplicates are stored and left to the reader
    and admission. Only the key is NOT NULL, so admission, not the database, judges every other value.
    On ClickHouse create the table from the reference DDL instead.
    """
    if engine.dialect.name in CLICKHOUSE_BACKENDS:
        raise ValueError("create ClickHouse ta_signals tables from the reference DDL (ta-schema.sql)")
    schema, name = _split(table)
    wanted = set(SIGNAL_COLUMNS) | {n for n, *_ in TA_SIGNALS_COLUMNS} if columns is None else set(columns)
    ddl = sa.Table(
        name,
        sa.MetaData(),
        *(sa.Column(c, t, nullable=c not in _KEY) for c, t, _ in TA_SIGNALS_DDL_COLUMNS if c in wanted),
        schema=schema,
    )
    if set(_ORDER) <= wanted:
        sa.Index(f"ix_{name}_event_ts_symbol_seq", *(ddl.c[c] for c in _ORDER))
    ddl.create(engine, checkfirst=True)
    return ddl


def write_ta_signals(engine: Engine, frame: pd.DataFrame, table: str = "ta_signals") -> int:
    """Insert a SIGNAL_COLUMNS frame (only the columns the table has); NaN/NA are stored as NULL.

    Works on ClickHouse too; one call is one insert, i.e. one part of a MergeTree table, so writing a key
    again in a later call stores a second version of it (until a merge).
    """
    schema, name = _split(table)
    target = sa.Table(name, sa.MetaData(), schema=schema, autoload_with=engine)
    names = [c for c in SIGNAL_COLUMNS if c in frame.columns and c in target.c]
    data = frame[names].copy()
    for col in _TIMESTAMPS & set(names):
        data[col] = pd.to_datetime(data[col], utc=True)
    values = data.astype(object).where(data.notna(), None)
    records = [
        {str(c): (v.to_pydatetime() if isinstance(v, pd.Timestamp) else v) for c, v in row.items()}
        for row in values.to_dict("records")
    ]
    if records:
        with engine.begin() as conn:
            conn.execute(target.insert(), records)
    return len(records)


class SqlSignalSource:
    """SignalSource over a `ta_signals` table; the engine is created on first use and never at import."""

    def __init__(
        self,
        url: str,
        table: str = "ta_signals",
        universe: tuple[str, ...] | None = None,
        batch_size: int = 500,
        connect_timeout_seconds: float = 5,
        statement_timeout_seconds: float = 30,
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self.url = url
        self.table = table
        self.universe = universe
        self.batch_size = batch_size
        self.connect_timeout_seconds = connect_timeout_seconds
        self.statement_timeout_seconds = statement_timeout_seconds
        self.name = f"sql:{table}"
        self._engine: Engine | None = None
        self._selectable: sa.TableClause | None = None
        self._tz_aware = True
        self._text_timestamps = False

    def describe(self) -> dict[str, str]:
        """Provenance without credentials."""
        return {"signal_source": self.name, "database": self._display_url(), "table": self.table}

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    def fetch_window(self, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
        """The latest version of every key with `event_ts` in [start, end), raw, in key order."""
        with self._connection() as conn:
            table = self._table(conn)
            rows = self._paged(conn, table, self._filters(table, start, end))
        return self._frame(rows, table)

    def newest_signal_ts(self, as_of: pd.Timestamp) -> pd.Timestamp | None:
        with self._connection() as conn:
            table = self._table(conn)
            event_ts = table.c.event_ts
            query = (
                sa.select(self._raw(event_ts))
                .where(event_ts <= self._bind(as_of), *self._universe(table))
                .order_by(event_ts.desc())
                .limit(1)
            )
            newest = conn.execute(query).scalar()
        if newest is None:
            return None
        parsed = _timestamps(pd.Series([newest], dtype=object)).iloc[0]
        if pd.isna(parsed):
            raise self._error(PAYLOAD_INVALID, f"newest event_ts {str(newest)[:40]!r} is not a timestamp")
        return pd.Timestamp(parsed).as_unit("us")

    def bars(self, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
        """Bars built from signals: the signal ending at `ts + 1 min` closes the bar starting at `ts`.

        One extra minute is read before the window so its first bar can open at the previous close.
        """
        return bars_from_signals(self.fetch_window(start, end + _ONE_MINUTE), _utc(start), _utc(end))

    def _display_url(self) -> str:
        try:
            return make_url(self.url).render_as_string(hide_password=True)
        except Exception:  # an unparseable URL may still embed a password
            return "<invalid url>"

    def _error(self, reason: str, message: str) -> SignalSourceUnavailable:
        where = f"{self._display_url()} table {self.table}"
        return SignalSourceUnavailable(reason, self._redact(f"{where}: {message}"))

    def _redact(self, text: str) -> str:
        try:
            password = make_url(self.url).password
        except Exception:
            return text
        return text.replace(str(password), "***") if password else text

    def _engine_or_raise(self) -> Engine:
        if self._engine is not None:
            return self._engine
        if not self.url or not self.url.strip():
            raise SignalSourceUnavailable(URL_MISSING, "no signal source URL configured")
        try:
            parsed = make_url(self.url)
            options: dict[str, Any] = {"connect_args": self._connect_args(parsed)}
            if _is_chdb(parsed):
                # chDB is one in-process engine: nothing to pool, and an idle pooled connection would
                # keep its data path locked against any other chDB user in the process.
                options["poolclass"] = NullPool
            engine = sa.create_engine(parsed, **options)
        except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError, ValueError) as exc:
            # parser messages may echo parts of the URL, so the cause is not chained
            raise self._error(URL_INVALID, f"not a usable SQLAlchemy URL ({type(exc).__name__})") from None
        self._engine = engine
        return engine

    def _connect_args(self, parsed: URL) -> dict[str, Any]:
        backend = parsed.get_backend_name()
        if backend == "postgresql":
            statement_ms = max(1, round(self.statement_timeout_seconds * 1000))
            return {
                "connect_timeout": max(1, math.ceil(self.connect_timeout_seconds)),
                "options": f"-c statement_timeout={statement_ms}",
                "application_name": "torghut_assets_signal_source",
            }
        if backend == "sqlite":
            database = parsed.database or ""
            in_file = database not in ("", ":memory:") and "uri" not in parsed.query
            if in_file and not Path(database).exists():
                # sqlite3 would silently create an empty file at a mistyped path
                raise SignalSourceUnavailable(SOURCE_UNAVAILABLE, f"SQLite file {database} does not exist")
            return {"timeout": self.connect_timeout_seconds}
        if backend in CLICKHOUSE_BACKENDS:
            connect = max(1, math.ceil(self.connect_timeout_seconds))
            statement = max(1, math.ceil(self.statement_timeout_seconds))
            args: dict[str, Any] = {"tz_mode": "aware", "max_execution_time": statement}
            if not _is_chdb(parsed):  # HTTP transport timeouts; chDB has no transport
                args |= {"connect_timeout": connect, "send_receive_timeout": statement + connect}
            return {k: v for k, v in args.items() if k not in parsed.query}  # the URL's own values win
        return {}

    @contextmanager
    def _connection(self) -> Iterator[Connection]:
        engine = self._engine_or_raise()
        try:
            with engine.connect() as conn:
                if engine.dialect.name == "postgresql":  # one snapshot for all pages
                    conn = conn.execution_options(isolation_level="REPEATABLE READ")
                with conn.begin():
                    yield conn
        except sa.exc.NoSuchTableError as exc:
            raise self._error(TABLE_MISSING, "table does not exist") from exc
        except sa.exc.DBAPIError as exc:
            raise self._error(_classify(exc), _first_line(exc.orig)) from exc

    def _table(self, conn: Connection) -> sa.TableClause:
        """Reflect which columns exist and their types (once per source)."""
        if self._selectable is not None:
            return self._selectable
        schema, name = _split(self.table)
        reflected = {c["name"]: c["type"] for c in sa.inspect(conn).get_columns(name, schema=schema)}
        missing = [c for c in REQUIRED_COLUMNS if c not in reflected]
        if missing:
            raise self._error(PAYLOAD_INVALID, f"table lacks required ta_signals columns {missing}")
        self._tz_aware = bool(getattr(reflected["event_ts"], "timezone", False))
        # SQLite stores timestamps as text and SQLAlchemy's parser would raise on the first bad one:
        # read the text and let the frame conversion judge it row by row.
        self._text_timestamps = conn.dialect.name == "sqlite"
        # Values are read with the table's own types (a hand-made copy may hold text in a numeric
        # column: that is judged per row, not refused by a result processor); timestamps are declared so
        # the window bounds bind as the storage expects.
        columns = [
            sa.column(c, sa.DateTime(timezone=self._tz_aware) if c in _TIMESTAMPS else reflected[c])
            for c in SIGNAL_COLUMNS
            if c in reflected
        ]
        self._selectable = sa.table(name, *columns, schema=schema)
        return self._selectable

    def _raw(self, column: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
        """A timestamp column as the driver returns it (text on SQLite)."""
        return sa.type_coerce(column, sa.Text()) if self._text_timestamps else column

    def _bind(self, ts: pd.Timestamp) -> Any:
        value = _utc(ts).to_pydatetime()
        return value if self._tz_aware else value.replace(tzinfo=None)

    def _cursor_value(self, column: str, value: Any) -> sa.ColumnElement[Any]:
        if column in _TIMESTAMPS and isinstance(value, datetime):
            return sa.literal(self._bind(pd.Timestamp(value)), sa.DateTime(timezone=self._tz_aware))
        return sa.literal(value, sa.Text() if isinstance(value, str) else _DDL_TYPES[column])

    def _universe(self, table: sa.TableClause) -> list[sa.ColumnElement[bool]]:
        return [] if self.universe is None else [table.c.symbol.in_(self.universe)]

    def _filters(self, table: sa.TableClause, start: pd.Timestamp, end: pd.Timestamp) -> list[Any]:
        event_ts = table.c.event_ts
        return [event_ts >= self._bind(start), event_ts < self._bind(end), *self._universe(table)]

    def _latest_versions(self, table: sa.TableClause, filters: list[Any]) -> sa.Select[Any]:
        """One row per key, its latest `ingest_ts` (NULLs last), with the key's number of stored versions.

        Equal `ingest_ts` (an exact redelivery) leaves the choice to the database, as ReplacingMergeTree
        keeps whichever was inserted last, which SQL cannot see.
        """
        key = [table.c[c] for c in _KEY]
        names = [c.name for c in table.columns]
        ranked = (
            sa.select(
                *(self._raw(table.c[c]).label(c) if c in _TIMESTAMPS else table.c[c] for c in names),
                sa.func.row_number()
                .over(partition_by=key, order_by=table.c.ingest_ts.desc().nulls_last())
                .label(_RANK),
                sa.func.count().over(partition_by=key).label(_VERSIONS),
            )
            .where(*filters)
            .subquery("ranked")
        )
        return (
            sa.select(*(ranked.c[c] for c in names), ranked.c[_VERSIONS])
            .where(ranked.c[_RANK] == 1)
            .order_by(*(ranked.c[c] for c in _ORDER))
        )

    def _paged(self, conn: Connection, table: sa.TableClause, filters: list[Any]) -> list[Row[Any]]:
        """Keyset pages on `(event_ts, symbol, seq)`, as the reference's cursor.

        Keys are unique once only their latest version is read, so the strict "greater key" cursor loses
        nothing; it filters before the ranking, since every version of a key falls on the same side.
        """
        order = [self._raw(table.c[c]) if c in _TIMESTAMPS else table.c[c] for c in _ORDER]
        rows: list[Row[Any]] = []
        cursor: tuple[sa.ColumnElement[Any], ...] | None = None
        while True:
            page_filters = filters if cursor is None else [*filters, _after(order, cursor)]
            page = conn.execute(self._latest_versions(table, page_filters).limit(self.batch_size)).all()
            rows.extend(page)
            if len(page) < self.batch_size:
                return rows
            cursor = tuple(self._cursor_value(c, page[-1]._mapping[c]) for c in _ORDER)

    def _frame(self, rows: Sequence[Row[Any]], table: sa.TableClause) -> pd.DataFrame:
        if not rows:
            return empty_signal_frame()
        names = [c.name for c in table.columns]
        raw = pd.DataFrame.from_records([tuple(r) for r in rows], columns=[*names, _VERSIONS])
        versions = pd.to_numeric(raw[_VERSIONS]).astype("int64")
        out: dict[str, pd.Series] = {}
        for col in SIGNAL_COLUMNS:
            out[col] = _convert(col, raw[col]) if col in raw else _absent(col, len(raw))
        frame = pd.DataFrame(out)
        frame.attrs[SUPERSEDED_VERSIONS_ATTR] = int((versions - 1).sum())
        return frame


def bars_from_signals(signals: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
    """Minute bars with `ts` in [start, end) for the simulated broker, which needs a usable price per bar.

    The price is admission's (`reference_price`: on the real table the session VWAP, then the 5-minute
    VWAP, then the quote midpoint). Rows without a usable price, timestamp or symbol cannot make a bar
    and are skipped (admission counts them from `fetch_window`); of duplicated minutes the latest ingest
    wins, as in the ReplacingMergeTree. A signal carries no intrabar range, so high/low are just the
    extremes of open and close. Without a `volume` column (the real table) every bar has volume 0, so
    the participation cap lets nothing fill (docs/signal-sources.md).
    """
    price = reference_price(signals)
    event_ts = _timestamps(signals["event_ts"])
    usable = np.isfinite(price) & (price > 0) & event_ts.notna() & well_formed_symbol(signals["symbol"])
    frame = (
        signals.assign(price=price, event_ts=event_ts, ingest_ts=_timestamps(signals["ingest_ts"]))
        .loc[usable]
        .sort_values(["symbol", "event_ts", "ingest_ts"], kind="mergesort")
        .drop_duplicates(["symbol", "event_ts"], keep="last")
        .reset_index(drop=True)
    )
    close = frame["price"].astype("float64")
    same_symbol = frame["symbol"].eq(frame["symbol"].shift())
    contiguous = same_symbol & frame["event_ts"].sub(frame["event_ts"].shift()).eq(_ONE_MINUTE)
    open_ = close.shift().where(contiguous, close)
    vwap = pd.to_numeric(frame["vwap"], errors="coerce").astype("float64")
    spread = pd.to_numeric(frame["imbalance_spread"], errors="coerce").astype("float64") / close * 1e4
    volume = pd.to_numeric(frame["volume"], errors="coerce").astype("float64")
    bars = pd.DataFrame(
        {
            "symbol": frame["symbol"].astype(str),
            "ts": (frame["event_ts"] - _ONE_MINUTE).astype(UTC_TS),
            "open": open_,
            "high": np.maximum(open_, close),
            "low": np.minimum(open_, close),
            "close": close,
            "volume": volume.where(np.isfinite(volume) & (volume > 0), 0).astype("int64"),
            "vwap": vwap.where(np.isfinite(vwap) & (vwap > 0), close),
            "spread_bps": spread.where(np.isfinite(spread) & (spread > 0), DEFAULT_SPREAD_BPS),
        }
    )
    in_window = (bars["ts"] >= start) & (bars["ts"] < end)
    return (
        bars.loc[in_window, list(BAR_COLUMNS)]
        .sort_values(["ts", "symbol"], kind="mergesort")
        .reset_index(drop=True)
    )


def _is_chdb(parsed: URL) -> bool:
    return parsed.get_backend_name() in CLICKHOUSE_BACKENDS and parsed.query.get("interface") == "chdb"


def _after(order: list[sa.ColumnElement[Any]], cursor: tuple[sa.ColumnElement[Any], ...]) -> Any:
    (ts, symbol, seq), (c_ts, c_symbol, c_seq) = order, cursor
    later_in_tie = sa.or_(symbol > c_symbol, sa.and_(symbol == c_symbol, seq > c_seq))
    return sa.or_(ts > c_ts, sa.and_(ts == c_ts, later_in_tie))


def _timestamps(values: pd.Series) -> pd.Series:
    """UTC timestamps; anything unparseable becomes NaT (admission counts it as `invalid_timestamp`)."""
    parsed = pd.to_datetime(values, utc=True, errors="coerce", format="ISO8601")
    return parsed.astype(UTC_TS)


def _convert(col: str, values: pd.Series) -> pd.Series:
    """Raw DB values → the SIGNAL_SCHEMA dtype; integer columns with NULLs stay nullable `Int64`.

    A column that cannot be converted as a whole is returned as its raw values (object dtype), so that
    admission rejects the bad cells' rows one by one instead of the window failing.
    """
    try:
        if col in _TIMESTAMPS:
            return pd.to_datetime(values, utc=True, format="ISO8601").astype(UTC_TS)
        if col in _STRINGS:
            if not all(isinstance(v, str) for v in values):
                raise TypeError("not all text")
            return values.astype(str)
        numbers = pd.to_numeric(values)
        if col in _REQUIRED_INTS | _NULLABLE_INTS:
            ints = numbers.astype("Int64")
            return ints if col in _NULLABLE_INTS or ints.hasnans else ints.astype("int64")
        return numbers.astype("float64")
    except (TypeError, ValueError, OverflowError):
        return values.astype(object)


def _absent(col: str, rows: int) -> pd.Series:
    """A column the table does not have: NULL, except `volume`, which the real table never carries."""
    if col == "volume":
        return pd.Series(np.zeros(rows, dtype="int64"))
    if col in _NULLABLE_INTS:
        return pd.Series([pd.NA] * rows, dtype="Int64")
    if col in _STRINGS or col in _TIMESTAMPS or col in _REQUIRED_INTS:
        return pd.Series([None] * rows, dtype=object)
    return pd.Series(np.full(rows, np.nan), dtype="float64")


def _utc(ts: pd.Timestamp) -> pd.Timestamp:
    ts = pd.Timestamp(ts)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def _first_line(error: BaseException | None) -> str:
    text = str(error).strip().splitlines()
    return text[0][:300] if text else type(error).__name__


_CLICKHOUSE_CODE = re.compile(r"\bCode: (\d+)\b")
_CLICKHOUSE_REASONS = {
    159: SOURCE_TIMEOUT,  # TIMEOUT_EXCEEDED (max_execution_time)
    209: SOURCE_TIMEOUT,  # SOCKET_TIMEOUT
    60: TABLE_MISSING,  # UNKNOWN_TABLE
    81: TABLE_MISSING,  # UNKNOWN_DATABASE
    192: SOURCE_AUTH_FAILED,  # UNKNOWN_USER
    193: SOURCE_AUTH_FAILED,  # WRONG_PASSWORD
    164: SOURCE_AUTH_FAILED,  # READONLY: the user may not set max_execution_time
    497: SOURCE_AUTH_FAILED,  # ACCESS_DENIED
    516: SOURCE_AUTH_FAILED,  # AUTHENTICATION_FAILED
    6: PAYLOAD_INVALID,  # CANNOT_PARSE_TEXT
    27: PAYLOAD_INVALID,  # CANNOT_PARSE_INPUT_ASSERTION_FAILED
    43: PAYLOAD_INVALID,  # ILLEGAL_TYPE_OF_ARGUMENT
    47: PAYLOAD_INVALID,  # UNKNOWN_IDENTIFIER (a column the table lacks)
    53: PAYLOAD_INVALID,  # TYPE_MISMATCH
    386: PAYLOAD_INVALID,  # NO_COMMON_TYPE
}


def _classify(exc: sa.exc.DBAPIError) -> str:
    text = str(exc.orig)
    clickhouse = _CLICKHOUSE_CODE.search(text)
    if clickhouse is not None and int(clickhouse.group(1)) in _CLICKHOUSE_REASONS:
        return _CLICKHOUSE_REASONS[int(clickhouse.group(1))]
    code = str(getattr(exc.orig, "pgcode", None) or "")
    text = text.lower()
    if code == "57014" or "statement timeout" in text or "database is locked" in text:
        return SOURCE_TIMEOUT
    if "read timed out" in text:
        return SOURCE_TIMEOUT
    if code == "42P01" or "no such table" in text:
        return TABLE_MISSING
    if code in ("28000", "28P01", "42501") or "authentication failed" in text or "permission denied" in text:
        return SOURCE_AUTH_FAILED
    if "is readonly" in text:  # clickhouse-connect: a readonly=1 user may not set max_execution_time
        return SOURCE_AUTH_FAILED
    if code.startswith("22") or code in ("42804", "42883"):
        return PAYLOAD_INVALID
    return SOURCE_UNAVAILABLE
