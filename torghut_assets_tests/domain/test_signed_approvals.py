"""Approvals bound to a person (docs/approvals.md): each approver signs with their own Ed25519 key, the
server verifies against the approvers file, and every forgery or misuse is refused with its reason."""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import hashlib
import json
from collections.abc import Collection

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from torghut_assets.domain import signed_approvals as sa2
from torghut_assets.domain.approvals import (
    APPROVAL_EXPIRED,
    APPROVAL_NOT_YET_VALID,
    APPROVAL_POLICY_CHANGED,
    APPROVAL_REPLAYED,
    APPROVAL_ROLE_NOT_ALLOWED,
    APPROVAL_SIGNATURE_INVALID,
    APPROVAL_TOKEN_MALFORMED,
    APPROVAL_VALID,
    APPROVAL_WRONG_CANDIDATE,
    APPROVAL_WRONG_MODE,
    ApprovalProvenance,
    ApprovalUse,
    ApprovalUseOutcome,
)

NOW = dt.datetime(2026, 3, 2, 15, 0, tzinfo=dt.UTC)
CANDIDATE = "cand-4f1c0a9e2b7d-a"
CHECKSUM = "ad94592d24bc965ea80f9c42957735bc715e966fd149d4ad98350d3ed150cb22"
KEYS = {
    name: sa2.Ed25519PrivateKey.from_private_bytes(bytes([i]) * 32)
    for i, name in enumerate(("alice@desk", "bob@desk", "carol@desk"), start=1)
}
OUTSIDER = sa2.Ed25519PrivateKey.from_private_bytes(b"\x63" * 32)  # registered to no one
ROLES = {
    "alice@desk": ("head_of_trading", "risk_officer"),
    "bob@desk": ("risk_officer",),
    "carol@desk": ("head_of_trading",),
}


def public(name: str) -> bytes:
    return sa2.public_key_bytes(KEYS[name])


def approvers_file(roles: dict[str, tuple[str, ...]] | None = None, *, extra: str = "") -> bytes:
    blocks = [sa2.approver_block(n, public(n), r) for n, r in (roles or ROLES).items()]
    return ("version = 3\n\n" + "\n".join(blocks) + extra).encode()


APPROVERS = sa2.Approvers.from_toml(approvers_file(), origin="approvers.toml")


def approval(
    *,
    approver: str = "alice@desk",
    role: str = "head_of_trading",
    stage: str = "live_l1",
    signer: sa2.Ed25519PrivateKey | None = None,
    **changes: object,
) -> sa2.SignedApproval:
    made = sa2.new_signed_approval(
        candidate_id=CANDIDATE,
        target_stage=stage,
        approver=approver,
        approver_role=role,
        reason="paper period reviewed",
        public_key=sa2.public_key_bytes(signer or KEYS[approver]),
        now=NOW,
        symbols=("msft", "AAPL"),
        approval_id="apv-" + "0" * 31 + "1",
    )
    return dataclasses.replace(made, **changes)  # type: ignore[arg-type]


def signed_raw(approved: sa2.SignedApproval, key: sa2.Ed25519PrivateKey) -> str:
    """Sign whatever the payload says, with any key: what an attacker can do (no `sign` safety check)."""
    payload = json.dumps(approved.payload(), sort_keys=True, separators=(",", ":")).encode()
    signature = key.sign(sa2.SIGNING_CONTEXT + payload)
    return f"{sa2.TOKEN_PREFIX}{sa2._b64url(payload)}.{sa2._b64url(signature)}"


def verify(
    token: str,
    *,
    approvers: sa2.Approvers | None = APPROVERS,
    candidate_id: str = CANDIDATE,
    stage: str = "live_l1",
    now: dt.datetime = NOW + dt.timedelta(hours=1),
    used: Collection[str] = (),
    policy_checksum: str | None = CHECKSUM,
) -> sa2.SignedCheck:
    return sa2.verify_signed_token(
        token,
        approvers=approvers,
        candidate_id=candidate_id,
        target_stage=stage,
        now=now,
        used_approval_ids=used,
        policy_checksum=policy_checksum,
    )


# --- round trip ----------------------------------------------------------------------------------------


def test_a_signed_approval_verifies_and_names_who_signed_with_which_key_and_which_approvers_file() -> None:
    approved = approval()
    token = sa2.sign(approved, KEYS["alice@desk"])
    check = verify(token)
    assert check.verdict.valid and check.verdict.reason == APPROVAL_VALID
    assert check.verdict.override_id == approved.approval_id and check.approval == approved
    assert check.verdict.provenance == ApprovalProvenance(
        scheme="ed25519_v2",
        source="cli",
        approver="alice@desk",
        approver_role="head_of_trading",
        approvers_checksum=APPROVERS.checksum,
        key_id=sa2.key_id(public("alice@desk")),
    )
    assert check.approvers_checksum == hashlib.sha256(approvers_file()).hexdigest()


