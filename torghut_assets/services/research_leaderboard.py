"""A lane's research leaderboard across windows: the range resolved (defaults from the ledger), the
passed runs' candidates and folds read, and the parameter sets ranked (`domain/research_leaderboard.py`).

The leaderboard reads only what the research chain committed, so it is the current view of the
ledger whenever it is materialized, where each window's research assets are snapshots of their run.
"""

from __future__ import annotations

from dataclasses import dataclass

from torghut_assets.domain.research_leaderboard import (
    DateRange,
    LeaderboardEntry,
    leaderboard_range,
    rank_parameter_sets,
)
from torghut_assets.ledger import research_leaderboard as store
from torghut_assets.services.ports import LedgerPort


@dataclass(frozen=True)
class Leaderboard:
    """The lane's ranked parameter sets over `span` (None: the lane never passed a research run), and
    how many windows with a passed run the span holds."""

    lane: str
    span: DateRange | None
    entries: list[LeaderboardEntry]
    windows: int


def research_leaderboard(
    ledger: LedgerPort, lane: str, from_date: str | None = None, to_date: str | None = None
) -> Leaderboard:
    """Rank the lane's parameter sets over the ISO date range (both ends included, UTC days); a missing
    end defaults to the day of the latest passed run, a missing start to 30 days before it. Raises
    `LeaderboardRangeError` (one sentence) for a malformed or inverted range."""
    with ledger.engine.connect() as conn:
        latest = store.latest_research_window(conn, lane)
        span = leaderboard_range(from_date, to_date, None if latest is None else latest.date())
        if span is None:
            return Leaderboard(lane, None, [], 0)
        candidates = store.passed_candidates(conn, lane, span.start, span.end)
        folds = store.passed_fold_pnl(conn, lane, span.start, span.end)
    windows = len({row["window_start"] for row in candidates})
    return Leaderboard(lane, span, rank_parameter_sets(candidates, folds), windows)
