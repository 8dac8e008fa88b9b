"""HMAC-signed, single-use approval overrides: the `dev` profile's path (docs/approvals.md).

Production verifies only approvals signed by a person's own Ed25519 key (`domain/signed_approvals.py`);
there, a token of this kind is refused with `approval_hmac_refused_in_production`, and no secret that
could mint one exists on the server. This module also holds what both kinds share: roles, refusal codes
and the verdict.

An override is a record (who, why, for which candidate, mode, symbols, policy checksum and gate
evaluation, valid from/until) plus a token `wpat-<override_id>.<hmac-sha256 hex>` whose signature
covers the canonical JSON of every record field. Verification is fail closed: any doubt yields a
refusal with a stable reason code, never an exception for hostile token text.

Single use means single presentation: an approval that verifies is spent by the first promotion it is
presented to, whether that promotion is allowed or denied (the ledger records which, `ApprovalUse`), and
any later presentation is refused `approval_replayed`, naming that promotion and its outcome. A token
that fails verification was never a valid approval and is not spent.

An override can only lift what docs/promotion.md, "Deny vs override", allows; the never-bypassable blocks
(kill switch, gate 0, continuity latch, `reject` verdicts, ...) are enforced elsewhere and ignore
approvals.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from torghut_assets.domain.evidence import canonical_json

TOKEN_PREFIX = "wpat-"
OVERRIDE_ID_PREFIX = "wpao-"
MIN_SECRET_BYTES = 32
DEFAULT_TTL = dt.timedelta(hours=24)
MAX_TOKEN_CHARS = 512

ROLE_RISK_OFFICER = "risk_officer"
ROLE_HEAD_OF_TRADING = "head_of_trading"
ALLOWED_ROLES: frozenset[str] = frozenset({ROLE_RISK_OFFICER, ROLE_HEAD_OF_TRADING})
LIVE_ROLES: frozenset[str] = frozenset({ROLE_HEAD_OF_TRADING})

# Stable refusal / acceptance codes.
APPROVAL_VALID = "approval_valid"
APPROVAL_TOKEN_MALFORMED = "approval_token_malformed"
APPROVAL_UNKNOWN_OVERRIDE = "approval_unknown_override"
APPROVAL_SIGNATURE_INVALID = "approval_signature_invalid"
APPROVAL_EXPIRED = "approval_expired"
APPROVAL_NOT_YET_VALID = "approval_not_yet_valid"
APPROVAL_REPLAYED = "approval_replayed"
APPROVAL_WRONG_CANDIDATE = "approval_wrong_candidate"
APPROVAL_WRONG_MODE = "approval_wrong_mode"
APPROVAL_POLICY_CHANGED = "approval_policy_changed"
APPROVAL_ROLE_NOT_ALLOWED = "approval_role_not_allowed"
APPROVAL_SECRET_MISSING = "approval_secret_missing"
APPROVAL_HMAC_REFUSED = "approval_hmac_refused_in_production"

# How an approval was signed, and where it was minted (recorded with every approval used).
SCHEME_HMAC = "hmac_v1"
SCHEME_ED25519 = "ed25519_v2"
SOURCE_LAUNCHPAD_DEV = "launchpad_dev"
SOURCE_CLI_DEV_HMAC = "cli_dev_hmac"


class ApprovalUseOutcome(StrEnum):
    """The outcome of the promotion an approval was presented to, recorded when it is spent
    (`approval_uses.used_outcome`): an approval is spent by its first presentation either way."""

    ALLOWED = "allow"
    DENIED = "deny"


USED_OUTCOMES: frozenset[str] = frozenset(o.value for o in ApprovalUseOutcome)

_OVERRIDE_ID_RE = re.compile(r"[A-Za-z0-9_-]{1,128}")
_SIGNATURE_RE = re.compile(r"[0-9a-f]{64}")


def is_live_mode(mode: str) -> bool:
    """`live` and the live stages (`live_l1`..`live_l3`) all need a live-capable approver."""
    return mode == "live" or mode.startswith("live_")


def _require_utc_aware(name: str, value: dt.datetime) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware (UTC), got naive {value!r}")


@dataclass(frozen=True)
class ApprovalScope:
    candidate_id: str
    target_mode: str
    symbols: tuple[str, ...]


@dataclass(frozen=True)
class ApprovalRecord:
    override_id: str
    candidate_id: str
    approver: str
    approver_role: str
    reason: str
    scope: ApprovalScope
    policy_checksum: str
    gate_evaluation_id: str
    created_at: dt.datetime
    expires_at: dt.datetime

    def __post_init__(self) -> None:
        if not _OVERRIDE_ID_RE.fullmatch(self.override_id):
            raise ValueError(f"override_id {self.override_id!r} must match [A-Za-z0-9_-]{{1,128}}")
        if not self.approver.strip():
            raise ValueError("approver is required")
        if not self.reason.strip():
            raise ValueError("approval reason is required")
        _require_utc_aware("created_at", self.created_at)
        _require_utc_aware("expires_at", self.expires_at)
        if self.expires_at <= self.created_at:
            raise ValueError("expires_at must be after created_at")

    def payload(self) -> dict[str, Any]:
        """Every field, as signed."""
        return {
            "override_id": self.override_id,
            "candidate_id": self.candidate_id,
            "approver": self.approver,
            "approver_role": self.approver_role,
            "reason": self.reason,
            "scope": {
                "candidate_id": self.scope.candidate_id,
                "target_mode": self.scope.target_mode,
                "symbols": list(self.scope.symbols),
            },
            "policy_checksum": self.policy_checksum,
            "gate_evaluation_id": self.gate_evaluation_id,
            "created_at": self.created_at,
            "expires_at": self.expires_at,
        }


@dataclass(frozen=True)
class ApprovalProvenance:
    """Who signed an approval, with what, and where it was minted; never the token itself."""

    scheme: str
    source: str | None
    approver: str
    approver_role: str
    approvers_checksum: str | None = None  # the approvers file that verified an Ed25519 approval
    key_id: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "scheme": self.scheme,
            "source": self.source,
            "approver": self.approver,
            "approver_role": self.approver_role,
            "approvers_checksum": self.approvers_checksum,
            "key_id": self.key_id,
        }


@dataclass(frozen=True)
class ApprovalUse:
    """Why an approval id is no longer usable: the promotion decision that spent it and that decision's
    outcome (`allow` / `deny`), or a revocation. Fields are None where the ledger does not know them
    (a row written before outcomes were recorded, or a row inserted to block the id)."""

    promotion_id: str | None
    outcome: ApprovalUseOutcome | None
    at: dt.datetime | None
    revoked: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "promotion_id": self.promotion_id,
            "outcome": self.outcome,
            "at": None if self.at is None else self.at.isoformat(),
            "revoked": self.revoked,
        }

    def describe(self) -> str:
        """One line for an operator: which promotion spent the approval, with which outcome, when."""
        when = "" if self.at is None else f" at {self.at.isoformat()}"
        if self.revoked:
            return f"revoked{when}"
        if self.promotion_id is None:
            return f"already recorded in the ledger{when}"
        outcome = (
            "outcome unknown"
            if self.outcome is None
            else {ApprovalUseOutcome.ALLOWED: "allowed", ApprovalUseOutcome.DENIED: "denied"}[self.outcome]
        )
        return f"spent by promotion {self.promotion_id} ({outcome}){when}"


@dataclass(frozen=True)
class ApprovalVerdict:
    valid: bool
    reason: str
    override_id: str | None
    # Set only once the signature was verified: a refused forgery's claims are nobody's approval.
    provenance: ApprovalProvenance | None = None
    # Set on `approval_replayed` when the ledger says what spent (or revoked) the approval.
    spent_by: ApprovalUse | None = None


def recorded_use(used: Collection[str], approval_id: str) -> ApprovalUse | None:
    """What spent `approval_id`, when `used` is a mapping id → `ApprovalUse` (None otherwise)."""
    if not isinstance(used, Mapping):
        return None
    found = used.get(approval_id)
    return found if isinstance(found, ApprovalUse) else None


def new_override_id() -> str:
    return OVERRIDE_ID_PREFIX + secrets.token_hex(12)


def new_record(
    *,
    candidate_id: str,
    target_mode: str,
    symbols: tuple[str, ...],
    approver: str,
    approver_role: str,
    reason: str,
    policy_checksum: str,
    gate_evaluation_id: str,
    now: dt.datetime,
    ttl: dt.timedelta = DEFAULT_TTL,
    override_id: str | None = None,
) -> ApprovalRecord:
    """A record valid from `now` for `ttl` (default 24 h, docs/approvals.md, "Validity")."""
    return ApprovalRecord(
        override_id=override_id if override_id is not None else new_override_id(),
        candidate_id=candidate_id,
        approver=approver,
        approver_role=approver_role,
        reason=reason,
        scope=ApprovalScope(candidate_id=candidate_id, target_mode=target_mode, symbols=tuple(symbols)),
        policy_checksum=policy_checksum,
        gate_evaluation_id=gate_evaluation_id,
        created_at=now,
        expires_at=now + ttl,
    )


def _secret_ok(secret: bytes) -> bool:
    return isinstance(secret, bytes | bytearray) and len(secret) >= MIN_SECRET_BYTES


def _signature(record: ApprovalRecord, secret: bytes) -> str:
    message = canonical_json(record.payload()).encode("utf-8")
    return hmac.new(bytes(secret), message, hashlib.sha256).hexdigest()


def mint_token(record: ApprovalRecord, secret: bytes) -> str:
    if not _secret_ok(secret):
        raise ValueError(f"approval secret must be at least {MIN_SECRET_BYTES} bytes")
    return f"{TOKEN_PREFIX}{record.override_id}.{_signature(record, secret)}"


def parse_token(token: object) -> tuple[str, str] | None:
    """(override_id, signature) or None when the text is not a well-formed token."""
    if not isinstance(token, str) or len(token) > MAX_TOKEN_CHARS or not token.startswith(TOKEN_PREFIX):
        return None
    override_id, dot, signature = token[len(TOKEN_PREFIX) :].rpartition(".")
    if not dot or not _OVERRIDE_ID_RE.fullmatch(override_id) or not _SIGNATURE_RE.fullmatch(signature):
        return None
    return override_id, signature


def verify_token(
    token: str,
    *,
    secret: bytes,
    record_lookup: Callable[[str], ApprovalRecord | None],
    candidate_id: str,
    target_mode: str,
    policy_checksum: str,
    now: dt.datetime,
    used_override_ids: Collection[str],
) -> ApprovalVerdict:
    """Check a presented token against the stored record; the first failing check is the reason.

    `used_override_ids` are the spent (or revoked) ids; given as a mapping id → `ApprovalUse`, a replay's
    verdict names what spent the approval (`spent_by`).
    """
    _require_utc_aware("now", now)

    def refuse(reason: str, override_id: str | None) -> ApprovalVerdict:
        return ApprovalVerdict(valid=False, reason=reason, override_id=override_id)

    if not _secret_ok(secret):
        return refuse(APPROVAL_SECRET_MISSING, None)
    parsed = parse_token(token)
    if parsed is None:
        return refuse(APPROVAL_TOKEN_MALFORMED, None)
    override_id, presented = parsed
    record = record_lookup(override_id)
    if record is None:
        return refuse(APPROVAL_UNKNOWN_OVERRIDE, override_id)
    expected = _signature(record, secret)
    if record.override_id != override_id or not hmac.compare_digest(expected, presented):
        return refuse(APPROVAL_SIGNATURE_INVALID, override_id)
    if override_id in used_override_ids:
        return ApprovalVerdict(
            False, APPROVAL_REPLAYED, override_id, spent_by=recorded_use(used_override_ids, override_id)
        )
    if now < record.created_at:
        return refuse(APPROVAL_NOT_YET_VALID, override_id)
    if now >= record.expires_at:
        return refuse(APPROVAL_EXPIRED, override_id)
    if record.candidate_id != candidate_id or record.scope.candidate_id != candidate_id:
        return refuse(APPROVAL_WRONG_CANDIDATE, override_id)
    if record.scope.target_mode != target_mode:
        return refuse(APPROVAL_WRONG_MODE, override_id)
    if not hmac.compare_digest(record.policy_checksum.encode(), policy_checksum.encode()):
        return refuse(APPROVAL_POLICY_CHANGED, override_id)
    allowed = LIVE_ROLES if is_live_mode(target_mode) else ALLOWED_ROLES
    if record.approver_role not in allowed:
        return refuse(APPROVAL_ROLE_NOT_ALLOWED, override_id)
    return ApprovalVerdict(valid=True, reason=APPROVAL_VALID, override_id=override_id)