def test_the_token_is_a_versioned_base64url_payload_and_signature_holding_no_key_material() -> None:
    approved = approval()
    token = sa2.sign(approved, KEYS["alice@desk"])
    prefix, payload, signature = token.split(".")
    assert prefix == "tav2" and sa2.signature_part(token) == signature
    decoded = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    record_signature = decoded.pop("record_signature")
    assert decoded == {
        "v": 2,
        "approval_id": approved.approval_id,
        "candidate_id": CANDIDATE,
        "target_stage": "live_l1",
        "symbols": ["AAPL", "MSFT"],
        "approver": "alice@desk",
        "approver_role": "head_of_trading",
        "key_id": sa2.key_id(public("alice@desk")),
        "reason": "paper period reviewed",
        "issued_at": "2026-03-02T15:00:00Z",
        "expires_at": "2026-03-03T15:00:00Z",
        "source": "cli",
        "policy_checksum": None,
    }
    # the same key's signature over the record (the payload without it), under the record context
    record = json.dumps(decoded, sort_keys=True, separators=(",", ":")).encode()
    sa2.Ed25519PublicKey.from_public_bytes(public("alice@desk")).verify(
        base64.urlsafe_b64decode(record_signature + "=" * (-len(record_signature) % 4)),
        sa2.RECORD_CONTEXT + record,
    )
    assert len(base64.urlsafe_b64decode(signature + "==")) == 64
    raw = KEYS["alice@desk"].private_bytes_raw()
    assert base64.b64encode(raw).decode() not in token and raw.hex() not in token


def test_every_approval_gets_a_fresh_random_id() -> None:
    ids = {sa2.new_approval_id() for _ in range(50)}
    assert len(ids) == 50 and all(sa2._APPROVAL_ID_RE.fullmatch(i) for i in ids)


def test_sign_refuses_a_key_other_than_the_one_the_approval_names() -> None:
    with pytest.raises(ValueError, match="another key"):
        sa2.sign(approval(), KEYS["bob@desk"])


def test_a_private_key_round_trips_through_pem_with_and_without_a_passphrase() -> None:
    key = KEYS["alice@desk"]
    assert sa2.public_key_bytes(sa2.load_private_key(sa2.private_key_pem(key))) == public("alice@desk")
    encrypted = sa2.private_key_pem(key, b"correct horse")
    assert b"ENCRYPTED" in encrypted
    with pytest.raises(TypeError):
        sa2.load_private_key(encrypted)
    with pytest.raises(ValueError):
        sa2.load_private_key(encrypted, b"wrong")
    assert sa2.public_key_bytes(sa2.load_private_key(encrypted, b"correct horse")) == public("alice@desk")


# --- forged signatures ---------------------------------------------------------------------------------


def test_a_forged_signature_is_refused() -> None:
    token = sa2.sign(approval(), KEYS["alice@desk"])
    head, _, signature = token.rpartition(".")
    raw = bytearray(base64.urlsafe_b64decode(signature + "=="))
    raw[0] ^= 0x01
    assert verify(f"{head}.{sa2._b64url(bytes(raw))}").verdict.reason == APPROVAL_SIGNATURE_INVALID


def test_an_edited_payload_under_the_original_signature_is_refused() -> None:
    approved = approval()
    token = sa2.sign(approved, KEYS["alice@desk"])
    edited = dataclasses.replace(approved, target_stage="live_l3", expires_at=NOW + dt.timedelta(days=9))
    forged = signed_raw(edited, KEYS["alice@desk"]).rpartition(".")[0] + "." + sa2.signature_part(token)
    check = verify(forged, stage="live_l3")
    assert check.verdict.reason == APPROVAL_SIGNATURE_INVALID and check.approval is None


def test_a_key_claiming_to_be_the_approvers_key_is_refused_as_a_bad_signature() -> None:
    """The attacker copies alice's key id into the payload and signs with a key of their own."""
    forged = signed_raw(approval(), OUTSIDER)
    check = verify(forged)
    assert check.verdict.reason == APPROVAL_SIGNATURE_INVALID
    assert check.verdict.provenance is None  # a refused forgery is nobody's approval


# --- another person's key ------------------------------------------------------------------------------


