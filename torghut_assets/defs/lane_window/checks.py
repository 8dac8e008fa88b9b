"""Per-partition checks on the lane window's stored signals: integrity (blocking) and lateness."""

import dagster as dg
import pandas as pd
import pandera.errors

from torghut_assets.defs.lane_window.partitions import lane_window_from_key, lane_window_partitions
from torghut_assets.defs.lane_window.signals import signals
from torghut_assets.defs.resources import LedgerResource
from torghut_assets.domain.signal_frame import SIGNAL_SCHEMA, dataset_version
from torghut_assets.ledger import queries, schema

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
    with ledger.read() as conn:
        stored = queries.window_signals(conn, window.lane, window.start)
        verdicts = queries.window_rows(conn, schema.signal_ingest_windows, window.lane, window.start)
    problems: list[str] = []
    if not verdicts:
        problems.append("no signal_ingest_windows row for the window")
    else:
        verdict = verdicts[0]
        if verdict["signals_total"] != len(stored):
            problems.append(f"verdict counts {verdict['signals_total']} signals, ledger holds {len(stored)}")
        if dataset_version(stored) != verdict["dataset_version"]:
            problems.append("stored signals do not hash to the recorded dataset_version")
    try:
        SIGNAL_SCHEMA.validate(stored, lazy=True)
    except pandera.errors.SchemaErrors as exc:
        problems.append(f"schema: {len(exc.failure_cases)} failure case(s)")
    return dg.AssetCheckResult(
        passed=not problems,
        metadata={"rows": len(stored), "problems": dg.MetadataValue.json(problems)},
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
