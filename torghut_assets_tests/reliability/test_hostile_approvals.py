"""Hostile approval tokens are refused, on SQLite and PostgreSQL (issue 11 part 5, issue 23 items 4, 7).

The best candidate sits at paper (gates pass, live ramp enabled), so the only thing standing between it
and live_l1 is a valid approval. Every hostile attempt below goes through `run_promotion` and must:

- be denied, with the approval's refusal code on the promotion row (`evidence_bundle.approval_verdict`)
  and in the outcome's reason codes;
- be recorded in the evidence chain as a `promotion_decision` entry carrying that verdict;
- leave the approval unconsumed and the lane where it was (no rollout transition).

Approvals bound to a person (Ed25519, the production path) come first: a forged signature, another
person's key, a reused approval, and every scope/role/validity misuse are each caught with their reason.
Single use means single presentation: a genuine approval is spent by the first promotion it is presented
to even when that promotion is denied, and its replay is refused naming that promotion and its outcome;
a hostile presentation of an approval's id spends nothing.
The dev-only HMAC approvals follow, and production refuses those outright. A genuine token of each kind
in the same setup is accepted (the controls), so the refusals are the token's doing. Property tests then
throw arbitrary text at both verifiers and at the ledger-backed verification.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import hashlib
import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import example, given, settings
from hypothesis import strategies as st

from torghut_assets.defs.governance.approvals import ApprovalConfig
from torghut_assets.defs.governance.rollback import RollbackConfig
from torghut_assets.defs.launchpad import ApprovalStage, ApproverRole
from torghut_assets.domain import approvals
from torghut_assets.domain import signed_approvals as sa2
from torghut_assets.domain.stages import Stage
from torghut_assets.ledger import approval_store, route_controls, schema
from torghut_assets.ledger.evidence_log import verify_chain
from torghut_assets.services.approvals import ApprovalRefusedError, mint_approval
from torghut_assets.services.approvals import verify_approval as _verify_approval
from torghut_assets.services.promotion import PromotionResult
from torghut_assets.services.rollback import run_rollback
from torghut_assets_tests.defs.governance_harness import (
    APPROVER_KEYS,
    APPROVERS_FILE,
    CIO,
    LANE,
    MALLORY,
    RISK,
    SECRET,
    UNREGISTERED_KEY,
    GovernedLedger,
    approvers_toml,
)
from torghut_assets_tests.reliability.governed_snapshot import BACKENDS, governed_copy

BASELINE_TABLES = (
    "rollout_transitions",
    "gate_evaluations",
    "approval_overrides",
    "approval_uses",
    "candidate_lifecycle_events",
    "rollback_incidents",
    "route_control_events",
    "continuity_state",
    "research_promotions",
)
ATTACKER_SECRET = b"attacker-guessed-secret-of-plenty-length-000"


@dataclass(frozen=True)
class Baseline:
    """The ledger with the champion promoted to paper: what every test starts from and returns to."""

    champion: str
    ids: dict[str, frozenset[str]]
    evidence_seq: int
    lifecycles: dict[str, tuple[str, str]]
    transitions: list[tuple[int, str, str]]


@pytest.fixture(scope="module", params=BACKENDS)
def governed(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GovernedLedger]:
    yield from governed_copy(request, tmp_path_factory)


def _snapshot(ledger: GovernedLedger, champion: str) -> Baseline:
    engine = ledger.engine()
    try:
        with engine.connect() as conn:
            ids = {
                name: frozenset(
                    str(i) for i in conn.execute(sa.select(schema.metadata.tables[name].c.id)).scalars()
                )
                for name in BASELINE_TABLES
            }
            seq = int(conn.execute(sa.select(sa.func.max(schema.evidence_log.c.seq))).scalar_one())
            c = schema.research_candidates
            lifecycles = {
                str(r.candidate_id): (str(r.lifecycle_role), str(r.lifecycle_status))
                for r in conn.execute(sa.select(c.c.candidate_id, c.c.lifecycle_role, c.c.lifecycle_status))
            }
    finally:
        engine.dispose()
    return Baseline(champion, ids, seq, lifecycles, _transitions(ledger))


def _restore(ledger: GovernedLedger, baseline: Baseline) -> None:
    engine = ledger.engine()
    try:
        with engine.begin() as conn:
            for table in reversed(schema.metadata.sorted_tables):
                if table.name in baseline.ids:
                    conn.execute(table.delete().where(table.c.id.not_in(sorted(baseline.ids[table.name]))))
            conn.execute(
                schema.evidence_log.delete().where(schema.evidence_log.c.seq > baseline.evidence_seq)
            )
            c = schema.research_candidates
            for candidate_id, (role, status) in baseline.lifecycles.items():
                conn.execute(
                    c.update()
                    .where(c.c.candidate_id == candidate_id)
                    .values(lifecycle_role=role, lifecycle_status=status)
                )
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def baseline(governed: GovernedLedger) -> Iterator[Baseline]:
    governed.reset()
    champion = governed.candidates[0]
    promoted = governed.promote(champion, "paper")
    assert promoted.outcome.allowed, promoted.outcome.reason_codes
    yield _snapshot(governed, champion)
    governed.reset()


@pytest.fixture
def ledger(governed: GovernedLedger, baseline: Baseline) -> Iterator[GovernedLedger]:
    _restore(governed, baseline)
    yield governed
    _restore(governed, baseline)


def _transitions(ledger: GovernedLedger) -> list[tuple[int, str, str]]:
    return sorted((t["seq"], t["transition_type"], t["to_stage"]) for t in ledger.rows("rollout_transitions"))


def _decision_entries(ledger: GovernedLedger, after_seq: int) -> dict[str, dict[str, Any]]:
    log = schema.evidence_log
    engine = ledger.engine()
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                sa.select(log.c.content).where(
                    log.c.seq > after_seq, log.c.entry_kind == "promotion_decision"
                )
            ).scalars()
            return {str(content["id"]): content for content in rows}
    finally:
        engine.dispose()


def _latest_gate_evaluation_id(ledger: GovernedLedger, candidate_id: str) -> str:
    rows = ledger.rows("gate_evaluations", candidate_id=candidate_id)
    return str(max(rows, key=lambda r: r["evaluated_at"])["id"])


def _forge_record(
    ledger: GovernedLedger,
    *,
    candidate_id: str,
    target_mode: str,
    role: str,
    secret: bytes = SECRET.encode(),
    now: dt.datetime | None = None,
) -> tuple[approvals.ApprovalRecord, str]:
    """Write an approval row directly (bypassing `mint_approval`'s checks), signed with `secret`."""
    record = approvals.new_record(
        candidate_id=candidate_id,
        target_mode=target_mode,
        symbols=(),
        approver="insider@torghut",
        approver_role=role,
        reason="looks fine to me",
        policy_checksum=ledger.governance().policy().checksum(),
        gate_evaluation_id=_latest_gate_evaluation_id(ledger, candidate_id),
        now=(now or dt.datetime.now(dt.UTC)).replace(microsecond=0),
    )
    token = approvals.mint_token(record, secret)
    engine = ledger.engine()
    try:
        with engine.begin() as conn:
            approval_store.insert_override(conn, record, token)
    finally:
        engine.dispose()
    return record, token


def _attempt(ledger: GovernedLedger, token: str, **governance: Any) -> PromotionResult:
    return ledger.promote(ledger.candidates[0], "live", token=token, **governance)


def assert_refused(
    ledger: GovernedLedger,
    baseline: Baseline,
    result: PromotionResult,
    reason: str,
    override_id: str | None,
    *,
    transitions_before: list[tuple[int, str, str]] | None = None,
    consumed_by: str | None = None,
) -> None:
    """Denied with `reason` recorded on the row and in the chain; approval untouched; lane unmoved."""
    assert result.outcome.action == "deny" and result.transition is None
    assert result.approval_reason == reason
    assert reason in result.outcome.reason_codes, result.outcome.reason_codes
    (row,) = ledger.rows("research_promotions", id=result.promotion["id"])
    assert row["decision_action"] == "deny" and row["approved_mode"] is None
    assert row["evidence_bundle"]["approval_verdict"] == reason
    assert row["approver"] == "torghut_gates"  # no human approval was applied
    entries = _decision_entries(ledger, baseline.evidence_seq)
    assert entries[result.promotion["id"]]["evidence_bundle"]["approval_verdict"] == reason
    if override_id is not None:
        uses = ledger.rows("approval_uses", override_id=override_id)
        assert [u["used_by_promotion_id"] for u in uses] == ([] if consumed_by is None else [consumed_by])
    assert _transitions(ledger) == (transitions_before or baseline.transitions)
    engine = ledger.engine()
    try:
        with engine.connect() as conn:
            chain = verify_chain(conn)
    finally:
        engine.dispose()
    assert chain.ok, chain.breaks[:3]


def assert_names_its_spender(replay: PromotionResult, spender: PromotionResult, outcome: str) -> None:
    """A replay is refused naming the promotion decision that spent the approval, and its outcome."""
    spent_by = replay.approval_spent_by
    assert spent_by is not None and replay.approval_spent is None
    assert (spent_by.promotion_id, spent_by.outcome, spent_by.revoked) == (
        spender.promotion["id"],
        outcome,
        False,
    )
    recorded = replay.promotion["evidence_bundle"]["approval_spent_by"]
    assert (recorded["promotion_id"], recorded["outcome"]) == (spender.promotion["id"], outcome)
    assert replay.promotion["evidence_bundle"]["approval_spent"] is False


def _kill_switch(ledger: GovernedLedger, enabled: bool) -> None:
    engine = ledger.engine()
    try:
        with engine.begin() as conn:
            route_controls.record_control(
                conn,
                control=route_controls.TRADING_KILL_SWITCH,
                enabled=enabled,
                reason="incident 4411" if enabled else "incident 4411 resolved",
                operator="oncall@torghut",
                source="test",
                at=dt.datetime.now(dt.UTC),
            )
    finally:
        engine.dispose()


# === approvals bound to a person (Ed25519) ===========================================================


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _signed_as_anyone(approval: sa2.SignedApproval, key: sa2.Ed25519PrivateKey) -> str:
    """Sign whatever the payload claims with any key (what an attacker can do without the CLI's check)."""
    payload = json.dumps(approval.payload(), sort_keys=True, separators=(",", ":")).encode()
    return f"{sa2.TOKEN_PREFIX}{_b64(payload)}.{_b64(key.sign(sa2.SIGNING_CONTEXT + payload))}"


def test_a_genuine_signed_approval_in_the_same_setup_is_accepted_and_recorded(ledger: GovernedLedger) -> None:
    approval, token = ledger.approve(ledger.candidates[0], "live_l1")
    result = _attempt(ledger, token)
    assert result.outcome.action == "promote", result.outcome.reason_codes
    (stored,) = ledger.rows("approval_overrides", override_id=approval.approval_id)
    (use,) = ledger.rows("approval_uses", override_id=approval.approval_id)
    assert use["used_by_promotion_id"] == result.promotion["id"]
    assert (stored["approver"], stored["source"], stored["key_id"]) == (CIO, "cli", approval.key_id)


@pytest.mark.parametrize(
    "forgery",
    [
        "altered_signature",
        "payload_edited_under_the_original_signature",
        "signature_spliced_from_another_approval",
        "unregistered_key_copying_the_approvers_key_id",
        "registered_key_of_another_person_copying_the_approvers_key_id",
    ],
)
def test_a_forged_signature_on_a_signed_approval_is_refused(
    ledger: GovernedLedger, baseline: Baseline, forgery: str
) -> None:
    champion = ledger.candidates[0]
    approval, token = ledger.approve(champion, "live_l1")
    head, _, signature = token.rpartition(".")
    if forgery == "altered_signature":
        raw = bytearray(_unb64(signature))
        raw[10] ^= 0x40
        hostile = f"{head}.{_b64(bytes(raw))}"
    elif forgery == "payload_edited_under_the_original_signature":
        stretched = dataclasses.replace(approval, symbols=("AAPL", "TSLA"), reason="rubber stamp")
        hostile = _signed_as_anyone(stretched, APPROVER_KEYS[CIO]).rpartition(".")[0] + "." + signature
    elif forgery == "signature_spliced_from_another_approval":
        _, other = ledger.approve(champion, "live_l1")
        hostile = f"{head}.{sa2.signature_part(other)}"
    elif forgery == "unregistered_key_copying_the_approvers_key_id":
        hostile = _signed_as_anyone(approval, UNREGISTERED_KEY)
    else:
        hostile = _signed_as_anyone(approval, APPROVER_KEYS[MALLORY])
    result = _attempt(ledger, hostile)
    assert_refused(ledger, baseline, result, approvals.APPROVAL_SIGNATURE_INVALID, approval.approval_id)
    assert result.promotion["evidence_bundle"]["approval"] is None  # a forgery is nobody's approval
    assert ledger.rows("approval_overrides", override_id=approval.approval_id) == []


@pytest.mark.parametrize("signer", ["another_registered_person", "a_key_registered_to_no_one"])
def test_a_signed_approval_presenting_another_persons_key_is_refused(
    ledger: GovernedLedger, baseline: Baseline, signer: str
) -> None:
    """The approval names the head of trading but is signed by (and names) someone else's key."""
    key = APPROVER_KEYS[MALLORY] if signer == "another_registered_person" else UNREGISTERED_KEY
    approval, token = ledger.approve(ledger.candidates[0], "live_l1", approver=CIO, key=key)
    assert (
        approval.key_id != sa2.key_id(sa2.public_key_bytes(APPROVER_KEYS[CIO])) and approval.approver == CIO
    )
    assert_refused(
        ledger, baseline, _attempt(ledger, token), sa2.APPROVAL_KEY_NOT_REGISTERED, approval.approval_id
    )


def test_a_reused_signed_approval_is_refused_after_its_single_use(
    ledger: GovernedLedger, baseline: Baseline
) -> None:
    approval, token = ledger.approve(ledger.candidates[0], "live_l1")
    used = _attempt(ledger, token)
    assert used.outcome.allowed, used.outcome.reason_codes
    run_rollback(  # the lane's only champion: the lane goes flat, and the champion climbs back to paper
        RollbackConfig(lane=LANE, actor="oncall@torghut", reason="drill").request(),
        ledger=ledger.resources()["ledger"],
        now=dt.datetime.now(dt.UTC),
    )
    back = ledger.promote(ledger.candidates[0], "paper")
    assert back.outcome.allowed, back.outcome.reason_codes
    before = _transitions(ledger)
    for hostile in (token, token + " ", f"{token.rpartition('.')[0]}.{sa2.signature_part(token)}"):
        replay = _attempt(ledger, hostile)
        assert_refused(
            ledger,
            baseline,
            replay,
            approvals.APPROVAL_REPLAYED,
            approval.approval_id,
            transitions_before=before,
            consumed_by=used.promotion["id"],
        )
        assert_names_its_spender(replay, used, approvals.ApprovalUseOutcome.ALLOWED)


@pytest.mark.parametrize("kind", ["ed25519", "hmac_dev"])
def test_an_approval_presented_to_a_denied_promotion_is_spent_and_its_replay_refused(
    ledger: GovernedLedger, baseline: Baseline, kind: str
) -> None:
    """The token sits in the denied run's config: once the kill switch is lifted, the approval it
    carried must not promote anything (single use means single presentation)."""
    champion = ledger.candidates[0]
    if kind == "ed25519":
        signed, token = ledger.approve(champion, "live_l1")
        approval_id = signed.approval_id
    else:
        record, token = ledger.approve_hmac(champion, "live_l1")
        approval_id = record.override_id
    _kill_switch(ledger, True)
    denied = _attempt(ledger, token)
    assert denied.outcome.action == "deny" and "kill_switch_active" in denied.outcome.hard_blocks
    assert denied.approval_reason == approvals.APPROVAL_VALID and denied.approval_spent == approval_id
    assert denied.promotion["evidence_bundle"]["approval_spent"] is True
    assert denied.promotion["override_id"] == approval_id
    assert denied.promotion["approver"] == "torghut_gates"  # spent, but applied to nothing
    (stored,) = ledger.rows("approval_uses", override_id=approval_id)
    assert (stored["used_by_promotion_id"], stored["used_outcome"]) == (denied.promotion["id"], "deny")
    assert stored["used_at"] is not None
    _kill_switch(ledger, False)
    replay = _attempt(ledger, token)
    assert_refused(
        ledger,
        baseline,
        replay,
        approvals.APPROVAL_REPLAYED,
        approval_id,
        consumed_by=denied.promotion["id"],
    )
    assert_names_its_spender(replay, denied, approvals.ApprovalUseOutcome.DENIED)
    assert "kill_switch_active" not in replay.outcome.hard_blocks  # refused for the replay alone


@pytest.mark.parametrize("kind", ["ed25519", "hmac_dev"])
def test_a_hostile_presentation_of_an_approval_spends_nothing(
    ledger: GovernedLedger, baseline: Baseline, kind: str
) -> None:
    """A forgery naming a genuine approval's id fails verification: it is not that approval, so it
    must not burn it. The genuine token promotes afterwards."""
    champion = ledger.candidates[0]
    if kind == "ed25519":
        signed, token = ledger.approve(champion, "live_l1")
        approval_id = signed.approval_id
        head, _, signature = token.rpartition(".")
        raw = bytearray(_unb64(signature))
        raw[3] ^= 0x01
        hostile = f"{head}.{_b64(bytes(raw))}"
    else:
        record, token = ledger.approve_hmac(champion, "live_l1")
        approval_id = record.override_id
        hostile = _flip_last_hex(token)
    refused = _attempt(ledger, hostile)
    assert_refused(ledger, baseline, refused, approvals.APPROVAL_SIGNATURE_INVALID, approval_id)
    assert refused.approval_spent is None and refused.approval_spent_by is None
    assert refused.promotion["evidence_bundle"]["approval_spent"] is False
    genuine = _attempt(ledger, token)
    assert genuine.outcome.action == "promote", genuine.outcome.reason_codes
    (stored,) = ledger.rows("approval_uses", override_id=approval_id)
    assert (stored["used_by_promotion_id"], stored["used_outcome"]) == (genuine.promotion["id"], "allow")


def test_a_signed_approval_inserted_by_a_concurrent_promotion_first_is_a_replay_not_an_error(
    ledger: GovernedLedger, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The race the existence check cannot see: the second insert fails on the unique approval id inside
    a savepoint, reports a replay, and leaves the promotion's transaction usable."""
    approval, token = ledger.approve(ledger.candidates[0], "live_l1")
    now, gate_evaluation = dt.datetime.now(dt.UTC), str(uuid.uuid4())

    def use(conn: Any, promotion_id: str) -> bool:
        return approval_store.record_signed_use(
            conn,
            approval,
            token,
            promotion_id=promotion_id,
            outcome=approvals.ApprovalUseOutcome.ALLOWED,
            gate_evaluation_id=gate_evaluation,
            policy_checksum="0" * 64,
            approvers_checksum="1" * 64,
            at=now,
        )

    first, second = str(uuid.uuid4()), str(uuid.uuid4())
    engine = ledger.engine()
    try:
        with engine.begin() as conn:
            assert use(conn, first)
        monkeypatch.setattr(approval_store, "seen", lambda conn, approval_id: False)
        with engine.begin() as conn:
            assert not use(conn, second)
            conn.execute(sa.select(schema.approval_overrides.c.id)).all()  # still usable
    finally:
        engine.dispose()
    assert len(ledger.rows("approval_overrides", override_id=approval.approval_id)) == 1
    (stored,) = ledger.rows("approval_uses", override_id=approval.approval_id)
    assert stored["used_by_promotion_id"] == first


def test_a_signed_approval_revoked_in_advance_in_the_ledger_is_refused_as_used(
    ledger: GovernedLedger, baseline: Baseline
) -> None:
    approval, token = ledger.approve(ledger.candidates[0], "live_l1")
    engine = ledger.engine()
    with engine.begin() as conn:
        now = dt.datetime.now(dt.UTC)
        conn.execute(
            schema.approval_overrides.insert().values(
                id=str(uuid.uuid4()),
                override_id=approval.approval_id,
                candidate_id=approval.candidate_id,
                approver=approval.approver,
                approver_role=approval.approver_role,
                reason="revoked: key reported lost",
                scope={},
                policy_checksum="0" * 64,
                expires_at=approval.expires_at,
                token_sha256=approval_store.token_digest(approval.approval_id),
                revoked_at=now,
                created_at=now,
            )
        )
    engine.dispose()
    refused = _attempt(ledger, token)
    assert_refused(ledger, baseline, refused, approvals.APPROVAL_REPLAYED, None)
    assert refused.approval_spent_by is not None and refused.approval_spent_by.revoked
    assert refused.promotion["evidence_bundle"]["approval_spent_by"]["revoked"] is True


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("expired", approvals.APPROVAL_EXPIRED),
        ("issued_in_the_future", approvals.APPROVAL_NOT_YET_VALID),
        ("another_candidate", approvals.APPROVAL_WRONG_CANDIDATE),
        ("another_stage", approvals.APPROVAL_WRONG_MODE),
        ("unknown_approver", sa2.APPROVAL_UNKNOWN_APPROVER),
        ("role_not_held", sa2.APPROVAL_ROLE_NOT_HELD),
        ("role_not_allowed_for_live", approvals.APPROVAL_ROLE_NOT_ALLOWED),
        ("valid_for_a_week", sa2.APPROVAL_VALIDITY_TOO_LONG),
    ],
)
def test_a_correctly_signed_approval_misused_is_refused_with_its_reason(
    ledger: GovernedLedger, baseline: Baseline, case: str, reason: str
) -> None:
    champion, now = ledger.candidates[0], dt.datetime.now(dt.UTC)
    approval, token = ledger.approve(champion, "live_l1")
    if case == "expired":
        approval, token = ledger.approve(champion, "live_l1", now=now - dt.timedelta(hours=2), hours=1)
    elif case == "issued_in_the_future":
        approval, token = ledger.approve(champion, "live_l1", now=now + dt.timedelta(hours=1))
    elif case == "another_candidate":
        approval, token = ledger.approve(ledger.candidates[1], "live_l1")
    elif case == "another_stage":
        approval, token = ledger.approve(champion, "live_l2")
    elif case == "unknown_approver":  # a well-formed id and key that the approvers file does not list
        approval, token = _signed(approval, approver="eve@torghut", key=UNREGISTERED_KEY)
    elif case == "role_not_held":  # the risk officer claims the head of trading's role
        approval, token = _signed(approval, approver=RISK, approver_role="head_of_trading")
    elif case == "role_not_allowed_for_live":  # the risk officer signs for live with their own role
        approval, token = _signed(approval, approver=RISK, approver_role="risk_officer")
    else:
        approval, token = _signed(approval, expires_at=approval.issued_at + dt.timedelta(days=7))
    result = _attempt(ledger, token)
    assert_refused(ledger, baseline, result, reason, approval.approval_id)
    assert ledger.rows("approval_overrides", override_id=approval.approval_id) == []
    approvers_checksum = ledger.governance().approvers().checksum
    assert result.promotion["evidence_bundle"]["approvers_checksum"] == approvers_checksum


