"""A lane's realized trading record from its executions: what drift rollbacks, the runtime profitability
report and the readiness report all judge a lane by."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from torghut_assets.domain.drift import LaneTradingRecord
from torghut_assets.ledger import schema

EMPTY_RECORD = LaneTradingRecord(0, 0, 0.0, 0.0, None, None)


def lane_trading_records(
    conn: Connection, equities: Mapping[str, float], since: dt.datetime, until: dt.datetime | None = None
) -> dict[str, LaneTradingRecord]:
    """Realized PnL over flat (symbol, session) round trips; costs from TCA; fallbacks from provenance.

    One query for every lane: the database sums per (lane, lane window, symbol), so a 72 h report over a
    million executions moves a few hundred rows, not a million; sessions are formed here from the window
    starts, where the time zone rules are the same on SQLite and PostgreSQL.
    """
    if not equities:
        return {}
    e, t = schema.executions, schema.execution_tca_metrics
    qty, price = sa.func.coalesce(e.c.filled_qty, 0), sa.func.coalesce(e.c.avg_fill_price, 0)
    fees, shortfall = sa.func.coalesce(e.c.fees, 0), t.c.implementation_shortfall_notional
    signed = sa.case((e.c.side == "buy", qty), (e.c.side == "sell", -qty), else_=0)
    rows = conn.execute(
        sa.select(
            e.c.lane,
            e.c.window_start,
            e.c.symbol,
            sa.func.count(),
            sa.func.sum(sa.case((e.c.execution_fallback_count > 0, 1), else_=0)),
            sa.func.sum(signed),
            sa.func.sum(-signed * price - fees),
            sa.func.sum(qty * price),
            sa.func.sum(fees) + sa.func.sum(sa.case((shortfall > 0, shortfall), else_=0)),
        )
        .select_from(e.outerjoin(t, t.c.execution_id == e.c.id))
        .where(
            e.c.lane.in_(sorted(equities)),
            e.c.window_start >= since,
            *([e.c.window_start < until] if until else []),
        )
        .group_by(e.c.lane, e.c.window_start, e.c.symbol)
    ).all()
    frame = pd.DataFrame(
        [tuple(r[:3]) + tuple(float(v or 0) for v in r[3:]) for r in rows],
        columns=["lane", "window_start", "symbol", "n", "fallbacks", "net", "cash", "notional", "cost"],
    )
    records = dict.fromkeys(equities, EMPTY_RECORD)
    for lane, lane_rows in frame.groupby("lane", sort=True):
        records[str(lane)] = _record(lane_rows, equities[str(lane)])
    return records


def lane_trading_record(
    conn: Connection, lane: str, since: dt.datetime, equity: float, until: dt.datetime | None = None
) -> LaneTradingRecord:
    return lane_trading_records(conn, {lane: equity}, since, until)[lane]


def _record(frame: pd.DataFrame, equity: float) -> LaneTradingRecord:
    starts = pd.to_datetime(frame["window_start"], utc=True)
    sessions = frame.assign(session=starts.dt.tz_convert("America/New_York").dt.date)
    grouped = sessions.groupby(["session", "symbol"], sort=True).agg(net=("net", "sum"), cash=("cash", "sum"))
    closed = grouped[grouped["net"].abs() < 1e-9]
    by_session = closed.groupby(level="session")["cash"].sum().sort_index()
    equity_curve = by_session.cumsum()
    drawdown = float((equity_curve.cummax().clip(lower=0) - equity_curve).max()) if len(equity_curve) else 0.0
    return LaneTradingRecord(
        executions=int(frame["n"].sum()),
        fallbacks=int(frame["fallbacks"].sum()),
        traded_notional=float(frame["notional"].sum()),
        cost_notional=float(frame["cost"].sum()),
        net_pnl=float(by_session.sum()) if len(by_session) else None,
        drawdown_fraction=drawdown / equity if equity > 0 else None,
    )
