"""A lane's research across windows: which parameter sets held up, ranked by a documented score.

A candidate id belongs to one run (it hashes the run id), so the same parameter set researched in ten
windows has ten ids; across windows a candidate is therefore its parameter set (strategy, version,
params), keyed by `research.strategy_config_hash`. Per window, its Sharpe and DSR are the run's
overfitting statistics (deflated against that window's trials); its net PnL, max drawdown and trades are
the window's lookback backtest.

Score (best first): mean DSR over the windows where it is defined (a parameter set with none ranks after
every one with some), then total net PnL, then the parameter key, so the order is reproducible. Windows'
lookbacks may overlap (an hourly window researching the sessions before it), so the total net PnL is a
sum of evidence, not the PnL one account would have made (docs/research.md, "Research leaderboard").
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from torghut_assets.domain.research import strategy_config_hash
from torghut_assets.domain.research_evaluation import overfitting_by_candidate
from torghut_assets.domain.research_performance import (
    CandidateRole,
    candidate_roles,
    fold_net_pnl_by_candidate,
)

DEFAULT_SPAN_DAYS = 30
MAX_SPAN_DAYS = 366
PARAMETER_KEY_LENGTH = 12


class LeaderboardRangeError(ValueError):
    """A date range the leaderboard refuses; the message is one sentence naming the field."""


@dataclass(frozen=True)
class DateRange:
    """Whole UTC days, both ends included."""

    from_date: dt.date
    to_date: dt.date

    @property
    def start(self) -> dt.datetime:
        return dt.datetime.combine(self.from_date, dt.time(), tzinfo=dt.UTC)

    @property
    def end(self) -> dt.datetime:
        """Exclusive: midnight after `to_date`."""
        return dt.datetime.combine(self.to_date + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)

    @property
    def days(self) -> int:
        return (self.to_date - self.from_date).days + 1


def _iso_date(field: str, text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        raise LeaderboardRangeError(
            f"{field} must be an ISO date such as 2026-03-03, got {text!r}."
        ) from None


def leaderboard_range(
    from_text: str | None, to_text: str | None, latest_research: dt.date | None
) -> DateRange | None:
    """The range asked for, defaults filled: `to_date` defaults to the day of the lane's latest passed
    research run, `from_date` to 30 days ending there. None when a default is needed and the lane has
    never passed a research run (nothing to rank)."""
    to_date = _iso_date("to_date", to_text) if to_text else latest_research
    from_date = _iso_date("from_date", from_text) if from_text else None
    if to_date is None:
        if from_date is None:
            return None
        to_date = from_date + dt.timedelta(days=DEFAULT_SPAN_DAYS - 1)
    if from_date is None:
        from_date = to_date - dt.timedelta(days=DEFAULT_SPAN_DAYS - 1)
    if from_date > to_date:
        raise LeaderboardRangeError(
            f"from_date {from_date.isoformat()} is after to_date {to_date.isoformat()}: "
            "give the earlier day first."
        )
    span = DateRange(from_date, to_date)
    if span.days > MAX_SPAN_DAYS:
        raise LeaderboardRangeError(
            f"the range {from_date.isoformat()}..{to_date.isoformat()} spans {span.days} days; "
            f"ask for at most {MAX_SPAN_DAYS}."
        )
    return span


@dataclass(frozen=True)
class WindowResult:
    """One parameter set's result in one window."""

    window_start: dt.datetime
    candidate_id: str
    role: CandidateRole
    net_pnl_usd: float
    max_drawdown_usd: float
    trades: int
    sharpe: float | None
    dsr: float | None


