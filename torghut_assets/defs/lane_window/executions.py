"""`executions`: route each planned decision (LEAN first, fallback once), record route and TCA per row.

The use case is `services.window_executions.execute_window` (re-materializing never resubmits; applied
LLM advisory reviews act before routing; a standing trading stop cancels open orders first). This asset
reads the trading session's clock once for the run and renders what became of every decision.

What it shows is a snapshot: order statuses and the lane's standing entry block as read during the run
(`snapshot_at`). When an entry block stands, a plain sentence says which of the window's buys were
decided before it (and filled) and that none was sent after it (`services/entry_block_account.py`), so a
halted lane whose earlier buys filled does not read as a contradiction.
"""

import datetime as dt
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import dagster as dg

from torghut_assets.adapters.paper_broker import SIMULATOR_VERSION
from torghut_assets.defs.lane_window.partitions import lane_window, lane_window_partitions
from torghut_assets.defs.lane_window.trading_session import TradingSessionResource
from torghut_assets.defs.metadata import markdown_table, snapshot_note, window_metadata
from torghut_assets.defs.resources import BrokerResource, LedgerResource, MarketDataResource
from torghut_assets.domain.lanes import LaneWindow
from torghut_assets.domain.order_timing import SubmissionOutcome
from torghut_assets.domain.routing import Venue
from torghut_assets.services.entry_block_account import EntryBlockAccount, read_window_entry_block
from torghut_assets.services.window_executions import StopCancels, TradingClock, execute_window


@dg.asset(
    partitions_def=lane_window_partitions,
    group_name="lane_window",
    deps=["trade_decisions", "llm_decision_reviews"],
    kinds={"sql"},
    code_version="4",
    description=(
        "Orders for the planned decisions: replay lanes on the simulated venue; paper/live lanes only "
        "from their open window (LEAN first, fallback on failure); stale or closed-window decisions expire."
    ),
)
def executions(
    context: dg.AssetExecutionContext,
    ledger: LedgerResource,
    market_data: MarketDataResource,
    broker: BrokerResource,
    trading_session: TradingSessionResource,
) -> dg.MaterializeResult:  # type: ignore[type-arg]
    window = lane_window(context)
    mode = trading_session.mode(window.lane)
    clock = TradingClock(
        mode=mode,
        now=trading_session.now(),
        phase=trading_session.phase(window),
        decision_timeout_seconds=trading_session.planned_decision_timeout_seconds,
    )
    result = execute_window(ledger, market_data, broker, window, clock)
    provenance = broker.provenance(result.real_venues) if mode.reaches_real_venues else replay_provenance()
    block = read_window_entry_block(ledger, window, result.execution_rows)
    return dg.MaterializeResult(
        metadata=execution_metadata(
            window,
            result.written,
            result.execution_rows,
            result.tca_rows,
            provenance,
            result.manual_review,
            llm_applied={"vetoed": result.vetoed, "adjusted": result.adjusted},
            trading=trading_session.describe(window),
            unsent=result.unsent,
            sent_now=result.sent_to_real_venues,
            open_orders_unavailable=result.open_orders_unavailable,
            cancels=None if result.cancels is None else cancel_summary(result.cancels),
            entry_block=block,
            snapshot_at=dt.datetime.now(dt.UTC) if block is None else block.snapshot_at,
        )
    )


def cancel_summary(cancels: StopCancels) -> dict[str, object]:
    outcomes = cancels.outcomes
    return {
        "trigger": cancels.trigger.value,
        "reason": cancels.reason,
        "attempted": len(outcomes),
        "accepted": sum(1 for c in outcomes if c.accepted),
        "refused": [f"{c.venue}:{c.order_id}:{c.detail}" for c in outcomes if not c.accepted],
    }


def replay_provenance() -> dict[str, object]:
    return {
        "venues": [Venue.SIMULATOR.value],
        "policy": "replay",
        "fallback_adapter": None,
        "simulator_version": SIMULATOR_VERSION,
        "note": "replay lane: simulated venue only, at each decision's own time; nothing reaches a broker",
    }


