"""`trade_decisions`: strategy → sizing → risk, replayed from the session open, one lane window at a time.

A window whose signals failed their feature quality gates (`signals` recorded `feature_quality_gate_failed`
in the ingest verdict) decides nothing, so `executions` has nothing to send (docs/signal-sources.md). Only
decisions an earlier open-window tick already sent, while the batch still passed, stay on record with their
executions: an order at the broker never loses its ledger rows.
"""

from collections import Counter
from typing import Any

import dagster as dg
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from torghut_assets.defs.lane_window.broker_account import AccountBasis, earliest, read_account
from torghut_assets.defs.lane_window.partitions import lane_window, lane_window_partitions
from torghut_assets.defs.lane_window.strategy_isolation import isolated_strategy
from torghut_assets.defs.lane_window.trading_session import TradingSessionResource
from torghut_assets.defs.metadata import markdown_table, window_metadata
from torghut_assets.defs.resources import BrokerResource, LedgerResource, MarketDataResource
from torghut_assets.domain.decisions import EntryBlock, decisions_in_window, plan_session_decisions
from torghut_assets.domain.feature_quality import FEATURE_QUALITY_GATE_FAILED
from torghut_assets.domain.lane_catalog import lane_strategy
from torghut_assets.domain.lanes import LaneConfig, LaneWindow
from torghut_assets.domain.market_calendar import session_bounds
from torghut_assets.domain.order_timing import SUBMISSION_KEY, carried_submission
from torghut_assets.domain.research_evaluation import spec_from_parameter_set
from torghut_assets.domain.signal_quality import admit_signals
from torghut_assets.domain.stages import Stage, capped_lane
from torghut_assets.domain.strategies import StrategySpec
from torghut_assets.ledger import queries, records, rollout_store, route_controls, schema
from torghut_assets.ledger.continuity_store import load_state
from torghut_assets.ledger.records import LedgerIntegrityError
from torghut_assets.ledger.writes import replace_lane_window, upsert_rows


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
    hour = pd.Timedelta(hours=1)
    if state is not None and state.emergency_stop_active and state.emergency_since is not None:
        blocks.append(EntryBlock("emergency_stop_active", state.emergency_since + hour))
    if state is not None and state.alert_active and state.alert_since is not None:
        blocks.append(EntryBlock("signal_continuity_alert_active", state.alert_since + hour))
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
    candidates = schema.research_candidates
    row = conn.execute(
        sa.select(candidates.c.parameter_set).where(candidates.c.candidate_id == active.candidate_id)
    ).first()
    if row is None:
        raise LedgerIntegrityError(f"lane {window.lane} champion {active.candidate_id} has no candidate row")
    return spec_from_parameter_set(row[0]), capped_lane(lane, active.stage), active.stage


def _keep_unsent_verdicts(
    conn: Connection, window: LaneWindow, rows: list[dict[str, Any]]
) -> list[dict[str, Any]]:
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
                "status": "rejected",
            }
        kept.append(row)
    return kept


def feature_quality_failure(conn: Connection, window: LaneWindow) -> str | None:
    """The failed gates (`no_signal_detail`) when the window's ingest verdict failed them, else None."""
    verdicts = queries.window_rows(conn, schema.signal_ingest_windows, window.lane, window.start)
    if not verdicts or verdicts[0]["no_signal_reason"] != FEATURE_QUALITY_GATE_FAILED:
        return None
    return str(verdicts[0]["no_signal_detail"] or FEATURE_QUALITY_GATE_FAILED)


def already_sent(conn: Connection, window: LaneWindow) -> list[dict[str, Any]]:
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


def session_bounds_for(window: LaneWindow) -> tuple[pd.Timestamp, pd.Timestamp] | None:
    bounds = session_bounds(window.start.tz_convert("America/New_York").date())
    if bounds is None or bounds[1] <= window.start or bounds[0] >= window.end:
        return None
    return bounds


