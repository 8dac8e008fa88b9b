"""Runtime settings: every environment variable the code location reads (declared in
`config_registry`), checked at load.

This is the one deliberate exception to "no env reads outside resources": a production profile with a
contradictory setting (a static universe, the simulator as signal source, a source without its
credentials) must fail when the code location loads, with every problem in one message, not at 3 am
when the first scheduled run starts. Nothing here connects to anything. Secrets are only checked for
presence and length here: resources receive them through `dagster.EnvVar`, so they never appear in
run config or metadata.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from torghut_assets.adapters.market_simulator import DEFAULT_UNIVERSE
from torghut_assets.catalog_loader import catalog_path, read_catalog
from torghut_assets.config_registry import (
    SETTINGS,
    TRUE_WORDS,
    configured,
    malformed,
    missing_in_production,
    read,
    refused_in_production,
)
from torghut_assets.domain.approvals import MIN_SECRET_BYTES
from torghut_assets.domain.config_problems import ConfigProblems
from torghut_assets.domain.feature_quality import FeatureQualityLimits
from torghut_assets.domain.gates import GatePolicy
from torghut_assets.domain.lane_catalog import CatalogError, LaneCatalog
from torghut_assets.domain.lanes import BROKER_NONE, LaneMode, LaneModeError, parse_lane_modes
from torghut_assets.domain.llm_advisory import AdvisoryPolicy, parse_policy, policy_contradictions
from torghut_assets.domain.order_timing import DEFAULT_PLANNED_DECISION_TIMEOUT_SECONDS
from torghut_assets.domain.signed_approvals import Approvers, ApproversFileError
from torghut_assets.domain.strategy_registry import DEFAULT_TIMEOUT_SECONDS
from torghut_assets.domain.universe_policy import (
    PROFILE_PRODUCTION,
    SOURCE_JANGAR,
    SOURCE_STATIC,
    check_universe_policy,
    normalize_symbols,
)
from torghut_assets.safety_settings import SafetyThresholds, safety_thresholds

SIGNAL_SOURCES = SETTINGS["TORGHUT_SIGNAL_SOURCE"].choices
MAX_FEATURE_WARMUP_MINUTES = 60  # the longest indicator warm-up here is 20 bars (Bollinger)
DEFAULT_GATE_POLICY_PATH = Path(__file__).parent / "policy" / "gates.toml"
DEFAULT_APPROVERS_PATH = Path(__file__).parent / "policy" / "approvers.toml"


class SettingsError(ConfigProblems):
    """The configuration is unusable; the message lists every problem found."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("torghut_assets configuration", problems)


