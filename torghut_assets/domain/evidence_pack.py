"""An evidence pack and its offline verification (docs/evidence-pack.md).

A pack is one archive holding every ledger row behind one or more promotion decisions, the artifacts
they reference, the gate policy and approvers files in force, the evidence-chain entries recording those
rows with every link from them to the chain head at export time, and `manifest.json`. `verify_pack`
checks it with no database and no network, from the archive's members alone:

1. every member against the manifest's sha256 (nothing missing, nothing added);
2. the chain segment: each entry's hash recomputed from its header and the previous entry's hash, its
   content re-hashed, no seq missing, ending at the manifest's head; and any chain head published
   outside the ledger is still in it at its seq;
3. every row against the chain entry that recorded it (a partition's digest, or the row itself), and
   that entry is the latest about its subject;
4. artifacts against their names and the rows that reference them;
5. the gates re-evaluated from the recorded evidence under the included policy, the recorded evidence
   against the research rows, and each allowed decision against its gate report and approval
   (`domain/evidence_pack_decisions.py`);
6. each approval's signature against the included approvers file, the signer's key and role, its scope
   to the candidate and stage, and its single use.

Every failure carries a stable reason code; the pack verifies when there is none.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import PurePosixPath
from typing import Any

from torghut_assets.domain import evidence_pack_decisions as decisions
from torghut_assets.domain.evidence_chain import (
    HeadProblem,
    PublishedHead,
    SegmentEntry,
    content_digest,
    head_problem,
    instant,
    partition_digest_of,
    segment_problems,
)
from torghut_assets.domain.promotion import APPROVER_ROLE as SCHEDULER_ROLE
from torghut_assets.domain.promotion import PromotionAction

PACK_FORMAT = "torghut.evidence-pack.v1"
MANIFEST = "manifest.json"
CHAIN_MEMBER = "chain/entries.json"
ROWS_DIR = "rows"
ARTIFACTS_DIR = "artifacts"
POLICY_DIR = "policy"
# A lane window's research partitions and the chain entry kind recording each (services/research_chain).
PARTITION_KINDS: Mapping[str, str] = {
    "research_runs": "research_run",
    "research_candidates": "candidate_set",
    "research_fold_metrics": "fold_bundle",
    "research_stress_metrics": "stress_bundle",
    "research_promotions": "promotion",
}
ROW_TABLES = (
    *PARTITION_KINDS,
    "gate_evaluations",
    "rollout_transitions",
    "approval_overrides",
    "approval_uses",
)
LANE_ACTION_KINDS = ("lane_rollback", "lane_halt", "lane_resume")
# Bookkeeping a row may carry that its chain entry predates: a decision or demotion is a single event,
# revision 1 of itself (only the lane window's own requests have later revisions).
UNRECORDED_BOOKKEEPING: Mapping[str, Any] = {"revision": 1}

Row = dict[str, Any]


class PackCheck(StrEnum):
    """Reason codes of the pack's own checks (approvals use their verification codes,
    docs/approvals.md; the gates and decisions theirs, `evidence_pack_decisions.DecisionCheck`)."""

    PACK_UNREADABLE = "pack_unreadable"
    MANIFEST_MISSING = "manifest_missing"
    MANIFEST_INVALID = "manifest_invalid"
    MEMBER_MISSING = "member_missing"
    MEMBER_UNLISTED = "member_unlisted"
    MEMBER_SHA256_MISMATCH = "member_sha256_mismatch"
    MEMBER_INVALID = "member_invalid"
    CHAIN_MISSING = "chain_missing"
    CHAIN_HEAD_MISMATCH = "chain_head_mismatch"
    PUBLISHED_HEAD_OUTSIDE_PACK = "published_head_outside_pack"
    ROW_NOT_COVERED = "row_not_covered"
    ROW_DIGEST_MISMATCH = "row_digest_mismatch"
    CHAIN_ENTRY_SUPERSEDED = "chain_entry_superseded"
    ARTIFACT_NAME_MISMATCH = "artifact_name_mismatch"
    ARTIFACT_MISSING = "artifact_missing"
    ARTIFACT_REFERENCE_MISMATCH = "artifact_reference_mismatch"
    GATE_REPORT_ARTIFACT_MISMATCH = "gate_report_artifact_mismatch"


@dataclass(frozen=True)
class PackFailure:
    code: str
    subject: str
    detail: str = ""

    def line(self) -> str:
        return f"{self.code}: {self.subject}" + (f" ({self.detail})" if self.detail else "")


@dataclass(frozen=True)
class PackReport:
    failures: tuple[PackFailure, ...]
    summary: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.failures

    @property
    def codes(self) -> set[str]:
        return {f.code for f in self.failures}


@dataclass
class Pack:
    """A pack's members as read: the manifest, rows by table, the chain segment, artifacts by sha256,
    the policy and approvers files by member path."""

    manifest: Row
    rows: dict[str, list[Row]]
    chain: list[SegmentEntry]
    artifacts: dict[str, bytes]
    files: dict[str, bytes]
    failures: list[PackFailure] = field(default_factory=list)

    def fail(self, code: str, subject: str, detail: str = "") -> None:
        self.failures.append(PackFailure(str(code), subject, detail))

    @property
    def head(self) -> Row:
        head = self.manifest.get("chain_head")
        return head if isinstance(head, dict) else {}

    def content_entries(self, kind: str) -> list[SegmentEntry]:
        return [e for e in self.chain if e.entry_kind == kind and e.has_content]

    def later_about(self, entry: SegmentEntry) -> list[SegmentEntry]:
        return [
            e
            for e in self.chain
            if e.seq > entry.seq and e.entry_kind == entry.entry_kind and e.subject == entry.subject
        ]


def _dict(value: Any) -> Row:
    return value if isinstance(value, dict) else {}


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def rows_member(table: str) -> str:
    return f"{ROWS_DIR}/{table}.json"


def artifact_member(sha256: str, suffix: str) -> str:
    return f"{ARTIFACTS_DIR}/{sha256}{suffix}"


def artifact_sha(path: str) -> str:
    """The sha256 an artifact path names (artifacts are files named `<sha256><suffix>`)."""
    return PurePosixPath(str(path).replace("\\", "/")).name.split(".", 1)[0]


# --- reading the members -----------------------------------------------------------------------------


def _json(pack_failures: list[PackFailure], members: Mapping[str, bytes], name: str, default: Any) -> Any:
    data = members.get(name)
    if data is None:
        return default
    try:
        return json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        pack_failures.append(PackFailure(PackCheck.MEMBER_INVALID, name, f"not JSON: {exc}"))
        return default


def _manifest(members: Mapping[str, bytes]) -> tuple[Row | None, list[PackFailure]]:
    if MANIFEST not in members:
        return None, [PackFailure(PackCheck.MANIFEST_MISSING, MANIFEST)]
    failures: list[PackFailure] = []
    manifest = _json(failures, members, MANIFEST, None)
    if not isinstance(manifest, dict) or manifest.get("format") != PACK_FORMAT:
        found = manifest.get("format") if isinstance(manifest, dict) else type(manifest).__name__
        return None, [
            PackFailure(PackCheck.MANIFEST_INVALID, MANIFEST, f"format {found!r}, want {PACK_FORMAT}")
        ]
    if not isinstance(manifest.get("members"), list):
        return None, [PackFailure(PackCheck.MANIFEST_INVALID, MANIFEST, "no member list")]
    return manifest, failures


def _check_members(manifest: Row, members: Mapping[str, bytes]) -> list[PackFailure]:
    failures: list[PackFailure] = []
    listed: dict[str, str] = {}
    for item in manifest["members"]:
        if not isinstance(item, dict) or not isinstance(item.get("path"), str):
            failures.append(PackFailure(PackCheck.MANIFEST_INVALID, MANIFEST, f"bad member entry {item!r}"))
            continue
        listed[item["path"]] = str(item.get("sha256"))
    for path, digest in sorted(listed.items()):
        data = members.get(path)
        if data is None:
            failures.append(PackFailure(PackCheck.MEMBER_MISSING, path))
        elif sha256_bytes(data) != digest:
            failures.append(
                PackFailure(
                    PackCheck.MEMBER_SHA256_MISMATCH,
                    path,
                    f"manifest {digest[:12]}…, member {sha256_bytes(data)[:12]}…",
                )
            )
    for path in sorted(set(members) - set(listed) - {MANIFEST}):
        failures.append(PackFailure(PackCheck.MEMBER_UNLISTED, path))
    return failures


def read_pack(members: Mapping[str, bytes]) -> Pack:
    """The pack's members parsed; an unusable manifest leaves the pack empty but for its failure."""
    manifest, failures = _manifest(members)
    if manifest is None:
        return Pack({}, {}, [], {}, {}, failures)
    failures += _check_members(manifest, members)
    rows: dict[str, list[Row]] = {}
    for table in ROW_TABLES:
        loaded = _json(failures, members, rows_member(table), [])
        rows[table] = [r for r in loaded if isinstance(r, dict)] if isinstance(loaded, list) else []
    chain: list[SegmentEntry] = []
    for item in _json(failures, members, CHAIN_MEMBER, []) or []:
        try:
            chain.append(SegmentEntry.from_dict(item))
        except (KeyError, TypeError, ValueError) as exc:
            failures.append(PackFailure(PackCheck.MEMBER_INVALID, CHAIN_MEMBER, f"bad entry: {exc}"))
    artifacts = {
        PurePosixPath(path).name.split(".", 1)[0]: data
        for path, data in members.items()
        if path.startswith(f"{ARTIFACTS_DIR}/")
    }
    files = {path: data for path, data in members.items() if path.startswith(f"{POLICY_DIR}/")}
    return Pack(manifest, rows, sorted(chain, key=lambda e: e.seq), artifacts, files, failures)


