"""Export the evidence behind promotion decisions as one archive an auditor verifies offline
(docs/evidence-pack.md).

A pack holds, for one candidate (or for every promotion decision of a lane in a time range): the
candidate and its lane window's research partitions (run, candidates, folds, stress, the window's own
promotion requests), every gate evaluation, the promotion decisions and demotions, the rollout
transitions, the approvals and their uses; the artifacts those rows reference; the gate policy and
approvers files whose checksums the rows record; the evidence-chain entries recording those rows and the
headers of every entry from the first of them to the chain head; and `manifest.json`. Everything is read
in one transaction (a snapshot on PostgreSQL), so the rows, the chain and its head agree.

What is never exported: an approval token. The ledger keeps an approval's public record and the
approver's signature over that record (`approval_use` entries), which verification checks against the
approvers file; neither can be presented as an approval.

Anything the pack should hold but the ledger or the artifact store cannot give (a missing artifact, the
policy file of an old checksum) is listed under `missing` in the manifest and reported; verification
then fails on it.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Connection

import torghut_assets
from torghut_assets.domain.evidence import canonical_value
from torghut_assets.domain.evidence_chain import PublishedHead
from torghut_assets.domain.evidence_pack import (
    CHAIN_MEMBER,
    LANE_ACTION_KINDS,
    MANIFEST,
    PACK_FORMAT,
    PARTITION_KINDS,
    ROW_TABLES,
    artifact_member,
    artifact_sha,
    rows_member,
    sha256_bytes,
)
from torghut_assets.domain.evidence_pack_decisions import APPROVERS_PREFIX, GATE_POLICY_PREFIX
from torghut_assets.domain.gates import GatePolicy
from torghut_assets.ledger import evidence_pack_rows as pack_rows
from torghut_assets.ledger import schema
from torghut_assets.ledger.artifacts import ArtifactStore, default_artifact_root
from torghut_assets.ledger.engine import create_ledger_engine
from torghut_assets.ledger.evidence_digests import partition_rows
from torghut_assets.services import chain_head
from torghut_assets.services.evidence_pack_archive import write_archive
from torghut_assets.services.ports import Ledger, LedgerPort

TOOL = "torghut-assets"
Row = dict[str, Any]


class EvidenceExportError(ValueError):
    """The requested scope names nothing to export (an unknown candidate, a range without decisions)."""


@dataclass(frozen=True)
class PackScope:
    """One candidate, or every promotion decision of `lane` decided in [since, until)."""

    candidate_id: str | None = None
    lane: str | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None

    def __post_init__(self) -> None:
        by_lane = self.lane is not None and self.since is not None and self.until is not None
        if (self.candidate_id is None) == (not by_lane):
            raise ValueError("export one candidate, or one lane with --from and --to")
        if by_lane and self.since is not None and self.until is not None and self.since >= self.until:
            raise ValueError("--from must be before --to")

    def as_dict(self) -> Row:
        if self.candidate_id is not None:
            return {"kind": "candidate", "candidate_id": self.candidate_id}
        return {"kind": "lane", "lane": self.lane, "from": self.since, "to": self.until}

    def file_stem(self) -> str:
        if self.candidate_id is not None:
            return f"evidence-{self.candidate_id}"
        assert self.since is not None and self.until is not None
        return f"evidence-{self.lane}-{self.since:%Y%m%dT%H%M}-{self.until:%Y%m%dT%H%M}"


@dataclass(frozen=True)
class ExportedPack:
    path: Path
    manifest: Row

    @property
    def missing(self) -> list[Row]:
        return list(self.manifest.get("missing") or [])

    @property
    def complete(self) -> bool:
        return not self.missing


@dataclass
class _Gathered:
    """What one read transaction found for the scope."""

    decisions: list[Row]
    candidate_ids: set[str]
    rows: dict[str, dict[str, Row]] = field(default_factory=dict)
    entries: dict[int, Row] = field(default_factory=dict)
    headers: list[Row] = field(default_factory=list)
    tip: Row | None = None

    def add_rows(self, table: str, rows: Iterable[Row], key: str = "id") -> None:
        bucket = self.rows.setdefault(table, {})
        for row in rows:
            bucket[str(row[key])] = row

    def add_entries(self, entries: Iterable[Row]) -> None:
        for entry in entries:
            self.entries[int(entry["seq"])] = entry

    def table(self, name: str) -> list[Row]:
        return list(self.rows.get(name, {}).values())


# --- reading the ledger ----------------------------------------------------------------------------


def _snapshot(conn: Connection) -> None:
    """One snapshot for every read (SQLite's ledger transactions already hold the database)."""
    if conn.dialect.name == "postgresql":
        conn.execution_options(isolation_level="REPEATABLE READ")


def _decisions(conn: Connection, scope: PackScope) -> list[Row]:
    if scope.candidate_id is not None:
        if not pack_rows.candidates(conn, [scope.candidate_id]):
            raise EvidenceExportError(f"no research candidate {scope.candidate_id!r} in the ledger")
        return pack_rows.promotion_decisions(conn, candidate_id=scope.candidate_id)
    decisions = pack_rows.promotion_decisions(conn, lane=scope.lane, since=scope.since, until=scope.until)
    if not decisions:
        raise EvidenceExportError(
            f"no promotion decision of lane {scope.lane} in [{scope.since}, {scope.until})"
        )
    return decisions


def _partitions(conn: Connection, found: _Gathered) -> None:
    """Each candidate's lane window: its research partitions and the latest entry recording each."""
    candidates = pack_rows.candidates(conn, found.candidate_ids)
    windows = {(str(c["lane"]), c["window_start"]) for c in candidates}
    for lane, start in sorted(windows, key=lambda w: (w[0], w[1])):
        for name in PARTITION_KINDS:
            found.add_rows(name, partition_rows(conn, schema.metadata.tables[name], lane, start))
        # The research chain records each partition about the window's run (its run_id is the subject).
        runs = {str(r["run_id"]) for r in partition_rows(conn, schema.research_runs, lane, start)}
        latest: dict[tuple[str, str], Row] = {}
        for entry in pack_rows.entries_about(conn, PARTITION_KINDS.values(), runs):
            if (entry["lane"], entry["window_start"]) != (lane, start):
                continue
            latest[(entry["entry_kind"], entry["subject"])] = entry  # seq order: the last wins
        found.add_entries(latest.values())


def _content_id(entry: Row, key: str, inner: str | None = None) -> str | None:
    content = entry.get("content")
    if inner is not None and isinstance(content, dict):
        content = content.get(inner)
    return str(content.get(key)) if isinstance(content, dict) and content.get(key) is not None else None


def _governance(conn: Connection, scope: PackScope, found: _Gathered) -> None:
    """Gate evaluations, decisions, demotions, transitions, approvals, and the entries recording them."""
    cands = found.candidate_ids
    gate_ids = {str(d["gate_evaluation_id"]) for d in found.decisions if d.get("gate_evaluation_id")}
    whole_history = cands if scope.candidate_id is not None else set()
    found.add_rows(
        "gate_evaluations", pack_rows.gate_evaluations(conn, candidate_ids=whole_history, ids=gate_ids)
    )
    demotions = pack_rows.demotions(conn, cands)
    found.add_rows("research_promotions", [*found.decisions, *demotions])
    transitions = pack_rows.transitions(conn, cands)
    found.add_rows("rollout_transitions", transitions, key="transition_id")
    approval_ids = {str(d["override_id"]) for d in found.decisions if d.get("override_id")}
    found.add_rows("approval_overrides", pack_rows.approvals(conn, approval_ids), key="override_id")
    found.add_rows("approval_uses", pack_rows.approval_uses(conn, approval_ids), key="override_id")

    gates = set(found.rows.get("gate_evaluations", {}))
    promotions = {str(d["id"]) for d in found.decisions}
    demoted = {str(d["id"]) for d in demotions}
    moved = {str(t["transition_id"]) for t in transitions}
    found.add_entries(
        e for e in pack_rows.entries_about(conn, ["gate_evaluation"], cands) if _content_id(e, "id") in gates
    )
    found.add_entries(
        e
        for e in pack_rows.entries_about(conn, ["promotion_decision"], cands)
        if _content_id(e, "id") in promotions
    )
    found.add_entries(
        e
        for e in pack_rows.entries_about(
            conn, ["promotion_demotion"], {str(d["candidate_id"]) for d in demotions}
        )
        if _content_id(e, "id") in demoted
    )
    found.add_entries(
        e
        for e in pack_rows.entries_about(conn, ["rollout_transition"], cands)
        if _content_id(e, "transition_id") in moved
    )
    lanes = {str(t["lane"]) for t in transitions}
    found.add_entries(
        e
        for e in pack_rows.lane_entries(conn, LANE_ACTION_KINDS, lanes)
        if _content_id(e, "transition_id", "transition") in moved
        or _content_id(e, "id", "demotion") in demoted
    )
    found.add_entries(pack_rows.entries_about(conn, ["approval_use", "approval_override"], approval_ids))


def _gather(conn: Connection, scope: PackScope, published: PublishedHead | None) -> _Gathered:
    decisions = _decisions(conn, scope)
    candidate_ids = {str(d["candidate_id"]) for d in decisions}
    if scope.candidate_id is not None:
        candidate_ids.add(scope.candidate_id)
    found = _Gathered(decisions, candidate_ids)
    _partitions(conn, found)
    _governance(conn, scope, found)
    found.tip = pack_rows.chain_tip(conn)
    if found.tip is not None:
        last = int(found.tip["seq"])
        starts = [*found.entries, last]
        if published is not None and 0 < published.seq <= last:
            starts.append(published.seq)
        found.headers = pack_rows.entry_headers(conn, min(starts), last)
    return found


# --- files outside the ledger --------------------------------------------------------------------------


def _read_artifact(store: ArtifactStore, sha: str, recorded: str) -> tuple[bytes, str] | None:
    """The artifact's bytes and suffix: at its recorded path, else anywhere in the store by its name (the
    store may be mounted elsewhere than where the row was written). The bytes are taken as they are: a
    file that no longer hashes to its name is exported so verification names it."""
    recorded_path = Path(recorded) if recorded else None
    if recorded_path is not None and recorded_path.is_file() and recorded_path.name.startswith(sha):
        return recorded_path.read_bytes(), recorded_path.name[len(sha) :]
    found = sorted(store.root.rglob(f"{sha}.*")) if store.root.is_dir() else []
    for path in found:
        if path.is_file():
            return path.read_bytes(), path.name[len(sha) :]
    return None


def _artifact_refs(found: _Gathered) -> dict[str, str]:
    refs: dict[str, str] = {}
    for run in found.table("research_runs"):
        for ref in run.get("artifact_refs") or []:
            if isinstance(ref, dict) and ref.get("sha256"):
                refs.setdefault(str(ref["sha256"]), str(ref.get("path") or ""))
    for row in found.table("research_promotions"):
        bundle = row.get("evidence_bundle")
        named = bundle.get("artifacts") if isinstance(bundle, dict) else None
        named = named if isinstance(named, dict) else {}
        for path in [*named.values(), row.get("paper_candidate_patch_ref")]:
            if path:
                refs.setdefault(artifact_sha(str(path)), str(path))
    return refs


def _policy_files(
    found: _Gathered, policy_files: Sequence[Path], approvers_files: Sequence[Path], missing: list[Row]
) -> dict[str, bytes]:
    """The gate policy and approvers files whose checksums the rows record, from the candidates given."""
    wanted_policies = {str(g["policy_checksum"]) for g in found.table("gate_evaluations")}
    wanted_approvers = {
        str(e["content"].get("approvers_checksum"))
        for e in found.entries.values()
        if e["entry_kind"] == "approval_use" and isinstance(e.get("content"), dict)
    }
    wanted_approvers |= {
        str(a["approvers_checksum"]) for a in found.table("approval_overrides") if a.get("approvers_checksum")
    }
    wanted_approvers.discard("None")
    members: dict[str, bytes] = {}
    for path in policy_files:
        try:
            data = path.read_bytes()
            checksum = GatePolicy.from_toml(data.decode("utf-8")).checksum()
        except (OSError, UnicodeDecodeError, ValueError):
            continue
        if checksum in wanted_policies:
            members[f"{GATE_POLICY_PREFIX}{checksum}.toml"] = data
    for path in approvers_files:
        try:
            data = path.read_bytes()
        except OSError:
            continue
        if sha256_bytes(data) in wanted_approvers:
            members[f"{APPROVERS_PREFIX}{sha256_bytes(data)}.toml"] = data
    for checksum in sorted(wanted_policies):
        if f"{GATE_POLICY_PREFIX}{checksum}.toml" not in members:
            missing.append(
                {"what": "gate_policy", "key": checksum, "reason": "no policy file given has this checksum"}
            )
    for checksum in sorted(wanted_approvers):
        if f"{APPROVERS_PREFIX}{checksum}.toml" not in members:
            missing.append(
                {
                    "what": "approvers_file",
                    "key": checksum,
                    "reason": "no approvers file given has this sha256",
                }
            )
    return members


# --- the pack --------------------------------------------------------------------------------------------


def _json_bytes(value: Any) -> bytes:
    return (json.dumps(canonical_value(value), sort_keys=True, indent=1, ensure_ascii=False) + "\n").encode(
        "utf-8"
    )


def _chain_segment(found: _Gathered) -> list[Row]:
    return [
        {**header, "content": found.entries[header["seq"]]["content"]}
        if header["seq"] in found.entries
        else header
        for header in found.headers
    ]


def _gate_reports(found: _Gathered, members: dict[str, bytes]) -> list[Row]:
    """Each decision's gate evaluation and the member holding its gate report."""
    reports = []
    for decision in sorted(found.decisions, key=lambda d: str(d["id"])):
        bundle = decision.get("evidence_bundle")
        named = bundle.get("artifacts") if isinstance(bundle, dict) else None
        path = named.get("gate_evaluation") if isinstance(named, dict) else None
        sha = None if path is None else artifact_sha(str(path))
        member = next((m for m in members if sha and m.startswith(f"artifacts/{sha}")), None)
        reports.append(
            {
                "decision_id": decision["id"],
                "gate_evaluation_id": decision.get("gate_evaluation_id"),
                "member": member,
            }
        )
    return reports


def build_members(
    found: _Gathered,
    scope: PackScope,
    store: ArtifactStore,
    *,
    policy_files: Sequence[Path],
    approvers_files: Sequence[Path],
    published: PublishedHead | None,
    now: dt.datetime,
) -> tuple[dict[str, bytes], Row]:
    """The pack's members (path → bytes) and its manifest."""
    missing: list[Row] = []
    members: dict[str, bytes] = {}
    for table in ROW_TABLES:
        rows = sorted(found.table(table), key=lambda r: str(r["id"]))
        members[rows_member(table)] = _json_bytes(rows)
    members[CHAIN_MEMBER] = _json_bytes(_chain_segment(found))
    for sha, recorded in sorted(_artifact_refs(found).items()):
        stored = _read_artifact(store, sha, recorded)
        if stored is None:
            missing.append({"what": "artifact", "key": sha, "reason": f"not found (recorded at {recorded})"})
            continue
        members[artifact_member(sha, stored[1])] = stored[0]
    members |= _policy_files(found, policy_files, approvers_files, missing)
    tip = found.tip or {}
    manifest: Row = {
        "format": PACK_FORMAT,
        "tool": {"name": TOOL, "version": torghut_assets.__version__},
        "exported_at": now,
        "scope": scope.as_dict(),
        "decisions": sorted(str(d["id"]) for d in found.decisions),
        "candidates": sorted(found.candidate_ids),
        "chain_head": {
            "seq": tip.get("seq", 0),
            "entry_hash": tip.get("entry_hash"),
            "recorded_at": tip.get("recorded_at"),
        },
        "chain_segment": {
            "first_seq": found.headers[0]["seq"] if found.headers else None,
            "last_seq": found.headers[-1]["seq"] if found.headers else None,
            "entries_with_content": sorted(found.entries),
        },
        "published_head": None if published is None else published.as_dict(),
        "rows": {table: len(found.table(table)) for table in ROW_TABLES},
        "gate_reports": _gate_reports(found, members),
        "policy_files": [
            {"member": path, "kind": kind, "checksum": path.rsplit("-", 1)[1].removesuffix(".toml")}
            for path in sorted(members)
            for prefix, kind in ((GATE_POLICY_PREFIX, "gate_policy"), (APPROVERS_PREFIX, "approvers"))
            if path.startswith(prefix)
        ],
        "missing": missing,
        "members": [
            {"path": path, "sha256": sha256_bytes(data), "size": len(data)}
            for path, data in sorted(members.items())
        ],
    }
    return members | {MANIFEST: _json_bytes(manifest)}, manifest


def open_ledger(database_url: str, artifact_root: str | None = None) -> Ledger:
    """The ledger and artifact store a pack is exported from, outside Dagster (the CLI)."""
    return Ledger(create_ledger_engine(database_url), ArtifactStore(default_artifact_root(artifact_root)))


def export_pack(
    ledger: LedgerPort,
    scope: PackScope,
    out: Path,
    *,
    policy_files: Sequence[Path],
    approvers_files: Sequence[Path],
    now: dt.datetime,
) -> ExportedPack:
    """Gather the scope's evidence in one read and write the pack to `out` (`.tar.gz`, or `.zip`).

    `policy_files` / `approvers_files` are the files to look in for the versions the rows record (the
    configured ones first, then older versions an operator kept); EvidenceExportError when the scope
    names nothing."""
    published = chain_head.latest_published_head(ledger.artifacts)
    with ledger.engine.connect() as conn:
        _snapshot(conn)
        with conn.begin():
            found = _gather(conn, scope, published)
    members, manifest = build_members(
        found,
        scope,
        ledger.artifacts,
        policy_files=policy_files,
        approvers_files=approvers_files,
        published=published,
        now=now,
    )
    write_archive(out, members)
    return ExportedPack(out, manifest)