def _signed(approval: sa2.SignedApproval, *, key: sa2.Ed25519PrivateKey | None = None, **changes: Any) -> Any:
    approver = str(changes.get("approver", approval.approver))
    signer = key or APPROVER_KEYS[approver]
    edited = dataclasses.replace(approval, key_id=sa2.key_id(sa2.public_key_bytes(signer)), **changes)
    return edited, sa2.sign(edited, signer)


def test_an_approver_removed_from_the_approvers_file_can_no_longer_approve(
    ledger: GovernedLedger, baseline: Baseline, tmp_path: Path
) -> None:
    approval, token = ledger.approve(ledger.candidates[0], "live_l1")
    revised = tmp_path / APPROVERS_FILE
    revised.write_text(approvers_toml({RISK: ("risk_officer",)}, version=2), encoding="utf-8")
    result = _attempt(ledger, token, approvers_path=str(revised))
    assert_refused(ledger, baseline, result, sa2.APPROVAL_UNKNOWN_APPROVER, approval.approval_id)
    checksum = hashlib.sha256(revised.read_bytes()).hexdigest()
    assert result.promotion["evidence_bundle"]["approvers_checksum"] == checksum


@pytest.mark.parametrize("problem", ["missing", "invalid"])
def test_without_a_usable_approvers_file_every_signed_approval_is_refused(
    ledger: GovernedLedger, baseline: Baseline, tmp_path: Path, problem: str
) -> None:
    approval, token = ledger.approve(ledger.candidates[0], "live_l1")
    path = tmp_path / "approvers.toml"
    if problem == "invalid":
        path.write_text("version = 1\n[[approvers]]\nid = 'x'\n", encoding="utf-8")
    result = _attempt(ledger, token, approvers_path=str(path))
    assert_refused(ledger, baseline, result, sa2.APPROVAL_APPROVERS_UNAVAILABLE, approval.approval_id)


