"""Nightly reconciliation queries: set-based SQL (anti-joins, grouped counts) over the ledger.

Each check returns a `Finding`; a check that finds nothing to examine fails too (a missing report is not
"flat"), which is how a check proves its producer ran, or, where an empty lookback can be honest (no
executions on a quiet day), is a warning naming why (`nothing_to_compare`): never a pass. Queries run on
SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from torghut_assets.domain.stress import STRESS_CASES
from torghut_assets.ledger import audit_rules, schema, table_contracts
from torghut_assets.ledger.artifacts import ArtifactStore
from torghut_assets.ledger.queries import as_utc
from torghut_assets.ledger.writes import to_native

MAX_KEYS = 20
MIN_FOLDS = 3
SCHEDULER_ROLE = "autonomous_scheduler"
AUDIT_CHECK = "audit_rows_complete"


@dataclass(frozen=True)
class Finding:
    check: str
    passed: bool
    examined: int
    failing: int
    keys: tuple[str, ...] = ()
    severity: str = "ERROR"
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def verdict(self) -> str:
        """`pass`, `warn` (not passed, severity WARN: a warning, never paged) or `fail`."""
        if self.passed:
            return "pass"
        return "warn" if self.severity == "WARN" else "fail"

    def as_dict(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "verdict": self.verdict,
            "passed": self.passed,
            "examined": self.examined,
            "failing": self.failing,
            "keys": list(self.keys),
            "severity": self.severity,
            "detail": self.detail,
        }


def finding_from(
    check: str, examined: int, failing: Sequence[str], severity: str = "ERROR", **detail: Any
) -> Finding:
    passed = examined > 0 and not failing
    if examined == 0:
        detail.setdefault("problem", "nothing to examine: the producer did not run in the lookback")
    return Finding(check, passed, examined, len(failing), tuple(failing[:MAX_KEYS]), severity, detail)


def nothing_to_compare(check: str, reason: str, examined: int = 0, **detail: Any) -> Finding:
    """A check that had nothing to compare (an empty lookback, a venue that cannot be read or listed):
    a warning whose key is the reason. Not passed, so the UI shows a warning and the report is not ok;
    severity WARN, so it pages nobody and blocks nothing. Unknown is never reported as fine."""
    return Finding(check, False, examined, 0, (reason,), "WARN", {"warning": reason, **detail})


def _in_lookback(table: sa.Table, since: dt.datetime, until: dt.datetime) -> sa.ColumnElement[bool]:
    column = table.c[schema.LANE_WINDOW_TABLES[table.name]]
    return sa.and_(column >= to_native(since), column < to_native(until))


def _count_if(condition: sa.ColumnElement[bool]) -> sa.ColumnElement[int]:
    return sa.func.coalesce(sa.func.sum(sa.case((condition, 1), else_=0)), 0)


def window_coverage(
    conn: Connection, expected: Sequence[tuple[str, dt.datetime]], since: dt.datetime, until: dt.datetime
) -> Finding:
    """Every expected lane window has a research run (normal, or skipped with its reason)."""
    runs = schema.research_runs
    present = {
        (lane, as_utc(start))
        for lane, start in conn.execute(
            sa.select(runs.c.lane, runs.c.window_start).where(_in_lookback(runs, since, until))
        )
    }
    missing = [
        f"{lane}/{start.isoformat()}" for lane, start in expected if (lane, as_utc(start)) not in present
    ]
    return finding_from("window_run_coverage", len(expected), missing, severity="WARN")


def first_window_by_lane(conn: Connection) -> dict[str, pd.Timestamp]:
    """The earliest window each lane has a research run for: where the lane's ledger history begins."""
    runs = schema.research_runs
    rows = conn.execute(sa.select(runs.c.lane, sa.func.min(runs.c.window_start)).group_by(runs.c.lane))
    firsts = {lane: as_utc(start) for lane, start in rows}
    return {lane: start for lane, start in firsts.items() if start is not None}


