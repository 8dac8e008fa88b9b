"""Per-partition checks on the lane window's stored signals: integrity (blocking) and lateness.

Lateness is judged only for a live landing (`domain/window_landing.py`): a backfill is not late.

The integrity comparison is `services.signal_ingest.check_stored_signals`; this module declares the
checks and renders their results.
"""

import dagster as dg
import pandas as pd

from torghut_assets.defs.lane_window.partitions import lane_window_from_key, lane_window_partitions
from torghut_assets.defs.lane_window.signals import signals
from torghut_assets.defs.resources import LedgerResource
from torghut_assets.domain.window_landing import LandingVerdict, judge_landing
from torghut_assets.services.signal_ingest import check_stored_signals


@dg.asset_check(
    asset=signals,
    partitions_def=lane_window_partitions,
    blocking=True,
    description="Stored signals re-validate against the schema and hash to the window's dataset_version.",
)
def signals_match_ingest_verdict(
    context: dg.AssetCheckExecutionContext, ledger: LedgerResource
) -> dg.AssetCheckResult:
    window = lane_window_from_key(context.partition_key)
    checked = check_stored_signals(ledger, window)
    return dg.AssetCheckResult(
        passed=not checked.problems,
        metadata={"rows": checked.rows, "problems": dg.MetadataValue.json(checked.problems)},
    )


# The scheduler dates its runs with this (hidden) tag: the tick the run was meant for, not when it started.
SCHEDULED_EXECUTION_TIME_TAG = ".dagster/scheduled_execution_time"


def run_requested_at(context: dg.AssetCheckExecutionContext) -> pd.Timestamp:
    """When the run was asked for: its scheduled tick if the schedule made it, else its creation time."""
    scheduled = context.run.tags.get(SCHEDULED_EXECUTION_TIME_TAG)
    if scheduled:
        return pd.Timestamp(scheduled).tz_convert("UTC")
    record = context.instance.get_run_record_by_id(context.run.run_id)
    if record is not None and record.create_timestamp is not None:
        return pd.Timestamp(record.create_timestamp).tz_convert("UTC")
    return pd.Timestamp.now(tz="UTC")


@dg.asset_check(
    asset=signals,
    partitions_def=lane_window_partitions,
    description=(
        "A live landing (a run requested before the window's deadline) landed within 30 minutes of the "
        "window end; a backfill or seed of a closed window is recorded as not judged (docs/lane-window.md)."
    ),
)
def signals_landed_before_deadline(context: dg.AssetCheckExecutionContext) -> dg.AssetCheckResult:
    window = lane_window_from_key(context.partition_key)
    requested_at = run_requested_at(context)
    judgement = judge_landing(window.end, requested_at, pd.Timestamp.now(tz="UTC"))
    return dg.AssetCheckResult(
        passed=judgement.passed,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "verdict": judgement.verdict.value,
            "judged": judgement.verdict is not LandingVerdict.NOT_JUDGED_BACKFILL,
            "requested_at": requested_at.isoformat(),
            "lateness_seconds": round(judgement.lateness.total_seconds(), 1),
            "deadline_seconds": judgement.deadline.total_seconds(),
            "note": judgement.note,
        },
    )
