"""Hash-chained, append-only evidence log: tampering with recorded evidence must be detectable.

Every ledger write that matters for governance (research run, candidate set, fold/stress bundle, gate
report, promotion, approval, rollback) appends one entry. The entry's hash covers its content hash and
the previous entry's hash, so editing, deleting or reordering any entry breaks every link after it, and
an entry whose `content` is the live rows' digest also exposes later edits of those rows.

Table (`schema.evidence_log`):

    evidence_log(
        id uuid pk,                      -- uuid5 of the seq (deterministic like every ledger id)
        seq bigint unique not null,      -- 1, 2, 3, … without gaps; unique is the backstop against forks
        entry_kind varchar(64) not null, -- research_run, candidate_set, fold_bundle, stress_bundle, …
        subject varchar(128) not null,   -- run_id / candidate_id / …
        lane varchar(64) null, window_start timestamptz null,
        content_hash varchar(64) not null,   -- sha256 of canonical_json(content)
        content json not null,               -- plain json, NOT jsonb (see below)
        prev_hash varchar(64) not null,      -- 64 zeros for seq 1
        entry_hash varchar(64) unique not null,
        recorded_at timestamptz not null, created_at timestamptz not null default now(),
        index (entry_kind, subject, seq)
    )

`content` is plain JSON rather than the JSONB the rest of the ledger uses: JSONB rewrites numbers
(`1e20` comes back as the integer `100000000000000000000`), which changes the canonical JSON and would
raise false tamper alarms. `json` keeps the text verbatim, and canonical JSON is a fixpoint of
parse-then-canonicalize, so the stored content always re-hashes to `content_hash`.

`recorded_at` and `created_at` are bookkeeping outside `entry_hash`, as specified; the hash authenticates
what was recorded and in which order, not the wall clock.

The chain alone cannot reveal truncation of its tail (deleting the newest entries leaves a valid, shorter
chain) or a rewrite with every hash recomputed: the nightly reconciliation publishes the head outside
the ledger and compares every head published before with the chain (`services/chain_head.py`). The
hash rule itself is `domain/evidence_chain.entry_hash`, shared with the offline check of an evidence
pack (docs/evidence-pack.md).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from torghut_assets.domain import evidence_chain
from torghut_assets.domain.evidence import canonical_json, sha256_hex
from torghut_assets.ledger import schema
from torghut_assets.ledger.identity import row_id
from torghut_assets.ledger.writes import to_native

GENESIS_HASH = evidence_chain.GENESIS_HASH

# Signed first 8 bytes of sha256(b"torghut_assets.evidence_log"): a fixed key unlikely to collide with
# other advisory-lock users of the same database. Every appender on every process must use the same one.
CHAIN_LOCK_KEY = -258197060652515824

evidence_log = schema.evidence_log

_ENTRY_COLUMNS = [c for c in evidence_log.columns if c.name != "created_at"]


@dataclasses.dataclass(frozen=True)
class EvidenceEntry:
    id: str
    seq: int
    entry_kind: str
    subject: str
    lane: str | None
    window_start: dt.datetime | None
    content: Any
    content_hash: str
    prev_hash: str
    entry_hash: str
    recorded_at: dt.datetime


@dataclasses.dataclass(frozen=True)
class ChainBreak:
    seq: int
    problem: str  # seq_gap | prev_hash_mismatch | entry_hash_mismatch | content_hash_mismatch | ...


@dataclasses.dataclass(frozen=True)
class ChainVerification:
    """`head_seq`/`head_hash` are the tip the next append links to: 0 and 64 zeros for an empty chain."""

    ok: bool
    entries_checked: int
    head_seq: int
    head_hash: str
    breaks: tuple[ChainBreak, ...]


def entry_hash(
    *,
    seq: int,
    entry_kind: str,
    subject: str,
    lane: str | None,
    window_start: dt.datetime | None,
    content_hash: str,
    prev_hash: str,
) -> str:
    """One definition for the ledger and an offline evidence pack check (`domain/evidence_chain.py`)."""
    return evidence_chain.entry_hash(
        seq=seq,
        entry_kind=entry_kind,
        subject=subject,
        lane=lane,
        window_start=window_start,
        content_hash=content_hash,
        prev_hash=prev_hash,
    )


def append_entry(
    conn: Connection,
    *,
    entry_kind: str,
    subject: str,
    content: Any,
    lane: str | None = None,
    window_start: dt.datetime | None = None,
    recorded_at: dt.datetime,
) -> EvidenceEntry:
    """Append inside the caller's transaction, so the entry commits or rolls back with the evidence.

    Idempotent against the *latest* entry of the same (entry_kind, subject): if it already records this
    content (and lane/window), it is returned and nothing is appended, so re-materializing a window does
    not grow the chain. Any difference appends a new entry and the latest one supersedes the older ones,
    which stay as history. Comparing with the latest rather than any earlier entry means a revert (A, B,
    then A again) is recorded, so "latest per subject" always reflects the current evidence.

    Appends are serialized chain-wide until the caller commits (PostgreSQL advisory lock, SQLite's single
    writer), so call this last in the transaction to keep that window short. On PostgreSQL this relies on
    READ COMMITTED (the default): under REPEATABLE READ the snapshot predates the lock, the stale head
    makes the insert collide on the unique `seq`, and the transaction fails rather than forking.
    """
    _check_text("entry_kind", entry_kind, 64)
    _check_text("subject", subject, 128)
    if lane is not None:
        _check_text("lane", lane, 64)
    # Hash exactly the text whose parse is stored; canonical JSON re-canonicalizes to itself.
    canonical = canonical_json(content)
    content_hash = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    window = to_native(window_start)
    recorded = to_native(recorded_at)
    if recorded is None:
        raise ValueError("recorded_at is required")

    _lock_chain(conn)
    latest = _first(
        conn,
        sa.and_(evidence_log.c.entry_kind == entry_kind, evidence_log.c.subject == subject),
        evidence_log.c.seq.desc(),
    )
    if latest is not None and (latest.content_hash, latest.lane, latest.window_start) == (
        content_hash,
        lane,
        window,
    ):
        return latest
    tip = head(conn)
    seq = 1 if tip is None else tip.seq + 1
    prev_hash = GENESIS_HASH if tip is None else tip.entry_hash
    entry = EvidenceEntry(
        id=row_id("evidence_log", seq),
        seq=seq,
        entry_kind=entry_kind,
        subject=subject,
        lane=lane,
        window_start=window,
        content=json.loads(canonical),
        content_hash=content_hash,
        prev_hash=prev_hash,
        entry_hash=entry_hash(
            seq=seq,
            entry_kind=entry_kind,
            subject=subject,
            lane=lane,
            window_start=window,
            content_hash=content_hash,
            prev_hash=prev_hash,
        ),
        recorded_at=recorded,
    )
    conn.execute(sa.insert(evidence_log).values(dataclasses.asdict(entry)))
    return entry


def head(conn: Connection) -> EvidenceEntry | None:
    return _first(conn, sa.true(), evidence_log.c.seq.desc())


def has_entry(
    conn: Connection, *, entry_kind: str, subject: str, lane: str, window_start: dt.datetime
) -> bool:
    """Whether an entry of this kind about `subject` was recorded for the lane window."""
    t = evidence_log
    found = conn.execute(
        sa.select(t.c.id)
        .where(
            t.c.entry_kind == entry_kind,
            t.c.subject == subject,
            t.c.lane == lane,
            t.c.window_start == to_native(window_start),
        )
        .limit(1)
    ).first()
    return found is not None


def verify_chain(
    conn: Connection,
    *,
    recompute: Callable[[EvidenceEntry], str | None] | None = None,
    page_size: int = 1000,
    max_breaks: int = 1000,
) -> ChainVerification:
    """Walk the chain in seq order and report every broken link or hash.

    Pages by keyset on the unique `seq` index (one indexed range query per `page_size` entries), so
    memory stays flat however long the chain is; only the first `max_breaks` breaks are kept for the
    same reason. The walk stops at the head seen when it starts, so concurrent appends do not make the
    result depend on timing; run it under REPEATABLE READ on PostgreSQL for a single-snapshot check.

    `recompute(entry)` returns the content hash rebuilt from the live ledger rows the entry points to, or
    None when the entry has no live source to compare; a different hash means the source rows changed
    after the entry was recorded (`content_source_mismatch`).
    """
    bound = conn.execute(sa.select(sa.func.max(evidence_log.c.seq))).scalar()
    breaks: list[ChainBreak] = []
    checked = 0
    expected_seq, tip_seq, tip_hash = 1, 0, GENESIS_HASH
    after: int | None = None
    while bound is not None:
        where = evidence_log.c.seq <= bound
        if after is not None:
            where = sa.and_(where, evidence_log.c.seq > after)
        query = sa.select(*_ENTRY_COLUMNS).where(where).order_by(evidence_log.c.seq).limit(page_size)
        page = [_entry(row) for row in conn.execute(query).mappings()]
        for entry in page:
            for problem in _problems(entry, expected_seq, tip_hash, recompute):
                if len(breaks) < max_breaks:
                    breaks.append(ChainBreak(entry.seq, problem))
            checked += 1
            expected_seq, tip_seq, tip_hash = entry.seq + 1, entry.seq, entry.entry_hash
        if len(page) < page_size:
            break
        after = page[-1].seq
    return ChainVerification(
        ok=not breaks, entries_checked=checked, head_seq=tip_seq, head_hash=tip_hash, breaks=tuple(breaks)
    )


def _problems(
    entry: EvidenceEntry,
    expected_seq: int,
    expected_prev: str,
    recompute: Callable[[EvidenceEntry], str | None] | None,
) -> list[str]:
    problems: list[str] = []
    if entry.seq != expected_seq:
        problems.append("seq_gap")
    if entry.prev_hash != expected_prev:
        problems.append("prev_hash_mismatch")
    recomputed_entry_hash = entry_hash(
        seq=entry.seq,
        entry_kind=entry.entry_kind,
        subject=entry.subject,
        lane=entry.lane,
        window_start=entry.window_start,
        content_hash=entry.content_hash,
        prev_hash=entry.prev_hash,
    )
    if entry.entry_hash != recomputed_entry_hash:
        problems.append("entry_hash_mismatch")
    if sha256_hex(entry.content) != entry.content_hash:
        problems.append("content_hash_mismatch")
    if recompute is not None:
        source_hash = recompute(entry)
        if source_hash is not None and source_hash != entry.content_hash:
            problems.append("content_source_mismatch")
    return problems


def _lock_chain(conn: Connection) -> None:
    """Serialize appenders before the head is read, so two transactions never both extend the same tip.

    SQLite needs nothing here: the ledger engine begins every transaction with BEGIN IMMEDIATE, so the
    transaction already holds the database's only write lock. The unique `seq` is the backstop for a
    connection that bypasses either mechanism: it fails instead of forking.
    """
    if conn.dialect.name == "postgresql":
        conn.execute(sa.select(sa.func.pg_advisory_xact_lock(CHAIN_LOCK_KEY)))


def _first(
    conn: Connection, where: sa.ColumnElement[bool], order: sa.UnaryExpression[Any]
) -> EvidenceEntry | None:
    row = conn.execute(sa.select(*_ENTRY_COLUMNS).where(where).order_by(order).limit(1)).mappings().first()
    return None if row is None else _entry(row)


def _entry(row: sa.RowMapping) -> EvidenceEntry:
    return EvidenceEntry(
        id=str(row["id"]),
        seq=int(row["seq"]),
        entry_kind=row["entry_kind"],
        subject=row["subject"],
        lane=row["lane"],
        window_start=None if row["window_start"] is None else _utc(row["window_start"]),
        content=row["content"],
        content_hash=row["content_hash"],
        prev_hash=row["prev_hash"],
        entry_hash=row["entry_hash"],
        recorded_at=_utc(row["recorded_at"]),
    )


def _utc(value: dt.datetime) -> dt.datetime:
    """SQLite hands back naive UTC datetimes; hashes must see the same instant on both backends."""
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def _check_text(name: str, value: str, limit: int) -> None:
    """SQLite ignores VARCHAR lengths; checking here keeps both backends accepting the same entries."""
    if not value or len(value) > limit:
        raise ValueError(f"{name} must be 1..{limit} characters, got {value!r}")
