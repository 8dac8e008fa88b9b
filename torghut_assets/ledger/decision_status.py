"""A trade decision's row after routing: the verdict it was given before any venue saw it (an advisory
veto, an expiry, a pre-submit refusal) and the status its order reached.

Why separate from `records.decision_row`: the decision row is written once by `trade_decisions`; these
are the two later changes `executions` makes to it, in its own transaction.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from torghut_assets.domain.evidence import canonical_value
from torghut_assets.ledger import schema
from torghut_assets.ledger.writes import to_native


def mark_verdict(conn: Connection, decision_id: Any, decision_json: Any, status: str) -> None:
    """Store the decision's payload as marked (rejection codes, submission outcome) with its status."""
    decisions = schema.trade_decisions
    conn.execute(
        sa.update(decisions)
        .where(decisions.c.id == decision_id)
        .values(decision_json=canonical_value(decision_json), status=status)
    )


def mark_executed(conn: Connection, decision_id: Any, status: str, executed_at: Any) -> None:
    """The status of the decision's order and when it was last updated at the venue."""
    decisions = schema.trade_decisions
    conn.execute(
        sa.update(decisions)
        .where(decisions.c.id == decision_id)
        .values(status=status, executed_at=to_native(executed_at))
    )
