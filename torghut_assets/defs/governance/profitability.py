"""`profitability_runtime`: the last 72 h of decisions, executions and costs, and what they do not prove.

Unpartitioned; refreshed hourly by `profitability_schedule` and on demand (optional `as_of` in the
Launchpad). The report is built by `services/profitability.py` and kept as a content-addressed JSON
artifact; this asset renders it: a markdown summary and a plot (cumulative PnL proxy by lane,
adverse-excursion histogram) embedded as an image.
"""

import base64
import io
from typing import Any

import dagster as dg
import pandas as pd
from pydantic import Field

from torghut_assets.defs.metadata import markdown_table
from torghut_assets.defs.resources import LedgerResource
from torghut_assets.services.profitability import evaluation_time, runtime_profitability_report


class ProfitabilityConfig(dg.Config):
    as_of: str | None = Field(default=None, description="evaluation time (ISO 8601, UTC); default now")


def _plot(frame: pd.DataFrame) -> bytes:
    """The shortfall points (lane, at, shortfall, bps) as a PNG."""
    import matplotlib  # imported here: it is a fifth of the code location's load time

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    frame = frame.copy()
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.5))
    if frame.empty:
        left.text(0.5, 0.5, "no executions in the last 72 h", ha="center", va="center")
        right.axis("off")
    else:
        frame["at"] = pd.to_datetime(frame["at"], utc=True)
        frame["proxy"] = -pd.to_numeric(frame["shortfall"]).fillna(0.0)
        for lane, part in frame.sort_values("at").groupby("lane"):
            left.step(part["at"], part["proxy"].cumsum(), where="post", label=str(lane))
        left.legend(loc="best", fontsize=8)
        bps = pd.to_numeric(frame["bps"]).dropna().clip(lower=0)
        right.hist(bps, bins=30)
        right.set_title("adverse excursion proxy (bps)", fontsize=9)
    left.set_title("cumulative realized PnL proxy (−shortfall)", fontsize=9)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=80)
    plt.close(fig)
    return buffer.getvalue()


def profitability_markdown(payload: dict[str, Any]) -> str:
    w, pnl = payload["window"], payload["realized_pnl_summary"]
    adapters = markdown_table(
        ["expected → actual", "executions", "fallbacks", "reasons"],
        [
            (
                f"{a['expected_adapter']} → {a['actual_adapter']}",
                a["execution_count"],
                a["fallback_execution_count"],
                ", ".join(f"{k}×{v}" for k, v in a["fallback_reason_counts"].items()) or "—",
            )
            for a in payload["executions"]["by_adapter"]
        ],
    )
    return (
        f"**72 h to {w['end']}**: {w['decision_count']} decisions, {w['execution_count']} executions, "
        f"{w['tca_sample_count']} TCA samples{' (empty window)' if w['empty'] else ''}\n\n"
        f"Realized PnL proxy (−shortfall): **{pnl['realized_pnl_proxy_notional']}**; adverse excursion p95 "
        f"{pnl['adverse_excursion_proxy_bps_p95']} bps, max {pnl['adverse_excursion_proxy_bps_max']} bps; "
        f"closed-trade PnL by lane: {payload['closed_trade_pnl_by_lane'] or '—'}\n\n{adapters}\n\n"
        f"Caveats: {', '.join(f'`{c}`' for c in payload['caveats'])}"
    )


@dg.asset(
    group_name="governance",
    kinds={"sql", "pandas"},
    description="72 h runtime profitability evidence: decisions, routes, TCA proxy, attribution, caveats.",
)
def profitability_runtime(
    context: dg.AssetExecutionContext, config: ProfitabilityConfig, ledger: LedgerResource
) -> dg.MaterializeResult:  # type: ignore[type-arg]
    built = runtime_profitability_report(ledger, evaluation_time(config.as_of))
    payload = built.payload
    png = _plot(built.shortfall)
    plot_ref = ledger.artifacts.write_bytes("gates/runtime-profitability-plot", png, suffix=".png")
    image = base64.b64encode(png).decode("ascii")
    pnl = payload["realized_pnl_summary"]
    return dg.MaterializeResult(
        metadata={
            "window_start": payload["window"]["start"],
            "window_end": payload["window"]["end"],
            "decision_count": payload["window"]["decision_count"],
            "execution_count": payload["window"]["execution_count"],
            "tca_sample_count": payload["window"]["tca_sample_count"],
            "empty": payload["window"]["empty"],
            "realized_pnl_proxy_notional": float(pnl["realized_pnl_proxy_notional"] or 0),
            "report": dg.MetadataValue.path(built.report.path),
            "report_sha256": built.report.sha256,
            "plot_file": dg.MetadataValue.path(plot_ref.path),
            "payload": dg.MetadataValue.json(payload),
            "summary": dg.MetadataValue.md(profitability_markdown(payload)),
            "plot": dg.MetadataValue.md(f"![runtime profitability](data:image/png;base64,{image})"),
        }
    )
