"""The evidence log stays one linear, verifiable hash chain, and every kind of tampering shows up."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from torghut_assets.domain.evidence import sha256_hex
from torghut_assets.ledger import schema
from torghut_assets.ledger.engine import create_ledger_engine
from torghut_assets.ledger.evidence_log import (
    GENESIS_HASH,
    ChainBreak,
    EvidenceEntry,
    append_entry,
    entry_hash,
    evidence_log,
    head,
    verify_chain,
)
from torghut_assets.ledger.identity import row_id
from torghut_assets.ledger.writes import replace_lane_window

AT = pd.Timestamp("2026-03-03 16:00", tz="UTC").to_pydatetime()
WINDOW = pd.Timestamp("2026-03-03 15:00", tz="UTC").to_pydatetime()


@pytest.fixture
def engine(ledger_url: str) -> Iterator[Engine]:
    engine = create_ledger_engine(ledger_url)
    yield engine
    engine.dispose()


def _append(engine: Engine, subject: str, content: Any, kind: str = "research_run") -> EvidenceEntry:
    with engine.begin() as conn:
        return append_entry(
            conn,
            entry_kind=kind,
            subject=subject,
            content=content,
            lane="macd_rsi",
            window_start=WINDOW,
            recorded_at=AT,
        )


def _chain(engine: Engine, count: int) -> list[EvidenceEntry]:
    return [_append(engine, f"run-{i}", {"run": i, "pnl": i * 1.5}) for i in range(1, count + 1)]


def _verify(engine: Engine, **kwargs: Any) -> Any:
    with engine.connect() as conn:
        return verify_chain(conn, **kwargs)


def _execute(engine: Engine, sql: str) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text(sql))


def _seqs(engine: Engine) -> list[int]:
    with engine.connect() as conn:
        return list(conn.execute(sa.select(evidence_log.c.seq).order_by(evidence_log.c.seq)).scalars())


def test_first_entry_links_to_64_zeros(engine: Engine) -> None:
    first = _append(engine, "run-1", {"run": 1})
    assert (first.seq, first.prev_hash) == (1, GENESIS_HASH)


def test_each_entry_links_to_the_previous_entry_hash(engine: Engine) -> None:
    entries = _chain(engine, 4)
    assert [e.seq for e in entries] == [1, 2, 3, 4]
    assert [e.prev_hash for e in entries[1:]] == [e.entry_hash for e in entries[:-1]]
    with engine.connect() as conn:
        assert head(conn) == entries[-1]


def test_reappending_identical_content_returns_the_existing_entry(engine: Engine) -> None:
    first = _append(engine, "run-1", {"run": 1, "folds": [1, 2]})
    _append(engine, "run-2", {"run": 2})
    again = _append(engine, "run-1", {"folds": [1, 2], "run": 1})  # key order is not content
    assert again == first
    assert _seqs(engine) == [1, 2]


def test_changed_content_appends_and_the_latest_entry_supersedes(engine: Engine) -> None:
    first = _append(engine, "run-1", {"status": "running"})
    changed = _append(engine, "run-1", {"status": "done"})
    reverted = _append(engine, "run-1", {"status": "running"})
    assert [first.seq, changed.seq, reverted.seq] == [1, 2, 3]
    assert reverted.content_hash == first.content_hash


def test_empty_chain_verifies_with_the_genesis_tip(engine: Engine) -> None:
    result = _verify(engine)
    assert (result.ok, result.entries_checked) == (True, 0)
    assert (result.head_seq, result.head_hash) == (0, GENESIS_HASH)


def test_untouched_chain_verifies_across_pages(engine: Engine) -> None:
    entries = _chain(engine, 5)
    result = _verify(engine, page_size=2)
    assert (result.ok, result.breaks, result.entries_checked) == (True, (), 5)
    assert (result.head_seq, result.head_hash) == (5, entries[-1].entry_hash)


def test_awkward_content_rehashes_identically_after_the_round_trip(engine: Engine) -> None:
    content = {
        "huge_float": 1e20,
        "tiny": 1e-7,
        "third": 1 / 3,
        "negative_zero": -0.0,
        "big_int": 2**70,
        "text": 'é ✓ \u0000 "quoted"',
        "at": pd.Timestamp("2026-03-03 10:00:00.123456", tz="America/New_York"),
        "nested": [{"b": 1, "a": [True, None]}, []],
    }
    entry = _append(engine, "run-1", content)
    with engine.connect() as conn:
        stored = head(conn)
    assert stored is not None and sha256_hex(stored.content) == entry.content_hash == sha256_hex(content)
    assert _verify(engine).ok


def test_editing_stored_content_is_a_content_hash_mismatch(engine: Engine) -> None:
    _chain(engine, 3)
    _execute(engine, """UPDATE evidence_log SET content = '{"pnl": 99.0, "run": 2}' WHERE seq = 2""")
    assert _verify(engine).breaks == (ChainBreak(2, "content_hash_mismatch"),)


def test_editing_a_prev_hash_is_a_prev_hash_mismatch(engine: Engine) -> None:
    _chain(engine, 3)
    _execute(engine, f"UPDATE evidence_log SET prev_hash = '{'f' * 64}' WHERE seq = 2")
    result = _verify(engine)
    assert not result.ok
    assert ChainBreak(2, "prev_hash_mismatch") in result.breaks
    assert {b.seq for b in result.breaks} == {2}


def test_deleting_a_middle_entry_is_a_seq_gap_and_a_broken_link(engine: Engine) -> None:
    _chain(engine, 5)
    _execute(engine, "DELETE FROM evidence_log WHERE seq = 3")
    result = _verify(engine, page_size=2)
    assert result.breaks == (ChainBreak(4, "seq_gap"), ChainBreak(4, "prev_hash_mismatch"))
    assert result.entries_checked == 4


def test_a_consistently_rewritten_entry_breaks_the_next_link(engine: Engine) -> None:
    entries = _chain(engine, 3)
    forged = {"run": 2, "pnl": 1000.0}
    target = entries[1]
    forged_hash = entry_hash(
        seq=2,
        entry_kind=target.entry_kind,
        subject=target.subject,
        lane=target.lane,
        window_start=target.window_start,
        content_hash=sha256_hex(forged),
        prev_hash=target.prev_hash,
    )
    with engine.begin() as conn:
        conn.execute(
            sa.update(evidence_log)
            .where(evidence_log.c.seq == 2)
            .values(content=forged, content_hash=sha256_hex(forged), entry_hash=forged_hash)
        )
    assert _verify(engine).breaks == (ChainBreak(3, "prev_hash_mismatch"),)


def _stress_digest(conn: Connection, candidate_id: str) -> dict[str, Any]:
    table = schema.research_stress_metrics
    rows = conn.execute(
        sa.select(table.c.stress_case, table.c.pessimistic_pnl_delta)
        .where(table.c.candidate_id == candidate_id)
        .order_by(table.c.stress_case)
    )
    return {"table": table.name, "rows": [[case, delta] for case, delta in rows]}


def _stress_recompute(conn: Connection) -> Callable[[EvidenceEntry], str | None]:
    def recompute(entry: EvidenceEntry) -> str | None:
        if entry.entry_kind != "stress_bundle":
            return None
        return sha256_hex(_stress_digest(conn, entry.subject))

    return recompute


def test_editing_a_source_row_after_recording_is_a_content_source_mismatch(engine: Engine) -> None:
    rows = [
        {
            "id": row_id("research_stress_metrics", "cand-a", case),
            "lane": "macd_rsi",
            "window_start": WINDOW,
            "candidate_id": "cand-a",
            "stress_case": case,
            "pessimistic_pnl_delta": delta,
        }
        for case, delta in [("halt", -1.0), ("spread", -3.5)]
    ]
    with engine.begin() as conn:
        replace_lane_window(conn, schema.research_stress_metrics, "macd_rsi", WINDOW, rows)
        append_entry(
            conn,
            entry_kind="stress_bundle",
            subject="cand-a",
            content=_stress_digest(conn, "cand-a"),
            recorded_at=AT,
        )
    _append(engine, "run-1", {"run": 1})  # no live source: the callback answers None

    with engine.connect() as conn:
        assert verify_chain(conn, recompute=_stress_recompute(conn)).ok
    _execute(
        engine, "UPDATE research_stress_metrics SET pessimistic_pnl_delta = -0.5 WHERE stress_case = 'halt'"
    )
    with engine.connect() as conn:
        result = verify_chain(conn, recompute=_stress_recompute(conn))
    assert result.breaks == (ChainBreak(1, "content_source_mismatch"),)


def test_concurrent_appenders_build_one_linear_chain(engine: Engine) -> None:
    threads, appends = 8, 10
    start = threading.Barrier(threads)
    errors: list[BaseException] = []

    def worker(worker_id: int) -> None:
        try:
            start.wait()
            for i in range(appends):
                _append(engine, f"w{worker_id}-{i}", {"worker": worker_id, "i": i})
        except BaseException as exc:  # surfaced by the assertion below, not lost in the thread
            errors.append(exc)

    pool = [threading.Thread(target=worker, args=(n,)) for n in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    assert errors == []
    assert _seqs(engine) == list(range(1, threads * appends + 1))
    result = _verify(engine)
    assert (result.ok, result.entries_checked) == (True, threads * appends)


def test_a_rolled_back_transaction_leaves_no_entry(engine: Engine) -> None:
    with pytest.raises(RuntimeError), engine.begin() as conn:
        append_entry(conn, entry_kind="promotion", subject="cand-a", content={"go": True}, recorded_at=AT)
        raise RuntimeError("promotion write failed after the append")
    with engine.connect() as conn:
        assert head(conn) is None
    assert _append(engine, "cand-a", {"go": True}, kind="promotion").seq == 1
