"""`llm_decision_reviews`: the LLM advisory reviews each planned decision of a lane window.

Off unless `LLM_ENABLED=true`; the review itself (shadow or acting, circuit breaker, error budget, one
transaction per window) is `services.llm_reviews`. This module declares the asset, pages when the
window's error budget is spent, and renders the reviews as metadata.
"""

from typing import Any

import dagster as dg

from torghut_assets.defs.alerts import AlertsResource, alert_metadata
from torghut_assets.defs.lane_window.partitions import lane_window, lane_window_partitions
from torghut_assets.defs.llm.llm_advisory import LLMAdvisoryResource
from torghut_assets.defs.metadata import markdown_table, window_metadata
from torghut_assets.defs.resources import LedgerResource
from torghut_assets.domain.alerts import llm_budget_alert
from torghut_assets.domain.lanes import LaneWindow
from torghut_assets.services.llm_reviews import WindowReviews, clear_window_reviews, mode_json, review_window

DISABLED = "LLM advisory disabled"


@dg.asset(
    partitions_def=lane_window_partitions,
    group_name="lane_window",
    deps=["trade_decisions"],
    kinds={"sql"},
    code_version="1",
    description="LLM advisory reviews of the window's planned decisions (off by default; shadow is inert).",
)
def llm_decision_reviews(
    context: dg.AssetExecutionContext,
    ledger: LedgerResource,
    llm: LLMAdvisoryResource,
    alerts: AlertsResource,
) -> dg.MaterializeResult:  # type: ignore[type-arg]
    window = lane_window(context)
    if not llm.enabled:
        clear_window_reviews(ledger, window)
        note = f" ({llm.note})" if llm.note else ""
        return dg.MaterializeResult(
            metadata=window_metadata(
                window, 0, f"**{DISABLED}**{note}: no reviews, decisions untouched.", llm_advisory=DISABLED
            )
        )
    reviewed = review_window(ledger, llm, window)
    budget = reviewed.budget
    page = llm_budget_alert(lane=window.lane, window_start=window.start, budget=budget.as_json())
    sent = alerts.send(ledger, [page] if budget.spent else [], context.log)
    return dg.MaterializeResult(metadata={**_metadata(window, reviewed, llm), **alert_metadata(sent)})


def _metadata(window: LaneWindow, reviewed: WindowReviews, llm: LLMAdvisoryResource) -> dict[str, Any]:
    rows, written, mode, telemetry = reviewed.rows, reviewed.written, reviewed.mode, reviewed.telemetry
    circuit, budget = reviewed.circuit, reviewed.budget
    latencies = sorted(float(r["latency_ms"]) for r in rows if r["latency_ms"] is not None)
    state = "shadow (" + ", ".join(mode.shadow_reasons) + ")" if mode.shadow else "acting"
    summary = (
        f"**{written} LLM reviews** for `{window.label()}`, {state}: {telemetry['applied']} applied, "
        f"{telemetry['counts']['errors']} errors, {telemetry['refusals']} refusals, "
        f"circuit {circuit['state']}"
        + (", **error budget spent: forced to shadow**" if budget.spent else "")
        + "\n\n"
        + markdown_table(
            ["decision", "verdict", "effective", "action", "applied", "error", "latency_ms"],
            [
                (
                    str(r["trade_decision_id"])[:8],
                    r["verdict"],
                    r["effective_verdict"],
                    r["action"],
                    r["applied"],
                    r["error_code"],
                    r["latency_ms"],
                )
                for r in rows[:50]
            ],
        )
    )
    return window_metadata(
        window,
        written,
        summary,
        llm_advisory="enabled",
        llm=llm.describe(),
        llm_mode=mode_json(mode),
        llm_telemetry=telemetry,
        circuit=circuit,
        error_budget={**budget.as_json(), "window_hours": llm.error_budget_window_hours},
        budget_alert_recorded=reviewed.alerted,
        latency_ms_p50=latencies[len(latencies) // 2] if latencies else None,
        latency_ms_max=latencies[-1] if latencies else None,
    )
