"""Signals read from a `ta_signals`-shaped table in any SQLAlchemy database.

This is how the real system's TA store is read, and how an operator points the pipeline at a local copy.
The reader follows the reference's bounded-fetch rules (rows with `event_ts` in [start, end), ordered
`(event_ts, symbol, seq)`, keyset pages of `batch_size`) and returns the rows raw: admission in the
domain rejects and counts bad rows for every source alike, so nothing is dropped or repaired here.

Assumptions, as in ClickHouse's ordering key: `event_ts`, `symbol` and `seq` are NOT NULL. On SQLite,
timestamps are the naive UTC strings SQLAlchemy writes, so the window bounds compare as text.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import URL, Connection, Engine, Row, make_url

from torghut_assets.adapters.signal_source import BAR_COLUMNS, SignalSourceUnavailable
from torghut_assets.domain.signal_frame import (
    INDICATOR_COLUMNS,
    KEY_COLUMNS,
    SIGNAL_COLUMNS,
    UTC_TS,
    empty_signal_frame,
)

URL_MISSING = "clickhouse_url_missing"
URL_INVALID = "source_url_invalid"
SOURCE_UNAVAILABLE = "source_unavailable"
SOURCE_TIMEOUT = "source_timeout"
SOURCE_AUTH_FAILED = "source_auth_failed"
TABLE_MISSING = "source_table_missing"
PAYLOAD_INVALID = "source_payload_invalid"

DEFAULT_SPREAD_BPS = 2.0
_ONE_MINUTE = pd.Timedelta(minutes=1)
_TIMESTAMPS = frozenset({"event_ts", "ingest_ts"})
_STRINGS = frozenset({"symbol", "source", "window_size"})
_REQUIRED_INTS = frozenset({"seq", "is_final", "version", "volume"})
_NULLABLE_INTS = frozenset({"imbalance_bid_sz", "imbalance_ask_sz"})
_ORDER = ("event_ts", "symbol", "seq")

TA_SIGNALS_DDL_COLUMNS: tuple[tuple[str, sa.types.TypeEngine[Any], bool], ...] = (
    ("symbol", sa.Text(), False),
    ("event_ts", sa.DateTime(timezone=True), False),
    ("seq", sa.BigInteger(), False),
    ("ingest_ts", sa.DateTime(timezone=True), True),
    ("is_final", sa.SmallInteger(), True),
    ("source", sa.Text(), True),
    ("window_size", sa.Text(), True),
    ("version", sa.Integer(), True),
    ("price", sa.Double(), True),
    ("close", sa.Double(), True),
    ("vwap", sa.Double(), True),
    ("volume", sa.BigInteger(), True),
    *((name, sa.Double(), True) for name in INDICATOR_COLUMNS),
    ("imbalance_bid_sz", sa.BigInteger(), True),
    ("imbalance_ask_sz", sa.BigInteger(), True),
)
"""(name, type, nullable) per column; key columns are NOT NULL, everything else may be missing."""

_DDL_TYPES = {name: type_ for name, type_, _ in TA_SIGNALS_DDL_COLUMNS}


def _split(table: str) -> tuple[str | None, str]:
    schema, _, name = table.rpartition(".")
    return schema or None, name


def create_ta_signals_table(
    engine: Engine, table: str = "ta_signals", *, columns: Iterable[str] | None = None
) -> sa.Table:
    """Create a compatible table if absent; `columns` narrows it (older copies lack e.g. `vwap`).

    No unique key: like the ReplacingMergeTree it mirrors, duplicates are stored and left to admission.
    """
    schema, name = _split(table)
    wanted = set(SIGNAL_COLUMNS if columns is None else columns)
    ddl = sa.Table(
        name,
        sa.MetaData(),
        *(sa.Column(c, t, nullable=n) for c, t, n in TA_SIGNALS_DDL_COLUMNS if c in wanted),
        schema=schema,
    )
    if set(_ORDER) <= wanted:
        sa.Index(f"ix_{name}_event_ts_symbol_seq", *(ddl.c[c] for c in _ORDER))
    ddl.create(engine, checkfirst=True)
    return ddl


def write_ta_signals(engine: Engine, frame: pd.DataFrame, table: str = "ta_signals") -> int:
    """Insert a SIGNAL_COLUMNS frame (only the columns the table has); NaN/NA are stored as NULL."""
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

    def describe(self) -> dict[str, str]:
        """Provenance without credentials."""
        return {"signal_source": self.name, "database": self._display_url(), "table": self.table}

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    def fetch_window(self, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
        with self._connection() as conn:
            table = self._table(conn)
            rows = self._paged(conn, table, self._filters(table, start, end))
        return self._frame(rows, [c.name for c in table.columns])

    def newest_signal_ts(self, as_of: pd.Timestamp) -> pd.Timestamp | None:
        with self._connection() as conn:
            table = self._table(conn)
            event_ts = table.c.event_ts
            bounded = [event_ts <= self._bind(as_of), *self._universe(table)]
            newest = conn.execute(sa.select(sa.func.max(event_ts)).where(*bounded)).scalar()
        if newest is None:
            return None
        try:
            return _utc(pd.Timestamp(newest)).as_unit("us")
        except (TypeError, ValueError) as exc:
            raise self._error(PAYLOAD_INVALID, f"event_ts: {exc}") from exc

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
            engine = sa.create_engine(parsed, connect_args=self._connect_args(parsed))
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
        """Reflect which columns exist (once per source); types are declared so binds match the storage."""
        if self._selectable is not None:
            return self._selectable
        schema, name = _split(self.table)
        reflected = {c["name"]: c["type"] for c in sa.inspect(conn).get_columns(name, schema=schema)}
        missing = [c for c in KEY_COLUMNS if c not in reflected]
        if missing:
            raise self._error(PAYLOAD_INVALID, f"table lacks key columns {missing}")
        self._tz_aware = bool(getattr(reflected["event_ts"], "timezone", False))
        columns = [
            sa.column(c, sa.DateTime(timezone=self._tz_aware) if c in _TIMESTAMPS else _DDL_TYPES[c])
            for c in SIGNAL_COLUMNS
            if c in reflected
        ]
        self._selectable = sa.table(name, *columns, schema=schema)
        return self._selectable

    def _bind(self, ts: pd.Timestamp) -> Any:
        value = _utc(ts).to_pydatetime()
        return value if self._tz_aware else value.replace(tzinfo=None)

    def _universe(self, table: sa.TableClause) -> list[sa.ColumnElement[bool]]:
        return [] if self.universe is None else [table.c.symbol.in_(self.universe)]

    def _filters(self, table: sa.TableClause, start: pd.Timestamp, end: pd.Timestamp) -> list[Any]:
        event_ts = table.c.event_ts
        return [event_ts >= self._bind(start), event_ts < self._bind(end), *self._universe(table)]

    def _paged(self, conn: Connection, table: sa.TableClause, filters: list[Any]) -> list[Row[Any]]:
        """Keyset pages on `(event_ts, symbol, seq)`, as the reference's cursor.

        The reference's strict "greater key" cursor would silently drop the second copy of a duplicated
        key split across two pages; duplicates must reach admission to be counted, so each full page's
        last key is re-read whole before moving past it.
        """
        order = [table.c[c] for c in _ORDER]
        base = sa.select(table).where(*filters).order_by(*order)
        rows: list[Row[Any]] = []
        cursor: tuple[Any, ...] | None = None
        while True:
            query = base if cursor is None else base.where(_after(order, cursor))
            page = conn.execute(query.limit(self.batch_size)).all()
            if len(page) < self.batch_size:
                return [*rows, *page]
            cursor = tuple(page[-1]._mapping[c] for c in _ORDER)
            rows.extend(r for r in page if tuple(r._mapping[c] for c in _ORDER) != cursor)
            rows.extend(conn.execute(base.where(*(col == v for col, v in zip(order, cursor, strict=True)))))

    def _frame(self, rows: Sequence[Row[Any]], names: list[str]) -> pd.DataFrame:
        if not rows:
            return empty_signal_frame()
        raw = pd.DataFrame.from_records([tuple(r) for r in rows], columns=names)
        if "price" not in raw:
            fallback = next((c for c in ("close", "vwap") if c in raw), None)
            raw["price"] = raw[fallback] if fallback else None
        out: dict[str, pd.Series] = {}
        for col in SIGNAL_COLUMNS:
            values = raw[col] if col in raw else pd.Series([None] * len(raw), dtype=object)
            try:
                out[col] = _convert(col, values)
            except (TypeError, ValueError, OverflowError) as exc:
                message = f"column {col} cannot be read as {_kind(col)}: {exc}"
                raise self._error(PAYLOAD_INVALID, message) from exc
        return pd.DataFrame(out)


def bars_from_signals(signals: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
    """Minute bars with `ts` in [start, end) for the simulated broker, which needs a usable price per bar.

    Rows without a positive finite price cannot make a bar and are skipped (admission counts them from
    `fetch_window`); of duplicated minutes the latest ingest wins, as in the ReplacingMergeTree. A
    signal carries no intrabar range, so high/low are just the extremes of open and close.
    """
    price = pd.to_numeric(signals["price"], errors="coerce").astype("float64")
    usable = signals.loc[np.isfinite(price) & (price > 0) & signals["event_ts"].notna()]
    frame = (
        usable.sort_values(["symbol", "event_ts", "ingest_ts"], kind="mergesort")
        .drop_duplicates(["symbol", "event_ts"], keep="last")
        .reset_index(drop=True)
    )
    close = frame["price"].astype("float64")
    same_symbol = frame["symbol"].eq(frame["symbol"].shift())
    contiguous = same_symbol & frame["event_ts"].sub(frame["event_ts"].shift()).eq(_ONE_MINUTE)
    open_ = close.shift().where(contiguous, close)
    vwap = pd.to_numeric(frame["vwap"], errors="coerce").astype("float64")
    spread = pd.to_numeric(frame["imbalance_spread"], errors="coerce").astype("float64") / close * 1e4
    bars = pd.DataFrame(
        {
            "symbol": frame["symbol"].astype(str),
            "ts": (frame["event_ts"] - _ONE_MINUTE).astype(UTC_TS),
            "open": open_,
            "high": np.maximum(open_, close),
            "low": np.minimum(open_, close),
            "close": close,
            "volume": pd.to_numeric(frame["volume"], errors="coerce").fillna(0).clip(lower=0).astype("int64"),
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


def _after(order: list[sa.ColumnClause[Any]], cursor: tuple[Any, ...]) -> sa.ColumnElement[bool]:
    (ts, symbol, seq), (c_ts, c_symbol, c_seq) = order, cursor
    later_in_tie = sa.or_(symbol > c_symbol, sa.and_(symbol == c_symbol, seq > c_seq))
    return sa.or_(ts > c_ts, sa.and_(ts == c_ts, later_in_tie))


def _kind(col: str) -> str:
    if col in _TIMESTAMPS:
        return "a timestamp"
    if col in _STRINGS:
        return "text"
    return "an integer" if col in _REQUIRED_INTS | _NULLABLE_INTS else "a number"


def _convert(col: str, values: pd.Series) -> pd.Series:
    """Raw DB values → the SIGNAL_SCHEMA dtype; integer columns with NULLs stay nullable `Int64`."""
    if col in _TIMESTAMPS:
        return pd.to_datetime(values, utc=True, format="ISO8601").astype(UTC_TS)
    if col in _STRINGS:
        return values.astype(str)
    numbers = pd.to_numeric(values)
    if col in _REQUIRED_INTS | _NULLABLE_INTS:
        ints = numbers.astype("Int64")
        return ints if col in _NULLABLE_INTS or ints.hasnans else ints.astype("int64")
    return numbers.astype("float64")


def _utc(ts: pd.Timestamp) -> pd.Timestamp:
    ts = pd.Timestamp(ts)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def _first_line(error: BaseException | None) -> str:
    text = str(error).strip().splitlines()
    return text[0][:300] if text else type(error).__name__


def _classify(exc: sa.exc.DBAPIError) -> str:
    code = str(getattr(exc.orig, "pgcode", None) or "")
    text = str(exc.orig).lower()
    if code == "57014" or "statement timeout" in text or "database is locked" in text:
        return SOURCE_TIMEOUT
    if code == "42P01" or "no such table" in text:
        return TABLE_MISSING
    if code in ("28000", "28P01", "42501") or "authentication failed" in text or "permission denied" in text:
        return SOURCE_AUTH_FAILED
    if code.startswith("22") or code in ("42804", "42883"):
        return PAYLOAD_INVALID
    return SOURCE_UNAVAILABLE
