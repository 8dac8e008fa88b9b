"""`governance` resource: the versioned gate policy and the approval-signing secret.

The secret arrives as `EnvVar("TORGHUT_APPROVAL_SECRET")` (settings refuse a production profile
without it). On a laptop without it, a random per-home secret is created once under `$DAGSTER_HOME`
(mode 0600) so the Launchpad approval flow works offline; every use says which source signed.
"""

import os
import secrets
from pathlib import Path

import dagster as dg
from pydantic import PrivateAttr

from torghut_assets.domain.gates import GatePolicy
from torghut_assets.settings import DEFAULT_GATE_POLICY_PATH

DEV_SECRET_FILE = "approval_secret.dev"
SECRET_SOURCE_ENV = "env:TORGHUT_APPROVAL_SECRET"
SECRET_SOURCE_DEV = "dev:local secret file"


class GovernanceConfigError(RuntimeError):
    """The gate policy or the approval secret is unusable; promotions fail closed."""


class GovernanceResource(dg.ConfigurableResource):  # type: ignore[type-arg]
    policy_path: str = str(DEFAULT_GATE_POLICY_PATH)
    approval_secret: str | None = None
    allow_dev_secret: bool = True
    dagster_home: str | None = None
    llm_enabled: bool = False

    _policy: GatePolicy | None = PrivateAttr(default=None)

    def policy(self) -> GatePolicy:
        if self._policy is None:
            try:
                self._policy = GatePolicy.from_toml(Path(self.policy_path).read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise GovernanceConfigError(f"gate policy {self.policy_path}: {exc}") from exc
        return self._policy

    def secret(self) -> tuple[bytes, str]:
        """(secret bytes, where it came from); raises when none may be used."""
        if self.approval_secret:
            return self.approval_secret.encode("utf-8"), SECRET_SOURCE_ENV
        if not self.allow_dev_secret:
            raise GovernanceConfigError("TORGHUT_APPROVAL_SECRET is not set: approvals cannot be signed")
        home = Path(self.dagster_home or os.environ.get("DAGSTER_HOME") or Path.cwd() / ".dagster_home")
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
        return path.read_text(encoding="utf-8").strip().encode("utf-8"), SECRET_SOURCE_DEV
