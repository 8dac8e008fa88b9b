"""The evidence chain's rules as an offline check applies them (docs/evidence-pack.md): a segment's links
and hashes, and whether a chain still holds a head published from it."""

from __future__ import annotations

import dataclasses

import pytest

from torghut_assets.domain.evidence import sha256_hex
from torghut_assets.domain.evidence_chain import (
    GENESIS_HASH,
    HeadProblem,
    LinkProblem,
    PublishedHead,
    SegmentEntry,
    entry_hash,
    head_problem,
    segment_problems,
)


def chain(length: int, first_seq: int = 1, prev: str = GENESIS_HASH) -> list[SegmentEntry]:
    entries = []
    for seq in range(first_seq, first_seq + length):
        content = {"candidate_id": f"cand-{seq}", "decision_action": "promote"}
        content_hash = sha256_hex(content)
        digest = entry_hash(
            seq=seq,
            entry_kind="promotion_decision",
            subject=f"cand-{seq}",
            lane="macd_rsi",
            window_start="2026-03-03T15:00:00Z",
            content_hash=content_hash,
            prev_hash=prev,
        )
        entries.append(
            SegmentEntry(
                seq,
                "promotion_decision",
                f"cand-{seq}",
                "macd_rsi",
                "2026-03-03T15:00:00Z",
                content_hash,
                prev,
                digest,
                "2026-03-03T16:00:00Z",
                content,
                True,
            )
        )
        prev = digest
    return entries


def head(seq: int, digest: str) -> PublishedHead:
    return PublishedHead(seq, digest, None, "2026-03-04T07:30:00Z")


def test_an_intact_segment_has_no_problem_even_without_its_earlier_entries() -> None:
    assert segment_problems(chain(5)) == []
    assert segment_problems(chain(5)[2:]) == []


def test_each_kind_of_break_is_named_at_its_seq() -> None:
    entries = chain(5)
    dropped = [e for e in entries if e.seq != 3]
    assert segment_problems(dropped) == [(4, LinkProblem.SEQ_GAP), (4, LinkProblem.PREV_HASH_MISMATCH)]
    edited = [dataclasses.replace(e, content={"x": 1}) if e.seq == 2 else e for e in entries]
    assert segment_problems(edited) == [(2, LinkProblem.CONTENT_HASH_MISMATCH)]
    relabelled = [dataclasses.replace(e, subject="cand-other") if e.seq == 4 else e for e in entries]
    assert segment_problems(relabelled) == [(4, LinkProblem.ENTRY_HASH_MISMATCH)]


def test_a_published_head_is_retained_truncated_or_rewritten() -> None:
    entries = chain(5)
    at = {e.seq: e.entry_hash for e in entries}
    published = head(4, at[4])
    assert head_problem(published, 5, at.get(4)) is None
    assert head_problem(published, 3, at.get(4)) == HeadProblem.TRUNCATED
    assert head_problem(published, 5, None) == HeadProblem.TRUNCATED
    assert head_problem(published, 5, at[3]) == HeadProblem.REWRITTEN
    assert head_problem(head(0, GENESIS_HASH), 0, None) is None


def test_a_published_head_reads_back_from_its_json() -> None:
    published = head(7, "a" * 64)
    assert PublishedHead.from_dict(published.as_dict()) == published


@pytest.mark.parametrize("bad", [{"seq": -1}, {"seq": True}, {"entry_hash": "short"}, {"published_at": ""}])
def test_anything_but_a_published_head_is_refused(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        PublishedHead.from_dict({**head(7, "a" * 64).as_dict(), **bad})
