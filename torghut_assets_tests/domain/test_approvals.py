"""Hostile checks of HMAC approval overrides, the dev-only path (docs/approvals.md): each forgery has one
stable refusal."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Collection

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from torghut_assets.domain.approvals import (
    ALLOWED_ROLES,
    APPROVAL_EXPIRED,
    APPROVAL_NOT_YET_VALID,
    APPROVAL_POLICY_CHANGED,
    APPROVAL_REPLAYED,
    APPROVAL_ROLE_NOT_ALLOWED,
    APPROVAL_SECRET_MISSING,
    APPROVAL_SIGNATURE_INVALID,
    APPROVAL_TOKEN_MALFORMED,
    APPROVAL_UNKNOWN_OVERRIDE,
    APPROVAL_VALID,
    APPROVAL_WRONG_CANDIDATE,
    APPROVAL_WRONG_MODE,
    ApprovalRecord,
    ApprovalUse,
    ApprovalUseOutcome,
    ApprovalVerdict,
    mint_token,
    new_record,
    verify_token,
)

SECRET = b"k" * 32
NOW = dt.datetime(2026, 3, 2, 15, 0, tzinfo=dt.UTC)
CANDIDATE = "cand-4f1c0a9e2b7d-a"
CHECKSUM = "ad94592d24bc965ea80f9c42957735bc715e966fd149d4ad98350d3ed150cb22"


def make_record(mode: str = "paper", role: str = "risk_officer", **changes: object) -> ApprovalRecord:
    record = new_record(
        candidate_id=CANDIDATE,
        target_mode=mode,
        symbols=("AAPL", "MSFT"),
        approver="alice",
        approver_role=role,
        reason="paper canary after clean gate report",
        policy_checksum=CHECKSUM,
        gate_evaluation_id="wpge-0123456789abcdef01234567",
        now=NOW,
        override_id="wpao-000000000000000000000001",
    )
    return dataclasses.replace(record, **changes)  # type: ignore[arg-type]


def verify(
    token: str,
    stored: ApprovalRecord | None,
    *,
    secret: bytes = SECRET,
    candidate_id: str = CANDIDATE,
    target_mode: str = "paper",
    policy_checksum: str = CHECKSUM,
    now: dt.datetime = NOW + dt.timedelta(hours=1),
    used: Collection[str] = (),
) -> ApprovalVerdict:
    def lookup(override_id: str) -> ApprovalRecord | None:
        return stored if stored is not None and stored.override_id == override_id else None

    return verify_token(
        token,
        secret=secret,
        record_lookup=lookup,
        candidate_id=candidate_id,
        target_mode=target_mode,
        policy_checksum=policy_checksum,
        now=now,
        used_override_ids=used,
    )


def test_valid_token_verifies() -> None:
    record = make_record()
    token = mint_token(record, SECRET)
    assert token.startswith("wpat-wpao-000000000000000000000001.")
    verdict = verify(token, record)
    assert verdict == ApprovalVerdict(valid=True, reason=APPROVAL_VALID, override_id=record.override_id)


def test_default_expiry_is_24_hours() -> None:
    record = make_record()
    assert record.expires_at - record.created_at == dt.timedelta(hours=24)
    assert "risk_officer" in ALLOWED_ROLES and "head_of_trading" in ALLOWED_ROLES


def test_forged_signature_refused() -> None:
    record = make_record()
    token = mint_token(record, SECRET)
    forged = token[:-64] + ("0" if token[-64] != "0" else "1") + token[-63:]
    assert verify(forged, record).reason == APPROVAL_SIGNATURE_INVALID
    other_key = mint_token(record, b"z" * 32)
    assert verify(other_key, record).reason == APPROVAL_SIGNATURE_INVALID


def test_tampered_record_refused() -> None:
    record = make_record()
    token = mint_token(record, SECRET)
    extended = dataclasses.replace(record, expires_at=record.expires_at + dt.timedelta(days=30))
    verdict = verify(token, extended, now=NOW + dt.timedelta(days=2))
    assert verdict.reason == APPROVAL_SIGNATURE_INVALID and not verdict.valid


def test_expired_refused() -> None:
    record = make_record()
    verdict = verify(mint_token(record, SECRET), record, now=NOW + dt.timedelta(hours=24))
    assert verdict.reason == APPROVAL_EXPIRED


def test_not_yet_valid_refused() -> None:
    record = make_record()
    verdict = verify(mint_token(record, SECRET), record, now=NOW - dt.timedelta(seconds=1))
    assert verdict.reason == APPROVAL_NOT_YET_VALID


def test_replayed_refused() -> None:
    record = make_record()
    verdict = verify(mint_token(record, SECRET), record, used={record.override_id})
    assert verdict.reason == APPROVAL_REPLAYED


def test_a_replay_names_what_spent_the_approval() -> None:
    record = make_record()
    token = mint_token(record, SECRET)
    spender = ApprovalUse(promotion_id="prom-7", outcome=ApprovalUseOutcome.ALLOWED, at=NOW)
    verdict = verify(token, record, used={record.override_id: spender})
    assert (verdict.valid, verdict.reason, verdict.spent_by) == (False, APPROVAL_REPLAYED, spender)
    assert spender.as_dict() == {
        "promotion_id": "prom-7",
        "outcome": "allow",
        "at": NOW.isoformat(),
        "revoked": False,
    }
    assert ApprovalUse(None, None, NOW, revoked=True).describe() == f"revoked at {NOW.isoformat()}"
    forged = token[:-1] + ("0" if token[-1] != "0" else "1")  # not this approval: no replay, no spender
    refused = verify(forged, record, used={record.override_id: spender})
    assert refused.reason == APPROVAL_SIGNATURE_INVALID and refused.spent_by is None


def test_unknown_override_refused() -> None:
    record = make_record()
    assert verify(mint_token(record, SECRET), None).reason == APPROVAL_UNKNOWN_OVERRIDE


def test_wrong_candidate_refused() -> None:
    record = make_record()
    verdict = verify(mint_token(record, SECRET), record, candidate_id="cand-4f1c0a9e2b7d-b")
    assert verdict.reason == APPROVAL_WRONG_CANDIDATE


def test_wrong_mode_refused() -> None:
    record = make_record()
    verdict = verify(mint_token(record, SECRET), record, target_mode="live_l1")
    assert verdict.reason == APPROVAL_WRONG_MODE


def test_policy_checksum_changed_refused() -> None:
    record = make_record()
    verdict = verify(mint_token(record, SECRET), record, policy_checksum="0" * 64)
    assert verdict.reason == APPROVAL_POLICY_CHANGED


def test_live_needs_head_of_trading() -> None:
    officer = make_record(mode="live_l1", role="risk_officer")
    verdict = verify(mint_token(officer, SECRET), officer, target_mode="live_l1")
    assert verdict.reason == APPROVAL_ROLE_NOT_ALLOWED
    head = make_record(mode="live_l1", role="head_of_trading")
    assert verify(mint_token(head, SECRET), head, target_mode="live_l1").valid
    intern = make_record(role="intern")
    assert verify(mint_token(intern, SECRET), intern).reason == APPROVAL_ROLE_NOT_ALLOWED


@pytest.mark.parametrize(
    "token",
    [
        "",
        "wpat-",
        "wpat-.",
        "wpat-abc",
        "wpat-abc." + "g" * 64,
        "wpat-a.b." + "0" * 64,
        "wpat-a." + "0" * 63,
        "xpat-a." + "0" * 64,
    ],
)
def test_malformed_tokens_refused(token: str) -> None:
    assert verify(token, make_record()).reason == APPROVAL_TOKEN_MALFORMED


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200) | st.builds(lambda s: "wpat-" + s, st.text(max_size=120)))
def test_arbitrary_text_never_verifies_and_never_raises(token: str) -> None:
    verdict = verify(token, make_record())
    assert not verdict.valid
    assert verdict.reason in {APPROVAL_TOKEN_MALFORMED, APPROVAL_UNKNOWN_OVERRIDE, APPROVAL_SIGNATURE_INVALID}


def test_empty_or_short_secret_refused() -> None:
    record = make_record()
    for bad in (b"", b"short"):
        with pytest.raises(ValueError):
            mint_token(record, bad)
    assert verify(mint_token(record, SECRET), record, secret=b"").reason == APPROVAL_SECRET_MISSING


def test_record_requires_aware_times_and_reason() -> None:
    with pytest.raises(ValueError):
        make_record(created_at=NOW.replace(tzinfo=None))
    with pytest.raises(ValueError):
        make_record(reason=" ")
