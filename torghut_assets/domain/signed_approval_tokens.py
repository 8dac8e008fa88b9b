"""The signed approval's token format: what an Ed25519 approval says, and how it travels as text.

    tav2.<base64url(payload)>.<base64url(signature)>

The payload is canonical JSON naming a random `approval_id` (the single-use nonce), the candidate, the
target stage, the symbols, the approver, their role, the id of the key that signed, the reason, when it
was issued and when it expires, and where it was minted (`source`). A token minted by `sign` also carries
`record_signature`: the same key's signature over the approval's public record (the payload without that
field) under its own context, which the ledger keeps so an auditor can check who approved offline; it
cannot be presented as a token (docs/evidence-pack.md). Parsing is fail closed and pure:
hostile text yields None, never an exception, and nothing parsed here is authenticated (that is
`signed_approvals.verify_signed_token`). No cryptography here: the key id is a sha256 of the public key.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import json
import re
import secrets
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from torghut_assets.domain.approvals import (
    ALLOWED_ROLES,
    LIVE_ROLES,
    SCHEME_ED25519,
    ApprovalProvenance,
    is_live_mode,
)
from torghut_assets.domain.stages import Stage

TOKEN_PREFIX = "tav2."
APPROVAL_ID_PREFIX = "apv-"
SIGNING_CONTEXT = b"torghut-approval-v2\n"
# The context of the signature over an approval's public record: never a token's context, so a stored
# record and its signature can never be presented as an approval.
RECORD_CONTEXT = b"torghut-approval-record-v2\n"
RECORD_SIGNATURE_KEY = "record_signature"
PAYLOAD_VERSION = 2
MAX_TOKEN_CHARS = 4096
MAX_REASON_CHARS = 1000
MAX_SYMBOLS = 200
MAX_TTL = dt.timedelta(hours=24)
DEFAULT_TTL = dt.timedelta(hours=24)
SOURCE_CLI = "cli"
# Where an Ed25519 approval may say it was minted. (HMAC approvals, dev only, record `launchpad_dev` or
# `cli_dev_hmac`; they never carry an Ed25519 signature.)
SIGNED_SOURCES: frozenset[str] = frozenset({SOURCE_CLI})

_APPROVAL_ID_RE = re.compile(r"apv-[0-9a-f]{32}")
_KEY_ID_RE = re.compile(r"[0-9a-f]{32}")
_CHECKSUM_RE = re.compile(r"[0-9a-f]{64}")
_B64URL_RE = re.compile(r"[A-Za-z0-9_-]+")
APPROVER_ID_RE = re.compile(r"[A-Za-z0-9._@+-]{1,128}")
_SYMBOL_RE = re.compile(r"[A-Z0-9.\-/]{1,16}")
_PAYLOAD_KEYS = frozenset(
    {
        "v",
        "approval_id",
        "candidate_id",
        "target_stage",
        "symbols",
        "approver",
        "approver_role",
        "key_id",
        "reason",
        "issued_at",
        "expires_at",
        "source",
        "policy_checksum",
    }
)


def _require_utc_aware(name: str, value: dt.datetime) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware (UTC), got naive {value!r}")


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _from_b64url(text: str) -> bytes | None:
    if not _B64URL_RE.fullmatch(text) or len(text) % 4 == 1:
        return None
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        return None


def _timestamp(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_timestamp(value: object) -> dt.datetime | None:
    if not isinstance(value, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z", value):
        return None
    try:
        return dt.datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
    except ValueError:
        return None


def key_id(public_key: bytes) -> str:
    """A public key's short id (first 128 bits of its sha256): named in every approval it signs."""
    return hashlib.sha256(public_key).hexdigest()[:32]