@dataclass(frozen=True)
class Settings:
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
    production = profile == PROFILE_PRODUCTION
    missing = missing_in_production(env) if production else []
    dev_only = refused_in_production(env) if production else []
    bad = malformed(env)
    reported = {s.name for s in missing} | {s.name for s in dev_only} | set(bad)
    rules: list[str] = []

    source = read(env, "TORGHUT_SIGNAL_SOURCE").lower()
    universe_source = read(env, "TRADING_UNIVERSE_SOURCE").lower()
    trading_mode = read(env, "TRADING_MODE").lower()
    listed = [s for s in (configured(env, "TRADING_UNIVERSE_STATIC_SYMBOLS") or "").split(",") if s.strip()]
    static_symbols = normalize_symbols(listed)[0] if listed else DEFAULT_UNIVERSE
    sql_url_set = configured(env, "TORGHUT_SIGNAL_SOURCE_URL") is not None
    alpaca_set = bool(configured(env, "APCA_API_KEY_ID") and configured(env, "APCA_API_SECRET_KEY"))
    jangar_url = configured(env, "JANGAR_SYMBOLS_URL")
    missing_credentials = None
    if source == "sql" and not sql_url_set:
        missing_credentials = "TORGHUT_SIGNAL_SOURCE_URL"
    if source == "alpaca" and not alpaca_set:
        missing_credentials = "APCA_API_KEY_ID and APCA_API_SECRET_KEY"
    fallback_note = None
    if missing_credentials and production:
        rules.append(f"TORGHUT_SIGNAL_SOURCE={source!r} needs {missing_credentials} in production")
    elif missing_credentials:
        fallback_note = (
            f"TORGHUT_SIGNAL_SOURCE={source} but {missing_credentials} is not set: embedded simulator used"
        )
    if production and source == "simulator":
        rules.append("TORGHUT_SIGNAL_SOURCE=simulator is refused in production: use 'sql' or 'alpaca'")
    if "TORGHUT_ENV" not in bad:  # an unknown profile is reported once, not again by the universe rules
        rules += check_universe_policy(
            profile=profile,
            source=universe_source,
            static_symbols=static_symbols if universe_source == SOURCE_STATIC else None,
            trading_enabled=True,
            live_enabled=trading_mode == "live",
            jangar_url=jangar_url if universe_source == SOURCE_JANGAR else None,
        )
    universe_timing = _universe_timing(env, bad)
    rules += universe_timing.problems
    lean_url = configured(env, "TRADING_LEAN_RUNNER_URL")
    policy = read(env, "TRADING_EXECUTION_ADAPTER_POLICY").lower()
    listed_symbols = [
        s for s in (configured(env, "TRADING_EXECUTION_ADAPTER_SYMBOLS") or "").split(",") if s.strip()
    ]
    execution_symbols = normalize_symbols(listed_symbols)[0]
    fallback = read(env, "TRADING_EXECUTION_FALLBACK_ADAPTER").lower()
    if production:
        rules += _production_execution_problems(policy, execution_symbols, fallback, alpaca_set, lean_url)
    timezone = read(env, "TORGHUT_RECONCILIATION_TIMEZONE")
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: e.g. a name too long for a path
        rules.append(f"TORGHUT_RECONCILIATION_TIMEZONE={timezone!r} is not a known time zone")
    policy_path = configured(env, "TORGHUT_GATE_POLICY_PATH") or str(DEFAULT_GATE_POLICY_PATH)
    rules += _gate_policy_problems(policy_path)
    secret = env.get("TORGHUT_APPROVAL_SECRET", "")
    if secret and len(secret.encode("utf-8")) < MIN_SECRET_BYTES:
        rules.append(f"TORGHUT_APPROVAL_SECRET must be at least {MIN_SECRET_BYTES} bytes")
    approvers_path = configured(env, "TORGHUT_APPROVERS_PATH") or str(DEFAULT_APPROVERS_PATH)
    rules += _approvers_problems(approvers_path)
    catalog, catalog_problems = _lane_catalog(env)
    rules += catalog_problems
    lane_modes, mode_problems = _lane_modes(env, trading_mode, catalog)
    rules += mode_problems
    real_venue = lean_url is not None or alpaca_set
    trading_lanes = sorted(lane for lane, mode in lane_modes.items() if mode.reaches_real_venues)
    if universe_source == SOURCE_STATIC and trading_lanes and real_venue and not production:
        rules.append(
            f"TRADING_UNIVERSE_SOURCE=static is refused while orders can reach a real venue "
            f"({', '.join(trading_lanes)} in paper/live mode with "
            f"{'TRADING_LEAN_RUNNER_URL' if lean_url else 'Alpaca keys'} set): use jangar"
        )
    decision_timeout = _whole(env, bad, "TRADING_PLANNED_DECISION_TIMEOUT_SECONDS")
    interval = _whole(env, bad, "TORGHUT_OPEN_WINDOW_INTERVAL_SECONDS")
    if decision_timeout < 0:
        rules.append("TRADING_PLANNED_DECISION_TIMEOUT_SECONDS must be >= 0 (0 disables expiry)")
    if not 5 <= interval <= 300:
        rules.append("TORGHUT_OPEN_WINDOW_INTERVAL_SECONDS must be between 5 and 300")
    strategy_timeout = DEFAULT_TIMEOUT_SECONDS  # a malformed value is reported by the registry only
    if "TORGHUT_STRATEGY_TIMEOUT_SECONDS" not in bad:
        strategy_timeout = float(read(env, "TORGHUT_STRATEGY_TIMEOUT_SECONDS"))
    if strategy_timeout <= 0:
        rules.append(f"TORGHUT_STRATEGY_TIMEOUT_SECONDS={strategy_timeout:g} must be > 0")
    feature_limits, feature_problems = _feature_quality_limits(env, bad)
    rules += feature_problems
    safety, safety_problems = safety_thresholds(env, bad)
    rules += safety_problems
    llm_policy, llm_problems = parse_policy(env)
    rules += llm_problems
    llm_base_url = configured(env, "LLM_BASE_URL")
    llm_model = configured(env, "LLM_MODEL")
    llm_gateway = read(env, "LLM_GATEWAY").lower()
    llm_stream = read(env, "LLM_STREAM").lower() in TRUE_WORDS
    if llm_gateway == "jangar" and not llm_stream:
        rules.append("LLM_STREAM=false with LLM_GATEWAY=jangar: Jangar answers only streamed requests")
    llm_note = None
    if production:
        rules += policy_contradictions(
            llm_policy, base_url=llm_base_url, model=llm_model, trading_mode=trading_mode
        )
    elif llm_policy.enabled and not (llm_base_url and llm_model):
        llm_note = "LLM_ENABLED=true but LLM_BASE_URL or LLM_MODEL is not set: LLM advisory disabled"
    problems = [f"production needs {s.name}: {s.description}" for s in missing]
    problems += [f"{s.name} is refused in production: {s.description}" for s in dev_only]
    problems += [*bad.values(), *_not_yet_reported(rules, reported)]
    if problems:
        raise SettingsError(problems)
    return Settings(
        profile=profile,
        signal_source=source,
        signal_source_url_set=sql_url_set,
        signal_table=read(env, "TRADING_SIGNAL_TABLE"),
        alpaca_credentials_set=alpaca_set,
        alpaca_data_url=configured(env, "APCA_API_DATA_URL"),
        universe_source=universe_source,
        static_symbols=tuple(static_symbols),
        jangar_url=jangar_url,
        trading_mode=trading_mode,
        fallback_note=fallback_note,
        lean_runner_url=lean_url,
        execution_policy=policy,
        execution_symbols=tuple(execution_symbols),
        fallback_adapter=fallback,
        alpaca_trading_url=configured(env, "APCA_API_BASE_URL"),
        reconciliation_timezone=timezone,
        gate_policy_path=policy_path,
        approval_secret_set=bool(secret),
        approvers_path=approvers_path,
        llm_policy=llm_policy,
        llm_base_url=llm_base_url,
        llm_model=llm_model,
        llm_gateway=llm_gateway,
        llm_stream=llm_stream,
        llm_token_limit_field=read(env, "LLM_TOKEN_LIMIT_FIELD").lower(),
        llm_api_key_set=configured(env, "LLM_API_KEY") is not None,
        llm_note=llm_note,
        alert_webhook_url_set=configured(env, "TORGHUT_ALERT_WEBHOOK_URL") is not None,
        metrics_textfile_dir=configured(env, "TORGHUT_METRICS_TEXTFILE_DIR"),
        universe_cache_seconds=universe_timing.cache_seconds,
        universe_max_stale_seconds=universe_timing.max_stale_seconds,
        universe_timeout_seconds=universe_timing.timeout_seconds,
        lane_modes=lane_modes,
        lane_catalog=catalog,
        planned_decision_timeout_seconds=decision_timeout,
        open_window_interval_seconds=interval,
        strategy_timeout_seconds=strategy_timeout,
        feature_quality_limits=feature_limits,
        safety=safety,
    )


