"""Every environment variable torghut_assets reads, declared once: type, default, production need,
secrecy and meaning.

Why a registry: the variables used to be read in five modules, each with its own idea of a default
and no list an operator could check a deployment against. Now `settings.load_settings` takes
defaults, type checks and production requirements from here, `torghut-assets config check` prints
every entry with its effective value (secrets masked), `docs/deploy.md` and the Helm values are
checked against it, and a test fails when code reads a variable that is not declared here.

The `LLM_*` advisory policy variables are derived from `AdvisoryPolicy`'s fields, so their names and
defaults cannot drift from the policy that parses them.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from types import MappingProxyType
from urllib.parse import urlsplit

from torghut_assets.adapters.market_simulator import DEFAULT_UNIVERSE
from torghut_assets.domain.llm_advisory import (
    ENFORCEMENTS,
    FAIL_MODES,
    AdvisoryPolicy,
    RolloutStage,
    env_name,
)
from torghut_assets.domain.strategy_registry import DEFAULT_TIMEOUT_SECONDS
from torghut_assets.domain.universe_policy import PROFILE_DEV, PROFILES, SOURCE_STATIC, SOURCES

KINDS = ("str", "int", "float", "bool", "url", "csv", "csv-symbols", "path", "choice")
CODE_LOCATION = "code location"
INSTANCE = "dagster instance"
HTTP = ("http", "https")
TRUE_WORDS = ("1", "true", "yes", "on")
FALSE_WORDS = ("0", "false", "no", "off")
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*")


@dataclass(frozen=True)
class EnvSetting:
    """One variable. `default` is the value used when it is unset or blank ("" = none); `when_unset`
    says in words what happens then when that is computed at run time (a path under DAGSTER_HOME)."""

    name: str
    kind: str
    description: str
    default: str = ""
    when_unset: str = ""
    choices: tuple[str, ...] = ()
    schemes: tuple[str, ...] = ()
    production_required: bool = False
    secret: bool = False
    read_by: str = CODE_LOCATION
    dev_only: bool = False  # a production profile refuses to load with it set

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"{self.name}: unknown kind {self.kind!r}")
        if (self.kind == "choice") != bool(self.choices):
            raise ValueError(f"{self.name}: choices go with kind 'choice' only")

    def problem(self, raw: str) -> str | None:
        """What is wrong with a set value's form, or None. Rules between variables live in settings."""
        value = raw.strip()
        if self.kind == "choice" and value.lower() not in self.choices:
            return f"{self.name}={value.lower()!r} is not one of {', '.join(map(repr, self.choices))}"
        if self.kind == "bool" and value.lower() not in (*TRUE_WORDS, *FALSE_WORDS):
            return f"{self.name}={value!r} is not a boolean (true/false)"
        if self.kind in ("int", "float") and not _is_number(value, integer=self.kind == "int"):
            return f"{self.name}={value!r} is not {'an integer' if self.kind == 'int' else 'a finite number'}"
        if self.kind == "url" and not _is_url(value, self.schemes):
            wanted = "an http(s):// URL" if self.schemes == HTTP else "a URL (scheme://...)"
            return f"{self.name}={_shown(self, value)} must be {wanted}"
        return None


def _shown(setting: EnvSetting, value: str) -> str:
    return mask(value) if setting.secret else repr(redacted(setting, value))


def mask(value: str) -> str:
    """A secret as `config check` and problem messages show it: never a character of it."""
    return f"****({len(value)} chars)"


def redacted(setting: EnvSetting, value: str) -> str:
    """A value fit to print: secrets masked, and a password inside any URL replaced by `***`."""
    if setting.secret:
        return mask(value)
    if setting.kind != "url":
        return value
    try:
        parts = urlsplit(value)
        password = parts.password
    except ValueError:
        return value
    if not password:
        return value
    netloc = parts.netloc.replace(f":{password}@", ":***@", 1)
    return parts._replace(netloc=netloc).geturl()


def _is_number(text: str, *, integer: bool) -> bool:
    try:
        number = float(text)
    except ValueError:
        return False
    return math.isfinite(number) and (number.is_integer() if integer else True)


def _is_url(text: str, schemes: tuple[str, ...]) -> bool:
    try:
        parts = urlsplit(text)
    except ValueError:
        return False
    if not _SCHEME.fullmatch(parts.scheme) or "://" not in text:
        return False
    return not schemes or (parts.scheme.lower() in schemes and bool(parts.hostname))


def _policy_default(field: dataclasses.Field[object]) -> str:
    value = getattr(AdvisoryPolicy(), field.name)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, tuple):
        return ",".join(value)
    return "" if value is None else str(value)


