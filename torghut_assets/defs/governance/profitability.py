"""`profitability_runtime`: 72 h of closed-trade PnL, costs and decisions, and what they do not prove.

Unpartitioned; refreshed hourly by `profitability_schedule` and on demand (optional `as_of` in the
Launchpad). The report is built by `services/profitability.py` and kept as a content-addressed JSON
artifact; this asset renders it in the order an operator reads it (docs/runtime-reports.md):

1. the headline: closed-trade net PnL over the window's round trips, or that there is none;
2. closed trades by lane and symbol (a table) and the equity curve (a served PNG, drawn inline);
3. the TCA cost proxy and its plot, second because it is a cost, not profit;
4. routes, attribution, the caveats, and where the report and its snapshot time are.
"""

import datetime as dt
import io
from collections.abc import Callable
from typing import Any

import dagster as dg
import pandas as pd
from pydantic import Field

from torghut_assets.defs.launchpad import TIME_EXAMPLE, time_field
from torghut_assets.defs.metadata import artifact_content, inline_markdown, metadata_table, snapshot_note
from torghut_assets.defs.resources import LedgerResource
from torghut_assets.domain.profitability import CAVEAT_TEXT
from torghut_assets.services.profitability import (
    ProfitabilityReport,
    evaluation_time,
    runtime_profitability_report,
)

NOT_EVIDENCED = "no closed trades in the window: PnL is not evidenced"


class ProfitabilityConfig(dg.Config):
    as_of: str | None = Field(
        default=None, description=f"evaluation time, ISO 8601 with a zone, e.g. {TIME_EXAMPLE}; empty = now"
    )

    def evaluated_at(self) -> dt.datetime:
        """The evaluation time: now when `as_of` is empty; a malformed or zone-less `as_of` is refused
        with one sentence showing the ISO form, before anything is read."""
        return evaluation_time(None if self.as_of is None else time_field("as_of", self.as_of).isoformat())


def _png(draw: Callable[[Any], None], figsize: tuple[float, float], panels: int = 1) -> bytes:
    """Run `draw` on a fresh figure's axes (one, or a row of `panels`) and return the PNG."""
    import matplotlib  # imported here: it is a fifth of the code location's load time

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, panels, figsize=figsize)
    draw(axes)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=80)
    plt.close(fig)
    return buffer.getvalue()


def equity_curve_png(curve: pd.DataFrame, evidenced: bool) -> bytes:
    """Cumulative closed-trade net PnL over the window; without a closed trade, the words, not a flat line."""

    def draw(ax: Any) -> None:
        if not evidenced:
            ax.text(0.5, 0.5, NOT_EVIDENCED, ha="center", va="center")
            ax.axis("off")
            return
        ax.step(pd.to_datetime(curve["at"], utc=True), curve["cumulative_net_pnl"], where="post")
        ax.axhline(0.0, color="grey", linewidth=0.8)
        ax.set_ylabel("USD")
        ax.set_title("cumulative closed-trade net PnL after fees (flat round trips)", fontsize=9)

    return _png(draw, (7.0, 3.0))


def cost_proxy_png(frame: pd.DataFrame) -> bytes:
    """The TCA cost proxy: cumulative −shortfall by lane, and the adverse-excursion histogram."""

    def draw(axes: Any) -> None:
        left, right = axes
        left.set_title("cumulative cost proxy (−implementation shortfall, USD)", fontsize=9)
        if frame.empty:
            left.text(0.5, 0.5, "no TCA samples in the window", ha="center", va="center")
            right.axis("off")
            return
        points = frame.assign(
            at=pd.to_datetime(frame["at"], utc=True), proxy=-pd.to_numeric(frame["shortfall"]).fillna(0.0)
        )
        for lane, part in points.sort_values("at").groupby("lane"):
            left.step(part["at"], part["proxy"].cumsum(), where="post", label=str(lane))
        left.legend(loc="best", fontsize=8)
        right.hist(pd.to_numeric(points["bps"]).dropna().clip(lower=0), bins=30)
        right.set_title("adverse excursion proxy (bps)", fontsize=9)

    return _png(draw, (10.0, 3.5), panels=2)


def closed_trades_table(payload: dict[str, Any]) -> dg.MetadataValue:
    """Closed round trips and their net PnL per lane and symbol."""
    return metadata_table(
        [
            ("lane", "string"),
            ("symbol", "string"),
            ("round_trips", "int"),
            ("winning", "int"),
            ("executions", "int"),
            ("net_pnl_usd", "float"),
        ],
        [
            (
                r["lane"],
                r["symbol"],
                r["round_trips"],
                r["winning_round_trips"],
                r["executions"],
                float(r["net_pnl"]),
            )
            for r in payload["closed_trades"]["by_lane_symbol"]
        ],
    )


def cost_proxy_markdown(payload: dict[str, Any]) -> str:
    """The TCA cost proxy in two sentences (short enough to be drawn inline)."""
    pnl, window = payload["realized_pnl_summary"], payload["window"]
    if not window["tca_sample_count"]:
        return "**Cost proxy (TCA)**: no TCA samples in the window."
    return (
        f"**Cost proxy (TCA), not profit**: −implementation shortfall "
        f"**{pnl['realized_pnl_proxy_notional']} USD** over {window['tca_sample_count']} TCA samples "
        f"({window['execution_count']} executions, {window['decision_count']} decisions).\n\n"
        f"Adverse excursion p95 {pnl['adverse_excursion_proxy_bps_p95']} bps, "
        f"max {pnl['adverse_excursion_proxy_bps_max']} bps."
    )


