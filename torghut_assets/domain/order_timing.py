"""When a decision may still become an order, and the local checks an order must pass before any venue.

An order is only ever sent while its lane window is open and its decision is fresh: a decision is a
statement about the market at its signal's time, and sending it an hour later would trade a market that
no longer exists. The reference force-rejects a planned decision older than
`TRADING_PLANNED_DECISION_TIMEOUT_SECONDS` (600 s) with `decision_timeout_unsubmitted:<age>s`; here the
age is measured from the decision's signal time (its logical creation time), which is never later than
the reference's row creation time, so this rule is at least as strict.

The pre-submit checks are the reference's (`execution.py` at 18622cbe3a): a quantity that is not a
positive multiple of the instrument's step, and an opposite-side order already open at the broker for
the symbol, are refused locally so the venue never sees them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

import pandas as pd

from torghut_assets.domain.orders import OrderSide, OrderStatus, OrderType

DEFAULT_PLANNED_DECISION_TIMEOUT_SECONDS = 600
DECISION_TIMEOUT_UNSUBMITTED = "decision_timeout_unsubmitted"
WINDOW_CLOSED_UNSUBMITTED = "window_closed_unsubmitted"
LOCAL_QTY_NON_POSITIVE = "local_qty_non_positive"
LOCAL_QTY_BELOW_MIN = "local_qty_below_min"
LOCAL_QTY_INVALID_INCREMENT = "local_qty_invalid_increment"
PRECHECK_OPPOSITE_SIDE_OPEN_ORDER = "precheck_opposite_side_open_order"

EQUITY_QTY_STEP = Decimal("1")
CRYPTO_QTY_STEP = Decimal("0.00000001")
_CONFLICTING_ORDER_TYPES = frozenset({OrderType.MARKET, OrderType.STOP, OrderType.STOP_LIMIT})
_FINAL_ORDER_STATUSES = frozenset(
    {
        OrderStatus.FILLED,
        OrderStatus.CANCELED,
        OrderStatus.CANCELLED,
        OrderStatus.REJECTED,
        OrderStatus.EXPIRED,
    }
)
_SIDES = frozenset(OrderSide)


class WindowPhase(StrEnum):
    """Where a lane window stands against the wall clock."""

    NOT_STARTED = "not_started"
    OPEN = "open"
    CLOSED = "closed"


def window_phase(start: pd.Timestamp, end: pd.Timestamp, now: pd.Timestamp) -> WindowPhase:
    if now < start:
        return WindowPhase.NOT_STARTED
    return WindowPhase.OPEN if now < end else WindowPhase.CLOSED


def decision_age_seconds(decision_ts: pd.Timestamp, now: pd.Timestamp) -> int:
    return max(0, int((now - decision_ts).total_seconds()))


def expiry_reason(decision_ts: pd.Timestamp, now: pd.Timestamp, timeout_seconds: int) -> str | None:
    """`decision_timeout_unsubmitted:<age>s` once the decision is at least `timeout_seconds` old (the
    reference's boundary is inclusive); None while it may still be sent. A timeout of 0 disables expiry,
    as in the reference."""
    if timeout_seconds <= 0:
        return None
    age = decision_age_seconds(decision_ts, now)
    if age < timeout_seconds:
        return None
    return f"{DECISION_TIMEOUT_UNSUBMITTED}:{age}s"


class SubmissionPath(StrEnum):
    """What happens to a planned decision that has no order yet."""

    SIMULATED = "simulated"  # replay lane: the simulated venue, at the decision's own time
    REAL_TIME = "real_time"  # open window of a paper/live lane: the real venues, now
    EXPIRED = "expired"  # never sent: too old, or its window has closed


def submission_path(
    *,
    reaches_real_venues: bool,
    phase: WindowPhase,
    decision_ts: pd.Timestamp,
    now: pd.Timestamp,
    timeout_seconds: int,
) -> tuple[SubmissionPath, str | None]:
    """The path and, for an expired decision, its reason. A closed window of a real-venue lane sends
    nothing (closing a window only finalizes evidence); an open one sends only fresh decisions."""
    if not reaches_real_venues:
        return SubmissionPath.SIMULATED, None
    expired = expiry_reason(decision_ts, now, timeout_seconds)
    if expired is not None:
        return SubmissionPath.EXPIRED, expired
    if phase is not WindowPhase.OPEN:
        return SubmissionPath.EXPIRED, WINDOW_CLOSED_UNSUBMITTED
    return SubmissionPath.REAL_TIME, None


def is_crypto_symbol(symbol: str) -> bool:
    normalized = symbol.strip().upper()
    return "/" in normalized and len(normalized) >= 5


def qty_step_for_symbol(symbol: str) -> Decimal:
    return CRYPTO_QTY_STEP if is_crypto_symbol(symbol) else EQUITY_QTY_STEP


@dataclass(frozen=True)
class OpenOrderView:
    """What the pre-submit check needs to know about an order the broker still holds."""

    order_id: str
    symbol: str
    side: str
    order_type: str
    status: str


@dataclass(frozen=True)
class PreSubmitRejection:
    code: str
    detail: dict[str, str]

    @property
    def reason(self) -> str:
        return self.code


def quantity_rejection(symbol: str, qty: float) -> PreSubmitRejection | None:
    if not math.isfinite(qty) or qty <= 0:
        return PreSubmitRejection(LOCAL_QTY_NON_POSITIVE, {"symbol": symbol, "qty": str(qty)})
    step = qty_step_for_symbol(symbol)
    amount = Decimal(str(qty))
    if amount < step:
        return PreSubmitRejection(
            LOCAL_QTY_BELOW_MIN, {"symbol": symbol, "qty": str(qty), "min_qty": str(step)}
        )
    if amount % step != 0:
        return PreSubmitRejection(
            LOCAL_QTY_INVALID_INCREMENT, {"symbol": symbol, "qty": str(qty), "qty_step": str(step)}
        )
    return None


def conflicting_open_order(
    symbol: str, side: str, open_orders: Iterable[OpenOrderView]
) -> OpenOrderView | None:
    """An open market/stop order on the other side of the same symbol: sending ours would cross it (the
    reference refuses; a limit order on the other side is allowed to rest)."""
    wanted_symbol = symbol.strip().upper()
    wanted_side = side.strip().lower()
    for order in open_orders:
        other_side = order.side.strip().lower()
        if order.symbol.strip().upper() != wanted_symbol or other_side not in _SIDES:
            continue
        if other_side == wanted_side or order.order_type.strip().lower() not in _CONFLICTING_ORDER_TYPES:
            continue
        if order.status.strip().lower() in _FINAL_ORDER_STATUSES:
            continue
        return order
    return None


def pre_submit_rejection(
    symbol: str, side: str, qty: float, open_orders: Iterable[OpenOrderView]
) -> PreSubmitRejection | None:
    """The first local reason to refuse an order before it reaches any venue, in the reference's order."""
    refused = quantity_rejection(symbol, qty)
    if refused is not None:
        return refused
    conflict = conflicting_open_order(symbol, side, open_orders)
    if conflict is None:
        return None
    return PreSubmitRejection(
        PRECHECK_OPPOSITE_SIDE_OPEN_ORDER,
        {
            "symbol": symbol,
            "existing_order_id": conflict.order_id,
            "existing_order_side": conflict.side.lower(),
            "existing_order_type": conflict.order_type.lower(),
        },
    )


SUBMISSION_KEY = "submission"


class UnsentOutcome(StrEnum):
    """Why a planned decision never became an order: too old or its window closed (`expired`), or a
    local pre-submit check refused it (`refused`)."""

    EXPIRED = "expired"
    REFUSED = "refused"


@dataclass(frozen=True)
class SubmissionOutcome:
    """Why a planned decision never became an order, stored in its `decision_json` under `submission`
    (and its code in `risk_reasons`), so re-running the window keeps the first verdict instead of
    re-judging an older decision against a later clock."""

    outcome: UnsentOutcome
    reason: str
    at: pd.Timestamp
    detail: tuple[tuple[str, str], ...] = ()

    @classmethod
    def expired(cls, reason: str, at: pd.Timestamp) -> SubmissionOutcome:
        return cls(UnsentOutcome.EXPIRED, reason, at)

    @classmethod
    def refused(cls, code: str, at: pd.Timestamp, detail: dict[str, str]) -> SubmissionOutcome:
        return cls(UnsentOutcome.REFUSED, code, at, tuple(sorted(detail.items())))

    def as_json(self) -> dict[str, object]:
        return {
            "outcome": self.outcome,
            "reason": self.reason,
            "at": self.at.isoformat(),
            "detail": dict(self.detail),
        }

    def marked(self, decision_json: dict[str, object]) -> dict[str, object]:
        reasons = [str(r) for r in decision_json.get("risk_reasons") or ()]  # type: ignore[attr-defined]
        if self.reason not in reasons:
            reasons.append(self.reason)
        return {**decision_json, "risk_reasons": reasons, SUBMISSION_KEY: self.as_json()}


def carried_submission(previous: dict[str, object] | None, fresh: dict[str, object]) -> dict[str, object]:
    """`fresh` with the unsent verdict an earlier run recorded for the same decision, if any."""
    if previous is None or not isinstance(previous.get(SUBMISSION_KEY), dict):
        return fresh
    recorded = previous[SUBMISSION_KEY]
    assert isinstance(recorded, dict)
    reasons = [str(r) for r in fresh.get("risk_reasons") or ()]  # type: ignore[attr-defined]
    reason = str(recorded.get("reason"))
    if reason not in reasons:
        reasons.append(reason)
    return {**fresh, "risk_reasons": reasons, SUBMISSION_KEY: recorded}
