"""The reference `torghut.ta_signals` table in chDB (in-process ClickHouse) for contract and pipeline tests.

The DDL comes from `fixtures/clickhouse/ta-schema.sql`, a verbatim copy of the reference file, with the
three adaptations its header lists applied here (`CHDB_ADAPTATIONS`); nothing else is changed.

Isolation. chDB is one engine per process, on one data path at a time (opening another path while a
connection is open raises `ProgrammingError`). Each test gets its own path under its `tmp_path`, so
tests share no state, and pytest-xdist workers are separate processes. `reference_ta_signals` keeps one
"anchor" connection open for the test's duration: it keeps the engine (and `SYSTEM STOP MERGES`, which
is engine state, so stored versions stay unmerged) alive between the short-lived connections that
`SqlSignalSource` opens (it uses no pool on chDB), and closing it at teardown frees the engine for the
next test. Do not keep a chDB connection open across tests.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from urllib.parse import quote

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.pool import NullPool

FIXTURE = Path(__file__).parent / "fixtures" / "clickhouse" / "ta-schema.sql"
DATABASE = "torghut"
TABLE = f"{DATABASE}.ta_signals"

CHDB_ADAPTATIONS: tuple[tuple[str, re.Pattern[str], str], ...] = (
    ("no cluster in chDB", re.compile(r" ON CLUSTER default\b"), ""),
    (
        "no Keeper or {cluster}/{shard}/{replica} macros: the same ReplacingMergeTree, unreplicated",
        re.compile(r"ReplicatedReplacingMergeTree\('[^']*', '\{replica\}', (\w+)\)"),
        r"ReplacingMergeTree(\1)",
    ),
    ("no TTL: the fixed-date test rows must not expire", re.compile(r"^TTL [^\n]*\n", re.MULTILINE), ""),
)


def reference_ddl() -> str:
    """The reference file as it is (the fixture without its header comment)."""
    lines = FIXTURE.read_text().splitlines(keepends=True)
    return "".join(line for line in lines if not line.startswith("--"))


def chdb_statements() -> list[str]:
    sql = reference_ddl()
    for why, pattern, replacement in CHDB_ADAPTATIONS:
        sql, count = pattern.subn(replacement, sql)
        assert count, f"adaptation no longer applies ({why}): has the fixture changed?"
    return [statement.strip() for statement in sql.split(";") if statement.strip()]


def ta_signals_ddl_columns() -> list[tuple[str, str]]:
    """(name, ClickHouse type) of `torghut.ta_signals`, in DDL order, parsed from the reference file."""
    body = re.search(r"CREATE TABLE IF NOT EXISTS torghut\.ta_signals[^(]*\((.*?)\n\)", reference_ddl(), re.S)
    assert body is not None
    columns = []
    for line in body.group(1).strip().splitlines():
        name, type_ = line.strip().rstrip(",").split(" ", 1)
        columns.append((name, type_))
    return columns


def chdb_url(path: Path, database: str = DATABASE) -> str:
    """clickhouse-connect's SQLAlchemy URL for chDB (`interface=chdb` selects the in-process engine)."""
    return f"clickhousedb:///{database}?interface=chdb&path={quote(str(path))}"


@dataclass(frozen=True)
class ChdbTables:
    url: str  # of the `torghut` database, as TORGHUT_SIGNAL_SOURCE_URL would be
    path: Path
    conn: Connection  # the anchor: also usable to insert and query


@contextmanager
def reference_ta_signals(path: Path) -> Iterator[ChdbTables]:
    """`torghut.ta_signals` (and `ta_microbars`) created from the reference DDL in a fresh chDB path."""
    path.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(chdb_url(path, "default"), poolclass=NullPool)
    try:
        with engine.connect() as conn:
            for statement in chdb_statements():
                conn.exec_driver_sql(statement)
            conn.exec_driver_sql(f"SYSTEM STOP MERGES {TABLE}")
            yield ChdbTables(url=chdb_url(path), path=path, conn=conn)
    finally:
        engine.dispose()


def insert(conn: Connection, rows: Sequence[Mapping[str, object]], table: str = TABLE) -> None:
    """One INSERT (one part: a second insert of a key is a second stored version until a merge).

    Values are written as ClickHouse literals, so NaN and ±inf reach Float64 columns as themselves
    (SQLAlchemy-level writers store NaN as NULL).
    """
    columns = list(rows[0])
    values = ",\n".join("(" + ", ".join(_literal(row[c]) for c in columns) + ")" for row in rows)
    conn.exec_driver_sql(f"INSERT INTO {table} ({', '.join(columns)}) VALUES {values}")


def _literal(value: object) -> str:
    if value is None or value is pd.NA:
        return "NULL"
    if isinstance(value, pd.Timestamp | datetime):
        ts = pd.Timestamp(value)
        ts = ts.tz_convert("UTC") if ts.tzinfo is not None else ts
        return "'" + ts.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + "'"
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    raise TypeError(f"no ClickHouse literal for {value!r}")
