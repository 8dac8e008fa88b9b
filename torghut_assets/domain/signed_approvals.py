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
allowed or denied (`defs/governance/promotion.py`).

No server-side secret can mint one of these: the server holds public keys only.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import json
import re
import secrets
import tomllib
from collections.abc import Collection, Mapping
from dataclasses import dataclass, replace
from typing import Any

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
    SCHEME_ED25519,
    ApprovalProvenance,
    ApprovalVerdict,
    is_live_mode,
    recorded_use,
)
from torghut_assets.domain.config_problems import ConfigProblems
from torghut_assets.domain.stages import Stage

TOKEN_PREFIX = "tav2."
APPROVAL_ID_PREFIX = "apv-"
SIGNING_CONTEXT = b"torghut-approval-v2\n"
PAYLOAD_VERSION = 2
MAX_TOKEN_CHARS = 4096
MAX_REASON_CHARS = 1000
MAX_SYMBOLS = 200
MAX_TTL = dt.timedelta(hours=24)
DEFAULT_TTL = dt.timedelta(hours=24)
# The approver's laptop clock and the server's may disagree a little; an approval issued up to this far
# "in the future" is accepted.
MAX_CLOCK_SKEW = dt.timedelta(minutes=5)

SOURCE_CLI = "cli"
# Where an Ed25519 approval may say it was minted. (HMAC approvals, dev only, record `launchpad_dev` or
# `cli_dev_hmac`; they never carry an Ed25519 signature.)
SIGNED_SOURCES: frozenset[str] = frozenset({SOURCE_CLI})

# Refusal codes specific to signed approvals (the shared ones live in domain/approvals.py).
APPROVAL_UNKNOWN_APPROVER = "approval_unknown_approver"
APPROVAL_KEY_NOT_REGISTERED = "approval_key_not_registered_for_approver"
APPROVAL_APPROVER_EXPIRED = "approval_approver_registration_expired"
APPROVAL_ROLE_NOT_HELD = "approval_role_not_held_by_approver"
APPROVAL_VALIDITY_TOO_LONG = "approval_validity_too_long"
APPROVAL_APPROVERS_UNAVAILABLE = "approval_approvers_file_unavailable"

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


# --- the approvers file ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Approver:
    approver_id: str
    public_key: bytes  # raw 32 bytes
    roles: frozenset[str]
    not_after: dt.datetime | None = None

    @property
    def key_id(self) -> str:
        return key_id(self.public_key)


class ApproversFileError(ConfigProblems):
    """The approvers file is unusable; `problems` lists every problem found, each naming the approver."""

    def __init__(self, origin: str, problems: list[str]) -> None:
        self.origin = origin
        super().__init__(f"approvers file {origin}", problems)