# --- the chain ------------------------------------------------------------------------------------------


def check_chain(pack: Pack, published: Sequence[PublishedHead]) -> None:
    if not pack.chain:
        pack.fail(PackCheck.CHAIN_MISSING, CHAIN_MEMBER)
        return
    for seq, problem in segment_problems(pack.chain):
        pack.fail(problem, f"seq {seq}")
    last = pack.chain[-1]
    if (last.seq, last.entry_hash) != (pack.head.get("seq"), pack.head.get("entry_hash")):
        pack.fail(
            PackCheck.CHAIN_HEAD_MISMATCH,
            f"seq {last.seq}",
            f"the segment ends at {last.entry_hash[:16]}…, the manifest's head is "
            f"seq {pack.head.get('seq')} {str(pack.head.get('entry_hash'))[:16]}…",
        )
    exported = instant(pack.manifest.get("exported_at"))
    by_seq = {e.seq: e.entry_hash for e in pack.chain}
    for head in published:
        if 0 < head.seq < pack.chain[0].seq:
            pack.fail(
                PackCheck.PUBLISHED_HEAD_OUTSIDE_PACK,
                head.label(),
                f"the pack starts at seq {pack.chain[0].seq}",
            )
            continue
        when = instant(head.published_at)  # None for a head given as SEQ:HASH: taken as published before
        if head.seq > last.seq and exported is not None and when is not None and when > exported:
            continue  # published after this export: the pack is older, not truncated
        lost = head_problem(head, last.seq, by_seq.get(head.seq))
        if lost is not None:
            detail = (
                f"the pack's chain ends at seq {last.seq}"
                if lost == HeadProblem.TRUNCATED
                else f"the pack holds {str(by_seq.get(head.seq))[:16]}… at that seq"
            )
            pack.fail(lost, head.label(), detail)


