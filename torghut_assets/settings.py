"""Runtime settings: every environment variable the code location reads (declared in
`config_registry`), checked at load.

This is the one deliberate exception to "no env reads outside resources": a production profile with a
contradictory setting (a static universe, the simulator as signal source, a source without its
credentials) must fail when the code location loads, with every problem in one message, not at 3 am
when the first scheduled run starts. Nothing here connects to anything. Secrets are only checked for
presence and length here: resources receive them through `dagster.EnvVar`, so they never appear in
run config or metadata.

Each area is read and checked by its own module (`source_settings`, `governance_settings`,
`lane_settings`, `window_settings`, `safety_settings`, `llm_settings`); this one orders their problems,
adds the rules that span areas, and assembles the one `Settings` the resources are built from.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from torghut_assets.config_registry import (
    SETTINGS,
    malformed,
    missing_in_production,
    read,
    refused_in_production,
)
from torghut_assets.domain.config_problems import ConfigProblems
from torghut_assets.domain.feature_quality import FeatureQualityLimits
from torghut_assets.domain.lane_catalog import LaneCatalog
from torghut_assets.domain.lanes import LaneMode
from torghut_assets.domain.llm_advisory import AdvisoryPolicy
from torghut_assets.domain.order_timing import DEFAULT_PLANNED_DECISION_TIMEOUT_SECONDS
from torghut_assets.domain.strategy_interface import DEFAULT_TIMEOUT_SECONDS
from torghut_assets.domain.universe_policy import Profile, UniverseSource
from torghut_assets.env_setting import EnvSetting
from torghut_assets.governance_settings import DEFAULT_APPROVERS_PATH as DEFAULT_APPROVERS_PATH
from torghut_assets.governance_settings import DEFAULT_GATE_POLICY_PATH as DEFAULT_GATE_POLICY_PATH
from torghut_assets.governance_settings import GovernanceSettings, governance_settings
from torghut_assets.lane_settings import LaneSettings, lane_settings
from torghut_assets.llm_settings import LlmSettings, llm_settings
from torghut_assets.safety_settings import SafetyThresholds, safety_thresholds
from torghut_assets.source_settings import (
    ExecutionSettings,
    SignalSourceSettings,
    UniverseSettings,
    execution_settings,
    signal_source_settings,
    universe_settings,
)
from torghut_assets.window_settings import WindowSettings, window_settings

SIGNAL_SOURCES = SETTINGS["TORGHUT_SIGNAL_SOURCE"].choices


class SettingsError(ConfigProblems):
    """The configuration is unusable; the message lists every problem found."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("torghut_assets configuration", problems)


