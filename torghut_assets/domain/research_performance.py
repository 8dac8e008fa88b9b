"""What a research candidate did, in the units an operator reads: its equity curve and drawdown in USD,
its trade hit rate, its per-fold Sharpe / PSR / DSR, and its role in the run (champion, challenger).

Everything here is a pure function of the backtest the research chain already ran: the equity curve
is the candidate's cumulative net PnL per bar time over the run's lookback (the same series whose
worst dip `backtest` stores as `max_drawdown`), a round trip is a position opened from flat and closed
back to flat in one (symbol, session), and the Sharpe figures are the overfitting report's, over the
candidate's walk-forward fold net PnL (docs/research.md, "What a candidate did").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import numpy as np
import pandas as pd

from torghut_assets.domain.backtest import CostModel, replay
from torghut_assets.domain.research_evaluation import overfitting_by_candidate
from torghut_assets.domain.strategies import StrategySpec, strategy_actions

PERFORMANCE_SCHEMA = "torghut.research-performance.v1"
CHALLENGER_COUNT = 3
"""How many runners-up are the champion's challengers (and plotted beside it); the rest are listed."""


class CandidateRole(StrEnum):
    """A candidate's place in its run: the champion the window requests, the next best as its
    challengers, every other trial a plain candidate (still listed: DSR counts all trials)."""

    CHAMPION = "champion"
    CHALLENGER = "challenger"
    CANDIDATE = "candidate"


@dataclass(frozen=True)
class EquityCurve:
    """A candidate's cumulative net PnL (USD) at each bar time of the backtest, from a flat start."""

    bar_times: tuple[pd.Timestamp, ...]
    equity_usd: tuple[float, ...]

    @property
    def drawdown_usd(self) -> tuple[float, ...]:
        """Equity below its running peak (<= 0), the peak starting at 0 as `backtest` measures it."""
        equity = np.asarray(self.equity_usd, dtype=np.float64)
        peak = np.maximum.accumulate(np.maximum(equity, 0.0)) if len(equity) else equity
        return tuple(float(v) for v in equity - peak)

    @property
    def max_drawdown_usd(self) -> float:
        return max((-v for v in self.drawdown_usd), default=0.0)

    def as_dict(self) -> dict[str, object]:
        return {
            "bar_times": [t.isoformat() for t in self.bar_times],
            "equity_usd": [round(v, 10) for v in self.equity_usd],
        }

    @classmethod
    def from_dict(cls, payload: Mapping[str, Any]) -> EquityCurve:
        times = tuple(pd.Timestamp(t) for t in payload["bar_times"])
        return cls(times, tuple(float(v) for v in payload["equity_usd"]))


def equity_curve(replayed: pd.DataFrame) -> EquityCurve:
    """Cumulative net PnL of the whole portfolio per bar time of a `backtest.replay` frame."""
    if replayed.empty:
        return EquityCurve((), ())
    times = pd.DatetimeIndex(pd.to_datetime(replayed["event_ts"], utc=True), name="bar_time")
    per_bar = pd.Series(replayed["net_pnl"].to_numpy(dtype=np.float64), index=times).groupby(level=0).sum()
    equity = per_bar.sort_index().cumsum()
    return EquityCurve(tuple(equity.index), tuple(float(v) for v in equity.to_numpy()))


def round_trip_pnl(replayed: pd.DataFrame) -> list[float]:
    """Net PnL (USD, costs included) of each round trip of a `backtest.replay` frame, in replay order.

    A round trip opens on the fill that takes a (symbol, session) position off flat and ends when it is
    flat again (the session close forces that); partial fills in between belong to it. Rows outside a
    round trip carry no position and no fill, so they carry no PnL either."""
    if replayed.empty:
        return []
    position = replayed["position_qty"].to_numpy(dtype=np.int64)
    traded = replayed["traded_qty"].to_numpy(dtype=np.int64)
    before = position - traded
    opened = (before == 0) & (position != 0)
    trip = np.cumsum(opened)
    net = replayed["net_pnl"].to_numpy(dtype=np.float64)
    inside = trip > 0
    if not inside.any():
        return []
    sums = np.bincount(trip[inside] - 1, weights=net[inside], minlength=int(trip.max()))
    return [float(v) for v in sums]


