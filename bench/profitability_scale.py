"""Runtime profitability over 72 h of executions: `build_payload` (what the `profitability_runtime` asset
computes) vs the floor, one SQL statement aggregating the same rows (decisions, executions by route and
status, shortfall by symbol, closed-trade cash by lane)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import sqlalchemy as sa

from bench import ledger_data
from bench.ledger_db import BACKENDS, EXECUTIONS, drop_state_ledger, loaded_ledger
from torghut_assets.ledger.engine import create_ledger_engine
from torghut_assets.services.profitability import build_payload

NAME = "Profitability 72 h"
BASELINE = "one SQL aggregate query"
TARGET = "≤ 1.2× one SQL aggregate"
TARGET_RATIO = 1.2
BACKEND_NAMES = BACKENDS
SIZE_UNIT = "executions"  # the size key growth is measured in (None: one size)
cleanup = drop_state_ledger
HOURS = 72

FLOOR = """
SELECT 'd', CAST(strategy_id AS VARCHAR(64)), symbol, status, CAST(NULL AS VARCHAR(128)), count(*),
       CAST(count(executed_at) AS FLOAT), CAST(NULL AS FLOAT)
  FROM trade_decisions WHERE created_at >= :start AND created_at < :end GROUP BY strategy_id, symbol, status
UNION ALL
SELECT 'e', execution_expected_adapter, execution_actual_adapter, status, execution_fallback_reason, count(*),
       CAST(sum(execution_fallback_count) AS FLOAT), CAST(NULL AS FLOAT)
  FROM executions WHERE created_at >= :start AND created_at < :end
  GROUP BY execution_expected_adapter, execution_actual_adapter, status, execution_fallback_reason
UNION ALL
SELECT 't', symbol, NULL, NULL, NULL, count(*), CAST(sum(implementation_shortfall_notional) AS FLOAT),
       CAST(max(realized_shortfall_bps) AS FLOAT)
  FROM execution_tca_metrics WHERE computed_at >= :start AND computed_at < :end GROUP BY symbol
UNION ALL
SELECT 'p', lane, symbol, NULL, NULL, count(*),
       CAST(sum(CASE WHEN side = 'buy' THEN filled_qty ELSE -filled_qty END) AS FLOAT),
       CAST(sum(CASE WHEN side = 'buy' THEN -filled_qty ELSE filled_qty END * avg_fill_price - fees) AS FLOAT)
  FROM executions WHERE window_start >= :start AND window_start < :end GROUP BY lane, symbol, window_start
"""


def sizes(scale: str) -> list[dict[str, Any]]:
    return [{"executions": n} for n in EXECUTIONS[scale]]


def size_label(size: dict[str, Any]) -> str:
    return f"{size['executions']:,} executions in {HOURS} h"


def prepare(size: dict[str, Any], backend: str, cache: Path) -> dict[str, Any]:
    url = loaded_ledger(backend, ledger_data.trading(size["executions"], hours=HOURS))
    return {"url": url, "as_of": (ledger_data.START + pd.Timedelta(hours=HOURS)).to_pydatetime()}


def project(state: dict[str, Any]) -> Callable[[], dict[str, Any]]:
    engine = create_ledger_engine(state["url"])

    def run() -> dict[str, Any]:
        with engine.connect() as conn:
            return build_payload(conn, state["as_of"])

    return run


def baseline(state: dict[str, Any]) -> Callable[[], int]:
    engine = create_ledger_engine(state["url"])
    end = state["as_of"]
    start = end - pd.Timedelta(hours=HOURS).to_pytimedelta()

    def run() -> int:
        with engine.connect() as conn:
            return len(conn.execute(sa.text(FLOOR), {"start": start, "end": end}).fetchall())

    return run


def compare(project_result: dict[str, Any], baseline_result: int) -> tuple[bool, str]:
    routes = project_result.get("executions", {}).get("by_adapter", [])
    total = sum(int(r.get("execution_count", 0)) for r in routes) if isinstance(routes, list) else "?"
    return baseline_result > 0, f"report over {total} executions; floor returned {baseline_result} groups"
