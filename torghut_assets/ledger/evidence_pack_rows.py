"""The reads behind an evidence pack: a promotion's rows, the chain entries that record them, the chain's
links up to its head, and the hashes at published heads.

Rows come back as both backends should agree on them (datetimes UTC-aware, numerics as floats), the
shape `queries.window_rows` gives a partition's rows, so a digest computed from an exported row equals
the digest the chain recorded from the stored one.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from torghut_assets.domain.promotion import APPROVER_ROLE as SCHEDULER_ROLE
from torghut_assets.domain.promotion import PromotionAction
from torghut_assets.ledger import schema
from torghut_assets.ledger.writes import to_native

Row = dict[str, Any]
_HEADER = ("seq", "entry_kind", "subject", "lane", "window_start", "content_hash", "prev_hash", "entry_hash")


def _aware(value: Any) -> Any:
    if isinstance(value, dt.datetime) and value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value


def plain_rows(conn: Connection, table: sa.Table, where: sa.ColumnElement[bool]) -> list[Row]:
    """`table`'s rows matching `where`, ordered by id: datetimes UTC-aware, numerics as floats."""
    numeric = {c.name for c in table.columns if isinstance(c.type, sa.Numeric | sa.Float)}
    result = conn.execute(sa.select(table).where(where).order_by(table.c.id))
    return [
        {k: (float(v) if k in numeric and v is not None else _aware(v)) for k, v in row._mapping.items()}
        for row in result
    ]


def _ids(values: Iterable[str]) -> list[str]:
    return sorted(set(values))


def promotion_decisions(
    conn: Connection,
    *,
    candidate_id: str | None = None,
    lane: str | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
) -> list[Row]:
    """`promotion_job`'s decisions (allowed or denied; not the lane window's own requests, not demotions)
    of one candidate, or of one lane decided in [since, until)."""
    t = schema.research_promotions
    where = sa.and_(t.c.approver_role != SCHEDULER_ROLE, t.c.decision_action != PromotionAction.DEMOTE)
    if candidate_id is not None:
        where = sa.and_(where, t.c.candidate_id == candidate_id)
    if lane is not None:
        where = sa.and_(where, t.c.lane == lane)
    if since is not None:
        where = sa.and_(where, t.c.created_at >= to_native(since))
    if until is not None:
        where = sa.and_(where, t.c.created_at < to_native(until))
    return plain_rows(conn, t, where)


def demotions(conn: Connection, candidate_ids: Collection[str]) -> list[Row]:
    """`demote` rows of these candidates, and of the champions they replaced."""
    t, ids = schema.research_promotions, _ids(candidate_ids)
    where = sa.and_(
        t.c.decision_action == PromotionAction.DEMOTE,
        sa.or_(t.c.candidate_id.in_(ids), t.c.successor_candidate_id.in_(ids)),
    )
    return plain_rows(conn, t, where)


def candidates(conn: Connection, candidate_ids: Collection[str]) -> list[Row]:
    t = schema.research_candidates
    return plain_rows(conn, t, t.c.candidate_id.in_(_ids(candidate_ids)))


def gate_evaluations(conn: Connection, *, candidate_ids: Collection[str], ids: Collection[str]) -> list[Row]:
    """Every gate evaluation of these candidates, and those named by id."""
    t = schema.gate_evaluations
    where = sa.or_(t.c.candidate_id.in_(_ids(candidate_ids)), t.c.id.in_(_ids(ids)))
    return plain_rows(conn, t, where)


def transitions(conn: Connection, candidate_ids: Collection[str]) -> list[Row]:
    """Rollout transitions that placed, or moved off, one of these candidates."""
    t, ids = schema.rollout_transitions, _ids(candidate_ids)
    return plain_rows(conn, t, sa.or_(t.c.candidate_id.in_(ids), t.c.from_candidate_id.in_(ids)))


def approvals(conn: Connection, approval_ids: Collection[str]) -> list[Row]:
    t = schema.approval_overrides
    return plain_rows(conn, t, t.c.override_id.in_(_ids(approval_ids)))


def approval_uses(conn: Connection, approval_ids: Collection[str]) -> list[Row]:
    """How each of these approvals ended: spent by a promotion decision, or revoked."""
    t = schema.approval_uses
    return plain_rows(conn, t, t.c.override_id.in_(_ids(approval_ids)))


# --- the evidence chain -------------------------------------------------------------------------------


def _entry(row: sa.RowMapping, *, with_content: bool) -> Row:
    entry: Row = {name: row[name] for name in _HEADER}
    entry["seq"] = int(entry["seq"])
    entry["window_start"] = _aware(entry["window_start"])
    entry["recorded_at"] = _aware(row["recorded_at"])
    if with_content:
        entry["content"] = row["content"]
    return entry


def _columns(with_content: bool) -> list[sa.Column[Any]]:
    t = schema.evidence_log
    names = [*_HEADER, "recorded_at", *(["content"] if with_content else [])]
    return [t.c[name] for name in names]


def entries_about(conn: Connection, kinds: Collection[str], subjects: Collection[str]) -> list[Row]:
    """Every entry of these kinds about these subjects, with its content, in seq order."""
    t = schema.evidence_log
    if not kinds or not subjects:
        return []
    query = (
        sa.select(*_columns(True))
        .where(t.c.entry_kind.in_(sorted(set(kinds))), t.c.subject.in_(_ids(subjects)))
        .order_by(t.c.seq)
    )
    return [_entry(r, with_content=True) for r in conn.execute(query).mappings()]


def lane_entries(conn: Connection, kinds: Collection[str], lanes: Collection[str]) -> list[Row]:
    """Every entry of these kinds whose subject is one of these lanes (rollback, halt, resume)."""
    return entries_about(conn, kinds, lanes)


def entry_headers(conn: Connection, first_seq: int, last_seq: int) -> list[Row]:
    """The headers (no content) of every entry from `first_seq` to `last_seq`, in seq order."""
    t = schema.evidence_log
    query = sa.select(*_columns(False)).where(t.c.seq >= first_seq, t.c.seq <= last_seq).order_by(t.c.seq)
    return [_entry(r, with_content=False) for r in conn.execute(query).mappings()]


def chain_tip(conn: Connection) -> Row | None:
    """The newest entry's header, or None for an empty chain."""
    t = schema.evidence_log
    row = conn.execute(sa.select(*_columns(False)).order_by(t.c.seq.desc()).limit(1)).mappings().first()
    return None if row is None else _entry(row, with_content=False)


def hashes_at(conn: Connection, seqs: Collection[int]) -> dict[int, str]:
    """The entry hash at each of these seqs that the chain still holds."""
    t = schema.evidence_log
    if not seqs:
        return {}
    rows = conn.execute(sa.select(t.c.seq, t.c.entry_hash).where(t.c.seq.in_(sorted(set(seqs)))))
    return {int(seq): str(digest) for seq, digest in rows}
