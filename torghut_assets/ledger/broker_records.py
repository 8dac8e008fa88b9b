"""The executions a broker reconciliation reads back at their venues: each execution of the lookback with
the decision it carried out (its JSON and signal sequence), so the order can be rebuilt exactly.

Why here: the reconciliation use case decides how a venue's record is compared; only the ledger says
how the executions and their decisions are joined.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from torghut_assets.ledger import schema
from torghut_assets.ledger.writes import to_native


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
