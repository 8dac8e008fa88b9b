"""Bulk upsert on PostgreSQL through COPY: rows are copied into a transaction-local staging table and
merged with one INSERT ... SELECT ... ON CONFLICT, which is what lets a lane window of hundreds of
thousands of signals be written at a COPY-like rate (bench/ledger_ingest.py) with the same upsert
semantics as the row-wise path. It runs on the caller's connection, inside the caller's transaction.
"""

from __future__ import annotations

import datetime as dt
import io
import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

NULL = r"\N"


def _quote(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


_FAST: dict[type, Callable[[Any], str]] = {
    str: _quote,
    float: repr,
    int: repr,
    bool: lambda v: "t" if v else "f",
    type(None): lambda _v: NULL,
}


def _field(value: Any) -> str:
    fast = _FAST.get(type(value))
    if fast is not None:
        return fast(value)
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, dt.datetime | dt.date):
        text = value.isoformat()
    elif isinstance(value, Mapping | list | tuple):
        text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    else:
        text = str(value)
    return _quote(text)


def _csv(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> io.StringIO:
    buffer = io.StringIO()
    buffer.writelines(",".join(_field(row[c]) for c in columns) + "\n" for row in rows)
    buffer.seek(0)
    return buffer


def copy_upsert(conn: Connection, table: sa.Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Rows must share one key set and hold driver-native values (see `writes.to_native`)."""
    columns = sorted(rows[0])
    staging = f"torghut_staging_{table.name}"
    quoted = ", ".join(f'"{c}"' for c in columns)
    updates = ", ".join(f'"{c.name}" = EXCLUDED."{c.name}"' for c in table.columns if c.name != "id")
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(
            f'CREATE TEMP TABLE IF NOT EXISTS "{staging}" (LIKE "{table.name}" INCLUDING DEFAULTS) '
            "ON COMMIT DROP"
        )
        cursor.execute(f'TRUNCATE "{staging}"')
        cursor.copy_expert(
            f"COPY \"{staging}\" ({quoted}) FROM STDIN WITH (FORMAT csv, NULL '{NULL}')", _csv(rows, columns)
        )
        cursor.execute(
            f'INSERT INTO "{table.name}" ({quoted}) SELECT {quoted} FROM "{staging}" '
            f"ON CONFLICT (id) DO UPDATE SET {updates}"
        )
    finally:
        cursor.close()
