"""Fail-closed live re-evaluation and rollback to the previous champion, on SQLite and PostgreSQL.

One researched lane window (macd_rsi, Tuesday 2026-03-03 15:00 UTC) stands in for "the closed window":
the champion climbs to live through `promotion_job` as in production, then that window's research is
put through the gates again. A stricter policy file (turnover limit 0.5) makes the same evidence fail.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import dagster as dg
import pytest

from torghut_assets.defs.governance.live_reevaluation import (
    LiveReevaluationConfig,
    live_reevaluation_job,
    live_reevaluation_sensor,
)
from torghut_assets.defs.governance.promotion_timeline import promotion_timeline
from torghut_assets.defs.governance.rollback import RollbackConfig, rollback_job
from torghut_assets.defs.launchpad import LaneAction
from torghut_assets.domain import live_reevaluation as rules
from torghut_assets.domain.lane_rollout import LaneRollout, Placement
from torghut_assets.domain.live_reevaluation import ReevaluationOutcome
from torghut_assets.domain.stages import Stage
from torghut_assets.ledger import rollout_store
from torghut_assets.ledger.evidence_digests import live_recompute
from torghut_assets.ledger.evidence_log import verify_chain
from torghut_assets.services.gate_evidence import UnknownCandidateError
from torghut_assets.services.live_reevaluation import LiveReevaluation, run_live_reevaluation
from torghut_assets.services.rollback import run_rollback
from torghut_assets_tests.defs.governance_harness import LANE, GovernedLedger, build_governed_ledger
from torghut_assets_tests.defs.lane_window_harness import OPEN_WINDOW

TURNOVER_FAILURE = "gate2_risk_capacity:turnover_exceeds_max"
UNKNOWN = "cand-000000000000-unknown"


@pytest.fixture(scope="module")
def governed_ledger(module_ledger_url: str, tmp_path_factory: pytest.TempPathFactory) -> GovernedLedger:
    return build_governed_ledger(module_ledger_url, tmp_path_factory.mktemp("governed"))


@pytest.fixture
def ledger(governed_ledger: GovernedLedger) -> Iterator[GovernedLedger]:
    governed_ledger.reset()
    yield governed_ledger
    governed_ledger.reset()


# --- helpers -------------------------------------------------------------------------------------


def strict_policy(ledger: GovernedLedger) -> str:
    """The test policy with a turnover limit the window's evidence cannot meet."""
    path = ledger.root / "strict-live.toml"
    shipped = (ledger.root / "gates-live-enabled.toml").read_text(encoding="utf-8")
    path.write_text(shipped.replace("max_turnover = 8.0", "max_turnover = 0.5"), encoding="utf-8")
    return str(path)


def to_paper(ledger: GovernedLedger, candidate_id: str) -> None:
    result = ledger.promote(candidate_id, "paper")
    if not result.outcome.allowed:  # a weaker candidate needs the risk officer's override
        _, token = ledger.approve(candidate_id, "paper", role="risk_officer")
        result = ledger.promote(candidate_id, "paper", token=token)
    assert result.outcome.allowed, result.outcome.reason_codes


def to_live(ledger: GovernedLedger, candidate_id: str) -> None:
    ledger.promote(candidate_id, "live")  # the denial the approver reviews
    _, token = ledger.approve(candidate_id, "live_l1")
    result = ledger.promote(candidate_id, "live", token=token)
    assert result.outcome.allowed, result.outcome.reason_codes


def previous_champion_then_live_champion(ledger: GovernedLedger) -> tuple[str, str]:
    """candidates[1] verified at paper, then candidates[0] replaced it and climbed to live_l1."""
    champion, previous = ledger.candidates[0], ledger.candidates[1]
    to_paper(ledger, previous)
    to_paper(ledger, champion)
    to_live(ledger, champion)
    return champion, previous


def reevaluate(
    ledger: GovernedLedger, *, policy_path: str | None = None, now: dt.datetime | None = None
) -> LiveReevaluation:
    res = ledger.resources(**({"policy_path": policy_path} if policy_path else {}))
    return run_live_reevaluation(
        LiveReevaluationConfig(lane=LANE, window_start=OPEN_WINDOW.isoformat()),
        ledger=res["ledger"],
        market_data=res["market_data"],
        research_settings=res["research_settings"],
        governance=res["governance"],
        now=now or dt.datetime.now(dt.UTC),
    )


def lane_state(ledger: GovernedLedger) -> LaneRollout:
    engine = ledger.engine()
    try:
        with engine.connect() as conn:
            state, _ = rollout_store.load_lane(conn, LANE)
    finally:
        engine.dispose()
    return state


