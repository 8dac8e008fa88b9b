"""Trade decisions: strategy actions turned into sized, risk-checked, idempotent decisions.

Decisions for a window are replayed from the session open, so the position state a window starts
with is a pure function of the session's signals; that is what lets any window be re-materialized on
its own and still agree with the windows before it. Lanes are intraday: entries stop shortly before
the close and open positions are flattened just before it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum

import pandas as pd

from torghut_assets.domain.evidence import canonical_value, sha256_hex
from torghut_assets.domain.lanes import LaneConfig
from torghut_assets.domain.orders import OrderSide, OrderType, TimeInForce
from torghut_assets.domain.strategies import StrategySpec, strategy_actions

FLATTEN_RATIONALE = "session_close_flatten"
SHORTS_NOT_ALLOWED = "shorts_not_allowed"


class DecisionStatus(StrEnum):
    """A trade decision's ledger status: planned (risk let it through), rejected (risk stopped it, kept
    as evidence), submitted (an order for it reached a venue)."""

    PLANNED = "planned"
    REJECTED = "rejected"
    SUBMITTED = "submitted"


@dataclass(frozen=True)
class TradeDecision:
    strategy_id: str
    symbol: str
    event_ts: pd.Timestamp
    signal_seq: int
    timeframe: str
    action: OrderSide
    qty: int
    price: float
    rationale: str
    params: dict[str, object]
    account_label: str
    risk_reasons: tuple[str, ...] = field(default=())
    # The lane catalog's `multi_account`: the label is part of the hash (true) or null in it (the
    # reference's single-account hash). The checksum of the catalog that shaped the decision.
    account_in_hash: bool = True
    lane_catalog_checksum: str | None = None

    @property
    def status(self) -> DecisionStatus:
        return DecisionStatus.REJECTED if self.risk_reasons else DecisionStatus.PLANNED

    @property
    def decision_hash(self) -> str:
        return decision_hash(self)

    def decision_json(self) -> dict[str, object]:
        payload: dict[str, object] = canonical_value(
            {
                "strategy_id": self.strategy_id,
                "symbol": self.symbol,
                "event_ts": self.event_ts,
                "timeframe": self.timeframe,
                "action": self.action,
                "qty": self.qty,
                "order_type": OrderType.MARKET,
                "time_in_force": TimeInForce.DAY,
                "limit_price": None,
                "stop_price": None,
                "rationale": self.rationale,
                "params": {**self.params, "price": self.price, "arrival_price": self.price},
                "risk_reasons": list(self.risk_reasons),
            }
        )
        if self.lane_catalog_checksum is not None:
            payload["lane_catalog"] = {
                "checksum": self.lane_catalog_checksum,
                "multi_account": self.account_in_hash,
            }
        return payload


def decision_hash(decision: TradeDecision) -> str:
    """Reference idempotency key; it doubles as the broker `client_order_id`, so it must be stable. The
    account label is in it in multi-account mode, null otherwise (the reference's `ensure_decision`)."""
    return sha256_hex(
        {
            "strategy_id": decision.strategy_id,
            "symbol": decision.symbol,
            "event_ts": decision.event_ts,
            "timeframe": decision.timeframe,
            "action": decision.action,
            "qty": str(decision.qty),
            "order_type": OrderType.MARKET,
            "time_in_force": TimeInForce.DAY,
            "limit_price": None,
            "stop_price": None,
            "params": decision.params,
            "account_label": decision.account_label if decision.account_in_hash else None,
        }
    )


@dataclass(frozen=True)
class EntryBlock:
    reason: str
    since: pd.Timestamp


@dataclass
class _Book:
    """Intended positions (shares) assuming planned orders fill; reconciliation compares with fills."""

    positions: dict[str, int] = field(default_factory=dict)
    prices: dict[str, float] = field(default_factory=dict)

    def gross_notional(self) -> float:
        return sum(abs(q) * self.prices.get(s, 0.0) for s, q in self.positions.items())

    def open_positions(self) -> int:
        return sum(1 for q in self.positions.values() if q != 0)


def _entry_risk_reasons(
    lane: LaneConfig, book: _Book, symbol: str, qty: int, price: float, entries_blocked: bool
) -> list[str]:
    reasons: list[str] = []
    notional = qty * price
    if notional > lane.max_notional_per_trade:
        reasons.append("max_notional_exceeded")
    position_notional = (book.positions.get(symbol, 0) + qty) * price
    if position_notional > lane.max_position_pct_equity * lane.equity:
        reasons.append("max_position_pct_exceeded")
    if book.gross_notional() + notional > lane.max_gross_notional:
        reasons.append("max_gross_exposure_exceeded")
    if book.positions.get(symbol, 0) == 0 and book.open_positions() >= lane.max_open_positions:
        reasons.append("max_open_positions_exceeded")
    if entries_blocked:
        reasons.append("session_close_entry_blocked")
    return reasons


def size_order(spec: StrategySpec, price: float) -> int:
    """Whole shares worth about `notional_per_trade`; at least one, so limits decide, not rounding."""
    return max(1, math.floor(spec.param("notional_per_trade") / price))


def plan_session_decisions(
    session_signals: pd.DataFrame,
    spec: StrategySpec,
    lane: LaneConfig,
    session_close: pd.Timestamp,
    entry_block: EntryBlock | None = None,
) -> list[TradeDecision]:
    """Replay one session's signals in (event_ts, symbol, seq) order into decisions.

    `entry_block` (a latched continuity alert, an emergency stop, the trading kill switch) rejects
    every entry from its start time on; exits stay allowed because they only reduce risk.

    An action that does not change the target position (a buy while long) is not a decision; a sell
    while flat would open a short, which is a decision rejected `shorts_not_allowed` unless the lane
    allows shorts (short entries are not modelled yet, so such a lane simply does not act on it).
    Rejected decisions are kept: they are evidence of what the risk engine stopped. Open positions are
    flattened at the first signal at or after the flatten time.
    """
    if session_signals.empty:
        return []
    frame = session_signals.sort_values(["event_ts", "symbol", "seq"], kind="mergesort").reset_index(
        drop=True
    )
    actions = strategy_actions(frame, spec).to_numpy()
    flatten_at = session_close - pd.Timedelta(minutes=lane.session_close_flatten_minutes)
    block_entries_at = session_close - pd.Timedelta(minutes=lane.session_close_entry_block_minutes)
    times = pd.DatetimeIndex(frame["event_ts"])
    rows = [int(i) for i in ((actions != 0) | (times >= flatten_at)).nonzero()[0]]
    symbols: list[str] = [str(v) for v in frame["symbol"]]
    prices: list[float] = [float(v) for v in frame["price"]]
    seqs: list[int] = [int(v) for v in frame["seq"]]
    params: dict[str, object] = dict(spec.params)
    book = _Book()
    decisions: list[TradeDecision] = []

    def emit(
        i: int, symbol: str, action: OrderSide, qty: int, price: float, why: str, reasons: list[str]
    ) -> None:
        decisions.append(
            TradeDecision(
                strategy_id=spec.strategy_id,
                symbol=symbol,
                event_ts=times[i],
                signal_seq=seqs[i],
                timeframe=spec.base_timeframe,
                action=action,
                qty=qty,
                price=price,
                rationale=why,
                params=params,
                account_label=lane.account_label,
                risk_reasons=tuple(reasons),
                account_in_hash=lane.multi_account,
                lane_catalog_checksum=lane.catalog_checksum,
            )
        )

    for i in rows:
        ts, symbol, price, action = times[i], symbols[i], prices[i], int(actions[i])
        if ts >= flatten_at:
            last_prices = frame[times <= ts].groupby("symbol")["price"].last()
            for held_symbol, held_qty in sorted(book.positions.items()):
                if held_qty > 0:
                    exit_price = float(last_prices.get(held_symbol, book.prices[held_symbol]))
                    emit(i, held_symbol, OrderSide.SELL, held_qty, exit_price, FLATTEN_RATIONALE, [])
            break
        if not math.isfinite(price) or price <= 0:
            emit(
                i,
                symbol,
                OrderSide.BUY if action > 0 else OrderSide.SELL,
                0,
                0.0,
                "strategy_signal",
                ["missing_price"],
            )
            continue
        book.prices[symbol] = price
        held = book.positions.get(symbol, 0)
        if action > 0 and held == 0:
            qty = size_order(spec, price)
            reasons = _entry_risk_reasons(lane, book, symbol, qty, price, ts >= block_entries_at)
            if entry_block is not None and ts >= entry_block.since:
                reasons.append(entry_block.reason)
            emit(i, symbol, OrderSide.BUY, qty, price, "strategy_signal", reasons)
            if not reasons:
                book.positions[symbol] = qty
        elif action < 0 and held > 0:
            emit(i, symbol, OrderSide.SELL, held, price, "strategy_signal", [])
            book.positions[symbol] = 0
        elif action < 0 and held == 0 and not lane.allow_shorts:
            # The strategy would open a short; risk refuses it, and the refusal is evidence (reference
            # reason `shorts_not_allowed`), not a silently dropped signal.
            emit(
                i,
                symbol,
                OrderSide.SELL,
                size_order(spec, price),
                price,
                "strategy_signal",
                [SHORTS_NOT_ALLOWED],
            )
    return decisions


def decisions_in_window(
    decisions: list[TradeDecision], start: pd.Timestamp, end: pd.Timestamp
) -> list[TradeDecision]:
    return [d for d in decisions if start <= d.event_ts < end]
