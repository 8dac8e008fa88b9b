"""Evidence packs under attack, on SQLite and PostgreSQL: a candidate promoted to live_l1 through the
real pipeline with a signed approval is exported and verifies offline; each way of tampering with the
pack or the ledger behind it is caught, with its own reason code (docs/evidence-pack.md).

The tamperer is assumed able to rewrite the pack's manifest hashes (`relist`) and, where said, to
recompute the whole chain segment (`rechain`) and drop the pack's own copy of the published head; what
they cannot do is sign as an approver or change a chain head published outside the ledger.
"""

from __future__ import annotations

import base64
import dataclasses
import subprocess
import sys
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from torghut_assets.cli import main
from torghut_assets.domain.evidence_chain import PublishedHead
from torghut_assets.domain.evidence_pack import CHAIN_MEMBER, MANIFEST, rows_member, verify_pack
from torghut_assets.domain.signed_approvals import (
    RECORD_CONTEXT,
    Ed25519PrivateKey,
    key_id,
    new_signed_approval,
    public_key_bytes,
    record_bytes,
    signature_part,
)
from torghut_assets.services.chain_head import HEAD_CHECK
from torghut_assets.services.evidence_pack import EvidenceExportError, PackScope
from torghut_assets.services.evidence_pack_archive import FIXED_MTIME, verify_pack_file
from torghut_assets_tests.defs.governance_harness import (
    APPROVER_KEYS,
    CIO,
    LANE,
    MALLORY,
    RISK,
    UNREGISTERED_KEY,
)
from torghut_assets_tests.reliability.evidence_pack_harness import (
    Members,
    Promoted,
    build_promoted,
    dump,
    edit_entry_content,
    entries_of,
    export,
    load,
    members,
    now,
    rechain,
    relist,
)

Row = dict[str, Any]


@pytest.fixture(scope="module")
def promoted(module_ledger_url: str, tmp_path_factory: pytest.TempPathFactory) -> Promoted:
    return build_promoted(module_ledger_url, tmp_path_factory.mktemp("promoted"))


def codes(pack: Members, *heads: PublishedHead) -> set[str]:
    return verify_pack(pack, heads).codes


def without_published_head(pack: Members) -> Members:
    """The tamperer's pack carries no copy of a published head (the manifest is theirs to write)."""
    manifest = load(pack, MANIFEST)
    manifest["published_head"] = None
    dump(pack, MANIFEST, manifest)
    return pack


def edit_rows(pack: Members, table: str, change: Callable[[list[Row]], None]) -> Members:
    rows = load(pack, rows_member(table))
    change(rows)
    dump(pack, rows_member(table), rows)
    return pack


def live_promotion(promoted: Promoted, pack: Members) -> Row:
    rows = load(pack, rows_member("research_promotions"))
    return next(r for r in rows if r["id"] == promoted.live.promotion["id"])


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def replace_approval_record(
    pack: Members, promoted: Promoted, signer: Ed25519PrivateKey, **claims: str
) -> None:
    """Put an approval record signed by `signer` (claiming `claims`) in place of the spent one, with the
    rows that mirror it made to agree: what an insider with write access to the ledger could do."""
    base = promoted.approval
    forged = new_signed_approval(
        candidate_id=claims.get("candidate_id", base.candidate_id),
        target_stage=base.target_stage,
        approver=claims.get("approver", base.approver),
        approver_role=claims.get("approver_role", base.approver_role),
        reason=base.reason,
        public_key=public_key_bytes(signer),
        now=base.issued_at,
        ttl=base.expires_at - base.issued_at,
        approval_id=base.approval_id,
    )
    if "key_id" in claims:
        forged = dataclasses.replace(forged, key_id=claims["key_id"])
    signature = _b64(signer.sign(RECORD_CONTEXT + record_bytes(forged)))

    def change(content: Row) -> None:
        content["record"], content["record_signature"] = forged.record(), signature

    edit_entry_content(pack, "approval_use", change)

    def mirror(rows: list[Row]) -> None:
        for row in rows:
            row |= {
                "candidate_id": forged.candidate_id,
                "approver": forged.approver,
                "approver_role": forged.approver_role,
                "key_id": forged.key_id,
            }

    edit_rows(pack, "approval_overrides", mirror)
    names = {"approver": forged.approver, "approver_role": forged.approver_role}
    live_id = promoted.live.promotion["id"]
    edit_rows(pack, "research_promotions", lambda rows: [r.update(names) for r in rows if r["id"] == live_id])
    edit_entry_content(pack, "promotion_decision", lambda c: c.update(names) if c["id"] == live_id else None)
    rechain(without_published_head(pack))