@dataclass(frozen=True)
class SignedApproval:
    approval_id: str
    candidate_id: str
    target_stage: str
    symbols: tuple[str, ...]
    approver: str
    approver_role: str
    key_id: str
    reason: str
    issued_at: dt.datetime
    expires_at: dt.datetime
    source: str = SOURCE_CLI
    policy_checksum: str | None = None
    # base64url Ed25519 signature over the public record: material attached to the approval, not part of it
    record_signature: str | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        _require_utc_aware("issued_at", self.issued_at)
        _require_utc_aware("expires_at", self.expires_at)

    @property
    def override_id(self) -> str:
        """The ledger's name for the approval id (`approval_overrides.override_id`)."""
        return self.approval_id

    def payload(self) -> dict[str, Any]:
        """What the token carries: the public record, plus its signature when it has one."""
        record = self.record()
        if self.record_signature is None:
            return record
        return {**record, RECORD_SIGNATURE_KEY: self.record_signature}

    def record(self) -> dict[str, Any]:
        """The approval's public record: every field it states, without any signature."""
        return {
            "v": PAYLOAD_VERSION,
            "approval_id": self.approval_id,
            "candidate_id": self.candidate_id,
            "target_stage": self.target_stage,
            "symbols": list(self.symbols),
            "approver": self.approver,
            "approver_role": self.approver_role,
            "key_id": self.key_id,
            "reason": self.reason,
            "issued_at": _timestamp(self.issued_at),
            "expires_at": _timestamp(self.expires_at),
            "source": self.source,
            "policy_checksum": self.policy_checksum,
        }

    def provenance(self, approvers_checksum: str | None) -> ApprovalProvenance:
        return ApprovalProvenance(
            scheme=SCHEME_ED25519,
            source=self.source,
            approver=self.approver,
            approver_role=self.approver_role,
            approvers_checksum=approvers_checksum,
            key_id=self.key_id,
        )


def new_approval_id() -> str:
    return APPROVAL_ID_PREFIX + secrets.token_hex(16)


def approval_problems(
    *,
    candidate_id: str,
    target_stage: str,
    approver: str,
    approver_role: str,
    reason: str,
    ttl: dt.timedelta,
    symbols: Collection[str] = (),
) -> list[str]:
    """Everything that makes a requested approval unmintable (the same rules verification applies)."""
    problems = []
    if not candidate_id.strip() or len(candidate_id) > 64:
        problems.append("candidate_id must be 1..64 characters")
    try:
        stage: Stage | None = Stage(target_stage)
    except ValueError:
        stage = None
        problems.append(f"target_stage {target_stage!r} is not a stage (paper, live_l1, live_l2, live_l3)")
    if stage == Stage.SHADOW:
        problems.append("shadow needs no approval")
    if not APPROVER_ID_RE.fullmatch(approver):
        problems.append(f"approver must match {APPROVER_ID_RE.pattern} (e.g. an email), got {approver!r}")
    if approver_role not in ALLOWED_ROLES:
        problems.append(f"role {approver_role!r} may not approve (allowed: {sorted(ALLOWED_ROLES)})")
    elif stage is not None and is_live_mode(stage.value) and approver_role not in LIVE_ROLES:
        problems.append(f"role {approver_role!r} may not approve a live stage")
    if not reason.strip() or len(reason) > MAX_REASON_CHARS:
        problems.append(f"reason is required (at most {MAX_REASON_CHARS} characters)")
    if not dt.timedelta(0) < ttl <= MAX_TTL:
        problems.append(f"validity must be in (0, {MAX_TTL.total_seconds() / 3600:g} h]")
    bad = sorted(s for s in symbols if not _SYMBOL_RE.fullmatch(s))
    if bad or len(symbols) > MAX_SYMBOLS:
        problems.append(f"symbols must be at most {MAX_SYMBOLS} tickers, got {bad or len(symbols)}")
    return problems


def new_signed_approval(
    *,
    candidate_id: str,
    target_stage: str,
    approver: str,
    approver_role: str,
    reason: str,
    public_key: bytes,
    now: dt.datetime,
    ttl: dt.timedelta = DEFAULT_TTL,
    symbols: Collection[str] = (),
    source: str = SOURCE_CLI,
    policy_checksum: str | None = None,
    approval_id: str | None = None,
) -> SignedApproval:
    """An approval valid from `now` (whole seconds) for `ttl`; ValueError listing every problem."""
    _require_utc_aware("now", now)
    normalized = tuple(sorted({s.strip().upper() for s in symbols if s.strip()}))
    problems = approval_problems(
        candidate_id=candidate_id,
        target_stage=target_stage,
        approver=approver,
        approver_role=approver_role,
        reason=reason.strip(),
        ttl=ttl,
        symbols=normalized,
    )
    if source not in SIGNED_SOURCES:
        problems.append(f"source {source!r} is not one of {sorted(SIGNED_SOURCES)}")
    if policy_checksum is not None and not _CHECKSUM_RE.fullmatch(policy_checksum):
        problems.append("policy_checksum must be 64 lowercase hex characters (a gate report's checksum)")
    if problems:
        raise ValueError("; ".join(problems))
    issued = now.astimezone(dt.UTC).replace(microsecond=0)
    return SignedApproval(
        approval_id=approval_id if approval_id is not None else new_approval_id(),
        candidate_id=candidate_id.strip(),
        target_stage=target_stage,
        symbols=normalized,
        approver=approver,
        approver_role=approver_role,
        key_id=key_id(public_key),
        reason=reason.strip(),
        issued_at=issued,
        expires_at=issued + ttl,
        source=source,
        policy_checksum=policy_checksum,
    )