def research_chain(conn: Connection, since: dt.datetime, until: dt.datetime) -> Finding:
    """Normal runs have candidates, ≥ MIN_FOLDS folds and every stress case per candidate, and a promotion."""
    runs, cands = schema.research_runs, schema.research_candidates
    folds, stress, promos = (
        schema.research_fold_metrics,
        schema.research_stress_metrics,
        schema.research_promotions,
    )
    window = _in_lookback(runs, since, until)
    normal = sa.and_(window, runs.c.status != "skipped")
    failing: list[str] = []
    no_candidates = sa.select(runs.c.run_id).where(
        normal, ~sa.exists().where(cands.c.run_id == runs.c.run_id)
    )
    failing += [f"run {r}: no candidates" for r in conn.execute(no_candidates).scalars()]
    no_promotion = sa.select(runs.c.run_id).where(
        normal,
        ~sa.exists().where(promos.c.run_id == runs.c.run_id, promos.c.approver_role == SCHEDULER_ROLE),
    )
    failing += [f"run {r}: no promotion row" for r in conn.execute(no_promotion).scalars()]
    fold_counts = (
        sa.select(folds.c.candidate_id, sa.func.count().label("n")).group_by(folds.c.candidate_id).subquery()
    )
    stress_counts = (
        sa.select(stress.c.candidate_id, sa.func.count(sa.distinct(stress.c.stress_case)).label("n"))
        .where(stress.c.stress_case.in_(STRESS_CASES))
        .group_by(stress.c.candidate_id)
        .subquery()
    )
    short = sa.func.coalesce(fold_counts.c.n, 0) < MIN_FOLDS
    incomplete = sa.func.coalesce(stress_counts.c.n, 0) < len(STRESS_CASES)
    candidate_chain = (
        cands.join(runs, runs.c.run_id == cands.c.run_id)
        .outerjoin(fold_counts, fold_counts.c.candidate_id == cands.c.candidate_id)
        .outerjoin(stress_counts, stress_counts.c.candidate_id == cands.c.candidate_id)
    )
    # One pass over the window's candidates counts them and their gaps; names are fetched only for gaps.
    candidates, short_n, incomplete_n = conn.execute(
        sa.select(sa.func.count(), _count_if(short), _count_if(incomplete))
        .select_from(candidate_chain)
        .where(normal)
    ).one()
    if short_n or incomplete_n:
        for cand, is_short, is_incomplete in conn.execute(
            sa.select(cands.c.candidate_id, short, incomplete)
            .select_from(candidate_chain)
            .where(normal, sa.or_(short, incomplete))
        ):
            failing += [f"candidate {cand}: fewer than {MIN_FOLDS} folds"] if is_short else []
            failing += [f"candidate {cand}: missing stress cases"] if is_incomplete else []
    unexplained = sa.and_(runs.c.status == "skipped", runs.c.no_signal_reason.is_(None))
    examined, unexplained_n = conn.execute(
        sa.select(sa.func.count(), _count_if(unexplained)).where(window)
    ).one()
    if unexplained_n:
        skipped = sa.select(runs.c.run_id).where(window, unexplained)
        failing += [f"run {r}: skipped without reason" for r in conn.execute(skipped).scalars()]
    return finding_from("research_chain_complete", int(examined), failing, candidates=int(candidates))


def _reconciled_links() -> list[tuple[sa.Table, sa.Column[Any], sa.Column[Any], sa.Column[Any], str]]:
    """(child, its key to report, its reference, the parent's unique column, link name) per reconciled
    reference of the table contracts, in contract order."""
    tables = schema.metadata.tables
    return [
        (
            tables[link.table],
            tables[link.table].c[link.label_column],
            tables[link.table].c[link.column],
            tables[link.target_table].c[link.target_column],
            link.name,
        )
        for link in table_contracts.reconciled_links()
    ]


def orphans(conn: Connection, since: dt.datetime, until: dt.datetime) -> Finding:
    """Every logical foreign key the table contracts mark `reconciled` resolves (candidates→runs,
    folds/stress→candidates, promotions→runs, executions→decisions: `table_contracts.reconciled_links`)."""
    failing: list[str] = []
    examined = 0
    for child, key, reference, parent_key, link in _reconciled_links():
        window = _in_lookback(child, since, until)
        # One scan per link counts both what was examined and what dangles (a hash join, as the
        # hand-written anti-join floor is); keys are listed only when something dangles.
        seen, dangling = conn.execute(
            sa.select(sa.func.count(), _count_if(parent_key.is_(None)))
            .select_from(child.outerjoin(parent_key.table, parent_key == reference))
            .where(window)
        ).one()
        examined += int(seen)
        if dangling:
            orphaned = ~sa.exists().where(parent_key == reference)
            failing += [
                f"{link}: {k}" for k in conn.execute(sa.select(key).where(window, orphaned)).scalars()
            ]
    return finding_from("foreign_keys_resolve", examined, failing)


def artifacts(conn: Connection, since: dt.datetime, until: dt.datetime) -> Finding:
    """Every artifact a run references exists and its bytes still hash to the recorded sha256."""
    runs = schema.research_runs
    refs: list[dict[str, Any]] = []
    for run_id, artifact_refs in conn.execute(
        sa.select(runs.c.run_id, runs.c.artifact_refs).where(_in_lookback(runs, since, until))
    ):
        refs += [{**ref, "run_id": run_id} for ref in artifact_refs or []]
    failing = [f"run {r['run_id']}: {r['kind']} {r['path']}" for r in refs if not ArtifactStore.verify(r)]
    return finding_from("artifacts_verify", len(refs), failing)


