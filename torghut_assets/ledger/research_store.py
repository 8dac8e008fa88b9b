"""Research-table statements beyond a lane window's partition writes: a champion's parameter set, the
window's run row (read under a lock, marked failed after a research step raised), the window's chain
partitions cleared when a new run opens, and the window's own promotion requests, which are appended,
never rewritten.

Why here: the research use cases decide what a run's status becomes and what the window requests; only
the ledger says how the rows are found, locked and written, so the statements stay in one
dialect-neutral place.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from torghut_assets.domain.evidence import canonical_value
from torghut_assets.domain.promotion import APPROVER_ROLE as SCHEDULER_ROLE
from torghut_assets.ledger import queries, schema
from torghut_assets.ledger.audit_rules import require_auditable
from torghut_assets.ledger.research_records import request_row_id
from torghut_assets.ledger.writes import insert_rows, replace_lane_window, to_native

Row = dict[str, Any]
RUNNING = "running"
FAILED = "failed"


def candidate_parameter_set(conn: Connection, candidate_id: str) -> tuple[Any] | None:
    """The stored parameter set of a candidate, as a one-element tuple; None when no such row exists
    (the parameter set itself may be null, which is not the same as a missing candidate)."""
    candidates = schema.research_candidates
    row = conn.execute(
        sa.select(candidates.c.parameter_set).where(candidates.c.candidate_id == candidate_id)
    ).first()
    return None if row is None else (row[0],)


def window_run(conn: Connection, lane: str, window_start: dt.datetime, *, lock: bool = False) -> Row | None:
    """The window's run row, or None. `lock`: hold it until commit (PostgreSQL `FOR UPDATE`; SQLite's
    writer already holds the database), so two runs of one window open and commit one after the other."""
    runs = schema.research_runs
    query = sa.select(runs.c.id).where(runs.c.lane == lane, runs.c.window_start == to_native(window_start))
    if lock:
        query = query.with_for_update()
    if conn.execute(query).first() is None:
        return None
    return queries.window_rows(conn, runs, lane, window_start)[0]


def clear_partitions(
    conn: Connection, lane: str, window_start: dt.datetime, tables: tuple[sa.Table, ...]
) -> list[sa.Table]:
    """Remove the window's rows from each of `tables`; the tables that held rows (whose now empty
    partitions the caller chains)."""
    cleared = [t for t in tables if queries.window_count(conn, t, lane, window_start)]
    for table in cleared:
        replace_lane_window(conn, table, lane, window_start, [])
    return cleared


def fail_running_runs(conn: Connection, lane: str, window_start: dt.datetime, error: str) -> list[str]:
    """Mark the window's `running` research runs `failed` with `error`; their run ids, for the chain."""
    runs = schema.research_runs
    in_window = (
        runs.c.lane == lane,
        runs.c.window_start == to_native(window_start),
        runs.c.status == RUNNING,
    )
    failed = [str(run_id) for (run_id,) in conn.execute(sa.select(runs.c.run_id).where(*in_window))]
    conn.execute(runs.update().where(*in_window).values(status=FAILED, error=error))
    return failed


# --- the window's own promotion requests (append-only) ------------------------------------------------

# Ledger bookkeeping of a request row, not what was requested.
_REQUEST_BOOKKEEPING = frozenset({"id", "revision"})


def window_requests(conn: Connection, lane: str, window_start: dt.datetime) -> list[Row]:
    """The window's own promotion requests, oldest revision first (the last is the current request)."""
    rows = queries.window_rows(conn, schema.research_promotions, lane, window_start)
    own = [r for r in rows if r["approver_role"] == SCHEDULER_ROLE]
    return sorted(own, key=lambda r: int(r["revision"]))


def current_request(conn: Connection, lane: str, window_start: dt.datetime) -> Row | None:
    """The window's current promotion request: its latest revision (None when it never requested)."""
    requests = window_requests(conn, lane, window_start)
    return requests[-1] if requests else None


def _requested(row: Mapping[str, Any]) -> Any:
    return canonical_value({k: to_native(v) for k, v in row.items() if k not in _REQUEST_BOOKKEEPING})


def append_request(conn: Connection, row: Mapping[str, Any]) -> tuple[Row, bool]:
    """Append the window's promotion request as its next revision, unless the current request already
    requests exactly this (then nothing is written). Returns the current request and whether it was
    appended. Nothing is ever updated or deleted: earlier revisions stay as the window's history."""
    lane, start = str(row["lane"]), row["window_start"]
    current = current_request(conn, lane, to_native(start))
    if current is not None and _requested({k: current.get(k) for k in row}) == _requested(row):
        return current, False
    revision = 1 if current is None else int(current["revision"]) + 1
    appended = {**row, "revision": revision, "id": request_row_id(str(row["run_id"]), revision)}
    require_auditable(schema.research_promotions.name, [appended])  # UnauditableRow: nothing is written
    insert_rows(conn, schema.research_promotions, [appended])
    return appended, True
