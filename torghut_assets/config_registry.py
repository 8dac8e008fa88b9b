"""Every environment variable torghut_assets reads, declared once: type, default, production need,
secrecy and meaning.

Why a registry: the variables used to be read in five modules, each with its own idea of a default
and no list an operator could check a deployment against. Now `settings.load_settings` takes
defaults, type checks and production requirements from here, `torghut-assets config check` prints
every entry with its effective value (secrets masked), `docs/deploy.md` and the Helm values are
checked against it, and a test fails when code reads a variable that is not declared here.

The declarations themselves are grouped by area under `torghut_assets/config_entries/`; the form of one
declaration is `torghut_assets/env_setting.py`. This module fixes their order (the order `config check`
lists them and production problems are reported in) and is the one place values are read through. The
`LLM_*` advisory policy variables are derived from `AdvisoryPolicy`'s fields, so their names and
defaults cannot drift from the policy that parses them.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from torghut_assets.config_entries.deployment import DEPLOYMENT, INSTANCE_STORAGE, QUALITY_CHECKS
from torghut_assets.config_entries.execution import EXECUTION
from torghut_assets.config_entries.governance import GOVERNANCE
from torghut_assets.config_entries.llm import LLM_CONNECTION, LLM_POLICY_SETTINGS
from torghut_assets.config_entries.safety import SAFETY
from torghut_assets.config_entries.sources import DATA_SOURCES
from torghut_assets.config_entries.trading import TRADING
from torghut_assets.env_setting import EnvSetting

REGISTRY: tuple[EnvSetting, ...] = (
    *DEPLOYMENT,
    *DATA_SOURCES,
    *TRADING,
    *EXECUTION,
    *SAFETY,
    *GOVERNANCE,
    *LLM_CONNECTION,
    *QUALITY_CHECKS,
    *LLM_POLICY_SETTINGS,
    *INSTANCE_STORAGE,
)
SETTINGS: Mapping[str, EnvSetting] = MappingProxyType({s.name: s for s in REGISTRY})
if len(SETTINGS) != len(REGISTRY):
    raise RuntimeError("a variable is declared twice in the config registry")


def configured(env: Mapping[str, str], name: str) -> str | None:
    """The variable as set, stripped; None when unset or blank (blank counts as unset everywhere)."""
    if name not in SETTINGS:
        raise KeyError(f"{name} is not declared in torghut_assets.config_registry")
    value = env.get(name, "").strip()
    return value or None


def read(env: Mapping[str, str], name: str) -> str:
    """The value in effect: as set, else the declared default."""
    return configured(env, name) or SETTINGS[name].default


def in_effect(env: Mapping[str, str], bad: Mapping[str, str], name: str) -> str:
    """The value in effect, or the declared default when the set value is in `bad` (already reported
    malformed): the rules between variables then run on a well-formed value, and never report the same
    variable a second time."""
    return SETTINGS[name].default if name in bad else read(env, name)


def whole(env: Mapping[str, str], bad: Mapping[str, str], name: str) -> int:
    """An integer setting's value as `in_effect` gives it (the form check accepts integral floats such as
    `5.0`)."""
    return int(float(in_effect(env, bad, name)))


def malformed(env: Mapping[str, str]) -> dict[str, str]:
    """Set variables whose form is wrong, with the problem. The LLM policy variables are left to
    `parse_policy`, which checks them with the policy's own rules and messages."""
    policy_names = {s.name for s in LLM_POLICY_SETTINGS}
    found: dict[str, str] = {}
    for setting in REGISTRY:
        raw = configured(env, setting.name)
        if raw is None or setting.name in policy_names:
            continue
        problem = setting.problem(raw)
        if problem:
            found[setting.name] = problem
    return found


def missing_in_production(env: Mapping[str, str]) -> list[EnvSetting]:
    """Variables a production code location cannot run without, in declaration order."""
    return [s for s in REGISTRY if s.production_required and configured(env, s.name) is None]


def refused_in_production(env: Mapping[str, str]) -> list[EnvSetting]:
    """Dev-only variables that are set: a production code location refuses to load with them."""
    return [s for s in REGISTRY if s.dev_only and configured(env, s.name) is not None]
