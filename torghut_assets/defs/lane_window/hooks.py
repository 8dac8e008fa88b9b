"""Run lifecycle: when `research_runs` raises, the window's run it opened becomes `failed` with the error
(reference lifecycle).

`research_runs` computes and commits the whole research chain in one transaction, so a failure leaves
only the run row it committed `running` when it opened the run. The ledger write is
`services.research_chain.fail_research_run`; this hook only finds the window of the failed run and the
exception that failed it. The assets after `research_runs` only read what it committed: their failure
says nothing about the run.
"""

import dagster as dg
from dagster._core.definitions.partitions.utils.multi import get_multipartition_key_from_tags

from torghut_assets.defs.lane_window.partitions import lane_window_from_key
from torghut_assets.services.research_chain import fail_research_run, failure_text

RESEARCH_STEPS = frozenset({"research_runs"})


@dg.failure_hook(required_resource_keys={"ledger"})
def mark_research_run_failed(context: dg.HookContext) -> None:
    if context.op.name not in RESEARCH_STEPS:
        return
    run = context.instance.get_run_by_id(context.run_id)
    if run is None:
        return
    window = lane_window_from_key(get_multipartition_key_from_tags(run.tags))
    failed = fail_research_run(context.resources.ledger, window, failure_text(context.op_exception))
    if failed:
        context.log.error(f"research run for {window.label()} marked failed after {context.op.name} raised")