@dataclass(frozen=True)
class Approvers:
    """The registry of people who may sign approvals: id → public key, roles, optional end date."""

    version: int
    approvers: Mapping[str, Approver]
    checksum: str  # sha256 of the file's bytes, as `sha256sum` prints it
    origin: str = "<memory>"

    def get(self, approver_id: str) -> Approver | None:
        return self.approvers.get(approver_id)

    def by_key_id(self, wanted: str) -> Approver | None:
        return next((a for a in self.approvers.values() if a.key_id == wanted), None)

    @classmethod
    def from_toml(cls, data: bytes, origin: str = "<memory>") -> Approvers:
        """Parse and validate; raises ApproversFileError listing every problem at once."""
        checksum = hashlib.sha256(data).hexdigest()
        try:
            doc = tomllib.loads(data.decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise ApproversFileError(origin, [f"not UTF-8 text: {exc}"]) from exc
        except tomllib.TOMLDecodeError as exc:
            raise ApproversFileError(origin, [f"not valid TOML: {exc}"]) from exc
        problems: list[str] = []
        unknown = sorted(set(doc) - {"version", "approvers"})
        if unknown:
            problems.append(f"unknown top-level key(s) {', '.join(unknown)} (expected version, approvers)")
        version = doc.get("version")
        if isinstance(version, bool) or not isinstance(version, int) or version < 1:
            problems.append(f"version must be a positive integer (bump it on every change), got {version!r}")
            version = 0
        entries = doc.get("approvers", [])
        if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
            problems.append("approvers must be an array of tables ([[approvers]])")
            entries = []
        parsed: dict[str, Approver] = {}
        key_owners: dict[bytes, str] = {}
        for index, entry in enumerate(entries, start=1):
            entry_problems, approver = _parse_approver(entry, index)
            problems += entry_problems
            if approver is None:
                continue
            if approver.approver_id in parsed:
                problems.append(f"approver {approver.approver_id!r} is listed twice")
                continue
            owner = key_owners.get(approver.public_key)
            if owner is not None:
                problems.append(
                    f"approver {approver.approver_id!r}: public_key is already registered to {owner!r} "
                    "(one key per person)"
                )
                continue
            key_owners[approver.public_key] = approver.approver_id
            parsed[approver.approver_id] = approver
        if problems:
            raise ApproversFileError(origin, problems)
        return cls(version=int(version), approvers=parsed, checksum=checksum, origin=origin)


def _parse_approver(entry: Mapping[str, Any], index: int) -> tuple[list[str], Approver | None]:
    raw_id = entry.get("id")
    name = (
        f"approver {raw_id!r}" if isinstance(raw_id, str) and raw_id.strip() else f"approvers entry #{index}"
    )
    problems: list[str] = []
    unknown = sorted(set(entry) - {"id", "public_key", "roles", "not_after"})
    if unknown:
        problems.append(
            f"{name}: unknown key(s) {', '.join(unknown)} (expected id, public_key, roles, not_after)"
        )
    if not isinstance(raw_id, str) or not APPROVER_ID_RE.fullmatch(raw_id):
        problems.append(f"{name}: id must match {APPROVER_ID_RE.pattern} (e.g. an email), got {raw_id!r}")
    raw_key = entry.get("public_key")
    public_key = None
    if not isinstance(raw_key, str):
        problems.append(f"{name}: public_key is required (base64 of the raw 32-byte Ed25519 public key)")
    else:
        try:
            decoded = base64.b64decode(raw_key.strip(), validate=True)
        except (binascii.Error, ValueError):
            decoded = b""
        if len(decoded) != 32:
            problems.append(f"{name}: public_key is not base64 of 32 bytes (an Ed25519 public key)")
        else:
            try:
                Ed25519PublicKey.from_public_bytes(decoded)
                public_key = decoded
            except ValueError:
                problems.append(f"{name}: public_key is not a valid Ed25519 public key")
    roles = entry.get("roles")
    if not isinstance(roles, list) or not roles or not all(isinstance(r, str) for r in roles):
        problems.append(f'{name}: roles must be a non-empty list, e.g. ["risk_officer"]')
        roles = []
    else:
        unknown_roles = sorted(set(roles) - ALLOWED_ROLES)
        if unknown_roles:
            problems.append(
                f"{name}: unknown role(s) {', '.join(unknown_roles)} "
                f"(allowed: {', '.join(sorted(ALLOWED_ROLES))})"
            )
    not_after = entry.get("not_after")
    if not_after is not None and (
        not isinstance(not_after, dt.datetime) or not_after.tzinfo is None or not_after.utcoffset() is None
    ):
        problems.append(f"{name}: not_after must be an offset date-time, e.g. 2027-01-01T00:00:00Z")
        not_after = None
    if problems or public_key is None or not isinstance(raw_id, str):
        return problems, None
    return [], Approver(
        approver_id=raw_id,
        public_key=public_key,
        roles=frozenset(roles),
        not_after=None if not_after is None else not_after.astimezone(dt.UTC),
    )


def approver_block(approver_id: str, public_key: bytes, roles: Collection[str]) -> str:
    """The `[[approvers]]` entry to paste into the approvers file for a new key."""
    listed = ", ".join(json.dumps(r) for r in sorted(roles)) if roles else '"risk_officer"'
    return (
        "[[approvers]]\n"
        f"id = {json.dumps(approver_id)}\n"
        f'public_key = "{base64.b64encode(public_key).decode("ascii")}"\n'
        f"roles = [{listed}]\n"
    )


# --- the approval --------------------------------------------------------------------------------------


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

    def __post_init__(self) -> None:
        _require_utc_aware("issued_at", self.issued_at)
        _require_utc_aware("expires_at", self.expires_at)

    @property
    def override_id(self) -> str:
        """The ledger's name for the approval id (`approval_overrides.override_id`)."""
        return self.approval_id

    def payload(self) -> dict[str, Any]:
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


def _payload_bytes(approval: SignedApproval) -> bytes:
    return json.dumps(approval.payload(), sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode(
        "utf-8"
    )


def sign(approval: SignedApproval, private_key: Ed25519PrivateKey) -> str:
    """The token. Refuses a key that is not the one the approval names."""
    if key_id(public_key_bytes(private_key)) != approval.key_id:
        raise ValueError("the approval names another key than the one signing it")
    payload = _payload_bytes(approval)
    signature = private_key.sign(SIGNING_CONTEXT + payload)
    return f"{TOKEN_PREFIX}{_b64url(payload)}.{_b64url(signature)}"


def signature_part(token: str) -> str:
    """The base64url signature at the end of a token (what a leak scan looks for besides the token)."""
    return token.rpartition(".")[2]


def _str(payload: Mapping[str, Any], name: str, max_len: int) -> str | None:
    value = payload.get(name)
    return value if isinstance(value, str) and 0 < len(value) <= max_len and value.strip() else None


def _approval_from_payload(payload: object) -> SignedApproval | None:
    if not isinstance(payload, dict) or set(payload) != _PAYLOAD_KEYS or payload.get("v") != PAYLOAD_VERSION:
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


def _signature_ok(public_key: bytes, payload: bytes, signature: bytes) -> bool:
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, SIGNING_CONTEXT + payload)
    except (InvalidSignature, ValueError):
        return False
    return True


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
    if approvers is None:
        return refuse(APPROVAL_APPROVERS_UNAVAILABLE, approval_id)
    approver = approvers.get(claimed.approver)
    if approver is None:
        return refuse(APPROVAL_UNKNOWN_APPROVER, approval_id)
    if approver.key_id != claimed.key_id:
        # Signed (or claimed to be) by a key that is not this approver's: another person's key.
        return refuse(APPROVAL_KEY_NOT_REGISTERED, approval_id)
    if not _signature_ok(approver.public_key, payload, signature):
        return refuse(APPROVAL_SIGNATURE_INVALID, approval_id)
    approval = claimed  # authenticated from here on
    if approver.not_after is not None and now >= approver.not_after:
        return refuse(APPROVAL_APPROVER_EXPIRED, approval_id, approval)
    if approval.approver_role not in approver.roles:
        return refuse(APPROVAL_ROLE_NOT_HELD, approval_id, approval)
    if approval_id in used_approval_ids:
        replay = refuse(APPROVAL_REPLAYED, approval_id, approval)
        spent = recorded_use(used_approval_ids, approval_id)
        return replay if spent is None else replace(replay, verdict=replace(replay.verdict, spent_by=spent))
    if approval.expires_at - approval.issued_at > MAX_TTL:
        return refuse(APPROVAL_VALIDITY_TOO_LONG, approval_id, approval)
    if now + max_clock_skew < approval.issued_at:
        return refuse(APPROVAL_NOT_YET_VALID, approval_id, approval)
    if now >= approval.expires_at:
        return refuse(APPROVAL_EXPIRED, approval_id, approval)
    if approval.candidate_id != candidate_id:
        return refuse(APPROVAL_WRONG_CANDIDATE, approval_id, approval)
    if approval.target_stage != target_stage:
        return refuse(APPROVAL_WRONG_MODE, approval_id, approval)
    if approval.policy_checksum is not None and approval.policy_checksum != policy_checksum:
        return refuse(APPROVAL_POLICY_CHANGED, approval_id, approval)
    allowed = LIVE_ROLES if is_live_mode(target_stage) else ALLOWED_ROLES
    if approval.approver_role not in allowed:
        return refuse(APPROVAL_ROLE_NOT_ALLOWED, approval_id, approval)
    return SignedCheck(
        ApprovalVerdict(True, APPROVAL_VALID, approval_id, approval.provenance(checksum)), approval, checksum
    )
