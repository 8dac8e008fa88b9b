"""The executions a broker reconciliation reads back at their venues: each execution of the lookback with
the decision it carried out (its JSON and signal sequence), so the order can be rebuilt exactly; and the
other way round, which of the orders a venue lists the ledger knows (by client order id).

Why here: the reconciliation use case decides how a venue's record is compared; only the ledger says
how the executions and their decisions are joined.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from torghut_assets.ledger import schema
from torghut_assets.ledger.writes import to_native

_CHUNK = 500


def executions_with_decisions(
    conn: Connection, since: dt.datetime, until: dt.datetime
) -> list[dict[str, Any]]:
    """Executions of lane windows starting in [since, until), each with `decision_json` and `signal_seq`."""
    table, decisions = schema.executions, schema.trade_decisions
    query = (
        sa.select(table, decisions.c.decision_json, decisions.c.signal_seq)
        .join(decisions, decisions.c.id == table.c.trade_decision_id)
        .where(table.c.window_start >= to_native(since), table.c.window_start < to_native(until))
    )
    return [dict(r) for r in conn.execute(query).mappings()]


def known_client_order_ids(conn: Connection, client_order_ids: Iterable[str]) -> dict[str, set[str]]:
    """Of these client order ids, `executions`: those with an execution row (any window, any venue),
    and `decisions`: those that are a decision's hash (its idempotency key, sent as the client order id).
    Read in chunks, so a busy day's listing stays within every backend's parameter limit."""
    wanted = sorted(set(client_order_ids))
    found: dict[str, set[str]] = {"executions": set(), "decisions": set()}
    for offset in range(0, len(wanted), _CHUNK):
        chunk = wanted[offset : offset + _CHUNK]
        found["executions"] |= set(
            conn.execute(
                sa.select(schema.executions.c.client_order_id).where(
                    schema.executions.c.client_order_id.in_(chunk)
                )
            ).scalars()
        )
        found["decisions"] |= set(
            conn.execute(
                sa.select(schema.trade_decisions.c.decision_hash).where(
                    schema.trade_decisions.c.decision_hash.in_(chunk)
                )
            ).scalars()
        )
    return found


def executions_by_adapter(conn: Connection, since: dt.datetime, until: dt.datetime) -> dict[str, int]:
    """Executions of lane windows starting in [since, until), counted by the venue that placed them."""
    table = schema.executions
    query = (
        sa.select(table.c.execution_actual_adapter, sa.func.count())
        .where(table.c.window_start >= to_native(since), table.c.window_start < to_native(until))
        .group_by(table.c.execution_actual_adapter)
    )
    return {str(adapter): int(n) for adapter, n in conn.execute(query).all()}
