"""The evidence chain's rules as pure functions: an entry's hash, a segment's links, the digest of the
rows an entry records, and whether a published chain head is still in the chain.

Why pure: the ledger appends and walks the chain (`ledger/evidence_log.py`), while an auditor checks an
exported evidence pack with no database (`domain/evidence_pack.py`). Both must compute the same hash for
the same entry and the same digest for the same rows, so each is written once, here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from torghut_assets.domain.evidence import canonical_value, sha256_hex

GENESIS_HASH = "0" * 64
DIGEST_DIGITS = 8
# Bookkeeping outside every row digest.
UNHASHED_COLUMNS = frozenset({"created_at"})
# Governance state that changes after the window was written; each change has its own chain entry.
MUTABLE_COLUMNS: Mapping[str, frozenset[str]] = {
    "research_candidates": frozenset({"lifecycle_role", "lifecycle_status"})
}


def entry_hash(
    *,
    seq: int,
    entry_kind: str,
    subject: str,
    lane: str | None,
    window_start: dt.datetime | str | None,
    content_hash: str,
    prev_hash: str,
) -> str:
    """An entry's hash: its position, what it is about, its content hash and the previous entry's hash.

    `window_start` may be the datetime or its canonical text (`2026-03-03T15:00:00Z`); both hash alike.
    """
    return sha256_hex(
        {
            "seq": seq,
            "entry_kind": entry_kind,
            "subject": subject,
            "lane": lane,
            "window_start": window_start,
            "content_hash": content_hash,
            "prev_hash": prev_hash,
        }
    )


def instant(text: object) -> dt.datetime | None:
    """A canonical timestamp (`…Z`) read back as an aware datetime; None for anything else."""
    if not isinstance(text, str):
        return None
    try:
        value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


def rounded(value: Any) -> Any:
    """Numbers at 8 decimals, so SQLite and PostgreSQL numeric rounding cannot raise false alarms."""
    if isinstance(value, float):
        value = round(value, DIGEST_DIGITS)
        return 0.0 if value == 0 else value
    if isinstance(value, dict):
        return {k: rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [rounded(v) for v in value]
    return value


def partition_digest_of(table: str, rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The digest a lane-window partition's chain entry records: `{table, rows, sha256}` over the rows
    sorted by id, each without its bookkeeping and mutable columns, numbers at 8 decimals."""
    skip = UNHASHED_COLUMNS | MUTABLE_COLUMNS.get(table, frozenset())
    normalized = [
        {k: rounded(canonical_value(v)) for k, v in sorted(row.items()) if k not in skip}
        for row in sorted(rows, key=lambda r: str(r["id"]))
    ]
    return {"table": table, "rows": len(rows), "sha256": sha256_hex(normalized)}


def content_digest(value: Any) -> str:
    """The digest two records are compared on (a stored row against its chain entry's content)."""
    return sha256_hex(rounded(canonical_value(value)))


class LinkProblem(StrEnum):
    """What is wrong with one entry of a chain segment."""

    SEQ_GAP = "chain_seq_gap"
    PREV_HASH_MISMATCH = "chain_prev_hash_mismatch"
    ENTRY_HASH_MISMATCH = "chain_entry_hash_mismatch"
    CONTENT_HASH_MISMATCH = "chain_content_hash_mismatch"


@dataclass(frozen=True)
class SegmentEntry:
    """An entry as exported: its header always, its content only when a row in the pack rests on it."""

    seq: int
    entry_kind: str
    subject: str
    lane: str | None
    window_start: str | None
    content_hash: str
    prev_hash: str
    entry_hash: str
    recorded_at: str
    content: Any = None
    has_content: bool = False

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SegmentEntry:
        return cls(
            seq=int(data["seq"]),
            entry_kind=str(data["entry_kind"]),
            subject=str(data["subject"]),
            lane=None if data.get("lane") is None else str(data["lane"]),
            window_start=None if data.get("window_start") is None else str(data["window_start"]),
            content_hash=str(data["content_hash"]),
            prev_hash=str(data["prev_hash"]),
            entry_hash=str(data["entry_hash"]),
            recorded_at=str(data["recorded_at"]),
            content=data.get("content"),
            has_content="content" in data,
        )

    def as_dict(self) -> dict[str, Any]:
        header: dict[str, Any] = {
            "seq": self.seq,
            "entry_kind": self.entry_kind,
            "subject": self.subject,
            "lane": self.lane,
            "window_start": self.window_start,
            "content_hash": self.content_hash,
            "prev_hash": self.prev_hash,
            "entry_hash": self.entry_hash,
            "recorded_at": self.recorded_at,
        }
        return {**header, "content": self.content} if self.has_content else header


