"""Promotion stages, per-stage caps, transitions and auto-freeze (docs/promotion.md, "Stage caps",
"Deny vs override").

Stages are ordered shadow < paper < live_l1 < live_l2 < live_l3. A candidate advances exactly one
step at a time; a rollback goes one step down (shadow stays shadow); a halt stays where it is.
The caps are the table in docs/promotion.md, "Stage caps"; `None` means "policy file / unbounded at this
layer".
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from torghut_assets.domain.evidence import sha256_hex
from torghut_assets.domain.lanes import LaneConfig

TRANSITION_ID_PREFIX = "wprt-"
AUTO_FREEZE_WINDOW = dt.timedelta(days=7)
AUTO_FREEZE_THRESHOLD = 3


class TransitionType(StrEnum):
    """How a candidate's (or lane's) stage moves: one step up, back, frozen in place, or unfrozen."""

    ADVANCE = "advance"
    ROLLBACK = "rollback"
    HALT = "halt"
    RESUME = "resume"


ACTIONS: tuple[TransitionType, ...] = (TransitionType.ADVANCE, TransitionType.ROLLBACK, TransitionType.HALT)

# Stable cap-violation codes.
CAP_STAGE_SUBMITS_NO_ORDERS = "cap_stage_submits_no_orders"
CAP_MAX_SYMBOLS_EXCEEDED = "cap_max_symbols_exceeded"
CAP_ORDER_NOTIONAL_EXCEEDED = "cap_order_notional_exceeded"
CAP_GROSS_NOTIONAL_EXCEEDED = "cap_gross_notional_exceeded"
CAP_SYMBOL_EQUITY_PCT_EXCEEDED = "cap_symbol_equity_pct_exceeded"
CAP_GROSS_EQUITY_PCT_EXCEEDED = "cap_gross_equity_pct_exceeded"
CAP_EQUITY_UNAVAILABLE = "cap_equity_unavailable"
CAP_INPUT_INVALID = "cap_input_invalid"


class Stage(StrEnum):
    SHADOW = "shadow"
    PAPER = "paper"
    LIVE_L1 = "live_l1"
    LIVE_L2 = "live_l2"
    LIVE_L3 = "live_l3"


STAGE_ORDER: tuple[Stage, ...] = (Stage.SHADOW, Stage.PAPER, Stage.LIVE_L1, Stage.LIVE_L2, Stage.LIVE_L3)


@dataclass(frozen=True)
class StageCaps:
    submits_orders: bool
    paper_only: bool
    max_symbols: int | None = None
    max_notional_per_order: float | None = None
    max_gross_notional: float | None = None
    max_pct_equity_per_symbol: float | None = None
    max_pct_equity_gross: float | None = None


STAGE_CAPS: dict[Stage, StageCaps] = {
    Stage.SHADOW: StageCaps(submits_orders=False, paper_only=True),
    Stage.PAPER: StageCaps(submits_orders=True, paper_only=True),
    Stage.LIVE_L1: StageCaps(
        submits_orders=True,
        paper_only=False,
        max_symbols=3,
        max_notional_per_order=1_000.0,
        max_gross_notional=5_000.0,
        max_pct_equity_per_symbol=0.01,
    ),
    Stage.LIVE_L2: StageCaps(
        submits_orders=True, paper_only=False, max_notional_per_order=5_000.0, max_pct_equity_gross=0.10
    ),
    Stage.LIVE_L3: StageCaps(submits_orders=True, paper_only=False),
}


def stage_index(stage: Stage | str) -> int:
    """Position in the ladder; unknown names raise ValueError."""
    return STAGE_ORDER.index(Stage(stage))


def caps_for(stage: Stage | str) -> StageCaps:
    return STAGE_CAPS[Stage(stage)]


def capped_lane(lane: LaneConfig, stage: Stage | str) -> LaneConfig:
    """The lane's risk limits clamped to its stage's caps, so a live stage can never size above them."""
    caps = caps_for(stage)
    gross_caps = [lane.max_gross_notional]
    if caps.max_gross_notional is not None:
        gross_caps.append(caps.max_gross_notional)
    if caps.max_pct_equity_gross is not None:
        gross_caps.append(caps.max_pct_equity_gross * lane.equity)
    return dataclasses.replace(
        lane,
        max_notional_per_trade=min(lane.max_notional_per_trade, caps.max_notional_per_order or math.inf),
        max_gross_notional=min(gross_caps),
        max_position_pct_equity=min(lane.max_position_pct_equity, caps.max_pct_equity_per_symbol or math.inf),
        max_open_positions=min(lane.max_open_positions, caps.max_symbols or lane.max_open_positions),
    )


def can_advance(from_stage: Stage | str, to_stage: Stage | str) -> bool:
    """Exactly one step up; skipping a stage, staying or going down is not an advance."""
    return stage_index(to_stage) == stage_index(from_stage) + 1


def rollback_target(stage: Stage | str) -> Stage:
    """One step down; shadow is the floor."""
    return STAGE_ORDER[max(stage_index(stage) - 1, 0)]


def halt(stage: Stage | str) -> Stage:
    """A halt freezes the candidate where it is."""
    return Stage(stage)


def transition_id(
    candidate_id: str,
    from_stage: Stage | str,
    to_stage: Stage | str,
    *,
    action: TransitionType,
    reason: str,
    at: dt.datetime,
) -> str:
    """`wprt-` + sha256(canonical transition)[:24]; refuses transitions the ladder does not allow."""
    src, dst = Stage(from_stage), Stage(to_stage)
    if action not in ACTIONS:
        raise ValueError(f"unknown transition action {action!r}")
    allowed = {
        TransitionType.ADVANCE: can_advance(src, dst),
        TransitionType.ROLLBACK: dst == rollback_target(src),
        TransitionType.HALT: dst == src,
    }[action]
    if not allowed:
        raise ValueError(f"{action} from {src.value} to {dst.value} is not a valid transition")
    payload = {
        "candidate_id": candidate_id,
        "from_stage": src.value,
        "to_stage": dst.value,
        "action": action,
        "reason": reason,
        "at": at,
    }
    return TRANSITION_ID_PREFIX + sha256_hex(payload)[:24]


def auto_freeze(
    deny_times: Sequence[dt.datetime],
    now: dt.datetime,
    window: dt.timedelta = AUTO_FREEZE_WINDOW,
    threshold: int = AUTO_FREEZE_THRESHOLD,
) -> bool:
    """True once `threshold` consecutive denies fall within `window`; sticky until an override
    (docs/promotion.md, "Deny vs override").

    `deny_times` is the current run of consecutive `deny` decisions for one candidate hash (the caller
    resets it on any non-deny decision or an override). Denies after `now` are ignored.
    """
    if threshold < 1:
        raise ValueError("threshold must be >= 1")
    for value in (*deny_times, now):
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive timestamp {value!r}; auto-freeze needs UTC-aware times")
    times = sorted(t for t in deny_times if t <= now)
    return any(times[i + threshold - 1] - times[i] <= window for i in range(len(times) - threshold + 1))


def cap_violations(
    stage: Stage | str,
    orders_notional: Sequence[float],
    symbols: set[str],
    gross_notional: float,
    equity: float,
    max_symbol_notional: float,
) -> list[str]:
    """Codes for every cap the proposed exposure breaks at `stage` (empty = within caps; at-cap is ok)."""
    caps = caps_for(stage)
    violations: list[str] = []
    numbers = [*orders_notional, gross_notional, equity, max_symbol_notional]
    if not all(math.isfinite(x) for x in numbers):
        return [CAP_INPUT_INVALID]
    if not caps.submits_orders and (orders_notional or gross_notional > 0):
        violations.append(CAP_STAGE_SUBMITS_NO_ORDERS)
    if caps.max_symbols is not None and len(symbols) > caps.max_symbols:
        violations.append(CAP_MAX_SYMBOLS_EXCEEDED)
    if caps.max_notional_per_order is not None and any(
        abs(n) > caps.max_notional_per_order for n in orders_notional
    ):
        violations.append(CAP_ORDER_NOTIONAL_EXCEEDED)
    if caps.max_gross_notional is not None and abs(gross_notional) > caps.max_gross_notional:
        violations.append(CAP_GROSS_NOTIONAL_EXCEEDED)
    pct_caps = (caps.max_pct_equity_per_symbol, caps.max_pct_equity_gross)
    if any(c is not None for c in pct_caps) and equity <= 0:
        violations.append(CAP_EQUITY_UNAVAILABLE)
        return violations
    if (
        caps.max_pct_equity_per_symbol is not None
        and abs(max_symbol_notional) > caps.max_pct_equity_per_symbol * equity
    ):
        violations.append(CAP_SYMBOL_EQUITY_PCT_EXCEEDED)
    if caps.max_pct_equity_gross is not None and abs(gross_notional) > caps.max_pct_equity_gross * equity:
        violations.append(CAP_GROSS_EQUITY_PCT_EXCEEDED)
    return violations