# --- rows against their chain entries --------------------------------------------------------------------


def _without_created_at(row: Row) -> Row:
    return {k: v for k, v in row.items() if k != "created_at"}


def _windows(pack: Pack) -> set[tuple[str, str]]:
    windows = {
        (str(r.get("lane")), str(r.get("window_start")))
        for table in PARTITION_KINDS
        for r in pack.rows[table]
        if table != "research_promotions" or r.get("approver_role") == SCHEDULER_ROLE
    }
    return windows | {
        (str(r.get("lane")), str(r.get("window_start"))) for r in pack.rows["research_candidates"]
    }


def check_partitions(pack: Pack) -> None:
    """Each research partition's rows against the latest digest the chain recorded for it."""
    for lane, window in sorted(_windows(pack)):
        for table, kind in PARTITION_KINDS.items():
            rows = [
                r
                for r in pack.rows[table]
                if (str(r.get("lane")), str(r.get("window_start"))) == (lane, window)
                and (table != "research_promotions" or r.get("approver_role") == SCHEDULER_ROLE)
            ]
            subject = f"{table} {lane} {window}"
            recorded = [
                e
                for e in pack.content_entries(kind)
                if (e.lane, e.window_start) == (lane, window)
                and isinstance(e.content, dict)
                and e.content.get("table") == table
            ]
            if not recorded:
                if rows:
                    pack.fail(PackCheck.ROW_NOT_COVERED, subject, f"{len(rows)} row(s), no `{kind}` entry")
                continue
            entry = max(recorded, key=lambda e: e.seq)
            digest = partition_digest_of(table, rows)
            if (digest["sha256"], digest["rows"]) != (entry.content.get("sha256"), entry.content.get("rows")):
                pack.fail(
                    PackCheck.ROW_DIGEST_MISMATCH,
                    subject,
                    f"{digest['rows']} row(s) digest {digest['sha256'][:12]}…, seq {entry.seq} recorded "
                    f"{entry.content.get('rows')} row(s) {str(entry.content.get('sha256'))[:12]}…",
                )
            for later in pack.later_about(entry):
                pack.fail(
                    PackCheck.CHAIN_ENTRY_SUPERSEDED,
                    subject,
                    f"seq {entry.seq} superseded by seq {later.seq}",
                )


