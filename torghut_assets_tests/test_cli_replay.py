"""`torghut-assets replay` reads the source the pipeline is configured with, from the environment alone, and
tells the truth: exit 0 when the window's research reproduces, exit 1 naming each differing field.

The window (macd_rsi, Tuesday 2026-03-03 15:00 UTC) is materialized as the code location runs it: its
market data resource comes from the settings, the source's URL handed to Dagster as an environment
variable. The SQL source is the reference `ta_signals` table copied into the ledger's own database (SQLite
or PostgreSQL); ClickHouse is the reference DDL in chDB.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from torghut_assets.ledger import schema
from torghut_assets.ledger.engine import create_ledger_engine
from torghut_assets_tests.contracts.chdb_ta_signals import TABLE, ChdbTables, reference_ta_signals
from torghut_assets_tests.defs.replay_harness import (
    cli_replay,
    edit_ledger,
    edit_one_signal,
    materialize_from_settings,
    reference_table_in,
    write_reference_signals,
)


@pytest.fixture
def artifacts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "artifacts"
    monkeypatch.setenv("TORGHUT_ARTIFACT_ROOT", str(root))
    return root


@pytest.fixture
def sql_source(ledger_url: str, monkeypatch: pytest.MonkeyPatch) -> pd.DataFrame:
    """`ta_signals` in the ledger's database, named to the pipeline and the CLI only by the environment."""
    written = reference_table_in(ledger_url)
    monkeypatch.setenv("TORGHUT_SIGNAL_SOURCE", "sql")
    monkeypatch.setenv("TORGHUT_SIGNAL_SOURCE_URL", ledger_url)
    return written


@pytest.fixture
def chdb(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ChdbTables]:
    with reference_ta_signals(tmp_path / "chdb") as tables:
        write_reference_signals(tables.url, TABLE)
        monkeypatch.setenv("TORGHUT_SIGNAL_SOURCE", "sql")
        monkeypatch.setenv("TORGHUT_SIGNAL_SOURCE_URL", tables.url)
        monkeypatch.setenv("TRADING_SIGNAL_TABLE", TABLE)
        yield tables


def _snapshot_ref(ledger_url: str) -> str:
    engine = create_ledger_engine(ledger_url)
    try:
        with engine.connect() as conn:
            return str(conn.execute(sa.text("select dataset_snapshot_ref from research_runs")).scalar_one())
    finally:
        engine.dispose()


def test_replay_from_a_sql_source_configured_only_by_environment_matches(
    ledger_url: str, artifacts: Path, sql_source: pd.DataFrame, capsys: pytest.CaptureFixture[str]
) -> None:
    materialize_from_settings(ledger_url, artifacts)
    assert _snapshot_ref(ledger_url).startswith("sql:ta_signals:")  # the pipeline read the table
    assert cli_replay(ledger_url, artifacts) == 0
    assert "MATCH (" in capsys.readouterr().out


def test_replay_from_clickhouse_configured_only_by_environment_matches(
    ledger_url: str, artifacts: Path, chdb: ChdbTables, capsys: pytest.CaptureFixture[str]
) -> None:
    materialize_from_settings(ledger_url, artifacts)
    assert _snapshot_ref(ledger_url).startswith(f"sql:{TABLE}:")
    assert cli_replay(ledger_url, artifacts) == 0
    assert "MATCH (" in capsys.readouterr().out


def test_a_signal_changed_in_the_source_after_the_run_exits_1_naming_the_dataset_fields(
    ledger_url: str, artifacts: Path, sql_source: pd.DataFrame, capsys: pytest.CaptureFixture[str]
) -> None:
    materialize_from_settings(ledger_url, artifacts)
    edit_one_signal(ledger_url, sql_source)
    assert cli_replay(ledger_url, artifacts) == 1
    out = capsys.readouterr().out
    assert "MISMATCH" in out
    (line,) = [x for x in out.splitlines() if x.strip().startswith("research_runs.dataset_version [")]
    assert "stored='" in line and "replayed='" in line


def test_an_edited_candidate_metric_exits_1_naming_the_field_row_and_both_values(
    ledger_url: str, artifacts: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    materialize_from_settings(ledger_url, artifacts)  # the simulator: no source configured
    t = schema.research_candidates
    engine = create_ledger_engine(ledger_url)
    with engine.connect() as conn:
        row_id, candidate, trades = conn.execute(
            sa.select(t.c.id, t.c.candidate_id, t.c.trade_count).order_by(t.c.candidate_id)
        ).first()
    engine.dispose()
    edited = edit_ledger(
        ledger_url,
        f"update research_candidates set trade_count = trade_count + 3 where candidate_id = '{candidate}'",
    )
    assert edited == 1
    assert cli_replay(ledger_url, artifacts) == 1
    differences = [x.strip() for x in capsys.readouterr().out.splitlines() if "stored=" in x]
    assert differences == [
        f"research_candidates.trade_count [{row_id}]: stored={trades + 3} replayed={trades}"
    ]
