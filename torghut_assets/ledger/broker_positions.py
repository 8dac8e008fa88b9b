"""The ledger's side of a broker position check: net filled quantity per symbol of the executions that
landed on a broker account.

Why all time: a broker's positions are the sum of every fill it ever booked, so the ledger's figure to
compare with is too.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from torghut_assets.domain.orders import OrderSide
from torghut_assets.ledger import schema


def net_filled_qty(
    conn: Connection, venues: frozenset[str], account_labels: frozenset[str] | None = None
) -> dict[str, float]:
    """Σ signed filled qty per symbol of every execution these venues placed; for these account labels
    only when given (positions are per account: another label's fills are not on this account)."""
    table = schema.executions
    signed = sa.case((table.c.side == OrderSide.BUY.value, table.c.filled_qty), else_=-table.c.filled_qty)
    query = sa.select(table.c.symbol, sa.func.sum(signed)).where(
        table.c.execution_actual_adapter.in_(sorted(venues))
    )
    if account_labels is not None:
        query = query.where(table.c.alpaca_account_label.in_(sorted(account_labels)))
    query = query.group_by(table.c.symbol)
    return {str(symbol): float(total or 0.0) for symbol, total in conn.execute(query)}
