"""A candidate promoted through the real pipeline to live_l1 with a signed approval, its evidence packs,
and the tampering an attacker with write access to the ledger or to a pack can do.

`build_promoted` runs, in order, on one ledger: the lane window's research; the promotion to paper; a
live promotion denied for want of an approval; the approver's signed approval and the live promotion it
allows; the nightly publication of the chain head; the clean export (tar.gz and zip). Then three
scenarios that change the ledger for good, each exported afterwards:

- truncation: new entries are appended and their head published, then deleted from the chain;
- approval reuse: the spent approval's rows are deleted from the ledger and the token presented again;
- the live chain: a research row edited, then an entry dropped (what `verify_chain` sees).

The pack helpers rewrite a pack the way a tamperer who can also fix hashes would: `relist` recomputes the
manifest's member hashes, `rechain` recomputes the chain from an entry on.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from torghut_assets.domain.evidence import sha256_hex
from torghut_assets.domain.evidence_chain import PublishedHead, SegmentEntry, entry_hash
from torghut_assets.domain.evidence_pack import CHAIN_MEMBER, MANIFEST, sha256_bytes
from torghut_assets.domain.signed_approvals import SignedApproval
from torghut_assets.ledger import schema
from torghut_assets.ledger.evidence_digests import live_recompute
from torghut_assets.ledger.evidence_log import ChainVerification, verify_chain
from torghut_assets.ledger.reconciliation import Finding
from torghut_assets.services.chain_head import publish_chain_head
from torghut_assets.services.evidence_pack import PackScope, export_pack
from torghut_assets.services.evidence_pack_archive import read_archive
from torghut_assets.services.promotion import PromotionResult
from torghut_assets_tests.defs.governance_harness import (
    LANE,
    GovernedLedger,
    build_governed_ledger,
    pass_parity_and_drills,
)

Members = dict[str, bytes]


@dataclasses.dataclass
class Promoted:
    governed: GovernedLedger
    champion: str
    approval: SignedApproval
    token: str
    paper: PromotionResult
    denied: PromotionResult
    live: PromotionResult
    first_head: PublishedHead
    first_head_file: Path
    clean: Path
    clean_zip: Path
    clean_again: Path  # exported again at the same time as `clean`
    lane_pack: Path  # every decision of the lane in the range of the promotions
    truncated: Path
    truncated_head: PublishedHead
    truncated_finding: Finding
    reused: Path
    replay: PromotionResult
    chain_after_edit: ChainVerification
    chain_after_drop: ChainVerification


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def export(
    governed: GovernedLedger, scope: str | PackScope, out: Path, at: dt.datetime | None = None
) -> Path:
    res = governed.resources()
    governance = res["governance"]
    export_pack(
        res["ledger"],
        PackScope(candidate_id=scope) if isinstance(scope, str) else scope,
        out,
        policy_files=[Path(governance.policy_path)],
        approvers_files=[Path(governance.approvers_path)],
        now=at or now(),
    )
    return out


def _sql(governed: GovernedLedger, statement: sa.Executable) -> None:
    engine = governed.engine()
    try:
        with engine.begin() as conn:
            conn.execute(statement)
    finally:
        engine.dispose()


def _tip(governed: GovernedLedger) -> int:
    engine = governed.engine()
    try:
        with engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.max(schema.evidence_log.c.seq))).scalar_one())
    finally:
        engine.dispose()


def _verify_live(governed: GovernedLedger) -> ChainVerification:
    engine = governed.engine()
    try:
        with engine.connect() as conn:
            return verify_chain(conn, recompute=live_recompute(conn))
    finally:
        engine.dispose()


def build_promoted(url: str, root: Path) -> Promoted:
    governed = build_governed_ledger(url, root)
    champion = governed.candidates[0]
    started = now()
    paper = governed.promote(champion, "paper")
    assert paper.outcome.allowed, paper.outcome.reason_codes
    denied = governed.promote(champion, "live")  # the denial the approver reviews
    assert not denied.outcome.allowed
    approval, token = governed.approve(champion, "live_l1")
    live = governed.promote(champion, "live", token=token)
    assert live.outcome.allowed, live.outcome.reason_codes
    ledger = governed.resources()["ledger"]

    first = publish_chain_head(ledger, now=now())  # the nightly reconciliation's publication
    exported_at = now()
    clean = export(governed, champion, root / "clean.tar.gz", exported_at)
    clean_again = export(governed, champion, root / "clean-again.tar.gz", exported_at)
    clean_zip = export(governed, champion, root / "clean.zip")
    by_lane = PackScope(lane=LANE, since=started, until=now())
    lane_pack = export(governed, by_lane, root / "lane.tar.gz")

    # Truncation: later entries, their head published, then the entries deleted.
    before = _tip(governed)
    pass_parity_and_drills(governed)
    published = publish_chain_head(ledger, now=now())
    _sql(governed, schema.evidence_log.delete().where(schema.evidence_log.c.seq > before))
    truncated_finding = publish_chain_head(ledger, now=now()).finding
    truncated = export(governed, champion, root / "truncated.tar.gz")

    # Approval reuse: the ledger forgets the approval was spent, and the token is presented again.
    for table in (schema.approval_overrides, schema.approval_uses):
        _sql(governed, table.delete().where(table.c.override_id == approval.approval_id))
    replay = governed.promote(champion, "live_l1", token=token)
    reused = export(governed, champion, root / "reused.tar.gz")

    # The live chain: a research row edited, then an entry dropped.
    folds = schema.research_fold_metrics
    _sql(
        governed,
        folds.update().where(folds.c.candidate_id == champion).values(net_pnl=folds.c.net_pnl + 1),
    )
    after_edit = _verify_live(governed)
    _sql(governed, schema.evidence_log.delete().where(schema.evidence_log.c.seq == before - 1))
    after_drop = _verify_live(governed)

    return Promoted(
        governed=governed,
        champion=champion,
        approval=approval,
        token=token,
        paper=paper,
        denied=denied,
        live=live,
        first_head=first.head,
        first_head_file=Path(first.artifact.path),
        clean=clean,
        clean_zip=clean_zip,
        clean_again=clean_again,
        lane_pack=lane_pack,
        truncated=truncated,
        truncated_head=published.head,
        truncated_finding=truncated_finding,
        reused=reused,
        replay=replay,
        chain_after_edit=after_edit,
        chain_after_drop=after_drop,
    )


# --- rewriting a pack ---------------------------------------------------------------------------------


def members(path: Path) -> Members:
    return read_archive(path)


def load(pack: Members, name: str) -> Any:
    return json.loads(pack[name])


def dump(pack: Members, name: str, value: Any) -> None:
    pack[name] = (json.dumps(value, sort_keys=True, indent=1) + "\n").encode("utf-8")


def relist(pack: Members) -> Members:
    """Make the manifest agree with the members (what anyone rewriting a pack does first)."""
    manifest = load(pack, MANIFEST)
    manifest["members"] = [
        {"path": path, "sha256": sha256_bytes(data), "size": len(data)}
        for path, data in sorted(pack.items())
        if path != MANIFEST
    ]
    dump(pack, MANIFEST, manifest)
    return pack


def rechain(pack: Members) -> Members:
    """Recompute every content hash, entry hash and link of the pack's chain segment, and its head: a
    consistent rewrite only a chain head published outside the ledger can expose."""
    entries = load(pack, CHAIN_MEMBER)
    previous: str | None = None
    for item in entries:
        if "content" in item:
            item["content_hash"] = sha256_hex(item["content"])
        if previous is not None:
            item["prev_hash"] = previous
        entry = SegmentEntry.from_dict(item)
        item["entry_hash"] = entry_hash(
            seq=entry.seq,
            entry_kind=entry.entry_kind,
            subject=entry.subject,
            lane=entry.lane,
            window_start=entry.window_start,
            content_hash=entry.content_hash,
            prev_hash=entry.prev_hash,
        )
        previous = item["entry_hash"]
    dump(pack, CHAIN_MEMBER, entries)
    manifest = load(pack, MANIFEST)
    manifest["chain_head"]["entry_hash"] = previous
    dump(pack, MANIFEST, manifest)
    return relist(pack)


def entries_of(pack: Members, kind: str) -> list[dict[str, Any]]:
    return [e for e in load(pack, CHAIN_MEMBER) if e["entry_kind"] == kind and "content" in e]


def edit_entry_content(pack: Members, kind: str, change: Any) -> None:
    """Apply `change(content)` to the content of every `kind` entry in the pack's chain."""
    entries = load(pack, CHAIN_MEMBER)
    for item in entries:
        if item["entry_kind"] == kind and "content" in item:
            change(item["content"])
    dump(pack, CHAIN_MEMBER, entries)
