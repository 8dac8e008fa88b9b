"""Per-partition checks on the lane window's stored signals: integrity (blocking) and lateness.

The integrity comparison is `services.signal_ingest.check_stored_signals`; this module declares the
checks and renders their results.
"""

import dagster as dg
import pandas as pd

from torghut_assets.defs.lane_window.partitions import lane_window_from_key, lane_window_partitions
from torghut_assets.defs.lane_window.signals import signals
from torghut_assets.defs.resources import LedgerResource
from torghut_assets.services.signal_ingest import check_stored_signals

LANDING_DEADLINE = pd.Timedelta(minutes=30)


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


@dg.asset_check(
    asset=signals,
    partitions_def=lane_window_partitions,
    description="The window's signals landed within 30 minutes of the window end (late = stale decisions).",
)
def signals_landed_before_deadline(context: dg.AssetCheckExecutionContext) -> dg.AssetCheckResult:
    window = lane_window_from_key(context.partition_key)
    lateness = pd.Timestamp.now(tz="UTC") - window.end
    return dg.AssetCheckResult(
        passed=lateness <= LANDING_DEADLINE,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "lateness_seconds": round(lateness.total_seconds(), 1),
            "deadline_seconds": LANDING_DEADLINE.total_seconds(),
            "note": "historical backfills are late by construction",
        },
    )
