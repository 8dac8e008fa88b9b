"""What a candidate did, on series small enough to check by hand (docs/research.md, "What a candidate
did"): equity and drawdown in USD, round trips and hit rate, per-fold Sharpe, roles."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

from torghut_assets.domain.backtest import CostModel, backtest, replay
from torghut_assets.domain.promotion import CandidateEvidence, select_champion
from torghut_assets.domain.research_performance import (
    CandidatePerformance,
    CandidateRole,
    EquityCurve,
    TradeOutcome,
    candidate_roles,
    equity_curve,
    hit_rate_pct,
    round_trip_pnl,
    summarize_candidates,
)
from torghut_assets.domain.strategies import LEGACY_MACD_RSI, default_strategy
from torghut_assets_tests.domain.signal_fixtures import tiny_frame

SPEC = default_strategy(LEGACY_MACD_RSI)
FREE = CostModel(impact_bps_at_full_participation=0.0)


def _replayed(prices: list[float], actions: list[int]) -> pd.DataFrame:
    frame = tiny_frame(prices)
    return replay(frame, pd.Series(actions, index=frame.index, dtype="int8"), SPEC, FREE)


def test_equity_curve_is_the_cumulative_net_pnl_per_bar_and_its_drawdown_is_below_the_running_peak() -> None:
    # 10 shares held from bar 1 to the session close: bar PnL 0, -50, -100, +50, +200
    replayed = _replayed([100.0, 110.0, 105.0, 95.0, 100.0, 120.0], [1, 0, 0, 0, 0, 0])

    curve = equity_curve(replayed)

    assert curve.equity_usd == (0.0, 0.0, -50.0, -150.0, -100.0, 100.0)
    assert curve.drawdown_usd == (0.0, 0.0, -50.0, -150.0, -100.0, 0.0)
    assert curve.max_drawdown_usd == 150.0


def test_the_equity_curves_max_drawdown_is_the_one_the_backtest_stores() -> None:
    prices = [100.0, 104.0, 99.0, 97.0, 103.0, 101.0, 96.0, 98.0]
    actions = [1, 0, -1, 0, 1, 0, 0, -1]
    frame = tiny_frame(prices, spread=0.02)
    series = pd.Series(actions, index=frame.index, dtype="int8")

    curve = equity_curve(replay(frame, series, SPEC, CostModel()))

    assert curve.max_drawdown_usd == pytest.approx(backtest(frame, series, SPEC, CostModel()).max_drawdown)


def test_a_round_trip_runs_from_leaving_flat_to_flat_again_and_the_hit_rate_counts_winners() -> None:
    # bought at 100 and sold at 110 (+100), then bought at 100 and sold at 95 (-50)
    replayed = _replayed([100.0, 100.0, 110.0, 110.0, 100.0, 100.0, 95.0, 95.0], [1, 0, -1, 0, 1, 0, -1, 0])

    trips = round_trip_pnl(replayed)

    assert trips == [100.0, -50.0]
    assert hit_rate_pct(trips) == 50.0


def test_a_candidate_that_never_traded_has_no_hit_rate() -> None:
    assert round_trip_pnl(_replayed([100.0, 101.0, 102.0], [0, 0, 0])) == []
    assert hit_rate_pct([]) is None
    assert TradeOutcome(0, 0).hit_rate_pct is None


def _candidate(cid: str, net: float, trades: int = 4, drawdown: float = 10.0) -> dict[str, Any]:
    return {
        "candidate_id": cid,
        "parameter_set": {"params": {"fast": float(len(cid))}},
        "trade_count": trades,
        "metadata_bundle": {"lookback_metrics": {"net_pnl": net, "max_drawdown": drawdown}},
    }


def _folds(cid: str, values: list[float]) -> list[dict[str, Any]]:
    return [{"candidate_id": cid, "fold_order": i, "net_pnl": v} for i, v in enumerate(values, start=1)]


FOLDS = {
    "cand-a": [1.0, 2.0, 3.0],
    "cand-b": [4.0, 4.0, 5.0],
    "cand-c": [0.0, 1.0, -1.0],
    "cand-d": [-1.0, -2.0, 0.0],
    "cand-e": [2.0, 2.0, 2.0],
    "cand-f": [-5.0, 1.0, 1.0],
}


def _summaries(performance: CandidatePerformance | None = None) -> list[Any]:
    candidates = [_candidate(cid, net=10.0 * i) for i, cid in enumerate(FOLDS)]
    folds = [row for cid, values in FOLDS.items() for row in _folds(cid, values)]
    return summarize_candidates(candidates, folds, performance)


def test_every_candidate_is_summarized_champion_first_then_its_challengers() -> None:
    summaries = _summaries()

    assert len(summaries) == len(FOLDS)
    assert [(s.candidate_id, s.role) for s in summaries[:4]] == [
        ("cand-b", CandidateRole.CHAMPION),
        ("cand-a", CandidateRole.CHALLENGER),  # ties cand-e on mean fold PnL: the smaller id first
        ("cand-e", CandidateRole.CHALLENGER),
        ("cand-c", CandidateRole.CHALLENGER),
    ]
    assert {s.role for s in summaries[4:]} == {CandidateRole.CANDIDATE}


def test_the_champion_is_the_one_the_promotion_request_names() -> None:
    evidence = [CandidateEvidence(cid, tuple(v), {}, 1) for cid, v in FOLDS.items()]
    roles = candidate_roles(FOLDS)

    assert roles[select_champion(evidence).candidate_id] is CandidateRole.CHAMPION


def test_sharpe_is_the_mean_over_the_sample_std_of_fold_net_pnl() -> None:
    by_id = {s.candidate_id: s for s in _summaries()}

    assert by_id["cand-a"].sharpe == pytest.approx(2.0)  # mean 2, sample std 1
    assert by_id["cand-e"].sharpe is None  # a constant series has no Sharpe
    assert by_id["cand-a"].mean_fold_net_pnl_usd == pytest.approx(2.0)
    assert by_id["cand-a"].psr is not None and by_id["cand-a"].dsr is not None


def test_net_pnl_drawdown_and_trades_come_from_the_candidates_lookback_backtest() -> None:
    by_id = {s.candidate_id: s for s in _summaries()}

    assert (by_id["cand-c"].net_pnl_usd, by_id["cand-c"].max_drawdown_usd, by_id["cand-c"].trades) == (
        20.0,
        10.0,
        4,
    )


def test_hit_rate_comes_from_the_runs_trade_outcomes_when_it_kept_them() -> None:
    performance = CandidatePerformance("run", {"cand-a": TradeOutcome(4, 3)}, {})

    by_id = {s.candidate_id: s for s in _summaries(performance)}

    assert by_id["cand-a"].hit_rate_pct == 75.0
    assert by_id["cand-b"].hit_rate_pct is None


def test_the_kept_performance_reads_back_as_written() -> None:
    curve = EquityCurve((pd.Timestamp("2026-03-03 15:00", tz="UTC"),), (1.5,))
    performance = CandidatePerformance("run", {"cand-a": TradeOutcome(2, 1)}, {"cand-a": curve})

    assert CandidatePerformance.from_dict(performance.as_dict()) == performance
