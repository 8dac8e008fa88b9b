"""A lane's realized trading record from its executions: what drift rollbacks, the runtime profitability
report and the readiness report all judge a lane by."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from torghut_assets.domain.drift import LaneTradingRecord
from torghut_assets.domain.profitability import ClosedRoundTrip
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
    frame = _window_symbol_frame(conn, sorted(equities), since, until)
    records = dict.fromkeys(equities, EMPTY_RECORD)
    for lane, lane_rows in frame.groupby("lane", sort=True):
        records[str(lane)] = _record(lane_rows, equities[str(lane)])
    return records


def lane_trading_record(
    conn: Connection, lane: str, since: dt.datetime, equity: float, until: dt.datetime | None = None
) -> LaneTradingRecord:
    return lane_trading_records(conn, {lane: equity}, since, until)[lane]


def closed_round_trips(
    conn: Connection, lanes: Iterable[str], since: dt.datetime, until: dt.datetime | None = None
) -> list[ClosedRoundTrip]:
    """The flat (lane, session, symbol) round trips behind `LaneTradingRecord.net_pnl`, one by one.

    The same rows and the same closing rule as `lane_trading_records` (a lane's net PnL is the sum of
    its round trips here), so the runtime report's table and equity curve add up to the figure the
    drift rollback and the readiness report judge.
    """
    names = sorted(set(lanes))
    if not names:
        return []
    frame = _window_symbol_frame(conn, names, since, until)
    if frame.empty:
        return []
    closed = _closed_groups(frame, ["lane", "session", "symbol"]).reset_index()
    return [
        ClosedRoundTrip(
            lane=str(lane),
            symbol=str(symbol),
            session=session,
            closed_window_start=pd.Timestamp(closed_at).to_pydatetime(),
            executions=int(n),
            net_pnl=float(cash),
        )
        for lane, session, symbol, closed_at, n, cash in zip(
            closed["lane"].tolist(),
            closed["session"].tolist(),
            closed["symbol"].tolist(),
            closed["closed_window_start"].tolist(),
            closed["n"].tolist(),
            closed["cash"].tolist(),
            strict=True,
        )
    ]


def _window_symbol_frame(
    conn: Connection, lanes: list[str], since: dt.datetime, until: dt.datetime | None
) -> pd.DataFrame:
    """Per (lane, lane window, symbol): executions, fallbacks, net shares, cash after fees, notional and
    cost, summed by the database."""
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
            e.c.lane.in_(lanes),
            e.c.window_start >= since,
            *([e.c.window_start < until] if until else []),
        )
        .group_by(e.c.lane, e.c.window_start, e.c.symbol)
    ).all()
    return pd.DataFrame(
        [tuple(r[:3]) + tuple(float(v or 0) for v in r[3:]) for r in rows],
        columns=["lane", "window_start", "symbol", "n", "fallbacks", "net", "cash", "notional", "cost"],
    )


def _closed_groups(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """The (…, session, symbol) groups whose shares net to zero: round trips closed flat in a session
    (New York date of the lane window start)."""
    starts = pd.to_datetime(frame["window_start"], utc=True)
    sessions = frame.assign(session=starts.dt.tz_convert("America/New_York").dt.date, start=starts)
    grouped = sessions.groupby(keys, sort=True).agg(
        net=("net", "sum"), cash=("cash", "sum"), n=("n", "sum"), closed_window_start=("start", "max")
    )
    return grouped[grouped["net"].abs() < 1e-9]


def _record(frame: pd.DataFrame, equity: float) -> LaneTradingRecord:
    closed = _closed_groups(frame, ["session", "symbol"])
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
