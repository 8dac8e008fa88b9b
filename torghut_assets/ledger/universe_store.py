"""`universe_snapshots`: the Jangar universe as the ledger remembers it, across runs and processes.

Every fetch attempt is one row, written in its own short transaction after the HTTP request has
finished (no transaction is held open across the network): a good list as `ok`/`jangar_fetch_ok` with
its symbols and the sha256 of the response body, a failure as `error`/<cause> with no symbols (a check
constraint refuses anything in between, so a bad payload can never leave a half-written list). The
newest `ok` row of a URL is the last good universe that `JangarUniverseClient` serves within the cache
TTL and the max-stale age. Rows are keyed by the sha256 of the exact URL, so changing
`JANGAR_SYMBOLS_URL` (another asset class, another Jangar) never serves the old URL's list.
"""

from __future__ import annotations

import hashlib
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from torghut_assets.domain.universe_policy import (
    JANGAR_FETCH_OK,
    FetchFailure,
    FetchOutcome,
    UniverseSnapshot,
    UniverseSource,
    UniverseStatus,
    redacted_url,
)
from torghut_assets.ledger import schema
from torghut_assets.ledger.identity import row_id
from torghut_assets.ledger.queries import as_utc
from torghut_assets.ledger.writes import to_native

snapshots = schema.universe_snapshots

URL_CHARS = 500
DETAIL_CHARS = 300


def source_key(url: str) -> str:
    """sha256 of the exact URL: the lookup key, whatever its length or credentials."""
    return hashlib.sha256(url.encode("utf-8")).hexdigest()


def shown_url(url: str) -> str:
    """The URL as stored for people: a password replaced by `***`, clipped to the column."""
    return redacted_url(url)[:URL_CHARS]


def record_fetch(
    conn: Connection, *, source_url: str, outcome: FetchOutcome, attempted_at: pd.Timestamp
) -> str:
    """Insert one fetch attempt; returns its row id. A snapshot must be a non-empty `jangar_fetch_ok` list."""
    row: dict[str, Any] = {
        "source": UniverseSource.JANGAR,
        "source_key": source_key(source_url),
        "source_url": shown_url(source_url),
        "fetched_at": to_native(attempted_at),
    }
    if isinstance(outcome, FetchFailure):
        row |= {
            "status": UniverseStatus.ERROR,
            "reason": outcome.cause,
            "symbols": [],
            "symbols_count": 0,
            "rejected_symbols": 0,
            "payload_hash": None,
            "detail": outcome.detail.replace(source_url, redacted_url(source_url))[:DETAIL_CHARS] or None,
        }
    elif outcome.reason == JANGAR_FETCH_OK and outcome.symbols:
        row |= {
            "status": UniverseStatus.OK,
            "reason": JANGAR_FETCH_OK,
            "symbols": list(outcome.symbols),
            "symbols_count": len(outcome.symbols),
            "rejected_symbols": outcome.rejected_symbols,
            "payload_hash": outcome.payload_hash,
            "detail": None,
        }
    else:
        raise ValueError(
            f"only a non-empty {JANGAR_FETCH_OK} list or a FetchFailure is recorded: {outcome!r}"
        )
    row["id"] = row_id("universe_snapshots", row["source_key"], attempted_at.isoformat(), row["reason"])
    # The same outcome of the same URL at the same instant is one fact: a second writer adds nothing.
    insert_fn = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    conn.execute(insert_fn(snapshots).values(**row).on_conflict_do_nothing(index_elements=[snapshots.c.id]))
    return str(row["id"])


def last_good(conn: Connection, source_url: str) -> UniverseSnapshot | None:
    """The newest `ok` list fetched from this URL, as a `jangar_fetch_ok` snapshot; None if there is none."""
    query = (
        sa.select(snapshots)
        .where(snapshots.c.source_key == source_key(source_url), snapshots.c.status == UniverseStatus.OK)
        .order_by(snapshots.c.fetched_at.desc(), snapshots.c.id.desc())
        .limit(1)
    )
    row = conn.execute(query).mappings().first()
    if row is None:
        return None
    return UniverseSnapshot(
        symbols=tuple(row["symbols"]),
        source=UniverseSource.JANGAR,
        status=UniverseStatus.OK,
        reason=JANGAR_FETCH_OK,
        fetched_at=as_utc(row["fetched_at"]),
        rejected_symbols=int(row["rejected_symbols"]),
        payload_hash=row["payload_hash"],
    )


def attempts(conn: Connection, source_url: str, limit: int = 50) -> list[dict[str, Any]]:
    """The newest fetch attempts of a URL, newest first (for operators and tests)."""
    query = (
        sa.select(snapshots)
        .where(snapshots.c.source_key == source_key(source_url))
        .order_by(snapshots.c.fetched_at.desc(), snapshots.c.id.desc())
        .limit(limit)
    )
    return [dict(r) for r in conn.execute(query).mappings()]


class LedgerUniverseStore:
    """`JangarUniverseClient`'s cache store on a ledger engine: each call is its own short transaction."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def last_good(self, source_url: str) -> UniverseSnapshot | None:
        with self.engine.connect() as conn:
            return last_good(conn, source_url)

    def record(self, source_url: str, outcome: FetchOutcome, attempted_at: pd.Timestamp) -> None:
        with self.engine.begin() as conn:
            record_fetch(conn, source_url=source_url, outcome=outcome, attempted_at=attempted_at)