def _policy_kind(field: dataclasses.Field[object]) -> tuple[str, tuple[str, ...]]:
    value = getattr(AdvisoryPolicy(), field.name)
    if isinstance(value, bool):
        return "bool", ()
    if isinstance(value, int):
        return "int", ()
    if isinstance(value, float):
        return "float", ()
    if isinstance(value, tuple):
        return "csv", ()
    if isinstance(value, RolloutStage):
        return "choice", tuple(stage.value for stage in RolloutStage)
    if field.name.endswith("fail_mode"):
        return "choice", FAIL_MODES
    if field.name == "fail_mode_enforcement":
        return "choice", ENFORCEMENTS
    return "str", ()


_LLM_POLICY_DESCRIPTIONS: Mapping[str, str] = {
    "enabled": "turn the LLM advisory on; it reviews decisions and never places orders",
    "shadow_mode": "force shadow at any stage: reviews are recorded and change nothing",
    "rollout_stage": "stage0..stage3, short or full name (stage2 acts in paper only, stage3 also live)",
    "fail_mode": "what a transport/parse/validation error does: veto or pass_through",
    "fail_mode_enforcement": "strict_veto makes every error a veto; configured honours LLM_FAIL_MODE",
    "fail_open_live_approved": "approval for pass_through on errors while TRADING_MODE=live",
    "min_confidence": "answers below this confidence take LLM_QUALITY_FAIL_MODE",
    "abstain_fail_mode": "what an abstain does: veto or pass_through",
    "escalate_fail_mode": "what an escalate does: veto or pass_through",
    "quality_fail_mode": "what a low-confidence answer does: veto or pass_through",
    "adjustment_allowed": "the policy allows quantity/order-type adjustments",
    "adjustment_approved": "adjustments were approved (needs LLM_ADJUSTMENT_ALLOWED too)",
    "min_qty_multiplier": "lowest adjusted quantity, as a multiple of the planned quantity",
    "max_qty_multiplier": "highest adjusted quantity, as a multiple of the planned quantity",
    "max_tokens": "completion tokens asked for per review",
    "token_budget_max": "prompt + completion token ceiling; larger requests are blocked, not sent",
    "timeout_seconds": "end-to-end time limit of one call",
    "circuit_max_errors": "errors within the circuit window that open the circuit",
    "circuit_window_seconds": "window over which circuit errors are counted",
    "circuit_cooldown_seconds": "how long an open circuit skips calls",
    "allowed_models": "model inventory (comma-separated); stage 2-3 need LLM_MODEL in it",
    "allowed_prompt_versions": "prompt versions allowed (comma-separated; empty = any)",
    "evaluation_report": "reference of the model evaluation report (stage 2-3 prerequisite)",
    "effective_challenge_id": "id of the effective-challenge review (stage 2-3 prerequisite)",
    "shadow_completed_at": "when the shadow pilot completed (stage 2-3 prerequisite)",
    "model_version_lock": "pinned model version (stage 2-3 prerequisite)",
    "error_budget_max_rate": "error rate that spends the error budget and blocks live promotion",
    "mismatch_budget_max_rate": "guardrail-mismatch rate that spends the error budget",
    "error_budget_window_hours": "hours of lane windows the error budget looks back over",
    "error_budget_min_reviews": "floor on the review count the error rates divide by",
}


def _llm_policy_settings() -> tuple[EnvSetting, ...]:
    declared = []
    for field in dataclasses.fields(AdvisoryPolicy):
        kind, choices = _policy_kind(field)
        declared.append(
            EnvSetting(
                env_name(field.name),
                kind,
                _LLM_POLICY_DESCRIPTIONS[field.name],
                default=_policy_default(field),
                choices=choices,
            )
        )
    return tuple(declared)


