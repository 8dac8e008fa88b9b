"""Operator commands: migrate, verify the evidence chain, replay a window."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from torghut_assets.cli import main
from torghut_assets.ledger.engine import create_ledger_engine
from torghut_assets_tests.defs.lane_window_harness import OPEN_WINDOW, materialize_window


@pytest.fixture
def materialized(ledger_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("TORGHUT_ARTIFACT_ROOT", str(tmp_path))
    materialize_window(ledger_url, tmp_path, "macd_rsi", OPEN_WINDOW)
    return ledger_url


def test_db_current_reports_the_head_after_upgrade(
    empty_ledger_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["db", "current", "--url", empty_ledger_url]) == 1
    assert main(["db", "upgrade", "--url", empty_ledger_url]) == 0
    assert main(["db", "current", "--url", empty_ledger_url]) == 0


def test_evidence_verify_passes_on_an_untouched_ledger(
    materialized: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["evidence", "verify", "--url", materialized]) == 0
    assert "evidence chain OK" in capsys.readouterr().out


def test_evidence_verify_detects_a_row_edited_by_sql(
    materialized: str, capsys: pytest.CaptureFixture[str]
) -> None:
    engine = create_ledger_engine(materialized)
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "update research_stress_metrics set pessimistic_pnl_delta = 999 where stress_case = 'halt'"
            )
        )
    engine.dispose()
    assert main(["evidence", "verify", "--url", materialized]) == 1
    assert "content_source_mismatch" in capsys.readouterr().out


def test_replay_command_matches_a_materialized_window(
    materialized: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["replay", "--lane", "macd_rsi", "--window", "2026-03-03-15:00", "--url", materialized]) == 0
    assert "MATCH" in capsys.readouterr().out
