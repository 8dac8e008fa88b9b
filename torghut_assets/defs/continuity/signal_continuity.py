"""Continuity sensor and the `signal_continuity` asset that shows the latch in the UI."""

import datetime as dt
import json

import dagster as dg
import pandas as pd
from pydantic import Field, field_validator

from torghut_assets.defs.alerts import AlertsResource, Log
from torghut_assets.defs.config_rules import attributed, configured_lane
from torghut_assets.defs.continuity.thresholds import ContinuityThresholdsResource
from torghut_assets.defs.lane_window.partitions import WINDOW_START, lane_partitions
from torghut_assets.defs.lane_window.trading_session import TradingSessionResource
from torghut_assets.defs.metadata import markdown_table
from torghut_assets.defs.resources import BrokerResource, LedgerResource
from torghut_assets.domain.alerts import Alert, continuity_alert
from torghut_assets.domain.continuity import (
    EMERGENCY_TRIGGERED,
    ContinuityConfig,
    ContinuityState,
    EmergencyStopNotActive,
    due_windows,
    missing_window,
    step,
)
from torghut_assets.domain.lanes import LaneMode, lane_config
from torghut_assets.domain.market_calendar import market_minutes
from torghut_assets.ledger import order_cancellations
from torghut_assets.ledger.continuity_store import load_state, observations_since, recent_events, save_state
from torghut_assets.ledger.emergency_stop_clearances import clearances
from torghut_assets.services.emergency_stop import ClearanceSource, clear_lane_emergency_stop, with_lane_risk
from torghut_assets.services.stop_orders import StopTrigger, cancel_open_orders

DEADLINE_GRACE = pd.Timedelta(minutes=20)
MAX_WINDOWS_PER_TICK = 48
INITIAL_LOOKBACK = pd.Timedelta(hours=24)


def evaluate_lane(
    ledger: LedgerResource, lane: str, now: pd.Timestamp, config: ContinuityConfig, live: bool = False
) -> tuple[ContinuityState, list[dict[str, object]]]:
    """Apply every due window of one lane to its persisted state, in one transaction (`live`: the lane
    trades live, so the LEAN live canary is measured too)."""
    with ledger.transaction() as conn:
        state = load_state(conn, lane) or ContinuityState(lane=lane)
        floor = WINDOW_START - pd.Timedelta(hours=1)
        start_after = state.last_window_start or max(floor, now.floor("h") - INITIAL_LOOKBACK)
        due = due_windows(start_after, now, DEADLINE_GRACE, MAX_WINDOWS_PER_TICK)
        if not due:
            return state, []
        seen = observations_since(conn, lane, start_after, due[-1])
        events = []
        latched_in: list[pd.Timestamp] = []
        equity = lane_config(lane).equity
        for window_start in due:
            observation = seen.get(window_start) or missing_window(
                window_start, len(market_minutes(window_start, window_start + pd.Timedelta(hours=1))) > 0
            )
            observation = with_lane_risk(conn, observation, lane, equity, live)
            before = state
            state, produced = step(state, observation, config)
            events.extend(produced)
            latched_in.extend(before.alert_since or e.window_start for e in produced)
        save_state(conn, state, events, now.to_pydatetime())
    return state, [
        {
            "lane": lane,
            "window_start": e.window_start.isoformat(),
            "transition": e.transition,
            "reason": e.reason,
            "latched_window": latch.isoformat(),
            "detail": list(e.detail),
        }
        for e, latch in zip(events, latched_in, strict=True)
    ]


def transition_alerts(transitions: list[dict[str, object]]) -> list[Alert]:
    """Pages for the latch, its recovery and the emergency stop; other transitions stay in the UI."""
    found = (
        continuity_alert(
            lane=str(t["lane"]),
            transition=str(t["transition"]),
            window_start=str(t["window_start"]),
            latched_window=str(t["latched_window"]),
            reason=None if t["reason"] is None else str(t["reason"]),
            detail=[str(d) for d in t["detail"]],  # type: ignore[attr-defined]
        )
        for t in transitions
    )
    return [a for a in found if a is not None]


