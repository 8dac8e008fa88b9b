"""Runtime profitability over a fixed 72 h lookback: what the evidence shows, no more.

Pure assembly of the `torghut.runtime-profitability.v1` payload from set-wise aggregates (the ledger
layer does the GROUP BYs). Decimal figures are trimmed strings, as in the reference, so the payload hashes
identically on SQLite and PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

SCHEMA_VERSION = "torghut.runtime-profitability.v1"
LOOKBACK = dt.timedelta(hours=72)
CAVEAT_EVIDENCE_ONLY = "evidence_only_no_profitability_certainty"
CAVEAT_PROXY = "realized_pnl_proxy_from_tca_shortfall"
CAVEAT_EMPTY = "empty_window_no_runtime_evidence"
CAVEAT_NO_CLOSED_TRADES = "no_closed_trades_pnl_not_evidenced"
CAVEAT_OPEN_POSITIONS_UNMARKED = "open_positions_not_marked_to_market"
# What each caveat means, in the words the report shows beside its code.
CAVEAT_TEXT = {
    CAVEAT_EVIDENCE_ONLY: "72 h of evidence is not a forecast: it says what happened, not what will",
    CAVEAT_PROXY: "the TCA figure is a cost proxy (minus implementation shortfall), not profit",
    CAVEAT_OPEN_POSITIONS_UNMARKED: "open positions are not marked to market; only flat round trips count",
    CAVEAT_NO_CLOSED_TRADES: "no round trip closed flat in the window, so realized PnL is not evidenced",
    CAVEAT_EMPTY: "nothing was decided, executed or measured in the window",
}
_DIGITS = 8


def decimal_text(value: float | None) -> str | None:
    """A trimmed fixed-point string ('12.5', '0', '-3.25'); None for missing or non-finite input."""
    if value is None or not math.isfinite(value):
        return None
    text = f"{Decimal(str(round(value, _DIGITS))):f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def nearest_rank_position(count: int, pct: float) -> int:
    """1-based rank of the nearest-rank percentile (the reference's definition): ceil(p·n), at least 1."""
    return max(1, math.ceil(pct / 100.0 * count))


def nearest_rank(values: Sequence[float], pct: float) -> float | None:
    if not values:
        return None
    return sorted(values)[nearest_rank_position(len(values), pct) - 1]


def window_bounds(as_of: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    if as_of.tzinfo is None:
        raise ValueError(f"as_of {as_of!r} must be timezone-aware")
    end = as_of.astimezone(dt.UTC)
    return end - LOOKBACK, end


def _iso(value: Any) -> str | None:
    return None if value is None else value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def _adapter(name: Any) -> str:
    text = str(name or "").strip().lower()
    return text or "unknown"


@dataclass(frozen=True)
class DecisionGroup:
    strategy_id: str
    strategy_name: str | None
    symbol: str
    status: str
    decision_count: int
    executed_count: int
    last_decision_at: dt.datetime | None
    last_executed_at: dt.datetime | None


@dataclass(frozen=True)
class ExecutionGroup:
    expected_adapter: str | None
    actual_adapter: str | None
    status: str
    fallback_reason: str | None
    execution_count: int
    fallback_execution_count: int
    fallback_count_total: int
    last_execution_at: dt.datetime | None
    lane: str | None = None


@dataclass(frozen=True)
class ShortfallRanks:
    """The nearest-rank p95 and the max of realized shortfall bps, ranked by the database so a 72 h
    report does not fetch one value per execution; None without samples."""

    p95_bps: float | None
    max_bps: float | None


@dataclass(frozen=True)
class ShortfallBySymbol:
    symbol: str
    samples: int
    shortfall_notional_total: float
    shortfall_bps_sum: float
    shortfall_bps_samples: int


@dataclass(frozen=True)
class ClosedRoundTrip:
    """One symbol traded flat within one session by one lane: buys and sells net to zero shares, so its
    cash flow after fees is realized PnL with no mark-to-market. `closed_window_start` is the start of
    the last lane window that traded it that session (lane-window time, as the report's window is)."""

    lane: str
    symbol: str
    session: dt.date
    closed_window_start: dt.datetime
    executions: int
    net_pnl: float


def closed_trades(round_trips: Sequence[ClosedRoundTrip]) -> dict[str, Any]:
    """The closed-trade section: totals, a row per (lane, symbol), and the equity curve (cumulative
    net PnL at each round trip's close, in close order). With no round trip the PnL is None, never 0:
    nothing closed means nothing was evidenced, which a zero would hide."""
    ordered = sorted(round_trips, key=lambda t: (t.closed_window_start, t.lane, t.symbol))
    groups: dict[tuple[str, str], list[ClosedRoundTrip]] = {}
    for trip in ordered:
        groups.setdefault((trip.lane, trip.symbol), []).append(trip)
    curve, running = [], 0.0
    for trip in ordered:
        running += trip.net_pnl
        curve.append(
            {
                "at": _iso(trip.closed_window_start),
                "lane": trip.lane,
                "symbol": trip.symbol,
                "net_pnl": decimal_text(trip.net_pnl),
                "cumulative_net_pnl": decimal_text(running),
            }
        )
    return {
        "evidenced": bool(ordered),
        "round_trips": len(ordered),
        "net_pnl": decimal_text(math.fsum(t.net_pnl for t in ordered)) if ordered else None,
        "by_lane_symbol": [
            {
                "lane": lane,
                "symbol": symbol,
                "round_trips": len(trips),
                "executions": sum(t.executions for t in trips),
                "net_pnl": decimal_text(math.fsum(t.net_pnl for t in trips)),
                "winning_round_trips": sum(1 for t in trips if t.net_pnl > 0),
            }
            for (lane, symbol), trips in sorted(groups.items())
        ],
        "equity_curve": curve,
    }


def signed_dollars(text: str) -> str:
    """'+$123.45' / '-$3.50' from a trimmed decimal string: a sign the eye cannot miss."""
    value = Decimal(text)
    return f"{'-' if value < 0 else '+'}${abs(value):,.2f}"


def closed_trade_headline(section: Mapping[str, Any], end: str | None) -> str:
    """One plain sentence that leads the report: closed-trade net PnL, or that there is none."""
    if not section["evidenced"]:
        return f"no closed trades in the window: PnL is not evidenced (72 h to {end})"
    n = section["round_trips"]
    return (
        f"closed-trade net PnL {signed_dollars(section['net_pnl'])} over {n} round "
        f"trip{'' if n == 1 else 's'} (72 h to {end})"
    )


def decisions_by_symbol_strategy(groups: Iterable[DecisionGroup]) -> list[dict[str, Any]]:
    merged: dict[tuple[str, str], dict[str, Any]] = {}
    for g in groups:
        row = merged.setdefault(
            (g.strategy_id, g.symbol),
            {
                "strategy_id": g.strategy_id,
                "strategy_name": g.strategy_name,
                "symbol": g.symbol,
                "decision_count": 0,
                "executed_count": 0,
                "status_counts": {},
                "last_decision_at": None,
                "last_executed_at": None,
            },
        )
        row["decision_count"] += g.decision_count
        row["executed_count"] += g.executed_count
        row["status_counts"][g.status] = row["status_counts"].get(g.status, 0) + g.decision_count
        row["last_decision_at"] = _latest(row["last_decision_at"], g.last_decision_at)
        row["last_executed_at"] = _latest(row["last_executed_at"], g.last_executed_at)
    out = []
    for key in sorted(merged):
        row = merged[key]
        row["status_counts"] = dict(sorted(row["status_counts"].items()))
        row["last_decision_at"] = _iso(row["last_decision_at"])
        row["last_executed_at"] = _iso(row["last_executed_at"])
        out.append(row)
    return out


def _latest(a: dt.datetime | None, b: dt.datetime | None) -> dt.datetime | None:
    if a is None:
        return b
    if b is None:
        return a
    return max(a, b)


def executions_by_adapter(groups: Iterable[ExecutionGroup]) -> dict[str, Any]:
    merged: dict[tuple[str, str], dict[str, Any]] = {}
    totals: dict[str, int] = {}
    for g in groups:
        expected, actual = _adapter(g.expected_adapter), _adapter(g.actual_adapter)
        row = merged.setdefault(
            (expected, actual),
            {
                "expected_adapter": expected,
                "actual_adapter": actual,
                "execution_count": 0,
                "fallback_execution_count": 0,
                "fallback_count_total": 0,
                "fallback_reason_counts": {},
                "status_counts": {},
                "last_execution_at": None,
            },
        )
        row["execution_count"] += g.execution_count
        row["fallback_execution_count"] += g.fallback_execution_count
        row["fallback_count_total"] += g.fallback_count_total
        row["status_counts"][g.status] = row["status_counts"].get(g.status, 0) + g.execution_count
        if g.fallback_reason:
            reasons = row["fallback_reason_counts"]
            reasons[g.fallback_reason] = reasons.get(g.fallback_reason, 0) + g.execution_count
            totals[g.fallback_reason] = totals.get(g.fallback_reason, 0) + g.execution_count
        row["last_execution_at"] = _latest(row["last_execution_at"], g.last_execution_at)
    by_adapter = []
    for key in sorted(merged):
        row = merged[key]
        row["fallback_reason_counts"] = dict(sorted(row["fallback_reason_counts"].items()))
        row["status_counts"] = dict(sorted(row["status_counts"].items()))
        row["last_execution_at"] = _iso(row["last_execution_at"])
        by_adapter.append(row)
    return {"by_adapter": by_adapter, "fallback_reason_totals": dict(sorted(totals.items()))}


def realized_pnl_summary(by_symbol: Sequence[ShortfallBySymbol], ranks: ShortfallRanks) -> dict[str, Any]:
    """The TCA proxy: realized PnL ≈ −(implementation shortfall); adverse excursion = max(0, shortfall bps),
    whose order statistics are those of the shortfall clipped at 0 (clipping keeps the order)."""
    samples = sum(s.samples for s in by_symbol)
    shortfall = math.fsum(s.shortfall_notional_total for s in by_symbol)
    bps_samples = sum(s.shortfall_bps_samples for s in by_symbol)
    bps_sum = math.fsum(s.shortfall_bps_sum for s in by_symbol)
    p95 = None if ranks.p95_bps is None else max(0.0, ranks.p95_bps)
    top = None if ranks.max_bps is None else max(0.0, ranks.max_bps)
    return {
        "tca_sample_count": samples,
        "shortfall_notional_total": decimal_text(shortfall),
        "realized_pnl_proxy_notional": decimal_text(-shortfall),
        "avg_realized_shortfall_bps": decimal_text(bps_sum / bps_samples) if bps_samples else None,
        "adverse_excursion_proxy_bps_p95": decimal_text(p95),
        "adverse_excursion_proxy_bps_max": decimal_text(top),
        "by_symbol": [
            {
                "symbol": s.symbol,
                "samples": s.samples,
                "shortfall_notional_total": decimal_text(s.shortfall_notional_total),
            }
            for s in sorted(by_symbol, key=lambda s: s.symbol)
        ],
    }


def runtime_profitability(
    *,
    start: dt.datetime,
    end: dt.datetime,
    decisions: Sequence[DecisionGroup],
    executions: Sequence[ExecutionGroup],
    shortfall_by_symbol: Sequence[ShortfallBySymbol],
    shortfall_ranks: ShortfallRanks,
    closed_trade_pnl_by_lane: Mapping[str, float | None],
    attribution: Mapping[str, Any],
    round_trips: Sequence[ClosedRoundTrip] = (),
) -> dict[str, Any]:
    decision_count = sum(g.decision_count for g in decisions)
    execution_count = sum(g.execution_count for g in executions)
    tca_count = sum(s.samples for s in shortfall_by_symbol)
    empty = decision_count == 0 and execution_count == 0 and tca_count == 0
    closed = closed_trades(round_trips)
    caveats = (
        [CAVEAT_EVIDENCE_ONLY, CAVEAT_PROXY, CAVEAT_OPEN_POSITIONS_UNMARKED]
        + ([] if closed["evidenced"] else [CAVEAT_NO_CLOSED_TRADES])
        + ([CAVEAT_EMPTY] if empty else [])
    )
    return {
        "schema_version": SCHEMA_VERSION,
        "window": {
            "lookback_hours": int(LOOKBACK.total_seconds() // 3600),
            "start": _iso(start),
            "end": _iso(end),
            "decision_count": decision_count,
            "execution_count": execution_count,
            "tca_sample_count": tca_count,
            "empty": empty,
        },
        "decisions_by_symbol_strategy": decisions_by_symbol_strategy(decisions),
        "executions": executions_by_adapter(executions),
        "realized_pnl_summary": realized_pnl_summary(shortfall_by_symbol, shortfall_ranks),
        "closed_trades": closed,
        "closed_trade_pnl_by_lane": {
            lane: decimal_text(value) for lane, value in sorted(closed_trade_pnl_by_lane.items())
        },
        "gate_rollback_attribution": dict(attribution),
        "caveats": caveats,
    }