_CORE: tuple[EnvSetting, ...] = (
    EnvSetting(
        "TORGHUT_ENV",
        "choice",
        "profile: production refuses the simulator, static universes and missing credentials at load",
        default=PROFILE_DEV,
        choices=PROFILES,
    ),
    EnvSetting(
        "TORGHUT_DATABASE_URL",
        "url",
        "SQLAlchemy URL of the ledger (PostgreSQL in production); holds the database password",
        when_unset="SQLite file under $DAGSTER_HOME",
        production_required=True,
        secret=True,
    ),
    EnvSetting(
        "TORGHUT_ARTIFACT_ROOT",
        "path",
        "folder of the content-addressed evidence artifacts; shared by every run pod in production",
        when_unset="$DAGSTER_HOME/artifacts",
        production_required=True,
    ),
    EnvSetting(
        "DAGSTER_HOME",
        "path",
        "Dagster instance folder (dagster.yaml); in dev also the ledger, artifacts and approval secret",
        when_unset=".dagster_home under the working directory",
    ),
    EnvSetting(
        "TORGHUT_SIGNAL_SOURCE",
        "choice",
        "where lane-window signals come from; simulator is dev only",
        default="simulator",
        choices=("simulator", "sql", "alpaca"),
        production_required=True,
    ),
    EnvSetting(
        "TORGHUT_SIGNAL_SOURCE_URL",
        "url",
        "SQLAlchemy URL of the TA signal database (source sql), e.g. clickhousedb://user:pass@host:8123/torghut"
        " for ClickHouse; may hold a password",
        secret=True,
    ),
    EnvSetting("TRADING_SIGNAL_TABLE", "str", "signal table of the sql source", default="ta_signals"),
    EnvSetting(
        "APCA_API_KEY_ID", "str", "Alpaca key id (alpaca source and Alpaca execution venue)", secret=True
    ),
    EnvSetting(
        "APCA_API_SECRET_KEY", "str", "Alpaca secret key (alpaca source and Alpaca venue)", secret=True
    ),
    EnvSetting(
        "APCA_API_DATA_URL",
        "url",
        "Alpaca market-data endpoint override",
        when_unset="alpaca-py default",
        schemes=HTTP,
    ),
    EnvSetting(
        "APCA_API_BASE_URL",
        "url",
        "Alpaca trading endpoint override (paper)",
        when_unset="alpaca-py default",
        schemes=HTTP,
    ),
    EnvSetting(
        "TRADING_UNIVERSE_SOURCE",
        "choice",
        "where the tradable symbols come from; static is dev only",
        default=SOURCE_STATIC,
        choices=SOURCES,
        production_required=True,
    ),
    EnvSetting(
        "TRADING_UNIVERSE_STATIC_SYMBOLS",
        "csv-symbols",
        "symbols of the static universe (dev)",
        when_unset=f"the simulator universe: {','.join(DEFAULT_UNIVERSE)}",
    ),
    EnvSetting(
        "JANGAR_SYMBOLS_URL",
        "url",
        "Jangar endpoint serving the symbol universe",
        schemes=HTTP,
        production_required=True,
    ),
    EnvSetting(
        "TRADING_UNIVERSE_CACHE_SECONDS",
        "int",
        "the last good Jangar universe (kept in the ledger) is served without a request while younger "
        "than this; at least 1 and at most TRADING_UNIVERSE_MAX_STALE_SECONDS",
        default="300",
    ),
    EnvSetting(
        "TRADING_UNIVERSE_MAX_STALE_SECONDS",
        "int",
        "when Jangar fails, the last good universe is still served (degraded) up to this age; older, "
        "decisions stop with universe_source_unavailable",
        default="900",
    ),
    EnvSetting(
        "TRADING_UNIVERSE_TIMEOUT_SECONDS",
        "int",
        "connect and read timeout of one Jangar symbols request (at least 1)",
        default="5",
    ),
    EnvSetting(
        "TRADING_MODE",
        "choice",
        "paper or live trading; a static universe is refused with live",
        default="paper",
        choices=("paper", "live"),
    ),
    EnvSetting(
        "TORGHUT_LANE_CATALOG",
        "path",
        "lane catalog TOML: lanes, strategies, accounts, limits, window start (docs/lane-catalog.md); its "
        "checksum is on every decision and research run",
        when_unset="the shipped torghut_assets/policy/lane_catalog.toml",
    ),
    EnvSetting(
        "TORGHUT_LANE_MODES",
        "str",
        "ops override of the lane catalog's modes: lane=mode pairs (replay, paper, live); a lane not named "
        "keeps its catalog mode; paper/live lanes trade their open window only",
        when_unset="every lane in its catalog mode",
    ),
    EnvSetting(
        "TRADING_PLANNED_DECISION_TIMEOUT_SECONDS",
        "int",
        "a planned decision this old (from its signal time) is rejected decision_timeout_unsubmitted and "
        "never sent; 0 disables expiry",
        default="600",
    ),
    EnvSetting(
        "TORGHUT_STRATEGY_TIMEOUT_SECONDS",
        "float",
        "time budget of one call to a plug-in strategy (docs/strategies.md); a call that overruns fails its "
        "lane window with strategy_timeout (the call is abandoned); > 0",
        default=f"{DEFAULT_TIMEOUT_SECONDS:g}",
    ),
    EnvSetting(
        "TRADING_FEATURE_MAX_REQUIRED_NULL_RATE",
        "float",
        "a window whose macd, macd_signal or rsi14 is null in more than this share of its admitted rows "
        "fails closed (feature_quality_gate_failed: no decisions, no orders); >= 0",
        default="0.01",
    ),
    EnvSetting(
        "TRADING_FEATURE_WARMUP_MINUTES",
        "int",
        "nulls in bars closing within this many minutes of the session open are indicator warm-up, left "
        "out of that null rate; 0 counts every row (the reference); whole number 0-60",
        default="15",
    ),
    EnvSetting(
        "TRADING_FEATURE_MAX_STALENESS_MS",
        "int",
        "a window whose p95 signal lag (ingest_ts - event_ts, ms) is above this fails closed; >= 0",
        default="120000",
    ),
    EnvSetting(
        "TRADING_FEATURE_MAX_DUPLICATE_RATIO",
        "float",
        "a window where more than this share of the rows read are extra copies of a key fails closed; >= 0",
        default="0.02",
    ),
    EnvSetting(
        "TORGHUT_OPEN_WINDOW_INTERVAL_SECONDS",
        "int",
        "how often the open-window loop (open_window_sensor) reads new signals and submits fresh decisions",
        default="15",
    ),
    EnvSetting(
        "TRADING_LEAN_RUNNER_URL",
        "url",
        "LEAN runner bridge; LEAN is tried first when set",
        schemes=HTTP,
    ),
    EnvSetting(
        "TRADING_EXECUTION_ADAPTER_POLICY",
        "choice",
        "which symbols route to LEAN: all, or those in TRADING_EXECUTION_ADAPTER_SYMBOLS",
        default="all",
        choices=("all", "allowlist"),
    ),
    EnvSetting("TRADING_EXECUTION_ADAPTER_SYMBOLS", "csv-symbols", "LEAN allowlist (policy allowlist)"),
    EnvSetting(
        "TRADING_EXECUTION_FALLBACK_ADAPTER",
        "choice",
        "venue when LEAN is not used or fails",
        default="alpaca",
        choices=("alpaca", "none"),
    ),
    EnvSetting(
        "TRADING_LEAN_RUNNER_TIMEOUT_SECONDS",
        "float",
        "budget of one LEAN runner call (connect and response); a timeout is looked up before any fallback",
        default="5",
    ),
    EnvSetting(
        "TRADING_LEAN_RUNNER_HEALTHCHECK_ENABLED",
        "bool",
        "ask the LEAN runner's /healthz before routing a window to it",
        default="true",
    ),
    EnvSetting(
        "TRADING_LEAN_RUNNER_HEALTHCHECK_TIMEOUT_SECONDS",
        "float",
        "budget of the LEAN health check",
        default="2",
    ),
    EnvSetting(
        "TRADING_LEAN_RUNNER_REQUIRE_HEALTHY",
        "bool",
        "with the health check on, an unhealthy runner is not used: orders take the fallback "
        "(lean_runner_unhealthy); false routes to LEAN anyway",
        default="true",
    ),
    EnvSetting(
        "TRADING_LEAN_LIVE_CANARY_ENABLED",
        "bool",
        "live lanes: watch LEAN->Alpaca fallbacks over orders meant for LEAN",
        default="false",
    ),
    EnvSetting(
        "TRADING_LEAN_LIVE_CANARY_FALLBACK_RATIO_LIMIT",
        "float",
        "live canary: a fallback share above this is a breach (strictly above, as the reference)",
        default="0.25",
    ),
    EnvSetting(
        "TRADING_LEAN_LIVE_CANARY_HARD_ROLLBACK_ENABLED",
        "bool",
        "a live canary breach latches the lane's emergency stop (lean_canary_breach:...)",
        default="true",
    ),
    EnvSetting(
        "TRADING_SIGNAL_NO_SIGNAL_STREAK_ALERT_THRESHOLD",
        "int",
        "actionable empty windows in a row (same reason) that latch the continuity alert",
        default="2",
    ),
    EnvSetting(
        "TRADING_SIGNAL_STALE_LAG_ALERT_SECONDS",
        "float",
        "one actionable empty window with at least this signal lag latches the continuity alert at once",
        default="300",
    ),
    EnvSetting(
        "TRADING_SIGNAL_CONTINUITY_RECOVERY_CYCLES",
        "int",
        "signal-bearing windows in a row that clear a latched continuity alert",
        default="2",
    ),
    EnvSetting(
        "TRADING_SIGNAL_STALENESS_ALERT_CRITICAL_REASONS",
        "csv",
        "no-signal reasons whose streak can trigger the emergency stop",
        default="cursor_ahead_of_stream,no_signals_in_window,universe_source_unavailable,lane_window_missing",
    ),
    EnvSetting(
        "TRADING_SIGNAL_MARKET_CLOSED_EXPECTED_REASONS",
        "csv",
        "no-signal reasons a closed market explains (if the stream ran to the last close)",
        default="no_signals_in_window,cursor_tail_stable,empty_batch_advanced,market_closed,lane_window_missing",
    ),
    EnvSetting(
        "TORGHUT_SESSION_CLOSE_TOLERANCE_SECONDS",
        "float",
        "closed market: a stream whose newest signal is older than the last session close by more than "
        "this is a fault, not expected silence",
        default="900",
    ),
    EnvSetting(
        "TRADING_EMERGENCY_STOP_ENABLED",
        "bool",
        "latch the per-lane emergency stop on its reasons (docs/continuity.md); off clears every stop",
        default="true",
    ),
    EnvSetting(
        "TRADING_EMERGENCY_STOP_RECOVERY_CYCLES",
        "int",
        "clean windows in a row that clear a freshness-only emergency stop",
        default="3",
    ),
    EnvSetting(
        "TRADING_ROLLBACK_SIGNAL_LAG_SECONDS_LIMIT",
        "float",
        "signal lag (s, market open) at which the emergency stop fires (inclusive)",
        default="600",
    ),
    EnvSetting(
        "TRADING_ROLLBACK_SIGNAL_STALENESS_ALERT_STREAK_LIMIT",
        "int",
        "streak of a critical no-signal reason at which the emergency stop fires (inclusive)",
        default="3",
    ),
    EnvSetting(
        "TRADING_ROLLBACK_AUTONOMY_FAILURE_STREAK_LIMIT",
        "int",
        "failed lane-window research runs in a row that latch the emergency stop (inclusive)",
        default="3",
    ),
    EnvSetting(
        "TRADING_ROLLBACK_FALLBACK_RATIO_LIMIT",
        "float",
        "fallback executions / executions of a paper-or-above lane that latch the emergency stop (inclusive)",
        default="0.25",
    ),
    EnvSetting(
        "TRADING_ROLLBACK_MAX_DRAWDOWN_LIMIT",
        "float",
        "realized drawdown / equity of a paper-or-above lane that latches the emergency stop (inclusive)",
        default="0.08",
    ),
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
    EnvSetting("LLM_BASE_URL", "url", "OpenAI-compatible endpoint of the LLM advisory", schemes=HTTP),
    EnvSetting("LLM_MODEL", "str", "model the LLM advisory asks"),
    EnvSetting("LLM_API_KEY", "str", "bearer key of the LLM endpoint", secret=True),
    EnvSetting(
        "LLM_GATEWAY",
        "choice",
        "wire dialect of LLM_BASE_URL: jangar (streams only, sends x-trade-execution: torghut) or openai",
        default="jangar",
        choices=("jangar", "openai"),
    ),
    EnvSetting(
        "LLM_STREAM",
        "bool",
        "ask for a server-sent-event stream; false sends one JSON request (refused with LLM_GATEWAY=jangar)",
        default="true",
    ),
    EnvSetting(
        "LLM_TOKEN_LIMIT_FIELD",
        "choice",
        "request field for LLM_MAX_TOKENS; auto: max_completion_tokens for o-series/gpt-5, else max_tokens",
        default="auto",
        choices=("auto", "max_tokens", "max_completion_tokens"),
    ),
    EnvSetting(
        "GX_ANALYTICS_ENABLED",
        "bool",
        "Great Expectations usage analytics; the ledger's quality checks turn it off unless set",
        default="false",
    ),
)

_INSTANCE: tuple[EnvSetting, ...] = (
    EnvSetting("DAGSTER_PG_HOST", "str", "host of Dagster's run/event/schedule storage", read_by=INSTANCE),
    EnvSetting("DAGSTER_PG_PORT", "int", "port of Dagster's storage database", read_by=INSTANCE),
    EnvSetting("DAGSTER_PG_DB", "str", "database name of Dagster's storage", read_by=INSTANCE),
    EnvSetting("DAGSTER_PG_USER", "str", "user of Dagster's storage database", read_by=INSTANCE),
    EnvSetting(
        "DAGSTER_PG_PASSWORD", "str", "password of Dagster's storage database", secret=True, read_by=INSTANCE
    ),
)

LLM_POLICY_SETTINGS = _llm_policy_settings()
REGISTRY: tuple[EnvSetting, ...] = (*_CORE, *LLM_POLICY_SETTINGS, *_INSTANCE)
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
