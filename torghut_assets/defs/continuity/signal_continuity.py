"""Continuity sensor and the `signal_continuity` asset that shows the latch in the UI.

The per-lane step (observations, state, emergency stop, cancellations) is `services.continuity`; this
module ticks it, pages through the `alerts` resource and renders the latch."""

import datetime as dt
import json

import dagster as dg
import pandas as pd
from pydantic import Field

from torghut_assets.defs.alerts import AlertsResource, Log
from torghut_assets.defs.continuity.thresholds import ContinuityThresholdsResource
from torghut_assets.defs.lane_window.partitions import lane_partitions
from torghut_assets.defs.lane_window.trading_session import TradingSessionResource
from torghut_assets.defs.launchpad import Lane, lane_name, required_text
from torghut_assets.defs.metadata import markdown_table
from torghut_assets.defs.resources import BrokerResource, LedgerResource
from torghut_assets.domain.continuity import ContinuityConfig, EmergencyStopNotActive
from torghut_assets.domain.lanes import LaneMode
from torghut_assets.services.continuity import (
    ContinuityOverview,
    Transition,
    cancel_on_emergency_stop,
    continuity_overview,
    transition_alerts,
)
from torghut_assets.services.continuity import evaluate_lanes as evaluate_lane_windows
from torghut_assets.services.emergency_stop import ClearanceSource, clear_lane_emergency_stop


@dg.asset(
    group_name="governance",
    deps=["signals"],
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
def signal_continuity(ledger: LedgerResource) -> dg.MaterializeResult:  # type: ignore[type-arg]
    overview = continuity_overview(ledger, lane_partitions.get_partition_keys())
    latched, stopped = overview.latched, overview.stopped
    return dg.MaterializeResult(
        metadata={
            "summary": dg.MetadataValue.md(_overview_markdown(overview)),
            "alert_latched_lanes": dg.MetadataValue.json(latched),
            "emergency_stop_lanes": dg.MetadataValue.json(stopped),
            "lanes_never_evaluated": dg.MetadataValue.json(overview.never_evaluated),
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


def _overview_markdown(overview: ContinuityOverview) -> str:
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
        for s in overview.states.values()
        if s is not None
    ]
    return (
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
            [
                (e["lane"], e["window_start"], e["transition"], e["reason"])
                for e in overview.recent_transitions
            ],
        )
        + "\n\n### Emergency-stop clearances (by a person)\n"
        + markdown_table(
            ["lane", "cleared at", "actor", "reason", "cleared reasons"],
            [
                (c["lane"], c["cleared_at"], c["actor"], c["reason"], ";".join(c["cleared_reasons"]))
                for c in overview.clearances
            ],
        )
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
) -> tuple[list[Transition], dict[str, str | None]]:
    """One sensor tick as of `now`: every lane's due windows (each lane committed on its own), then the
    pages for their transitions. Returns the transitions and how far each lane is evaluated."""
    tick = evaluate_lane_windows(
        ledger, lane_partitions.get_partition_keys(), now, config or ContinuityConfig(), live_lanes
    )
    alerts.send(ledger, transition_alerts(tick.transitions), log)
    return tick.transitions, tick.progress


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
    """The lane is an enum Dagster checks at launch; actor and reason are checked by the step's first
    lines, before anything is read or written."""

    lane: Lane = Field(description="lane whose emergency stop a person clears, e.g. macd_rsi")  # type: ignore[valid-type]
    actor: str = Field(description="who clears it; recorded on the clearance and its evidence (required)")
    reason: str = Field(description="why it is safe to trade again; recorded with the clearance (required)")


@dg.op(description="Clear a lane's latched emergency stop; records who, why and what was cleared.")
def clear_emergency_stop_op(
    context: dg.OpExecutionContext, config: ClearEmergencyStopConfig, ledger: LedgerResource
) -> dg.Output[str]:
    actor, reason = required_text("actor", config.actor), required_text("reason", config.reason)
    try:
        with ledger.transaction() as conn:
            cleared = clear_lane_emergency_stop(
                conn,
                lane=lane_name(config.lane),
                actor=actor,
                reason=reason,
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
