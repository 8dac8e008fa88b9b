"""An approval's public record and the approver's signature over it (docs/evidence-pack.md): what the
ledger keeps so an auditor can check an approval offline, and why it can never be presented as one."""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import json

from torghut_assets.domain import signed_approvals as sa2
from torghut_assets.domain.approvals import (
    APPROVAL_SIGNATURE_INVALID,
    APPROVAL_TOKEN_MALFORMED,
    APPROVAL_VALID,
)

NOW = dt.datetime(2026, 3, 2, 15, 0, tzinfo=dt.UTC)
CANDIDATE = "cand-4f1c0a9e2b7d-a"
KEYS = {
    name: sa2.Ed25519PrivateKey.from_private_bytes(bytes([i]) * 32)
    for i, name in enumerate(("alice@desk", "bob@desk"), start=1)
}
OUTSIDER = sa2.Ed25519PrivateKey.from_private_bytes(b"\x63" * 32)
APPROVERS = sa2.Approvers.from_toml(
    (
        "version = 2\n\n"
        + sa2.approver_block("alice@desk", sa2.public_key_bytes(KEYS["alice@desk"]), ["head_of_trading"])
        + sa2.approver_block("bob@desk", sa2.public_key_bytes(KEYS["bob@desk"]), ["risk_officer"])
    ).encode()
)


def approval(
    name: str = "alice@desk", role: str = "head_of_trading", key: str | None = None
) -> sa2.SignedApproval:
    return sa2.new_signed_approval(
        candidate_id=CANDIDATE,
        target_stage="live_l1",
        approver=name,
        approver_role=role,
        reason="paper period reviewed",
        public_key=sa2.public_key_bytes(KEYS[key or name]),
        now=NOW,
        approval_id="apv-" + "0" * 31 + "7",
    )


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def record_of(token: str) -> tuple[dict[str, object], str]:
    parsed = sa2.parse_signed_token(token)
    assert parsed is not None and parsed[0].record_signature is not None
    return parsed[0].record(), parsed[0].record_signature


def verify(token: str) -> str:
    return sa2.verify_signed_token(
        token,
        approvers=APPROVERS,
        candidate_id=CANDIDATE,
        target_stage="live_l1",
        now=NOW + dt.timedelta(hours=1),
        used_approval_ids=(),
    ).verdict.reason


def test_a_token_carries_the_approvers_signature_over_its_public_record() -> None:
    token = sa2.sign(approval(), KEYS["alice@desk"])
    record, signature = record_of(token)
    assert "record_signature" not in record and record["approver"] == "alice@desk"
    checked, verdict = sa2.check_approval_record(record, signature, APPROVERS)
    assert verdict == APPROVAL_VALID and checked == approval()
    assert verify(token) == APPROVAL_VALID


def test_the_record_and_its_signature_cannot_be_presented_as_a_token() -> None:
    token = sa2.sign(approval(), KEYS["alice@desk"])
    record, signature = record_of(token)
    body = json.dumps(record, sort_keys=True, separators=(",", ":")).encode()
    with_signature = json.dumps(
        {**record, "record_signature": signature}, sort_keys=True, separators=(",", ":")
    )
    for payload in (body, with_signature.encode()):
        assert verify(f"tav2.{b64(payload)}.{signature}") == APPROVAL_SIGNATURE_INVALID


def test_a_token_whose_record_signature_is_not_the_approvers_is_refused() -> None:
    forged = dataclasses.replace(
        approval(), record_signature=b64(OUTSIDER.sign(sa2.RECORD_CONTEXT + sa2.record_bytes(approval())))
    )
    payload = json.dumps(forged.payload(), sort_keys=True, separators=(",", ":")).encode()
    token = f"tav2.{b64(payload)}.{b64(KEYS['alice@desk'].sign(sa2.SIGNING_CONTEXT + payload))}"
    assert verify(token) == APPROVAL_SIGNATURE_INVALID


def test_a_record_is_checked_like_a_token_against_the_approvers_file() -> None:
    good = approval()
    signature = b64(KEYS["alice@desk"].sign(sa2.RECORD_CONTEXT + sa2.record_bytes(good)))
    cases = {
        "approval_unknown_approver": ({**good.record(), "approver": "mallory@desk"}, signature),
        "approval_key_not_registered_for_approver": (
            approval("alice@desk", key="bob@desk").record(),
            signature,
        ),
        APPROVAL_SIGNATURE_INVALID: ({**good.record(), "reason": "edited after signing"}, signature),
        "approval_role_not_held_by_approver": (
            approval("bob@desk", role="head_of_trading").record(),
            b64(
                KEYS["bob@desk"].sign(
                    sa2.RECORD_CONTEXT + sa2.record_bytes(approval("bob@desk", role="head_of_trading"))
                )
            ),
        ),
        APPROVAL_TOKEN_MALFORMED: ({**good.record(), "v": 1}, signature),
    }
    for expected, (record, sig) in cases.items():
        assert sa2.check_approval_record(record, sig, APPROVERS)[1] == expected, expected


def test_a_record_without_its_signature_is_not_authenticated() -> None:
    checked, verdict = sa2.check_approval_record(approval().record(), None, APPROVERS)
    assert verdict == APPROVAL_TOKEN_MALFORMED and checked is not None and checked.record_signature is None