def test_production_refuses_hmac_tokens_even_with_the_right_secret(
    ledger: GovernedLedger, baseline: Baseline
) -> None:
    record, token = ledger.approve_hmac(ledger.candidates[0], "live_l1")
    result = _attempt(ledger, token, profile="production")
    assert_refused(ledger, baseline, result, approvals.APPROVAL_HMAC_REFUSED, record.override_id)
    garbage = _attempt(ledger, "not-a-token", profile="production")
    assert_refused(ledger, baseline, garbage, approvals.APPROVAL_TOKEN_MALFORMED, None)


# === dev only: HMAC approvals ========================================================================


def test_a_genuine_hmac_token_in_the_same_setup_is_accepted_in_dev(ledger: GovernedLedger) -> None:
    record, token = ledger.approve_hmac(ledger.candidates[0], "live_l1")
    result = _attempt(ledger, token)
    assert result.outcome.action == "promote", result.outcome.reason_codes
    (stored,) = ledger.rows("approval_uses", override_id=record.override_id)
    assert stored["used_by_promotion_id"] == result.promotion["id"]


# --- forged signatures -------------------------------------------------------------------------------


def _flip_last_hex(token: str) -> str:
    return token[:-1] + ("0" if token[-1] != "0" else "1")


@pytest.mark.parametrize(
    "forgery",
    ["altered_signature", "signed_with_a_guessed_secret", "signature_spliced_from_another_approval"],
)
def test_a_forged_hmac_signature_is_refused(ledger: GovernedLedger, baseline: Baseline, forgery: str) -> None:
    record, token = ledger.approve_hmac(ledger.candidates[0], "live_l1")
    if forgery == "altered_signature":
        hostile = _flip_last_hex(token)
    elif forgery == "signed_with_a_guessed_secret":
        hostile = approvals.mint_token(record, ATTACKER_SECRET)
    else:
        _, other = ledger.approve_hmac(ledger.candidates[0], "live_l2")
        hostile = f"{approvals.TOKEN_PREFIX}{record.override_id}.{other.rpartition('.')[2]}"
    assert_refused(
        ledger, baseline, _attempt(ledger, hostile), approvals.APPROVAL_SIGNATURE_INVALID, record.override_id
    )


