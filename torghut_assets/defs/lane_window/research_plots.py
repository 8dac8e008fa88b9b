"""The research plots as PNG bytes: a candidate's equity curve and drawdown, and the leaderboard's
cumulative net PnL across windows. Small (6 x 2.5 in at 80 dpi) so the asset page draws them inline.

Only drawing lives here; the series (equity, drawdown, cumulative PnL) are the domain's
(`domain/research_performance.py`, `domain/research_leaderboard.py`). matplotlib is imported when a
plot is drawn, not when the code location loads (it is a large import).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

from torghut_assets.domain.research_leaderboard import LeaderboardEntry
from torghut_assets.domain.research_performance import EquityCurve

FIGSIZE_IN = (6.0, 2.5)
DPI = 80


# Fixed margins instead of tight_layout: the layout pass cost more than drawing, on every window.
MARGINS = {"left": 0.09, "right": 0.98, "top": 0.86, "bottom": 0.16}


def _figure() -> tuple[Any, Any]:
    """A bare Agg figure and its axes (no pyplot: no global figure registry to keep or close)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=FIGSIZE_IN)
    FigureCanvasAgg(fig)
    fig.subplots_adjust(**MARGINS)
    return fig, fig.add_subplot()


def _png(fig: Any) -> bytes:
    buffer = io.BytesIO()
    # no Software tag: the same series gives the same bytes, so the content-addressed artifact is reused
    fig.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    return buffer.getvalue()


def equity_curve_png(curve: EquityCurve, title: str) -> bytes:
    """Cumulative net PnL (USD) per bar time of the candidate's lookback backtest."""
    fig, ax = _figure()
    ax.plot(list(curve.bar_times), list(curve.equity_usd), linewidth=1.2, color="tab:blue")
    ax.axhline(0.0, color="grey", linewidth=0.6)
    ax.set_title(f"{title}: equity (cumulative net PnL, USD)", fontsize=9)
    ax.tick_params(labelsize=7)
    return _png(fig)


def drawdown_png(curve: EquityCurve, title: str) -> bytes:
    """Equity below its running peak (USD, <= 0) per bar time."""
    fig, ax = _figure()
    times, drawdown = list(curve.bar_times), list(curve.drawdown_usd)
    ax.fill_between(times, drawdown, 0.0, color="tab:red", alpha=0.4, linewidth=0)
    ax.plot(times, drawdown, color="tab:red", linewidth=0.8)
    ax.set_title(f"{title}: drawdown (USD, max {curve.max_drawdown_usd:.2f})", fontsize=9)
    ax.tick_params(labelsize=7)
    return _png(fig)


def leaderboard_png(entries: Sequence[LeaderboardEntry], title: str) -> bytes:
    """Cumulative net PnL (USD) window by window of each of the given parameter sets."""
    fig, ax = _figure()
    for rank, entry in enumerate(entries, start=1):
        points = entry.cumulative_net_pnl_usd()
        ax.plot(
            [t for t, _ in points],
            [v for _, v in points],
            marker="o",
            markersize=3,
            linewidth=1.0,
            label=f"#{rank} {entry.parameter_key}",
        )
    ax.axhline(0.0, color="grey", linewidth=0.6)
    if entries:
        ax.legend(loc="best", fontsize=6)
    ax.set_title(title, fontsize=9)
    ax.tick_params(labelsize=7)
    return _png(fig)
