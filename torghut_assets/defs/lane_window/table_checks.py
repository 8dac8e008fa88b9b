"""Blocking per-partition checks generated from the table contracts (ledger/table_contracts.py).

One `<asset>_table_contract` check per lane-window asset: it reads the rows the asset's partition wrote to
each table it owns (the same lane and window, from the partition key) and judges the contract's value
rules, row rules and natural-key uniqueness on them (ledger/table_contract_checks.py). An error-severity
violation fails the check with ERROR, so downstream assets of the same run do not start; warn-severity
rules alone fail it with WARN, which does not block. A window that wrote no rows passes ("0 rows").

`LANE_WINDOW_TABLE_CHECKS` is what the code location registers.
"""

from collections.abc import Sequence

import dagster as dg

from torghut_assets.defs.lane_window.executions import executions
from torghut_assets.defs.lane_window.partitions import lane_window_from_key
from torghut_assets.defs.lane_window.research import (
    research_candidates,
    research_fold_metrics,
    research_promotions,
    research_runs,
    research_stress_metrics,
)
from torghut_assets.defs.lane_window.signals import signals
from torghut_assets.defs.lane_window.trading import trade_decisions
from torghut_assets.defs.llm.llm_reviews import llm_decision_reviews
from torghut_assets.defs.resources import LedgerResource
from torghut_assets.ledger.table_contract_checks import (
    TableVerdict,
    check_partition,
    violations_markdown,
)
from torghut_assets.ledger.table_contracts import TableContract, contracts_written_by

CHECK_SUFFIX = "_table_contract"


def check_result(verdicts: Sequence[TableVerdict]) -> dg.AssetCheckResult:
    """ERROR when an error rule is broken, WARN when only warn rules are, else passed."""
    errors = [x for v in verdicts for x in v.errors]
    warnings = [x for v in verdicts for x in v.warnings]
    rows = sum(v.rows for v in verdicts)
    broken = errors or warnings
    if broken:
        description = f"{len(broken)} rule(s) broken: " + "; ".join(
            f"{x.table}.{x.column} {x.rule} ({x.rows} row{'s' if x.rows != 1 else ''})" for x in broken
        )
    else:
        description = f"{rows} rows, no violation" if rows else "0 rows: the window wrote none"
    return dg.AssetCheckResult(
        passed=not broken,
        severity=dg.AssetCheckSeverity.ERROR if errors else dg.AssetCheckSeverity.WARN,
        description=description,
        metadata={
            "rows_checked": rows,
            "rows_by_table": dg.MetadataValue.json({v.table: v.rows for v in verdicts}),
            "rules_evaluated": sum(v.rules for v in verdicts),
            "violations": dg.MetadataValue.md(violations_markdown(verdicts)),
            "error_violations": len(errors),
            "warn_violations": len(warnings),
        },
    )


def build_table_contract_check(
    asset: dg.AssetsDefinition, contracts: Sequence[TableContract] | None = None
) -> dg.AssetChecksDefinition:
    """The blocking contract check of one lane-window asset, over every partitioned table it writes
    (`contracts`: those tables' contracts, by default the ones naming the asset as their writer)."""
    name = asset.key.to_user_string()
    contracts = tuple(contracts_written_by(name) if contracts is None else contracts)
    if not contracts:
        raise ValueError(f"no table contract names {name!r} as its writer")
    if asset.partitions_def is None:
        raise ValueError(f"{name} is not partitioned: its contract check needs a lane window")
    tables = ", ".join(f"`{c.table}`" for c in contracts)

    @dg.asset_check(
        asset=asset,
        name=f"{name}{CHECK_SUFFIX}",
        partitions_def=asset.partitions_def,
        blocking=True,
        description=(
            f"The partition's rows of {tables} meet their table contract: value rules and natural-key "
            "uniqueness (docs/data-dictionary.md)."
        ),
    )
    def _check(context: dg.AssetCheckExecutionContext, ledger: LedgerResource) -> dg.AssetCheckResult:
        window = lane_window_from_key(context.partition_key)
        with ledger.read() as conn:
            verdicts = [check_partition(conn, c, window.lane, window.start) for c in contracts]
        return check_result(verdicts)

    return _check


LANE_WINDOW_TABLE_CHECKS: list[dg.AssetChecksDefinition] = [
    build_table_contract_check(asset)
    for asset in (
        signals,
        trade_decisions,
        executions,
        research_runs,
        research_candidates,
        research_fold_metrics,
        research_stress_metrics,
        research_promotions,
        llm_decision_reviews,
    )
]
