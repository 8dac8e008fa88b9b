"""Drift triggers for an automatic rollback (docs/promotion.md drift codes).

Computed over the executions a lane made since its current stage took effect. With no executions
there is nothing to judge and no code fires (a lane that does not trade is the continuity sensor's
business, not drift's).
"""

from __future__ import annotations

from dataclasses import dataclass

NET_PNL_BELOW_FLOOR = "performance_net_pnl_below_floor"
DRAWDOWN_EXCEEDED = "performance_drawdown_exceeded"
COST_BPS_EXCEEDED = "performance_cost_bps_exceeded"
FALLBACK_RATIO_EXCEEDED = "performance_execution_fallback_ratio_exceeded"


@dataclass(frozen=True)
class DriftLimits:
    min_net_pnl: float = 0.0
    max_drawdown_fraction: float = 0.08
    max_cost_bps: float = 35.0
    max_fallback_ratio: float = 0.25


@dataclass(frozen=True)
class LaneTradingRecord:
    executions: int
    fallbacks: int
    traded_notional: float
    cost_notional: float
    net_pnl: float | None
    drawdown_fraction: float | None

    @property
    def cost_bps(self) -> float:
        return self.cost_notional / self.traded_notional * 1e4 if self.traded_notional > 0 else 0.0

    @property
    def fallback_ratio(self) -> float:
        return self.fallbacks / self.executions if self.executions else 0.0


def drift_codes(record: LaneTradingRecord, limits: DriftLimits = DriftLimits()) -> list[str]:
    if record.executions == 0:
        return []
    codes = []
    if record.net_pnl is not None and record.net_pnl < limits.min_net_pnl:
        codes.append(NET_PNL_BELOW_FLOOR)
    if record.drawdown_fraction is not None and record.drawdown_fraction > limits.max_drawdown_fraction:
        codes.append(DRAWDOWN_EXCEEDED)
    if record.cost_bps > limits.max_cost_bps:
        codes.append(COST_BPS_EXCEEDED)
    if record.fallback_ratio > limits.max_fallback_ratio:
        codes.append(FALLBACK_RATIO_EXCEEDED)
    return codes