def hit_rate_pct(round_trips: Sequence[float]) -> float | None:
    """Share of round trips that made money after costs, in percent; None without a round trip."""
    if not round_trips:
        return None
    return 100.0 * sum(1 for v in round_trips if v > 0) / len(round_trips)


def mean_fold_net_pnl(fold_net_pnl: Sequence[float]) -> float:
    # a plain sum, as `promotion.select_champion` averages, so the ranking breaks ties the same way
    return sum(fold_net_pnl) / len(fold_net_pnl) if fold_net_pnl else 0.0


def ranked_candidate_ids(fold_net_pnl: Mapping[str, Sequence[float]]) -> list[str]:
    """Candidates best first by the champion rule (`promotion.select_champion`): highest mean fold net
    PnL, ties to the smallest candidate id."""
    return sorted(fold_net_pnl, key=lambda cid: (-mean_fold_net_pnl(fold_net_pnl[cid]), cid))


def candidate_roles(
    fold_net_pnl: Mapping[str, Sequence[float]], challengers: int = CHALLENGER_COUNT
) -> dict[str, CandidateRole]:
    """The champion (best by the champion rule), the next `challengers` as its challengers, the rest
    plain candidates."""
    ranked = ranked_candidate_ids(fold_net_pnl)
    roles = {cid: CandidateRole.CANDIDATE for cid in ranked}
    for position, cid in enumerate(ranked[: 1 + challengers]):
        roles[cid] = CandidateRole.CHAMPION if position == 0 else CandidateRole.CHALLENGER
    return roles


@dataclass(frozen=True)
class TradeOutcome:
    """A candidate's round trips over the lookback: how many, and how many made money after costs."""

    round_trips: int
    winning: int

    @property
    def hit_rate_pct(self) -> float | None:
        return None if self.round_trips == 0 else 100.0 * self.winning / self.round_trips

    def as_dict(self) -> dict[str, int]:
        return {"round_trips": self.round_trips, "winning": self.winning}


@dataclass(frozen=True)
class CandidatePerformance:
    """What the chain keeps of each candidate's lookback backtest beyond its ledger row: every
    candidate's round-trip outcome, and the equity curve of the champion and its challengers."""

    run_id: str
    outcomes: Mapping[str, TradeOutcome]
    curves: Mapping[str, EquityCurve]
    challenger_count: int = CHALLENGER_COUNT

    def as_dict(self) -> dict[str, object]:
        return {
            "schema_version": PERFORMANCE_SCHEMA,
            "run_id": self.run_id,
            "challenger_count": self.challenger_count,
            "trade_outcomes": {cid: self.outcomes[cid].as_dict() for cid in sorted(self.outcomes)},
            "equity_curves": {cid: self.curves[cid].as_dict() for cid in sorted(self.curves)},
        }

    @classmethod
    def from_dict(cls, payload: Mapping[str, Any]) -> CandidatePerformance:
        outcomes = {
            str(cid): TradeOutcome(int(v["round_trips"]), int(v["winning"]))
            for cid, v in payload["trade_outcomes"].items()
        }
        curves = {str(cid): EquityCurve.from_dict(v) for cid, v in payload["equity_curves"].items()}
        return cls(str(payload["run_id"]), outcomes, curves, int(payload["challenger_count"]))


def candidate_performance(
    frame: pd.DataFrame,
    specs: Mapping[str, StrategySpec],
    fold_net_pnl: Mapping[str, Sequence[float]],
    *,
    run_id: str,
    cost: CostModel,
    challengers: int = CHALLENGER_COUNT,
) -> CandidatePerformance:
    """Replay each candidate over the lookback frame (the backtest its ledger row summarises) and keep
    its round-trip outcome; the champion's and its challengers' equity curves are kept too."""
    roles = candidate_roles(fold_net_pnl, challengers)
    outcomes: dict[str, TradeOutcome] = {}
    curves: dict[str, EquityCurve] = {}
    for cid in sorted(specs):
        spec = specs[cid]
        replayed = replay(frame, strategy_actions(frame, spec), spec, cost)
        trips = round_trip_pnl(replayed)
        outcomes[cid] = TradeOutcome(len(trips), sum(1 for v in trips if v > 0))
        if roles.get(cid, CandidateRole.CANDIDATE) is not CandidateRole.CANDIDATE:
            curves[cid] = equity_curve(replayed)
    return CandidatePerformance(run_id, outcomes, curves, challengers)


