"""Publish the evidence chain's head outside the ledger, and check that every head published before is
still in the chain (docs/reconciliation.md, "Published chain head").

Why: the chain alone cannot reveal a truncated tail (deleting the newest entries leaves a valid, shorter
chain) nor a chain rewritten from some entry on with every hash recomputed. A head published somewhere
the ledger's writers cannot reach anchors it: the nightly reconciliation writes the head (seq, hash, time)
as an artifact, shows it in the report's metadata and posts it to the alert webhook when one is set. A
chain that no longer holds a published head at its seq fails `evidence_chain_head_retained`, naming the
head and whether the chain was truncated or rewritten. An auditor compares an evidence pack with the same
heads (`torghut-assets evidence verify-pack --published-head`).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path

from torghut_assets.domain.evidence import canonical_value
from torghut_assets.domain.evidence_chain import GENESIS_HASH, PublishedHead, head_problem, instant
from torghut_assets.ledger import evidence_pack_rows
from torghut_assets.ledger.artifacts import ArtifactRef, ArtifactStore
from torghut_assets.ledger.reconciliation import MAX_KEYS, Finding
from torghut_assets.services.ports import LedgerPort

HEAD_KIND = "evidence-chain/head"
HEAD_CHECK = "evidence_chain_head_retained"


@dataclass(frozen=True)
class HeadPublication:
    """The head just published, where, and whether every earlier published head is still in the chain."""

    head: PublishedHead
    artifact: ArtifactRef
    finding: Finding


def published_heads(store: ArtifactStore) -> list[PublishedHead]:
    """Every head published into this artifact store, oldest first (unreadable files are skipped: the
    artifact check names them)."""
    folder = store.root / HEAD_KIND
    heads = []
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            heads.append(PublishedHead.from_dict(json.loads(path.read_text(encoding="utf-8"))))
        except (OSError, ValueError, AttributeError):
            continue
    earliest = dt.datetime.min.replace(tzinfo=dt.UTC)
    return sorted(heads, key=lambda h: (instant(h.published_at) or earliest, h.seq))


def latest_published_head(store: ArtifactStore) -> PublishedHead | None:
    heads = published_heads(store)
    return heads[-1] if heads else None


def load_published_head(text: str) -> PublishedHead:
    """A head as an auditor holds it: a published head's JSON (the artifact, or the `evidence_chain_head`
    metadata), or `SEQ:HASH`. Raises ValueError."""
    stripped = text.strip()
    if stripped.startswith("{"):
        return PublishedHead.from_dict(json.loads(stripped))
    seq, _, digest = stripped.partition(":")
    if not seq.isdigit():
        raise ValueError(f"a published head is JSON or SEQ:HASH, got {text!r}")
    return PublishedHead.from_dict({"seq": int(seq), "entry_hash": digest, "published_at": "unknown"})


def read_published_head(source: str) -> PublishedHead:
    """`source` is a file holding a published head, or the head itself (`SEQ:HASH` or JSON)."""
    path = Path(source)
    return load_published_head(path.read_text(encoding="utf-8") if path.is_file() else source)


def publish_chain_head(ledger: LedgerPort, *, now: dt.datetime) -> HeadPublication:
    """Check every earlier published head against the chain, then publish the current head."""
    earlier = published_heads(ledger.artifacts)
    with ledger.engine.connect() as conn:
        tip = evidence_pack_rows.chain_tip(conn)
        at_seq = evidence_pack_rows.hashes_at(conn, [h.seq for h in earlier])
    head = PublishedHead(
        seq=0 if tip is None else int(tip["seq"]),
        entry_hash=GENESIS_HASH if tip is None else str(tip["entry_hash"]),
        recorded_at=None if tip is None else canonical_value(tip["recorded_at"]),
        published_at=canonical_value(now),
    )
    failing = [
        f"{h.label()}: {problem}"
        for h in earlier
        if (problem := head_problem(h, head.seq, at_seq.get(h.seq))) is not None
    ]
    detail = {"head": head.as_dict(), "earlier_heads": len(earlier)}
    if not earlier:  # nothing to compare yet: a warning naming why, never a pass
        reason = "no earlier published head: nothing to compare"
        finding = Finding(HEAD_CHECK, False, 0, 0, (reason,), "WARN", {**detail, "warning": reason})
    else:
        finding = Finding(
            HEAD_CHECK, not failing, len(earlier), len(failing), tuple(failing[:MAX_KEYS]), "ERROR", detail
        )
    artifact = ledger.artifacts.write_json(HEAD_KIND, head.as_dict())
    return HeadPublication(head, artifact, finding)