def test_a_token_naming_no_stored_override_is_refused(ledger: GovernedLedger, baseline: Baseline) -> None:
    _, token = ledger.approve_hmac(ledger.candidates[0], "live_l1")
    invented = f"{approvals.TOKEN_PREFIX}wpao-{uuid.uuid4().hex[:24]}.{token.rpartition('.')[2]}"
    assert_refused(ledger, baseline, _attempt(ledger, invented), approvals.APPROVAL_UNKNOWN_OVERRIDE, None)


# --- validity window ---------------------------------------------------------------------------------


def test_an_expired_token_is_refused(ledger: GovernedLedger, baseline: Baseline) -> None:
    two_hours_ago = dt.datetime.now(dt.UTC) - dt.timedelta(hours=2)
    record, token = ledger.approve_hmac(ledger.candidates[0], "live_l1", now=two_hours_ago, hours=1)
    assert_refused(ledger, baseline, _attempt(ledger, token), approvals.APPROVAL_EXPIRED, record.override_id)


def test_a_token_minted_for_the_future_is_not_yet_valid(ledger: GovernedLedger, baseline: Baseline) -> None:
    in_an_hour = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    record, token = ledger.approve_hmac(ledger.candidates[0], "live_l1", now=in_an_hour)
    assert_refused(
        ledger, baseline, _attempt(ledger, token), approvals.APPROVAL_NOT_YET_VALID, record.override_id
    )