@dataclass(frozen=True)
class LeaderboardEntry:
    """A parameter set across the windows of the range, with its windows oldest first."""

    parameter_key: str
    strategy_type: str
    params: Mapping[str, object]
    results: tuple[WindowResult, ...]

    @property
    def windows(self) -> int:
        return len(self.results)

    @property
    def champion_windows(self) -> int:
        return sum(1 for r in self.results if r.role is CandidateRole.CHAMPION)

    @property
    def total_net_pnl_usd(self) -> float:
        return sum(r.net_pnl_usd for r in self.results)

    @property
    def mean_sharpe(self) -> float | None:
        return _mean([r.sharpe for r in self.results])

    @property
    def mean_dsr(self) -> float | None:
        return _mean([r.dsr for r in self.results])

    @property
    def worst_drawdown_usd(self) -> float:
        return max((r.max_drawdown_usd for r in self.results), default=0.0)

    @property
    def trades(self) -> int:
        return sum(r.trades for r in self.results)

    @property
    def latest_candidate_id(self) -> str:
        return self.results[-1].candidate_id

    def cumulative_net_pnl_usd(self) -> list[tuple[dt.datetime, float]]:
        """Net PnL summed window by window, oldest first (what the leaderboard plot draws)."""
        total, points = 0.0, []
        for r in self.results:
            total += r.net_pnl_usd
            points.append((r.window_start, total))
        return points


def _mean(values: Sequence[float | None]) -> float | None:
    defined = [v for v in values if v is not None]
    return sum(defined) / len(defined) if defined else None


def score_key(entry: LeaderboardEntry) -> tuple[bool, float, float, str]:
    """Best first: mean DSR (undefined last), then total net PnL, then the parameter key."""
    dsr = entry.mean_dsr
    return (dsr is None, -(dsr or 0.0), -entry.total_net_pnl_usd, entry.parameter_key)


def _optional(value: object) -> float | None:
    return None if value is None else float(str(value))


def rank_parameter_sets(
    candidates: Sequence[Mapping[str, Any]], folds: Sequence[Mapping[str, Any]]
) -> list[LeaderboardEntry]:
    """Candidates of many windows (each row with its `window_start`), grouped by parameter set and
    ranked by `score_key`; each window's Sharpe, DSR and roles come from that window's trials alone."""
    by_window: dict[dt.datetime, list[Mapping[str, Any]]] = {}
    for row in candidates:
        by_window.setdefault(row["window_start"], []).append(row)
    folds_by_candidate: dict[str, list[Mapping[str, Any]]] = {}
    for fold in folds:
        folds_by_candidate.setdefault(str(fold["candidate_id"]), []).append(fold)
    grouped: dict[str, list[WindowResult]] = {}
    identity: dict[str, tuple[str, Mapping[str, object]]] = {}
    for window_start in sorted(by_window):
        rows = by_window[window_start]
        window_folds = [f for r in rows for f in folds_by_candidate.get(str(r["candidate_id"]), [])]
        fold_net = fold_net_pnl_by_candidate(rows, window_folds)
        stats = overfitting_by_candidate(fold_net)
        roles = candidate_roles(fold_net)
        for row in rows:
            cid = str(row["candidate_id"])
            parameter_set = dict(row["parameter_set"] or {})
            key = strategy_config_hash(parameter_set)[:PARAMETER_KEY_LENGTH]
            identity[key] = (
                str(parameter_set.get("strategy_type", "")),
                dict(parameter_set.get("params") or {}),
            )
            lookback = row["metadata_bundle"]["lookback_metrics"]
            grouped.setdefault(key, []).append(
                WindowResult(
                    window_start=window_start,
                    candidate_id=cid,
                    role=roles[cid],
                    net_pnl_usd=float(lookback["net_pnl"]),
                    max_drawdown_usd=float(lookback["max_drawdown"]),
                    trades=int(row["trade_count"]),
                    sharpe=_optional(stats[cid].get("sharpe")),
                    dsr=_optional(stats[cid].get("dsr")),
                )
            )
    entries = [
        LeaderboardEntry(key, identity[key][0], identity[key][1], tuple(results))
        for key, results in grouped.items()
    ]
    return sorted(entries, key=score_key)


__all__ = [
    "DEFAULT_SPAN_DAYS",
    "MAX_SPAN_DAYS",
    "DateRange",
    "LeaderboardEntry",
    "LeaderboardRangeError",
    "WindowResult",
    "leaderboard_range",
    "rank_parameter_sets",
    "score_key",
]
