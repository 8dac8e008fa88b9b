"""The account that sizing and reconciliation trust: the broker's own when an Alpaca venue is configured
and the lane's account is bound to it in the lane catalog (`broker = "alpaca"`, docs/lane-catalog.md),
the lane's simulated one otherwise.

Sizing (`trade_decisions`, for a lane in `paper` or `live` mode: a `replay` lane only ever reaches the
simulated venue, so it keeps the simulated account): Alpaca's `equity` replaces the lane's configured
equity (the base of the per-symbol and stage percentage caps), and its `buying_power` caps the lane's
gross notional. An account that cannot be read, or that Alpaca has blocked from trading, rejects every
entry of the window from its start (exits still go out: they only reduce risk), with the read's reason
code (`alpaca_get_account_<failure>`) or `broker_trading_blocked` among the decision's risk reasons. The
materialization says which account the equity came from (`equity_source`: `alpaca` or `simulated`).

Reconciliation (`positions_match_broker`): Alpaca's positions must equal, symbol by symbol, the ledger's
net filled quantity of every execution Alpaca placed (`POSITION_ADAPTERS`) for the account label bound to
it (positions are per account: another label's fills are not on that account). A position report that
cannot be read fails the check: unknown is not flat. Without a broker account there is nothing to
compare: a warning saying so, never a pass.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Protocol

import pandas as pd

from torghut_assets.catalog_loader import configured_catalog
from torghut_assets.domain.decisions import EntryBlock
from torghut_assets.domain.lanes import AccountBroker, LaneConfig, LaneMode
from torghut_assets.domain.orders import AccountSnapshot, PositionReport, VenueError
from torghut_assets.domain.routing import Venue
from torghut_assets.ledger import broker_positions
from torghut_assets.ledger import reconciliation as rec
from torghut_assets.services.ports import LedgerPort

SIMULATED = "simulated"
BROKER_TRADING_BLOCKED = "broker_trading_blocked"
POSITIONS_CHECK = "positions_match_broker"
# The executions whose fills land on the Alpaca account. A LEAN runner trading the same account would
# add LEAN here.
POSITION_ADAPTERS = frozenset({Venue.ALPACA})
_QTY_TOLERANCE = 1e-9


class BrokerAccountVenue(Protocol):
    """The broker venue as sizing and reconciliation read it: its name, account and positions."""

    @property
    def name(self) -> str: ...

    def account(self) -> AccountSnapshot: ...

    def positions(self) -> list[PositionReport]: ...


class AccountBrokerPort(Protocol):
    """The configured broker (`BrokerResource` is one): its Alpaca venue, None without keys."""

    def alpaca_venue(self) -> BrokerAccountVenue | None: ...


@dataclass(frozen=True)
class AccountBasis:
    """Where a window's sizing equity comes from. `equity` None: the lane's configured (simulated) one."""

    source: str
    equity: float | None = None
    buying_power: float | None = None
    as_of: pd.Timestamp | None = None
    account_id: str | None = None
    trading_blocked: bool = False
    failure: str | None = None  # the reason code of a read that failed

    def sized(self, lane: LaneConfig) -> LaneConfig:
        """The lane's limits on this account: the broker's equity, gross notional within buying power."""
        if self.equity is None:
            return lane
        gross = lane.max_gross_notional
        if self.buying_power is not None:
            gross = min(gross, max(0.0, self.buying_power))
        return dataclasses.replace(lane, equity=self.equity, max_gross_notional=gross)

    def entry_block(self, since: pd.Timestamp) -> EntryBlock | None:
        if self.failure is not None:
            return EntryBlock(self.failure, since)
        if self.trading_blocked:
            return EntryBlock(BROKER_TRADING_BLOCKED, since)
        return None

    def metadata(self, lane: LaneConfig) -> dict[str, Any]:
        """For the materialization: which account sized the window, and with what."""
        return {
            "source": self.source,
            "equity": lane.equity,
            "buying_power": self.buying_power,
            "max_gross_notional": lane.max_gross_notional,
            "as_of": None if self.as_of is None else self.as_of.isoformat(),
            "account_id": self.account_id,
            "trading_blocked": self.trading_blocked,
            "failure": self.failure,
        }


def read_account(
    broker: AccountBrokerPort,
    mode: LaneMode = LaneMode.PAPER,
    account_broker: AccountBroker = AccountBroker.ALPACA,
) -> AccountBasis:
    """The broker's account when an Alpaca venue is configured, the lane's account is bound to it
    (`broker = "alpaca"` in the lane catalog) and the lane can reach it (a `replay` lane only ever trades
    the simulated venue, so it sizes on the simulated account); a failed read is kept as its reason code
    (never silently replaced by the simulated account)."""
    bound = account_broker == AccountBroker.ALPACA
    venue = broker.alpaca_venue() if mode.reaches_real_venues and bound else None
    if venue is None:
        return AccountBasis(SIMULATED)
    try:
        snapshot = venue.account()
    except VenueError as exc:
        return AccountBasis(venue.name, failure=exc.reason_code)
    return AccountBasis(
        source=snapshot.venue,
        equity=snapshot.equity,
        buying_power=snapshot.buying_power,
        as_of=snapshot.as_of,
        account_id=snapshot.account_id,
        trading_blocked=snapshot.trading_blocked,
    )


def earliest(*blocks: EntryBlock | None) -> EntryBlock | None:
    present = [b for b in blocks if b is not None]
    return min(present, key=lambda b: (b.since, b.reason)) if present else None


def ledger_positions(
    ledger: LedgerPort,
    adapters: frozenset[str] = POSITION_ADAPTERS,
    account_labels: frozenset[str] | None = None,
) -> dict[str, float]:
    """Σ signed filled qty per symbol of every execution these venues placed (all time: the broker's
    positions are the sum of all its fills), for these account labels only when given: positions are
    per account, and another label's fills are not on this broker account."""
    with ledger.engine.connect() as conn:
        return broker_positions.net_filled_qty(conn, adapters, account_labels)


