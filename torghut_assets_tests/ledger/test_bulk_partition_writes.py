"""A large partition (PostgreSQL: COPY into staging + one merge) stores exactly what the row-wise
upsert stores, keeps upsert semantics on a re-run, and rolls back with the caller's transaction."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from torghut_assets.ledger import schema
from torghut_assets.ledger.identity import row_id
from torghut_assets.ledger.writes import COPY_MIN_ROWS, replace_lane_window

WINDOW = pd.Timestamp("2026-03-03 15:00", tz="UTC")
TRICKY_TEXT = ["plain", 'with "quotes", commas', "line\nbreak", "\\N", "", "ünïcødé"]


def _row(i: int) -> dict[str, Any]:
    return {
        "id": row_id("research_stress_metrics", f"cand-{i}", "spread"),
        "lane": "macd_rsi",
        "window_start": WINDOW,
        "candidate_id": f"cand-{i}",
        "stress_case": TRICKY_TEXT[i % len(TRICKY_TEXT)] or "spread",
        "metric_bundle": None
        if i % 7 == 0
        else {"note": TRICKY_TEXT[i % len(TRICKY_TEXT)], "i": i, "ok": i % 2 == 0},
        "pessimistic_pnl_delta": None if i % 5 == 0 else -i / 3.0,
        "created_at": WINDOW + pd.Timedelta(seconds=i),
    }


def _stored(engine: Engine) -> list[tuple[Any, ...]]:
    t = schema.research_stress_metrics
    with engine.connect() as conn:
        query = sa.select(
            t.c.id,
            t.c.candidate_id,
            t.c.stress_case,
            t.c.metric_bundle,
            t.c.pessimistic_pnl_delta,
            t.c.created_at,
        ).order_by(t.c.candidate_id)
        return [tuple(r) for r in conn.execute(query)]


def _write(engine: Engine, rows: list[dict[str, Any]]) -> None:
    with engine.begin() as conn:
        replace_lane_window(conn, schema.research_stress_metrics, "macd_rsi", WINDOW, rows)


def test_a_bulk_partition_stores_every_value_as_written(ledger_engine: Engine) -> None:
    rows = [_row(i) for i in range(COPY_MIN_ROWS + 5)]
    _write(ledger_engine, rows)
    stored = {r[1]: r for r in _stored(ledger_engine)}
    assert len(stored) == len(rows)
    for row in rows:
        got = stored[row["candidate_id"]]
        assert got[2] == row["stress_case"]
        assert got[3] == row["metric_bundle"]
        expected_delta = row["pessimistic_pnl_delta"]
        assert got[4] == (None if expected_delta is None else pytest.approx(expected_delta))
        assert pd.Timestamp(got[5]).tz_localize(None) == row["created_at"].tz_localize(None)


def test_a_bulk_rerun_updates_in_place_and_drops_what_is_no_longer_produced(ledger_engine: Engine) -> None:
    _write(ledger_engine, [_row(i) for i in range(COPY_MIN_ROWS + 5)])
    changed = [{**_row(i), "pessimistic_pnl_delta": 1.5} for i in range(1, COPY_MIN_ROWS + 1)]
    _write(ledger_engine, changed)
    stored = _stored(ledger_engine)
    assert len(stored) == COPY_MIN_ROWS
    assert {r[4] for r in stored} == {1.5}


def test_a_failed_transaction_leaves_no_bulk_rows(ledger_engine: Engine) -> None:
    with pytest.raises(RuntimeError, match="fails after the write"), ledger_engine.begin() as conn:
        replace_lane_window(
            conn, schema.research_stress_metrics, "macd_rsi", WINDOW, [_row(i) for i in range(COPY_MIN_ROWS)]
        )
        raise RuntimeError("the asset fails after the write")
    assert _stored(ledger_engine) == []


def test_two_bulk_tables_in_one_transaction_do_not_share_staging(ledger_engine: Engine) -> None:
    fold = schema.research_fold_metrics
    with ledger_engine.begin() as conn:
        replace_lane_window(
            conn, schema.research_stress_metrics, "macd_rsi", WINDOW, [_row(i) for i in range(COPY_MIN_ROWS)]
        )
        replace_lane_window(
            conn,
            fold,
            "macd_rsi",
            WINDOW,
            [
                {
                    "id": row_id("research_fold_metrics", f"cand-{i}", "fold_1"),
                    "lane": "macd_rsi",
                    "window_start": WINDOW,
                    "candidate_id": f"cand-{i}",
                    "fold_name": "fold_1",
                    "fold_order": 1,
                    "train_start": WINDOW,
                    "train_end": WINDOW,
                    "test_start": WINDOW,
                    "test_end": WINDOW,
                    "created_at": WINDOW,
                }
                for i in range(COPY_MIN_ROWS)
            ],
        )
    with ledger_engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(fold)).scalar_one() == COPY_MIN_ROWS
    assert len(_stored(ledger_engine)) == COPY_MIN_ROWS