def test_another_registered_persons_key_signing_in_an_approvers_name_is_refused() -> None:
    """bob (a risk officer) signs an approval naming alice (head of trading), with his own key."""
    token = sa2.sign(approval(signer=KEYS["bob@desk"]), KEYS["bob@desk"])
    check = verify(token)
    assert check.verdict.reason == sa2.APPROVAL_KEY_NOT_REGISTERED and not check.verdict.valid
    assert check.approval is None


def test_an_unregistered_key_signing_in_an_approvers_name_is_refused() -> None:
    token = sa2.sign(approval(signer=OUTSIDER), OUTSIDER)
    assert verify(token).verdict.reason == sa2.APPROVAL_KEY_NOT_REGISTERED


def test_an_approver_not_in_the_approvers_file_is_refused() -> None:
    token = sa2.sign(approval(approver="alice@desk"), KEYS["alice@desk"])
    without_alice = sa2.Approvers.from_toml(approvers_file({"bob@desk": ("risk_officer",)}))
    assert verify(token, approvers=without_alice).verdict.reason == sa2.APPROVAL_UNKNOWN_APPROVER


def test_a_registration_past_its_end_date_is_refused() -> None:
    ending = approvers_file({"bob@desk": ("risk_officer",)}).decode() + sa2.approver_block(
        "alice@desk", public("alice@desk"), ("head_of_trading",)
    ).replace('roles = ["head_of_trading"]', 'roles = ["head_of_trading"]\nnot_after = 2026-03-02T15:30:00Z')
    registry = sa2.Approvers.from_toml(ending.encode())
    token = sa2.sign(approval(), KEYS["alice@desk"])
    assert verify(token, approvers=registry, now=NOW + dt.timedelta(minutes=10)).verdict.valid
    late = verify(token, approvers=registry, now=NOW + dt.timedelta(minutes=30))
    assert late.verdict.reason == sa2.APPROVAL_APPROVER_EXPIRED


def test_without_a_usable_approvers_file_every_token_is_refused() -> None:
    token = sa2.sign(approval(), KEYS["alice@desk"])
    assert verify(token, approvers=None).verdict.reason == sa2.APPROVAL_APPROVERS_UNAVAILABLE


# --- single use, validity window -----------------------------------------------------------------------


def test_a_reused_approval_is_refused() -> None:
    approved = approval()
    token = sa2.sign(approved, KEYS["alice@desk"])
    check = verify(token, used={approved.approval_id})
    assert check.verdict.reason == APPROVAL_REPLAYED
    assert check.verdict.provenance is not None and check.verdict.provenance.approver == "alice@desk"


def test_a_replay_names_the_promotion_that_spent_the_approval_and_its_outcome() -> None:
    """Single use means single presentation: a denied promotion spent it, and the replay says so."""
    approved = approval()
    token = sa2.sign(approved, KEYS["alice@desk"])
    spender = ApprovalUse(promotion_id="prom-1", outcome=ApprovalUseOutcome.DENIED, at=NOW)
    check = verify(token, used={approved.approval_id: spender})
    assert check.verdict.reason == APPROVAL_REPLAYED and not check.verdict.valid
    assert check.verdict.spent_by == spender
    assert spender.describe() == f"spent by promotion prom-1 (denied) at {NOW.isoformat()}"
    assert verify(token, used={approved.approval_id}).verdict.spent_by is None  # a plain set: unknown


def test_a_forgery_naming_a_spent_approval_is_refused_for_its_signature_not_as_a_replay() -> None:
    approved = approval()
    token = sa2.sign(approved, KEYS["alice@desk"])
    forged = signed_raw(approved, OUTSIDER)
    check = verify(forged, used={approved.approval_id: ApprovalUse("prom-1", ApprovalUseOutcome.DENIED, NOW)})
    assert check.verdict.reason != APPROVAL_REPLAYED and check.verdict.spent_by is None
    assert verify(token).verdict.valid


def test_an_expired_approval_is_refused() -> None:
    token = sa2.sign(approval(), KEYS["alice@desk"])
    assert verify(token, now=NOW + dt.timedelta(hours=24)).verdict.reason == APPROVAL_EXPIRED
    assert verify(token, now=NOW + dt.timedelta(hours=24) - dt.timedelta(seconds=1)).verdict.valid


def test_an_approval_from_the_future_is_refused_beyond_the_clock_skew_allowance() -> None:
    token = sa2.sign(approval(), KEYS["alice@desk"])
    assert verify(token, now=NOW - sa2.MAX_CLOCK_SKEW).verdict.valid
    early = verify(token, now=NOW - sa2.MAX_CLOCK_SKEW - dt.timedelta(seconds=1))
    assert early.verdict.reason == APPROVAL_NOT_YET_VALID