def transitions(ledger: GovernedLedger) -> list[dict[str, Any]]:
    return sorted(ledger.rows("rollout_transitions"), key=lambda r: r["seq"])


def record(ledger: GovernedLedger, *moves: tuple[str, Stage, dt.datetime]) -> None:
    """Put candidates on the lane directly, as `promotion_job` records an advance."""
    engine = ledger.engine()
    try:
        with engine.begin() as conn:
            for candidate_id, stage, at in moves:
                state, seq = rollout_store.load_lane(conn, LANE)
                step = state.advance(candidate_id, stage, at=at, reason="gates passed", actor="quant@torghut")
                rollout_store.append_transition(conn, step, after_seq=seq, reason_codes=["test"])
    finally:
        engine.dispose()


def unknown_champion_live(ledger: GovernedLedger) -> None:
    """A live champion whose configuration no researched window holds."""
    before = OPEN_WINDOW.to_pydatetime() - dt.timedelta(hours=2)
    record(ledger, (UNKNOWN, Stage.PAPER, before), (UNKNOWN, Stage.LIVE_L1, before + dt.timedelta(hours=1)))


# --- rollback_job restores the previous champion ---------------------------------------------------


def test_rollback_job_restores_the_previous_champion_across_several_stage_steps(
    ledger: GovernedLedger,
) -> None:
    champion, previous = previous_champion_then_live_champion(ledger)
    assert lane_state(ledger).active == Placement(champion, Stage.LIVE_L1)
    rolled = rollback_job.execute_in_process(
        run_config={
            "ops": {"apply_rollback": {"config": {"lane": LANE, "actor": "oncall", "reason": "slippage"}}}
        },
        resources={"ledger": ledger.resources()["ledger"], "alerts": ledger.resources()["alerts"]},
    )
    assert rolled.success
    assert lane_state(ledger).active == Placement(previous, Stage.PAPER)
    last = transitions(ledger)[-1]
    assert (last["transition_type"], last["from_candidate_id"], last["candidate_id"]) == (
        "rollback",
        champion,
        previous,
    )
    assert (last["from_stage"], last["to_stage"]) == ("live_l1", "paper")
    assert ledger.lifecycle(previous) == ("champion", "active")


# --- live re-evaluation ----------------------------------------------------------------------------


def test_a_live_champion_failing_re_evaluation_is_rolled_back_to_the_previous_champion_and_halted(
    ledger: GovernedLedger,
) -> None:
    champion, previous = previous_champion_then_live_champion(ledger)
    result = reevaluate(ledger, policy_path=strict_policy(ledger))
    assert result.outcome == ReevaluationOutcome.ROLLED_BACK
    assert result.verdict is not None and TURNOVER_FAILURE in result.verdict.reasons
    state = lane_state(ledger)
    assert state.active == Placement(previous, Stage.PAPER) and state.halted
    assert state.stage_of(champion) is Stage.SHADOW


def test_a_live_champion_passing_re_evaluation_keeps_its_place_and_nothing_is_written(
    ledger: GovernedLedger,
) -> None:
    champion, _ = previous_champion_then_live_champion(ledger)
    logged, evidence = transitions(ledger), ledger.evidence_kinds()
    evaluations = len(ledger.rows("gate_evaluations"))
    result = reevaluate(ledger)
    assert result.outcome == ReevaluationOutcome.PASSED, result.verdict
    assert result.evaluated_candidate_id == champion
    assert lane_state(ledger).active == Placement(champion, Stage.LIVE_L1)
    assert not lane_state(ledger).halted
    assert transitions(ledger) == logged and ledger.evidence_kinds() == evidence
    assert ledger.rows("rollback_incidents") == []
    assert len(ledger.rows("gate_evaluations")) == evaluations


