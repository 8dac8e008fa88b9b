"""An NYSE early close (13:00 ET) moves the lane's entry block and flatten time with it.

2026-11-27, the day after Thanksgiving, closes at 1:00 p.m. ET (NYSE Group's published 2026 early
closings). New York is on EST then, so the session is 14:30-18:00 UTC: entries stop at 12:50 ET
(17:50 UTC) and positions are flattened from 12:58 ET (17:58 UTC), not at 15:50 / 15:58.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from torghut_assets.domain.decisions import FLATTEN_RATIONALE, TradeDecision
from torghut_assets.domain.lanes import LANES
from torghut_assets_tests.domain.session_fixtures import (
    SimulatedSession,
    lane_and_spec,
    net_planned_qty,
    plan,
    planned,
    simulate_session,
)

EARLY_CLOSE_DAY = dt.date(2026, 11, 27)
LANE_NAMES = sorted(LANES)


def et(hour: int, minute: int) -> pd.Timestamp:
    return pd.Timestamp(dt.datetime(2026, 11, 27, hour, minute), tz="America/New_York")


@pytest.fixture(scope="module")
def session() -> SimulatedSession:
    return simulate_session(EARLY_CLOSE_DAY)


@pytest.fixture(scope="module")
def decisions(session: SimulatedSession) -> dict[str, list[TradeDecision]]:
    return {name: plan(session, name) for name in LANE_NAMES}


def test_the_session_closes_at_1pm_and_no_signal_follows(session: SimulatedSession) -> None:
    assert (session.open, session.close) == (et(9, 30), et(13, 0))
    assert session.signals["event_ts"].max() == et(12, 59)
    assert session.bars["ts"].max() == et(12, 59)


@pytest.mark.parametrize("lane_name", LANE_NAMES)
def test_positions_are_flattened_two_minutes_before_the_early_close(
    decisions: dict[str, list[TradeDecision]], lane_name: str
) -> None:
    lane, _ = lane_and_spec(lane_name)
    assert lane.session_close_flatten_minutes == 2
    flattens = [d for d in decisions[lane_name] if d.rationale == FLATTEN_RATIONALE]
    assert flattens, "the simulated half day should leave positions open into the close"
    assert {d.event_ts for d in flattens} == {et(12, 58)}
    assert all(d.action == "sell" and d.status == "planned" for d in flattens)
    assert all(qty == 0 for qty in net_planned_qty(decisions[lane_name]).values())


@pytest.mark.parametrize("lane_name", LANE_NAMES)
def test_no_entry_is_planned_in_the_ten_minutes_before_the_early_close(
    decisions: dict[str, list[TradeDecision]], lane_name: str
) -> None:
    lane, _ = lane_and_spec(lane_name)
    block_at = et(13, 0) - pd.Timedelta(minutes=lane.session_close_entry_block_minutes)
    assert block_at == et(12, 50)
    assert not [d for d in planned(decisions[lane_name]) if d.action == "buy" and d.event_ts >= block_at]


def test_a_late_entry_on_the_half_day_is_rejected_as_session_close_entry_blocked(
    decisions: dict[str, list[TradeDecision]],
) -> None:
    late_buys = [
        d for name in LANE_NAMES for d in decisions[name] if d.action == "buy" and d.event_ts >= et(12, 50)
    ]
    assert late_buys, "expected a strategy entry after 12:50 ET in the simulated half day"
    for d in late_buys:
        assert d.status == "rejected" and "session_close_entry_blocked" in d.risk_reasons
