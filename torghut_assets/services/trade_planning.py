"""Plan a lane window's trade decisions: strategy → sizing → risk, replayed from the session open.

Why replayed from the open: a strategy's state (indicators, held positions) depends on every signal of
the session so far, so the window's decisions are the session's plan restricted to the window; the
same signals always give the same decisions, and their hashes are the client order ids.

A window whose signals failed their feature quality gates (`signals` recorded
`feature_quality_gate_failed` in the ingest verdict) decides nothing, so `executions` has nothing to send
(docs/signal-sources.md). Only decisions an earlier open-window tick already sent, while the batch still
passed, stay on record with their executions: an order at the broker never loses its ledger rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd
from sqlalchemy.engine import Connection

from torghut_assets.domain.decisions import (
    DecisionStatus,
    EntryBlock,
    decisions_in_window,
    plan_session_decisions,
)
from torghut_assets.domain.feature_quality import FEATURE_QUALITY_GATE_FAILED
from torghut_assets.domain.lane_catalog import lane_strategy
from torghut_assets.domain.lanes import LaneConfig, LaneWindow
from torghut_assets.domain.market_calendar import session_bounds_for
from torghut_assets.domain.order_timing import SUBMISSION_KEY, carried_submission
from torghut_assets.domain.research_evaluation import spec_from_parameter_set
from torghut_assets.domain.signal_quality import admit_signals
from torghut_assets.domain.stages import Stage, capped_lane
from torghut_assets.domain.strategies import StrategySpec
from torghut_assets.domain.strategy_calls import strategy_scope
from torghut_assets.ledger import queries, records, research_store, rollout_store, route_controls, schema
from torghut_assets.ledger.continuity_store import load_state
from torghut_assets.ledger.records import LedgerIntegrityError
from torghut_assets.ledger.writes import replace_lane_window, upsert_rows
from torghut_assets.services.broker_account import AccountBasis, earliest
from torghut_assets.services.ports import LedgerPort, MarketDataPort

Row = dict[str, Any]
_HOUR = pd.Timedelta(hours=1)


@dataclass(frozen=True)
class ActiveStrategy:
    spec: StrategySpec
    lane: LaneConfig
    stage: Stage | None


@dataclass(frozen=True)
class WindowPlan:
    """The window's decision rows as stored (`written` of them) and what they were decided under."""

    rows: list[Row]
    written: int
    strategy: ActiveStrategy
    block: EntryBlock | None
    session: tuple[pd.Timestamp, pd.Timestamp] | None
    quality_failed: str | None = None  # the failed feature quality gates: nothing new was decided


def entry_block(conn: Connection, lane: str) -> EntryBlock | None:
    """The earliest active reason to refuse new entries: kill switch, lane halt, emergency stop, alert.

    Each applies from the moment it became known (the end of the window that latched it), so a replay
    of an older window is not rewritten by today's state.
    """
    blocks: list[EntryBlock] = []
    killed = route_controls.enabled_since(conn, route_controls.TRADING_KILL_SWITCH)
    if killed is not None:
        blocks.append(EntryBlock("kill_switch_enabled", pd.Timestamp(killed)))
    state = load_state(conn, lane)
    rollout, _ = rollout_store.load_lane(conn, lane)
    if rollout.halted_since is not None:
        blocks.append(EntryBlock("lane_halted", pd.Timestamp(rollout.halted_since)))
    if state is not None and state.emergency_stop_active and state.emergency_since is not None:
        blocks.append(EntryBlock("emergency_stop_active", state.emergency_since + _HOUR))
    if state is not None and state.alert_active and state.alert_since is not None:
        blocks.append(EntryBlock("signal_continuity_alert_active", state.alert_since + _HOUR))
    return min(blocks, key=lambda b: (b.since, b.reason)) if blocks else None


def active_strategy(
    conn: Connection, window: LaneWindow, account: AccountBasis | None = None
) -> tuple[StrategySpec, LaneConfig, Stage | None]:
    """What the lane trades in this window: its promoted champion (as of the window end) within the
    stage's caps, or the lane's default strategy when nothing is promoted; sized on `account` (the
    broker's equity and buying power) when given."""
    lane = window.config if account is None else account.sized(window.config)
    active = rollout_store.state_at(conn, window.lane, window.end.to_pydatetime()).active
    if active is None:
        return lane_strategy(lane), lane, None
    stored = research_store.candidate_parameter_set(conn, active.candidate_id)
    if stored is None:
        raise LedgerIntegrityError(f"lane {window.lane} champion {active.candidate_id} has no candidate row")
    return spec_from_parameter_set(stored[0]), capped_lane(lane, active.stage), active.stage


