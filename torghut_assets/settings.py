"""Runtime settings: every environment variable the code location reads, in one place, checked at load.

This is the one deliberate exception to "no env reads outside resources": a production profile with a
contradictory setting (a static universe, the simulator as signal source, a source without its
credentials) must fail when the code location loads, with every problem in one message, not at 3 am
when the first scheduled run starts. Nothing here connects to anything. Secrets are only checked for
presence and length here: resources receive them through `dagster.EnvVar`, so they never appear in
run config or metadata.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from torghut_assets.adapters.market_simulator import DEFAULT_UNIVERSE
from torghut_assets.domain.approvals import MIN_SECRET_BYTES
from torghut_assets.domain.gates import GatePolicy
from torghut_assets.domain.llm_advisory import AdvisoryPolicy, parse_policy, policy_contradictions
from torghut_assets.domain.universe_policy import (
    PROFILE_DEV,
    PROFILE_PRODUCTION,
    SOURCE_JANGAR,
    SOURCE_STATIC,
    check_universe_policy,
    normalize_symbols,
)

SIGNAL_SOURCES = ("simulator", "sql", "alpaca")
DEFAULT_GATE_POLICY_PATH = Path(__file__).parent / "policy" / "gates.toml"


class SettingsError(ValueError):
    """The configuration is unusable; the message lists every problem found."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = tuple(problems)
        listed = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"torghut_assets configuration has {len(problems)} problem(s):\n{listed}")


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
    llm_policy: AdvisoryPolicy = field(default_factory=AdvisoryPolicy)
    llm_base_url: str | None = None
    llm_model: str | None = None
    llm_api_key_set: bool = False
    llm_note: str | None = None

    @property
    def effective_signal_source(self) -> str:
        return "simulator" if self.fallback_note else self.signal_source


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Read and validate; in `dev` a source without credentials falls back to the simulator (and says so)."""
    env = os.environ if env is None else env
    profile = env.get("TORGHUT_ENV", PROFILE_DEV).strip().lower()
    source = env.get("TORGHUT_SIGNAL_SOURCE", "simulator").strip().lower()
    universe_source = env.get("TRADING_UNIVERSE_SOURCE", SOURCE_STATIC).strip().lower()
    trading_mode = env.get("TRADING_MODE", "paper").strip().lower()
    raw_symbols = env.get("TRADING_UNIVERSE_STATIC_SYMBOLS", "")
    listed = [s for s in raw_symbols.split(",") if s.strip()]
    static_symbols = normalize_symbols(listed)[0] if listed else DEFAULT_UNIVERSE
    sql_url_set = bool(env.get("TORGHUT_SIGNAL_SOURCE_URL", "").strip())
    alpaca_set = bool(env.get("APCA_API_KEY_ID", "").strip() and env.get("APCA_API_SECRET_KEY", "").strip())
    problems: list[str] = []
    if profile not in (PROFILE_DEV, PROFILE_PRODUCTION):
        problems.append(f"TORGHUT_ENV={profile!r} is not one of 'dev', 'production'")
    if source not in SIGNAL_SOURCES:
        problems.append(f"TORGHUT_SIGNAL_SOURCE={source!r} is not one of {', '.join(SIGNAL_SOURCES)}")
    if trading_mode not in ("paper", "live"):
        problems.append(f"TRADING_MODE={trading_mode!r} is not one of 'paper', 'live'")
    missing = None
    if source == "sql" and not sql_url_set:
        missing = "TORGHUT_SIGNAL_SOURCE_URL"
    if source == "alpaca" and not alpaca_set:
        missing = "APCA_API_KEY_ID and APCA_API_SECRET_KEY"
    fallback_note = None
    if missing and profile == PROFILE_PRODUCTION:
        problems.append(f"TORGHUT_SIGNAL_SOURCE={source!r} needs {missing} in production")
    elif missing:
        fallback_note = f"TORGHUT_SIGNAL_SOURCE={source} but {missing} is not set: embedded simulator used"
    if profile == PROFILE_PRODUCTION and source == "simulator":
        problems.append("TORGHUT_SIGNAL_SOURCE=simulator is refused in production: use 'sql' or 'alpaca'")
    problems += check_universe_policy(
        profile=profile,
        source=universe_source,
        static_symbols=static_symbols if universe_source == SOURCE_STATIC else None,
        trading_enabled=True,
        live_enabled=trading_mode == "live",
        jangar_url=env.get("JANGAR_SYMBOLS_URL") if universe_source == SOURCE_JANGAR else None,
    )
    lean_url = env.get("TRADING_LEAN_RUNNER_URL", "").strip() or None
    policy = env.get("TRADING_EXECUTION_ADAPTER_POLICY", "all").strip().lower()
    listed_symbols = [s for s in env.get("TRADING_EXECUTION_ADAPTER_SYMBOLS", "").split(",") if s.strip()]
    execution_symbols = normalize_symbols(listed_symbols)[0]
    fallback = env.get("TRADING_EXECUTION_FALLBACK_ADAPTER", "alpaca").strip().lower()
    if policy not in ("all", "allowlist"):
        problems.append(f"TRADING_EXECUTION_ADAPTER_POLICY={policy!r} is not one of 'all', 'allowlist'")
    if fallback not in ("alpaca", "none"):
        problems.append(f"TRADING_EXECUTION_FALLBACK_ADAPTER={fallback!r} is not one of 'alpaca', 'none'")
    if profile == PROFILE_PRODUCTION:
        if policy == "allowlist" and not execution_symbols:
            problems.append(
                "TRADING_EXECUTION_ADAPTER_POLICY=allowlist with an empty TRADING_EXECUTION_ADAPTER_SYMBOLS"
            )
        if not alpaca_set and not lean_url:
            problems.append("production needs an execution venue: TRADING_LEAN_RUNNER_URL or Alpaca keys")
        if fallback == "alpaca" and not alpaca_set:
            problems.append(
                "TRADING_EXECUTION_FALLBACK_ADAPTER=alpaca needs APCA_API_KEY_ID/APCA_API_SECRET_KEY"
            )
    timezone = env.get("TORGHUT_RECONCILIATION_TIMEZONE", "America/New_York").strip()
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: e.g. a name too long for a path
        problems.append(f"TORGHUT_RECONCILIATION_TIMEZONE={timezone!r} is not a known time zone")
    policy_path = env.get("TORGHUT_GATE_POLICY_PATH", "").strip() or str(DEFAULT_GATE_POLICY_PATH)
    try:
        GatePolicy.from_toml(Path(policy_path).read_text(encoding="utf-8"))
    except OSError as exc:
        problems.append(f"TORGHUT_GATE_POLICY_PATH={policy_path!r} cannot be read: {exc.strerror}")
    except ValueError as exc:
        problems.append(f"TORGHUT_GATE_POLICY_PATH={policy_path!r}: {exc}")
    secret = env.get("TORGHUT_APPROVAL_SECRET", "")
    if secret and len(secret.encode("utf-8")) < MIN_SECRET_BYTES:
        problems.append(f"TORGHUT_APPROVAL_SECRET must be at least {MIN_SECRET_BYTES} bytes")
    if not secret and profile == PROFILE_PRODUCTION:
        problems.append("production needs TORGHUT_APPROVAL_SECRET to sign and verify approval overrides")
    llm_policy, llm_problems = parse_policy(env)
    problems += llm_problems
    llm_base_url = env.get("LLM_BASE_URL", "").strip() or None
    llm_model = env.get("LLM_MODEL", "").strip() or None
    if llm_base_url and not llm_base_url.lower().startswith(("http://", "https://")):
        problems.append(f"LLM_BASE_URL={llm_base_url!r} must be http(s)://...")
    llm_note = None
    if profile == PROFILE_PRODUCTION:
        problems += policy_contradictions(
            llm_policy, base_url=llm_base_url, model=llm_model, trading_mode=trading_mode
        )
    elif llm_policy.enabled and not (llm_base_url and llm_model):
        llm_note = "LLM_ENABLED=true but LLM_BASE_URL or LLM_MODEL is not set: LLM advisory disabled"
    if problems:
        raise SettingsError(problems)
    return Settings(
        profile=profile,
        signal_source=source,
        signal_source_url_set=sql_url_set,
        signal_table=env.get("TRADING_SIGNAL_TABLE", "ta_signals").strip(),
        alpaca_credentials_set=alpaca_set,
        alpaca_data_url=env.get("APCA_API_DATA_URL") or None,
        universe_source=universe_source,
        static_symbols=tuple(static_symbols),
        jangar_url=env.get("JANGAR_SYMBOLS_URL") or None,
        trading_mode=trading_mode,
        fallback_note=fallback_note,
        lean_runner_url=lean_url,
        execution_policy=policy,
        execution_symbols=tuple(execution_symbols),
        fallback_adapter=fallback,
        alpaca_trading_url=env.get("APCA_API_BASE_URL") or None,
        reconciliation_timezone=timezone,
        gate_policy_path=policy_path,
        approval_secret_set=bool(secret),
        llm_policy=llm_policy,
        llm_base_url=llm_base_url,
        llm_model=llm_model,
        llm_api_key_set=bool(env.get("LLM_API_KEY", "").strip()),
        llm_note=llm_note,
    )
