"""Schedules: lane windows at hh:05 UTC (one run per lane for the window that just closed; none when that
hour is a weekend exclusion of the window dimension) and the governance reports at hh:20 UTC."""

import dagster as dg
import pandas as pd

from torghut_assets.defs.lane_window.jobs import lane_window_job
from torghut_assets.defs.lane_window.partitions import lane_partitions, lane_window_key
from torghut_assets.defs.pod_resources import REPORTS_POD
from torghut_assets.domain.lane_window_keys import window_key
from torghut_assets.domain.window_hours import is_window_hour


@dg.schedule(
    job=lane_window_job,
    cron_schedule="5 * * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Materializes the previous hourly window for every lane (weekend hours are not windows).",
)
def lane_window_schedule(context: dg.ScheduleEvaluationContext) -> list[dg.RunRequest] | dg.SkipReason:
    tick = pd.Timestamp(context.scheduled_execution_time).tz_convert("UTC")
    window_start = tick.floor("h") - pd.Timedelta(hours=1)
    if not is_window_hour(window_start):
        return dg.SkipReason(
            f"{window_key(window_start)} is a weekend hour, excluded from the window partitions"
        )
    requests = []
    for lane in lane_partitions.get_partition_keys():
        key = lane_window_key(lane, window_start)
        requests.append(dg.RunRequest(run_key=str(key), partition_key=key, tags={"torghut/lane": lane}))
    return requests


governance_reports_job = dg.define_asset_job(
    "governance_reports_job",
    selection=["profitability_runtime", "readiness_report"],
    description="Refresh the 72 h runtime profitability report and the acceptance-criteria readiness report.",
    tags={"torghut/pipeline": "governance_reports", **REPORTS_POD.tag()},
)

governance_reports_schedule = dg.ScheduleDefinition(
    name="governance_reports_schedule",
    job=governance_reports_job,
    cron_schedule="20 * * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Hourly at hh:20 UTC, after the lane windows of the hour have landed.",
)