def fold_net_pnl_by_candidate(
    candidates: Sequence[Mapping[str, Any]], folds: Sequence[Mapping[str, Any]]
) -> dict[str, list[float]]:
    """Each candidate's fold net PnL (USD) in fold order; a candidate without folds has an empty list."""
    by_candidate: dict[str, list[tuple[int, float]]] = {str(c["candidate_id"]): [] for c in candidates}
    for row in folds:
        by_candidate.setdefault(str(row["candidate_id"]), []).append(
            (int(row["fold_order"]), float(row["net_pnl"]))
        )
    return {cid: [v for _, v in sorted(pairs)] for cid, pairs in by_candidate.items()}


@dataclass(frozen=True)
class CandidateSummary:
    """One candidate's line in the run's table. `sharpe`, `psr` and `dsr` are over its fold net PnL
    (per fold, not annualised; None when undefined); `max_drawdown_usd` is the lookback backtest's;
    `hit_rate_pct` is None when the run kept no trade outcomes or the candidate never closed a trade."""

    candidate_id: str
    params: Mapping[str, object]
    role: CandidateRole
    net_pnl_usd: float
    mean_fold_net_pnl_usd: float
    sharpe: float | None
    max_drawdown_usd: float
    hit_rate_pct: float | None
    trades: int
    psr: float | None
    dsr: float | None


def _optional_float(value: object) -> float | None:
    return None if value is None else float(str(value))


def summarize_candidates(
    candidates: Sequence[Mapping[str, Any]],
    folds: Sequence[Mapping[str, Any]],
    performance: CandidatePerformance | None,
) -> list[CandidateSummary]:
    """Every candidate of the run, champion first, then its challengers, then the rest, each group in
    the champion rule's order; nothing is cut."""
    fold_net = fold_net_pnl_by_candidate(candidates, folds)
    challengers = CHALLENGER_COUNT if performance is None else performance.challenger_count
    roles = candidate_roles(fold_net, challengers)
    overfitting = overfitting_by_candidate(fold_net)
    order = {cid: i for i, cid in enumerate(ranked_candidate_ids(fold_net))}
    outcomes = {} if performance is None else performance.outcomes
    summaries = []
    for row in candidates:
        cid = str(row["candidate_id"])
        lookback = row["metadata_bundle"]["lookback_metrics"]
        stats = overfitting.get(cid, {})
        outcome = outcomes.get(cid)
        summaries.append(
            CandidateSummary(
                candidate_id=cid,
                params=dict((row["parameter_set"] or {}).get("params") or {}),
                role=roles[cid],
                net_pnl_usd=float(lookback["net_pnl"]),
                mean_fold_net_pnl_usd=mean_fold_net_pnl(fold_net[cid]),
                sharpe=_optional_float(stats.get("sharpe")),
                max_drawdown_usd=float(lookback["max_drawdown"]),
                hit_rate_pct=None if outcome is None else outcome.hit_rate_pct,
                trades=int(row["trade_count"]),
                psr=_optional_float(stats.get("psr")),
                dsr=_optional_float(stats.get("dsr")),
            )
        )
    return sorted(summaries, key=lambda s: order[s.candidate_id])


__all__ = [
    "CHALLENGER_COUNT",
    "CandidatePerformance",
    "CandidateRole",
    "CandidateSummary",
    "EquityCurve",
    "TradeOutcome",
    "candidate_performance",
    "candidate_roles",
    "equity_curve",
    "fold_net_pnl_by_candidate",
    "hit_rate_pct",
    "mean_fold_net_pnl",
    "ranked_candidate_ids",
    "round_trip_pnl",
    "summarize_candidates",
]
