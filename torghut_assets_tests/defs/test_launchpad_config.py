"""What the Launchpad refuses, and when (issue 24, docs/launchpad.md).

A misspelled stage, role, lane, action or route control is a config enum that Dagster rejects at launch,
naming the field's path, so no run starts. What the schema cannot say (a blank approver, actor or
reason; a window key's form and range; a timestamp's form; a symbol) is refused by the step's first act
with one sentence naming the field, before anything is read or written.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import dagster as dg
import pandas as pd
import pytest
import sqlalchemy as sa

from torghut_assets.catalog_loader import configured_catalog
from torghut_assets.defs.alerts import AlertsResource
from torghut_assets.defs.continuity.signal_continuity import clear_emergency_stop_job
from torghut_assets.defs.governance.approvals import ApprovalConfig, approval_overrides
from torghut_assets.defs.governance.governance_resource import GovernanceResource
from torghut_assets.defs.governance.live_reevaluation import live_reevaluation_job
from torghut_assets.defs.governance.operational_readiness import operational_readiness
from torghut_assets.defs.governance.profitability import profitability_runtime
from torghut_assets.defs.governance.readiness_report import readiness_report_asset
from torghut_assets.defs.governance.rollback import RollbackConfig, rollback_job
from torghut_assets.defs.lane_window.replay import replay_job
from torghut_assets.defs.lane_window.research_inputs import ResearchResource
from torghut_assets.defs.launchpad import Lane, LaunchpadRefusal
from torghut_assets.defs.resources import BrokerResource, LedgerResource, MarketDataResource
from torghut_assets.defs.routing.route_controls import set_route_control
from torghut_assets.domain.lane_window_keys import window_start_from_key
from torghut_assets.ledger import schema
from torghut_assets.ledger.engine import create_ledger_engine
from torghut_assets.ledger.migrate import upgrade

LANE = "macd_rsi"
WINDOW_FORM = "expected YYYY-MM-DD-HH:00 (the window's UTC start hour), e.g. 2026-03-03-15:00."
ISO_FORM = "expected ISO 8601 with a zone, e.g. 2026-03-04T07:30:00Z."


# --- helpers -------------------------------------------------------------------------------------


def _never_opened(tmp_path: Path) -> str:
    """A ledger URL whose file does not exist (a run refused at launch never initializes a resource)."""
    return f"sqlite:///{tmp_path / 'never-opened.sqlite'}"


def _migrated(tmp_path: Path) -> str:
    """An empty, migrated SQLite ledger (the ledger resource refuses an unmigrated one at start-up)."""
    url = f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    if not (tmp_path / "ledger.sqlite").exists():
        engine = create_ledger_engine(url)
        upgrade(engine)
        engine.dispose()
    return url


def _resources(url: str, root: Path) -> dict[str, Any]:
    return {
        "ledger": LedgerResource(database_url=url, artifact_root=str(root / "artifacts")),
        "governance": GovernanceResource(dagster_home=str(root / "dagster_home")),
        "alerts": AlertsResource(),
        "broker": BrokerResource(),
        "market_data": MarketDataResource(),
        "research_settings": ResearchResource(),
    }


def _op_config(node: str, config: Mapping[str, Any]) -> dict[str, Any]:
    return {"ops": {node: {"config": dict(config)}}}


def _launch_job(
    job: dg.JobDefinition, node: str, config: Mapping[str, Any], root: Path
) -> dg.ExecuteInProcessResult:
    resources = _resources(_migrated(root), root)
    needed = {key: resources[key] for key in job.required_resource_keys if key in resources}
    return job.execute_in_process(run_config=_op_config(node, config), resources=needed, raise_on_error=False)


def _launch_asset(
    asset: dg.AssetsDefinition, config: Mapping[str, Any], root: Path, url: str | None = None
) -> dg.ExecuteInProcessResult:
    resources = _resources(url or _migrated(root), root)
    needed = {key: resources[key] for key in asset.required_resource_keys if key in resources}
    return dg.materialize(
        [asset], run_config=_op_config(asset.op.name, config), resources=needed, raise_on_error=False
    )


def _refusal(result: dg.ExecuteInProcessResult) -> str:
    """The one sentence the failed step gave (a LaunchpadRefusal, not a stack trace from deep inside)."""
    assert not result.success
    (failure,) = [e for e in result.all_events if e.is_step_failure]
    data = failure.step_failure_data
    assert data.error is not None and data.error.cls_name == LaunchpadRefusal.__name__
    assert data.user_failure_data is not None
    sentence = str(data.user_failure_data.description)
    assert "\n" not in sentence and sentence.endswith(".")
    return sentence


def _row_counts(url: str) -> dict[str, int]:
    engine = create_ledger_engine(url)
    try:
        with engine.connect() as conn:
            return {
                t.name: int(conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one())
                for t in schema.metadata.sorted_tables
            }
    finally:
        engine.dispose()


def _refused_at_launch(job: dg.JobDefinition, node: str, config: Mapping[str, Any], root: Path) -> str:
    """The config errors Dagster raises before any run starts (the instance records no run)."""
    instance = dg.DagsterInstance.ephemeral()
    resources = _resources(_never_opened(root), root)
    needed = {key: resources[key] for key in job.required_resource_keys if key in resources}
    with pytest.raises(dg.DagsterInvalidConfigError) as refused:
        job.execute_in_process(run_config=_op_config(node, config), resources=needed, instance=instance)
    assert instance.get_runs() == []
    return "\n".join(e.message for e in refused.value.errors)


def _approval_job() -> dg.JobDefinition:
    defs = dg.Definitions(
        assets=[approval_overrides],
        jobs=[dg.define_asset_job("approve", selection=[approval_overrides])],
        resources={"ledger": LedgerResource(), "governance": GovernanceResource()},
    )
    return defs.resolve_job_def("approve")


APPROVAL = {
    "candidate_id": "cand-3f9a0c2b71de-1",
    "target_stage": "paper",
    "approver": "risk@torghut",
    "approver_role": "risk_officer",
    "reason": "paper period reviewed",
}
EMPTY: dict[str, int] = {t.name: 0 for t in schema.metadata.sorted_tables}
ROLLBACK = {"lane": LANE, "action": "halt", "actor": "oncall@torghut", "reason": "broker incident"}


# --- refused at launch: the closed vocabularies ----------------------------------------------------


@pytest.mark.parametrize("stage", ["live_11", "Paper", "live", "shadow"])
def test_an_approval_for_a_stage_that_is_not_one_is_refused_at_launch_naming_the_field(
    stage: str, tmp_path: Path
) -> None:
    errors = _refused_at_launch(
        _approval_job(), "approval_overrides", {**APPROVAL, "target_stage": stage}, tmp_path
    )
    assert "root:ops:approval_overrides:config:target_stage" in errors and stage in errors


def test_a_misspelled_approver_role_is_refused_at_launch_naming_the_field(tmp_path: Path) -> None:
    config = {**APPROVAL, "approver_role": "risk_oficer"}
    errors = _refused_at_launch(_approval_job(), "approval_overrides", config, tmp_path)
    assert "root:ops:approval_overrides:config:approver_role" in errors


@pytest.mark.parametrize(
    ("job", "node", "config"),
    [
        (rollback_job, "apply_rollback", ROLLBACK),
        (replay_job, "replay_lane_window", {"window": "2026-03-03-15:00"}),
        (clear_emergency_stop_job, "clear_emergency_stop_op", {"actor": "oncall@torghut", "reason": "fixed"}),
        (live_reevaluation_job, "reevaluate_live_champion", {"window_start": "2026-03-03T15:00:00+00:00"}),
    ],
    ids=["rollback_job", "replay_job", "clear_emergency_stop_job", "live_reevaluation_job"],
)
def test_a_misspelled_lane_is_refused_at_launch_naming_the_field(
    job: dg.JobDefinition, node: str, config: dict[str, Any], tmp_path: Path
) -> None:
    errors = _refused_at_launch(job, node, {**config, "lane": "macd_rsl"}, tmp_path)
    assert f"root:ops:{node}:config:lane" in errors and "macd_rsl" in errors


def test_a_misspelled_lane_action_is_refused_at_launch_naming_the_field(tmp_path: Path) -> None:
    errors = _refused_at_launch(rollback_job, "apply_rollback", {**ROLLBACK, "action": "hatl"}, tmp_path)
    assert "root:ops:apply_rollback:config:action" in errors


@pytest.mark.parametrize("control", ["lean_killswitch", "manual_review:AAPL", "kill_switch"])
def test_a_route_control_that_is_not_one_is_refused_at_launch_naming_the_field(
    control: str, tmp_path: Path
) -> None:
    config = {"control": control, "enabled": True, "reason": "drill", "operator": "ops@torghut"}
    errors = _refused_at_launch(set_route_control, "record_route_control", config, tmp_path)
    assert "root:ops:record_route_control:config:control" in errors


def test_the_lane_choices_are_the_catalogs_lanes() -> None:
    assert sorted(lane.value for lane in Lane) == sorted(configured_catalog().lanes)


def test_the_services_receive_the_stored_words_not_enum_members() -> None:
    approval = ApprovalConfig.model_validate(APPROVAL).request()
    action = RollbackConfig.model_validate(ROLLBACK).request()
    stored = (approval.target_stage, approval.approver_role, action.lane, action.action)
    assert stored == ("paper", "risk_officer", LANE, "halt")
    assert all(type(word) is str for word in stored)


# --- refused by the step's first act: one sentence, nothing written ---------------------------------


@pytest.mark.parametrize("field", ["approver", "reason", "candidate_id"])
def test_a_blank_approval_field_fails_the_run_with_one_sentence_and_writes_nothing(
    field: str, ledger_url: str, tmp_path: Path
) -> None:
    before = _row_counts(ledger_url)
    result = _launch_asset(approval_overrides, {**APPROVAL, field: "  "}, tmp_path, ledger_url)
    assert _refusal(result) == f"{field} is required and must not be blank."
    assert _row_counts(ledger_url) == before


def test_an_approval_symbol_that_is_not_one_is_refused_with_one_sentence(tmp_path: Path) -> None:
    result = _launch_asset(approval_overrides, {**APPROVAL, "symbols": ["AAPL", "AAPL;DROP"]}, tmp_path)
    assert _refusal(result).startswith("symbols 'AAPL;DROP' is not a symbol")
    assert _row_counts(_migrated(tmp_path)) == EMPTY


@pytest.mark.parametrize("field", ["actor", "reason"])
def test_a_blank_actor_or_reason_fails_the_rollback_with_one_sentence_and_writes_nothing(
    field: str, ledger_url: str, tmp_path: Path
) -> None:
    before = _row_counts(ledger_url)
    result = rollback_job.execute_in_process(
        run_config=_op_config("apply_rollback", {**ROLLBACK, field: ""}),
        resources={"ledger": LedgerResource(database_url=ledger_url), "alerts": AlertsResource()},
        raise_on_error=False,
    )
    assert _refusal(result) == f"{field} is required and must not be blank."
    assert _row_counts(ledger_url) == before


@pytest.mark.parametrize("field", ["actor", "reason"])
def test_a_blank_actor_or_reason_fails_the_emergency_stop_clearance_before_reading(
    field: str, tmp_path: Path
) -> None:
    config = {"lane": LANE, "actor": "oncall@torghut", "reason": "feed restored", field: " "}
    result = _launch_job(clear_emergency_stop_job, "clear_emergency_stop_op", config, tmp_path)
    assert _refusal(result) == f"{field} is required and must not be blank."
    assert _row_counts(_migrated(tmp_path)) == EMPTY


@pytest.mark.parametrize("window", ["2026-03-03 15:00", "2026-03-03T15:00Z", "2026-03-03-15:30", "yesterday"])
def test_a_malformed_replay_window_is_refused_with_the_expected_form(window: str, tmp_path: Path) -> None:
    result = _launch_job(replay_job, "replay_lane_window", {"lane": LANE, "window": window}, tmp_path)
    assert _refusal(result) == f"window {window!r} is not a window key: {WINDOW_FORM}"
    assert _row_counts(_migrated(tmp_path)) == EMPTY


def test_the_readme_lane_window_key_typed_as_the_window_is_refused_with_the_form(tmp_path: Path) -> None:
    config = {"lane": LANE, "window": "macd_rsi|2026-03-03-15:00"}
    sentence = _refusal(_launch_job(replay_job, "replay_lane_window", config, tmp_path))
    assert sentence.startswith("window 'macd_rsi|2026-03-03-15:00' is a lane-window key")
    assert "YYYY-MM-DD-HH:00" in sentence and "e.g. 2026-03-03-15:00" in sentence


def test_a_replay_window_before_the_catalogs_first_window_is_refused(tmp_path: Path) -> None:
    first = configured_catalog().window_start
    window = (window_start_from_key(first) - pd.Timedelta(hours=1)).strftime("%Y-%m-%d-%H:%M")
    sentence = _refusal(
        _launch_job(replay_job, "replay_lane_window", {"lane": LANE, "window": window}, tmp_path)
    )
    assert (
        sentence == f"window {window!r} is before the catalog's first window {first}: pick {first} or later."
    )


def test_a_replay_window_that_has_not_closed_is_refused(tmp_path: Path) -> None:
    window = (pd.Timestamp.now(tz="UTC") + pd.Timedelta(days=1)).floor("h").strftime("%Y-%m-%d-%H:%M")
    sentence = _refusal(
        _launch_job(replay_job, "replay_lane_window", {"lane": LANE, "window": window}, tmp_path)
    )
    assert sentence.startswith(f"window {window!r} has not closed yet")


@pytest.mark.parametrize("window_start", ["2026-03-03 15:30:00+00:00", "15h on March 3", ""])
def test_a_malformed_live_reevaluation_window_start_is_refused_with_the_iso_form(
    window_start: str, tmp_path: Path
) -> None:
    config = {"lane": LANE, "window_start": window_start}
    sentence = _refusal(_launch_job(live_reevaluation_job, "reevaluate_live_champion", config, tmp_path))
    assert sentence.startswith(f"window_start {window_start!r} is not an hour start: expected ISO 8601")


@pytest.mark.parametrize(
    ("config", "sentence"),
    [
        ({"control": "manual_review"}, "symbol is required when control is manual_review, e.g. AAPL."),
        ({"control": "manual_review", "symbol": "aapl"}, "symbol 'aapl' is not a symbol"),
        ({"control": "lean_kill_switch", "symbol": "AAPL"}, "symbol applies only to manual_review"),
        ({"control": "trading_kill_switch", "operator": ""}, "operator is required and must not be blank."),
    ],
    ids=["review-without-symbol", "lower-case-symbol", "switch-with-symbol", "blank-operator"],
)
def test_a_route_control_the_schema_cannot_judge_is_refused_with_one_sentence(
    config: dict[str, Any], sentence: str, ledger_url: str, tmp_path: Path
) -> None:
    before = _row_counts(ledger_url)
    full = {"enabled": True, "reason": "drill", "operator": "ops@torghut", **config}
    result = set_route_control.execute_in_process(
        run_config=_op_config("record_route_control", full),
        resources={"ledger": LedgerResource(database_url=ledger_url), "broker": BrokerResource()},
        raise_on_error=False,
    )
    assert _refusal(result).startswith(sentence)
    assert _row_counts(ledger_url) == before


def test_a_symbols_manual_review_is_stored_under_its_ledger_name(ledger_url: str) -> None:
    config = {"control": "manual_review", "symbol": "AAPL", "enabled": True, "reason": "r", "operator": "ops"}
    result = set_route_control.execute_in_process(
        run_config=_op_config("record_route_control", config),
        resources={"ledger": LedgerResource(database_url=ledger_url), "broker": BrokerResource()},
    )
    assert result.success
    engine = create_ledger_engine(ledger_url)
    try:
        with engine.connect() as conn:
            t = schema.metadata.tables["route_control_events"]
            assert [r.control for r in conn.execute(sa.select(t.c.control))] == ["manual_review:AAPL"]
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    "asset", [profitability_runtime, readiness_report_asset], ids=lambda a: a.key.path[-1]
)
@pytest.mark.parametrize("as_of", ["2026-03-04 07:30", "03/04/2026T07:30Z", "2026-03-04-07:00", "soon"])
def test_a_malformed_report_time_is_refused_with_the_iso_form(
    asset: dg.AssetsDefinition, as_of: str, tmp_path: Path
) -> None:
    sentence = _refusal(_launch_asset(asset, {"as_of": as_of}, tmp_path))
    assert sentence == f"as_of {as_of!r} is not a time: {ISO_FORM}"
    assert _row_counts(_migrated(tmp_path)) == EMPTY


@pytest.mark.parametrize("days", [0, 61])
def test_a_paper_period_out_of_range_is_refused_with_one_sentence(days: int, tmp_path: Path) -> None:
    sentence = _refusal(_launch_asset(readiness_report_asset, {"paper_period_market_days": days}, tmp_path))
    assert sentence == f"paper_period_market_days {days} is out of range: expected 1 to 60 market sessions."


# --- operational readiness: refused input, and a verdict that says what to fix ----------------------


def test_a_blank_runbook_reviewer_is_refused_rather_than_counted_as_no_review(
    ledger_url: str, tmp_path: Path
) -> None:
    before = _row_counts(ledger_url)
    result = _launch_asset(operational_readiness, {"runbook_reviewed_by": "  "}, tmp_path, ledger_url)
    assert _refusal(result).startswith("runbook_reviewed_by must name the reviewer")
    assert _row_counts(ledger_url) == before


def test_a_not_ready_verdict_names_the_launchpad_field_that_fixes_the_runbook_review(
    ledger_url: str, tmp_path: Path
) -> None:
    result = _launch_asset(operational_readiness, {}, tmp_path, ledger_url)
    assert result.success
    metadata = result.asset_materializations_for_node("operational_readiness")[0].metadata
    assert metadata["verdict"].value == "NOT ready"
    fixes = str(metadata["to_fix"].value)
    assert fixes.startswith(
        "runbook review missing: set runbook_reviewed_by in the Launchpad config of operational_readiness"
    )
    summary = str(metadata["summary"].value)
    assert "| runbook_review | FAIL |" in summary and "To fix:" in summary
    assert summary.isascii()  # plain words (PASS/FAIL), no emoji


def test_a_ready_verdict_has_nothing_to_fix(ledger_url: str, tmp_path: Path) -> None:
    result = _launch_asset(
        operational_readiness, {"runbook_reviewed_by": "oncall@torghut"}, tmp_path, ledger_url
    )
    metadata = result.asset_materializations_for_node("operational_readiness")[0].metadata
    assert metadata["verdict"].value == "ready"
    assert metadata["to_fix"].value == "nothing: every criterion passed"
    assert "| kill_switch_dry_run | PASS |" in str(metadata["summary"].value)


def test_each_failing_drill_names_its_lane_and_the_job_that_repairs_it() -> None:
    from torghut_assets.defs.governance.operational_readiness import kill_switch_fix, rollback_fixes

    drill = {"lanes": {LANE: {"passed": False, "halt_blocks_entries": False}, "ema_trend": {"passed": True}}}
    (fix,) = rollback_fixes(drill)
    assert fix.startswith(f"rollback drill failed on lane {LANE}: halting it did not block new entries")
    assert f"rollback_job (lane {LANE}" in fix
    kill = {"blocked_before_drill": {LANE: None}, "entry_block_by_lane": {LANE: None}}
    assert f"trading_kill_switch on, {LANE} (entry block: none) still accepted" in kill_switch_fix(kill)