def _json_bytes(value: Mapping[str, Any]) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _payload_bytes(approval: SignedApproval) -> bytes:
    return _json_bytes(approval.payload())


def record_bytes(approval: SignedApproval) -> bytes:
    """The bytes `record_signature` signs (after `RECORD_CONTEXT`): the public record, compact JSON with
    sorted keys."""
    return _json_bytes(approval.record())


def approval_from_record(record: object, record_signature: object = None) -> SignedApproval | None:
    """The approval a stored public record states (unauthenticated), or None when it is not one."""
    if not isinstance(record, dict) or RECORD_SIGNATURE_KEY in record:
        return None
    payload = record if record_signature is None else {**record, RECORD_SIGNATURE_KEY: record_signature}
    return _approval_from_payload(payload)


def signature_part(token: str) -> str:
    """The base64url signature at the end of a token (what a leak scan looks for besides the token)."""
    return token.rpartition(".")[2]


def _str(payload: Mapping[str, Any], name: str, max_len: int) -> str | None:
    value = payload.get(name)
    return value if isinstance(value, str) and 0 < len(value) <= max_len and value.strip() else None


def _approval_from_payload(payload: object) -> SignedApproval | None:
    if not isinstance(payload, dict) or payload.get("v") != PAYLOAD_VERSION:
        return None
    if set(payload) not in (_PAYLOAD_KEYS, _PAYLOAD_KEYS | {RECORD_SIGNATURE_KEY}):
        return None
    record_signature = payload.get(RECORD_SIGNATURE_KEY)
    if record_signature is not None and (
        not isinstance(record_signature, str)
        or (decoded := _from_b64url(record_signature)) is None
        or len(decoded) != 64
        or _b64url(decoded) != record_signature
    ):
        return None
    approval_id = _str(payload, "approval_id", 36)
    candidate_id = _str(payload, "candidate_id", 64)
    target_stage = _str(payload, "target_stage", 16)
    approver = _str(payload, "approver", 128)
    role = _str(payload, "approver_role", 64)
    signer = _str(payload, "key_id", 32)
    reason = _str(payload, "reason", MAX_REASON_CHARS)
    source = _str(payload, "source", 32)
    symbols = payload.get("symbols")
    checksum = payload.get("policy_checksum")
    issued, expires = _parse_timestamp(payload.get("issued_at")), _parse_timestamp(payload.get("expires_at"))
    if (
        approval_id is None
        or not _APPROVAL_ID_RE.fullmatch(approval_id)
        or candidate_id is None
        or target_stage is None
        or approver is None
        or role is None
        or signer is None
        or not _KEY_ID_RE.fullmatch(signer)
        or reason is None
        or source not in SIGNED_SOURCES
        or not isinstance(symbols, list)
        or len(symbols) > MAX_SYMBOLS
        or not all(isinstance(s, str) and _SYMBOL_RE.fullmatch(s) for s in symbols)
        or not (checksum is None or (isinstance(checksum, str) and _CHECKSUM_RE.fullmatch(checksum)))
        or issued is None
        or expires is None
        or expires <= issued
    ):
        return None
    return SignedApproval(
        approval_id=approval_id,
        candidate_id=candidate_id,
        target_stage=target_stage,
        symbols=tuple(symbols),
        approver=approver,
        approver_role=role,
        key_id=signer,
        reason=reason,
        issued_at=issued,
        expires_at=expires,
        source=str(source),
        policy_checksum=checksum,
        record_signature=record_signature,
    )


def parse_signed_token(token: object) -> tuple[SignedApproval, bytes, bytes] | None:
    """(claimed approval, signed payload bytes, signature) — unauthenticated — or None if malformed."""
    if not isinstance(token, str) or len(token) > MAX_TOKEN_CHARS or not token.startswith(TOKEN_PREFIX):
        return None
    parts = token[len(TOKEN_PREFIX) :].split(".")
    if len(parts) != 2:
        return None
    payload, signature = _from_b64url(parts[0]), _from_b64url(parts[1])
    if payload is None or signature is None or len(signature) != 64:
        return None
    try:
        decoded = json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    approval = _approval_from_payload(decoded)
    return None if approval is None else (approval, payload, signature)


def claimed_approval_id(token: object) -> str | None:
    """The approval id a token claims (unauthenticated), for looking up whether it was used."""
    parsed = parse_signed_token(token)
    return None if parsed is None else parsed[0].approval_id