def test_a_failed_re_evaluation_leaves_transitions_incidents_and_evidence_entries(
    ledger: GovernedLedger,
) -> None:
    champion, previous = previous_champion_then_live_champion(ledger)
    reevaluate(ledger, policy_path=strict_policy(ledger))
    rollback, halt = transitions(ledger)[-2:]
    for row in (rollback, halt):
        assert row["actor"] == rules.ACTOR
        assert row["reason_codes_json"][0] == rules.TRIGGER and TURNOVER_FAILURE in row["reason_codes_json"]
        assert row["blocking_gate"] == "gate2_risk_capacity"
    assert (rollback["transition_type"], rollback["from_candidate_id"], rollback["candidate_id"]) == (
        "rollback",
        champion,
        previous,
    )
    assert (halt["transition_type"], halt["candidate_id"], halt["status"]) == ("halt", previous, "halted")
    incidents = ledger.rows("rollback_incidents")
    assert sorted(i["transition_id"] for i in incidents) == sorted(
        [rollback["transition_id"], halt["transition_id"]]
    )
    (evaluation,) = [
        e for e in ledger.rows("gate_evaluations", candidate_id=champion) if e["promotion_target"] == "live"
    ][-1:]
    for incident in incidents:
        assert (incident["trigger"], incident["actor"]) == (rules.TRIGGER, rules.ACTOR)
        assert TURNOVER_FAILURE in incident["reasons"]
        assert incident["verification"]["incident_evidence_complete"] is True
        assert incident["evidence_refs"]["live_reevaluation"]["gate_evaluation_id"] == evaluation["id"]
    assert not evaluation["promotion_allowed"] and evaluation["report_json"]["kind"] == "live_reevaluation"
    assert ledger.evidence_kinds()[-4:] == [
        "gate_evaluation",
        "lane_rollback",
        "lane_halt",
        rules.FAILURE_ENTRY_KIND,
    ]
    engine = ledger.engine()
    with engine.connect() as conn:
        chain = verify_chain(conn, recompute=live_recompute(conn))
    engine.dispose()
    assert chain.ok, chain.breaks[:3]


def test_re_running_the_same_window_does_not_roll_back_twice(ledger: GovernedLedger) -> None:
    previous_champion_then_live_champion(ledger)
    strict = strict_policy(ledger)
    reevaluate(ledger, policy_path=strict)
    logged, incidents, evidence = (
        transitions(ledger),
        ledger.rows("rollback_incidents"),
        ledger.evidence_kinds(),
    )
    again = reevaluate(ledger, policy_path=strict)
    assert again.outcome == ReevaluationOutcome.LANE_NOT_LIVE
    assert transitions(ledger) == logged
    assert len(ledger.rows("rollback_incidents")) == len(incidents) == 2
    assert ledger.evidence_kinds() == evidence


def test_a_window_that_rolled_a_champion_back_never_acts_on_it_again(ledger: GovernedLedger) -> None:
    champion, _ = previous_champion_then_live_champion(ledger)
    strict = strict_policy(ledger)
    reevaluate(ledger, policy_path=strict)
    run_rollback(
        RollbackConfig(
            lane=LANE, action=LaneAction.resume, actor="oncall@torghut", reason="reviewed"
        ).request(),
        ledger=ledger.resources()["ledger"],
        now=dt.datetime.now(dt.UTC),
    )
    to_paper(ledger, champion)
    to_live(ledger, champion)
    logged = transitions(ledger)
    assert reevaluate(ledger, policy_path=strict).outcome == ReevaluationOutcome.ALREADY_ROLLED_BACK
    assert transitions(ledger) == logged


def test_a_live_champion_with_no_previous_champion_leaves_the_lane_flat_and_halted(
    ledger: GovernedLedger,
) -> None:
    champion = ledger.candidates[0]
    to_paper(ledger, champion)
    to_live(ledger, champion)
    result = reevaluate(ledger, policy_path=strict_policy(ledger))
    assert result.outcome == ReevaluationOutcome.ROLLED_BACK
    state = lane_state(ledger)
    assert state.active is None and state.stage is Stage.SHADOW and state.halted
    rollback, halt = transitions(ledger)[-2:]
    assert (rollback["from_stage"], rollback["to_stage"], halt["candidate_id"]) == ("live_l1", "shadow", None)
    assert ledger.lifecycle(champion) == ("demoted", "standby")


def test_a_live_champion_missing_from_the_windows_candidates_fails_closed(ledger: GovernedLedger) -> None:
    unknown_champion_live(ledger)
    result = reevaluate(ledger)
    assert result.outcome == ReevaluationOutcome.ROLLED_BACK
    assert result.verdict is not None and result.verdict.reasons == (rules.CHAMPION_EVIDENCE_MISSING,)
    state = lane_state(ledger)
    assert state.active is None and state.halted
    assert {tuple(i["reasons"]) for i in ledger.rows("rollback_incidents")} == {
        (rules.TRIGGER, rules.CHAMPION_EVIDENCE_MISSING)
    }


def test_evidence_that_cannot_be_read_fails_closed(
    ledger: GovernedLedger, monkeypatch: pytest.MonkeyPatch
) -> None:
    from torghut_assets.services import live_reevaluation

    def unreadable(conn: object, candidate_id: str) -> None:
        raise UnknownCandidateError(f"no research candidate {candidate_id!r} in the ledger")

    unknown_champion_live(ledger)
    monkeypatch.setattr(live_reevaluation, "champion_counterpart", lambda conn, window, champion: champion)
    monkeypatch.setattr(live_reevaluation, "load_candidate", unreadable)
    result = reevaluate(ledger)
    assert result.outcome == ReevaluationOutcome.ROLLED_BACK
    assert result.verdict is not None and result.verdict.reasons == (rules.EVALUATION_FAILED,)
    assert lane_state(ledger).halted
    (incident, _) = ledger.rows("rollback_incidents")
    assert "UnknownCandidateError" in incident["evidence_refs"]["live_reevaluation"]["error"]