def positions_finding(ledger: LedgerPort, broker: AccountBrokerPort) -> rec.Finding:
    """`positions_match_broker`: the broker's positions against the ledger's fills on its account."""
    venue = broker.alpaca_venue()
    if venue is None:
        return rec.nothing_to_compare(
            POSITIONS_CHECK,
            "the market simulator (no broker account configured) holds no positions of its own: its account "
            "is the ledger's net fills, so there is nothing independent to compare; configure an Alpaca "
            "paper account to check positions",
        )
    try:
        held = {p.symbol: p.qty for p in venue.positions()}
    except VenueError as exc:
        key = f"{venue.name} positions unreadable ({exc.reason_code}): unknown is not flat"
        return rec.Finding(POSITIONS_CHECK, False, 0, 1, (key,), "ERROR", {"reason_code": exc.reason_code})
    # The label the lane catalog binds to the broker: its fills, whichever lane placed them (retired too).
    bound = configured_catalog().broker_account
    expected = ledger_positions(ledger, account_labels=None if bound is None else frozenset({bound}))
    return _compare_positions(venue.name, held, expected)


def _compare_positions(venue: str, held: dict[str, float], expected: dict[str, float]) -> rec.Finding:
    symbols = sorted(set(held) | {s for s, q in expected.items() if abs(q) > _QTY_TOLERANCE})
    failing = [
        f"{symbol}: ledger {expected.get(symbol, 0.0):g} vs {venue} {held.get(symbol, 0.0):g}"
        for symbol in symbols
        if abs(expected.get(symbol, 0.0) - held.get(symbol, 0.0)) > _QTY_TOLERANCE
    ]
    detail: dict[str, Any] = {"broker": held, "ledger": {s: expected.get(s, 0.0) for s in symbols}}
    if not symbols:
        detail["note"] = "flat at the broker and in the ledger"
    return rec.Finding(
        POSITIONS_CHECK,
        not failing,
        len(symbols),
        len(failing),
        tuple(failing[: rec.MAX_KEYS]),
        "ERROR",
        detail,
    )
