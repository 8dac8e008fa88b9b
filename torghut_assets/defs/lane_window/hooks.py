"""Run lifecycle: a research stage that raises marks the window's run `failed` (reference lifecycle).

The ledger write is `services.research_chain.fail_research_run`; this hook only finds the window of
the failed run.
"""

import dagster as dg
from dagster._core.definitions.partitions.utils.multi import get_multipartition_key_from_tags

from torghut_assets.defs.lane_window.partitions import lane_window_from_key
from torghut_assets.services.research_chain import fail_research_run

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
    fail_research_run(context.resources.ledger, window)
    context.log.error(f"research run for {window.label()} marked failed after {context.op.name} raised")
