"""Idempotent partition writes: a lane window's rows are replaced, never duplicated."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping, Sequence
from enum import StrEnum
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from torghut_assets.domain.evidence import canonical_value
from torghut_assets.ledger.pg_copy import copy_upsert
from torghut_assets.ledger.schema import LANE_WINDOW_TABLES

Row = Mapping[str, Any]

_PLAIN = frozenset({str, int, bool, bytes, type(None)})
# Below this many rows a partition is written with batched INSERTs; above, through COPY (pg_copy.py).
COPY_MIN_ROWS = 2000


def to_native(value: Any) -> Any:
    """Turn numpy/pandas scalars into what every DBAPI driver and JSON column accepts.

    NaN and inf become NULL: a non-finite number is never evidence. Datetimes are normalized to UTC so
    SQLite (which drops offsets) and PostgreSQL store the same instant.
    """
    kind = type(value)
    if kind in _PLAIN:  # the common cases, answered without a chain of isinstance checks
        return value
    if kind is float:
        return value if math.isfinite(value) else None
    if value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r} reaching the ledger; all ledger times are UTC-aware")
        return value.astimezone(dt.UTC)
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Mapping):
        return {str(k): to_native(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_native(v) for v in value]
    if isinstance(value, StrEnum):  # a domain vocabulary member is stored as its value
        return value.value
    return value


def _upsert(conn: Connection, table: sa.Table, rows: Sequence[Row]) -> None:
    if not rows:
        return
    dialect = conn.dialect.name
    insert_fn = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt: Any = insert_fn(table)
    updatable = [c.name for c in table.columns if c.name != "id"]
    json_columns = {c.name for c in table.columns if isinstance(c.type, sa.JSON)}
    stmt = stmt.on_conflict_do_update(
        index_elements=[table.c.id], set_={name: stmt.excluded[name] for name in updatable}
    )
    if dialect == "postgresql":
        # RETURNING is what lets SQLAlchemy batch an ON CONFLICT executemany into multi-row VALUES
        # ("insertmanyvalues"); without it psycopg2 makes a round trip per row.
        stmt = stmt.returning(table.c.id)
    # One executemany per key set: rows read back from the ledger (every column) and freshly built rows
    # (only the columns they set) can be written together, e.g. kept and new executions of a window.
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row in rows:
        native = {k: canonical_value(v) if k in json_columns else to_native(v) for k, v in row.items()}
        groups.setdefault(tuple(sorted(native)), []).append(native)
    for group in groups.values():
        if dialect == "postgresql" and len(group) >= COPY_MIN_ROWS:
            copy_upsert(conn, table, group)
        else:
            conn.execute(stmt, group)


def replace_lane_window(
    conn: Connection,
    table: sa.Table,
    lane: str,
    window_start: dt.datetime,
    rows: Iterable[Row],
) -> int:
    """Make the partition's rows exactly `rows`: upsert them by id, delete the ones no longer produced.

    Upserting (rather than delete-then-insert) keeps foreign keys pointing at unchanged rows intact, so
    re-running an upstream asset does not null out or cascade-delete its downstream rows. Only for the
    lane window's computed partitions: an append-only audit table (docs/ledger.md) is never replaced.
    """
    start_column = table.c[LANE_WINDOW_TABLES[table.name]]
    materialized = list(rows)
    for row in materialized:
        if row.get("lane") != lane or to_native(row.get(start_column.name)) != to_native(window_start):
            raise ValueError(
                f"row {row.get('id')} for {table.name} is outside partition {lane}/{window_start.isoformat()}"
            )
    keep = {str(row["id"]) for row in materialized}
    partition = sa.and_(table.c.lane == lane, start_column == to_native(window_start))
    existing = {str(i) for i in conn.execute(sa.select(table.c.id).where(partition)).scalars()}
    stale = sorted(existing - keep)
    for chunk_start in range(0, len(stale), 500):
        conn.execute(sa.delete(table).where(table.c.id.in_(stale[chunk_start : chunk_start + 500])))
    _upsert(conn, table, materialized)
    return len(materialized)


def insert_rows(conn: Connection, table: sa.Table, rows: Iterable[Row]) -> int:
    """Plain INSERT, values normalized as every write here normalizes them: for append-only tables, whose
    rows are never updated (a duplicate id is an error, not a rewrite)."""
    json_columns = {c.name for c in table.columns if isinstance(c.type, sa.JSON)}
    materialized = [
        {k: canonical_value(v) if k in json_columns else to_native(v) for k, v in row.items()} for row in rows
    ]
    for row in materialized:
        conn.execute(sa.insert(table).values(**row))
    return len(materialized)


def upsert_rows(conn: Connection, table: sa.Table, rows: Iterable[Row]) -> int:
    """Insert or update by id, for tables that are not lane-window partitioned (e.g. `strategies`)."""
    materialized = list(rows)
    _upsert(conn, table, materialized)
    return len(materialized)
