"""`readiness_report`: the roadmap's acceptance criteria, computed from the ledger (docs/runtime-reports.md).

Time is lane-window time: "the last 24 h" are the lane windows that started in [as_of − 24 h, as_of), and
the paper period is the last N market sessions (default 10) up to `as_of`. The figures and the report
are `services/readiness_report.py`; this asset renders them.
"""

import dagster as dg
from pydantic import Field

from torghut_assets.defs.metadata import markdown_table
from torghut_assets.defs.resources import LedgerResource
from torghut_assets.services.profitability import evaluation_time
from torghut_assets.services.readiness_report import build_readiness_report


class ReadinessReportConfig(dg.Config):
    as_of: str | None = Field(default=None, description="evaluation time (ISO 8601, UTC); default now")
    paper_period_market_days: int = Field(default=10, ge=1, le=60, description="paper period, in sessions")


@dg.asset(
    name="readiness_report",
    group_name="governance",
    kinds={"sql"},
    description="Acceptance criteria (24 h flow, research completeness, paper-period PnL, gates, evidence).",
)
def readiness_report_asset(
    context: dg.AssetExecutionContext, config: ReadinessReportConfig, ledger: LedgerResource
) -> dg.MaterializeResult:  # type: ignore[type-arg]
    built = build_readiness_report(ledger, evaluation_time(config.as_of), config.paper_period_market_days)
    report = built.report
    table = markdown_table(
        ["criterion", "passed", "numbers"],
        [(c["criterion_id"], "✅" if c["passed"] else "❌", c["detail"]) for c in report["criteria"]],
    )
    return dg.MaterializeResult(
        metadata={
            "ready": report["ready"],
            "criteria_passed": sum(1 for c in report["criteria"] if c["passed"]),
            "criteria_total": len(report["criteria"]),
            "report": dg.MetadataValue.path(built.artifact.path),
            "summary": dg.MetadataValue.md(
                f"**{'READY' if report['ready'] else 'NOT READY'}** as of {report['as_of']} "
                f"(paper period from {report['paper_period_start']})\n\n{table}"
            ),
            "payload": dg.MetadataValue.json(report),
        }
    )
