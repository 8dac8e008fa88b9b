"""The real-time loop: every few seconds, advance the open window of each paper/live lane.

Why a sensor that does the work itself, rather than a sensor that launches runs: a launched run costs a
process start and a code-location load (about 3.5 s here, see docs/benchmarks.md) on top of the queue's
dequeue interval, and one run per tick would flood the run list with hundreds of runs per lane per day.
The tick instead invokes the same four lane-window steps the hourly run uses (`signals`,
`trade_decisions`, `llm_decision_reviews`, `executions`) in the sensor process, with the clock pinned to
the tick, so the open window is decided and routed by exactly the code that later closes it. Each tick
that did something is reported as an observation of `executions` for the window's partition; the
hourly run after the close remains the window's materialization. A tick is bounded by the venues'
timeouts; a tick that overruns is simply followed by the next one (decisions are submitted at most
once: the decision hash is the client order id and an execution row is never resubmitted).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast

import dagster as dg
import pandas as pd

from torghut_assets.defs.lane_window.executions import executions
from torghut_assets.defs.lane_window.partitions import lane_window_key
from torghut_assets.defs.lane_window.signals import signals
from torghut_assets.defs.lane_window.strategy_isolation import is_strategy_failure
from torghut_assets.defs.lane_window.trading import trade_decisions
from torghut_assets.defs.lane_window.trading_session import TradingSessionResource
from torghut_assets.defs.llm.llm_reviews import llm_decision_reviews
from torghut_assets.domain.lanes import LANES, LaneWindow
from torghut_assets.domain.market_calendar import session_bounds_for

OPEN_WINDOW_STEPS = (signals, trade_decisions, llm_decision_reviews, executions)
STEP_RESOURCE_KEYS = frozenset().union(*(step.required_resource_keys for step in OPEN_WINDOW_STEPS)) - {
    "io_manager"
}


@dataclass(frozen=True)
class TickReport:
    lane: str
    window: LaneWindow
    now: pd.Timestamp
    metadata: dict[str, Any]
    strategy_failure: str | None = None  # the lane's strategy failed this tick: nothing decided or sent

    @property
    def sent(self) -> int:
        return int(_value(self.metadata.get("sent_to_real_venues_now")) or 0)

    @property
    def unsent(self) -> dict[str, int]:
        return dict(_value(self.metadata.get("unsent_by_reason")) or {})


def _value(entry: Any) -> Any:
    return getattr(entry, "value", entry)


def trading_window(lane: str, now: pd.Timestamp) -> LaneWindow | None:
    """The lane window that is open at `now`, when the market session is open too."""
    window = LaneWindow(lane=lane, start=now.floor("h"))
    session = session_bounds_for(window)
    if session is None or not session[0] <= now < session[1]:
        return None
    return window


def advance_open_windows(resources: Mapping[str, Any], now: pd.Timestamp) -> list[TickReport]:
    """One tick for every paper/live lane whose window is open at `now` (UTC)."""
    clock: TradingSessionResource = resources["trading_session"]
    pinned = {**resources, "trading_session": clock.at(now)}
    reports = []
    for lane in sorted(LANES):
        if not clock.mode(lane).reaches_real_venues:
            continue
        window = trading_window(lane, now)
        if window is None:
            continue
        key = lane_window_key(lane, window.start)
        metadata: dict[str, Any] = {}
        try:
            for step in OPEN_WINDOW_STEPS:
                step_resources = {k: pinned[k] for k in step.required_resource_keys if k != "io_manager"}
                with dg.build_asset_context(partition_key=key, resources=step_resources) as context:
                    result = cast("dg.MaterializeResult[Any]", step(context))
                metadata = dict(result.metadata or {})
        except dg.Failure as exc:
            if not is_strategy_failure(exc):
                raise
            # one lane's broken strategy stops that lane's tick only; the other lanes still trade
            reports.append(TickReport(lane, window, now, {}, strategy_failure=exc.description))
            continue
        reports.append(TickReport(lane=lane, window=window, now=now, metadata=metadata))
    return reports


def tick_observation(report: TickReport) -> dg.AssetObservation:
    trading = _value(report.metadata.get("trading")) or {}
    return dg.AssetObservation(
        asset_key="executions",
        partition=lane_window_key(report.lane, report.window.start),
        metadata={
            "tick_at": report.now.isoformat(),
            "mode": str(trading.get("mode")),
            "sent_to_real_venues_now": report.sent,
            "unsent_by_reason": report.unsent,
            "executions_in_window": int(_value(report.metadata.get("dagster/row_count")) or 0),
        },
    )


def build_open_window_sensor(interval_seconds: int) -> dg.SensorDefinition:
    @dg.sensor(
        name="open_window_sensor",
        minimum_interval_seconds=interval_seconds,
        default_status=dg.DefaultSensorStatus.RUNNING,
        required_resource_keys=set(STEP_RESOURCE_KEYS),
        description=(
            "Real-time loop of paper/live lanes: reads new signals of the open window, decides, and submits "
            "fresh decisions within seconds; does nothing for replay lanes or outside the session."
        ),
    )
    def open_window_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult | dg.SkipReason:
        resources = {key: getattr(context.resources, key) for key in STEP_RESOURCE_KEYS}
        reports = advance_open_windows(resources, pd.Timestamp.now(tz="UTC"))
        if not reports:
            return dg.SkipReason("no paper/live lane has an open window in an open market session")
        active = [r for r in reports if r.sent or r.unsent]
        for report in reports:
            if report.strategy_failure:
                context.log.error(f"{report.window.label()}: {report.strategy_failure}")
                continue
            context.log.info(f"{report.window.label()}: sent {report.sent}, unsent {report.unsent or 'none'}")
        return dg.SensorResult(asset_events=[tick_observation(r) for r in active])

    return open_window_sensor
