"""The approvers file: who may sign approvals, with which Ed25519 public key and roles (docs/approvals.md).

TOML, versioned; its sha256 is recorded with every approval it verified. Parsing validates everything
and reports every problem at once, each naming the approver, so a bad file is fixed in one pass.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import json
import tomllib
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from torghut_assets.domain.approvals import ALLOWED_ROLES
from torghut_assets.domain.config_problems import ConfigProblems
from torghut_assets.domain.signed_approval_tokens import APPROVER_ID_RE, key_id


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
