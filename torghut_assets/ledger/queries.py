"""Reads the Dagster layer needs; each returns plain rows or frames, never ORM state."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from torghut_assets.domain.signal_frame import SIGNAL_COLUMNS, UTC_TS
from torghut_assets.ledger import schema
from torghut_assets.ledger.writes import to_native


def as_utc(value: Any) -> pd.Timestamp | None:
    """SQLite returns naive datetimes (it stores UTC without an offset); PostgreSQL returns aware ones."""
    if value is None:
        return None
    ts = pd.Timestamp(value)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def _window_filter(table: sa.Table, lane: str, window_start: dt.datetime) -> sa.ColumnElement[bool]:
    column = table.c[schema.LANE_WINDOW_TABLES[table.name]]
    return sa.and_(table.c.lane == lane, column == to_native(window_start))


def _aware(value: Any) -> Any:
    if isinstance(value, dt.datetime) and value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value


def window_rows(
    conn: Connection, table: sa.Table, lane: str, window_start: dt.datetime
) -> list[dict[str, Any]]:
    """Rows of one lane window as both backends should agree: datetimes UTC-aware, numerics as floats
    (SQLite's NUMERIC affinity hands back 0.0 as the integer 0)."""
    result = conn.execute(
        sa.select(table).where(_window_filter(table, lane, window_start)).order_by(table.c.id)
    )
    numeric = {c.name for c in table.columns if isinstance(c.type, sa.Numeric | sa.Float)}
    return [
        {k: (float(v) if k in numeric and v is not None else _aware(v)) for k, v in row._mapping.items()}
        for row in result
    ]


def window_count(conn: Connection, table: sa.Table, lane: str, window_start: dt.datetime) -> int:
    query = sa.select(sa.func.count()).select_from(table).where(_window_filter(table, lane, window_start))
    return int(conn.execute(query).scalar_one())


def window_signals(conn: Connection, lane: str, window_start: dt.datetime) -> pd.DataFrame:
    table = schema.signals
    query = sa.select(*[table.c[c] for c in SIGNAL_COLUMNS]).where(_window_filter(table, lane, window_start))
    frame = pd.DataFrame(conn.execute(query).fetchall(), columns=list(SIGNAL_COLUMNS))
    for col in ("event_ts", "ingest_ts"):
        frame[col] = pd.to_datetime(frame[col], utc=True).astype(UTC_TS)
    for col in ("seq", "is_final", "version", "volume"):
        frame[col] = frame[col].astype("int64")
    for col in ("imbalance_bid_sz", "imbalance_ask_sz"):
        frame[col] = frame[col].astype("Int64")
    for col in ("symbol", "source", "window_size"):
        frame[col] = frame[col].astype(str)
    float_cols = [
        c for c in SIGNAL_COLUMNS if frame[c].dtype == object and c not in ("symbol", "source", "window_size")
    ]
    for col in float_cols:
        frame[col] = pd.to_numeric(frame[col]).astype("float64")
    return frame.sort_values(["event_ts", "symbol", "seq"], kind="mergesort").reset_index(drop=True)


def session_signed_position(
    conn: Connection, lane: str, symbols: list[str], since: dt.datetime, before: dt.datetime
) -> dict[str, float]:
    """Σ signed filled qty of the lane's executions in [since, before): the churn baseline of TCA
    (docs/routing.md)."""
    table = schema.executions
    signed = sa.case((table.c.side == "buy", table.c.filled_qty), else_=-table.c.filled_qty)
    query = (
        sa.select(table.c.symbol, sa.func.sum(signed))
        .where(
            table.c.lane == lane,
            table.c.symbol.in_(symbols),
            table.c.created_at >= to_native(since),
            table.c.created_at < to_native(before),
        )
        .group_by(table.c.symbol)
    )
    return {str(sym): float(total or 0.0) for sym, total in conn.execute(query)}
