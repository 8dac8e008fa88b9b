"""Replay's statements: the window's ingest verdict it re-derives a skipped run from, and the `deny` row
a mismatching replay leaves in `research_promotions`.

Why here: replay decides what differs and what a mismatch means; only the ledger says where the verdict
is read and how the deny row is stored.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from torghut_assets.ledger import queries, schema
from torghut_assets.ledger.audit_rules import require_auditable
from torghut_assets.ledger.writes import insert_rows


def ingest_verdict(conn: Connection, lane: str, window_start: dt.datetime) -> dict[str, Any]:
    """The lane window's signal-ingest verdict (IndexError when the window was never ingested)."""
    return queries.window_rows(conn, schema.signal_ingest_windows, lane, window_start)[0]


def record_deny(conn: Connection, row: dict[str, Any]) -> None:
    """Append a replay's `deny` promotion row; a row with its id already there is left as it is
    (`research_promotions` is append-only: nothing is ever rewritten)."""
    require_auditable(schema.research_promotions.name, [row])  # UnauditableRow: nothing is written
    promotions = schema.research_promotions
    if conn.execute(sa.select(promotions.c.id).where(promotions.c.id == row["id"])).first() is None:
        insert_rows(conn, promotions, [row])
