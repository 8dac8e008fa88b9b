"""Drift triggers for an automatic rollback (docs/promotion.md): each limit is exclusive."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from torghut_assets.domain.drift import (
    COST_BPS_EXCEEDED,
    DRAWDOWN_EXCEEDED,
    FALLBACK_RATIO_EXCEEDED,
    NET_PNL_BELOW_FLOOR,
    DriftLimits,
    LaneTradingRecord,
    drift_codes,
)

# A healthy paper week: 100 fills, $100k traded, 12 bps of costs, 4 % drawdown, 5 router fallbacks.
HEALTHY = LaneTradingRecord(
    executions=100,
    fallbacks=5,
    traded_notional=100_000.0,
    cost_notional=120.0,
    net_pnl=412.35,
    drawdown_fraction=0.04,
)


def record(**changes: Any) -> LaneTradingRecord:
    return dataclasses.replace(HEALTHY, **changes)


def test_a_healthy_record_raises_no_code() -> None:
    assert HEALTHY.cost_bps == pytest.approx(12.0)
    assert HEALTHY.fallback_ratio == 0.05
    assert drift_codes(HEALTHY) == []


@pytest.mark.parametrize(
    ("at_limit", "just_above", "code"),
    [
        ({"net_pnl": 0.0}, {"net_pnl": -0.01}, NET_PNL_BELOW_FLOOR),
        ({"drawdown_fraction": 0.08}, {"drawdown_fraction": 0.0801}, DRAWDOWN_EXCEEDED),
        ({"cost_notional": 350.0}, {"cost_notional": 350.1}, COST_BPS_EXCEEDED),
        ({"fallbacks": 25}, {"fallbacks": 26}, FALLBACK_RATIO_EXCEEDED),
    ],
)
def test_each_code_fires_just_beyond_its_limit_and_not_at_it(
    at_limit: dict[str, Any], just_above: dict[str, Any], code: str
) -> None:
    assert drift_codes(record(**at_limit)) == []
    assert drift_codes(record(**just_above)) == [code]


def test_cost_and_fallback_figures_at_their_limits() -> None:
    assert record(cost_notional=350.0).cost_bps == 35.0
    assert record(fallbacks=25).fallback_ratio == 0.25


def test_every_breached_limit_is_reported_in_a_fixed_order() -> None:
    worst = record(net_pnl=-1_250.0, drawdown_fraction=0.15, cost_notional=900.0, fallbacks=40)
    assert drift_codes(worst) == [
        NET_PNL_BELOW_FLOOR,
        DRAWDOWN_EXCEEDED,
        COST_BPS_EXCEEDED,
        FALLBACK_RATIO_EXCEEDED,
    ]


def test_no_executions_means_no_codes() -> None:
    idle = LaneTradingRecord(
        executions=0,
        fallbacks=0,
        traded_notional=0.0,
        cost_notional=0.0,
        net_pnl=-50.0,
        drawdown_fraction=0.2,
    )
    assert drift_codes(idle) == []
    assert (idle.cost_bps, idle.fallback_ratio) == (0.0, 0.0)


def test_unknown_pnl_and_drawdown_raise_no_code() -> None:
    assert drift_codes(record(net_pnl=None, drawdown_fraction=None)) == []


def test_limits_are_configurable() -> None:
    strict = DriftLimits(min_net_pnl=500.0, max_cost_bps=10.0)
    assert drift_codes(HEALTHY, strict) == [NET_PNL_BELOW_FLOOR, COST_BPS_EXCEEDED]
