"""Approvals bound to a person: Ed25519-signed, scoped, expiring, single use (docs/approvals.md).

Each approver holds an Ed25519 private key on their own machine. Their public key and roles are in the
approvers file (TOML, versioned; its sha256 is recorded with every approval it verified). An approval
is a canonical JSON payload signed with the approver's key:

    tav2.<base64url(payload)>.<base64url(signature)>

The payload names a random `approval_id` (the single-use nonce), the candidate, the target stage, the
symbols, the approver, their role, the id of the key that signed, the reason, when it was issued and
when it expires, and where it was minted (`source`). The signature covers a fixed context string plus
the payload bytes exactly as encoded in the token.

Verification is fail closed and pure: hostile text yields a refusal with a stable reason code, never an
exception. The cryptographic checks come first (nothing in the payload is trusted before the named
approver's registered key has verified it), then single use, validity window, scope and role. Single use
means single presentation: a verified approval is spent by the first promotion it is presented to,
allowed or denied (`services/promotion.py`).

No server-side secret can mint one of these: the server holds public keys only.

This module holds the keys, signing and verification; the token format is
`signed_approval_tokens.py` and the approvers file `approvers_file.py`. Every public name of the three is
importable from here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass, replace

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from torghut_assets.domain.approvals import (
    ALLOWED_ROLES,
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
    LIVE_ROLES,
    ApprovalVerdict,
    is_live_mode,
    recorded_use,
)
from torghut_assets.domain.approvers_file import Approver, Approvers, ApproversFileError, approver_block
from torghut_assets.domain.signed_approval_tokens import (
    _APPROVAL_ID_RE,  # noqa: F401  (tests forge tokens with it)
    APPROVAL_ID_PREFIX,
    APPROVER_ID_RE,
    DEFAULT_TTL,
    MAX_REASON_CHARS,
    MAX_SYMBOLS,
    MAX_TOKEN_CHARS,
    MAX_TTL,
    PAYLOAD_VERSION,
    RECORD_CONTEXT,
    RECORD_SIGNATURE_KEY,
    SIGNED_SOURCES,
    SIGNING_CONTEXT,
    SOURCE_CLI,
    TOKEN_PREFIX,
    SignedApproval,
    _b64url,
    _from_b64url,
    _payload_bytes,
    _require_utc_aware,
    approval_from_record,
    approval_problems,
    claimed_approval_id,
    key_id,
    new_approval_id,
    new_signed_approval,
    parse_signed_token,
    record_bytes,
    signature_part,
)

__all__ = [
    "ALLOWED_ROLES",
    "APPROVAL_APPROVERS_UNAVAILABLE",
    "APPROVAL_APPROVER_EXPIRED",
    "APPROVAL_ID_PREFIX",
    "APPROVAL_KEY_NOT_REGISTERED",
    "APPROVAL_ROLE_NOT_HELD",
    "APPROVAL_UNKNOWN_APPROVER",
    "APPROVAL_VALIDITY_TOO_LONG",
    "APPROVER_ID_RE",
    "DEFAULT_TTL",
    "MAX_CLOCK_SKEW",
    "MAX_REASON_CHARS",
    "MAX_SYMBOLS",
    "MAX_TOKEN_CHARS",
    "MAX_TTL",
    "PAYLOAD_VERSION",
    "RECORD_CONTEXT",
    "RECORD_SIGNATURE_KEY",
    "SIGNED_SOURCES",
    "SIGNING_CONTEXT",
    "SOURCE_CLI",
    "TOKEN_PREFIX",
    "Approver",
    "Approvers",
    "ApproversFileError",
    "Ed25519PrivateKey",
    "Ed25519PublicKey",
    "SignedApproval",
    "SignedCheck",
    "approval_from_record",
    "approval_problems",
    "approver_block",
    "check_approval_record",
    "claimed_approval_id",
    "key_id",
    "load_private_key",
    "new_approval_id",
    "new_signed_approval",
    "parse_signed_token",
    "private_key_pem",
    "public_key_bytes",
    "record_bytes",
    "sign",
    "signature_part",
    "verify_signed_token",
]

# The approver's laptop clock and the server's may disagree a little; an approval issued up to this far
# "in the future" is accepted.
MAX_CLOCK_SKEW = dt.timedelta(minutes=5)


# Refusal codes specific to signed approvals (the shared ones live in domain/approvals.py).
APPROVAL_UNKNOWN_APPROVER = "approval_unknown_approver"
APPROVAL_KEY_NOT_REGISTERED = "approval_key_not_registered_for_approver"
APPROVAL_APPROVER_EXPIRED = "approval_approver_registration_expired"
APPROVAL_ROLE_NOT_HELD = "approval_role_not_held_by_approver"
APPROVAL_VALIDITY_TOO_LONG = "approval_validity_too_long"
APPROVAL_APPROVERS_UNAVAILABLE = "approval_approvers_file_unavailable"


def public_key_bytes(private_key: Ed25519PrivateKey) -> bytes:
    return private_key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def private_key_pem(private_key: Ed25519PrivateKey, passphrase: bytes | None = None) -> bytes:
    """PKCS#8 PEM (as `openssl genpkey -algorithm ed25519` writes it); encrypted given a passphrase."""
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(passphrase) if passphrase else serialization.NoEncryption()
    )
    return private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )


