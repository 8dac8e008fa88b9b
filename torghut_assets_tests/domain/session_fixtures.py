"""Shared builders for the decision, signal-quality and paper-broker specifications.

Everything comes from the built-in market simulator (default seed) so inputs look like what the lane
window pipeline really sees. Builders are plain functions: each test module wraps the expensive one
(`simulate_session`) in a module-scoped fixture so a session is generated once per module.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

import pandas as pd

from torghut_assets.adapters.market_simulator import MarketSimulator
from torghut_assets.domain.decisions import TradeDecision, plan_session_decisions
from torghut_assets.domain.lanes import LANES, LaneConfig
from torghut_assets.domain.market_calendar import session_bounds
from torghut_assets.domain.strategies import StrategySpec, default_strategy

# A plain Tuesday in EST (US DST starts 2026-03-08): 09:30-16:00 ET = 14:30-21:00 UTC.
SESSION_DAY = dt.date(2026, 3, 3)


@dataclass(frozen=True)
class SimulatedSession:
    day: dt.date
    open: pd.Timestamp
    close: pd.Timestamp
    signals: pd.DataFrame
    bars: pd.DataFrame
    universe: tuple[str, ...]


def simulate_session(day: dt.date = SESSION_DAY) -> SimulatedSession:
    """Signals with event_ts in [open, close) and the session's 1-minute bars, from the default simulator."""
    bounds = session_bounds(day)
    assert bounds is not None, f"{day} is not a trading session"
    open_, close = bounds
    sim = MarketSimulator()
    return SimulatedSession(
        day=day,
        open=open_,
        close=close,
        signals=sim.signals(open_, close),
        bars=sim.bars(open_, close),
        universe=sim.universe,
    )


def lane_and_spec(lane_name: str, **limits: object) -> tuple[LaneConfig, StrategySpec]:
    """A configured lane (optionally with tightened limits) and its default strategy."""
    lane = dataclasses.replace(LANES[lane_name], **limits) if limits else LANES[lane_name]
    return lane, default_strategy(lane.strategy_type)


def plan(session: SimulatedSession, lane_name: str, **limits: object) -> list[TradeDecision]:
    lane, spec = lane_and_spec(lane_name, **limits)
    return plan_session_decisions(session.signals, spec, lane, session.close)


def planned(decisions: Iterable[TradeDecision]) -> list[TradeDecision]:
    return [d for d in decisions if d.status == "planned"]


def rejected(decisions: Iterable[TradeDecision]) -> list[TradeDecision]:
    return [d for d in decisions if d.status == "rejected"]


def net_planned_qty(decisions: Iterable[TradeDecision]) -> dict[str, int]:
    """Signed shares per symbol if every planned decision filled in full."""
    net: dict[str, int] = defaultdict(int)
    for d in planned(decisions):
        net[d.symbol] += d.qty if d.action == "buy" else -d.qty
    return dict(net)


def open_position_counts(decisions: Iterable[TradeDecision]) -> list[int]:
    """Number of symbols held after each planned decision, replayed in order."""
    held: dict[str, int] = defaultdict(int)
    counts: list[int] = []
    for d in planned(decisions):
        held[d.symbol] += d.qty if d.action == "buy" else -d.qty
        counts.append(sum(1 for q in held.values() if q != 0))
    return counts


def utc(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")