@dg.asset(
    group_name="governance",
    kinds={"sql"},
    description="Per-lane signal continuity: latched alert, emergency stop, recent transitions.",
    check_specs=[
        dg.AssetCheckSpec(
            "no_continuity_alert_latched",
            asset="signal_continuity",
            description="Fails while any lane has a latched continuity alert or an emergency stop.",
        )
    ],
)
def signal_continuity(ledger: LedgerResource) -> dg.MaterializeResult:
    with ledger.read() as conn:
        states = [load_state(conn, lane) for lane in lane_partitions.get_partition_keys()]
        events = recent_events(conn)
        cleared = clearances(conn, limit=10)
    rows = [
        (
            s.lane,
            s.last_window_start,
            s.alert_active,
            s.alert_reason,
            s.streak,
            s.recovery_streak,
            s.emergency_stop_active,
            ";".join(s.emergency_reasons),
        )
        for s in states
        if s is not None
    ]
    summary = (
        "### Lanes\n"
        + markdown_table(
            [
                "lane",
                "evaluated through",
                "alert",
                "alert reason",
                "streak",
                "recovery",
                "emergency stop",
                "reasons",
            ],
            rows,
        )
        + "\n\n### Recent transitions\n"
        + markdown_table(
            ["lane", "window", "transition", "reason"],
            [(e["lane"], e["window_start"], e["transition"], e["reason"]) for e in events],
        )
        + "\n\n### Emergency-stop clearances (by a person)\n"
        + markdown_table(
            ["lane", "cleared at", "actor", "reason", "cleared reasons"],
            [
                (c["lane"], c["cleared_at"], c["actor"], c["reason"], ";".join(c["cleared_reasons"]))
                for c in cleared
            ],
        )
    )
    latched = sorted(s.lane for s in states if s is not None and s.alert_active)
    stopped = sorted(s.lane for s in states if s is not None and s.emergency_stop_active)
    return dg.MaterializeResult(
        metadata={
            "summary": dg.MetadataValue.md(summary),
            "alert_latched_lanes": dg.MetadataValue.json(latched),
            "emergency_stop_lanes": dg.MetadataValue.json(stopped),
            "lanes_never_evaluated": dg.MetadataValue.json(
                sorted(
                    k for k, s in zip(lane_partitions.get_partition_keys(), states, strict=True) if s is None
                )
            ),
        },
        check_results=[
            dg.AssetCheckResult(
                check_name="no_continuity_alert_latched",
                passed=not latched and not stopped,
                severity=dg.AssetCheckSeverity.ERROR,
                metadata={
                    "latched": dg.MetadataValue.json(latched),
                    "emergency_stop": dg.MetadataValue.json(stopped),
                },
            )
        ],
    )


signal_continuity_job = dg.define_asset_job(
    "signal_continuity_job",
    selection=[signal_continuity],
    executor_def=dg.in_process_executor,
    description="Refreshes the signal_continuity asset after a continuity transition.",
)


def evaluate_lanes(
    ledger: LedgerResource,
    alerts: AlertsResource,
    now: pd.Timestamp,
    log: Log | None = None,
    config: ContinuityConfig | None = None,
    live_lanes: frozenset[str] = frozenset(),
) -> tuple[list[dict[str, object]], dict[str, str | None]]:
    """One sensor tick as of `now`: every lane's due windows (each lane committed on its own), then the
    pages for their transitions. Returns the transitions and how far each lane is evaluated."""
    config = config or ContinuityConfig()
    transitions: list[dict[str, object]] = []
    progress: dict[str, str | None] = {}
    for lane in lane_partitions.get_partition_keys():
        state, events = evaluate_lane(ledger, lane, now, config, lane in live_lanes)
        transitions.extend(events)
        progress[lane] = None if state.last_window_start is None else state.last_window_start.isoformat()
    alerts.send(ledger, transition_alerts(transitions), log)
    return transitions, progress