def _covering(pack: Pack, kinds: Sequence[str], match: Any) -> tuple[SegmentEntry, Any] | None:
    """The latest content entry of `kinds` for which `match(content)` yields the recorded record."""
    found: tuple[SegmentEntry, Any] | None = None
    for kind in kinds:
        for entry in pack.content_entries(kind):
            recorded = match(entry.content) if isinstance(entry.content, dict) else None
            if recorded is not None and (found is None or entry.seq > found[0].seq):
                found = (entry, recorded)
    return found


def _compare_row(pack: Pack, subject: str, row: Row, kinds: Sequence[str], match: Any) -> None:
    covering = _covering(pack, kinds, match)
    if covering is None:
        pack.fail(PackCheck.ROW_NOT_COVERED, subject, f"no {' / '.join(kinds)} entry records it")
        return
    entry, recorded = covering
    changed = sorted(k for k in recorded if content_digest(row.get(k)) != content_digest(recorded.get(k)))
    if changed:
        pack.fail(
            PackCheck.ROW_DIGEST_MISMATCH, subject, f"differs from seq {entry.seq} in {', '.join(changed)}"
        )
    # A column the entry does not record is not tamper-evident: only an empty one (or bookkeeping at its
    # fixed value) is accepted.
    unrecorded = sorted(
        k for k in row if k not in recorded and row[k] is not None and row[k] != UNRECORDED_BOOKKEEPING.get(k)
    )
    if unrecorded:
        pack.fail(
            PackCheck.ROW_NOT_COVERED,
            subject,
            f"columns seq {entry.seq} does not record: {', '.join(unrecorded)}",
        )


def _by_id(value: str, key: str = "id") -> Any:
    return lambda content: content if str(content.get(key)) == value else None


def check_rows(pack: Pack) -> None:
    """Every governance row against the chain entry that recorded it."""
    for row in pack.rows["gate_evaluations"]:
        projection = {k: row.get(k) for k in ("id", "gate_report_trace_id", "policy_checksum", "report_json")}
        _compare_row(
            pack,
            f"gate_evaluations {row.get('id')}",
            projection,
            ["gate_evaluation"],
            _by_id(str(row.get("id"))),
        )
    for row in pack.rows["research_promotions"]:
        if row.get("approver_role") == SCHEDULER_ROLE:
            continue  # the window's request: covered by its partition digest
        subject, rid = f"research_promotions {row.get('id')}", str(row.get("id"))
        if row.get("decision_action") == PromotionAction.DEMOTE:

            def demotion(content: Row, rid: str = rid) -> Any:
                inner = content.get("demotion") if "transition" in content else content
                return inner if isinstance(inner, dict) and str(inner.get("id")) == rid else None

            _compare_row(
                pack, subject, _without_created_at(row), ["promotion_demotion", *LANE_ACTION_KINDS], demotion
            )
        else:
            _compare_row(pack, subject, _without_created_at(row), ["promotion_decision"], _by_id(rid))
    for row in pack.rows["rollout_transitions"]:
        tid = str(row.get("transition_id"))

        def transition(content: Row, tid: str = tid) -> Any:
            inner = content.get("transition") if "incident_evidence_hash" in content else content
            return inner if isinstance(inner, dict) and str(inner.get("transition_id")) == tid else None

        _compare_row(
            pack,
            f"rollout_transitions {tid}",
            _without_created_at(row),
            ["rollout_transition", *LANE_ACTION_KINDS],
            transition,
        )