def test_an_approval_valid_for_more_than_24_hours_is_refused_even_when_correctly_signed() -> None:
    long = dataclasses.replace(approval(), expires_at=NOW + dt.timedelta(days=7))
    token = sa2.sign(long, KEYS["alice@desk"])
    assert verify(token).verdict.reason == sa2.APPROVAL_VALIDITY_TOO_LONG


# --- scope and role ------------------------------------------------------------------------------------


def test_an_approval_for_another_candidate_is_refused() -> None:
    token = sa2.sign(approval(), KEYS["alice@desk"])
    assert verify(token, candidate_id="cand-other").verdict.reason == APPROVAL_WRONG_CANDIDATE


def test_an_approval_for_another_stage_is_refused() -> None:
    token = sa2.sign(approval(), KEYS["alice@desk"])
    assert verify(token, stage="live_l2").verdict.reason == APPROVAL_WRONG_MODE


def test_an_approval_bound_to_a_policy_checksum_is_refused_under_another_policy() -> None:
    bound = dataclasses.replace(approval(), policy_checksum=CHECKSUM)
    token = sa2.sign(bound, KEYS["alice@desk"])
    assert verify(token).verdict.valid
    assert verify(token, policy_checksum="0" * 64).verdict.reason == APPROVAL_POLICY_CHANGED


def test_a_role_the_approver_does_not_hold_is_refused() -> None:
    """bob is registered as a risk officer only; he signs (with his own key) claiming head of trading."""
    token = sa2.sign(approval(approver="bob@desk", role="head_of_trading"), KEYS["bob@desk"])
    assert verify(token).verdict.reason == sa2.APPROVAL_ROLE_NOT_HELD


def test_a_role_not_allowed_for_the_stage_is_refused() -> None:
    """A risk officer's approval, correctly signed, for a live stage (minting refuses it; the verifier
    must refuse it on its own)."""
    live = approval(approver="bob@desk", role="risk_officer", stage="paper", target_stage="live_l1")
    token = sa2.sign(live, KEYS["bob@desk"])
    assert verify(token).verdict.reason == APPROVAL_ROLE_NOT_ALLOWED
    paper = sa2.sign(approval(approver="bob@desk", role="risk_officer", stage="paper"), KEYS["bob@desk"])
    assert verify(paper, stage="paper").verdict.valid


def test_minting_refuses_a_bad_request_listing_every_problem() -> None:
    with pytest.raises(ValueError) as raised:
        sa2.new_signed_approval(
            candidate_id="",
            target_stage="shadow",
            approver="not an id",
            approver_role="intern",
            reason=" ",
            public_key=public("alice@desk"),
            now=NOW,
            ttl=dt.timedelta(hours=48),
            symbols=["AAPL;DROP"],
            policy_checksum="nope",
        )
    text = str(raised.value)
    for expected in ("candidate_id", "shadow", "approver", "intern", "reason", "validity", "symbols"):
        assert expected in text
    assert "policy_checksum" in text
    with pytest.raises(ValueError, match="may not approve a live stage"):
        approval(approver="bob@desk", role="risk_officer", stage="live_l2")


# --- hostile text --------------------------------------------------------------------------------------

VALID = sa2.sign(approval(), KEYS["alice@desk"])


@pytest.mark.parametrize(
    "token",
    [
        "",
        "tav2.",
        "tav2..",
        "tav2.abc",
        "tav2.a.b.c",
        VALID.replace("tav2.", "tav3."),
        VALID + "=",
        VALID.replace(".", ". ", 1),
        "tav2." + sa2._b64url(b"[1,2]") + "." + sa2.signature_part(VALID),
        "tav2." + sa2._b64url(b"\xff\xfe") + "." + sa2.signature_part(VALID),
        "tav2." + sa2._b64url(b"{}") + "." + sa2.signature_part(VALID),
        VALID.rpartition(".")[0] + "." + sa2._b64url(b"short"),
        "tav2." + "A" * 5000,
    ],
)
def test_malformed_tokens_are_refused(token: str) -> None:
    assert verify(token).verdict.reason == APPROVAL_TOKEN_MALFORMED


def test_a_payload_with_an_extra_or_missing_field_is_malformed() -> None:
    payload = approval().payload()
    for changed in ({**payload, "admin": True}, {k: v for k, v in payload.items() if k != "source"}):
        body = json.dumps(changed).encode()
        token = f"tav2.{sa2._b64url(body)}.{sa2._b64url(KEYS['alice@desk'].sign(sa2.SIGNING_CONTEXT + body))}"
        assert verify(token).verdict.reason == APPROVAL_TOKEN_MALFORMED