# --- a clean pack --------------------------------------------------------------------------------------


def test_a_promoted_candidates_pack_verifies_offline_against_the_published_head(promoted: Promoted) -> None:
    report = verify_pack_file(promoted.clean, [promoted.first_head])
    assert report.ok, [f.line() for f in report.failures]
    assert report.summary["decisions"] == 3  # paper, the live denial, live with the approval
    assert report.summary["approvals_verified"] == 1
    assert report.summary["gate_evaluations_reevaluated"] == 3
    assert report.summary["allowed_decisions_supported"] == 2
    assert report.summary["chain"]["head_seq"] == promoted.first_head.seq
    assert report.summary["published_heads_compared"] == 2  # the auditor's and the pack's own copy


def test_the_pack_holds_every_row_artifact_and_file_behind_the_promotion(promoted: Promoted) -> None:
    pack = members(promoted.clean)
    manifest = load(pack, MANIFEST)
    assert sorted(manifest["decisions"]) == sorted(
        r.promotion["id"] for r in (promoted.paper, promoted.denied, promoted.live)
    )
    assert manifest["tool"]["name"] == "torghut-assets" and manifest["missing"] == []
    assert all(r["member"] in pack for r in manifest["gate_reports"]) and len(manifest["gate_reports"]) == 3
    assert {f["kind"] for f in manifest["policy_files"]} == {"gate_policy", "approvers"}
    assert manifest["chain_head"]["seq"] == promoted.first_head.seq
    (approval,) = load(pack, rows_member("approval_overrides"))
    assert approval["override_id"] == promoted.approval.approval_id
    (use,) = entries_of(pack, "approval_use")
    assert use["content"]["record"] == promoted.approval.record()
    assert use["content"]["promotion_id"] == promoted.live.promotion["id"]
    reports = {Path(p).name.split(".")[0] for p in promoted.live.artifacts.values()}
    assert {f"artifacts/{name}.json" for name in reports} - set(pack) == set()
    assert any(path.startswith("policy/gate-policy-") for path in pack)
    assert any(path.startswith("policy/approvers-") for path in pack)


def test_no_approval_token_or_part_of_one_is_in_the_pack(promoted: Promoted) -> None:
    prefix, payload, _ = promoted.token.split(".")
    needles = [promoted.token, signature_part(promoted.token), payload]
    for name, data in members(promoted.clean).items():
        text = data.decode("utf-8", errors="replace")
        assert not [n for n in needles if n in text], name
    assert prefix == "tav2"


def test_the_zip_pack_verifies_too(promoted: Promoted) -> None:
    report = verify_pack_file(promoted.clean_zip, [promoted.first_head])
    assert report.ok, [f.line() for f in report.failures]


def test_two_exports_at_the_same_time_are_byte_identical_with_sorted_members_and_fixed_times(
    promoted: Promoted,
) -> None:
    assert promoted.clean.read_bytes() == promoted.clean_again.read_bytes()
    with tarfile.open(promoted.clean) as archive:
        infos = archive.getmembers()
    assert [i.name for i in infos] == sorted(i.name for i in infos)
    assert {i.mtime for i in infos} == {FIXED_MTIME}


