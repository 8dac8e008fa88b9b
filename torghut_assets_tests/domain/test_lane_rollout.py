"""Per-lane rollout state as a replayable stack of placements (docs/promotion.md, "Rollback and halt")."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import pytest

from torghut_assets.domain.lane_rollout import (
    LANE_ALREADY_HALTED,
    LANE_CHAMPION_ABOVE_PAPER,
    LANE_HALTED,
    LANE_NOT_HALTED,
    NOTHING_TO_ROLL_BACK,
    STAGE_NOT_NEXT,
    LaneRollout,
    Placement,
    RollbackPlan,
    Transition,
    TransitionRefused,
    next_stage,
    replay_lane,
    stage_mode,
)
from torghut_assets.domain.stages import STAGE_ORDER, Stage, TransitionType

LANE = "macd_rsi"
CHAMPION = "cand-4f1c0a9e2b7d-a"
CHALLENGER = "cand-9b03e5d17c42-b"
THIRD = "cand-c7a2e90f1d35-c"
T0 = dt.datetime(2026, 3, 2, 15, 0, tzinfo=dt.UTC)
OPERATOR = "alice"


def at(hours: int) -> dt.datetime:
    return T0 + dt.timedelta(hours=hours)


def lane_at(stage: Stage, candidate: str = CHAMPION) -> LaneRollout:
    """A lane whose champion climbed the ladder one step at a time up to `stage`."""
    lane = LaneRollout(LANE)
    for step, target in enumerate(STAGE_ORDER[1 : STAGE_ORDER.index(stage) + 1]):
        lane.advance(candidate, target, at=at(step), reason="gates pass", actor=OPERATOR)
    return lane


def refusal(excinfo: pytest.ExceptionInfo[TransitionRefused]) -> str:
    return excinfo.value.code


# --- advance ----------------------------------------------------------------------------------------


def test_a_new_lane_has_no_champion_and_is_in_shadow() -> None:
    lane = LaneRollout(LANE)
    assert lane.active is None
    assert lane.stage is Stage.SHADOW
    assert lane.stage_of(CHAMPION) is Stage.SHADOW
    assert not lane.halted


def test_advance_moves_the_candidate_exactly_one_stage_up() -> None:
    lane = LaneRollout(LANE)
    transition = lane.advance(CHAMPION, Stage.PAPER, at=T0, reason="gates pass", actor=OPERATOR)
    assert lane.active == Placement(CHAMPION, Stage.PAPER)
    assert (transition.transition_type, transition.from_stage, transition.to_stage) == (
        TransitionType.ADVANCE,
        Stage.SHADOW,
        Stage.PAPER,
    )
    assert transition.candidate_id == CHAMPION
    lane.advance(CHAMPION, Stage.LIVE_L1, at=at(1), reason="gates pass", actor=OPERATOR)
    assert lane.stage is Stage.LIVE_L1


@pytest.mark.parametrize(
    ("start", "target"),
    [
        (Stage.SHADOW, Stage.LIVE_L1),
        (Stage.PAPER, Stage.LIVE_L2),
        (Stage.LIVE_L1, Stage.LIVE_L3),
        (Stage.PAPER, Stage.PAPER),
        (Stage.LIVE_L2, Stage.LIVE_L1),
    ],
)
def test_advance_refuses_skips_stays_and_downward_moves(start: Stage, target: Stage) -> None:
    lane = lane_at(start)
    before = list(lane.stack)
    with pytest.raises(TransitionRefused) as excinfo:
        lane.advance(CHAMPION, target, at=at(9), reason="skip", actor=OPERATOR)
    assert refusal(excinfo) == STAGE_NOT_NEXT
    assert lane.stack == before


def test_challenger_enters_at_paper_and_demotes_a_paper_champion() -> None:
    lane = lane_at(Stage.PAPER)
    lane.advance(CHALLENGER, Stage.PAPER, at=at(5), reason="challenger gates pass", actor=OPERATOR)
    assert lane.active == Placement(CHALLENGER, Stage.PAPER)
    assert lane.stage_of(CHAMPION) is Stage.SHADOW


def test_challenger_may_not_enter_above_paper() -> None:
    lane = lane_at(Stage.PAPER)
    with pytest.raises(TransitionRefused) as excinfo:
        lane.advance(CHALLENGER, Stage.LIVE_L1, at=at(5), reason="skip", actor=OPERATOR)
    assert refusal(excinfo) == STAGE_NOT_NEXT


@pytest.mark.parametrize("champion_stage", [Stage.LIVE_L1, Stage.LIVE_L2, Stage.LIVE_L3])
def test_challenger_is_refused_while_the_champion_is_live(champion_stage: Stage) -> None:
    lane = lane_at(champion_stage)
    with pytest.raises(TransitionRefused) as excinfo:
        lane.advance(CHALLENGER, Stage.PAPER, at=at(9), reason="challenger", actor=OPERATOR)
    assert refusal(excinfo) == LANE_CHAMPION_ABOVE_PAPER
    assert lane.active == Placement(CHAMPION, champion_stage)


def test_challenger_may_enter_once_the_live_champion_is_rolled_back() -> None:
    lane = lane_at(Stage.LIVE_L1)
    lane.rollback(at=at(5), reason="drift", actor=OPERATOR)
    lane.advance(CHALLENGER, Stage.PAPER, at=at(6), reason="challenger", actor=OPERATOR)
    assert lane.active == Placement(CHALLENGER, Stage.PAPER)


# --- rollback ---------------------------------------------------------------------------------------


def champion_then_challenger_at(stage: Stage) -> LaneRollout:
    """CHAMPION verified at paper, then CHALLENGER replaced it and climbed one step at a time to `stage`."""
    lane = lane_at(Stage.PAPER)
    lane.advance(CHALLENGER, Stage.PAPER, at=at(5), reason="challenger gates pass", actor=OPERATOR)
    for step, target in enumerate(STAGE_ORDER[2 : STAGE_ORDER.index(stage) + 1]):
        lane.advance(CHALLENGER, target, at=at(6 + step), reason="gates pass", actor=OPERATOR)
    return lane


def test_rollback_restores_the_previous_champion_across_several_stage_steps() -> None:
    lane = champion_then_challenger_at(Stage.LIVE_L2)
    transition = lane.rollback(at=at(20), reason="live gates failed", actor="live_reevaluation")
    assert lane.active == Placement(CHAMPION, Stage.PAPER)
    assert lane.stage_of(CHALLENGER) is Stage.SHADOW
    assert (transition.transition_type, transition.candidate_id) == (TransitionType.ROLLBACK, CHAMPION)
    assert (transition.from_stage, transition.to_stage) == (Stage.LIVE_L2, Stage.PAPER)


def test_rollback_removes_the_champions_whole_climb_not_one_stage_step() -> None:
    lane = lane_at(Stage.LIVE_L2)
    transition = lane.rollback(at=at(5), reason="performance_drawdown_exceeded", actor="drift-sensor")
    assert lane.stack == []
    assert (transition.candidate_id, transition.from_stage, transition.to_stage) == (
        CHAMPION,
        Stage.LIVE_L2,
        Stage.SHADOW,
    )


def test_rollback_of_a_first_candidate_still_climbing_leaves_the_lane_flat() -> None:
    lane = lane_at(Stage.LIVE_L1)
    lane.rollback(at=at(5), reason="paper fills diverge", actor=OPERATOR)
    assert lane.active is None
    assert lane.stage is Stage.SHADOW


def test_previous_champion_is_the_placement_below_the_champions_climb() -> None:
    assert LaneRollout(LANE).previous_champion is None
    assert lane_at(Stage.LIVE_L3).previous_champion is None
    assert champion_then_challenger_at(Stage.LIVE_L1).previous_champion == Placement(CHAMPION, Stage.PAPER)


def test_rollback_plan_names_the_climb_and_the_restored_champion_without_moving_the_lane() -> None:
    lane = champion_then_challenger_at(Stage.LIVE_L1)
    before = list(lane.stack)
    assert lane.rollback_plan() == RollbackPlan(
        leaving=Placement(CHALLENGER, Stage.LIVE_L1),
        removed=(Placement(CHALLENGER, Stage.LIVE_L1), Placement(CHALLENGER, Stage.PAPER)),
        restored=Placement(CHAMPION, Stage.PAPER),
    )
    assert lane.stack == before


def test_a_candidate_that_came_back_is_rolled_back_to_the_champion_it_replaced_the_second_time() -> None:
    lane = champion_then_challenger_at(Stage.PAPER)
    lane.advance(CHAMPION, Stage.PAPER, at=at(10), reason="back on top", actor=OPERATOR)
    lane.advance(CHAMPION, Stage.LIVE_L1, at=at(11), reason="gates pass", actor=OPERATOR)
    lane.rollback(at=at(12), reason="live gates failed", actor=OPERATOR)
    assert lane.active == Placement(CHALLENGER, Stage.PAPER)
    lane.rollback(at=at(13), reason="challenger drift", actor=OPERATOR)
    assert lane.active == Placement(CHAMPION, Stage.PAPER)


def test_rollback_restores_the_previous_champion() -> None:
    lane = lane_at(Stage.PAPER)
    lane.advance(CHALLENGER, Stage.PAPER, at=at(5), reason="challenger", actor=OPERATOR)
    transition = lane.rollback(at=at(6), reason="challenger drift", actor=OPERATOR)
    assert lane.active == Placement(CHAMPION, Stage.PAPER)
    assert lane.stage_of(CHALLENGER) is Stage.SHADOW
    assert transition.candidate_id == CHAMPION
    assert transition.to_stage is Stage.PAPER


def test_rollback_of_the_first_advance_leaves_shadow_with_no_champion() -> None:
    lane = lane_at(Stage.PAPER)
    transition = lane.rollback(at=at(5), reason="paper fills diverge", actor=OPERATOR)
    assert lane.active is None
    assert lane.stage is Stage.SHADOW
    assert (transition.candidate_id, transition.from_stage, transition.to_stage) == (
        CHAMPION,
        Stage.PAPER,
        Stage.SHADOW,
    )


def test_rollback_with_nothing_promoted_is_refused() -> None:
    lane = LaneRollout(LANE)
    with pytest.raises(TransitionRefused) as excinfo:
        lane.rollback(at=T0, reason="drift", actor=OPERATOR)
    assert refusal(excinfo) == NOTHING_TO_ROLL_BACK


def test_rollback_clears_a_halt() -> None:
    lane = lane_at(Stage.LIVE_L1)
    lane.halt(at=at(5), reason="reconciliation mismatch", actor=OPERATOR)
    lane.rollback(at=at(6), reason="reconciliation mismatch", actor=OPERATOR)
    assert not lane.halted
    assert lane.halted_since is None
    assert lane.active is None


# --- halt and resume --------------------------------------------------------------------------------


def test_halt_freezes_the_lane_where_it_is() -> None:
    lane = lane_at(Stage.LIVE_L1)
    transition = lane.halt(at=at(5), reason="incident sev2", actor=OPERATOR)
    assert lane.halted
    assert lane.halted_since == at(5)
    assert lane.active == Placement(CHAMPION, Stage.LIVE_L1)
    assert (transition.transition_type, transition.candidate_id) == (TransitionType.HALT, CHAMPION)
    assert transition.from_stage is transition.to_stage is Stage.LIVE_L1


def test_halt_blocks_advances() -> None:
    lane = lane_at(Stage.PAPER)
    lane.halt(at=at(5), reason="incident", actor=OPERATOR)
    with pytest.raises(TransitionRefused) as excinfo:
        lane.advance(CHAMPION, Stage.LIVE_L1, at=at(6), reason="gates pass", actor=OPERATOR)
    assert refusal(excinfo) == LANE_HALTED
    with pytest.raises(TransitionRefused) as excinfo:
        lane.check_advance(CHALLENGER, Stage.PAPER)
    assert refusal(excinfo) == LANE_HALTED


def test_halting_a_halted_lane_is_refused() -> None:
    lane = lane_at(Stage.PAPER)
    lane.halt(at=at(5), reason="incident", actor=OPERATOR)
    with pytest.raises(TransitionRefused) as excinfo:
        lane.halt(at=at(6), reason="incident again", actor=OPERATOR)
    assert refusal(excinfo) == LANE_ALREADY_HALTED
    assert lane.halted_since == at(5)


def test_resume_lifts_a_halt_and_advances_are_allowed_again() -> None:
    lane = lane_at(Stage.PAPER)
    lane.halt(at=at(5), reason="incident", actor=OPERATOR)
    transition = lane.resume(at=at(6), reason="incident closed", actor=OPERATOR)
    assert not lane.halted
    assert (transition.transition_type, transition.candidate_id, transition.to_stage) == (
        TransitionType.RESUME,
        CHAMPION,
        Stage.PAPER,
    )
    lane.advance(CHAMPION, Stage.LIVE_L1, at=at(7), reason="gates pass", actor=OPERATOR)
    assert lane.stage is Stage.LIVE_L1


def test_resume_when_not_halted_is_refused() -> None:
    lane = lane_at(Stage.PAPER)
    with pytest.raises(TransitionRefused) as excinfo:
        lane.resume(at=at(5), reason="nothing to resume", actor=OPERATOR)
    assert refusal(excinfo) == LANE_NOT_HALTED


def test_an_empty_lane_can_be_halted_with_no_candidate() -> None:
    lane = LaneRollout(LANE)
    transition = lane.halt(at=T0, reason="market data outage", actor=OPERATOR)
    assert transition.candidate_id is None
    assert transition.from_stage is transition.to_stage is Stage.SHADOW


def test_refusal_carries_its_code_and_is_a_value_error() -> None:
    with pytest.raises(ValueError, match=r"^nothing_to_roll_back: "):
        LaneRollout(LANE).rollback(at=T0, reason="drift", actor=OPERATOR)


# --- replay -----------------------------------------------------------------------------------------


def recorded_history() -> tuple[LaneRollout, list[Transition]]:
    lane = LaneRollout(LANE)
    log = [
        lane.advance(CHAMPION, Stage.PAPER, at=at(0), reason="gates pass", actor=OPERATOR),
        lane.advance(CHAMPION, Stage.LIVE_L1, at=at(1), reason="gates pass", actor=OPERATOR),
        lane.halt(at=at(2), reason="incident", actor=OPERATOR),
        lane.resume(at=at(3), reason="incident closed", actor=OPERATOR),
        lane.rollback(at=at(4), reason="performance_cost_bps_exceeded", actor="drift-sensor"),
        lane.advance(CHALLENGER, Stage.PAPER, at=at(5), reason="challenger", actor=OPERATOR),
        lane.advance(CHALLENGER, Stage.LIVE_L1, at=at(6), reason="gates pass", actor=OPERATOR),
        lane.halt(at=at(7), reason="reconciliation mismatch", actor=OPERATOR),
    ]
    return lane, log


def test_replaying_the_recorded_transitions_reproduces_the_same_state() -> None:
    live, log = recorded_history()
    replayed = replay_lane(LANE, log)
    assert replayed == live
    assert replayed.active == Placement(CHALLENGER, Stage.LIVE_L1)
    assert replayed.halted_since == at(7)


def test_replaying_every_prefix_matches_the_state_at_that_point() -> None:
    _, log = recorded_history()
    lane = LaneRollout(LANE)
    for n, transition in enumerate(log, start=1):
        lane.apply(transition)
        assert replay_lane(LANE, log[:n]) == lane


def test_replay_restores_exactly_the_placement_a_recorded_rollback_names() -> None:
    """A log written when a rollback went back one stage still replays to what was recorded."""
    log = [
        Transition(LANE, TransitionType.ADVANCE, CHAMPION, Stage.SHADOW, Stage.PAPER, at(0), "", OPERATOR),
        Transition(LANE, TransitionType.ADVANCE, CHAMPION, Stage.PAPER, Stage.LIVE_L1, at(1), "", OPERATOR),
        Transition(LANE, TransitionType.ADVANCE, CHAMPION, Stage.LIVE_L1, Stage.LIVE_L2, at(2), "", OPERATOR),
        Transition(
            LANE, TransitionType.ROLLBACK, CHAMPION, Stage.LIVE_L2, Stage.LIVE_L1, at(3), "", OPERATOR
        ),
        Transition(LANE, TransitionType.ADVANCE, CHAMPION, Stage.LIVE_L1, Stage.LIVE_L2, at(4), "", OPERATOR),
    ]
    assert replay_lane(LANE, log[:4]).active == Placement(CHAMPION, Stage.LIVE_L1)
    assert replay_lane(LANE, log).active == Placement(CHAMPION, Stage.LIVE_L2)


def test_replay_refuses_a_rollback_to_a_placement_the_lane_never_held() -> None:
    log = [
        Transition(LANE, TransitionType.ADVANCE, CHAMPION, Stage.SHADOW, Stage.PAPER, at(0), "", OPERATOR),
        Transition(LANE, TransitionType.ROLLBACK, THIRD, Stage.PAPER, Stage.PAPER, at(1), "", OPERATOR),
    ]
    with pytest.raises(TransitionRefused) as excinfo:
        replay_lane(LANE, log)
    assert refusal(excinfo) == NOTHING_TO_ROLL_BACK


def test_replay_refuses_a_log_that_breaks_the_rules() -> None:
    _, log = recorded_history()
    skip = dataclasses.replace(log[0], to_stage=Stage.LIVE_L1)
    with pytest.raises(TransitionRefused) as excinfo:
        replay_lane(LANE, [skip])
    assert refusal(excinfo) == STAGE_NOT_NEXT
    with pytest.raises(TransitionRefused) as excinfo:
        replay_lane(LANE, [log[0], log[2], log[2]])
    assert refusal(excinfo) == LANE_ALREADY_HALTED
    with pytest.raises(ValueError, match="unknown transition type"):
        replay_lane(LANE, [dataclasses.replace(log[0], transition_type="promote")])


# --- transition ids ---------------------------------------------------------------------------------


def sample_transition() -> Transition:
    return Transition(
        lane=LANE,
        transition_type=TransitionType.ADVANCE,
        candidate_id=CHAMPION,
        from_stage=Stage.PAPER,
        to_stage=Stage.LIVE_L1,
        at=T0,
        reason="gates pass",
        actor=OPERATOR,
    )


def test_transition_id_is_deterministic() -> None:
    tid = sample_transition().transition_id()
    assert tid.startswith("wprt-")
    assert len(tid) == len("wprt-") + 24
    assert tid == sample_transition().transition_id()
    same_instant = dataclasses.replace(
        sample_transition(), at=T0.astimezone(dt.timezone(dt.timedelta(hours=-5)))
    )
    assert same_instant.transition_id() == tid


@pytest.mark.parametrize(
    "change",
    [
        {"lane": "ema_trend"},
        {"transition_type": TransitionType.ROLLBACK},
        {"candidate_id": CHALLENGER},
        {"candidate_id": None},
        {"from_stage": Stage.SHADOW},
        {"to_stage": Stage.LIVE_L2},
        {"at": T0 + dt.timedelta(seconds=1)},
        {"reason": "gates pass, approved"},
        {"actor": "bob"},
    ],
)
def test_transition_id_differs_when_any_field_differs(change: dict[str, Any]) -> None:
    base = sample_transition()
    assert dataclasses.replace(base, **change).transition_id() != base.transition_id()


# --- stage helpers ----------------------------------------------------------------------------------


def test_stage_mode_maps_every_live_stage_to_live() -> None:
    assert stage_mode(Stage.SHADOW) == "shadow"
    assert stage_mode(Stage.PAPER) == "paper"
    assert [stage_mode(s) for s in (Stage.LIVE_L1, Stage.LIVE_L2, Stage.LIVE_L3)] == ["live"] * 3


def test_next_stage_is_one_step_up_and_none_at_the_top() -> None:
    assert [next_stage(s) for s in STAGE_ORDER] == [*STAGE_ORDER[1:], None]