def keep_unsent_verdicts(conn: Connection, window: LaneWindow, rows: list[Row]) -> list[Row]:
    """A decision that expired or was refused before submission stays so on every re-run: the verdict was
    reached against the clock of its time, and a later run must neither lift it nor re-date it."""
    previous = {
        r["id"]: r["decision_json"]
        for r in queries.window_rows(conn, schema.trade_decisions, window.lane, window.start)
        if isinstance(r["decision_json"], dict) and SUBMISSION_KEY in r["decision_json"]
    }
    if not previous:
        return rows
    kept = []
    for row in rows:
        if row["id"] in previous:
            row = {
                **row,
                "decision_json": carried_submission(previous[row["id"]], row["decision_json"]),
                "status": DecisionStatus.REJECTED.value,
            }
        kept.append(row)
    return kept


def feature_quality_failure(conn: Connection, window: LaneWindow) -> str | None:
    """The failed gates (`no_signal_detail`) when the window's ingest verdict failed them, else None."""
    verdicts = queries.window_rows(conn, schema.signal_ingest_windows, window.lane, window.start)
    if not verdicts or verdicts[0]["no_signal_reason"] != FEATURE_QUALITY_GATE_FAILED:
        return None
    return str(verdicts[0]["no_signal_detail"] or FEATURE_QUALITY_GATE_FAILED)


def already_sent(conn: Connection, window: LaneWindow) -> list[Row]:
    """The window's stored decisions that have an execution row (sent by an earlier run), unchanged."""
    sent = {
        str(r["trade_decision_id"])
        for r in queries.window_rows(conn, schema.executions, window.lane, window.start)
        if r["trade_decision_id"] is not None
    }
    return [
        r
        for r in queries.window_rows(conn, schema.trade_decisions, window.lane, window.start)
        if str(r["id"]) in sent
    ]


@dataclass(frozen=True)
class _Inputs:
    signals: pd.DataFrame
    block: EntryBlock | None
    strategy: ActiveStrategy
    quality_failed: str | None
    sent_earlier: list[Row]


def _read_inputs(
    conn: Connection, window: LaneWindow, account: AccountBasis, strategy_timeout_seconds: float
) -> _Inputs:
    window_signals = queries.window_signals(conn, window.lane, window.start)
    block = earliest(entry_block(conn, window.lane), account.entry_block(window.start))
    with strategy_scope(window=window.label(), timeout_seconds=strategy_timeout_seconds):
        spec, lane, stage = active_strategy(conn, window, account)
    quality_failed = feature_quality_failure(conn, window)
    sent = already_sent(conn, window) if quality_failed is not None else []
    return _Inputs(window_signals, block, ActiveStrategy(spec, lane, stage), quality_failed, sent)


def _decide(
    market_data: MarketDataPort,
    window: LaneWindow,
    session: tuple[pd.Timestamp, pd.Timestamp],
    inputs: _Inputs,
    strategy_timeout_seconds: float,
) -> list[Row]:
    """The session's plan from its open through this window, restricted to the window's decisions."""
    session_open, session_close = session
    prefix_end = max(session_open, window.start)
    prefix = admit_signals(
        market_data.signals(session_open, prefix_end),
        window_start=session_open,
        window_end=prefix_end,
        universe=market_data.universe,
    ).frame
    window_signals = inputs.signals
    history = pd.concat([prefix, window_signals], ignore_index=True) if not prefix.empty else window_signals
    active = inputs.strategy
    # a strategy that raises, answers garbage or overruns fails this window here, before anything is
    # written (docs/strategies.md)
    with strategy_scope(window=window.label(), timeout_seconds=strategy_timeout_seconds):
        planned = plan_session_decisions(history, active.spec, active.lane, session_close, inputs.block)
    return [
        records.decision_row(window, d, None) for d in decisions_in_window(planned, window.start, window.end)
    ]


def plan_window_decisions(
    ledger: LedgerPort,
    market_data: MarketDataPort,
    window: LaneWindow,
    account: AccountBasis,
    strategy_timeout_seconds: float,
) -> WindowPlan:
    """Decide the window (or keep only what was sent, when its feature quality failed) and store the
    decisions with the strategy that made them, in one transaction."""
    session = session_bounds_for(window)
    with ledger.engine.connect() as conn:
        inputs = _read_inputs(conn, window, account, strategy_timeout_seconds)
    rows: list[Row] = inputs.sent_earlier
    if inputs.quality_failed is None and session is not None and not inputs.signals.empty:
        rows = _decide(market_data, window, session, inputs, strategy_timeout_seconds)
    active = inputs.strategy
    with ledger.engine.begin() as conn:
        rows = keep_unsent_verdicts(conn, window, rows)
        upsert_rows(conn, schema.strategies, [records.strategy_row(active.spec, active.lane.description)])
        written = replace_lane_window(conn, schema.trade_decisions, window.lane, window.start, rows)
    return WindowPlan(rows, written, active, inputs.block, session, inputs.quality_failed)
