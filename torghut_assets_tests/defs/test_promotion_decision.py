"""`promotion_job` materializes `promotion_decision`: a deny is a recorded verdict, not a failed run.

The verdict's first metadata entry is the gate table (figure, limit, cause and fix per finding); only a
request with no verdict to record (an unknown candidate, a blank field, a misspelled stage) fails.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import dagster as dg
import pytest

from torghut_assets.defs.routing.route_parity import route_parity
from torghut_assets.ledger import schema
from torghut_assets_tests.defs.governance_harness import (
    GovernedLedger,
    build_governed_ledger,
    launch_promotion,
    promotion_run_config,
    resolved_promotion_job,
    verdict_metadata,
)


@pytest.fixture(scope="module")
def governed_ledger(module_ledger_url: str, tmp_path_factory: pytest.TempPathFactory) -> GovernedLedger:
    return build_governed_ledger(module_ledger_url, tmp_path_factory.mktemp("governed"))


@pytest.fixture
def ledger(governed_ledger: GovernedLedger) -> Iterator[GovernedLedger]:
    governed_ledger.reset()
    yield governed_ledger
    governed_ledger.reset()


@pytest.fixture
def too_few_parity_pairs(ledger: GovernedLedger) -> Iterator[None]:
    """A route-parity report over only 3 pairs is the latest; removed afterwards (passing parity returns)."""
    since = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    dg.materialize(
        [route_parity],
        resources=ledger.resources(),
        instance=dg.DagsterInstance.ephemeral(),
        run_config={"ops": {"route_parity": {"config": {"max_pairs": 3}}}},
    )
    yield
    engine = ledger.engine()
    try:
        with engine.begin() as conn:
            t = schema.route_parity_reports
            conn.execute(t.delete().where(t.c.evaluated_at >= since))
    finally:
        engine.dispose()


def _request(ledger: GovernedLedger, **overrides: str) -> dict[str, str]:
    return {"candidate_id": ledger.candidates[0], "target_stage": "paper", "requester": "quant", **overrides}


@pytest.mark.usefixtures("too_few_parity_pairs")
def test_a_deny_is_a_successful_materialization_whose_first_entry_is_the_gate_table(
    ledger: GovernedLedger,
) -> None:
    result = launch_promotion(ledger.resources(), _request(ledger))
    assert result.success
    metadata = verdict_metadata(result)
    assert next(iter(metadata)) == "gates"
    assert metadata["decision"].startswith(f"DENY: macd_rsi {ledger.candidates[0]} shadow → paper — ")
    (parity,) = [r.data for r in metadata["gates"].records if r.data["gate"] == "gate3_shadow_paper_quality"]
    assert parity["status"] == "FAIL"
    assert parity["figure"].startswith("3 paired executions")
    assert parity["limit"].startswith(">= 20 pairs")
    assert "only 3 LEAN/Alpaca pairs" in parity["cause"]
    assert "`route_parity`" in parity["fix"] and "20" in parity["fix"]
    assert len(ledger.rows("research_promotions", decision_action="deny", approver="torghut_gates")) == 1


def test_an_allow_is_a_successful_materialization_with_every_gate_passing(ledger: GovernedLedger) -> None:
    result = launch_promotion(ledger.resources(), _request(ledger))
    assert result.success
    metadata = verdict_metadata(result)
    assert metadata["decision"].startswith("ALLOW: ") and metadata["decision"].endswith("all gates passed")
    assert {r.data["status"] for r in metadata["gates"].records} == {"PASS"}
    assert len(metadata["gates"].records) == 8  # one row per passing gate


def test_an_unknown_candidate_fails_the_run(ledger: GovernedLedger) -> None:
    result = launch_promotion(ledger.resources(), _request(ledger, candidate_id="cand-doesnotexist"))
    assert not result.success
    failure = result.failure_data_for_node("promotion_decision")
    assert failure is not None and "no research candidate 'cand-doesnotexist'" in str(
        failure.user_failure_data
    )
    assert ledger.evidence_kinds() == ["promotion_refused"]


def test_a_blank_requester_is_refused_with_one_sentence_naming_it_before_anything_is_written(
    ledger: GovernedLedger,
) -> None:
    result = launch_promotion(ledger.resources(), _request(ledger, requester="   "))
    assert not result.success
    (failure,) = [e for e in result.all_events if e.is_step_failure]
    user = failure.step_failure_data.user_failure_data
    assert user is not None and user.description == "requester is required and must not be blank."
    assert ledger.evidence_kinds() == []


def test_a_misspelled_stage_is_refused_at_launch() -> None:
    with pytest.raises(dg.DagsterInvalidConfigError, match="target_stage"):
        dg.validate_run_config(
            resolved_promotion_job(),
            promotion_run_config({"candidate_id": "cand-1", "target_stage": "papr", "requester": "quant"}),
        )


def test_the_verdict_declares_what_it_reads_in_the_lineage() -> None:
    from torghut_assets.defs.governance.promotion import promotion_decision

    deps = {key.to_user_string() for key in promotion_decision.asset_deps[promotion_decision.key]}
    assert deps == {
        "research_candidates",
        "research_promotions",
        "operational_readiness",
        "route_parity",
        "signal_continuity",
    }
    assert promotion_decision.group_names_by_key[promotion_decision.key] == "governance"
