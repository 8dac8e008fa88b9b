"""Oversight: the nightly reconciliation's time zone, the gate policy, who may approve a promotion and how
approvals are verified, and where operators are paged and metrics written.

Why grouped: each names a file or a channel an auditor asks about, and several are recorded by checksum
with what they decided (the gate policy in every report, the approvers file with every approval).
"""

from __future__ import annotations

from torghut_assets.env_setting import HTTP, EnvSetting

GOVERNANCE: tuple[EnvSetting, ...] = (
    EnvSetting(
        "TORGHUT_RECONCILIATION_TIMEZONE",
        "str",
        "IANA time zone of the 02:30 nightly reconciliation schedule",
        default="America/New_York",
    ),
    EnvSetting(
        "TORGHUT_GATE_POLICY_PATH",
        "path",
        "gate policy TOML (thresholds; its checksum is in every report)",
        when_unset="the shipped torghut_assets/policy/gates.toml",
    ),
    EnvSetting(
        "TORGHUT_APPROVAL_SECRET",
        "str",
        "dev only: HMAC secret (at least 32 bytes) of Launchpad approvals; production verifies approvers' "
        "Ed25519 signatures and refuses it (docs/approvals.md)",
        when_unset="dev: a per-home secret file under $DAGSTER_HOME",
        secret=True,
        dev_only=True,
    ),
    EnvSetting(
        "TORGHUT_APPROVERS_PATH",
        "path",
        "approvers TOML: each approver's Ed25519 public key and roles (docs/approvals.md); its checksum is "
        "recorded with every approval it verifies",
        when_unset="the shipped torghut_assets/policy/approvers.toml (no approvers)",
    ),
    EnvSetting(
        "TORGHUT_ALERT_WEBHOOK_URL",
        "url",
        "Slack-compatible webhook paging operators; unset, alerts are recorded and not sent",
        schemes=HTTP,
        secret=True,
    ),
    EnvSetting(
        "TORGHUT_METRICS_TEXTFILE_DIR",
        "path",
        "folder of node-exporter's textfile collector; torghut.prom is rewritten there every minute",
        when_unset="$DAGSTER_HOME/metrics",
    ),
)

__all__ = ["GOVERNANCE"]
