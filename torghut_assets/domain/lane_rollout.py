"""Per-lane rollout state, replayed from the append-only transition log (docs/promotion.md, "Rollback and
halt").

A lane has at most one active (champion) candidate at one stage. The log is a stack:

* `advance` pushes (candidate, stage): the same candidate one stage up, or a challenger entering
  `paper` while the lane is at most at `paper` (the previous champion is demoted);
* `rollback` restores the lane's *previous verified champion* and clears a halt. It pops the current
  champion's whole climb (every stage step it took since it became champion), not one step;
* `halt` freezes the lane where it is (no new entries, risk-reducing exits only, no promotions);
* `resume` lifts a halt.

**Previous verified champion.** The placement right below the current champion's climb in the stack:
the most recent earlier placement of a *different* candidate, at the stage it held when it was
replaced. Every placement in the stack is verified by construction: only `promotion_job` writes an
`advance`, and only when the candidate passed its gates for that stage (or a named approver's scoped
approval lifted a threshold failure; hard blocks and missing evidence are never lifted), and a
placement that was rolled back is no longer in the stack. With no such placement the lane goes flat:
shadow, no champion, the default strategy. A candidate still climbing is treated the same way: rolling
back a challenger at paper restores the champion it replaced, and rolling back the lane's first
candidate (at paper or live) leaves it flat.

Because the state is a pure function of the log, the timeline view, the gate inputs and a replay all
agree on what was live when. A replayed rollback restores exactly the placement it recorded (its
candidate and `to_stage`), so logs written when a rollback went back one stage still replay.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum

from torghut_assets.domain.evidence import sha256_hex
from torghut_assets.domain.gates import TargetMode
from torghut_assets.domain.stages import STAGE_ORDER, Stage, TransitionType, stage_index

TRANSITION_PREFIX = "wprt-"
TRANSITION_TYPES: tuple[TransitionType, ...] = tuple(TransitionType)


class TransitionStatus(StrEnum):
    """The `status` a transition is logged with, one per transition type (`STATUS_BY_TYPE`)."""

    PASSED = "passed"
    ROLLED_BACK = "rolled_back"
    HALTED = "halted"
    RESUMED = "resumed"


STATUS_BY_TYPE: dict[TransitionType, TransitionStatus] = {
    TransitionType.ADVANCE: TransitionStatus.PASSED,
    TransitionType.ROLLBACK: TransitionStatus.ROLLED_BACK,
    TransitionType.HALT: TransitionStatus.HALTED,
    TransitionType.RESUME: TransitionStatus.RESUMED,
}

# Stable refusal codes.
LANE_HALTED = "lane_halted"
STAGE_NOT_NEXT = "stage_not_next_step"
CHALLENGER_MUST_ENTER_PAPER = "challenger_must_enter_at_paper"
LANE_CHAMPION_ABOVE_PAPER = "lane_champion_above_paper"
NOTHING_TO_ROLL_BACK = "nothing_to_roll_back"
LANE_NOT_HALTED = "lane_not_halted"
LANE_ALREADY_HALTED = "lane_already_halted"


class TransitionRefused(ValueError):
    """The requested transition is not allowed from the lane's current state; `code` says why."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code


def transition_type(value: object) -> TransitionType:
    """A transition type read back from the log; anything else is refused by name."""
    if value not in TRANSITION_TYPES:
        raise ValueError(f"unknown transition type {value!r}; expected one of {', '.join(TRANSITION_TYPES)}")
    return TransitionType(str(value))


@dataclass(frozen=True)
class Placement:
    candidate_id: str
    stage: Stage


@dataclass(frozen=True)
class RollbackPlan:
    """What a rollback of the lane does now: the champion leaving, its climb, and what is restored."""

    leaving: Placement
    removed: tuple[Placement, ...]  # the leaving champion's climb, newest first
    restored: Placement | None  # the previous verified champion; None = flat (shadow, no champion)

    @property
    def to_stage(self) -> Stage:
        return self.restored.stage if self.restored else Stage.SHADOW


@dataclass(frozen=True)
class Transition:
    lane: str
    transition_type: TransitionType
    candidate_id: str | None
    from_stage: Stage
    to_stage: Stage
    at: dt.datetime
    reason: str
    actor: str

    def transition_id(self) -> str:
        return (
            TRANSITION_PREFIX
            + sha256_hex(
                {
                    "lane": self.lane,
                    "transition_type": self.transition_type,
                    "candidate_id": self.candidate_id,
                    "from_stage": self.from_stage.value,
                    "to_stage": self.to_stage.value,
                    "at": self.at,
                    "reason": self.reason,
                    "actor": self.actor,
                }
            )[:24]
        )


