"""Route parity (docs/routing.md): before any allocation increase, LEAN and Alpaca must agree on a fixed
symbol subset. Thresholds are the reference's proposed ones; a report that cannot be computed fails.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from torghut_assets.domain.orders import OrderSide
from torghut_assets.domain.routing import Venue

DEFAULT_PARITY_SYMBOLS: tuple[str, ...] = ("AAPL", "MSFT", "SPY")


@dataclass(frozen=True)
class ParityThresholds:
    min_pairs: int = 20
    max_fallback_rate: float = 0.05
    max_mean_slippage_diff_bps: float = 3.0
    max_mean_fill_ratio_diff: float = 0.05
    manual_review_fallbacks_per_symbol: int = 3


@dataclass(frozen=True)
class VenueFill:
    adapter: str
    accepted: bool
    client_order_id: str | None = None
    symbol: str | None = None
    side: str | None = None
    qty: float | None = None
    filled_qty: float = 0.0
    avg_fill_price: float | None = None
    failure: str | None = None


@dataclass(frozen=True)
class ParityPair:
    client_order_id: str
    symbol: str
    side: OrderSide
    qty: float
    arrival_price: float
    primary: VenueFill
    secondary: VenueFill


@dataclass(frozen=True)
class ParityResult:
    passed: bool
    reasons: tuple[str, ...]
    metrics: dict[str, object] = field(default_factory=dict)


def _slippage_bps(side: OrderSide, arrival: float, fill: VenueFill) -> float | None:
    if not fill.accepted or fill.avg_fill_price is None or fill.filled_qty <= 0 or arrival <= 0:
        return None
    direction = 1 if side == OrderSide.BUY else -1
    return direction * (fill.avg_fill_price - arrival) / arrival * 1e4


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def evaluate_parity(pairs: Sequence[ParityPair], thresholds: ParityThresholds) -> ParityResult:
    reasons: list[str] = []
    n = len(pairs)
    if n < thresholds.min_pairs:
        reasons.append(f"parity_insufficient_pairs:{n}<{thresholds.min_pairs}")
    mismatched = [
        p.client_order_id
        for p in pairs
        for f in (p.primary, p.secondary)
        if f.accepted
        and (f.client_order_id, f.symbol, f.side, f.qty) != (p.client_order_id, p.symbol, p.side, p.qty)
    ]
    if mismatched:
        reasons.append(f"parity_id_mapping_mismatch:{len(mismatched)}")
    unknown = sorted(
        {f.adapter for p in pairs for f in (p.primary, p.secondary) if f.adapter in ("", Venue.UNKNOWN)}
    )
    if unknown:
        reasons.append("parity_unknown_adapter")
    primary_failures = Counter(p.symbol for p in pairs if not p.primary.accepted)
    fallback_rate = sum(primary_failures.values()) / n if n else 1.0
    if fallback_rate > thresholds.max_fallback_rate:
        reasons.append(f"parity_fallback_rate_exceeded:{fallback_rate:.4f}")
    review = sorted(
        s for s, c in primary_failures.items() if c >= thresholds.manual_review_fallbacks_per_symbol
    )
    reasons += [f"parity_symbol_manual_review:{s}" for s in review]
    secondary_failures = sum(1 for p in pairs if not p.secondary.accepted)
    if secondary_failures:
        reasons.append(f"parity_secondary_rejections:{secondary_failures}")
    both = [p for p in pairs if p.primary.accepted and p.secondary.accepted]
    slip_primary = [s for p in both if (s := _slippage_bps(p.side, p.arrival_price, p.primary)) is not None]
    slip_secondary = [
        s for p in both if (s := _slippage_bps(p.side, p.arrival_price, p.secondary)) is not None
    ]
    mean_primary, mean_secondary = _mean(slip_primary), _mean(slip_secondary)
    slippage_diff = (
        None if mean_primary is None or mean_secondary is None else abs(mean_primary - mean_secondary)
    )
    if slippage_diff is None:
        reasons.append("parity_slippage_unmeasurable")
    elif slippage_diff > thresholds.max_mean_slippage_diff_bps:
        reasons.append(f"parity_slippage_deviation_bps:{slippage_diff:.3f}")
    fill_diffs = [abs(p.primary.filled_qty - p.secondary.filled_qty) / p.qty for p in both if p.qty > 0]
    fill_diff = _mean(fill_diffs)
    if fill_diff is not None and fill_diff > thresholds.max_mean_fill_ratio_diff:
        reasons.append(f"parity_fill_ratio_deviation:{fill_diff:.4f}")
    price_dev = [
        abs(p.primary.avg_fill_price - p.secondary.avg_fill_price) / p.secondary.avg_fill_price * 1e4
        for p in both
        if p.primary.avg_fill_price and p.secondary.avg_fill_price
    ]
    metrics: dict[str, object] = {
        "pair_count": n,
        "accepted_pairs": len(both),
        "fallback_rate": fallback_rate,
        "primary_failures_by_symbol": dict(primary_failures),
        "mean_slippage_bps_primary": mean_primary,
        "mean_slippage_bps_secondary": mean_secondary,
        "mean_slippage_diff_bps": slippage_diff,
        "mean_fill_ratio_diff": fill_diff,
        "price_deviation_bps_max": max(price_dev) if price_dev else None,
        "price_deviation_bps_mean": _mean(price_dev),
        "thresholds": thresholds.__dict__,
    }
    return ParityResult(passed=not reasons, reasons=tuple(reasons), metrics=metrics)