def test_a_lane_range_pack_holds_every_decision_of_the_lane_and_verifies(promoted: Promoted) -> None:
    report = verify_pack_file(promoted.lane_pack, [promoted.first_head])
    assert report.ok, [f.line() for f in report.failures]
    manifest = load(members(promoted.lane_pack), MANIFEST)
    assert manifest["scope"]["kind"] == "lane" and manifest["scope"]["lane"] == LANE
    assert sorted(manifest["decisions"]) == sorted(load(members(promoted.clean), MANIFEST)["decisions"])


def test_verifying_a_pack_loads_no_database_or_dagster_library(promoted: Promoted) -> None:
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from torghut_assets.services.evidence_pack_archive import verify_pack_file\n"
        "report = verify_pack_file(Path(sys.argv[1]))\n"
        "print(report.ok, 'sqlalchemy' in sys.modules, 'dagster' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(promoted.clean)], capture_output=True, text=True, check=True
    )
    assert done.stdout.split() == ["True", "False", "False"]


def test_the_cli_verifies_a_pack_and_lists_every_failure_with_its_reason(
    promoted: Promoted, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        main(
            [
                "evidence",
                "verify-pack",
                str(promoted.clean),
                "--published-head",
                str(promoted.first_head_file),
            ]
        )
        == 0
    )
    assert "OK" in capsys.readouterr().out
    head = promoted.truncated_head
    assert (
        main(
            [
                "evidence",
                "verify-pack",
                str(promoted.truncated),
                "--published-head",
                f"{head.seq}:{head.entry_hash}",
            ]
        )
        == 1
    )
    out = capsys.readouterr().out
    assert "FAILED (1 failure(s))" in out and "published_head_truncated" in out


# --- tampering with rows, the chain and artifacts ------------------------------------------------------


def test_an_edited_row_is_caught_against_the_chain_entry_that_recorded_it(promoted: Promoted) -> None:
    def rewrite(rows: list[Row]) -> None:
        for row in rows:
            if row["id"] == promoted.live.promotion["id"]:
                row["decision_rationale"] = "promoted:all_required_gates_passed"

    pack = relist(edit_rows(members(promoted.clean), "research_promotions", rewrite))
    assert codes(pack) == {"row_digest_mismatch"}


def test_an_edited_research_row_is_caught_by_its_partition_digest_and_the_gate_evidence(
    promoted: Promoted,
) -> None:
    def rewrite(rows: list[Row]) -> None:
        for row in rows:
            if row["candidate_id"] == promoted.champion:
                row["net_pnl"] = row["net_pnl"] + 250.0

    pack = relist(edit_rows(members(promoted.clean), "research_fold_metrics", rewrite))
    assert codes(pack) == {"row_digest_mismatch", "gate_evidence_mismatch"}


def test_a_member_changed_without_fixing_the_manifest_is_a_member_hash_mismatch(promoted: Promoted) -> None:
    pack = members(promoted.clean)
    pack[rows_member("gate_evaluations")] += b" "
    assert "member_sha256_mismatch" in codes(pack)


def test_a_dropped_chain_entry_breaks_the_links(promoted: Promoted) -> None:
    pack = members(promoted.clean)
    entries = load(pack, CHAIN_MEMBER)
    dropped = next(e for e in entries[1:-1] if "content" not in e)  # an entry no row rests on
    dump(pack, CHAIN_MEMBER, [e for e in entries if e["seq"] != dropped["seq"]])
    assert codes(relist(pack)) == {"chain_seq_gap", "chain_prev_hash_mismatch"}


