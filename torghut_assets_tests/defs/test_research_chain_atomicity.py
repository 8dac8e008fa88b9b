"""A lane window's research chain is committed whole or not at all, and its promotion requests are
appended, on SQLite and PostgreSQL (docs/research.md, "One transaction per chain").

The window runs through the production job (`lane_window_job`, with its failure hook). A research step
made to fail mid-window (the stress replays raise, after the candidates and folds were computed) leaves
no candidate, fold, stress or promotion row, only the run row, `failed` with the error; re-running the
window then commits the complete chain, and the evidence chain verifies throughout. Re-running a window
that reaches the same request appends nothing; one whose source data changed appends a second request,
which is then the window's current one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dagster as dg
import pytest
import sqlalchemy as sa

import torghut_assets.domain.research_evaluation as evaluation
from torghut_assets.definitions import LANE_WINDOW_ASSETS
from torghut_assets.defs.lane_window.jobs import lane_window_job
from torghut_assets.defs.lane_window.partitions import lane_window_key
from torghut_assets.defs.resources import MarketDataResource
from torghut_assets.domain.stress import STRESS_CASES
from torghut_assets.ledger import schema
from torghut_assets.ledger.engine import create_ledger_engine
from torghut_assets.ledger.evidence_digests import live_recompute
from torghut_assets.ledger.evidence_log import ChainVerification, verify_chain
from torghut_assets_tests.defs.lane_window_harness import OPEN_WINDOW, resources

LANE = "macd_rsi"
STRESS_FAILURE = "the halt stress replay lost its quotes"
CHAIN_TABLES = (
    "research_candidates",
    "research_fold_metrics",
    "research_stress_metrics",
    "research_promotions",
)


def _run_window(url: str, artifacts: Path, **overrides: Any) -> dg.ExecuteInProcessResult:
    job = dg.Definitions(
        assets=LANE_WINDOW_ASSETS,
        jobs=[lane_window_job],
        resources={**resources(url, artifacts), **overrides},
    ).resolve_job_def("lane_window_job")
    return job.execute_in_process(
        partition_key=lane_window_key(LANE, OPEN_WINDOW),
        instance=dg.DagsterInstance.ephemeral(),
        raise_on_error=False,
    )


def _fail_stress(*args: Any, **kwargs: Any) -> Any:
    raise RuntimeError(STRESS_FAILURE)


def _run_with_failing_stress(url: str, artifacts: Path) -> dg.ExecuteInProcessResult:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(evaluation, "evaluate_stress", _fail_stress)
        return _run_window(url, artifacts)


def _rows(url: str, table: str) -> list[dict[str, Any]]:
    t = schema.metadata.tables[table]
    engine = create_ledger_engine(url)
    try:
        with engine.connect() as conn:
            return [dict(r) for r in conn.execute(sa.select(t).order_by(t.c.id)).mappings()]
    finally:
        engine.dispose()


def _chain(url: str) -> tuple[ChainVerification, list[tuple[str, str]]]:
    engine = create_ledger_engine(url)
    try:
        with engine.connect() as conn:
            log = schema.evidence_log
            kinds = [
                (str(kind), str(subject))
                for kind, subject in conn.execute(
                    sa.select(log.c.entry_kind, log.c.subject).order_by(log.c.seq)
                )
            ]
            return verify_chain(conn, recompute=live_recompute(conn)), kinds
    finally:
        engine.dispose()


def test_a_research_step_failing_mid_window_leaves_no_chain_row_and_a_failed_run_with_its_error(
    ledger_url: str, tmp_path: Path
) -> None:
    result = _run_with_failing_stress(ledger_url, tmp_path)

    assert not result.success
    assert [e.step_key for e in result.get_step_failure_events()] == ["research_runs"]
    assert {table: len(_rows(ledger_url, table)) for table in CHAIN_TABLES} == dict.fromkeys(CHAIN_TABLES, 0)
    (run,) = _rows(ledger_url, "research_runs")
    assert run["status"] == "failed"
    assert run["error"] == f"RuntimeError: {STRESS_FAILURE}"


def test_a_rerun_after_the_failure_commits_the_complete_chain(ledger_url: str, tmp_path: Path) -> None:
    _run_with_failing_stress(ledger_url, tmp_path)
    (failed,) = _rows(ledger_url, "research_runs")

    assert _run_window(ledger_url, tmp_path).success

    (run,) = _rows(ledger_url, "research_runs")
    assert (run["run_id"], run["status"], run["error"]) == (failed["run_id"], "passed", None)
    candidates = _rows(ledger_url, "research_candidates")
    folds = _rows(ledger_url, "research_fold_metrics")
    stress = _rows(ledger_url, "research_stress_metrics")
    assert candidates and {c["run_id"] for c in candidates} == {run["run_id"]}
    for candidate in candidates:
        assert len([f for f in folds if f["candidate_id"] == candidate["candidate_id"]]) >= 3
        cases = {s["stress_case"] for s in stress if s["candidate_id"] == candidate["candidate_id"]}
        assert cases == set(STRESS_CASES)
    (request,) = _rows(ledger_url, "research_promotions")
    assert (request["run_id"], request["revision"]) == (run["run_id"], 1)


def test_the_evidence_chain_verifies_after_a_failed_then_successful_run(
    ledger_url: str, tmp_path: Path
) -> None:
    _run_with_failing_stress(ledger_url, tmp_path)
    after_failure, _ = _chain(ledger_url)
    _run_window(ledger_url, tmp_path)
    after_rerun, entries = _chain(ledger_url)

    assert after_failure.ok, after_failure.breaks
    assert after_rerun.ok, after_rerun.breaks
    (run,) = _rows(ledger_url, "research_runs")
    research = [kind for kind, subject in entries if subject == run["run_id"]]
    # opened, failed, opened again, then the whole chain in one transaction
    assert research == [
        "research_run",
        "research_run",
        "research_run",
        "candidate_set",
        "fold_bundle",
        "stress_bundle",
        "promotion",
        "research_run",
    ]


def _request_metadata(result: dg.ExecuteInProcessResult) -> dict[str, Any]:
    (materialization,) = result.asset_materializations_for_node("research_promotions")
    return {k: getattr(v, "value", v) for k, v in materialization.metadata.items()}


def test_rerunning_a_window_with_the_same_outcome_appends_no_request_and_no_evidence(
    ledger_url: str, tmp_path: Path
) -> None:
    _run_window(ledger_url, tmp_path)
    requests, entries = _rows(ledger_url, "research_promotions"), _chain(ledger_url)[1]

    again = _run_window(ledger_url, tmp_path)

    assert again.success
    assert _rows(ledger_url, "research_promotions") == requests and len(requests) == 1
    assert _chain(ledger_url)[1] == entries
    assert _request_metadata(again)["request_revision"] == 1


def test_rerunning_a_window_whose_data_changed_appends_a_second_request_that_is_current(
    ledger_url: str, tmp_path: Path
) -> None:
    _run_window(ledger_url, tmp_path)
    (first,) = _rows(ledger_url, "research_promotions")

    corrected = _run_window(ledger_url, tmp_path, market_data=MarketDataResource(seed=7))

    assert corrected.success
    (run,) = _rows(ledger_url, "research_runs")
    requests = sorted(_rows(ledger_url, "research_promotions"), key=lambda r: r["revision"])
    assert [r["revision"] for r in requests] == [1, 2]
    assert requests[0] == first  # the earlier request is history, untouched
    assert requests[1]["run_id"] == run["run_id"] != first["run_id"]
    metadata = _request_metadata(corrected)
    assert (metadata["request_revision"], metadata["request_revisions"]) == (2, 2)
