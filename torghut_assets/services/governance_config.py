"""Governance configuration: the versioned gate policy, the approvers file, and (dev only) the HMAC secret.

Why a plain object: the promotion job (through the Dagster `governance` resource, a thin wrapper), the
CLI's `approve` and the use cases in `services/` must read the same policy and approvers file and apply
the same secret rules, so the loading and the rules live here once, free of Dagster.

Approvals are verified against the approvers file (`TORGHUT_APPROVERS_PATH`, else the shipped one,
which lists no one): each approver's Ed25519 public key and roles (docs/approvals.md). The server
holds no key that can sign such an approval.

HMAC approvals (Launchpad minting, `torghut-assets approve` without `--key`) exist for the `dev`
profile only. Their secret comes from `TORGHUT_APPROVAL_SECRET`; without it, a random per-home secret is
created once under `$DAGSTER_HOME` (mode 0600) so the Launchpad flow works offline. With
`profile="production"` no HMAC secret is ever used: minting refuses and promotions refuse HMAC tokens
(`approval_hmac_refused_in_production`).
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Protocol

from torghut_assets.domain.gates import GatePolicy
from torghut_assets.domain.signed_approvals import Approvers, ApproversFileError
from torghut_assets.settings import DEFAULT_APPROVERS_PATH, DEFAULT_GATE_POLICY_PATH

DEV_SECRET_FILE = "approval_secret.dev"
DEV_TOKEN_DIR = "approval_tokens"
PRODUCTION = "production"


class SecretSource(StrEnum):
    """Where the HMAC secret that signed a dev approval came from."""

    ENV = "env:TORGHUT_APPROVAL_SECRET"
    DEV_FILE = "dev:local secret file"


class GovernanceConfigError(RuntimeError):
    """The gate policy, the approvers file or the approval secret is unusable; promotions fail closed."""


class Governance(Protocol):
    """What the governance use cases read: a `GovernanceConfig`, or the Dagster resource wrapping one."""

    @property
    def llm_enabled(self) -> bool: ...

    @property
    def hmac_allowed(self) -> bool: ...

    def policy(self) -> GatePolicy: ...

    def approvers(self) -> Approvers: ...

    def secret(self) -> tuple[bytes, str]: ...


@dataclass
class GovernanceConfig:
    """The policy and approvers file are read once per instance (a run sees one version of each)."""

    policy_path: str = str(DEFAULT_GATE_POLICY_PATH)
    approvers_path: str = str(DEFAULT_APPROVERS_PATH)
    profile: str = "dev"
    approval_secret: str | None = None
    allow_dev_secret: bool = True
    dagster_home: str | None = None
    llm_enabled: bool = False
    _policy: GatePolicy | None = field(default=None, init=False, repr=False, compare=False)
    _approvers: Approvers | None = field(default=None, init=False, repr=False, compare=False)

    def policy(self) -> GatePolicy:
        if self._policy is None:
            try:
                self._policy = GatePolicy.from_toml(Path(self.policy_path).read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise GovernanceConfigError(f"gate policy {self.policy_path}: {exc}") from exc
        return self._policy

    def approvers(self) -> Approvers:
        """The approvers registry (raises GovernanceConfigError naming every problem of the file)."""
        if self._approvers is None:
            try:
                data = Path(self.approvers_path).read_bytes()
            except (OSError, ValueError) as exc:
                reason = exc.strerror if isinstance(exc, OSError) else str(exc)
                raise GovernanceConfigError(f"approvers file {self.approvers_path}: {reason}") from exc
            try:
                self._approvers = Approvers.from_toml(data, origin=self.approvers_path)
            except ApproversFileError as exc:
                raise GovernanceConfigError(str(exc)) from exc
        return self._approvers

    @property
    def hmac_allowed(self) -> bool:
        """HMAC approvals (minting and verifying) are a dev convenience; production never uses them."""
        return self.profile != PRODUCTION

    def home(self) -> Path:
        return Path(self.dagster_home or os.environ.get("DAGSTER_HOME") or Path.cwd() / ".dagster_home")

    def secret(self) -> tuple[bytes, str]:
        """(secret bytes, where it came from); raises when none may be used."""
        if not self.hmac_allowed:
            raise GovernanceConfigError(
                "HMAC approvals are refused in production: approvers sign with their own key "
                "(torghut-assets approve --key …, docs/approvals.md)"
            )
        if self.approval_secret:
            return self.approval_secret.encode("utf-8"), SecretSource.ENV.value
        if not self.allow_dev_secret:
            raise GovernanceConfigError("TORGHUT_APPROVAL_SECRET is not set: approvals cannot be signed")
        return self._dev_secret(), SecretSource.DEV_FILE.value

    def _dev_secret(self) -> bytes:
        home = self.home()
        path = home / DEV_SECRET_FILE
        if not path.exists():
            home.mkdir(parents=True, exist_ok=True)
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                pass  # another process created it first
            else:
                with os.fdopen(fd, "w") as handle:
                    handle.write(secrets.token_hex(32))
        return path.read_text(encoding="utf-8").strip().encode("utf-8")

    def deliver_dev_token(self, override_id: str, token: str) -> Path:
        """Write a Launchpad-minted (dev) token to `$DAGSTER_HOME/approval_tokens/<id>.token`, mode 0600.

        The token never enters Dagster's metadata or logs: the materialization shows only this path.
        """
        folder = self.home() / DEV_TOKEN_DIR
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = folder / f"{override_id}.token"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(token + "\n")
        return path
