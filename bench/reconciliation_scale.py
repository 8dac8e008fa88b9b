"""Nightly reconciliation at scale: the project's set-based checks vs one hand-written anti-join per link.

Ledger: R runs with their full chain (candidate, 3 folds, 4 stress cases, promotion) and 10 R
executions with decisions and TCA, on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import sqlalchemy as sa

from bench import ledger_data
from bench.ledger_db import BACKENDS, EXECUTIONS, drop_state_ledger, loaded_ledger
from torghut_assets.ledger import reconciliation as rec
from torghut_assets.ledger.engine import create_ledger_engine

NAME = "Nightly reconciliation"
BASELINE = "one hand-written SQL anti-join per link"
TARGET = "≤ 1.5× the SQL floor, linear growth"
TARGET_RATIO = 1.5
BACKEND_NAMES = BACKENDS
SIZE_UNIT = "executions"  # the size key growth is measured in (None: one size)
cleanup = drop_state_ledger

FLOOR = [
    "SELECT r.run_id FROM research_runs r WHERE r.status <> 'skipped' AND NOT EXISTS "
    "(SELECT 1 FROM research_candidates c WHERE c.run_id = r.run_id)",
    "SELECT r.run_id FROM research_runs r WHERE r.status <> 'skipped' AND NOT EXISTS "
    "(SELECT 1 FROM research_promotions p WHERE p.run_id = r.run_id AND p.approver_role = 'autonomous_scheduler')",
    "SELECT c.candidate_id FROM research_candidates c LEFT JOIN (SELECT candidate_id, count(*) n FROM "
    "research_fold_metrics GROUP BY candidate_id) f ON f.candidate_id = c.candidate_id WHERE coalesce(f.n, 0) < 3",
    "SELECT c.candidate_id FROM research_candidates c LEFT JOIN (SELECT candidate_id, count(DISTINCT stress_case) n "
    "FROM research_stress_metrics GROUP BY candidate_id) s ON s.candidate_id = c.candidate_id "
    "WHERE coalesce(s.n, 0) < 4",
    "SELECT c.candidate_id FROM research_candidates c WHERE NOT EXISTS (SELECT 1 FROM research_runs r "
    "WHERE r.run_id = c.run_id)",
    "SELECT f.candidate_id FROM research_fold_metrics f WHERE NOT EXISTS (SELECT 1 FROM research_candidates c "
    "WHERE c.candidate_id = f.candidate_id)",
    "SELECT s.candidate_id FROM research_stress_metrics s WHERE NOT EXISTS (SELECT 1 FROM research_candidates c "
    "WHERE c.candidate_id = s.candidate_id)",
    "SELECT p.run_id FROM research_promotions p WHERE NOT EXISTS (SELECT 1 FROM research_runs r "
    "WHERE r.run_id = p.run_id)",
    "SELECT e.client_order_id FROM executions e WHERE NOT EXISTS (SELECT 1 FROM trade_decisions d "
    "WHERE d.id = e.trade_decision_id)",
    "SELECT e.client_order_id FROM executions e WHERE e.execution_actual_adapter IN ('unknown', '')",
]


def sizes(scale: str) -> list[dict[str, Any]]:
    return [{"executions": n, "runs": n // 10} for n in EXECUTIONS[scale]]


def size_label(size: dict[str, Any]) -> str:
    return f"{size['executions']:,} executions, {size['runs']:,} runs"


def prepare(size: dict[str, Any], backend: str, cache: Path) -> dict[str, Any]:
    frames = ledger_data.research_chain(size["runs"])
    frames.update(ledger_data.trading(size["executions"], hours=max(1, size["runs"] // 2)))
    url = loaded_ledger(backend, frames)
    since = ledger_data.START.to_pydatetime()
    until = (ledger_data.START + pd.Timedelta(hours=size["runs"] // 2 + 1)).to_pydatetime()
    return {"url": url, "since": since, "until": until}


def project(state: dict[str, Any]) -> Callable[[], dict[str, Any]]:
    engine = create_ledger_engine(state["url"])

    def run() -> dict[str, Any]:
        with engine.connect() as conn:
            findings = [
                rec.research_chain(conn, state["since"], state["until"]),
                rec.orphans(conn, state["since"], state["until"]),
                rec.route_provenance(conn, state["since"], state["until"]),
            ]
        return {f.check: (f.passed, f.failing) for f in findings}

    return run


def baseline(state: dict[str, Any]) -> Callable[[], int]:
    engine = create_ledger_engine(state["url"])

    def run() -> int:
        with engine.connect() as conn:
            return sum(len(conn.execute(sa.text(q)).fetchall()) for q in FLOOR)

    return run


def compare(project_result: dict[str, Any], baseline_result: int) -> tuple[bool, str]:
    failing = sum(int(f or 0) for _p, f in project_result.values())
    agree = failing == baseline_result == 0 and all(p for p, _f in project_result.values())
    return agree, f"both find {baseline_result} broken links; checks {sorted(project_result)} pass"