def routes_table(payload: dict[str, Any]) -> dg.MetadataValue:
    return metadata_table(
        [
            ("expected", "string"),
            ("actual", "string"),
            ("executions", "int"),
            ("fallbacks", "int"),
            ("reasons", "string"),
        ],
        [
            (
                a["expected_adapter"],
                a["actual_adapter"],
                a["execution_count"],
                a["fallback_execution_count"],
                ", ".join(f"{k} x{v}" for k, v in a["fallback_reason_counts"].items()) or "none",
            )
            for a in payload["executions"]["by_adapter"]
        ],
    )


def attribution_markdown(payload: dict[str, Any]) -> str:
    """The gate, promotion and rollback picture of the window, in plain words."""
    a = payload["gate_rollback_attribution"]
    gate6, promotion, rollback = a["gate6_result"], a["promotion_decision"], a["rollback"]
    lines = [
        "gate 6 (profitability evidence): "
        + ("no gate evaluation in the window" if gate6 is None else str(gate6["status"]).upper()),
        f"recommended mode: {a['recommended_mode'] or 'none'}",
        "latest promotion decision: "
        + (
            "none"
            if promotion is None
            else f"{promotion['decision_action']} {promotion['candidate_id']} "
            f"({promotion['requested_mode']} requested, {promotion['approved_mode'] or 'nothing'} approved)"
        ),
        f"rollback incidents: {rollback['incidents_total']}"
        + (f" (latest: {rollback['reason']})" if rollback["reason"] else ""),
        f"emergency stop active: {'yes' if rollback['emergency_stop_active'] else 'no'}",
        f"promotions blocked by the continuity latch: {rollback['signal_continuity_promotion_block_total']}",
    ]
    return "\n".join(f"- {line}" for line in lines)


def caveats_markdown(payload: dict[str, Any]) -> str:
    """What the evidence shows and no more: each caveat's code and its meaning."""
    return "What this report does not show:\n\n" + "\n".join(
        f"- `{code}`: {CAVEAT_TEXT.get(code, code)}" for code in payload["caveats"]
    )


def profitability_metadata(built: ProfitabilityReport, ledger: LedgerResource) -> dict[str, Any]:
    """The report's metadata in reading order: PnL first, then costs, then attribution and caveats."""
    payload, window, closed = built.payload, built.payload["window"], built.payload["closed_trades"]
    curve = ledger.artifacts.write_bytes(
        "gates/runtime-profitability-equity-curve",
        equity_curve_png(built.equity_curve, closed["evidenced"]),
        suffix=".png",
    )
    costs = ledger.artifacts.write_bytes(
        "gates/runtime-profitability-plot", cost_proxy_png(built.shortfall), suffix=".png"
    )
    return {
        "headline": dg.MetadataValue.text(built.headline),
        "closed_trades": closed_trades_table(payload),
        "equity_curve": ledger.inline_image(curve, "cumulative closed-trade net PnL"),
        "closed_trade_net_pnl_usd": (
            dg.MetadataValue.float(float(closed["net_pnl"]))
            if closed["evidenced"]
            else dg.MetadataValue.text("not evidenced")
        ),
        "closed_round_trips": closed["round_trips"],
        "cost_proxy": inline_markdown(cost_proxy_markdown(payload)),
        "cost_proxy_plot": ledger.inline_image(costs, "TCA cost proxy and adverse excursion"),
        "routes": routes_table(payload),
        "attribution": inline_markdown(attribution_markdown(payload)),
        "caveats": inline_markdown(caveats_markdown(payload)),
        "window_start": window["start"],
        "window_end": window["end"],
        "decision_count": window["decision_count"],
        "execution_count": window["execution_count"],
        "tca_sample_count": window["tca_sample_count"],
        "empty": window["empty"],
        "snapshot_at": built.snapshot_at.isoformat(),
        "snapshot_note": snapshot_note(
            built.snapshot_at,
            "`signal_continuity` (emergency stop) and `promotion_timeline` (rollbacks, halts); "
            "the figures are those of the window to window_end",
        ),
        "report": ledger.artifact_link(built.report),
        "report_sha256": built.report.sha256,
        **artifact_content("payload", built.report.size_bytes, payload),
    }


@dg.asset(
    group_name="governance",
    deps=["executions", "trade_decisions", "research_promotions"],
    kinds={"sql", "pandas"},
    description=(
        "72 h runtime profitability evidence: closed-trade PnL first, then the TCA cost proxy, routes, "
        "attribution and caveats."
    ),
)
def profitability_runtime(
    context: dg.AssetExecutionContext, config: ProfitabilityConfig, ledger: LedgerResource
) -> dg.MaterializeResult:  # type: ignore[type-arg]
    built = runtime_profitability_report(ledger, config.evaluated_at())
    return dg.MaterializeResult(metadata=profitability_metadata(built, ledger))
