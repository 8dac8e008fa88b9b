"""The research leaderboard's rules (docs/research.md, "Research leaderboard"): a parameter set is one
entry across windows, ranked by mean DSR then total net PnL, over a date range that is refused in one
sentence when malformed."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from torghut_assets.domain.research import strategy_config_hash
from torghut_assets.domain.research_leaderboard import (
    DateRange,
    LeaderboardRangeError,
    leaderboard_range,
    rank_parameter_sets,
)

W1 = dt.datetime(2026, 3, 3, 15, tzinfo=dt.UTC)
W2 = dt.datetime(2026, 3, 4, 15, tzinfo=dt.UTC)
STEADY = {"strategy_type": "macd_rsi", "params": {"fast": 12.0}}
NOISY = {"strategy_type": "macd_rsi", "params": {"fast": 5.0}}
LOSER = {"strategy_type": "macd_rsi", "params": {"fast": 30.0}}


def _row(
    window: dt.datetime, cid: str, parameter_set: dict[str, Any], net: float, dd: float
) -> dict[str, Any]:
    return {
        "window_start": window,
        "candidate_id": cid,
        "parameter_set": parameter_set,
        "trade_count": 3,
        "metadata_bundle": {"lookback_metrics": {"net_pnl": net, "max_drawdown": dd}},
    }


def _folds(cid: str, values: list[float]) -> list[dict[str, Any]]:
    return [{"candidate_id": cid, "fold_order": i, "net_pnl": v} for i, v in enumerate(values, start=1)]


def _two_windows() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    candidates, folds = [], []
    for window, tag in ((W1, "1"), (W2, "2")):
        for name, parameter_set, net, dd, series in (
            ("steady", STEADY, 10.0, 4.0, [2.0, 2.2, 1.9, 2.1]),
            ("noisy", NOISY, 40.0, 30.0, [9.0, -6.0, 8.0, -5.0]),
            ("loser", LOSER, -5.0, 12.0, [-1.0, -1.5, -0.5, -1.2]),
        ):
            cid = f"cand-{name}-{tag}"
            candidates.append(_row(window, cid, parameter_set, net, dd))
            folds += _folds(cid, series)
    return candidates, folds


def test_a_parameter_set_is_one_entry_across_windows_even_though_its_candidate_ids_differ() -> None:
    entries = rank_parameter_sets(*_two_windows())

    assert len(entries) == 3
    assert all(e.windows == 2 for e in entries)
    steady = next(e for e in entries if e.parameter_key == strategy_config_hash(STEADY)[:12])
    assert steady.latest_candidate_id == "cand-steady-2"
    assert (steady.total_net_pnl_usd, steady.worst_drawdown_usd, steady.trades) == (20.0, 4.0, 6)


def test_a_higher_mean_dsr_outranks_a_larger_net_pnl() -> None:
    entries = rank_parameter_sets(*_two_windows())

    # the noisy set made the most money, but its fold PnL is barely distinguishable from noise
    assert entries[0].params == STEADY["params"]
    assert max(entries, key=lambda e: e.total_net_pnl_usd).params == NOISY["params"]
    assert (entries[0].mean_dsr or 0.0) > max(e.mean_dsr or 0.0 for e in entries[1:])


def test_equal_mean_dsr_is_broken_by_total_net_pnl() -> None:
    series = [2.0, 2.2, 1.9, 2.1]
    candidates = [_row(W1, "cand-x", NOISY, 5.0, 1.0), _row(W1, "cand-y", STEADY, 9.0, 1.0)]
    folds = _folds("cand-x", series) + _folds("cand-y", series)

    entries = rank_parameter_sets(candidates, folds)

    assert entries[0].mean_dsr == entries[1].mean_dsr
    assert [e.latest_candidate_id for e in entries] == ["cand-y", "cand-x"]


def test_cumulative_net_pnl_adds_window_by_window() -> None:
    steady = rank_parameter_sets(*_two_windows())[0]

    assert steady.cumulative_net_pnl_usd() == [(W1, 10.0), (W2, 20.0)]


def test_the_range_defaults_to_thirty_days_ending_at_the_latest_research() -> None:
    span = leaderboard_range(None, None, dt.date(2026, 3, 31))

    assert span == DateRange(dt.date(2026, 3, 2), dt.date(2026, 3, 31))
    assert span is not None and span.days == 30


def test_a_lane_never_researched_has_no_default_range() -> None:
    assert leaderboard_range(None, None, None) is None


@pytest.mark.parametrize(
    ("from_text", "to_text", "sentence"),
    [
        ("2026-03-10", "2026-03-01", "from_date 2026-03-10 is after to_date 2026-03-01"),
        ("March 1st", "2026-03-01", "from_date must be an ISO date"),
        ("2024-01-01", "2026-03-01", "ask for at most 366"),
    ],
)
def test_a_bad_range_is_refused_in_one_sentence(from_text: str, to_text: str, sentence: str) -> None:
    with pytest.raises(LeaderboardRangeError, match=sentence) as refused:
        leaderboard_range(from_text, to_text, None)

    assert str(refused.value).count(". ") == 0 and str(refused.value).endswith(".")
