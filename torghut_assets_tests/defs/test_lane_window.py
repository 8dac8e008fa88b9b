"""One lane window end to end through the real assets, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa

from torghut_assets.defs.lane_window.research import research_candidates
from torghut_assets.ledger.artifacts import ArtifactStore
from torghut_assets.ledger.engine import create_ledger_engine
from torghut_assets_tests.defs.lane_window_harness import (
    CLOSED_WINDOW,
    OPEN_WINDOW,
    PIPELINE_TABLES,
    counts,
    dump_tables,
    materialize_window,
)


def _scalar(url: str, sql: str) -> object:
    engine = create_ledger_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text(sql)).scalar_one()
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def open_window_ledger(module_ledger_url: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    """macd_rsi over a Tuesday-morning window, materialized once per backend for the read-only tests."""
    materialize_window(module_ledger_url, tmp_path_factory.mktemp("artifacts"), "macd_rsi", OPEN_WINDOW)
    return module_ledger_url


def test_open_market_window_writes_rows_to_all_eight_tables(open_window_ledger: str) -> None:
    written = counts(open_window_ledger)
    assert all(written[name] > 0 for name in PIPELINE_TABLES), written


def test_rematerializing_a_window_leaves_identical_rows(ledger_url: str, tmp_path: Path) -> None:
    materialize_window(ledger_url, tmp_path, "ema_trend", OPEN_WINDOW)
    first = dump_tables(ledger_url)
    materialize_window(ledger_url, tmp_path, "ema_trend", OPEN_WINDOW)
    assert dump_tables(ledger_url) == first


def test_every_execution_carries_route_provenance_and_tca(open_window_ledger: str) -> None:
    missing = _scalar(
        open_window_ledger,
        "select count(*) from executions e left join execution_tca_metrics t on t.execution_id = e.id "
        "where t.id is null or e.execution_expected_adapter = 'unknown' "
        "or e.execution_actual_adapter = 'unknown' or e.client_order_id is null",
    )
    assert missing == 0


def test_closed_market_window_is_a_skipped_run_with_reason_and_artifact(
    ledger_url: str, tmp_path: Path
) -> None:
    materialize_window(ledger_url, tmp_path, "macd_rsi", CLOSED_WINDOW)
    engine = create_ledger_engine(ledger_url)
    with engine.connect() as conn:
        run = conn.execute(sa.text("select * from research_runs")).mappings().one()
    engine.dispose()
    assert run["status"] == "skipped"
    assert run["no_signal_reason"] == "market_closed"
    assert run["dataset_snapshot_ref"] == "no_signal_window"
    refs = (
        run["artifact_refs"] if isinstance(run["artifact_refs"], list) else json.loads(run["artifact_refs"])
    )
    assert len(refs) == 1 and ArtifactStore.verify(refs[0])
    assert json.loads(Path(refs[0]["path"]).read_text())["no_signal_reason"] == "market_closed"
    after = counts(ledger_url)
    assert (after["research_candidates"], after["research_promotions"], after["signals"]) == (0, 0, 0)


def test_window_run_passes_once_promotion_is_recorded(open_window_ledger: str) -> None:
    assert _scalar(open_window_ledger, "select status from research_runs") == "passed"


def test_nothing_is_approved_beyond_shadow(open_window_ledger: str) -> None:
    approved = _scalar(
        open_window_ledger,
        "select count(*) from research_promotions "
        "where approved_mode is not null and approved_mode <> 'shadow'",
    )
    assert approved == 0


def test_every_candidate_has_folds_and_all_four_stress_cases(open_window_ledger: str) -> None:
    incomplete = _scalar(
        open_window_ledger,
        "select count(*) from research_candidates c where "
        "(select count(*) from research_fold_metrics f where f.candidate_id = c.candidate_id) < 3 or "
        "(select count(distinct s.stress_case) from research_stress_metrics s "
        " where s.candidate_id = c.candidate_id) <> 4",
    )
    assert incomplete == 0


def test_downstream_asset_without_its_run_fails_naming_the_missing_upstream(
    ledger_url: str, tmp_path: Path
) -> None:
    with pytest.raises(Exception, match="materialize research_runs first"):
        materialize_window(ledger_url, tmp_path, "macd_rsi", OPEN_WINDOW, assets=[research_candidates])


def test_lanes_do_not_overwrite_each_other(ledger_url: str, tmp_path: Path) -> None:
    materialize_window(ledger_url, tmp_path, "macd_rsi", CLOSED_WINDOW)
    alone = dump_tables(ledger_url, ("research_runs",))["research_runs"]
    materialize_window(ledger_url, tmp_path, "ema_trend", CLOSED_WINDOW)
    both = dump_tables(ledger_url, ("research_runs",))["research_runs"]
    assert len(both) == 2 and alone[0] in both