def _whole(env: Mapping[str, str], bad: Mapping[str, str], name: str) -> int:
    """An integer setting's value (the registry accepts integral floats such as `5.0`); its default when
    the value was already reported malformed."""
    return int(float(SETTINGS[name].default if name in bad else read(env, name)))


def _feature_quality_limits(
    env: Mapping[str, str], bad: Mapping[str, str]
) -> tuple[FeatureQualityLimits, list[str]]:
    """The limits of the window's feature quality gates (the reference's names and defaults) and our
    session warm-up; each must be >= 0 (the registry already refused non-numbers, NaN and infinities,
    and non-integers for the integer ones). A bad value leaves the defaults."""
    null_rate = float(SETTINGS["TRADING_FEATURE_MAX_REQUIRED_NULL_RATE"].default)
    if "TRADING_FEATURE_MAX_REQUIRED_NULL_RATE" not in bad:
        null_rate = float(read(env, "TRADING_FEATURE_MAX_REQUIRED_NULL_RATE"))
    duplicate_ratio = float(SETTINGS["TRADING_FEATURE_MAX_DUPLICATE_RATIO"].default)
    if "TRADING_FEATURE_MAX_DUPLICATE_RATIO" not in bad:
        duplicate_ratio = float(read(env, "TRADING_FEATURE_MAX_DUPLICATE_RATIO"))
    staleness = _whole(env, bad, "TRADING_FEATURE_MAX_STALENESS_MS")
    warmup = _whole(env, bad, "TRADING_FEATURE_WARMUP_MINUTES")
    values = {
        "TRADING_FEATURE_MAX_REQUIRED_NULL_RATE": null_rate,
        "TRADING_FEATURE_MAX_STALENESS_MS": staleness,
        "TRADING_FEATURE_MAX_DUPLICATE_RATIO": duplicate_ratio,
        "TRADING_FEATURE_WARMUP_MINUTES": warmup,
    }
    problems = [f"{name}={value} must be >= 0" for name, value in values.items() if value < 0]
    if warmup > MAX_FEATURE_WARMUP_MINUTES:
        problems.append(
            f"TRADING_FEATURE_WARMUP_MINUTES={warmup} is more than {MAX_FEATURE_WARMUP_MINUTES}: "
            "it would switch the null-rate gate off for most of the session"
        )
    if problems:
        return FeatureQualityLimits(), problems
    return FeatureQualityLimits(null_rate, staleness, duplicate_ratio, warmup), []


