"""Partition writes replace a lane window's rows exactly, inside one transaction."""

from __future__ import annotations

import math

import pandas as pd
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from torghut_assets.ledger import schema
from torghut_assets.ledger.identity import row_id
from torghut_assets.ledger.writes import replace_lane_window, to_native

WINDOW = pd.Timestamp("2026-03-03 15:00", tz="UTC")


def _stress_row(candidate: str, case: str, delta: float, window: pd.Timestamp = WINDOW) -> dict[str, object]:
    return {
        "id": row_id("research_stress_metrics", candidate, case),
        "lane": "macd_rsi",
        "window_start": window,
        "candidate_id": candidate,
        "stress_case": case,
        "metric_bundle": {"case": case, "net_pnl": delta},
        "pessimistic_pnl_delta": delta,
        "created_at": window + pd.Timedelta(hours=1),
    }


def _rows(engine: Engine) -> list[tuple[str, float]]:
    table = schema.research_stress_metrics
    with engine.connect() as conn:
        query = sa.select(table.c.stress_case, table.c.pessimistic_pnl_delta).order_by(table.c.stress_case)
        return [(r[0], r[1]) for r in conn.execute(query)]


def test_writing_the_same_rows_twice_stores_them_once(ledger_engine: Engine) -> None:
    rows = [_stress_row("cand-a", "spread", -3.5), _stress_row("cand-a", "halt", -1.0)]
    for _ in range(2):
        with ledger_engine.begin() as conn:
            replace_lane_window(conn, schema.research_stress_metrics, "macd_rsi", WINDOW, rows)
    assert _rows(ledger_engine) == [("halt", -1.0), ("spread", -3.5)]


def test_rows_no_longer_produced_are_deleted(ledger_engine: Engine) -> None:
    with ledger_engine.begin() as conn:
        replace_lane_window(
            conn,
            schema.research_stress_metrics,
            "macd_rsi",
            WINDOW,
            [_stress_row("cand-a", "spread", -3.5), _stress_row("cand-a", "halt", -1.0)],
        )
    with ledger_engine.begin() as conn:
        replace_lane_window(
            conn, schema.research_stress_metrics, "macd_rsi", WINDOW, [_stress_row("cand-a", "spread", -4.0)]
        )
    assert _rows(ledger_engine) == [("spread", -4.0)]


def test_other_windows_are_untouched(ledger_engine: Engine) -> None:
    later = WINDOW + pd.Timedelta(hours=1)
    with ledger_engine.begin() as conn:
        replace_lane_window(
            conn,
            schema.research_stress_metrics,
            "macd_rsi",
            later,
            [_stress_row("cand-b", "spread", -2.0, later)],
        )
        replace_lane_window(conn, schema.research_stress_metrics, "macd_rsi", WINDOW, [])
    assert _rows(ledger_engine) == [("spread", -2.0)]


def test_a_row_outside_the_partition_is_refused_and_nothing_is_written(ledger_engine: Engine) -> None:
    stray = _stress_row("cand-c", "spread", -1.0, WINDOW + pd.Timedelta(hours=2))
    with pytest.raises(ValueError, match="outside partition"), ledger_engine.begin() as conn:
        replace_lane_window(
            conn,
            schema.research_stress_metrics,
            "macd_rsi",
            WINDOW,
            [_stress_row("cand-c", "halt", -1.0), stray],
        )
    assert _rows(ledger_engine) == []


def test_a_failing_write_rolls_back_the_whole_partition(ledger_engine: Engine) -> None:
    with ledger_engine.begin() as conn:
        replace_lane_window(
            conn, schema.research_stress_metrics, "macd_rsi", WINDOW, [_stress_row("cand-a", "spread", -3.5)]
        )
    broken = {**_stress_row("cand-a", "liquidity", -9.9), "stress_case": None}
    with pytest.raises(sa.exc.IntegrityError), ledger_engine.begin() as conn:
        replace_lane_window(
            conn,
            schema.research_stress_metrics,
            "macd_rsi",
            WINDOW,
            [_stress_row("cand-a", "halt", -1.0), broken],
        )
    assert _rows(ledger_engine) == [("spread", -3.5)]


def test_non_finite_numbers_are_stored_as_null() -> None:
    assert to_native(math.nan) is None
    assert to_native(float("inf")) is None


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="naive datetime"):
        to_native(pd.Timestamp("2026-03-03 15:00"))