@settings(max_examples=400, deadline=None)
@given(
    st.text(max_size=300)
    | st.builds(lambda s: "tav2." + s, st.text(max_size=300))
    | st.integers(0, len(VALID) - 1).flatmap(
        lambda i: st.characters().map(lambda c: VALID[:i] + c + VALID[i + 1 :])
    )
)
def test_arbitrary_text_never_verifies_and_never_raises(token: str) -> None:
    if token == VALID:
        return
    check = verify(token)
    assert not check.verdict.valid


# --- the approvers file --------------------------------------------------------------------------------


def test_the_approvers_file_parses_and_its_checksum_is_the_sha256_of_its_bytes() -> None:
    data = approvers_file()
    registry = sa2.Approvers.from_toml(data, origin="x.toml")
    assert registry.version == 3 and registry.checksum == hashlib.sha256(data).hexdigest()
    alice = registry.get("alice@desk")
    assert alice is not None and alice.roles == {"head_of_trading", "risk_officer"}
    assert registry.by_key_id(sa2.key_id(public("bob@desk"))) == registry.get("bob@desk")


def test_the_shipped_approvers_file_is_valid_and_lists_no_one() -> None:
    from torghut_assets.settings import DEFAULT_APPROVERS_PATH

    registry = sa2.Approvers.from_toml(DEFAULT_APPROVERS_PATH.read_bytes())
    assert registry.version >= 1 and dict(registry.approvers) == {}


def test_an_invalid_approvers_file_reports_every_problem_at_once_naming_file_and_approver() -> None:
    alice_key = base64.b64encode(public("alice@desk")).decode()
    text = f"""
version = 0
owner = "desk"

[[approvers]]
id = "alice@desk"
public_key = "{alice_key}"
roles = ["head_of_trading"]

[[approvers]]
id = "alice@desk"
public_key = "{base64.b64encode(public("bob@desk")).decode()}"
roles = ["risk_officer"]

[[approvers]]
id = "mallory@desk"
public_key = "{alice_key}"
roles = ["risk_officer"]

[[approvers]]
id = "dave@desk"
public_key = "not base64!"
roles = []
not_after = 2027-01-01T00:00:00

[[approvers]]
id = "erin@desk"
public_key = "{base64.b64encode(b"x" * 31).decode()}"
roles = ["intern"]
colour = "blue"

[[approvers]]
public_key = "{alice_key}"
roles = ["risk_officer"]
"""
    with pytest.raises(sa2.ApproversFileError) as raised:
        sa2.Approvers.from_toml(text.encode(), origin="/etc/torghut/approvers.toml")
    problems = raised.value.problems
    assert "/etc/torghut/approvers.toml" in str(raised.value)
    expected = [
        "owner",
        "version must be a positive integer",
        "approver 'alice@desk' is listed twice",
        "approver 'mallory@desk': public_key is already registered to 'alice@desk'",
        "approver 'dave@desk': public_key is not base64 of 32 bytes",
        "approver 'dave@desk': roles must be a non-empty list",
        "approver 'dave@desk': not_after must be an offset date-time",
        "approver 'erin@desk': unknown key(s) colour",
        "approver 'erin@desk': public_key is not base64 of 32 bytes",
        "approver 'erin@desk': unknown role(s) intern",
        "approvers entry #6: id must match",
    ]
    for fragment in expected:
        assert any(fragment in p for p in problems), (fragment, problems)
    assert len(problems) == len(expected)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"version = 1\napprovers = [", "not valid TOML"),
        (b"\xff\xfe", "not UTF-8"),
        (b"version = 1\napprovers = 3", "array of tables"),
        (b"approvers = []", "version must be a positive integer"),
    ],
)
def test_an_unreadable_approvers_file_is_refused_with_its_reason(data: bytes, message: str) -> None:
    with pytest.raises(sa2.ApproversFileError, match=message):
        sa2.Approvers.from_toml(data, origin="a.toml")


def test_the_entry_printed_by_keygen_parses_back_to_the_same_key_and_roles() -> None:
    block = sa2.approver_block("alice@desk", public("alice@desk"), ["risk_officer", "head_of_trading"])
    registry = sa2.Approvers.from_toml(f"version = 1\n{block}".encode())
    alice = registry.get("alice@desk")
    assert alice is not None and alice.public_key == public("alice@desk")
    assert alice.roles == {"risk_officer", "head_of_trading"}
