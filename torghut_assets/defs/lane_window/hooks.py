"""Run lifecycle: a research stage that raises marks the window's run `failed` (reference lifecycle)."""

import dagster as dg
import pandas as pd
import sqlalchemy as sa
from dagster._core.definitions.partitions.utils.multi import get_multipartition_key_from_tags

from torghut_assets.defs.lane_window.partitions import lane_window_from_key
from torghut_assets.ledger import schema
from torghut_assets.ledger.evidence_digests import record_partition

RESEARCH_STEPS = frozenset(
    {"research_candidates", "research_fold_metrics", "research_stress_metrics", "research_promotions"}
)


@dg.failure_hook(required_resource_keys={"ledger"})
def mark_research_run_failed(context: dg.HookContext) -> None:
    if context.op.name not in RESEARCH_STEPS:
        return
    run = context.instance.get_run_by_id(context.run_id)
    if run is None:
        return
    window = lane_window_from_key(get_multipartition_key_from_tags(run.tags))
    table = schema.research_runs
    in_window = (table.c.lane == window.lane, table.c.window_start == window.start.to_pydatetime())
    with context.resources.ledger.transaction() as conn:
        running = list(conn.execute(sa.select(table.c.run_id).where(*in_window, table.c.status == "running")))
        conn.execute(table.update().where(*in_window, table.c.status == "running").values(status="failed"))
        # The run row is evidence: chain its new digest, or verification reports the change as tampering.
        for (run_id,) in running:
            record_partition(
                conn,
                entry_kind="research_run",
                subject=run_id,
                table=table,
                lane=window.lane,
                window_start=window.start.to_pydatetime(),
                recorded_at=pd.Timestamp.now(tz="UTC").to_pydatetime(),
            )
    context.log.error(f"research run for {window.label()} marked failed after {context.op.name} raised")
