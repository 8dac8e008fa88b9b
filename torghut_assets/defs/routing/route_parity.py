"""`route_parity`: replay recent decisions on a fixed symbol subset through both routes and compare.

With real venues configured this places paired *paper* orders on LEAN and Alpaca (materialize it on
purpose); on a laptop it compares simulator twins of the two routes, and says so in the report.
"""

import dagster as dg
import pandas as pd
from pydantic import Field

from torghut_assets.defs.metadata import json_artifact_content, markdown_table
from torghut_assets.defs.resources import BrokerResource, LedgerResource, MarketDataResource
from torghut_assets.domain.route_parity import DEFAULT_PARITY_SYMBOLS
from torghut_assets.services.route_parity import ParityRequest, run_route_parity


class RouteParityConfig(dg.Config):
    symbols: list[str] = Field(default=list(DEFAULT_PARITY_SYMBOLS), description="fixed parity subset")
    max_pairs: int = Field(default=40, description="most recent planned decisions replayed on both routes")
    twin_secondary_delay_bars: int = Field(default=0, description="dev twins only: Alpaca twin fills later")
    twin_secondary_extra_cost_bps: float = Field(
        default=0.0, description="dev twins only: extra cost the Alpaca twin pays per fill"
    )


@dg.asset(
    group_name="governance",
    deps=["trade_decisions"],
    kinds={"sql"},
    description="LEAN vs Alpaca parity on a fixed symbol subset; allocation increases need it to pass.",
    check_specs=[
        dg.AssetCheckSpec(
            "route_parity_passes",
            asset="route_parity",
            description="Allocation increases need a passing report.",
        )
    ],
)
def route_parity(
    context: dg.AssetExecutionContext,
    config: RouteParityConfig,
    ledger: LedgerResource,
    market_data: MarketDataResource,
    broker: BrokerResource,
) -> dg.MaterializeResult:  # type: ignore[type-arg]
    live = bool(broker.lean_runner_url and broker.alpaca_api_key_id and broker.alpaca_secret_key)
    request = ParityRequest(
        symbols=config.symbols,
        max_pairs=config.max_pairs,
        twin_secondary_delay_bars=config.twin_secondary_delay_bars,
        twin_secondary_extra_cost_bps=config.twin_secondary_extra_cost_bps,
    )
    run = run_route_parity(
        ledger, market_data, request, real_venues=broker.venues(pd.DataFrame()) if live else None
    )
    result, mode, pairs, artifact = run.result, run.mode.value, run.pairs, run.artifact
    summary = (
        f"Parity **{'PASSED' if result.passed else 'FAILED'}** ({mode}, {len(pairs)} pairs)\n\n"
        + markdown_table(
            ["metric", "value"], [(k, v) for k, v in result.metrics.items() if k != "thresholds"]
        )
    )
    if result.reasons:
        summary += "\n\nReasons: " + ", ".join(f"`{r}`" for r in result.reasons)
    return dg.MaterializeResult(
        metadata={
            "summary": dg.MetadataValue.md(summary),
            "passed": result.passed,
            "mode": mode,
            "reasons": dg.MetadataValue.json(list(result.reasons)),
            "report": ledger.artifact_link(artifact),
            **json_artifact_content("report_content", artifact),
            "dagster/row_count": len(pairs),
        },
        check_results=[
            dg.AssetCheckResult(
                check_name="route_parity_passes",
                passed=result.passed,
                metadata={"reasons": dg.MetadataValue.json(list(result.reasons))},
            )
        ],
    )
