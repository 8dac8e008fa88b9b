"""Ledger ingest: the project's partition write (`replace_lane_window`, what the signals and executions
assets call, inside one transaction) vs PostgreSQL COPY of the same rows (rendered to CSV and copied).

PostgreSQL only: COPY is the floor the target is stated against. Both sides start from an empty
partition in their own fresh database; rows are built before timing (the same list for both sides).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from bench import ledger_data
from bench.datagen import minute_signals
from bench.ledger_db import create_ledger, drop_ledger
from torghut_assets.domain.lanes import LaneWindow
from torghut_assets.ledger import schema
from torghut_assets.ledger.engine import create_ledger_engine
from torghut_assets.ledger.records import signal_rows
from torghut_assets.ledger.writes import replace_lane_window, to_native

NAME = "Ledger ingest"
BASELINE = "PostgreSQL COPY of the same rows"
TARGET = "≥ 50 % of COPY rows/s (≤ 2.0× COPY time)"
TARGET_RATIO = 2.0
BACKEND_NAMES = ("postgresql",)
SIZE_UNIT = "rows"  # the size key growth is measured in (None: one size)
REPEATS = 1
LANE = "macd_rsi"


def sizes(scale: str) -> list[dict[str, Any]]:
    counts = (10_000, 20_000, 40_000) if scale == "quick" else (100_000, 200_000, 400_000)
    return [{"rows": n} for n in counts]


def size_label(size: dict[str, Any]) -> str:
    return f"{size['rows']:,} signals + {size['rows']:,} executions"


def _rows(
    size: dict[str, Any],
) -> tuple[LaneWindow, list[dict[str, Any]], list[dict[str, Any]], dict[str, Any]]:
    window = LaneWindow(LANE, ledger_data.START)
    sessions = max(1, -(-size["rows"] // (20 * 390)))
    frame = minute_signals(20, sessions).head(size["rows"])
    signals = signal_rows(window, frame)
    trading = ledger_data.trading(size["rows"] * 2, hours=1)
    executions = trading["executions"]
    executions = executions[executions["lane"] == LANE].head(size["rows"])
    execution_rows = [
        {
            k: to_native(v.to_pydatetime() if isinstance(v, pd.Timestamp) else v)
            for k, v in row.items()
            if v is not None
        }
        for row in executions.astype(object).where(executions.notna(), None).to_dict(orient="records")
    ]
    parents = {k: trading[k] for k in ("strategies", "trade_decisions")}
    return window, signals, execution_rows, parents


def prepare(size: dict[str, Any], backend: str, cache: Path) -> dict[str, Any]:
    urls = {}
    for side in ("project", "baseline"):
        urls[side] = create_ledger(backend)
        engine = create_ledger_engine(urls[side])
        try:
            ledger_data.load(engine, _rows(size)[3])
        finally:
            engine.dispose()
    return {**size, "urls": urls}


def cleanup(state: dict[str, Any]) -> None:
    for url in state["urls"].values():
        drop_ledger(url)


def project(state: dict[str, Any]) -> Callable[[], int]:
    window, signals, executions, _ = _rows(state)
    engine = create_ledger_engine(state["urls"]["project"])

    def run() -> int:
        with engine.begin() as conn:
            written = replace_lane_window(conn, schema.signals, LANE, window.start.to_pydatetime(), signals)
            written += replace_lane_window(
                conn, schema.executions, LANE, window.start.to_pydatetime(), executions
            )
        return written

    return run


def _copy(cursor: Any, table: str, rows: list[dict[str, Any]]) -> None:
    columns = sorted({k for row in rows for k in row})
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for row in rows:
        writer.writerow(["" if row.get(c) is None else to_native(row[c]) for c in columns])
    buffer.seek(0)
    cursor.copy_expert(f"COPY {table} ({', '.join(columns)}) FROM STDIN WITH (FORMAT csv)", buffer)


def baseline(state: dict[str, Any]) -> Callable[[], int]:
    _, signals, executions, _ = _rows(state)
    engine = create_ledger_engine(state["urls"]["baseline"])

    def run() -> int:
        raw = engine.raw_connection()
        try:
            cursor = raw.cursor()
            _copy(cursor, "signals", signals)
            _copy(cursor, "executions", executions)
            raw.commit()
        finally:
            raw.close()
        return len(signals) + len(executions)

    return run


def compare(project_result: int, baseline_result: int) -> tuple[bool, str]:
    return project_result == baseline_result, f"{project_result:,} rows written by each side"