def test_a_consistently_rewritten_chain_is_caught_only_by_the_published_head(promoted: Promoted) -> None:
    rationale = "promoted:all_required_gates_passed"
    live_id = promoted.live.promotion["id"]
    pack = members(promoted.clean)
    edit_rows(
        pack,
        "research_promotions",
        lambda rows: [r.update(decision_rationale=rationale) for r in rows if r["id"] == live_id],
    )
    edit_entry_content(
        pack,
        "promotion_decision",
        lambda c: c.update(decision_rationale=rationale) if c["id"] == live_id else None,
    )
    rechain(pack)
    assert codes(pack) == {"published_head_rewritten"}  # the pack's own copy of the published head
    without_published_head(pack)
    assert codes(pack) == set()  # the chain alone cannot tell
    assert codes(pack, promoted.first_head) == {"published_head_rewritten"}  # the auditor's copy can


def test_truncating_the_newest_entries_is_caught_by_the_published_head(promoted: Promoted) -> None:
    assert verify_pack_file(promoted.truncated).ok  # the shortened chain is internally sound
    report = verify_pack_file(promoted.truncated, [promoted.truncated_head])
    assert report.codes == {"published_head_truncated"}


def test_the_nightly_check_fails_when_a_published_head_was_truncated_away(promoted: Promoted) -> None:
    finding = promoted.truncated_finding
    assert finding.check == HEAD_CHECK and not finding.passed and finding.severity == "ERROR"
    assert finding.failing == 1
    assert f"seq {promoted.truncated_head.seq}" in finding.keys[0]
    assert finding.keys[0].endswith("published_head_truncated")


def test_a_swapped_artifact_is_caught_by_its_name(promoted: Promoted) -> None:
    pack = members(promoted.clean)
    gate_report = next(p for p in promoted.live.artifacts.values() if "gate-evaluation" in p)
    name = f"artifacts/{Path(gate_report).name}"
    other = next(p for p in promoted.paper.artifacts.values() if "gate-evaluation" in p)
    pack[name] = pack[f"artifacts/{Path(other).name}"]
    assert codes(relist(pack)) == {"artifact_name_mismatch", "gate_report_artifact_mismatch"}


def test_a_removed_artifact_is_missing(promoted: Promoted) -> None:
    pack = members(promoted.clean)
    patch = promoted.paper.promotion["paper_candidate_patch_ref"]
    del pack[f"artifacts/{Path(patch).name}"]
    assert codes(relist(pack)) == {"artifact_missing"}


# --- the gates and the policy --------------------------------------------------------------------------


def test_a_gate_decision_that_does_not_follow_from_its_evidence_under_the_policy_is_caught(
    promoted: Promoted,
) -> None:
    live_gate = promoted.live.gate_evaluation["id"]

    def inflate(report: Row) -> None:
        report["metrics"]["turnover"] = 1000.0

    pack = members(promoted.clean)
    edit_rows(
        pack,
        "gate_evaluations",
        lambda rows: [inflate(r["report_json"]) for r in rows if r["id"] == live_gate],
    )
    edit_entry_content(
        pack, "gate_evaluation", lambda c: inflate(c["report_json"]) if c["id"] == live_gate else None
    )
    found = codes(rechain(without_published_head(pack)))
    assert "gate_decision_mismatch" in found and "gate_evidence_mismatch" in found


def test_a_policy_file_other_than_the_one_in_force_is_refused(promoted: Promoted) -> None:
    pack = members(promoted.clean)
    (name,) = [p for p in pack if p.startswith("policy/gate-policy-")]
    pack[name] = pack[name].replace(b"live_rollout_enabled = true", b"live_rollout_enabled = false")
    assert codes(relist(pack)) == {"policy_file_missing"}


# --- approvals -----------------------------------------------------------------------------------------


def test_a_forged_approval_signature_is_caught(promoted: Promoted) -> None:
    pack = members(promoted.clean)
    # Signed by a key nobody registered, in the approver's name and claiming the approver's key.
    replace_approval_record(pack, promoted, UNREGISTERED_KEY, key_id=promoted.approval.key_id)
    assert codes(pack) == {"approval_signature_invalid"}