# --- single use --------------------------------------------------------------------------------------


def test_a_replayed_hmac_token_is_refused_after_its_single_use(
    ledger: GovernedLedger, baseline: Baseline
) -> None:
    record, token = ledger.approve_hmac(ledger.candidates[0], "live_l1")
    used = _attempt(ledger, token)
    assert used.outcome.allowed, used.outcome.reason_codes
    run_rollback(  # the lane's only champion: the lane goes flat, and the champion climbs back to paper
        RollbackConfig(lane=LANE, actor="oncall@torghut", reason="drill").request(),
        ledger=ledger.resources()["ledger"],
        now=dt.datetime.now(dt.UTC),
    )
    back = ledger.promote(ledger.candidates[0], "paper")
    assert back.outcome.allowed, back.outcome.reason_codes
    before = _transitions(ledger)
    replay = _attempt(ledger, token)
    assert_refused(
        ledger,
        baseline,
        replay,
        approvals.APPROVAL_REPLAYED,
        record.override_id,
        transitions_before=before,
        consumed_by=used.promotion["id"],
    )
    assert_names_its_spender(replay, used, approvals.ApprovalUseOutcome.ALLOWED)


# --- scope -------------------------------------------------------------------------------------------


def test_a_token_for_another_candidate_is_refused(ledger: GovernedLedger, baseline: Baseline) -> None:
    other = ledger.candidates[1]
    ledger.promote(other, "live_l1")  # the evaluation its approver reviews (denied: a stage skip)
    record, token = ledger.approve_hmac(other, "live_l1")
    assert_refused(
        ledger, baseline, _attempt(ledger, token), approvals.APPROVAL_WRONG_CANDIDATE, record.override_id
    )