@dg.asset(
    partitions_def=lane_window_partitions,
    group_name="lane_window",
    deps=["signals"],
    kinds={"sql"},
    code_version="1",
    description="Deterministic strategy decisions for the window, sized and risk-checked; rejections kept.",
)
def trade_decisions(
    context: dg.AssetExecutionContext,
    ledger: LedgerResource,
    market_data: MarketDataResource,
    broker: BrokerResource,
    trading_session: TradingSessionResource,
) -> dg.MaterializeResult:  # type: ignore[type-arg]
    window = lane_window(context)
    session = session_bounds_for(window)
    rows = []
    # the broker's equity for a paper/live lane on a broker-bound account when Alpaca is configured, else
    # the lane's simulated account's (lane catalog, docs/lane-catalog.md)
    account = read_account(broker, trading_session.mode(window.lane), window.config.account_broker)
    with ledger.read() as conn:
        window_signals = queries.window_signals(conn, window.lane, window.start)
        block = earliest(entry_block(conn, window.lane), account.entry_block(window.start))
        with isolated_strategy(window, trading_session.strategy_timeout_seconds):
            spec, lane, stage = active_strategy(conn, window, account)
        quality_failed = feature_quality_failure(conn, window)
        if quality_failed is not None:
            rows = already_sent(conn, window)
    if quality_failed is not None:
        context.log.error(
            f"no decisions for {window.label()}: feature quality gate failed ({quality_failed}); "
            f"{len(rows)} sent earlier kept"
        )
    elif session is not None and not window_signals.empty:
        session_open, session_close = session
        prefix_end = max(session_open, window.start)
        prefix = admit_signals(
            market_data.signals(session_open, prefix_end),
            window_start=session_open,
            window_end=prefix_end,
            universe=market_data.universe,
        ).frame
        history = (
            pd.concat([prefix, window_signals], ignore_index=True) if not prefix.empty else window_signals
        )
        # a strategy that raises, answers garbage or overruns fails this window here, before anything is
        # written (docs/strategies.md)
        with isolated_strategy(window, trading_session.strategy_timeout_seconds):
            planned = plan_session_decisions(history, spec, lane, session_close, block)
        rows = [
            records.decision_row(window, d, None)
            for d in decisions_in_window(planned, window.start, window.end)
        ]
    with ledger.transaction() as conn:
        rows = _keep_unsent_verdicts(conn, window, rows)
        upsert_rows(conn, schema.strategies, [records.strategy_row(spec, lane.description)])
        written = replace_lane_window(conn, schema.trade_decisions, window.lane, window.start, rows)
    statuses = Counter(r["status"] for r in rows)
    reasons = Counter(code for r in rows for code in r["decision_json"]["risk_reasons"])
    summary = (
        f"**{written} decisions** by `{spec.name}@{spec.version}` for `{window.label()}`"
        + (
            f"; feature quality gate failed: `{quality_failed}`: nothing new decided"
            if quality_failed
            else ""
        )
        + "\n\n"
        + markdown_table(
            ["symbol", "action", "qty", "status", "event_ts"],
            [
                (
                    r["symbol"],
                    r["decision_json"]["action"],
                    r["decision_json"]["qty"],
                    r["status"],
                    r["signal_event_ts"].isoformat(),
                )
                for r in rows[:50]
            ],
        )
    )
    return dg.MaterializeResult(
        metadata=window_metadata(
            window,
            written,
            summary,
            status_counts=dict(statuses),
            entry_block=None if block is None else {"reason": block.reason, "since": block.since.isoformat()},
            feature_quality_gate_failed=quality_failed,
            risk_reason_counts=dict(reasons),
            strategy_id=spec.strategy_id,
            strategy_params=dict(spec.params),
            rollout_stage=None if stage is None else stage.value,
            market_session=None if session is None else [session[0].isoformat(), session[1].isoformat()],
            equity_source=account.source,
            account=account.metadata(lane),
            account_label=lane.account_label,
            lane_catalog_checksum=lane.catalog_checksum,
        )
    )