def cancel_on_emergency_stop(
    ledger: LedgerResource,
    broker: BrokerResource,
    trading_session: TradingSessionResource,
    transitions: list[dict[str, object]],
    now: pd.Timestamp,
) -> int:
    """When an emergency stop fires on a lane that reaches real venues, cancel every open order at once
    (and the executions step keeps cancelling on each window while it stands). Returns the attempts."""
    fired = [
        t
        for t in transitions
        if t["transition"] == EMERGENCY_TRIGGERED and trading_session.mode(str(t["lane"])).reaches_real_venues
    ]
    if not fired:
        return 0
    outcomes = cancel_open_orders(broker.venues(pd.DataFrame()))
    # One cancel-all covers the account; it is recorded once, against the first lane that fired.
    first = fired[0]
    with ledger.transaction() as conn:
        order_cancellations.record_cancellations(
            conn,
            outcomes,
            trigger=StopTrigger.EMERGENCY_STOP.value,
            trigger_reason=";".join(str(d) for d in first["detail"]) or str(first["reason"]),  # type: ignore[attr-defined]
            trigger_source="signal_continuity_sensor",
            attempted_at=now.to_pydatetime(),
            lane=str(first["lane"]),
        )
    return len(fired)


@dg.sensor(
    job=signal_continuity_job,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Applies each closed lane window's ingest verdict to the continuity latch.",
)
def signal_continuity_sensor(
    context: dg.SensorEvaluationContext,
    ledger: LedgerResource,
    alerts: AlertsResource,
    broker: BrokerResource,
    trading_session: TradingSessionResource,
    continuity: ContinuityThresholdsResource,
) -> dg.SensorResult | dg.SkipReason:
    now = pd.Timestamp.now(tz="UTC")
    live = frozenset(
        lane for lane in lane_partitions.get_partition_keys() if trading_session.mode(lane) is LaneMode.LIVE
    )
    transitions, progress = evaluate_lanes(
        ledger, alerts, now, context.log, config=continuity.config(), live_lanes=live
    )
    cancel_on_emergency_stop(ledger, broker, trading_session, transitions, now)
    cursor = json.dumps(progress, sort_keys=True)
    if not transitions:
        context.update_cursor(cursor)
        return dg.SkipReason(f"no continuity transition; evaluated through {progress}")
    requests = [
        dg.RunRequest(
            run_key=f"continuity:{t['lane']}:{t['window_start']}:{t['transition']}",
            tags={"torghut/lane": str(t["lane"]), "torghut/continuity_transition": str(t["transition"])},
        )
        for t in transitions
    ]
    return dg.SensorResult(run_requests=requests[-1:], cursor=cursor)


class ClearEmergencyStopConfig(dg.Config):
    lane: str = Field(description="lane whose emergency stop a person clears, e.g. macd_rsi")
    actor: str = Field(description="who clears it; recorded on the clearance and its evidence")
    reason: str = Field(description="why it is safe to trade again; recorded with the clearance")

    _known_lane = field_validator("lane")(configured_lane)
    _not_blank = field_validator("actor", "reason")(attributed)


@dg.op(description="Clear a lane's latched emergency stop; records who, why and what was cleared.")
def clear_emergency_stop_op(
    context: dg.OpExecutionContext, config: ClearEmergencyStopConfig, ledger: LedgerResource
) -> dg.Output[str]:
    try:
        with ledger.transaction() as conn:
            cleared = clear_lane_emergency_stop(
                conn,
                lane=config.lane,
                actor=config.actor,
                reason=config.reason,
                source=ClearanceSource.DAGSTER_JOB,
                at=dt.datetime.now(dt.UTC),
            )
    except EmergencyStopNotActive as exc:
        raise dg.Failure(description=str(exc)) from exc
    summary = (
        f"Emergency stop on lane `{cleared.lane}` cleared by **{cleared.actor}**: {cleared.reason}\n\n"
        + markdown_table(["cleared reason"], [(r,) for r in cleared.cleared_reasons])
        + "\n\nA fault that persists latches the stop again on the next evaluated window."
    )
    context.log.info(f"emergency stop cleared on {cleared.lane} by {cleared.actor}")
    return dg.Output(
        cleared.clearance_id,
        metadata={
            "summary": dg.MetadataValue.md(summary),
            "cleared_reasons": dg.MetadataValue.json(list(cleared.cleared_reasons)),
            "evidence_hash": cleared.evidence_hash,
        },
    )


@dg.job(
    description="A person clears a lane's latched emergency stop (universe, research failures, fallback "
    "ratio or drawdown); freshness stops clear themselves after clean windows.",
    tags={"torghut/pipeline": "emergency_stop"},
)
def clear_emergency_stop_job() -> None:
    clear_emergency_stop_op()