def load_private_key(pem: bytes, passphrase: bytes | None = None) -> Ed25519PrivateKey:
    """Raises ValueError when the data is not an Ed25519 private key (or the passphrase is wrong);
    TypeError when the key is encrypted and no passphrase was given."""
    key = serialization.load_pem_private_key(pem, password=passphrase)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"not an Ed25519 private key ({type(key).__name__})")
    return key


def sign(approval: SignedApproval, private_key: Ed25519PrivateKey) -> str:
    """The token. Refuses a key that is not the one the approval names.

    Two signatures by the same key: first over the approval's public record (`RECORD_CONTEXT`), carried
    in the payload as `record_signature` and kept by the ledger when the approval is spent, so an auditor
    can check the approval offline; then over the whole payload (`SIGNING_CONTEXT`), which makes it a
    token. The record and its signature alone are not a token: nothing accepts them as one."""
    if key_id(public_key_bytes(private_key)) != approval.key_id:
        raise ValueError("the approval names another key than the one signing it")
    plain = replace(approval, record_signature=None)
    record_signature = private_key.sign(RECORD_CONTEXT + record_bytes(plain))
    payload = _payload_bytes(replace(plain, record_signature=_b64url(record_signature)))
    signature = private_key.sign(SIGNING_CONTEXT + payload)
    return f"{TOKEN_PREFIX}{_b64url(payload)}.{_b64url(signature)}"


def _signature_ok(
    public_key: bytes, payload: bytes, signature: bytes, context: bytes = SIGNING_CONTEXT
) -> bool:
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, context + payload)
    except (InvalidSignature, ValueError):
        return False
    return True


def _record_signature_ok(public_key: bytes, approval: SignedApproval) -> bool:
    """Whether the approval's `record_signature` is `public_key`'s signature over its public record."""
    signature = _from_b64url(approval.record_signature or "")
    if signature is None or len(signature) != 64:
        return False
    return _signature_ok(public_key, record_bytes(approval), signature, RECORD_CONTEXT)


def check_approval_record(
    record: object, record_signature: object, approvers: Approvers
) -> tuple[SignedApproval | None, str]:
    """Authenticate a stored public record offline: (the approval, `approval_valid`) when the approver
    named in it is registered in `approvers` with the key it names, that key signed the record, and the
    approver holds the role it claims; else (None or the unauthenticated approval, the refusal code).

    The codes are verification's own (docs/approvals.md): malformed, unknown approver, another person's
    key, signature invalid, role not held. Scope and single use are the caller's to judge."""
    claimed = approval_from_record(record, record_signature)
    if claimed is None or claimed.record_signature is None:
        return claimed, APPROVAL_TOKEN_MALFORMED
    approver = approvers.get(claimed.approver)
    if approver is None:
        return claimed, APPROVAL_UNKNOWN_APPROVER
    if approver.key_id != claimed.key_id:
        return claimed, APPROVAL_KEY_NOT_REGISTERED
    if not _record_signature_ok(approver.public_key, claimed):
        return claimed, APPROVAL_SIGNATURE_INVALID
    if claimed.approver_role not in approver.roles:
        return claimed, APPROVAL_ROLE_NOT_HELD
    return claimed, APPROVAL_VALID


@dataclass(frozen=True)
class SignedCheck:
    """A verdict, plus the approval when its signature was verified (None otherwise: its fields are only
    claims and must not be recorded as anyone's approval)."""

    verdict: ApprovalVerdict
    approval: SignedApproval | None
    approvers_checksum: str | None