# --- artifacts ------------------------------------------------------------------------------------------


def _referenced_artifacts(pack: Pack) -> list[tuple[str, str, str]]:
    """(subject, sha256, recorded path) of every artifact a row in the pack references."""
    refs: list[tuple[str, str, str]] = []
    for run in pack.rows["research_runs"]:
        for ref in run.get("artifact_refs") or []:
            if isinstance(ref, dict):
                refs.append(
                    (f"research_runs {run.get('run_id')}", str(ref.get("sha256")), str(ref.get("path")))
                )
    for row in pack.rows["research_promotions"]:
        named = dict(_dict(_dict(row.get("evidence_bundle")).get("artifacts")))
        if row.get("paper_candidate_patch_ref"):
            named["paper_candidate_patch_ref"] = row["paper_candidate_patch_ref"]
        for name, path in sorted(named.items()):
            refs.append((f"research_promotions {row.get('id')} {name}", artifact_sha(str(path)), str(path)))
    return refs


def check_artifacts(pack: Pack) -> None:
    for name, data in sorted(pack.artifacts.items()):
        if sha256_bytes(data) != name:
            pack.fail(
                PackCheck.ARTIFACT_NAME_MISMATCH,
                f"{ARTIFACTS_DIR}/{name}",
                f"content hashes to {sha256_bytes(data)[:12]}…",
            )
    for subject, digest, path in _referenced_artifacts(pack):
        if artifact_sha(path) != digest:
            pack.fail(
                PackCheck.ARTIFACT_REFERENCE_MISMATCH,
                subject,
                f"path {path} names another sha256 than {digest[:12]}…",
            )
        if digest not in pack.artifacts:
            pack.fail(PackCheck.ARTIFACT_MISSING, subject, f"sha256 {digest}")
    gate_rows = {str(g.get("id")): g for g in pack.rows["gate_evaluations"]}
    for row in pack.rows["research_promotions"]:
        report_path = _dict(_dict(row.get("evidence_bundle")).get("artifacts")).get("gate_evaluation")
        gate = gate_rows.get(str(row.get("gate_evaluation_id")))
        stored = None if report_path is None else pack.artifacts.get(artifact_sha(str(report_path)))
        if gate is None or stored is None:
            continue
        try:
            report = json.loads(stored.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            report = None
        if content_digest(report) != content_digest(gate.get("report_json")):
            pack.fail(
                PackCheck.GATE_REPORT_ARTIFACT_MISMATCH,
                f"gate_evaluations {gate.get('id')}",
                f"artifact {report_path}",
            )


# --- the whole check ------------------------------------------------------------------------------------


def verify_pack(members: Mapping[str, bytes], published_heads: Sequence[PublishedHead] = ()) -> PackReport:
    """Every check above over the archive's members; `published_heads` are heads the auditor holds from
    outside the ledger (the pack's own copy of the latest published head is checked as well)."""
    pack = read_pack(members)
    if not pack.manifest:
        return PackReport(tuple(pack.failures), {})
    heads = list(published_heads)
    embedded = pack.manifest.get("published_head")
    if isinstance(embedded, dict):
        try:
            heads.append(PublishedHead.from_dict(embedded))
        except ValueError as exc:
            pack.fail(PackCheck.MANIFEST_INVALID, "published_head", str(exc))
    check_chain(pack, heads)
    check_partitions(pack)
    check_rows(pack)
    check_artifacts(pack)
    judged = decisions.check_decisions(pack.rows, pack.files, pack.chain)
    pack.failures += [PackFailure(code, subject, detail) for code, subject, detail in judged.failures]
    summary = {
        "scope": pack.manifest.get("scope"),
        "exported_at": pack.manifest.get("exported_at"),
        "tool": pack.manifest.get("tool"),
        "decisions": len(pack.manifest.get("decisions") or []),
        "rows": {table: len(rows) for table, rows in pack.rows.items() if rows},
        "chain": {
            "first_seq": pack.chain[0].seq if pack.chain else None,
            "head_seq": pack.head.get("seq"),
            "head_hash": pack.head.get("entry_hash"),
            "entries_with_content": sum(1 for e in pack.chain if e.has_content),
        },
        "published_heads_compared": len(heads),
        "artifacts": len(pack.artifacts),
        **judged.summary,
    }
    return PackReport(tuple(pack.failures), summary)