def _lane_catalog(env: Mapping[str, str]) -> tuple[LaneCatalog | None, list[str]]:
    """The lane catalog `TORGHUT_LANE_CATALOG` names (else the shipped one), every problem listed."""
    try:
        return read_catalog(catalog_path(env)), []
    except CatalogError as exc:
        return None, [f"TORGHUT_LANE_CATALOG: {problem}" for problem in exc.problems]


def _lane_modes(
    env: Mapping[str, str], trading_mode: str, catalog: LaneCatalog | None
) -> tuple[dict[str, LaneMode], list[str]]:
    """The lanes not in replay: the catalog's modes with `TORGHUT_LANE_MODES` (the ops override) over
    them. A live lane needs TRADING_MODE=live: the global switch is the last word on live capital; a
    paper/live lane needs an account bound to a broker."""
    lanes = {} if catalog is None else dict(catalog.lanes)
    try:
        overrides = parse_lane_modes(
            configured(env, "TORGHUT_LANE_MODES") or "", frozenset(lanes) if catalog is not None else None
        )
    except LaneModeError as exc:
        return {}, [f"TORGHUT_LANE_MODES: {exc}"]
    modes: dict[str, LaneMode] = {
        lane: cfg.mode for lane, cfg in lanes.items() if cfg.mode is not LaneMode.REPLAY
    }
    modes.update(overrides)
    problems = []
    live = sorted(lane for lane, mode in overrides.items() if mode is LaneMode.LIVE)
    if live and trading_mode != "live":
        problems.append(
            f"TORGHUT_LANE_MODES puts {', '.join(live)} in live mode but TRADING_MODE={trading_mode}"
        )
    for lane, cfg in sorted(lanes.items()):
        if lane not in overrides and cfg.mode is LaneMode.LIVE and trading_mode != "live":
            problems.append(
                f"TORGHUT_LANE_CATALOG: lane '{lane}' is in live mode but TRADING_MODE={trading_mode}"
            )
        if lane in overrides and overrides[lane].reaches_real_venues and cfg.account_broker == BROKER_NONE:
            problems.append(
                f"TORGHUT_LANE_MODES puts {lane} in {overrides[lane].value} mode but its account "
                f"'{cfg.account_label}' has broker = 'none' in the lane catalog (simulated only)"
            )
    return modes, problems


@dataclass(frozen=True)
class _UniverseTiming:
    cache_seconds: int
    max_stale_seconds: int
    timeout_seconds: int
    problems: list[str]


def _universe_timing(env: Mapping[str, str], bad: Mapping[str, str]) -> _UniverseTiming:
    """The Jangar cache TTL, max-stale age and timeout (the reference's names and defaults) and the rules
    between them: 1 <= cache <= max-stale, timeout >= 1. A malformed value is reported by the registry
    only; its default stands in here."""
    cache, max_stale, timeout = (
        _whole(env, bad, name)
        for name in (
            "TRADING_UNIVERSE_CACHE_SECONDS",
            "TRADING_UNIVERSE_MAX_STALE_SECONDS",
            "TRADING_UNIVERSE_TIMEOUT_SECONDS",
        )
    )
    problems = []
    if cache < 1:
        problems.append(f"TRADING_UNIVERSE_CACHE_SECONDS={cache} must be at least 1")
    elif cache > max_stale:
        problems.append(
            f"TRADING_UNIVERSE_CACHE_SECONDS={cache} exceeds TRADING_UNIVERSE_MAX_STALE_SECONDS={max_stale}"
        )
    if timeout < 1:
        problems.append(f"TRADING_UNIVERSE_TIMEOUT_SECONDS={timeout} must be at least 1")
    return _UniverseTiming(cache, max_stale, timeout, problems)


def _not_yet_reported(rules: list[str], reported: set[str]) -> list[str]:
    """Rule problems that name no variable already reported missing or malformed."""
    if not reported:
        return rules
    names = re.compile(r"(?<![A-Z0-9_])(" + "|".join(sorted(reported)) + r")(?![A-Z0-9_])")
    return [rule for rule in rules if not names.search(rule)]


def _production_execution_problems(
    policy: str, symbols: tuple[str, ...], fallback: str, alpaca_set: bool, lean_url: str | None
) -> list[str]:
    problems = []
    if policy == "allowlist" and not symbols:
        problems.append(
            "TRADING_EXECUTION_ADAPTER_POLICY=allowlist with an empty TRADING_EXECUTION_ADAPTER_SYMBOLS"
        )
    if not alpaca_set and not lean_url:
        problems.append("production needs an execution venue: TRADING_LEAN_RUNNER_URL or Alpaca keys")
    if fallback == "alpaca" and not alpaca_set:
        problems.append("TRADING_EXECUTION_FALLBACK_ADAPTER=alpaca needs APCA_API_KEY_ID/APCA_API_SECRET_KEY")
    return problems


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
