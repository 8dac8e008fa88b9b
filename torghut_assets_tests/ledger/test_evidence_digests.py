"""Live verification compares each window's latest partition digest with the rows the window holds now."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pandas as pd
import pytest
from sqlalchemy.engine import Engine

from torghut_assets.ledger import schema
from torghut_assets.ledger.engine import create_ledger_engine
from torghut_assets.ledger.evidence_digests import live_recompute, record_partition
from torghut_assets.ledger.evidence_log import ChainBreak, verify_chain
from torghut_assets.ledger.identity import row_id
from torghut_assets.ledger.writes import replace_lane_window

LANE = "macd_rsi"
WINDOW = pd.Timestamp("2026-03-03 15:00", tz="UTC").to_pydatetime()
OTHER_WINDOW = pd.Timestamp("2026-03-03 16:00", tz="UTC").to_pydatetime()
AT = pd.Timestamp("2026-03-03 17:00", tz="UTC").to_pydatetime()


@pytest.fixture
def engine(ledger_url: str) -> Iterator[Engine]:
    engine = create_ledger_engine(ledger_url)
    yield engine
    engine.dispose()


def _materialize_stress(engine: Engine, run_id: str, window: dt.datetime, deltas: dict[str, float]) -> None:
    """A research run's stress rows for the window (replacing earlier rows) and their digest."""
    candidate = f"cand-{run_id}"
    rows = [
        {
            "id": row_id("research_stress_metrics", candidate, case),
            "lane": LANE,
            "window_start": window,
            "candidate_id": candidate,
            "stress_case": case,
            "pessimistic_pnl_delta": delta,
        }
        for case, delta in deltas.items()
    ]
    with engine.begin() as conn:
        replace_lane_window(conn, schema.research_stress_metrics, LANE, window, rows)
        record_partition(
            conn,
            entry_kind="stress_bundle",
            subject=run_id,
            table=schema.research_stress_metrics,
            lane=LANE,
            window_start=window,
            recorded_at=AT,
        )


def test_a_window_rerun_under_a_new_run_id_supersedes_the_earlier_runs_digest(engine: Engine) -> None:
    _materialize_stress(engine, "run-a", WINDOW, {"halt": -1.0, "spread": -3.5})
    _materialize_stress(engine, "run-b", WINDOW, {"halt": -2.0, "spread": -4.0})  # the data changed

    with engine.connect() as conn:
        result = verify_chain(conn, recompute=live_recompute(conn))

    assert result.ok, result.breaks


def test_editing_the_rerun_rows_is_still_a_content_source_mismatch(engine: Engine) -> None:
    _materialize_stress(engine, "run-a", WINDOW, {"halt": -1.0, "spread": -3.5})
    _materialize_stress(engine, "run-b", WINDOW, {"halt": -2.0, "spread": -4.0})
    with engine.begin() as conn:
        t = schema.research_stress_metrics
        conn.execute(t.update().where(t.c.stress_case == "halt").values(pessimistic_pnl_delta=-0.5))

    with engine.connect() as conn:
        result = verify_chain(conn, recompute=live_recompute(conn))

    assert result.breaks == (ChainBreak(2, "content_source_mismatch"),)


def test_each_window_keeps_its_own_latest_digest(engine: Engine) -> None:
    _materialize_stress(engine, "run-a", WINDOW, {"halt": -1.0})
    _materialize_stress(engine, "run-c", OTHER_WINDOW, {"halt": -7.0})
    with engine.begin() as conn:
        t = schema.research_stress_metrics
        conn.execute(t.update().where(t.c.candidate_id == "cand-run-a").values(pessimistic_pnl_delta=9.0))

    with engine.connect() as conn:
        result = verify_chain(conn, recompute=live_recompute(conn))

    assert result.breaks == (ChainBreak(1, "content_source_mismatch"),)