@dataclass
class LaneRollout:
    lane: str
    stack: list[Placement] = field(default_factory=list)
    halted_since: dt.datetime | None = None

    @property
    def halted(self) -> bool:
        return self.halted_since is not None

    @property
    def active(self) -> Placement | None:
        return self.stack[-1] if self.stack else None

    @property
    def stage(self) -> Stage:
        return self.active.stage if self.active else Stage.SHADOW

    def stage_of(self, candidate_id: str) -> Stage:
        """A non-champion candidate is in shadow (intents only)."""
        active = self.active
        return active.stage if active and active.candidate_id == candidate_id else Stage.SHADOW

    def check_advance(self, candidate_id: str, to_stage: Stage) -> None:
        if self.halted:
            raise TransitionRefused(LANE_HALTED, f"lane {self.lane} is halted; resume or roll back first")
        current = self.stage_of(candidate_id)
        if stage_index(to_stage) != stage_index(current) + 1:
            raise TransitionRefused(
                STAGE_NOT_NEXT,
                f"{candidate_id} is at {current.value}; the next stage is not {to_stage.value}",
            )
        active = self.active
        if active is not None and active.candidate_id != candidate_id:
            if to_stage != Stage.PAPER:  # pragma: no cover - implied by the one-step rule from shadow
                raise TransitionRefused(CHALLENGER_MUST_ENTER_PAPER, f"{candidate_id} must enter at paper")
            if stage_index(active.stage) > stage_index(Stage.PAPER):
                raise TransitionRefused(
                    LANE_CHAMPION_ABOVE_PAPER,
                    f"lane {self.lane} runs {active.candidate_id} at {active.stage.value}; roll it back to "
                    "paper before a challenger replaces it",
                )

    def advance(
        self, candidate_id: str, to_stage: Stage, *, at: dt.datetime, reason: str, actor: str
    ) -> Transition:
        self.check_advance(candidate_id, to_stage)
        transition = Transition(
            self.lane,
            TransitionType.ADVANCE,
            candidate_id,
            self.stage_of(candidate_id),
            to_stage,
            at,
            reason,
            actor,
        )
        self.stack.append(Placement(candidate_id, to_stage))
        return transition

    @property
    def previous_champion(self) -> Placement | None:
        """The previous verified champion (see the module doc); None when a rollback leaves the lane flat."""
        return self.rollback_plan().restored if self.stack else None

    def rollback_plan(self) -> RollbackPlan:
        """What `rollback` would do, without doing it; refuses a lane with nothing promoted."""
        if not self.stack:
            raise TransitionRefused(NOTHING_TO_ROLL_BACK, f"lane {self.lane} has no promoted candidate")
        leaving = self.stack[-1]
        depth = 0
        for placement in reversed(self.stack):
            if placement.candidate_id != leaving.candidate_id:
                break
            depth += 1
        remaining = self.stack[: len(self.stack) - depth]
        return RollbackPlan(
            leaving=leaving,
            removed=tuple(reversed(self.stack[len(remaining) :])),
            restored=remaining[-1] if remaining else None,
        )

    def rollback(self, *, at: dt.datetime, reason: str, actor: str) -> Transition:
        """Restore the previous verified champion (or go flat) and clear a halt."""
        plan = self.rollback_plan()
        del self.stack[len(self.stack) - len(plan.removed) :]
        self.halted_since = None
        return Transition(
            self.lane,
            TransitionType.ROLLBACK,
            plan.restored.candidate_id if plan.restored else plan.leaving.candidate_id,
            plan.leaving.stage,
            plan.to_stage,
            at,
            reason,
            actor,
        )

    def _restore_recorded(self, transition: Transition) -> None:
        """Replay a stored rollback: pop until the placement it recorded is on top (flat for shadow)."""
        if not self.stack:
            raise TransitionRefused(NOTHING_TO_ROLL_BACK, f"lane {self.lane} has no promoted candidate")
        self.stack.pop()
        if transition.to_stage == Stage.SHADOW:
            self.stack.clear()
        else:
            target = Placement(str(transition.candidate_id), transition.to_stage)
            while self.stack and self.stack[-1] != target:
                self.stack.pop()
            if not self.stack:
                raise TransitionRefused(
                    NOTHING_TO_ROLL_BACK,
                    f"lane {self.lane}: the recorded rollback target {target} is not in the lane's history",
                )
        self.halted_since = None

    def halt(self, *, at: dt.datetime, reason: str, actor: str) -> Transition:
        if self.halted:
            raise TransitionRefused(LANE_ALREADY_HALTED, f"lane {self.lane} is already halted")
        self.halted_since = at
        return self._in_place(TransitionType.HALT, at, reason, actor)

    def resume(self, *, at: dt.datetime, reason: str, actor: str) -> Transition:
        if not self.halted:
            raise TransitionRefused(LANE_NOT_HALTED, f"lane {self.lane} is not halted")
        self.halted_since = None
        return self._in_place(TransitionType.RESUME, at, reason, actor)

    def _in_place(self, kind: TransitionType, at: dt.datetime, reason: str, actor: str) -> Transition:
        active = self.active
        candidate = active.candidate_id if active else None
        return Transition(self.lane, kind, candidate, self.stage, self.stage, at, reason, actor)

    def apply(self, transition: Transition) -> None:
        """Re-apply a stored transition (replay); refuses a log that does not follow the rules."""
        kind = transition.transition_type
        if kind == TransitionType.ADVANCE:
            if transition.candidate_id is None:
                raise TransitionRefused(STAGE_NOT_NEXT, "advance without a candidate")
            self.advance(transition.candidate_id, transition.to_stage, at=transition.at, reason="", actor="")
        elif kind == TransitionType.ROLLBACK:
            self._restore_recorded(transition)
        elif kind == TransitionType.HALT:
            self.halt(at=transition.at, reason="", actor="")
        elif kind == TransitionType.RESUME:
            self.resume(at=transition.at, reason="", actor="")
        else:
            raise ValueError(f"unknown transition type {kind!r}")


def replay_lane(lane: str, transitions: Iterable[Transition]) -> LaneRollout:
    """The lane's state after its transitions, applied in the given (recorded) order."""
    state = LaneRollout(lane)
    for transition in transitions:
        state.apply(transition)
    return state


def stage_mode(stage: Stage) -> TargetMode:
    """The gate target mode of a stage: shadow, paper or live."""
    return TargetMode(stage.value) if stage in (Stage.SHADOW, Stage.PAPER) else TargetMode.LIVE


def next_stage(stage: Stage) -> Stage | None:
    index = stage_index(stage)
    return STAGE_ORDER[index + 1] if index + 1 < len(STAGE_ORDER) else None