@pytest.mark.parametrize(("stage", "role"), [("live_l2", "head_of_trading"), ("paper", "risk_officer")])
def test_a_token_for_another_stage_is_refused(
    ledger: GovernedLedger, baseline: Baseline, stage: str, role: str
) -> None:
    record, token = ledger.approve_hmac(ledger.candidates[0], stage, role=role)
    assert_refused(
        ledger, baseline, _attempt(ledger, token), approvals.APPROVAL_WRONG_MODE, record.override_id
    )


def test_a_correctly_signed_record_from_a_role_that_may_not_approve_live_is_refused(
    ledger: GovernedLedger, baseline: Baseline
) -> None:
    """`mint_approval` refuses a risk officer for a live stage, so the record is forged straight into
    `approval_overrides`, signed with the real secret: verification must refuse it on its own."""
    champion, role = ledger.candidates[0], approvals.ROLE_RISK_OFFICER
    engine = ledger.engine()
    with engine.begin() as conn, pytest.raises(ApprovalRefusedError, match=f"role {role!r} may not approve"):
        mint_approval(
            conn,
            ApprovalConfig(
                candidate_id=champion,
                target_stage=ApprovalStage.live_l1,
                approver="x@torghut",
                approver_role=ApproverRole(role),
                reason="r",
            ).request(),
            secret=SECRET.encode(),
            policy_checksum=ledger.governance().policy().checksum(),
            now=dt.datetime.now(dt.UTC),
        )
    engine.dispose()
    record, token = _forge_record(ledger, candidate_id=champion, target_mode="live_l1", role=role)
    assert_refused(
        ledger, baseline, _attempt(ledger, token), approvals.APPROVAL_ROLE_NOT_ALLOWED, record.override_id
    )


