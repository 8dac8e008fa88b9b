"""`research_leaderboard`: a lane's parameter sets ranked across the research windows of a date range.

Partitioned per lane (the catalog's lanes), in its own `research` group so the lane-window job, which
selects the `lane_window` group, keeps one partitioning. It depends on every window of its lane's
`research_candidates`, so the lineage shows where it reads from; materialize it from its asset page
(optionally with a date range in the Launchpad). The ranking and the defaults are documented in
docs/research.md ("Research leaderboard").
"""

import json
from typing import Any

import dagster as dg
import pandas as pd

from torghut_assets.defs.lane_window import research_plots
from torghut_assets.defs.lane_window.partitions import lane_partitions
from torghut_assets.defs.launchpad import refuse
from torghut_assets.defs.metadata import markdown_table
from torghut_assets.defs.resources import LedgerResource
from torghut_assets.domain.research_leaderboard import (
    DEFAULT_SPAN_DAYS,
    MAX_SPAN_DAYS,
    LeaderboardEntry,
    LeaderboardRangeError,
)
from torghut_assets.services import research_leaderboard as leaderboard_service
from torghut_assets.services.research_leaderboard import Leaderboard

GROUP = "research"
PLOTTED_PARAMETER_SETS = 5
SUMMARY_ROWS = 5
PLOT_KIND = "research/plots/leaderboard"

LEADERBOARD_COLUMNS = dg.TableSchema(
    columns=[
        dg.TableColumn("rank", "int", description="1 = best by the score (mean DSR, then total net PnL)."),
        dg.TableColumn(
            "parameter_key", "string", description="sha256 of the parameter set, first 12 hex characters."
        ),
        dg.TableColumn("strategy_type", "string", description="The strategy the parameters configure."),
        dg.TableColumn("params", "string", description="The strategy parameters (JSON)."),
        dg.TableColumn("windows", "int", description="Windows of the range whose passed run tried it."),
        dg.TableColumn("champion_windows", "int", description="Of those, windows where it was the champion."),
        dg.TableColumn("mean_dsr", "float", description="Mean deflated Sharpe ratio (0..1) over windows."),
        dg.TableColumn("mean_sharpe", "float", description="Mean per-fold Sharpe ratio over windows."),
        dg.TableColumn(
            "total_net_pnl_usd",
            "float",
            description="Sum of each window's lookback net PnL, USD (lookbacks may overlap).",
        ),
        dg.TableColumn(
            "worst_max_drawdown_usd", "float", description="Largest lookback max drawdown of any window, USD."
        ),
        dg.TableColumn("trades", "int", description="Fills summed over the windows' lookback backtests."),
        dg.TableColumn("latest_candidate_id", "string", description="Its candidate id in the latest window."),
    ]
)


class LeaderboardConfig(dg.Config):
    """The range of research windows to rank, as ISO dates (UTC days, both ends included). Empty:
    the 30 days ending at the lane's latest passed research run."""

    from_date: str = ""
    to_date: str = ""