def verify_signed_token(
    token: str,
    *,
    approvers: Approvers | None,
    candidate_id: str,
    target_stage: str,
    now: dt.datetime,
    used_approval_ids: Collection[str],
    policy_checksum: str | None = None,
    max_clock_skew: dt.timedelta = MAX_CLOCK_SKEW,
) -> SignedCheck:
    """Check a presented token against the approvers registry; the first failing check is the reason.

    `approvers` None means the approvers file could not be loaded: every token is refused.
    `used_approval_ids` are the spent (or revoked) ids; given as a mapping id → `ApprovalUse`, a replay's
    verdict names what spent the approval (`spent_by`). Single use means single presentation: the caller
    spends an approval whose verdict is valid whatever its promotion's outcome.
    """
    _require_utc_aware("now", now)
    checksum = None if approvers is None else approvers.checksum

    def refuse(reason: str, approval_id: str | None, verified: SignedApproval | None = None) -> SignedCheck:
        provenance = None if verified is None else verified.provenance(checksum)
        return SignedCheck(ApprovalVerdict(False, reason, approval_id, provenance), verified, checksum)

    parsed = parse_signed_token(token)
    if parsed is None:
        return refuse(APPROVAL_TOKEN_MALFORMED, None)
    claimed, payload, signature = parsed
    approval_id = claimed.approval_id
    approver = _authenticate(token, claimed, payload, signature, approvers)
    if isinstance(approver, str):
        return refuse(approver, approval_id)
    approval = claimed  # authenticated from here on
    if approver.not_after is not None and now >= approver.not_after:
        return refuse(APPROVAL_APPROVER_EXPIRED, approval_id, approval)
    if approval.approver_role not in approver.roles:
        return refuse(APPROVAL_ROLE_NOT_HELD, approval_id, approval)
    if approval_id in used_approval_ids:
        replay = refuse(APPROVAL_REPLAYED, approval_id, approval)
        spent = recorded_use(used_approval_ids, approval_id)
        return replay if spent is None else replace(replay, verdict=replace(replay.verdict, spent_by=spent))
    reason = _scope_refusal(
        approval,
        candidate_id=candidate_id,
        target_stage=target_stage,
        policy_checksum=policy_checksum,
        now=now,
        max_clock_skew=max_clock_skew,
    )
    if reason is not None:
        return refuse(reason, approval_id, approval)
    return SignedCheck(
        ApprovalVerdict(True, APPROVAL_VALID, approval_id, approval.provenance(checksum)), approval, checksum
    )


def _authenticate(
    token: str, claimed: SignedApproval, payload: bytes, signature: bytes, approvers: Approvers | None
) -> Approver | str:
    """The registered approver whose key signed these payload bytes, else the refusal code. Nothing in
    the payload is trusted before this passes.

    Only the canonical encoding of a signed payload and signature is that approval's token: base64 text
    whose last character carries set unused bits decodes to the same bytes, and is refused as not the
    token that was signed (one approval never travels as several distinct tokens)."""
    if approvers is None:
        return APPROVAL_APPROVERS_UNAVAILABLE
    approver = approvers.get(claimed.approver)
    if approver is None:
        return APPROVAL_UNKNOWN_APPROVER
    if approver.key_id != claimed.key_id:
        # Signed (or claimed to be) by a key that is not this approver's: another person's key.
        return APPROVAL_KEY_NOT_REGISTERED
    if not _signature_ok(approver.public_key, payload, signature):
        return APPROVAL_SIGNATURE_INVALID
    if token != f"{TOKEN_PREFIX}{_b64url(payload)}.{_b64url(signature)}":
        return APPROVAL_SIGNATURE_INVALID
    if claimed.record_signature is not None and not _record_signature_ok(approver.public_key, claimed):
        # The ledger keeps the record signature for audit: one that does not verify is refused here.
        return APPROVAL_SIGNATURE_INVALID
    return approver


def _scope_refusal(
    approval: SignedApproval,
    *,
    candidate_id: str,
    target_stage: str,
    policy_checksum: str | None,
    now: dt.datetime,
    max_clock_skew: dt.timedelta,
) -> str | None:
    """The first validity-window, scope or role rule an authenticated approval breaks, if any."""
    if approval.expires_at - approval.issued_at > MAX_TTL:
        return APPROVAL_VALIDITY_TOO_LONG
    if now + max_clock_skew < approval.issued_at:
        return APPROVAL_NOT_YET_VALID
    if now >= approval.expires_at:
        return APPROVAL_EXPIRED
    if approval.candidate_id != candidate_id:
        return APPROVAL_WRONG_CANDIDATE
    if approval.target_stage != target_stage:
        return APPROVAL_WRONG_MODE
    if approval.policy_checksum is not None and approval.policy_checksum != policy_checksum:
        return APPROVAL_POLICY_CHANGED
    allowed = LIVE_ROLES if is_live_mode(target_stage) else ALLOWED_ROLES
    if approval.approver_role not in allowed:
        return APPROVAL_ROLE_NOT_ALLOWED
    return None