# --- the stored record is what was signed ------------------------------------------------------------


@pytest.mark.parametrize(
    ("column", "tamper"),
    [
        pytest.param("reason", lambda row: "rubber stamp", id="reason"),
        pytest.param(  # resurrect an expired approval
            "expires_at", lambda row: row["expires_at"] + dt.timedelta(days=7), id="expires_at"
        ),
        pytest.param("scope", lambda row: {**row["scope"], "symbols": ["AAPL", "TSLA"]}, id="scope"),
    ],
)
def test_an_approval_edited_in_the_ledger_after_minting_is_refused(
    ledger: GovernedLedger, baseline: Baseline, column: str, tamper: Callable[[dict[str, Any]], Any]
) -> None:
    minted_at = dt.datetime.now(dt.UTC) - (
        dt.timedelta(hours=2) if column == "expires_at" else dt.timedelta()
    )
    record, token = ledger.approve_hmac(ledger.candidates[0], "live_l1", now=minted_at, hours=1)
    (row,) = ledger.rows("approval_overrides", override_id=record.override_id)
    t = schema.approval_overrides
    engine = ledger.engine()
    with engine.begin() as conn:
        conn.execute(t.update().where(t.c.override_id == record.override_id).values({column: tamper(row)}))
    engine.dispose()
    assert_refused(
        ledger, baseline, _attempt(ledger, token), approvals.APPROVAL_SIGNATURE_INVALID, record.override_id
    )


# --- the verifier's secret ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "secret",
    [
        pytest.param("too-short-secret", id="short"),
        pytest.param("", id="empty"),
        pytest.param(None, id="unset"),
    ],
)
def test_without_a_usable_secret_every_token_is_refused(
    ledger: GovernedLedger, baseline: Baseline, secret: str | None
) -> None:
    record, token = ledger.approve_hmac(ledger.candidates[0], "live_l1")
    result = _attempt(ledger, token, approval_secret=secret, allow_dev_secret=False)
    assert_refused(ledger, baseline, result, approvals.APPROVAL_SECRET_MISSING, None)
    assert ledger.rows("approval_uses", override_id=record.override_id) == []


def test_the_dev_secret_fallback_does_not_verify_a_token_signed_with_the_real_secret(
    ledger: GovernedLedger, baseline: Baseline, tmp_path: Path
) -> None:
    record, token = ledger.approve_hmac(ledger.candidates[0], "live_l1")
    result = _attempt(ledger, token, approval_secret=None, allow_dev_secret=True, dagster_home=str(tmp_path))
    assert_refused(ledger, baseline, result, approvals.APPROVAL_SIGNATURE_INVALID, record.override_id)


# --- arbitrary token text ----------------------------------------------------------------------------

NOW = dt.datetime(2026, 3, 4, 12, 0, tzinfo=dt.UTC)
RECORD = approvals.new_record(
    candidate_id="cand-fuzz",
    target_mode=Stage.LIVE_L1.value,
    symbols=("AAPL",),
    approver="cio@torghut",
    approver_role=approvals.ROLE_HEAD_OF_TRADING,
    reason="fuzz target",
    policy_checksum="p" * 64,
    gate_evaluation_id="ge-1",
    now=NOW - dt.timedelta(hours=1),
    override_id="wpao-fuzz",
)
VALID = approvals.mint_token(RECORD, SECRET.encode())
HEX = "0123456789abcdef"


def _mutations(valid: str) -> st.SearchStrategy[str]:
    n = len(valid)
    return st.one_of(
        st.tuples(st.integers(0, n - 1), st.characters()).map(
            lambda p: valid[: p[0]] + p[1] + valid[p[0] + 1 :]
        ),
        st.integers(0, n - 1).map(lambda i: valid[:i] + valid[i + 1 :]),
        st.tuples(st.integers(0, n), st.characters()).map(lambda p: valid[: p[0]] + p[1] + valid[p[0] :]),
        st.text(min_size=1, max_size=40).map(lambda s: valid + s),
        st.integers(1, n - 1).map(lambda k: valid[:k]),
        st.sampled_from([valid.upper(), valid.swapcase(), valid.replace(".", ":"), valid * 2]),
    )


def _near_valid() -> st.SearchStrategy[str]:
    override_ids = st.one_of(
        st.just(RECORD.override_id), st.from_regex(r"[A-Za-z0-9_-]{1,128}", fullmatch=True)
    )
    signatures = st.one_of(st.text(alphabet=HEX, min_size=64, max_size=64), st.text(max_size=70))
    return st.builds(lambda o, s: f"{approvals.TOKEN_PREFIX}{o}.{s}", override_ids, signatures)