@dataclass(frozen=True)
class Settings:
    """The configuration in effect, flat: resources, sensors and `config check` each read a few fields, and
    a flat record keeps them from depending on how the checks are grouped. Secrets appear only as
    `*_set` flags."""

    profile: str
    signal_source: str
    signal_source_url_set: bool
    signal_table: str
    alpaca_credentials_set: bool
    alpaca_data_url: str | None
    universe_source: str
    static_symbols: tuple[str, ...]
    jangar_url: str | None
    trading_mode: str
    fallback_note: str | None
    lean_runner_url: str | None = None
    execution_policy: str = "all"
    execution_symbols: tuple[str, ...] = ()
    fallback_adapter: str = "alpaca"
    alpaca_trading_url: str | None = None
    reconciliation_timezone: str = "America/New_York"
    gate_policy_path: str = str(DEFAULT_GATE_POLICY_PATH)
    approval_secret_set: bool = False
    approvers_path: str = str(DEFAULT_APPROVERS_PATH)
    llm_policy: AdvisoryPolicy = field(default_factory=AdvisoryPolicy)
    llm_base_url: str | None = None
    llm_model: str | None = None
    llm_gateway: str = "jangar"
    llm_stream: bool = True
    llm_token_limit_field: str = "auto"
    llm_api_key_set: bool = False
    llm_note: str | None = None
    alert_webhook_url_set: bool = False
    metrics_textfile_dir: str | None = None
    universe_cache_seconds: int = 300
    universe_max_stale_seconds: int = 900
    universe_timeout_seconds: int = 5
    lane_modes: Mapping[str, LaneMode] = field(default_factory=dict)
    lane_catalog: LaneCatalog | None = None
    planned_decision_timeout_seconds: int = DEFAULT_PLANNED_DECISION_TIMEOUT_SECONDS
    open_window_interval_seconds: int = 15
    strategy_timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS
    feature_quality_limits: FeatureQualityLimits = field(default_factory=FeatureQualityLimits)
    safety: SafetyThresholds = field(default_factory=SafetyThresholds)

    @property
    def effective_signal_source(self) -> str:
        return "simulator" if self.fallback_note else self.signal_source


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Read and validate; in `dev` a source without credentials falls back to the simulator (and says so).

    Problems come in three layers, each variable reported once: a production requirement left unset,
    then a value of the wrong form (both from `config_registry`), then rules between variables; a
    rule about a variable already reported is skipped, since fixing the first report changes it.
    """
    env = os.environ if env is None else env
    profile = read(env, "TORGHUT_ENV").lower()
    production = profile == Profile.PRODUCTION
    missing = missing_in_production(env) if production else []
    dev_only = refused_in_production(env) if production else []
    bad = malformed(env)
    trading_mode = read(env, "TRADING_MODE").lower()
    source = signal_source_settings(env, production=production)
    universe = universe_settings(env, bad, profile=profile, trading_mode=trading_mode)
    execution = execution_settings(env, production=production, alpaca_set=source.alpaca_credentials_set)
    governance = governance_settings(env)
    lanes = lane_settings(env, trading_mode=trading_mode)
    window = window_settings(env, bad)
    safety, safety_problems = safety_thresholds(env, bad)
    llm = llm_settings(env, production=production, trading_mode=trading_mode)
    rules = [
        *source.problems,
        *universe.problems,
        *execution.problems,
        *governance.problems,
        *lanes.problems,
        *_static_universe_problems(universe, lanes, execution, source, production=production),
        *window.problems,
        *safety_problems,
        *llm.problems,
    ]
    problems = _layered_problems(missing, dev_only, bad, rules)
    if problems:
        raise SettingsError(problems)
    return _settings(
        profile, trading_mode, source, universe, execution, governance, lanes, window, safety, llm
    )


def _static_universe_problems(
    universe: UniverseSettings,
    lanes: LaneSettings,
    execution: ExecutionSettings,
    source: SignalSourceSettings,
    *,
    production: bool,
) -> list[str]:
    """Outside production too, a static universe is refused once orders can reach a real venue: a dev
    profile with Alpaca keys and a paper lane trades real (paper) orders on a hand-typed symbol list."""
    real_venue = execution.lean_runner_url is not None or source.alpaca_credentials_set
    trading_lanes = sorted(lane for lane, mode in lanes.modes.items() if mode.reaches_real_venues)
    if universe.source != UniverseSource.STATIC or not trading_lanes or not real_venue or production:
        return []
    return [
        f"TRADING_UNIVERSE_SOURCE=static is refused while orders can reach a real venue "
        f"({', '.join(trading_lanes)} in paper/live mode with "
        f"{'TRADING_LEAN_RUNNER_URL' if execution.lean_runner_url else 'Alpaca keys'} set): use jangar"
    ]


def _layered_problems(
    missing: Sequence[EnvSetting], dev_only: Sequence[EnvSetting], bad: Mapping[str, str], rules: list[str]
) -> list[str]:
    """The three layers in order, with the rules about an already reported variable left out."""
    reported = {s.name for s in missing} | {s.name for s in dev_only} | set(bad)
    problems = [f"production needs {s.name}: {s.description}" for s in missing]
    problems += [f"{s.name} is refused in production: {s.description}" for s in dev_only]
    problems += [*bad.values(), *_not_yet_reported(rules, reported)]
    return problems


def _not_yet_reported(rules: list[str], reported: set[str]) -> list[str]:
    """Rule problems that name no variable already reported missing or malformed."""
    if not reported:
        return rules
    names = re.compile(r"(?<![A-Z0-9_])(" + "|".join(sorted(reported)) + r")(?![A-Z0-9_])")
    return [rule for rule in rules if not names.search(rule)]


def _settings(
    profile: str,
    trading_mode: str,
    source: SignalSourceSettings,
    universe: UniverseSettings,
    execution: ExecutionSettings,
    governance: GovernanceSettings,
    lanes: LaneSettings,
    window: WindowSettings,
    safety: SafetyThresholds,
    llm: LlmSettings,
) -> Settings:
    """The areas' values as the one flat `Settings` every resource and sensor reads."""
    return Settings(
        profile=profile,
        signal_source=source.source,
        signal_source_url_set=source.url_set,
        signal_table=source.table,
        alpaca_credentials_set=source.alpaca_credentials_set,
        alpaca_data_url=source.alpaca_data_url,
        universe_source=universe.source,
        static_symbols=universe.static_symbols,
        jangar_url=universe.jangar_url,
        trading_mode=trading_mode,
        fallback_note=source.fallback_note,
        lean_runner_url=execution.lean_runner_url,
        execution_policy=execution.policy,
        execution_symbols=execution.symbols,
        fallback_adapter=execution.fallback_adapter,
        alpaca_trading_url=source.alpaca_trading_url,
        reconciliation_timezone=governance.reconciliation_timezone,
        gate_policy_path=governance.gate_policy_path,
        approval_secret_set=governance.approval_secret_set,
        approvers_path=governance.approvers_path,
        llm_policy=llm.policy,
        llm_base_url=llm.base_url,
        llm_model=llm.model,
        llm_gateway=llm.gateway,
        llm_stream=llm.stream,
        llm_token_limit_field=llm.token_limit_field,
        llm_api_key_set=llm.api_key_set,
        llm_note=llm.note,
        alert_webhook_url_set=governance.alert_webhook_url_set,
        metrics_textfile_dir=governance.metrics_textfile_dir,
        universe_cache_seconds=universe.cache_seconds,
        universe_max_stale_seconds=universe.max_stale_seconds,
        universe_timeout_seconds=universe.timeout_seconds,
        lane_modes=lanes.modes,
        lane_catalog=lanes.catalog,
        planned_decision_timeout_seconds=window.planned_decision_timeout_seconds,
        open_window_interval_seconds=window.open_window_interval_seconds,
        strategy_timeout_seconds=window.strategy_timeout_seconds,
        feature_quality_limits=window.feature_quality_limits,
        safety=safety,
    )