def test_an_approval_signed_with_another_persons_key_is_caught(promoted: Promoted) -> None:
    pack = members(promoted.clean)
    mallory = APPROVER_KEYS[MALLORY]
    replace_approval_record(pack, promoted, mallory, key_id=key_id(public_key_bytes(mallory)))
    assert codes(pack) == {"approval_key_not_registered_for_approver"}


def test_an_approval_claiming_a_role_its_approver_does_not_hold_is_caught(promoted: Promoted) -> None:
    pack = members(promoted.clean)
    replace_approval_record(
        pack, promoted, APPROVER_KEYS[RISK], approver=RISK, approver_role="head_of_trading"
    )
    assert codes(pack) == {"approval_role_not_held_by_approver"}


def test_an_approval_for_another_candidate_is_caught(promoted: Promoted) -> None:
    pack = members(promoted.clean)
    other = promoted.governed.candidates[1]
    replace_approval_record(pack, promoted, APPROVER_KEYS[CIO], candidate_id=other)
    assert codes(pack) == {"approval_wrong_candidate"}


def test_a_reused_approval_is_caught(promoted: Promoted) -> None:
    # The ledger forgot the approval was spent (its rows deleted) and the token was presented again.
    assert promoted.replay.approval_spent == promoted.approval.approval_id
    report = verify_pack_file(promoted.reused)
    assert report.codes == {"approval_reused"}, [f.line() for f in report.failures]


def test_a_pack_whose_approval_record_lost_its_signature_is_unsigned(promoted: Promoted) -> None:
    pack = members(promoted.clean)
    edit_entry_content(pack, "approval_use", lambda c: c.update(record_signature=None))
    assert codes(rechain(without_published_head(pack))) == {"approval_unsigned"}


# --- export scope --------------------------------------------------------------------------------------


def test_exporting_an_unknown_candidate_or_an_empty_range_is_refused(
    promoted: Promoted, tmp_path: Path
) -> None:
    with pytest.raises(EvidenceExportError, match="no research candidate"):
        export(promoted.governed, "cand-unknown", tmp_path / "x.tar.gz")
    empty = PackScope(lane=LANE, since=now().replace(year=2020), until=now().replace(year=2021))
    with pytest.raises(EvidenceExportError, match="no promotion decision"):
        export(promoted.governed, empty, tmp_path / "y.tar.gz")
    assert not list(tmp_path.iterdir())


# --- the live ledger -----------------------------------------------------------------------------------


def test_the_live_chain_catches_a_research_row_edited_in_the_ledger(promoted: Promoted) -> None:
    assert {b.problem for b in promoted.chain_after_edit.breaks} == {"content_source_mismatch"}


def test_the_live_chain_catches_an_entry_dropped_from_the_ledger(promoted: Promoted) -> None:
    dropped = {b.problem for b in promoted.chain_after_drop.breaks}
    assert {"seq_gap", "prev_hash_mismatch"} <= dropped


def test_the_cli_exports_from_the_ledger_and_a_tampered_ledger_fails_verification(
    promoted: Promoted, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    governance = promoted.governed.governance()
    monkeypatch.setenv("TORGHUT_GATE_POLICY_PATH", governance.policy_path)
    monkeypatch.setenv("TORGHUT_APPROVERS_PATH", governance.approvers_path)
    monkeypatch.setenv("TORGHUT_ARTIFACT_ROOT", str(promoted.governed.root / "artifacts"))
    out = tmp_path / "cli.tar.gz"
    command = ["evidence", "export", "--candidate", promoted.champion, "--out", str(out)]
    assert main([*command, "--url", promoted.governed.url]) == 0
    assert f"evidence pack {out}: 4 decision(s)" in capsys.readouterr().out
    # By now the ledger has a research row edited and an entry dropped (the live-chain scenario).
    assert main(["evidence", "verify-pack", str(out)]) == 1
    printed = capsys.readouterr().out
    assert "chain_seq_gap" in printed and "row_digest_mismatch" in printed