def route_provenance(conn: Connection, since: dt.datetime, until: dt.datetime) -> Finding:
    """Every execution says where it was meant to go and where it went (unknown is not an answer)."""
    table = schema.executions
    window = _in_lookback(table, since, until)
    bad = sa.or_(
        table.c.execution_expected_adapter.is_(None),
        table.c.execution_actual_adapter.is_(None),
        table.c.execution_expected_adapter.in_(("unknown", "")),
        table.c.execution_actual_adapter.in_(("unknown", "")),
        sa.and_(
            table.c.execution_expected_adapter != table.c.execution_actual_adapter,
            table.c.execution_fallback_count < 1,
        ),
    )
    seen, bad_rows = conn.execute(sa.select(sa.func.count(), _count_if(bad)).where(window)).one()
    if seen == 0:
        return nothing_to_compare(
            "execution_route_provenance", "no executions in the lookback: no route to check"
        )
    failing = (
        list(conn.execute(sa.select(table.c.client_order_id).where(window, bad)).scalars())
        if bad_rows
        else []
    )
    return Finding(
        "execution_route_provenance",
        not failing,
        int(seen),
        len(failing),
        tuple(str(k) for k in failing[:MAX_KEYS]),
        "ERROR",
    )


def audit_rows(conn: Connection, since: dt.datetime, until: dt.datetime) -> Finding:
    """Every promotion decision, research run, gate evaluation and rollback/halt incident of the
    lookback carries what makes it auditable (`table_contracts.audit_rules`); each broken rule is one
    key naming the row. No such row at all is a warning, not a pass."""
    examined, failing = audit_rules.unauditable_rows(conn, since, until)
    total = sum(examined.values())
    if total == 0:
        return nothing_to_compare(
            AUDIT_CHECK,
            "no research run, promotion, gate evaluation or incident in the lookback: nothing to audit",
            examined_by_table=examined,
        )
    return finding_from(AUDIT_CHECK, total, failing, examined_by_table=examined)


def row_floors(
    conn: Connection,
    lanes: Sequence[str],
    open_windows: Sequence[tuple[str, dt.datetime]],
    since: dt.datetime,
    until: dt.datetime,
) -> Finding:
    """A lane with no research run in the lookback, or with market-hours windows but zero stored signals,
    is broken: the check proves its producers ran rather than passing on an empty ledger."""
    signals, runs = schema.signals, schema.research_runs
    signal_counts: dict[str, int] = dict(
        conn.execute(
            sa.select(signals.c.lane, sa.func.count())
            .where(_in_lookback(signals, since, until))
            .group_by(signals.c.lane)
        ).all()
    )
    run_counts: dict[str, int] = dict(
        conn.execute(
            sa.select(runs.c.lane, sa.func.count())
            .where(_in_lookback(runs, since, until))
            .group_by(runs.c.lane)
        ).all()
    )
    failing = [f"lane {lane}: no research run in the lookback" for lane in lanes if not run_counts.get(lane)]
    open_lanes = sorted({lane for lane, _ in open_windows})
    failing += [
        f"lane {lane}: 0 signals over its market-hours windows"
        for lane in open_lanes
        if not signal_counts.get(lane)
    ]
    return finding_from(
        "row_count_floors", len(lanes), failing, signals_by_lane=signal_counts, runs_by_lane=run_counts
    )


def window_status(conn: Connection, since: dt.datetime, until: dt.datetime) -> list[dict[str, Any]]:
    """Per lane window: run status, reason and research row counts, for the report."""
    runs, cands = schema.research_runs, schema.research_candidates
    candidate_counts = (
        sa.select(cands.c.run_id, sa.func.count().label("n")).group_by(cands.c.run_id).subquery()
    )
    query = (
        sa.select(
            runs.c.lane,
            runs.c.window_start,
            runs.c.run_id,
            runs.c.status,
            runs.c.no_signal_reason,
            sa.func.coalesce(candidate_counts.c.n, 0),
        )
        .outerjoin(candidate_counts, candidate_counts.c.run_id == runs.c.run_id)
        .where(_in_lookback(runs, since, until))
        .order_by(runs.c.lane, runs.c.window_start)
    )
    return [
        {
            "lane": lane,
            "window_start": as_utc(start),
            "run_id": run_id,
            "status": status,
            "no_signal_reason": reason,
            "candidates": int(n),
        }
        for lane, start, run_id, status, reason, n in conn.execute(query)
    ]
