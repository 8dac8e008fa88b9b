"""`replay_job` fails its run on a real mismatch, after recording the report and the deny row, and names
every differing field; an untouched window's replay succeeds."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from torghut_assets.definitions import market_data_resource
from torghut_assets.ledger import schema
from torghut_assets.ledger.engine import create_ledger_engine
from torghut_assets.settings import load_settings
from torghut_assets_tests.defs.replay_harness import (
    LANE,
    edit_ledger,
    edit_one_signal,
    job_failure,
    job_replay,
    materialize_from_settings,
    reference_table_in,
)


def _replay_denials(ledger_url: str) -> list[dict[str, object]]:
    t = schema.research_promotions
    engine = create_ledger_engine(ledger_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.select(t).where(t.c.approver_role == "replay_verifier")).mappings()
            return [dict(r) for r in rows]
    finally:
        engine.dispose()


def test_the_replay_of_an_untouched_window_succeeds(ledger_url: str, tmp_path: Path) -> None:
    materialize_from_settings(ledger_url, tmp_path)
    result = job_replay(ledger_url, tmp_path)
    assert result.success
    assert result.output_for_node("replay_lane_window") is True
    assert _replay_denials(ledger_url) == []


def test_an_edited_candidate_metric_fails_the_run_naming_the_field_after_recording_the_denial(
    ledger_url: str, tmp_path: Path
) -> None:
    materialize_from_settings(ledger_url, tmp_path)
    edited = edit_ledger(
        ledger_url,
        "update research_candidates set trade_count = trade_count + 3 "
        "where candidate_id = (select min(candidate_id) from research_candidates)",
    )
    assert edited == 1
    result = job_replay(ledger_url, tmp_path)
    assert not result.success
    description, metadata = job_failure(result)
    assert f"replay of {LANE}/2026-03-03T15:00Z" in description
    assert "MISMATCH in research_candidates.trade_count" in description
    assert "- research_candidates.trade_count [" in description
    assert metadata["differing_fields"] == ["research_candidates.trade_count"]
    (denial,) = _replay_denials(ledger_url)
    assert str(denial["id"]) == metadata["deny_row"]
    assert denial["decision_rationale"] == "replay_mismatch:research_candidates.trade_count"


def test_a_signal_changed_in_the_source_fails_the_run_naming_the_dataset_fields(
    ledger_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    signals = reference_table_in(ledger_url)
    monkeypatch.setenv("TORGHUT_SIGNAL_SOURCE", "sql")
    monkeypatch.setenv("TORGHUT_SIGNAL_SOURCE_URL", ledger_url)
    materialize_from_settings(ledger_url, tmp_path)
    edit_one_signal(ledger_url, signals)
    result = job_replay(ledger_url, tmp_path, market_data_resource(load_settings()))
    assert not result.success
    description, metadata = job_failure(result)
    assert {"research_runs.dataset_version", "research_runs.run_id"} <= set(metadata["differing_fields"])
    assert "research_runs.dataset_version" in description