def segment_problems(entries: Iterable[SegmentEntry]) -> list[tuple[int, LinkProblem]]:
    """Every broken link of a contiguous segment, in seq order: each entry's hash recomputed from its
    header and the previous entry's hash, its content (when present) re-hashed, and no seq missing.
    The first entry's `prev_hash` can only be checked when it is seq 1 (the genesis link)."""
    problems: list[tuple[int, LinkProblem]] = []
    previous: SegmentEntry | None = None
    for entry in sorted(entries, key=lambda e: e.seq):
        if previous is not None and entry.seq != previous.seq + 1:
            problems.append((entry.seq, LinkProblem.SEQ_GAP))
        expected_prev = (
            GENESIS_HASH if entry.seq == 1 else (None if previous is None else previous.entry_hash)
        )
        if expected_prev is not None and entry.prev_hash != expected_prev:
            problems.append((entry.seq, LinkProblem.PREV_HASH_MISMATCH))
        recomputed = entry_hash(
            seq=entry.seq,
            entry_kind=entry.entry_kind,
            subject=entry.subject,
            lane=entry.lane,
            window_start=entry.window_start,
            content_hash=entry.content_hash,
            prev_hash=entry.prev_hash,
        )
        if recomputed != entry.entry_hash:
            problems.append((entry.seq, LinkProblem.ENTRY_HASH_MISMATCH))
        if entry.has_content and sha256_hex(entry.content) != entry.content_hash:
            problems.append((entry.seq, LinkProblem.CONTENT_HASH_MISMATCH))
        previous = entry
    return problems


# --- the chain head published outside the ledger -------------------------------------------------


class HeadProblem(StrEnum):
    """Why a chain no longer holds a head that was published from it."""

    TRUNCATED = "published_head_truncated"  # the chain ends before the published seq
    REWRITTEN = "published_head_rewritten"  # the entry at that seq has another hash


@dataclass(frozen=True)
class PublishedHead:
    """A chain head as published outside the ledger: its seq and hash, when that entry was recorded,
    and when it was published."""

    seq: int
    entry_hash: str
    recorded_at: str | None
    published_at: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "entry_hash": self.entry_hash,
            "recorded_at": self.recorded_at,
            "published_at": self.published_at,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PublishedHead:
        """Raises ValueError for anything that is not a published head."""
        seq, digest = data.get("seq"), data.get("entry_hash")
        if isinstance(seq, bool) or not isinstance(seq, int) or seq < 0:
            raise ValueError(f"a published head needs a seq >= 0, got {seq!r}")
        if not isinstance(digest, str) or len(digest) != 64:
            raise ValueError(f"a published head needs a 64-character entry_hash, got {digest!r}")
        published = data.get("published_at")
        if not isinstance(published, str) or not published:
            raise ValueError("a published head needs published_at")
        recorded = data.get("recorded_at")
        return cls(seq, digest, None if recorded is None else str(recorded), published)

    def label(self) -> str:
        return f"seq {self.seq} {self.entry_hash[:16]}… published {self.published_at}"


def head_problem(
    published: PublishedHead, chain_head_seq: int, hash_at_seq: str | None
) -> HeadProblem | None:
    """Whether a chain whose head is at `chain_head_seq`, and whose entry at the published seq hashes to
    `hash_at_seq` (None: no such entry), still contains the published head. Seq 0 is the empty chain."""
    if published.seq == 0:
        return None if published.entry_hash == GENESIS_HASH else HeadProblem.REWRITTEN
    if chain_head_seq < published.seq or hash_at_seq is None:
        return HeadProblem.TRUNCATED
    return None if hash_at_seq == published.entry_hash else HeadProblem.REWRITTEN
