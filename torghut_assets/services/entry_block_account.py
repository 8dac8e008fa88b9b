"""Which of a window's orders predate the lane's entry block, told in one sentence.

Why: the `executions` asset shows the entry block that stands when it runs (a lane halt, the kill
switch, an emergency stop, a continuity alert). On a window whose buys filled before the block was set,
that reads like a contradiction. It is not: the block refuses entries decided from its start on, and
orders decided earlier stand. This use case compares the block's start (a ledger fact: the halt's time,
the stop's, the switch's) with the time of each of the window's decisions, and says which side each
order falls on, so the UI explains itself.

The comparison uses the decision's signal time, the clock the block's rule itself uses
(`domain/decisions.py`): an entry is refused when it is decided at or after the block's start.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
from sqlalchemy.engine import Connection

from torghut_assets.domain.decisions import DecisionStatus, EntryBlock
from torghut_assets.domain.lanes import LaneWindow
from torghut_assets.domain.orders import OrderSide
from torghut_assets.ledger import queries, schema
from torghut_assets.services.ports import LedgerPort
from torghut_assets.services.trade_planning import entry_block


@dataclass(frozen=True)
class EntryBlockAccount:
    """The standing entry block against one window's entries (buys), as read at `snapshot_at`."""

    reason: str
    since: pd.Timestamp
    window: LaneWindow
    filled_before: int  # buys decided before the block whose orders filled (in part or whole)
    unfilled_before: int  # buys decided before the block whose orders have not filled
    sent_after: int  # buys decided at or after the block that still reached a venue (should be none)
    refused_after: int  # buy decisions at or after the block that it refused
    snapshot_at: dt.datetime

    def sentence(self) -> str:
        """e.g. "entry_block lane_halted set at 2026-03-05 14:32 UTC; 3 buys filled before it, no entry
        after it"."""
        stamp = self.since.tz_convert("UTC").strftime("%Y-%m-%d %H:%M UTC")
        head = f"entry_block {self.reason} set at {stamp}"
        if self.since >= self.window.end:
            head += ", after this window ended: every order here predates it"
        elif self.since <= self.window.start:
            head += ", before this window began"
        before = [
            f"{_count(self.filled_before, 'buy')} filled before it" if self.filled_before else "",
            f"{_count(self.unfilled_before, 'buy')} sent before it not filled"
            if self.unfilled_before
            else "",
        ]
        after = (
            f"{_count(self.sent_after, 'entry', 'entries')} sent after it"
            if self.sent_after
            else "no entry after it"
        )
        if self.refused_after:
            after += f" ({_count(self.refused_after, 'entry', 'entries')} refused by it)"
        return "; ".join([head, *[p for p in before if p], after])


def _count(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else (many or one + 's')}"


def account_for_block(
    block: EntryBlock,
    window: LaneWindow,
    decisions: Sequence[Mapping[str, Any]],
    executions: Sequence[Mapping[str, Any]],
    snapshot_at: dt.datetime,
) -> EntryBlockAccount:
    """Place each buy of the window before or after the block by its decision's signal time."""
    filled_qty = {str(e["trade_decision_id"]): float(e["filled_qty"] or 0.0) for e in executions}
    buys = [d for d in decisions if str(d["decision_json"].get("action")) == OrderSide.BUY]
    before = [d for d in buys if pd.Timestamp(d["signal_event_ts"]) < block.since]
    after = [d for d in buys if pd.Timestamp(d["signal_event_ts"]) >= block.since]
    sent_before = [d for d in before if str(d["id"]) in filled_qty]
    return EntryBlockAccount(
        reason=block.reason,
        since=block.since,
        window=window,
        filled_before=sum(1 for d in sent_before if filled_qty[str(d["id"])] > 0),
        unfilled_before=sum(1 for d in sent_before if filled_qty[str(d["id"])] <= 0),
        sent_after=sum(1 for d in after if str(d["id"]) in filled_qty),
        refused_after=sum(
            1
            for d in after
            if d["status"] == DecisionStatus.REJECTED
            and block.reason in (d["decision_json"].get("risk_reasons") or [])
        ),
        snapshot_at=snapshot_at,
    )


def window_entry_block(
    conn: Connection,
    window: LaneWindow,
    executions: Sequence[Mapping[str, Any]],
    snapshot_at: dt.datetime,
) -> EntryBlockAccount | None:
    """The lane's standing entry block (ledger facts) against the window's decisions; None without one."""
    block = entry_block(conn, window.lane)
    if block is None:
        return None
    decisions = queries.window_rows(conn, schema.trade_decisions, window.lane, window.start.to_pydatetime())
    return account_for_block(block, window, decisions, executions, snapshot_at)


def read_window_entry_block(
    ledger: LedgerPort, window: LaneWindow, executions: Sequence[Mapping[str, Any]]
) -> EntryBlockAccount | None:
    """`window_entry_block` in a read of its own, stamped with the time it was read."""
    snapshot_at = dt.datetime.now(dt.UTC)
    with ledger.engine.connect() as conn:
        return window_entry_block(conn, window, executions, snapshot_at)