HOSTILE_TEXT = st.one_of(
    st.text(),
    st.binary(max_size=300).map(lambda b: b.decode("utf-8", errors="replace")),
    st.binary(max_size=300).map(lambda b: b.decode("latin-1")),
    st.text(min_size=500, max_size=5000),
    _near_valid(),
    _mutations(VALID).filter(lambda t: t != VALID),
)


def _lookup(override_id: str) -> approvals.ApprovalRecord | None:
    return RECORD if override_id == RECORD.override_id else None


@settings(max_examples=600, deadline=None)
@given(token=HOSTILE_TEXT)
@example(token="")
@example(token="wpat-")
@example(token="wpat-.")
@example(token=f"wpat-{RECORD.override_id}.{'0' * 64}")
@example(token="wpat-" + "a" * 129 + "." + "0" * 64)
@example(token=VALID + "\x00")
@example(token="\x00" * 10_000)
def test_verify_token_never_raises_and_never_accepts_arbitrary_text(token: str) -> None:
    verdict = approvals.verify_token(
        token,
        secret=SECRET.encode(),
        record_lookup=_lookup,
        candidate_id=RECORD.candidate_id,
        target_mode=RECORD.scope.target_mode,
        policy_checksum=RECORD.policy_checksum,
        now=NOW,
        used_override_ids=set(),
    )
    assert not verdict.valid and verdict.reason != approvals.APPROVAL_VALID


def test_the_fuzz_target_token_itself_verifies() -> None:
    """Guards the property test above: its record, secret and clock do accept the genuine token."""
    verdict = approvals.verify_token(
        VALID,
        secret=SECRET.encode(),
        record_lookup=_lookup,
        candidate_id=RECORD.candidate_id,
        target_mode=RECORD.scope.target_mode,
        policy_checksum=RECORD.policy_checksum,
        now=NOW,
        used_override_ids=set(),
    )
    assert verdict.valid


SIGNED_NOW = dt.datetime(2026, 3, 4, 12, 0, tzinfo=dt.UTC)
SIGNED_REGISTRY = sa2.Approvers.from_toml(approvers_toml().encode())
SIGNED = sa2.new_signed_approval(
    candidate_id="cand-fuzz",
    target_stage=Stage.LIVE_L1.value,
    approver=CIO,
    approver_role=approvals.ROLE_HEAD_OF_TRADING,
    reason="fuzz target",
    public_key=sa2.public_key_bytes(APPROVER_KEYS[CIO]),
    now=SIGNED_NOW - dt.timedelta(hours=1),
)
SIGNED_VALID = sa2.sign(SIGNED, APPROVER_KEYS[CIO])
B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
SIGNED_HOSTILE = st.one_of(
    st.text(),
    st.text(min_size=500, max_size=5000).map(lambda s: sa2.TOKEN_PREFIX + s),
    st.text(alphabet=B64, min_size=1, max_size=120).map(lambda s: f"{SIGNED_VALID.rpartition('.')[0]}.{s}"),
    st.text(alphabet=B64 + ".", max_size=600).map(lambda s: sa2.TOKEN_PREFIX + s),
    _mutations(SIGNED_VALID).filter(lambda t: t != SIGNED_VALID),
)


def _verify_signed(token: str) -> sa2.SignedCheck:
    return sa2.verify_signed_token(
        token,
        approvers=SIGNED_REGISTRY,
        candidate_id=SIGNED.candidate_id,
        target_stage=SIGNED.target_stage,
        now=SIGNED_NOW,
        used_approval_ids=set(),
    )


@settings(max_examples=600, deadline=None)
@given(token=SIGNED_HOSTILE)
@example(token=SIGNED_VALID + "\x00")
@example(token=SIGNED_VALID.replace("tav2.", "tav2.."))
@example(token="tav2." + "A" * 10_000)
def test_verify_signed_token_never_raises_and_never_accepts_arbitrary_text(token: str) -> None:
    check = _verify_signed(token)
    assert not check.verdict.valid and check.verdict.reason != approvals.APPROVAL_VALID


def test_the_signed_fuzz_target_itself_verifies() -> None:
    """Guards the property test above: its registry, key and clock do accept the genuine token."""
    assert _verify_signed(SIGNED_VALID).verdict.valid


def test_ledger_backed_verification_refuses_arbitrary_text_for_a_stored_approval(
    ledger: GovernedLedger,
) -> None:
    champion = ledger.candidates[0]
    record, _ = ledger.approve_hmac(champion, "live_l1")
    governance = ledger.governance()
    policy = governance.policy()
    same_override = st.text(alphabet=HEX, min_size=64, max_size=64).map(
        lambda s: f"{approvals.TOKEN_PREFIX}{record.override_id}.{s}"
    )
    engine = ledger.engine()

    @settings(max_examples=150, deadline=None)
    @given(token=st.one_of(HOSTILE_TEXT, same_override, SIGNED_HOSTILE))
    def refused(token: str) -> None:
        with engine.connect() as conn:
            verdict = _verify_approval(
                conn,
                token,
                governance=governance,
                candidate_id=champion,
                stage=Stage.LIVE_L1,
                policy=policy,
                now=dt.datetime.now(dt.UTC),
            )
        assert verdict is None or not verdict.valid
        assert verdict is not None or not token.strip()  # only a blank token counts as "none presented"

    try:
        refused()
    finally:
        engine.dispose()
    assert ledger.rows("approval_uses", override_id=record.override_id) == []