def _optional(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(value, digits)


def _record(rank: int, entry: LeaderboardEntry) -> dg.TableRecord:
    return dg.TableRecord(
        {
            "rank": rank,
            "parameter_key": entry.parameter_key,
            "strategy_type": entry.strategy_type,
            "params": json.dumps(dict(entry.params), sort_keys=True),
            "windows": entry.windows,
            "champion_windows": entry.champion_windows,
            "mean_dsr": _optional(entry.mean_dsr),
            "mean_sharpe": _optional(entry.mean_sharpe),
            "total_net_pnl_usd": round(entry.total_net_pnl_usd, 2),
            "worst_max_drawdown_usd": round(entry.worst_drawdown_usd, 2),
            "trades": entry.trades,
            "latest_candidate_id": entry.latest_candidate_id,
        }
    )


def leaderboard_metadata(board: Leaderboard, ledger: LedgerResource) -> dict[str, Any]:
    """The ranked table (every parameter set), a short summary of the top ones, and the plot."""
    entries = board.entries
    span = board.span
    if span is None:
        summary = f"Lane `{board.lane}` has no passed research run yet: nothing to rank."
        return {
            "lane": board.lane,
            "dagster/row_count": dg.MetadataValue.int(0),
            "summary": dg.MetadataValue.md(summary),
        }
    period = f"{span.from_date.isoformat()}..{span.to_date.isoformat()}"
    summary = (
        f"**{len(entries)} parameter sets** over {board.windows} researched windows of lane "
        f"`{board.lane}`, {period} (UTC days), all in the `leaderboard` table; ranked by mean DSR, then "
        "total net PnL:\n\n"
        + markdown_table(
            ["#", "parameter_key", "windows", "mean_dsr", "total_net_pnl_usd", "worst_dd_usd"],
            [
                (
                    rank,
                    e.parameter_key,
                    e.windows,
                    _optional(e.mean_dsr, 3),
                    round(e.total_net_pnl_usd, 2),
                    round(e.worst_drawdown_usd, 2),
                )
                for rank, e in enumerate(entries[:SUMMARY_ROWS], start=1)
            ],
        )
    )
    metadata: dict[str, Any] = {
        "lane": board.lane,
        "from_date": span.from_date.isoformat(),
        "to_date": span.to_date.isoformat(),
        "windows": board.windows,
        "dagster/row_count": dg.MetadataValue.int(len(entries)),
        "summary": dg.MetadataValue.md(summary),
        "leaderboard": dg.MetadataValue.table(
            [_record(rank, e) for rank, e in enumerate(entries, start=1)], LEADERBOARD_COLUMNS
        ),
        "score": dg.MetadataValue.text(
            "mean deflated Sharpe ratio over the windows where it is defined (none: ranked last), then "
            "total net PnL (USD), then parameter key"
        ),
        "as_of": dg.MetadataValue.text(
            f"read from the ledger at {pd.Timestamp.now(tz='UTC').isoformat(timespec='seconds')}; "
            "re-materialize for windows researched since"
        ),
    }
    if entries:
        plotted = entries[:PLOTTED_PARAMETER_SETS]
        png = research_plots.leaderboard_png(
            plotted, f"{board.lane}: cumulative net PnL (USD) across windows, top {len(plotted)}"
        )
        ref = ledger.artifacts.write_bytes(PLOT_KIND, png, ".png")
        metadata["leaderboard_plot"] = ledger.inline_image(ref, f"{board.lane} research leaderboard")
        metadata["plotted_parameter_sets"] = dg.MetadataValue.text(
            f"the top {len(plotted)} of {len(entries)} parameter sets are plotted (at most "
            f"{PLOTTED_PARAMETER_SETS}); every one is in the table"
        )
    return metadata


@dg.asset(
    partitions_def=lane_partitions,
    group_name=GROUP,
    # every window of the partition's lane: Dagster maps a lane partition onto the lane dimension of
    # the lane-window partitions by itself (spelling the mapping out would use a beta class)
    deps=["research_candidates"],
    kinds={"sql", "matplotlib"},
    description=(
        "A lane's research parameter sets ranked across windows (mean DSR, then net PnL), with window "
        "count, total net PnL, mean Sharpe, worst drawdown and trades; default range the "
        f"{DEFAULT_SPAN_DAYS} days ending at the latest passed run, at most {MAX_SPAN_DAYS} days."
    ),
)
def research_leaderboard(
    context: dg.AssetExecutionContext, config: LeaderboardConfig, ledger: LedgerResource
) -> dg.MaterializeResult:  # type: ignore[type-arg]
    lane = context.partition_key
    try:
        board = leaderboard_service.research_leaderboard(
            ledger, lane, config.from_date or None, config.to_date or None
        )
    except LeaderboardRangeError as exc:
        refuse(str(exc))
    return dg.MaterializeResult(metadata=leaderboard_metadata(board, ledger))
