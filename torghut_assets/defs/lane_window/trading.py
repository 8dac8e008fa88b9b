"""`trade_decisions`: strategy → sizing → risk, replayed from the session open, one lane window at a time.

The use case is `services.trade_planning.plan_window_decisions`; this asset reads the account that sizes
the window (`services.broker_account.read_account`), turns a failing strategy into a failure of this
window alone (`isolated_strategy`) and renders what was decided.
"""

from collections import Counter
from typing import Any

import dagster as dg

from torghut_assets.defs.lane_window.partitions import lane_window, lane_window_partitions
from torghut_assets.defs.lane_window.strategy_isolation import isolated_strategy
from torghut_assets.defs.lane_window.trading_session import TradingSessionResource
from torghut_assets.defs.metadata import markdown_table, window_metadata
from torghut_assets.defs.resources import BrokerResource, LedgerResource, MarketDataResource
from torghut_assets.domain.lanes import LaneWindow
from torghut_assets.services.broker_account import AccountBasis, read_account
from torghut_assets.services.trade_planning import WindowPlan, plan_window_decisions


@dg.asset(
    partitions_def=lane_window_partitions,
    group_name="lane_window",
    deps=["signals"],
    kinds={"sql"},
    code_version="1",
    description="Deterministic strategy decisions for the window, sized and risk-checked; rejections kept.",
)
def trade_decisions(
    context: dg.AssetExecutionContext,
    ledger: LedgerResource,
    market_data: MarketDataResource,
    broker: BrokerResource,
    trading_session: TradingSessionResource,
) -> dg.MaterializeResult:  # type: ignore[type-arg]
    window = lane_window(context)
    # the broker's equity for a paper/live lane on a broker-bound account when Alpaca is configured, else
    # the lane's simulated account's (lane catalog, docs/lane-catalog.md)
    account = read_account(broker, trading_session.mode(window.lane), window.config.account_broker)
    # a strategy that raises, answers garbage or overruns fails this window here, before anything is
    # written (docs/strategies.md)
    with isolated_strategy(window, trading_session.strategy_timeout_seconds):
        plan = plan_window_decisions(
            ledger, market_data, window, account, trading_session.strategy_timeout_seconds
        )
    if plan.quality_failed is not None:
        context.log.error(
            f"no decisions for {window.label()}: feature quality gate failed ({plan.quality_failed}); "
            f"{len(plan.rows)} sent earlier kept"
        )
    return dg.MaterializeResult(metadata=decision_metadata(window, plan, account))


def decision_metadata(window: LaneWindow, plan: WindowPlan, account: AccountBasis) -> dict[str, Any]:
    rows, spec, lane, stage = plan.rows, plan.strategy.spec, plan.strategy.lane, plan.strategy.stage
    statuses = Counter(r["status"] for r in rows)
    reasons = Counter(code for r in rows for code in r["decision_json"]["risk_reasons"])
    summary = (
        f"**{plan.written} decisions** by `{spec.name}@{spec.version}` for `{window.label()}`"
        + (
            f"; feature quality gate failed: `{plan.quality_failed}`: nothing new decided"
            if plan.quality_failed
            else ""
        )
        + "\n\n"
        + markdown_table(
            ["symbol", "action", "qty", "status", "event_ts"],
            [
                (
                    r["symbol"],
                    r["decision_json"]["action"],
                    r["decision_json"]["qty"],
                    r["status"],
                    r["signal_event_ts"].isoformat(),
                )
                for r in rows[:50]
            ],
        )
    )
    block, session = plan.block, plan.session
    return window_metadata(
        window,
        plan.written,
        summary,
        status_counts=dict(statuses),
        entry_block=None if block is None else {"reason": block.reason, "since": block.since.isoformat()},
        feature_quality_gate_failed=plan.quality_failed,
        risk_reason_counts=dict(reasons),
        strategy_id=spec.strategy_id,
        strategy_params=dict(spec.params),
        rollout_stage=None if stage is None else stage.value,
        market_session=None if session is None else [session[0].isoformat(), session[1].isoformat()],
        equity_source=account.source,
        account=account.metadata(lane),
        account_label=lane.account_label,
        lane_catalog_checksum=lane.catalog_checksum,
    )