def execution_metadata(
    window: LaneWindow,
    written: int,
    execution_rows: Sequence[Mapping[str, Any]],
    tca_rows: Sequence[Mapping[str, Any]],
    provenance: dict[str, object],
    review: frozenset[str],
    llm_applied: dict[str, int] | None = None,
    trading: dict[str, object] | None = None,
    unsent: Mapping[str, SubmissionOutcome] | None = None,
    sent_now: int = 0,
    open_orders_unavailable: list[str] | None = None,
    cancels: dict[str, object] | None = None,
    entry_block: EntryBlockAccount | None = None,
    snapshot_at: dt.datetime | None = None,
) -> dict[str, Any]:
    statuses = Counter(str(r["status"]) for r in execution_rows)
    by_adapter = Counter(
        f"{r['execution_expected_adapter']}→{r['execution_actual_adapter']}" for r in execution_rows
    )
    fallback_reasons = Counter(
        str(r["execution_fallback_reason"]) for r in execution_rows if r["execution_fallback_reason"]
    )
    slippage = [float(r["slippage_bps"]) for r in tca_rows if r["slippage_bps"] is not None]
    shortfall = sum(float(r["shortfall_notional"] or 0.0) for r in tca_rows)
    unsent = unsent or {}
    unsent_reasons = Counter(o.reason.split(":")[0] for o in unsent.values())
    summary = _summary(window, written, execution_rows, provenance, trading, unsent, unsent_reasons)
    return window_metadata(
        window,
        written,
        summary,
        status_counts=dict(statuses),
        requests_by_route=dict(by_adapter),
        fallbacks_by_reason=dict(fallback_reasons),
        manual_review_symbols=sorted(review),
        tca_rows=len(tca_rows),
        avg_slippage_bps=round(sum(slippage) / len(slippage), 4) if slippage else None,
        shortfall_notional_total=round(shortfall, 4),
        route=provenance,
        llm_applied=llm_applied or {"vetoed": 0, "adjusted": 0},
        trading=trading or {},
        sent_to_real_venues_now=sent_now,
        unsent_by_reason=dict(unsent_reasons),
        open_orders_unavailable=open_orders_unavailable or [],
        cancels_on_stop=cancels or {"trigger": None, "attempted": 0},
        **entry_block_metadata(entry_block),
        **snapshot_metadata(snapshot_at),
    )


def entry_block_metadata(block: EntryBlockAccount | None) -> dict[str, Any]:
    """The standing entry block and the sentence that places the window's buys before or after it."""
    if block is None:
        return {"entry_block": None}
    return {
        "entry_block": {"reason": block.reason, "since": block.since.isoformat()},
        "entry_block_note": dg.MetadataValue.text(block.sentence()),
    }


def snapshot_metadata(snapshot_at: dt.datetime | None) -> dict[str, Any]:
    """When the statuses and the block were read, and where their present state is."""
    if snapshot_at is None:
        return {}
    return {
        "snapshot_at": snapshot_at.isoformat(),
        "snapshot_note": dg.MetadataValue.text(
            snapshot_note(
                snapshot_at,
                "`promotion_timeline` (lane halts), `signal_continuity` (emergency stop) and the "
                "nightly `reconciliation_report` (order statuses against the broker)",
            )
        ),
    }


def _summary(
    window: LaneWindow,
    written: int,
    execution_rows: Sequence[Mapping[str, Any]],
    provenance: dict[str, object],
    trading: dict[str, object] | None,
    unsent: Mapping[str, SubmissionOutcome],
    unsent_reasons: Counter[str],
) -> str:
    mode_line = (
        f"mode `{trading['mode']}`, window {trading['window_phase']}"
        if trading is not None
        else "mode unknown"
    )
    return (
        f"**{written} executions** for `{window.label()}` via {provenance['venues']} ({mode_line})"
        + (f"; {len(unsent)} decisions never sent: {dict(unsent_reasons)}" if unsent else "")
        + "\n\n"
        + markdown_table(
            ["symbol", "side", "submitted", "filled", "avg_fill", "status", "route", "fallback reason"],
            [
                (
                    e["symbol"],
                    e["side"],
                    e["submitted_qty"],
                    e["filled_qty"],
                    e["avg_fill_price"],
                    e["status"],
                    f"{e['execution_expected_adapter']}→{e['execution_actual_adapter']}",
                    e["execution_fallback_reason"],
                )
                for e in execution_rows[:50]
            ],
        )
    )
