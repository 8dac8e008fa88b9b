"""The config registry declares every environment variable the package reads, and agrees with the code
that reads them."""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

import torghut_assets
from torghut_assets.config_entries.llm import LLM_POLICY_SETTINGS
from torghut_assets.config_registry import REGISTRY, SETTINGS, configured
from torghut_assets.domain.llm_advisory import AdvisoryPolicy, parse_policy
from torghut_assets.settings import load_settings
from torghut_assets_tests.test_settings import PRODUCTION_OK

PACKAGE = Path(torghut_assets.__file__).parent
ENV_MAPPINGS = ("environ", "env")  # `os.environ.get(...)`, `env.get(...)` on a Mapping of variables
# Modules whose reads take the name from a variable: they iterate over the registry itself, or over
# `AdvisoryPolicy`'s fields (whose names the registry derives, see the LLM test below), or over the
# market-data secrets `market_data_config` names (registered, see the test below).
COMPUTED_NAME_READERS = {"config_registry.py", "config_report.py", "definitions.py", "domain/llm_advisory.py"}


def _env_reads(tree: ast.AST) -> Iterator[ast.expr]:
    """The name argument of every environment read: `os.environ.get/setdefault/[...]`, `os.getenv`,
    `env.get`, `EnvVar(...)`."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Subscript) and getattr(node.value, "attr", None) == "environ":
            yield node.slice
        if not isinstance(node, ast.Call) or not node.args:
            continue
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        target = func.value if isinstance(func, ast.Attribute) else None
        target_name = getattr(target, "attr", None) or getattr(target, "id", None)
        if name in ("EnvVar", "getenv") or (name in ("get", "setdefault") and target_name in ENV_MAPPINGS):
            yield node.args[0]


def _reads_by_module() -> dict[str, list[ast.expr]]:
    return {
        str(path.relative_to(PACKAGE)): list(_env_reads(ast.parse(path.read_text(encoding="utf-8"))))
        for path in sorted(PACKAGE.rglob("*.py"))
    }


def _literal_names() -> dict[str, set[str]]:
    names: dict[str, set[str]] = {}
    for module, reads in _reads_by_module().items():
        for arg in reads:
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                names.setdefault(arg.value, set()).add(module)
    return names


def test_every_environment_variable_the_package_reads_is_declared() -> None:
    read = _literal_names()
    assert {"TORGHUT_DATABASE_URL", "DAGSTER_HOME", "APCA_API_SECRET_KEY", "LLM_API_KEY"} <= set(read)
    undeclared = {name: sorted(modules) for name, modules in read.items() if name not in SETTINGS}
    assert undeclared == {}


def test_variables_are_read_by_computed_name_only_where_the_registry_covers_them() -> None:
    computed = {
        module
        for module, reads in _reads_by_module().items()
        for arg in reads
        if not (isinstance(arg, ast.Constant) and isinstance(arg.value, str))
    }
    assert computed <= COMPUTED_NAME_READERS


def test_the_market_data_secrets_read_by_computed_name_are_registered_variables() -> None:
    from torghut_assets.config_registry import SETTINGS
    from torghut_assets.market_data_config import ALPACA_SECRETS, SQL_SECRETS

    assert {*SQL_SECRETS.values(), *ALPACA_SECRETS.values()} <= set(SETTINGS)


class RecordingEnv(Mapping[str, str]):
    """An environment that remembers every name asked for."""

    def __init__(self, values: Mapping[str, str]) -> None:
        self.values = dict(values)
        self.asked: set[str] = set()

    def __getitem__(self, name: str) -> str:
        self.asked.add(name)
        return self.values[name]

    def __contains__(self, name: object) -> bool:
        self.asked.add(str(name))
        return name in self.values

    def __iter__(self) -> Iterator[str]:
        raise AssertionError("settings must ask for variables by name, not list the environment")

    def __len__(self) -> int:
        return len(self.values)


@pytest.mark.parametrize("profile", [{}, PRODUCTION_OK], ids=["dev", "production"])
def test_load_settings_asks_only_for_declared_variables(profile: dict[str, str]) -> None:
    env = RecordingEnv(profile)
    load_settings(env)
    assert "TORGHUT_ENV" in env.asked
    assert env.asked - set(SETTINGS) == set()


def test_the_llm_policy_variables_are_the_advisory_policy_fields_with_its_defaults() -> None:
    declared = {s.name: s.default for s in LLM_POLICY_SETTINGS}
    env = RecordingEnv({})
    parse_policy(env)
    assert env.asked == set(declared)
    policy, problems = parse_policy({name: default for name, default in declared.items() if default})
    assert (policy, problems) == (AdvisoryPolicy(), [])


def test_declared_defaults_are_the_values_a_bare_environment_loads_with() -> None:
    settings = load_settings({})
    loaded = {
        "TORGHUT_ENV": settings.profile,
        "TORGHUT_SIGNAL_SOURCE": settings.signal_source,
        "TRADING_SIGNAL_TABLE": settings.signal_table,
        "TRADING_UNIVERSE_SOURCE": settings.universe_source,
        "TRADING_MODE": settings.trading_mode,
        "TRADING_EXECUTION_ADAPTER_POLICY": settings.execution_policy,
        "TRADING_EXECUTION_FALLBACK_ADAPTER": settings.fallback_adapter,
        "TORGHUT_RECONCILIATION_TIMEZONE": settings.reconciliation_timezone,
    }
    assert loaded == {name: SETTINGS[name].default for name in loaded}


def test_every_declared_default_passes_its_own_type_check() -> None:
    failing = {s.name: s.problem(s.default) for s in REGISTRY if s.default and s.problem(s.default)}
    assert failing == {}


def test_every_declared_variable_says_what_it_is_for_in_one_line() -> None:
    unclear = [s.name for s in REGISTRY if not s.description or "\n" in s.description]
    assert unclear == []


def test_production_requirements_are_declared_for_the_code_location_only() -> None:
    required = [s.name for s in REGISTRY if s.production_required]
    assert required == [
        "TORGHUT_DATABASE_URL",
        "TORGHUT_ARTIFACT_ROOT",
        "TORGHUT_SIGNAL_SOURCE",
        "TRADING_UNIVERSE_SOURCE",
        "JANGAR_SYMBOLS_URL",
    ]


def test_only_the_hmac_approval_secret_is_dev_only_and_production_refuses_it() -> None:
    from torghut_assets.config_registry import refused_in_production

    assert [s.name for s in REGISTRY if s.dev_only] == ["TORGHUT_APPROVAL_SECRET"]
    assert [s.name for s in refused_in_production({"TORGHUT_APPROVAL_SECRET": "x" * 40})] == [
        "TORGHUT_APPROVAL_SECRET"
    ]
    assert refused_in_production({"TORGHUT_APPROVAL_SECRET": "  "}) == []


def test_a_blank_value_counts_as_unset() -> None:
    assert configured({"JANGAR_SYMBOLS_URL": "   "}, "JANGAR_SYMBOLS_URL") is None


def test_reading_an_undeclared_variable_is_a_programming_error() -> None:
    with pytest.raises(KeyError, match="TORGHUT_DATABSE_URL is not declared"):
        configured({}, "TORGHUT_DATABSE_URL")
