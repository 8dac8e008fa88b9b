"""The 72 h runtime profitability report: decisions, executions and costs, and what they do not prove.

Why a use case: the Dagster asset (hourly and on demand) and the benchmark build the same payload from
the same set-wise aggregates (`ledger/profitability_queries.py`); the domain
(`domain/profitability.py`) turns them into the report and its caveats. The payload is kept as a
content-addressed JSON artifact; the shortfall points are returned for the caller's plot.

The report leads with closed-trade PnL (flat round trips, from fills and fees) because that is the
only figure in it that is realized profit; the TCA shortfall is a cost proxy and comes second. With no
closed round trip the headline says the PnL is not evidenced rather than showing a zero.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import pandas as pd
from sqlalchemy.engine import Connection

from torghut_assets.domain.lanes import LANES
from torghut_assets.domain.profitability import (
    closed_trade_headline,
    runtime_profitability,
    window_bounds,
)
from torghut_assets.ledger import profitability_queries as pq
from torghut_assets.ledger.artifacts import ArtifactRef
from torghut_assets.ledger.trading_record import closed_round_trips, lane_trading_records
from torghut_assets.services.ports import LedgerPort

SHORTFALL_COLUMNS = ["lane", "at", "shortfall", "bps"]


@dataclass(frozen=True)
class ProfitabilityReport:
    payload: dict[str, Any]
    report: ArtifactRef
    shortfall: pd.DataFrame  # one row per TCA sample of the window: lane, at, shortfall, bps
    snapshot_at: dt.datetime  # when the ledger was read: the report is true as of then, not after

    @property
    def headline(self) -> str:
        """The sentence the report leads with (closed-trade PnL, or that there is none)."""
        return closed_trade_headline(self.payload["closed_trades"], self.payload["window"]["end"])

    @property
    def equity_curve(self) -> pd.DataFrame:
        """Cumulative closed-trade net PnL at each round trip's close (at, cumulative_net_pnl), from 0 at
        the window start to the last value held at the window end, so the curve spans the whole 72 h."""
        points = [
            (pd.Timestamp(p["at"]), float(p["cumulative_net_pnl"]))
            for p in self.payload["closed_trades"]["equity_curve"]
        ]
        window = self.payload["window"]
        start, end = pd.Timestamp(window["start"]), pd.Timestamp(window["end"])
        last = points[-1][1] if points else 0.0
        return pd.DataFrame([(start, 0.0), *points, (end, last)], columns=["at", "cumulative_net_pnl"])


def evaluation_time(as_of: str | None) -> dt.datetime:
    """An `as_of` given as ISO 8601 text, or now; a naive time is refused rather than guessed."""
    if not as_of:
        return dt.datetime.now(dt.UTC)
    ts = pd.Timestamp(as_of)
    if ts.tzinfo is None:
        raise ValueError(f"as_of {as_of!r} needs a timezone (e.g. ...Z)")
    return ts.tz_convert("UTC").to_pydatetime()


def build_payload(conn: Connection, as_of: dt.datetime) -> dict[str, Any]:
    """The report for the 72 h before `as_of`."""
    start, end = window_bounds(as_of)
    executions = pq.execution_groups(conn, start, end)
    lanes = {g.lane: LANES[g.lane].equity for g in executions if g.lane is not None and g.lane in LANES}
    records = lane_trading_records(conn, lanes, start, end)
    return runtime_profitability(
        start=start,
        end=end,
        decisions=pq.decision_groups(conn, start, end),
        executions=executions,
        shortfall_by_symbol=pq.shortfall_by_symbol(conn, start, end),
        shortfall_ranks=pq.shortfall_ranks(conn, start, end),
        closed_trade_pnl_by_lane={lane: record.net_pnl for lane, record in records.items()},
        attribution=pq.attribution(conn, start, end),
        round_trips=closed_round_trips(conn, lanes, start, end),
    )


def runtime_profitability_report(ledger: LedgerPort, as_of: dt.datetime) -> ProfitabilityReport:
    """Build the payload and the shortfall points in one read; store the payload as an artifact."""
    start, end = window_bounds(as_of)
    snapshot_at = dt.datetime.now(dt.UTC)
    with ledger.engine.connect() as conn:
        payload = build_payload(conn, as_of)
        points = pq.shortfall_series(conn, start, end)
    report = ledger.artifacts.write_json("gates/runtime-profitability", payload)
    return ProfitabilityReport(payload, report, pd.DataFrame(points, columns=SHORTFALL_COLUMNS), snapshot_at)
