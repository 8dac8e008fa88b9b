"""The oversight settings, read from the environment and their files opened once at load: the nightly
reconciliation's time zone, the gate policy, the approval secret, the approvers file, and where alerts
and metrics go.

Why the files are parsed here and not only when first used: a gate policy or approvers file that does not
parse would otherwise surface the first time a promotion is evaluated or an approval verified, which may
be days after the deploy that broke it. Parsing them when the code location loads turns that into a
failed deploy, with every problem of the file named.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from torghut_assets.config_registry import configured, read
from torghut_assets.domain.approvals import MIN_SECRET_BYTES
from torghut_assets.domain.gates import GatePolicy
from torghut_assets.domain.signed_approvals import Approvers, ApproversFileError

DEFAULT_GATE_POLICY_PATH = Path(__file__).parent / "policy" / "gates.toml"
DEFAULT_APPROVERS_PATH = Path(__file__).parent / "policy" / "approvers.toml"


@dataclass(frozen=True)
class GovernanceSettings:
    reconciliation_timezone: str
    gate_policy_path: str
    approval_secret_set: bool
    approvers_path: str
    alert_webhook_url_set: bool
    metrics_textfile_dir: str | None
    problems: tuple[str, ...]


def governance_settings(env: Mapping[str, str]) -> GovernanceSettings:
    timezone = read(env, "TORGHUT_RECONCILIATION_TIMEZONE")
    problems = _timezone_problems(timezone)
    policy_path = configured(env, "TORGHUT_GATE_POLICY_PATH") or str(DEFAULT_GATE_POLICY_PATH)
    problems += _gate_policy_problems(policy_path)
    secret = env.get("TORGHUT_APPROVAL_SECRET", "")
    if secret and len(secret.encode("utf-8")) < MIN_SECRET_BYTES:
        problems.append(f"TORGHUT_APPROVAL_SECRET must be at least {MIN_SECRET_BYTES} bytes")
    approvers_path = configured(env, "TORGHUT_APPROVERS_PATH") or str(DEFAULT_APPROVERS_PATH)
    problems += _approvers_problems(approvers_path)
    return GovernanceSettings(
        reconciliation_timezone=timezone,
        gate_policy_path=policy_path,
        approval_secret_set=bool(secret),
        approvers_path=approvers_path,
        alert_webhook_url_set=configured(env, "TORGHUT_ALERT_WEBHOOK_URL") is not None,
        metrics_textfile_dir=configured(env, "TORGHUT_METRICS_TEXTFILE_DIR"),
        problems=tuple(problems),
    )


def _timezone_problems(timezone: str) -> list[str]:
    """A misspelt zone would otherwise fail the schedule only when Dagster first evaluates it."""
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: e.g. a name too long for a path
        return [f"TORGHUT_RECONCILIATION_TIMEZONE={timezone!r} is not a known time zone"]
    return []


def _gate_policy_problems(policy_path: str) -> list[str]:
    try:
        GatePolicy.from_toml(Path(policy_path).read_text(encoding="utf-8"))
    except OSError as exc:
        return [f"TORGHUT_GATE_POLICY_PATH={policy_path!r} cannot be read: {exc.strerror}"]
    except ValueError as exc:
        return [f"TORGHUT_GATE_POLICY_PATH={policy_path!r}: {exc}"]
    return []


def _approvers_problems(path: str) -> list[str]:
    """Every problem of the approvers file, each naming the file (and the approver it concerns)."""
    try:
        Approvers.from_toml(Path(path).read_bytes(), origin=path)
    except OSError as exc:
        return [f"TORGHUT_APPROVERS_PATH={path!r} cannot be read: {exc.strerror}"]
    except ApproversFileError as exc:
        return [f"TORGHUT_APPROVERS_PATH={path!r}: {problem}" for problem in exc.problems]
    except ValueError as exc:  # e.g. a NUL byte in the path
        return [f"TORGHUT_APPROVERS_PATH={path!r}: {exc}"]
    return []


__all__ = ["DEFAULT_APPROVERS_PATH", "DEFAULT_GATE_POLICY_PATH", "GovernanceSettings", "governance_settings"]
