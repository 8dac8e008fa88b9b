"""`governance` resource: the versioned gate policy, the approvers file, and (dev only) the HMAC secret.

The configuration and its rules (which policy and approvers file, the profile, when an HMAC secret may be
used and where a dev one lives) are `services/governance_config.py`, shared with the CLI. This resource
only carries them into Dagster: its fields are the run config (the secret arrives as
`EnvVar("TORGHUT_APPROVAL_SECRET")`), and it builds one `GovernanceConfig` per instance, so a run reads
one version of the policy and of the approvers file.
"""

from pathlib import Path

import dagster as dg
from pydantic import PrivateAttr

from torghut_assets.domain.gates import GatePolicy
from torghut_assets.domain.signed_approvals import Approvers
from torghut_assets.services.governance_config import GovernanceConfig, GovernanceConfigError
from torghut_assets.settings import DEFAULT_APPROVERS_PATH, DEFAULT_GATE_POLICY_PATH

__all__ = ["GovernanceConfigError", "GovernanceResource"]


class GovernanceResource(dg.ConfigurableResource):  # type: ignore[type-arg]
    """Dagster's face of `services.governance_config.GovernanceConfig`; every rule lives there."""

    policy_path: str = str(DEFAULT_GATE_POLICY_PATH)
    approvers_path: str = str(DEFAULT_APPROVERS_PATH)
    profile: str = "dev"
    approval_secret: str | None = None
    allow_dev_secret: bool = True
    dagster_home: str | None = None
    llm_enabled: bool = False

    _config: GovernanceConfig | None = PrivateAttr(default=None)

    def config(self) -> GovernanceConfig:
        """The plain configuration, built once per resource instance (a run sees one version)."""
        if self._config is None:
            self._config = GovernanceConfig(
                policy_path=self.policy_path,
                approvers_path=self.approvers_path,
                profile=self.profile,
                approval_secret=self.approval_secret,
                allow_dev_secret=self.allow_dev_secret,
                dagster_home=self.dagster_home,
                llm_enabled=self.llm_enabled,
            )
        return self._config

    def policy(self) -> GatePolicy:
        return self.config().policy()

    def approvers(self) -> Approvers:
        return self.config().approvers()

    @property
    def hmac_allowed(self) -> bool:
        return self.config().hmac_allowed

    def secret(self) -> tuple[bytes, str]:
        return self.config().secret()

    def deliver_dev_token(self, override_id: str, token: str) -> Path:
        return self.config().deliver_dev_token(override_id, token)