def test_a_window_not_yet_closed_changes_nothing(ledger: GovernedLedger) -> None:
    unknown_champion_live(ledger)
    result = reevaluate(ledger, now=OPEN_WINDOW.to_pydatetime() + dt.timedelta(minutes=30))
    assert result.outcome == ReevaluationOutcome.WINDOW_NOT_CLOSED
    assert lane_state(ledger).active == Placement(UNKNOWN, Stage.LIVE_L1)


def test_the_promotion_timeline_shows_the_rollback_and_the_halt(ledger: GovernedLedger) -> None:
    champion, previous = previous_champion_then_live_champion(ledger)
    reevaluate(ledger, policy_path=strict_policy(ledger))
    materialized = dg.materialize(
        [promotion_timeline],
        resources={"ledger": ledger.resources()["ledger"]},
        instance=dg.DagsterInstance.ephemeral(),
    )
    metadata = {
        k: v.value
        for k, v in materialized.asset_materializations_for_node("promotion_timeline")[0].metadata.items()
    }
    summary = str(metadata["summary"])
    assert (metadata["rollbacks"], metadata["halts"], metadata["lanes_halted"]) == (1, 1, 1)
    assert f"| {LANE} | paper | {previous} | yes |" in summary
    assert f"| rollback | {champion} | {previous} | live_l1 → paper | {rules.ACTOR} |" in summary
    assert f"| halt | {previous} | {previous} | paper → paper | {rules.ACTOR} |" in summary
    incidents = summary.split("## Rollbacks and halts", 1)[1]
    assert (
        f"| rollback | {rules.TRIGGER} | {rules.ACTOR} | {champion}@live_l1 | {previous}@paper |" in incidents
    )
    assert (
        f"| halt | {rules.TRIGGER} | {rules.ACTOR} | {previous}@paper | {previous}@paper (halted) |"
        in incidents
    )


# --- the sensor and the job ------------------------------------------------------------------------


def sensor_tick(ledger: GovernedLedger, cursor: str | None = None) -> dg.SensorResult:
    with dg.build_sensor_context(
        cursor=cursor, resources={"ledger": ledger.resources()["ledger"]}
    ) as context:
        result = live_reevaluation_sensor(context)
    assert isinstance(result, dg.SensorResult)
    return result


def test_the_sensor_launches_one_re_evaluation_per_window_closed_after_the_live_step(
    ledger: GovernedLedger,
) -> None:
    unknown_champion_live(ledger)
    first = sensor_tick(ledger)
    (request,) = first.run_requests or []
    assert request.run_key.startswith(f"live-reeval:{LANE}:{OPEN_WINDOW:%Y-%m-%dT%H:%M}Z:{UNKNOWN}:")
    config = request.run_config["ops"]["reevaluate_live_champion"]["config"]
    assert LiveReevaluationConfig(**config).window().start == OPEN_WINDOW
    assert not sensor_tick(ledger, first.cursor).run_requests


def test_the_sensor_ignores_windows_that_closed_before_the_live_step(ledger: GovernedLedger) -> None:
    after = OPEN_WINDOW.to_pydatetime() + dt.timedelta(hours=2)
    record(ledger, (UNKNOWN, Stage.PAPER, after), (UNKNOWN, Stage.LIVE_L1, after + dt.timedelta(hours=1)))
    assert not sensor_tick(ledger).run_requests


def test_the_sensor_ignores_a_lane_below_live(ledger: GovernedLedger) -> None:
    record(ledger, (UNKNOWN, Stage.PAPER, OPEN_WINDOW.to_pydatetime() - dt.timedelta(hours=2)))
    assert not sensor_tick(ledger).run_requests


def test_the_job_rolls_back_and_halts_from_the_sensors_request_without_a_human(
    ledger: GovernedLedger,
) -> None:
    unknown_champion_live(ledger)
    (request,) = sensor_tick(ledger).run_requests or []
    ran = live_reevaluation_job.execute_in_process(
        run_config=request.run_config, resources=ledger.resources()
    )
    assert ran.success
    assert ran.output_for_node("reevaluate_live_champion") == ReevaluationOutcome.ROLLED_BACK
    assert [t["transition_type"] for t in transitions(ledger)][-2:] == ["rollback", "halt"]
    assert lane_state(ledger).halted
    assert len(ledger.rows("alert_deliveries")) == 2  # one page per incident (rollback, halt)
