"""Research-table statements beyond replacing a lane window's rows: a champion's parameter set, the
run row's lifecycle (passed with its report, failed after a stage raised), and the scheduler's own
promotion rows of a window.

Why here: the research use cases decide what a run's status becomes; only the ledger says how the row
is found and changed, so the statements stay in one dialect-neutral place.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from torghut_assets.domain.promotion import APPROVER_ROLE as SCHEDULER_ROLE
from torghut_assets.ledger import schema
from torghut_assets.ledger.writes import replace_lane_window

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


def update_run(conn: Connection, run_row_id: Any, values: Mapping[str, Any]) -> None:
    """Set these columns of one `research_runs` row (by its primary key)."""
    runs = schema.research_runs
    conn.execute(runs.update().where(runs.c.id == run_row_id).values(**values))


def fail_running_runs(conn: Connection, lane: str, window_start: dt.datetime) -> list[str]:
    """Mark the window's `running` research runs `failed`; their run ids, for the evidence chain."""
    runs = schema.research_runs
    in_window = (runs.c.lane == lane, runs.c.window_start == window_start, runs.c.status == RUNNING)
    failed = [str(run_id) for (run_id,) in conn.execute(sa.select(runs.c.run_id).where(*in_window))]
    conn.execute(runs.update().where(*in_window).values(status=FAILED))
    return failed


def replace_scheduler_promotions(
    conn: Connection, lane: str, window_start: dt.datetime, rows: Iterable[dict[str, Any]]
) -> int:
    """The window's promotion requests made by the scheduler; other approvers' rows (replay denies) stay."""
    promotions = schema.research_promotions
    return replace_lane_window(
        conn,
        promotions,
        lane,
        window_start,
        rows,
        scope=promotions.c.approver_role == SCHEDULER_ROLE,
    )
