"""Replay lock: a materialized window reproduces identical hashes; tampering is found and denied."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from torghut_assets.defs.lane_window.research_inputs import ResearchResource
from torghut_assets.defs.resources import LedgerResource, MarketDataResource
from torghut_assets.domain.lanes import LaneWindow
from torghut_assets.ledger import schema
from torghut_assets.ledger.engine import create_ledger_engine
from torghut_assets.services.replay import record_replay, replay_window
from torghut_assets_tests.defs.lane_window_harness import CLOSED_WINDOW, OPEN_WINDOW, materialize_window

SETTINGS = ResearchResource().settings()


def _replay(
    url: str, tmp_path: Path, lane: str, start: pd.Timestamp, market_data: MarketDataResource | None = None
):
    ledger = LedgerResource(database_url=url, artifact_root=str(tmp_path))
    return ledger, replay_window(
        ledger, market_data or MarketDataResource(), SETTINGS, LaneWindow(lane, start)
    )


def _sql(url: str, statement: str) -> None:
    engine = create_ledger_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text(statement))
    engine.dispose()


@pytest.fixture(scope="module")
def replayable(module_ledger_url: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    root = tmp_path_factory.mktemp("replay")
    for lane, start in (("macd_rsi", OPEN_WINDOW), ("ema_trend", OPEN_WINDOW), ("macd_rsi", CLOSED_WINDOW)):
        materialize_window(module_ledger_url, root, lane, start)
    return module_ledger_url, root


@pytest.mark.parametrize(
    ("lane", "start"), [("macd_rsi", OPEN_WINDOW), ("ema_trend", OPEN_WINDOW), ("macd_rsi", CLOSED_WINDOW)]
)
def test_replay_of_a_materialized_window_matches(
    replayable: tuple[str, Path], lane: str, start: pd.Timestamp
) -> None:
    url, root = replayable
    _, report = _replay(url, root, lane, start)
    assert report.matched, [d.as_dict() for d in report.differences[:5]]
    assert report.rows_compared > 0


def test_a_changed_input_byte_changes_the_hash_and_replay_names_the_field(
    ledger_url: str, tmp_path: Path
) -> None:
    materialize_window(ledger_url, tmp_path, "macd_rsi", OPEN_WINDOW)
    ledger, report = _replay(ledger_url, tmp_path, "macd_rsi", OPEN_WINDOW, MarketDataResource(seed=7))
    fields = {f"{d.table}.{d.field}" for d in report.differences}
    assert "research_runs.dataset_version" in fields and "research_runs.run_id" in fields
    recorded = record_replay(ledger, report, pd.Timestamp("2026-03-04 00:00", tz="UTC"))
    engine = create_ledger_engine(ledger_url)
    with engine.connect() as conn:
        table = schema.research_promotions
        deny = conn.execute(
            sa.select(table.c.decision_action, table.c.decision_rationale).where(
                table.c.id == recorded["deny_row"]
            )
        ).one()
    engine.dispose()
    assert deny[0] == "deny" and "research_runs.dataset_version" in deny[1]


def test_an_edited_metric_is_reported_with_its_row(ledger_url: str, tmp_path: Path) -> None:
    materialize_window(ledger_url, tmp_path, "macd_rsi", OPEN_WINDOW)
    _sql(ledger_url, "update research_fold_metrics set net_pnl = net_pnl + 1 where fold_name = 'fold_1'")
    _, report = _replay(ledger_url, tmp_path, "macd_rsi", OPEN_WINDOW)
    assert {(d.table, d.field) for d in report.differences} >= {("research_fold_metrics", "net_pnl")}


def test_a_tampered_report_artifact_is_detected(ledger_url: str, tmp_path: Path) -> None:
    materialize_window(ledger_url, tmp_path, "macd_rsi", OPEN_WINDOW)
    report_file = next((tmp_path / "backtest" / "evaluation-report").glob("*.json"))
    report_file.write_text(
        report_file.read_text().replace('"deny"', '"promote"').replace('"hold"', '"promote"')
    )
    _, report = _replay(ledger_url, tmp_path, "macd_rsi", OPEN_WINDOW)
    assert any(d.field.startswith("artifact:backtest/evaluation-report") for d in report.differences)


def test_re_materializing_promotions_keeps_replay_deny_rows(ledger_url: str, tmp_path: Path) -> None:
    materialize_window(ledger_url, tmp_path, "macd_rsi", OPEN_WINDOW)
    ledger, report = _replay(ledger_url, tmp_path, "macd_rsi", OPEN_WINDOW, MarketDataResource(seed=7))
    recorded = record_replay(ledger, report, pd.Timestamp("2026-03-04 00:00", tz="UTC"))
    materialize_window(ledger_url, tmp_path, "macd_rsi", OPEN_WINDOW)
    engine = create_ledger_engine(ledger_url)
    with engine.connect() as conn:
        table = schema.research_promotions
        count = conn.execute(
            sa.select(sa.func.count()).select_from(table).where(table.c.id == recorded["deny_row"])
        ).scalar_one()
    engine.dispose()
    assert count == 1
